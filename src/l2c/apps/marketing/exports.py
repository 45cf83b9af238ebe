"""Import/export of campaigns, registered with the activity import machinery as object type
"campaign" (the generic import and export pages serve it).

Columns: name, kind (value or label, e.g. `seminar` or 研讨会), online (是/否), start and end date,
location, budget (元), parent campaign (its id), description. Each row is created through
`campaign_create` (validation, tree, audit) as the importer; a bad cell is reported on its own.
Exports are the visible campaigns (the export permission) filtered like the list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.imports import SOURCE_LANGUAGE, ColumnSpec, ImportContext, TabularSpec, register
from l2c.apps.customers.rfm import amount_text
from l2c.apps.identity.models import User
from l2c.kernel.errors import DomainError, FieldError

from . import selectors, services
from .models import Campaign, CampaignKind, CampaignStatus

LABELS = {
    "name": gettext_lazy("活动名称"), "kind": gettext_lazy("活动类型"), "is_online": gettext_lazy("线上活动"),
    "starts_on": gettext_lazy("开始日期"), "ends_on": gettext_lazy("结束日期"), "location": gettext_lazy("地点"),
    "budget": gettext_lazy("预算（元）"), "parent_id": gettext_lazy("上级活动编号"),
    "description": gettext_lazy("说明"),
}
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "活动", "campaign", "name"), "kind": ("类型", "kind", "type"),
    "is_online": ("线上", "online", "is_online"), "starts_on": ("开始", "start", "starts_on", "日期"),
    "ends_on": ("结束", "end", "ends_on"), "location": ("地址", "location", "venue"),
    "budget": ("预算", "budget", "预算(元)"), "parent_id": ("上级活动", "父活动", "parent", "parent_id"),
    "description": ("备注", "description", "note"),
}
EXAMPLE = {"name": "2026 华东行业峰会·杭州站", "kind": "会议", "is_online": "否", "starts_on": "2026-04-18",
           "ends_on": "2026-04-18", "location": "杭州国际博览中心", "budget": "80000.00", "parent_id": "",
           "description": ""}
TRUE_WORDS = {"是", "yes", "y", "true", "1", "线上", "online"}
FALSE_WORDS = {"", "否", "no", "n", "false", "0", "线下", "offline"}


def _columns() -> list[ColumnSpec]:
    columns = [ColumnSpec(key="id", label=gettext_lazy("编号"), importable=False)]
    columns += [ColumnSpec(key=key, label=label, aliases=(key, *ALIASES[key]), required=key == "name",
                           example=EXAMPLE[key]) for key, label in LABELS.items()]
    columns += [ColumnSpec(key="status", label=gettext_lazy("状态"), importable=False),
                ColumnSpec(key="currency", label=gettext_lazy("币种"), importable=False),
                ColumnSpec(key="owner", label=gettext_lazy("负责人"), importable=False)]
    return columns


def _kind(text: str) -> str | None:
    text = text.strip()
    if not text:
        return CampaignKind.OTHER
    if text in CampaignKind.values:
        return text
    for value, label in CampaignKind.choices:
        with translation.override(SOURCE_LANGUAGE):
            chinese = str(label)
        if text in (chinese, str(label)):
            return value
    return None


def _validate(row: dict[str, str], number: int, context: ImportContext) -> tuple[dict[str, Any] | None,
                                                                                 list[FieldError]]:
    errors: list[FieldError] = []
    kind = _kind(row.get("kind", ""))
    if kind is None:
        errors.append(FieldError("kind", _("不支持的活动类型“%(value)s”") % {"value": row.get("kind", "")[:20]},
                                 "invalid_choice", number))
    online = row.get("is_online", "").strip().lower()
    if online not in TRUE_WORDS | FALSE_WORDS:
        errors.append(FieldError("is_online", _("请填写“是”或“否”"), "invalid", number))
    data = {"name": row.get("name", ""), "kind": kind or CampaignKind.OTHER, "is_online": online in TRUE_WORDS,
            "starts_on": row.get("starts_on", ""), "ends_on": row.get("ends_on", ""),
            "location": row.get("location", ""), "budget": row.get("budget", "") or "0",
            "description": row.get("description", ""), "parent_id": row.get("parent_id", "").strip() or None}
    _cleaned, field_errors = services._clean_campaign(context.actor, data, None)
    errors += [FieldError(error.field, error.message, error.code, number) for error in field_errors]
    if errors:
        return None, errors
    return data, []


def _commit(actor: User, rows: list[dict[str, Any]]) -> int:
    created = 0
    for row in rows:
        data = {key: value for key, value in row.items() if key in services.TEXT_LIMITS or key in (
            "kind", "is_online", "starts_on", "ends_on", "budget", "parent_id")}
        try:
            services.campaign_create(actor=actor, data=data)
        except DomainError:  # changed since validation (e.g. the parent was moved out of reach): skipped
            continue
        created += 1
    return created


def _export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[Campaign]:
    from l2c.apps.identity import access

    campaigns = selectors.campaign_list(user=user, filters={key: filters.get(key) for key in ("status", "kind", "q")
                                                            if filters.get(key)})
    return access.restrict(campaigns, user, "campaign", "export").select_related("owner").order_by("path")


def _export_rows(queryset: QuerySet[Campaign]) -> Iterator[dict[str, Any]]:
    kinds = dict(CampaignKind.choices)
    statuses = dict(CampaignStatus.choices)
    for campaign in queryset.iterator(chunk_size=2000):
        yield {"id": campaign.pk, "name": campaign.name, "kind": str(kinds.get(campaign.kind, campaign.kind)),
               "is_online": _("是") if campaign.is_online else _("否"), "starts_on": campaign.starts_on,
               "ends_on": campaign.ends_on, "location": campaign.location,
               "budget": amount_text(campaign.budget_amount, campaign.currency).split(" ", 1)[-1],
               "parent_id": campaign.parent_id or "", "description": campaign.description,
               "status": str(statuses.get(campaign.status, campaign.status)), "currency": campaign.currency,
               "owner": str(campaign.owner) if campaign.owner else "", "custom": {}}


def register_campaigns() -> None:
    register(TabularSpec(
        object_type="campaign", label=gettext_lazy("市场活动"), fields=tuple(_columns()), validate_row=_validate,
        commit_rows=_commit, export_rows=_export_rows, export_queryset=_export_queryset,
        export_filters=("status", "kind", "q"),
    ))
