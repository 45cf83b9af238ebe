"""Import/export of leads, registered with the activity import machinery as object type "lead"
(the generic import pages and /api/v1/imports serve it).

Columns: the lead fields (name or company required), owner (username or e-mail of a user the
importer may assign; empty → the assignment rules route the lead), campaign (id or exact name of
a campaign the importer may see). Duplicate control, like every capture: a row whose mobile, phone
or e-mail belongs to a lead the importer can see is the same person — that lead's empty fields are
filled and no second lead is made (a warning says so); the same person in a lead the importer may
not see rejects the row (撞单) without naming it; a row repeating an earlier row's person is merged
into it. New leads are inserted set-based, keyed, audited, routed and scored per chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.imports import (
    ROW_NUMBER_KEY,
    SOURCE_LANGUAGE,
    ColumnSpec,
    ImportContext,
    TabularSpec,
    audit_insert,
    created_changes_json,
    ids_allocate,
    register,
    rows_insert,
)
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import owner_assignable
from l2c.apps.customers import duplicates
from l2c.apps.customers.models import CompanySize, Industry
from l2c.apps.customers.validation import search_text
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.apps.marketing.models import Campaign
from l2c.kernel.errors import FieldError

from . import selectors
from .models import Lead, LeadSource, LeadStatus
from .selectors import OPEN_STATUSES
from .services import LEAD_AUDITED, person_keys
from .validation import CAPTURE_FILLABLE, LEAD_FIELDS, clean_lead

LABELS = {
    "name": gettext_lazy("姓名"), "company": gettext_lazy("公司"), "title": gettext_lazy("职务"),
    "mobile": gettext_lazy("手机"), "phone": gettext_lazy("电话"), "email": gettext_lazy("邮箱"),
    "wechat": gettext_lazy("微信"), "province": gettext_lazy("省份"), "city": gettext_lazy("城市"),
    "industry": gettext_lazy("行业"), "size": gettext_lazy("规模"), "source": gettext_lazy("来源"),
    "description": gettext_lazy("备注"), "owner": gettext_lazy("负责人"), "campaign": gettext_lazy("市场活动"),
}
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("联系人", "姓名", "name", "contact", "person"), "company": ("公司名称", "单位", "企业", "company"),
    "title": ("职位", "title", "job title"), "mobile": ("手机号", "手机号码", "mobile", "cell"),
    "phone": ("座机", "固话", "phone", "telephone"), "email": ("电子邮箱", "邮件", "email", "e-mail"),
    "wechat": ("微信号", "wechat"), "province": ("省", "province"), "city": ("市", "city"),
    "industry": ("industry",), "size": ("公司规模", "size"), "source": ("线索来源", "source"),
    "description": ("说明", "描述", "description", "notes"), "owner": ("负责人", "owner", "销售"),
    "campaign": ("活动", "campaign"),
}
EXAMPLE = {"name": "张伟", "company": "杭州云帆信息技术有限公司", "title": "IT 经理", "mobile": "13800138000",
           "phone": "", "email": "zhangwei@example.com", "wechat": "", "province": "浙江", "city": "杭州",
           "industry": "信息传输、软件和信息技术服务业", "size": "100–499 人", "source": "官网",
           "description": "官网留资：咨询私有化部署", "owner": "", "campaign": ""}
AUDITED = (*LEAD_FIELDS, "owner", "campaign")


def _columns() -> list[ColumnSpec]:
    columns = [ColumnSpec(key="id", label=gettext_lazy("编号"), importable=False)]
    columns += [ColumnSpec(key=key, label=label, aliases=(key, *ALIASES[key]), example=EXAMPLE[key])
                for key, label in LABELS.items()]
    columns += [ColumnSpec(key=key, label=label, importable=False) for key, label in (
        ("status", gettext_lazy("状态")), ("score", gettext_lazy("综合评分")), ("score_band", gettext_lazy("评分等级")),
        ("pool", gettext_lazy("线索池")), ("created_at", gettext_lazy("创建时间")),
        ("updated_at", gettext_lazy("更新时间")))]
    return columns


def _preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    owners: dict[str, User | None] = context.cache.setdefault("owners", {})
    refs = {row.get("owner", "").strip() for row in rows} - owners.keys() - {""}
    if refs:
        found = {**{user.username: user for user in User.objects.filter(username__in=refs, is_active=True)},
                 **{user.email: user for user in User.objects.filter(email__in=refs, is_active=True)}}
        for ref in refs:
            owners[ref] = found.get(ref)
    campaigns: dict[str, int | None] = context.cache.setdefault("campaigns", {})
    refs = {row.get("campaign", "").strip() for row in rows} - campaigns.keys() - {""}
    if refs:
        ids = [int(ref) for ref in refs if ref.isascii() and ref.isdigit() and len(ref) < 12]
        visible = access.visible(context.actor, "campaign").filter(Q(pk__in=ids) | Q(name__in=refs))
        by_ref: dict[str, list[int]] = {}
        for pk, name in visible.values_list("pk", "name"):
            by_ref.setdefault(str(pk), []).append(pk)
            by_ref.setdefault(name, []).append(pk)
        for ref in refs:
            matches = by_ref.get(ref, [])
            campaigns[ref] = matches[0] if len(matches) == 1 else (-1 if matches else None)


def _assignable(context: ImportContext, owner: User) -> bool:
    """May the importer give leads to `owner`? Asked once per owner and import."""
    known: dict[int, bool] = context.cache.setdefault("assignable", {})
    if owner.pk not in known:
        known[owner.pk] = owner_assignable(actor=context.actor, object_type="lead", owner=owner)
    return known[owner.pk]


def _validate(row: dict[str, str], number: int,
              context: ImportContext) -> tuple[dict[str, Any] | None, list[FieldError]]:
    cleaned, errors = clean_lead(row, partial=False, row=number)
    owner_ref = (row.get("owner") or "").strip()
    cleaned["owner"] = None
    if owner_ref:
        owner = context.cache["owners"].get(owner_ref)
        if owner is None:
            errors.append(FieldError("owner", _("没有用户名或邮箱为“%(ref)s”的在职用户。") % {"ref": owner_ref},
                                     "not_found", number))
        elif not _assignable(context, owner):
            errors.append(FieldError("owner", _("你不能把线索分配给“%(ref)s”。") % {"ref": owner_ref}, "forbidden",
                                     number))
        else:
            cleaned["owner"] = owner
    campaign_ref = (row.get("campaign") or "").strip()
    cleaned["campaign_id"] = None
    if campaign_ref:
        campaign_id = context.cache["campaigns"].get(campaign_ref)
        if campaign_id == -1:
            errors.append(FieldError("campaign", _("有多个名为“%(ref)s”的市场活动，请改用活动编号。")
                                     % {"ref": campaign_ref}, "ambiguous", number))
        elif campaign_id is None:
            errors.append(FieldError("campaign", _("没有编号或名称为“%(ref)s”且你可以查看的市场活动。")
                                     % {"ref": campaign_ref}, "not_found", number))
        else:
            cleaned["campaign_id"] = campaign_id
    if errors:
        return None, errors
    return cleaned, []


PERSON_KEYS = "_person_keys"  # a clean row's person keys, kept by the check for the commit of its chunk


def _person_keys(row: dict[str, Any]) -> list[str]:
    """The row's person keys (`services.person_keys`), normalised once per row and pass."""
    keys = row.get(PERSON_KEYS)
    if keys is None:
        keys = row[PERSON_KEYS] = person_keys(row)
    return keys


