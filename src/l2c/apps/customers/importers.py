"""Import/export of accounts and contacts, registered with the activity import machinery.

Accounts: every field of `validation.ACCOUNT_FIELDS`, plus the owner (username; the importer when
blank; someone else only if the importer may assign records to them) and tags (separated by
, ; or 、). A credit code repeated within one file is an error on the later row.
Contacts: name, account (exact account name or credit code of an account the importer may
edit; a name shared by several such accounts is ambiguous), title, department, phones, e-mail,
WeChat, primary flag.
Validation makes no per-row queries: look-ups are pre-loaded per chunk of rows.

Accounts are validated column-wise (`_account_validate_batch`, same results as the row-wise
`_account_validate`): each column's cleaner runs once per distinct cell text while a column repeats
its values (choices, regions, capital, dates, owners, tags) and cell by cell otherwise. They are
committed with explicit ids (`ids_allocate`) and one executemany/COPY per table and chunk: the
accounts, their tag links and their audit events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter, mul
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, TextChoices
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.imports import (
    ROW_NUMBER_KEY,
    SOURCE_LANGUAGE,
    BatchValidation,
    ColumnSpec,
    ImportContext,
    RowBatch,
    RowChecker,
    TabularSpec,
    audit_insert,
    created_changes_json,
    ids_allocate,
    register,
    rows_insert,
)
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import owner_assignable
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError
from l2c.kernel.uscc import USCC_CHARSET, USCC_LENGTH, USCC_WEIGHTS, normalize_uscc, uscc_generate

from . import duplicates, pool_import, selectors
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
from .rfm import segment_names as rfm_segment_names
from .search_index import search_index_deferred
from .services import ACCOUNT_AUDITED, CONTACT_AUDITED
from .validation import ACCOUNT_FIELDS, CONTACT_FIELDS, Cleaner, clean_fields, credit_code, search_text

TAG_SEPARATORS = re.compile(r"[,;，；、]")

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
    "pool": ("公海", "所属公海", "pool", "public pool"),
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
    "founded_on": "2015-06-01", "business_status": "operating", "owner": "", "tags": "重点,华北", "pool": "",
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
        # A pool name: with no owner the account goes into that pool, with an owner it is held under
        # the pool's rules (see pool_import).
        ColumnSpec(key="pool", label=gettext_lazy("公海"), aliases=ACCOUNT_ALIASES["pool"],
                   example=ACCOUNT_EXAMPLE["pool"]),
        ColumnSpec(key="department", label=gettext_lazy("所属部门"), importable=False),
        ColumnSpec(key="created_at", label=gettext_lazy("创建时间"), importable=False),
        ColumnSpec(key="updated_at", label=gettext_lazy("更新时间"), importable=False),
        ColumnSpec(key="rfm_segment", label=gettext_lazy("RFM 分群"), importable=False),
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
    row_clean = {**cleaned, "owner_id": owner.pk, "department_id": owner.department_id, "tags": tags}
    pool_import.apply_pool(context, row_clean, row.get("pool") or "", row.get("owner") or "", number, errors)
    return (None, errors) if errors else (row_clean, [])


# Column-wise validation: a column's cleaner runs once per distinct cell text as long as the column
# repeats itself; a column whose chunk is mostly new values is cleaned cell by cell from then on.
MEMO_MAX_NEW_SHARE = 0.5  # of a chunk's cells; above it memoisation of the column is given up
MEMO_MAX_SIZE = 100_000  # distinct values remembered per column
_MISSING: Any = object()


@dataclass(frozen=True)
class _Invalid:
    """Why a cell text is not a valid value of its column (as `clean_fields` reports it)."""

    message: str
    code: str

    @classmethod
    def of(cls, error: ValueError) -> _Invalid:
        return cls(str(error), getattr(error, "code", "invalid"))


@dataclass
class _ColumnMemo:
    """Cleaned values by cell text of one column, for the whole import."""

    valid: dict[str, Any]
    invalid: dict[str, _Invalid]


def _column_memo(context: ImportContext, name: str, cleaner: Cleaner) -> _ColumnMemo | None:
    memos: dict[str, _ColumnMemo | None] = context.cache.setdefault("column_memos", {})
    if name not in memos:
        seed = dict(getattr(cleaner, "lookup", {}))  # a choice cleaner's accepted texts
        memos[name] = _ColumnMemo(valid=seed, invalid={})
    return memos[name]


def _clean_cells(cleaner: Cleaner, cells: Sequence[str]) -> tuple[list[Any], dict[int, _Invalid]]:
    try:
        return [cleaner(cell) for cell in cells], {}
    except ValueError:
        pass
    values: list[Any] = []
    invalid: dict[int, _Invalid] = {}
    for index, cell in enumerate(cells):
        try:
            values.append(cleaner(cell))
        except ValueError as error:
            values.append(None)
            invalid[index] = _Invalid.of(error)
    return values, invalid


_USCC_VALUES = {char: value for value, char in enumerate(USCC_CHARSET)}


def _credit_codes(cells: Sequence[str]) -> tuple[list[Any], dict[int, _Invalid]]:
    """`validation.credit_code` of each cell. A plain-ASCII cell holding a valid code — 18
    characters of USCC_CHARSET, positions 3-8 digits, the right check character (kernel.uscc's
    rule) — is recognised here at a fraction of the cost; every other cell goes to the cleaner,
    which gives the reason it is not valid."""
    cleaner = ACCOUNT_FIELDS["credit_code"]
    value_of = _USCC_VALUES.__getitem__
    values: list[Any] = []
    invalid: dict[int, _Invalid] = {}
    for index, cell in enumerate(cells):
        if cell.isascii():
            code = cell.strip().upper()
            if not code:
                values.append("")
                continue
            if len(code) == USCC_LENGTH and code[2:8].isdigit():
                try:
                    total = sum(map(mul, map(value_of, code[:-1]), USCC_WEIGHTS))
                except KeyError:
                    pass
                else:
                    if USCC_CHARSET[(31 - total % 31) % 31] == code[-1]:
                        values.append(code)
                        continue
        try:
            values.append(cleaner(cell))
        except ValueError as error:
            values.append(None)
            invalid[index] = _Invalid.of(error)
    return values, invalid


def _clean_column(context: ImportContext, name: str, cleaner: Cleaner,
                  cells: Sequence[str]) -> tuple[list[Any], dict[int, _Invalid]]:
    """The cleaned values of one column (None where invalid) and the invalid cells by row index."""
    if name == "credit_code" and cleaner is credit_code:
        return _credit_codes(cells)
    memo = _column_memo(context, name, cleaner)
    if memo is None:
        return _clean_cells(cleaner, cells)
    values = list(map(memo.valid.get, cells, [_MISSING] * len(cells)))
    invalid: dict[int, _Invalid] = {}
    if _MISSING not in values:
        return values, invalid
    new = 0
    for index, value in enumerate(values):
        if value is not _MISSING:
            continue
        cell = cells[index]
        known = memo.valid.get(cell, _MISSING)  # met earlier in this chunk
        if known is not _MISSING:
            values[index] = known
            continue
        problem = memo.invalid.get(cell)
        if problem is None:
            try:
                values[index] = memo.valid[cell] = cleaner(cell)
                new += 1
                continue
            except ValueError as error:
                problem = memo.invalid[cell] = _Invalid.of(error)
        values[index] = None
        invalid[index] = problem
    if new > MEMO_MAX_NEW_SHARE * len(cells) or len(memo.valid) > MEMO_MAX_SIZE:
        context.cache["column_memos"][name] = None
    return values, invalid


def _constant_column(cleaner: Cleaner, count: int) -> tuple[list[Any], dict[int, _Invalid]]:
    """An unmapped column: every row has no value."""
    try:
        return [cleaner(None)] * count, {}
    except ValueError as error:
        problem = _Invalid.of(error)
        return [None] * count, dict.fromkeys(range(count), problem)


def _owners(context: ImportContext, usernames: set[str]) -> dict[str, tuple[int, int | None] | _Invalid]:
    """(owner id, department id) or the reason it is refused, by owner cell text (cached per import)."""
    outcomes: dict[str, tuple[int, int | None] | _Invalid] = context.cache.setdefault("owner_outcomes", {})
    new = usernames - outcomes.keys()
    if new:
        _account_preload(context, [{"owner": cell} for cell in new])
        for cell in new:
            errors: list[FieldError] = []
            owner = _account_owner(context, cell.strip(), 0, errors)
            outcomes[cell] = (_Invalid(errors[0].message, errors[0].code) if owner is None
                              else (owner.pk, owner.department_id))
    return outcomes


def _tag_lists(context: ImportContext, cells: Sequence[str]) -> list[tuple[list[str], tuple[str, ...]]]:
    """(tag names, messages of too long tags) per cell; the lists are shared by equal cells."""
    memo: dict[str, tuple[list[str], tuple[str, ...]]] = context.cache.setdefault("tag_lists", {})
    results = []
    for cell in cells:
        found = memo.get(cell)
        if found is None:
            errors: list[FieldError] = []
            names = _split_tags(cell, 0, errors)
            found = (names, tuple(error.message for error in errors))
            if len(memo) < MEMO_MAX_SIZE:
                memo[cell] = found
        results.append(found)
    return results


def _account_validate_batch(context: ImportContext, batch: RowBatch) -> BatchValidation:
    """`_account_preload` + `_account_validate` for a whole chunk, column by column."""
    count = len(batch)
    numbers = batch.numbers
    errors: dict[int, list[FieldError]] = {}

    def report(index: int, error: FieldError) -> None:
        errors.setdefault(index, []).append(error)

    cleaned: list[list[Any]] = []
    for name, cleaner in ACCOUNT_FIELDS.items():
        cells = batch.columns.get(name)
        if cells is None:
            values, invalid = _constant_column(cleaner, count)
        else:
            values, invalid = _clean_column(context, name, cleaner, cells)
        for index, problem in invalid.items():
            report(index, FieldError(name, problem.message, problem.code, numbers[index]))
        if name == "status":  # as clean_fields: blank status is the default one
            values = [POTENTIAL if value == "" else value for value in values]
        cleaned.append(values)
    codes = cleaned[CREDIT_CODE_POSITION]
    seen: dict[str, int] = context.cache.setdefault("credit_codes", {})
    for index, code in enumerate(codes):
        if code:
            number = numbers[index]
            first = seen.setdefault(code, number)
            if first != number:
                report(index, FieldError("credit_code", _("与第 %(row)s 行的统一社会信用代码重复") % {"row": first},
                                         "duplicate", number))
    owner_cells = batch.columns.get("owner") or [""] * count
    outcomes = _owners(context, set(owner_cells))
    owners = [outcomes[cell] for cell in owner_cells]
    for index, outcome in enumerate(owners):
        if isinstance(outcome, _Invalid):
            report(index, FieldError("owner", outcome.message, outcome.code, numbers[index]))
    tags = _tag_lists(context, batch.columns.get("tags") or [""] * count)
    for index, (_names, messages) in enumerate(tags):
        for message in messages:
            report(index, FieldError("tags", message, "invalid", numbers[index]))
    keys = (*ACCOUNT_FIELDS, "owner_id", "department_id", "tags")
    pool_cells = batch.columns.get("pool") or [""] * count
    cleans: list[dict[str, Any] | None] = []
    for index, (*values, owner, (names, _messages)) in enumerate(zip(*cleaned, owners, tags, strict=True)):
        if index in errors:
            cleans.append(None)
            continue
        row_clean = dict(zip(keys, (*values, *owner, names), strict=True))
        row_errors: list[FieldError] = []
        pool_import.apply_pool(context, row_clean, pool_cells[index], owner_cells[index], numbers[index], row_errors)
        if row_errors:
            errors[index] = row_errors
            cleans.append(None)
        else:
            cleans.append(row_clean)
    return cleans, errors


POTENTIAL = str(AccountStatus.POTENTIAL.value)
CREDIT_CODE_POSITION = list(ACCOUNT_FIELDS).index("credit_code")


# --- account commit ---------------------------------------------------------------------------------
def _tag_links(account_ids: Sequence[int], rows: Sequence[Mapping[str, Any]]) -> None:
    """Link the new accounts to their tags (creating missing tags) with one insert."""
    tag_names = {name for row in rows for name in row["tags"]}
    if not tag_names:
        return
    tag_ids = _tag_ids(tag_names)
    through = Account.tags.through
    meta = through._meta
    links = [(account_id, tag_ids[name]) for account_id, row in zip(account_ids, rows, strict=True)
             for name in row["tags"]]
    rows_insert(through, [meta.get_field("account").column, meta.get_field("tag").column], links)


def _audited_keys(model: type[Account] | type[Contact], fields: Sequence[str]) -> list[tuple[str, str]]:
    """(audited field, key of its value in a clean row) pairs: foreign keys are held by id."""
    pairs = []
    for name in fields:
        field = model._meta.get_field(name)
        pairs.append((name, field.attname if field.many_to_one else name))
    return pairs


# The audit `changes` of an imported record: the non-empty values of its audited fields as
# [None, value], like `_created_changes` of the saved record, plus an account's tags.
ACCOUNT_IMPORT_AUDITED = [*_audited_keys(Account, ACCOUNT_AUDITED), ("tags", "tags")]
CONTACT_IMPORT_AUDITED = _audited_keys(Contact, CONTACT_AUDITED)
# Written by the commit after a record's own fields; every other column gets its model default.
COMMIT_COLUMNS = ("custom", "search_text", "created_by", "created_at", "updated_at")
STREAM_SLICE = 100  # rows whose audit changes are made at a time while their insert streams


def _insert_columns(model: type[Account] | type[Contact], leading: Sequence[str]) -> tuple[list[str], list[Any]]:
    """Columns of a record insert: the id, `leading` fields, COMMIT_COLUMNS, then the remaining
    columns, whose values (their model defaults, in database form) are returned too."""
    meta = model._meta
    named = [*leading, *COMMIT_COLUMNS]
    rest = [field for field in meta.concrete_fields if not field.primary_key and field.name not in named]
    columns = [meta.pk.column, *(meta.get_field(name).column for name in named), *(field.column for field in rest)]
    return columns, [field.get_db_prep_save(field.get_default(), connection) for field in rest]


def _custom_json(row: Mapping[str, Any]) -> str:
    custom = row.get("custom")
    return json.dumps(custom) if custom else "{}"


def _records_create(actor: User, model: type[Account] | type[Contact], rows: Sequence[Mapping[str, Any]], *,
                    fields: Sequence[str], search_keys: Sequence[str], audited: Sequence[tuple[str, str]]) -> list[int]:
    """Create records of `model` from clean rows with one insert (explicit ids, allocated first),
    and their "import" audit events with another; returns the new ids in row order. `fields` are
    the model fields taken from the rows (foreign keys held by id), `search_keys` the row values
    that make the search text, `audited` the audit (field, row key) pairs."""
    ids = ids_allocate(model, len(rows))
    columns, defaults = _insert_columns(model, fields)
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    tail = (actor.pk, stamp, stamp, *defaults)  # COMMIT_COLUMNS after search_text, then the rest
    own = itemgetter(*(model._meta.get_field(name).attname for name in fields))
    changes: list[str] = []

    def values() -> Iterator[tuple[Any, ...]]:
        # Consumed while the insert streams; each slice's audit changes are made along.
        for start in range(0, len(rows), STREAM_SLICE):
            part = rows[start:start + STREAM_SLICE]
            changes.extend(created_changes_json(part, audited))
            for record_id, row in zip(ids[start:start + STREAM_SLICE], part, strict=True):
                yield (record_id, *own(row), _custom_json(row), search_text(*[row[key] for key in search_keys]),
                       *tail)

    with search_index_deferred(model, ids):
        rows_insert(model, columns, values())
    object_type, action = model._meta.model_name or "", AuditEvent.Kind.IMPORT.value
    audit_insert(actor_id=actor.pk, events=[
        (object_type, record_id, row["name"], action, text)
        for record_id, row, text in zip(ids, rows, changes, strict=True)
    ])
    return ids


def _account_commit(actor: User, rows: list[dict[str, Any]]) -> int:
    ids = _records_create(actor, Account, rows, fields=[*ACCOUNT_FIELDS, "owner", "department", "pool"],
                          search_keys=("name", "short_name"), audited=ACCOUNT_IMPORT_AUDITED)
    _tag_links(ids, rows)
    pool_import.commit_pools(actor, ids, rows)
    # New records get their duplicate-control keys set-based, in the chunk's transaction.
    duplicates.keys_write("account", [duplicates.account_fingerprint(record_id, row)
                                      for record_id, row in zip(ids, rows, strict=True)], replace=False)
    return len(ids)


def _account_export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[Account]:
    return selectors.account_list(user=user, filters=filters, action="export").order_by("id")


def _choice_labels() -> dict[str, dict[str, str]]:
    with translation.override(SOURCE_LANGUAGE):
        return {name: {value: str(label) for value, label in choices.choices}
                for name, choices in ACCOUNT_CHOICES.items()}


def _account_export_rows(queryset: QuerySet[Account]) -> Iterator[dict[str, Any]]:
    labels = _choice_labels()
    with translation.override(SOURCE_LANGUAGE):
        segment_names = rfm_segment_names()
    rows = queryset.select_related("owner", "department", "rfm", "pool").prefetch_related("tags")
    for account in rows.iterator(chunk_size=1000):
        values: dict[str, Any] = {name: getattr(account, name) for name in ACCOUNT_FIELDS}
        for name, mapping in labels.items():
            values[name] = mapping.get(values[name], values[name])
        values.update(
            id=account.pk, owner=account.owner.username if account.owner else "",
            tags=",".join(sorted(tag.name for tag in account.tags.all())),
            department=account.department.name if account.department else "",
            pool=account.pool.name if account.pool else "",
            created_at=_local(account.created_at), updated_at=_local(account.updated_at), custom=account.custom,
        )
        score = getattr(account, "rfm", None)
        values["rfm_segment"] = segment_names.get(score.segment, score.segment) if score is not None else ""
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
    ids = _records_create(actor, Contact, rows, fields=[*CONTACT_FIELDS, "account"],
                          search_keys=("name", "mobile", "email"), audited=CONTACT_IMPORT_AUDITED)
    duplicates.keys_write("contact", [duplicates.contact_fingerprint(record_id, row)
                                      for record_id, row in zip(ids, rows, strict=True)], replace=False)
    return len(ids)


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


def _duplicate_check(object_type: str) -> RowChecker:
    """Duplicate control of the valid rows of an import chunk (never skipped on import)."""

    def check(context: ImportContext, rows: list[dict[str, Any]]) -> dict[int, tuple[list[FieldError],
                                                                                    list[FieldError]]]:
        # The commit enforces blocking rules again (the data may have changed since the dry run);
        # warnings were the dry run's to show.
        return duplicates.import_verdicts(actor=context.actor, object_type=object_type, rows=rows,
                                          row_numbers=[row[ROW_NUMBER_KEY] for row in rows],
                                          blocking_only=context.committing)

    return check


def register_all() -> None:
    """Register the account and contact importers with the activity import machinery."""
    register(TabularSpec(
        object_type="account", label=gettext_lazy("客户"), fields=tuple(_account_columns()),
        validate_row=_account_validate, preload=_account_preload, commit_rows=_account_commit,
        validate_batch=_account_validate_batch, check_valid_rows=_duplicate_check("account"),
        export_rows=_account_export_rows, export_queryset=_account_export_queryset,
        export_filters=selectors.ACCOUNT_FILTERS,
    ))
    register(TabularSpec(
        object_type="contact", label=gettext_lazy("联系人"), fields=tuple(_contact_columns()),
        validate_row=_contact_validate, preload=_contact_preload, commit_rows=_contact_commit,
        check_valid_rows=_duplicate_check("contact"), export_rows=_contact_export_rows,
        export_queryset=_contact_export_queryset,
        export_filters=("q", "account_id"),
    ))


__all__ = ["register_all"]
