"""The kanban column page, shared by the board page and the API: newest update first, keyset on
(updated_at, id). Lives beside the selectors (not in them) because it pages through l2c.api's keyset
helper, which selectors may not import."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from l2c.api.pagination import Page, keyset_page
from l2c.apps.identity.models import User

from .selectors import OPPORTUNITY_SORTS, opportunity_list

BOARD_FIELDS = ("id", "name", "account_id", "owner_id", "amount", "currency", "close_date", "health_index",
                "health_flags", "version", "updated_at")


def board_page(user: User, stage_id: int, filters: dict[str, Any], *, cursor: str | None, limit: int) -> Page:
    """One page of a kanban column: newest update first, keyset on (updated_at, id) — the index
    opp_stage_updated serves it, so a column of thousands costs what a column of ten does."""
    queryset = opportunity_list(user=user, filters={**filters, "stage_id": stage_id})
    return keyset_page(queryset.values(*BOARD_FIELDS, account_name=F("account__name")), sort="-updated_at",
                       allowed_sorts=OPPORTUNITY_SORTS, cursor=cursor, limit=limit)
