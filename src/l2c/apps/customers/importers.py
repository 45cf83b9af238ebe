"""Import/export of accounts and contacts, registered with the activity import machinery.

Accounts: every field of `validation.ACCOUNT_FIELDS`, plus the owner (username; the importer when
blank; someone else only if the importer may assign records to them) and tags (separated by
, ; or 、). A credit code repeated within one file is an error on the later row.
Contacts: name, account (exact account name or credit code of an account the importer may
edit; a name shared by several such accounts is ambiguous), title, department, phones, e-mail,
WeChat, primary flag.
Validation makes no per-row queries: look-ups are pre-loaded per chunk of rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, TextChoices
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.audit import audit_bulk, snapshot
from l2c.apps.activity.imports import SOURCE_LANGUAGE, ColumnSpec, ImportContext, TabularSpec, register
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import owner_assignable
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError
from l2c.kernel.uscc import normalize_uscc, uscc_generate

from . import selectors
from .models import (
    Account,
    AccountLevel,
    AccountSource,
    AccountStatus,
    BusinessStatus,
    CompanySize,
    Contact,
    Industry,
    Tag,
)
from .services import ACCOUNT_AUDITED, CONTACT_AUDITED
from .validation import ACCOUNT_FIELDS, CONTACT_FIELDS, clean_fields, search_text

TAG_SEPARATORS = re.compile(r"[,;，；、]")
BULK_BATCH = 500

ACCOUNT_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("客户", "公司", "公司名称", "企业名称", "单位名称", "名称", "account", "account name", "company",
             "company name"),
    "short_name": ("客户简称", "short name"),
    "credit_code": ("信用代码", "社会信用代码", "统一信用代码", "uscc", "credit code", "税号", "纳税人识别号"),
    "industry": ("所属行业", "industry"),
    "size": ("人员规模", "公司规模", "企业规模", "size"),
    "province": ("省", "省份/直辖市", "province"),
    "city": ("市", "city"),
    "district": ("区", "县", "区/县", "district"),
    "address": ("详细地址", "注册地址", "公司地址", "address"),
    "phone": ("联系电话", "公司电话", "座机", "phone", "telephone", "tel"),
    "website": ("官网", "网址", "公司网站", "website", "url"),
    "source": ("客户来源", "source"),
    "level": ("级别", "客户等级", "等级", "level"),
    "status": ("状态", "status"),
    "legal_representative": ("法人", "法人代表", "legal representative"),
    "registered_capital": ("注册资本", "注册资本(万元)", "registered capital"),
    "founded_on": ("成立时间", "成立日期", "founded on", "founded"),
    "business_status": ("经营状态", "business status"),
    "owner": ("所有者", "销售", "客户负责人", "owner", "owner username"),
    "tags": ("标签", "tags", "tag"),
}
CONTACT_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("联系人", "联系人姓名", "名字", "name", "contact", "contact name"),
    "account": ("客户名称", "所属客户", "公司", "公司名称", "单位", "企业名称", "account", "account name", "company"),
    "title": ("职位", "岗位", "title", "position", "job title"),
    "department": ("所在部门", "department"),
    "mobile": ("手机号", "手机号码", "移动电话", "mobile", "cell", "cellphone"),
    "phone": ("座机", "办公电话", "固定电话", "phone", "telephone", "tel"),
    "email": ("电子邮件", "电子邮箱", "邮件", "email", "e-mail", "mail"),
    "wechat": ("微信号", "wechat", "weixin"),
    "is_primary": ("是否主要联系人", "主联系人", "primary", "is primary"),
}


def _label(choices: type[TextChoices], value: str) -> str:
    with translation.override(SOURCE_LANGUAGE):
        return str(dict(choices.choices)[value])


ACCOUNT_EXAMPLE = {
    "name": "北京星河科技有限公司", "short_name": "星河科技", "credit_code": uscc_generate("91110108MA01ABCD1"),
    "industry": "I", "size": "medium", "province": "北京市", "city": "北京市", "district": "海淀区",
    "address": "中关村大街1号", "phone": "010-62345678", "website": "www.example.com", "source": "website",
    "level": "important", "status": "potential", "legal_representative": "张伟", "registered_capital": "1000",
    "founded_on": "2015-06-01", "business_status": "operating", "owner": "", "tags": "重点,华北",
}
ACCOUNT_CHOICES: dict[str, type[TextChoices]] = {
    "industry": Industry, "size": CompanySize, "source": AccountSource, "level": AccountLevel,
    "status": AccountStatus, "business_status": BusinessStatus,
}
CONTACT_EXAMPLE = {
    "name": "王强", "account": "北京星河科技有限公司", "title": "采购经理", "department": "采购部",
    "mobile": "13800138000", "phone": "010-62345678", "email": "wangqiang@example.com", "wechat": "wangqiang",
    "is_primary": "是",
}


def _example(key: str) -> str:
    value = ACCOUNT_EXAMPLE.get(key, "")
    if key in ACCOUNT_CHOICES and value:
        return _label(ACCOUNT_CHOICES[key], value)
    return value


def _account_columns() -> list[ColumnSpec]:
    columns = [ColumnSpec(key="id", label=gettext_lazy("编号"), importable=False)]
    for name in ACCOUNT_FIELDS:
        columns.append(ColumnSpec(
            key=name, label=Account._meta.get_field(name).verbose_name, aliases=(name, *ACCOUNT_ALIASES.get(name, ())),
            required=name == "name", example=_example(name),
        ))
    columns += [
        ColumnSpec(key="owner", label=gettext_lazy("负责人"), aliases=ACCOUNT_ALIASES["owner"],
                   example=ACCOUNT_EXAMPLE["owner"]),
        ColumnSpec(key="tags", label=gettext_lazy("标签"), aliases=ACCOUNT_ALIASES["tags"],
                   example=ACCOUNT_EXAMPLE["tags"]),
        ColumnSpec(key="department", label=gettext_lazy("所属部门"), importable=False),
        ColumnSpec(key="created_at", label=gettext_lazy("创建时间"), importable=False),
        ColumnSpec(key="updated_at", label=gettext_lazy("更新时间"), importable=False),
    ]
    return columns


def _contact_columns() -> list[ColumnSpec]:
    columns = [ColumnSpec(key="id", label=gettext_lazy("编号"), importable=False)]
    for name in CONTACT_FIELDS:
        columns.append(ColumnSpec(
            key=name, label=Contact._meta.get_field(name).verbose_name, aliases=(name, *CONTACT_ALIASES.get(name, ())),
            required=name == "name", example=CONTACT_EXAMPLE.get(name, ""),
        ))
        if name == "name":
            columns.append(ColumnSpec(key="account", label=gettext_lazy("客户"), aliases=CONTACT_ALIASES["account"],
                                      required=True, example=CONTACT_EXAMPLE["account"]))
    columns += [
        ColumnSpec(key="account_credit_code", label=gettext_lazy("客户统一社会信用代码"), importable=False),
        ColumnSpec(key="created_at", label=gettext_lazy("创建时间"), importable=False),
        ColumnSpec(key="updated_at", label=gettext_lazy("更新时间"), importable=False),
    ]
    return columns


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _tag_ids(names: set[str]) -> dict[str, int]:
    """Ids of the named tags, creating the missing ones (set-based)."""
    existing = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    missing = names - existing.keys()
    if missing:
        Tag.objects.bulk_create([Tag(name=name) for name in sorted(missing)], ignore_conflicts=True)
        existing.update(Tag.objects.filter(name__in=missing).values_list("name", "pk"))
    return existing


# --- accounts -------------------------------------------------------------------------------------
def _account_preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    users: dict[str, User | None] = context.cache.setdefault("users", {})
    wanted = {row.get("owner", "").strip() for row in rows} - users.keys() - {""}
    if wanted:
        found = {user.username: user for user in User.objects.filter(username__in=wanted, is_active=True)}
        for username in wanted:
            users[username] = found.get(username)


def _account_owner(context: ImportContext, username: str, number: int, errors: list[FieldError]) -> User | None:
    if not username:
        return context.actor
    owner = context.cache.get("users", {}).get(username)
    if owner is None:
        errors.append(FieldError("owner", _("没有用户名为“%(username)s”的在职用户") % {"username": username},
                                 "not_found", number))
        return None
    assignable: dict[int, bool] = context.cache.setdefault("assignable", {})
    if owner.pk not in assignable:
        assignable[owner.pk] = owner_assignable(actor=context.actor, object_type=context.object_type, owner=owner)
    if not assignable[owner.pk]:
        errors.append(FieldError("owner", _("你不能把客户分配给“%(username)s”") % {"username": username},
                                 "forbidden", number))
        return None
    return owner


def _split_tags(raw: str, number: int, errors: list[FieldError]) -> list[str]:
    names = list(dict.fromkeys(part.strip() for part in TAG_SEPARATORS.split(raw or "") if part.strip()))
    for name in names:
        if len(name) > 50:
            errors.append(FieldError("tags", _("标签“%(tag)s…”超过 50 个字符") % {"tag": name[:20]}, "invalid", number))
    return names


def _account_validate(row: dict[str, str], number: int,
                      context: ImportContext) -> tuple[dict[str, Any] | None, list[FieldError]]:
    cleaned, errors = clean_fields(ACCOUNT_FIELDS, row, partial=False, row=number)
    code = cleaned.get("credit_code")
    if code:
        seen: dict[str, int] = context.cache.setdefault("credit_codes", {})
        first = seen.setdefault(code, number)
        if first != number:
            errors.append(FieldError("credit_code", _("与第 %(row)s 行的统一社会信用代码重复") % {"row": first},
                                     "duplicate", number))
    owner = _account_owner(context, (row.get("owner") or "").strip(), number, errors)
    tags = _split_tags(row.get("tags", ""), number, errors)
    if errors or owner is None:
        return None, errors
    return {**cleaned, "owner_id": owner.pk, "department_id": owner.department_id, "tags": tags}, []


def _link_tags(pairs: list[tuple[int, int]]) -> None:
    """Insert (account_id, tag_id) links with one executemany: the through model adds nothing but
    per-row Python overhead, and duplicates are ignored (ON CONFLICT works on SQLite and PostgreSQL)."""
    if not pairs:
        return
    through = Account.tags.through
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(through._meta.db_table)} ({quote('account_id')}, {quote('tag_id')}) "  # noqa: S608
           "VALUES (%s, %s) ON CONFLICT DO NOTHING")
    with connection.cursor() as cursor:
        cursor.executemany(sql, pairs)


def _created_changes(record: Account | Contact, fields: list[str]) -> dict[str, Any]:
    """The audit `changes` of a created record: its non-empty field values as [None, value]."""
    return {name: [None, value] for name, value in snapshot(record, fields).items() if value not in (None, "", {}, [])}


def _account_commit(actor: User, rows: list[dict[str, Any]]) -> int:
    accounts = [
        Account(**{name: row[name] for name in ACCOUNT_FIELDS}, owner_id=row["owner_id"],
                department_id=row["department_id"], custom=row.get("custom") or {}, created_by=actor,
                search_text=search_text(row["name"], row["short_name"]))
        for row in rows
    ]
    Account.objects.bulk_create(accounts, batch_size=BULK_BATCH)
    tag_names = {name for row in rows for name in row["tags"]}
    if tag_names:
        tag_ids = _tag_ids(tag_names)
        _link_tags([(account.pk, tag_ids[name]) for account, row in zip(accounts, rows, strict=True)
                    for name in row["tags"]])
    events = []
    for account, row in zip(accounts, rows, strict=True):
        changes = _created_changes(account, ACCOUNT_AUDITED)
        if row["tags"]:
            changes["tags"] = [None, row["tags"]]
        events.append({"object_type": "account", "object_id": account.pk, "action": AuditEvent.Kind.IMPORT,
                       "object_repr": account.name, "changes": changes})
    audit_bulk(actor_id=actor.pk, events=events)
    return len(accounts)


def _account_export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[Account]:
    return selectors.account_list(user=user, filters=filters, action="export").order_by("id")


def _choice_labels() -> dict[str, dict[str, str]]:
    with translation.override(SOURCE_LANGUAGE):
        return {name: {value: str(label) for value, label in choices.choices}
                for name, choices in ACCOUNT_CHOICES.items()}


def _account_export_rows(queryset: QuerySet[Account]) -> Iterator[dict[str, Any]]:
    labels = _choice_labels()
    rows = queryset.select_related("owner", "department").prefetch_related("tags")
    for account in rows.iterator(chunk_size=1000):
        values: dict[str, Any] = {name: getattr(account, name) for name in ACCOUNT_FIELDS}
        for name, mapping in labels.items():
            values[name] = mapping.get(values[name], values[name])
        values.update(
            id=account.pk, owner=account.owner.username if account.owner else "",
            tags=",".join(sorted(tag.name for tag in account.tags.all())),
            department=account.department.name if account.department else "",
            created_at=_local(account.created_at), updated_at=_local(account.updated_at), custom=account.custom,
        )
        yield values


# --- contacts -------------------------------------------------------------------------------------
AMBIGUOUS = -1


def _contact_preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    resolved: dict[str, int | None] = context.cache.setdefault("accounts", {})
    refs = {row.get("account", "").strip() for row in rows} - resolved.keys() - {""}
    if not refs:
        return
    codes = {normalize_uscc(ref) for ref in refs} - {""}
    candidates = Account.objects.filter(Q(name__in=refs) | Q(credit_code__in=[c for c in codes if len(c) == 18]))
    editable = access.restrict(candidates, context.actor, "account", "edit").values_list("pk", "name", "credit_code")
    by_name: dict[str, list[int]] = {}
    by_code: dict[str, list[int]] = {}
    for pk, name, code in editable:
        by_name.setdefault(name, []).append(pk)
        if code:
            by_code.setdefault(code, []).append(pk)
    for ref in refs:
        matches = by_code.get(normalize_uscc(ref)) or by_name.get(ref) or []
        resolved[ref] = matches[0] if len(matches) == 1 else (AMBIGUOUS if matches else None)


def _contact_validate(row: dict[str, str], number: int,
                      context: ImportContext) -> tuple[dict[str, Any] | None, list[FieldError]]:
    cleaned, errors = clean_fields(CONTACT_FIELDS, row, partial=False, row=number)
    ref = (row.get("account") or "").strip()
    account_id = context.cache.get("accounts", {}).get(ref) if ref else None
    if not ref:
        errors.append(FieldError("account", _("必填：客户名称或统一社会信用代码"), "required", number))
    elif account_id == AMBIGUOUS:
        errors.append(FieldError("account", _("有多个名为“%(name)s”的客户，请改用统一社会信用代码") % {"name": ref},
                                 "ambiguous", number))
    elif account_id is None:
        errors.append(FieldError("account", _("没有名称或统一社会信用代码为“%(name)s”且你可以编辑的客户")
                                 % {"name": ref}, "not_found", number))
    if errors:
        return None, errors
    return {**cleaned, "account_id": account_id}, []


def _contact_commit(actor: User, rows: list[dict[str, Any]]) -> int:
    contacts = [
        Contact(**{name: row[name] for name in CONTACT_FIELDS}, account_id=row["account_id"],
                custom=row.get("custom") or {}, created_by=actor,
                search_text=search_text(row["name"], row["mobile"], row["email"]))
        for row in rows
    ]
    Contact.objects.bulk_create(contacts, batch_size=BULK_BATCH)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "contact", "object_id": contact.pk, "action": AuditEvent.Kind.IMPORT,
         "object_repr": contact.name, "changes": _created_changes(contact, CONTACT_AUDITED)}
        for contact in contacts
    ])
    return len(contacts)


def _contact_export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[Contact]:
    return selectors.contact_list(user=user, filters=filters, action="export").order_by("id")


def _contact_export_rows(queryset: QuerySet[Contact]) -> Iterator[dict[str, Any]]:
    with translation.override(SOURCE_LANGUAGE):
        yes, no = _("是"), _("否")
    for contact in queryset.select_related("account").iterator(chunk_size=1000):
        values: dict[str, Any] = {name: getattr(contact, name) for name in CONTACT_FIELDS}
        values.update(
            id=contact.pk, account=contact.account.name, account_credit_code=contact.account.credit_code,
            is_primary=yes if contact.is_primary else no, created_at=_local(contact.created_at),
            updated_at=_local(contact.updated_at), custom=contact.custom,
        )
        yield values


def register_all() -> None:
    """Register the account and contact importers with the activity import machinery."""
    register(TabularSpec(
        object_type="account", label=gettext_lazy("客户"), fields=tuple(_account_columns()),
        validate_row=_account_validate, preload=_account_preload, commit_rows=_account_commit,
        export_rows=_account_export_rows, export_queryset=_account_export_queryset,
        export_filters=selectors.ACCOUNT_FILTERS,
    ))
    register(TabularSpec(
        object_type="contact", label=gettext_lazy("联系人"), fields=tuple(_contact_columns()),
        validate_row=_contact_validate, preload=_contact_preload, commit_rows=_contact_commit,
        export_rows=_contact_export_rows, export_queryset=_contact_export_queryset,
        export_filters=("q", "account_id"),
    ))


__all__ = ["register_all"]
