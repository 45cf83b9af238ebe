"""Reads of opportunities — always narrowed by the access choke point first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, ValidationFailed

from .models import Opportunity, OpportunityStatus, Stage, StageKind

# Keyset sorts: every field is NOT NULL so (field, id) is a total order.
OPPORTUNITY_SORTS = {
    "-updated_at": "-updated_at", "updated_at": "updated_at", "-created_at": "-created_at",
    "created_at": "created_at", "-amount": "-amount", "amount": "amount",
    "stage_entered_at": "stage_entered_at", "-stage_entered_at": "-stage_entered_at", "-id": "-id",
}
INT_FILTERS = ("owner_id", "account_id", "process_id", "stage_id", "campaign_id", "lead_id", "tender_notice_id",
               "department_id")
FLAGS = ("close_date_passed", "stalled", "no_activity", "no_decision_maker", "no_champion", "opponent_high_influence")


def opportunity_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Opportunity]:
    """Visible deals matching the filters: `q` (name or account name contains), status, ids, source,
    close date range, health below a threshold, a red flag."""
    queryset = access.visible(user, "opportunity")
    filters = {name: value.replace("\x00", "") if isinstance(value, str) else value
               for name, value in (filters or {}).items()}
    errors: list[FieldError] = []
    q = str(filters.get("q") or "").strip()
    if q:
        queryset = queryset.filter(Q(name__icontains=q) | Q(account__name__icontains=q))
    status = filters.get("status")
    if status not in (None, ""):
        if status not in OpportunityStatus.values:
            errors.append(FieldError("status", _("状态只能是 %(allowed)s。")
                                     % {"allowed": ", ".join(OpportunityStatus.values)}, "invalid"))
        else:
            queryset = queryset.filter(status=status)
    if filters.get("source") not in (None, ""):
        queryset = queryset.filter(source=filters["source"])
    for name in INT_FILTERS:
        value = filters.get(name)
        if value in (None, ""):
            continue
        try:
            queryset = queryset.filter(**{name: int(value)})
        except (TypeError, ValueError):
            errors.append(FieldError(name, _("必须是整数 ID。"), "invalid"))
    for name, lookup in (("close_from", "close_date__gte"), ("close_to", "close_date__lte")):
        value = filters.get(name)
        if value in (None, ""):
            continue
        try:
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError:
            errors.append(FieldError(name, _("日期格式应为 YYYY-MM-DD。"), "invalid"))
            continue
        queryset = queryset.filter(**{lookup: day})
    health_below = filters.get("health_below")
    if health_below not in (None, ""):
        try:
            queryset = queryset.filter(health_index__lt=int(health_below))
        except (TypeError, ValueError):
            errors.append(FieldError("health_below", _("必须是 0 到 100 的整数。"), "invalid"))
    flag = filters.get("flag")
    if flag not in (None, ""):
        if flag not in FLAGS:
            errors.append(FieldError("flag", _("预警只能是 %(allowed)s。") % {"allowed": ", ".join(FLAGS)}, "invalid"))
        else:
            # health_flags is a JSON list of codes; its text holds each code quoted, so '"stalled"'
            # matches that code only (on SQLite and PostgreSQL alike, unlike JSON containment).
            queryset = queryset.annotate(flags_text=Cast("health_flags", TextField())).filter(
                flags_text__contains=f'"{flag}"')
    if errors:
        raise ValidationFailed(_("筛选条件有误。"), errors=errors)
    return queryset


def opportunity_detail(*, user: User, opportunity_id: Any) -> Opportunity:
    deal: Opportunity = access.get_for_action(user, "opportunity", opportunity_id, "view", queryset=(
        Opportunity.objects.select_related("account", "owner", "department", "process", "stage", "lead",
                                           "campaign", "tender_notice", "lost_to")))
    return deal


def board_columns(*, user: User, process_id: int, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The kanban columns of one process: every stage with the count and amount of the visible
    deals in it (one grouped query); cards are paged per column by the caller."""
    stages = list(Stage.objects.filter(process_id=process_id).order_by("position"))
    queryset = opportunity_list(user=user, filters={**(filters or {}), "process_id": process_id})
    totals = {row["stage_id"]: row for row in queryset.order_by().values("stage_id").annotate(
        count=Count("pk"), amount=Sum("amount"))}
    return [{"stage": stage, "count": totals.get(stage.pk, {}).get("count", 0),
             "amount": totals.get(stage.pk, {}).get("amount") or 0, "closed": stage.kind != StageKind.OPEN}
            for stage in stages]


def stage_totals(*, user: User, stage_id: int, filters: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Count and amount of the visible deals in one stage (one aggregate query): a kanban column's
    header when only that column is paged."""
    totals = opportunity_list(user=user, filters={**(filters or {}), "stage_id": stage_id}).aggregate(
        count=Count("pk"), amount=Sum("amount"))
    return {"count": totals["count"] or 0, "amount": totals["amount"] or 0}