def _open_people(keys: list[str]) -> dict[str, int]:
    """Person key → the newest open lead holding it (converted and disqualified leads are history)."""
    rows = duplicates.exact_key_rows("lead", keys)
    open_ids = set(Lead.objects.filter(pk__in={record_id for _key, record_id in rows}, status__in=OPEN_STATUSES)
                   .values_list("pk", flat=True)) if rows else set()
    found: dict[str, int] = {}
    for key, record_id in rows:
        if record_id in open_ids:
            found[key] = max(found.get(key, 0), record_id)
    return found


def _check(context: ImportContext, rows: list[dict[str, Any]]) -> dict[int, tuple[list[FieldError],
                                                                                  list[FieldError]]]:
    """The same person (mobile or e-mail): an earlier row of the file (merged into it), an open lead
    the importer may edit (its empty fields get filled), or an open lead out of the importer's reach
    (the row is refused, naming nobody)."""
    keys_by_row = [_person_keys(row) for row in rows]
    all_keys = sorted({key for keys in keys_by_row for key in keys})
    stored = _open_people(all_keys)
    editable = set(access.visible(context.actor, "lead", "edit").filter(pk__in=set(stored.values()))
                   .values_list("pk", flat=True)) if stored else set()
    seen: dict[str, int] = context.cache.setdefault("seen_people", {})
    verdicts: dict[int, tuple[list[FieldError], list[FieldError]]] = {}
    for index, (row, keys) in enumerate(zip(rows, keys_by_row, strict=True)):
        number = row[ROW_NUMBER_KEY]
        found = next((stored[key] for key in keys if key in stored), None)
        earlier = next((seen[key] for key in keys if key in seen and seen[key] != number), None)
        if found is not None and found not in editable:
            message = _("已有同一人的线索（你无权查看或编辑），不能导入；请联系其负责人或管理员。")
            verdicts[index] = ([FieldError("mobile", message, "duplicate_hidden", number)], [])
        elif found is not None:
            message = _("与已有线索 #%(id)s 是同一人；将补充它的空白字段，不新建线索。") % {"id": found}
            verdicts[index] = ([], [FieldError("mobile", message, "same_person", number)])
        elif earlier is not None:
            verdicts[index] = ([], [FieldError("mobile", _("与第 %(row)s 行是同一人；将合并到该行的线索。")
                                               % {"row": earlier}, "same_person_in_file", number)])
        for key in keys:
            seen.setdefault(key, number)
    return verdicts


