"""Reads of leads — always narrowed by the access choke point first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, ValidationFailed

from .models import Lead, LeadStatus

LEAD_SORTS = {
    "-updated_at": "-updated_at", "updated_at": "updated_at", "-created_at": "-created_at",
    "created_at": "created_at", "-score": "-score", "score": "score", "-id": "-id",
}
LEAD_FILTERS = ("q", "status", "score_band", "owner_id", "pool_id", "source", "campaign_id", "tender_notice_id",
                "province", "industry", "unassigned", "open", "created_from", "created_to")
OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)


def lead_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Lead]:
    """Visible leads matching the filters. `q` matches name, company, mobile and e-mail (and their
    pinyin); `unassigned` = no owner; `open` = new, contacted or qualified."""
    queryset = access.visible(user, "lead")
    filters = filters or {}
    errors: list[FieldError] = []
    # NUL never reaches the database (PostgreSQL refuses it in text): dropped from every filter.
    filters = {name: value.replace("\x00", "") if isinstance(value, str) else value
               for name, value in filters.items()}
    q = str(filters.get("q") or "").strip().lower()
    if q:
        queryset = queryset.filter(search_text__contains=q)
    for name in ("status", "score_band", "source", "province", "industry"):
        value = filters.get(name)
        if value not in (None, ""):
            queryset = queryset.filter(**{name: value})
    for name in ("owner_id", "pool_id", "campaign_id", "tender_notice_id"):
        value = filters.get(name)
        if value in (None, ""):
            continue
        try:
            queryset = queryset.filter(**{name: int(value)})
        except (TypeError, ValueError):
            errors.append(FieldError(name, _("必须是整数 ID。"), "invalid"))
    if _truthy(filters.get("unassigned")):
        queryset = queryset.filter(owner__isnull=True)
    if _truthy(filters.get("open")):
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    for name, lookup in (("created_from", "created_at__date__gte"), ("created_to", "created_at__date__lte")):
        value = filters.get(name)
        if value in (None, ""):
            continue
        try:
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError:
            errors.append(FieldError(name, _("日期格式应为 YYYY-MM-DD。"), "invalid"))
            continue
        queryset = queryset.filter(**{lookup: day})
    if errors:
        raise ValidationFailed(_("筛选条件有误。"), errors=errors)
    return queryset


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes", "on"}


def lead_detail(*, user: User, lead_id: Any) -> Lead:
    lead: Lead = access.get_for_action(user, "lead", lead_id, "view", queryset=Lead.objects.select_related(
        "owner", "department", "pool", "campaign", "tender_notice", "converted_account", "converted_contact"))
    return lead


def lead_counts_by_status(*, user: User) -> dict[str, int]:
    """Visible leads per status (the list page's tabs)."""
    from django.db.models import Count

    rows = access.visible(user, "lead").values("status").annotate(count=Count("id")).order_by()
    return {row["status"]: row["count"] for row in rows}

