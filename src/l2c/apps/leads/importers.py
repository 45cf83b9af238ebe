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

from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.audit import audit_bulk, diff
from l2c.apps.activity.imports import ROW_NUMBER_KEY, SOURCE_LANGUAGE, ColumnSpec, ImportContext, TabularSpec, register
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import owner_assignable
from l2c.apps.customers import duplicates
from l2c.apps.customers.models import CompanySize, Industry
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError

from . import selectors
from .models import Lead, LeadSource, LeadStatus
from .selectors import OPEN_STATUSES
from .services import _capture_into, person_keys
from .validation import CAPTURE_FILLABLE, LEAD_FIELDS, clean_lead, lead_search_text

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
        elif not owner_assignable(actor=context.actor, object_type="lead", owner=owner):
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


def _person_keys(row: Mapping[str, Any]) -> list[str]:
    return person_keys(row)


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
    and score the new leads. Rows refused by the check (a hidden same person) never get here."""
    from .assignment import leads_assign
    from .scoring import leads_rescore

    keys_by_row = [_person_keys(row) for row in rows]
    stored = _open_people(sorted({key for keys in keys_by_row for key in keys}))
    new_rows: list[dict[str, Any]] = []
    new_by_key: dict[str, dict[str, Any]] = {}
    for row, keys in zip(rows, keys_by_row, strict=True):
        existing_id = next((stored[key] for key in keys if key in stored), None)
        if existing_id is not None:
            lead = Lead.objects.select_for_update().filter(pk=existing_id).first()
            if lead is not None:
                _capture_into(lead, row, {"campaign_id": row.get("campaign_id")}, actor, "import")
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
    if not new_rows:
        return 0
    now = timezone.now()
    leads = [Lead(**{name: row[name] for name in LEAD_FIELDS if name != "source"}, campaign_id=row.get("campaign_id"),
                  owner=row.get("owner"), department_id=row["owner"].department_id if row.get("owner") else None,
                  held_since=now if row.get("owner") else None, custom=row.get("custom") or {},
                  source=row.get("source") or LeadSource.IMPORT, status=LeadStatus.NEW, created_by=actor)
             for row in new_rows]
    for lead in leads:
        lead.search_text = lead_search_text(lead)
    created = Lead.objects.bulk_create(leads, batch_size=1000)
    ids = [lead.pk for lead in created]
    duplicates.keys_write("lead", [duplicates.FINGERPRINTS["lead"](lead.pk, {
        name: getattr(lead, name) for name in duplicates.FINGERPRINT_FIELDS["lead"]}) for lead in created],
        replace=False)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "lead", "object_id": lead.pk, "action": AuditEvent.Kind.IMPORT, "object_repr": str(lead),
         "changes": diff({}, {name: str(getattr(lead, name) or "") for name in AUDITED
                              if getattr(lead, name, None)})}
        for lead in created])
    leads_rescore(lead_ids=ids)  # before routing: assignment rules may read the score band
    unowned = [lead.pk for lead in created if lead.owner_id is None]
    if unowned:
        leads_assign(lead_ids=unowned, actor=actor, via="import")
    return len(ids)


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