def _commit(actor: User, rows: list[dict[str, Any]]) -> int:
    """Insert the new people, fill the found ones (stored, or an earlier row of the chunk); route
    and score the new leads. Rows refused by the check (a hidden same person) never get here.

    Set-based whatever the chunk holds: the stored leads the rows fill are read (and locked) with one
    query and updated with one statement per set of filled fields; the new leads are inserted with
    one statement (COPY on PostgreSQL), keyed, audited and scored together. The outcome equals
    filling the stored leads one row at a time in file order (`services._capture_into`: a row fills
    what is still empty after the earlier rows, each fill is one audit event and one version)."""
    from .assignment import leads_assign
    from .scoring import leads_rescore

    keys_by_row = [_person_keys(row) for row in rows]
    stored = _open_people(sorted({key for keys in keys_by_row for key in keys}))
    fills = _Fills(_leads_locked(set(stored.values())))
    new_rows: list[dict[str, Any]] = []
    new_by_key: dict[str, dict[str, Any]] = {}
    for row, keys in zip(rows, keys_by_row, strict=True):
        existing_id = next((stored[key] for key in keys if key in stored), None)
        if existing_id is not None and fills.has(existing_id):
            fills.add(existing_id, row)
            continue
        earlier = next((new_by_key[key] for key in keys if key in new_by_key), None)
        if earlier is not None:
            for name in CAPTURE_FILLABLE:
                if row.get(name) and not earlier.get(name):
                    earlier[name] = row[name]
            continue
        new_rows.append(row)
        for key in keys:
            new_by_key.setdefault(key, row)
    filled = fills.write(actor)
    if filled:
        leads_rescore(lead_ids=filled)
    if not new_rows:
        return 0
    ids = _leads_insert(actor, new_rows)
    leads_rescore(lead_ids=ids)  # before routing: assignment rules may read the score band
    unowned = [lead_id for lead_id, row in zip(ids, new_rows, strict=True) if row.get("owner") is None]
    if unowned:
        leads_assign(lead_ids=unowned, actor=actor, via="import")
    return len(ids)


# What a fill reads of a stored lead: the fillable fields, the campaign link, and what its search
# text, duplicate keys and audit name are made of.
FILL_READ = tuple(dict.fromkeys((*CAPTURE_FILLABLE, "campaign_id", *duplicates.FINGERPRINT_FIELDS.get(
    "lead", ("company", "mobile", "phone", "email")))))
LOOKUP_CHUNK = 2000


def _leads_locked(lead_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The current FILL_READ values of the leads by id, locked until the chunk's transaction ends
    (PostgreSQL; SQLite's writer already holds the database)."""
    found: dict[int, dict[str, Any]] = {}
    ordered = sorted(lead_ids)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        for values in (Lead.objects.select_for_update().filter(pk__in=ordered[start:start + LOOKUP_CHUNK])
                       .order_by("pk").values("pk", *FILL_READ)):
            found[values.pop("pk")] = values
    return found


class _Fills:
    """The fills of stored leads by the rows of one chunk, replayed in file order on the leads'
    current values: one audit event per row that fills something, written at the end."""

    def __init__(self, leads: dict[int, dict[str, Any]]) -> None:
        self.leads = leads
        self.filled: dict[int, set[str]] = {}  # lead id → fields (attnames) set by this chunk
        self.versions: dict[int, int] = {}  # lead id → fills applied
        self.events: list[tuple[int, str, dict[str, Any]]] = []  # (lead id, repr, changes) in row order

    def has(self, lead_id: int) -> bool:
        return lead_id in self.leads

    def add(self, lead_id: int, row: Mapping[str, Any]) -> None:
        """`services._capture_into` of one row: fill the lead's empty fields and its campaign."""
        lead = self.leads[lead_id]
        updates = {name: row[name] for name in CAPTURE_FILLABLE if row.get(name) and not lead[name]}
        if row.get("campaign_id") and not lead["campaign_id"]:
            updates["campaign_id"] = row["campaign_id"]
        if not updates:
            return
        changes = {("campaign" if name == "campaign_id" else name): [lead[name], value]
                   for name, value in updates.items()}
        lead.update(updates)
        self.filled.setdefault(lead_id, set()).update(updates)
        self.versions[lead_id] = self.versions.get(lead_id, 0) + 1
        repr_ = lead["name"] or lead["company"] or f"#{lead_id}"
        # In LEAD_AUDITED order, as `audit.diff` of two snapshots gives them.
        self.events.append((lead_id, repr_, {name: changes[name] for name in _AUDIT_ORDER if name in changes}))

    def write(self, actor: User) -> list[int]:
        """Update the filled leads (one executemany per set of filled fields), re-key them and write
        the fill events; returns their ids."""
        if not self.filled:
            return []
        now = timezone.now()
        stamp = connection.ops.adapt_datetimefield_value(now)
        quote = connection.ops.quote_name
        groups: dict[tuple[str, ...], list[int]] = {}
        for lead_id, filled in self.filled.items():
            groups.setdefault(tuple(sorted(filled)), []).append(lead_id)
        with connection.cursor() as cursor:
            for names, lead_ids in groups.items():
                assignments = ", ".join(f"{quote(name)} = %s" for name in names)
                sql = (f"UPDATE {quote(Lead._meta.db_table)} SET {assignments}, search_text = %s, "  # noqa: S608
                       f"version = version + %s, updated_at = %s WHERE id = %s")
                cursor.executemany(sql, [
                    (*(self.leads[lead_id][name] for name in names), _search_text(self.leads[lead_id]),
                     self.versions[lead_id], stamp, lead_id) for lead_id in lead_ids])
        fingerprint = duplicates.FINGERPRINTS["lead"]
        duplicates.keys_write("lead", [fingerprint(lead_id, self.leads[lead_id]) for lead_id in self.filled])
        audit_insert(actor_id=actor.pk, summary="import", events=[
            ("lead", lead_id, repr_, AuditEvent.Kind.UPDATE.value, changes) for lead_id, repr_, changes in self.events])
        return sorted(self.filled)


_AUDIT_ORDER = list(LEAD_AUDITED)


def _search_text(values: Mapping[str, Any]) -> str:
    """`validation.lead_search_text` of a lead's values."""
    return search_text(values["name"], values["company"], values["mobile"], values["email"])[:1000]


# Columns a new lead's insert names; every other column gets its model default.
INSERT_FIELDS = (*LEAD_FIELDS, "campaign", "owner", "department", "held_since", "status", "custom", "search_text",
                 "created_by", "created_at", "updated_at")


def _insert_columns() -> tuple[list[str], list[Any]]:
    """Database columns of a lead insert (id, INSERT_FIELDS, then the rest) and the rest's defaults."""
    meta = Lead._meta
    by_name = {field.name: field for field in meta.concrete_fields}
    rest = [field for field in meta.concrete_fields if not field.primary_key and field.name not in INSERT_FIELDS]
    columns = [str(meta.pk.column), *(str(by_name[name].column) for name in INSERT_FIELDS),
               *(str(field.column) for field in rest)]
    return columns, [field.get_db_prep_save(field.get_default(), connection) for field in rest]


def _leads_insert(actor: User, rows: list[dict[str, Any]]) -> list[int]:
    """Insert new leads from clean rows (explicit ids, one statement), with their duplicate keys and
    their "import" audit events; returns the ids in row order."""
    ids = ids_allocate(Lead, len(rows))
    columns, defaults = _insert_columns()
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    status = str(LeadStatus.NEW.value)
    values: list[tuple[Any, ...]] = []
    for lead_id, row in zip(ids, rows, strict=True):
        owner = row.get("owner")
        row["source"] = row.get("source") or str(LeadSource.IMPORT.value)
        values.append((
            lead_id, *(row[name] for name in LEAD_FIELDS), row.get("campaign_id"), owner.pk if owner else None,
            owner.department_id if owner else None, stamp if owner else None, status,
            json.dumps(row["custom"]) if row.get("custom") else "{}", _search_text(row), actor.pk, stamp, stamp,
            *defaults))
    rows_insert(Lead, columns, values)
    fingerprint = duplicates.FINGERPRINTS["lead"]
    duplicates.keys_write("lead", [fingerprint(lead_id, row) for lead_id, row in zip(ids, rows, strict=True)],
                          replace=False)
    campaigns = _campaign_names({row["campaign_id"] for row in rows if row.get("campaign_id")})
    audited = [{**{name: row[name] for name in LEAD_FIELDS},
                "owner": str(row["owner"]) if row.get("owner") else "",
                "campaign": campaigns.get(row.get("campaign_id"), "")} for row in rows]
    changes = created_changes_json(audited, [(name, name) for name in AUDITED])
    action = AuditEvent.Kind.IMPORT.value
    audit_insert(actor_id=actor.pk, events=[
        ("lead", lead_id, row["name"] or row["company"] or f"#{lead_id}", action, text)
        for lead_id, row, text in zip(ids, rows, changes, strict=True)])
    return ids


def _campaign_names(campaign_ids: set[int]) -> dict[Any, str]:
    """What the audit shows of each campaign (its `str`), read once per chunk."""
    if not campaign_ids:
        return {}
    return {pk: str(campaign) for pk, campaign in Campaign.objects.in_bulk(list(campaign_ids)).items()}


def _export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[Lead]:
    return access.restrict(selectors.lead_list(user=user, filters=filters), user, "lead", "export").order_by("id")


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _export_rows(queryset: QuerySet[Lead]) -> Iterator[dict[str, Any]]:
    with translation.override(SOURCE_LANGUAGE):
        labels = {name: {value: str(label) for value, label in choices.choices}
                  for name, choices in (("industry", Industry), ("size", CompanySize), ("source", LeadSource),
                                        ("status", LeadStatus))}
    for lead in queryset.select_related("owner", "campaign", "pool").iterator(chunk_size=1000):
        values: dict[str, Any] = {name: getattr(lead, name) for name in LEAD_FIELDS}
        for name, mapping in labels.items():
            values[name] = mapping.get(getattr(lead, name), getattr(lead, name))
        values.update(id=lead.pk, owner=lead.owner.username if lead.owner else "",
                      campaign=lead.campaign.name if lead.campaign else "", score=lead.score,
                      score_band=lead.score_band, pool=lead.pool.name if lead.pool else "",
                      created_at=_local(lead.created_at), updated_at=_local(lead.updated_at), custom=lead.custom)
        yield values


def register_leads() -> None:
    """Register the lead importer/exporter with the activity import machinery."""
    register(TabularSpec(
        object_type="lead", label=gettext_lazy("线索"), fields=tuple(_columns()), validate_row=_validate,
        preload=_preload, commit_rows=_commit, check_valid_rows=_check, export_rows=_export_rows,
        export_queryset=_export_queryset, export_filters=selectors.LEAD_FILTERS,
    ))
