"""Reads of accounts and contacts — always narrowed by the access choke point first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.uscc import normalize_uscc

from .models import Account, Contact

ACCOUNT_SORTS = {
    "-updated_at": "-updated_at", "updated_at": "updated_at", "name": "name", "-name": "-name",
    "-created_at": "-created_at", "created_at": "created_at",
}
CONTACT_SORTS = {"-updated_at": "-updated_at", "name": "name", "-name": "-name", "-created_at": "-created_at"}
ACCOUNT_FILTERS = ("q", "owner_id", "department_id", "industry", "province", "city", "status", "level", "size",
                   "source", "tag", "created_from", "created_to")


def _search_q(q: str) -> Q:
    """Name, short name, pinyin or initials (contains, case-insensitive), or an exact credit code/phone."""
    term = q.strip().lower()
    condition = Q(search_text__contains=term)
    code = normalize_uscc(q)
    if len(code) == 18:
        condition |= Q(credit_code=code)
    if term.replace("-", "").isdigit() and len(term) >= 5:
        condition |= Q(phone__contains=term)
    return condition


def account_list(*, user: User, filters: Mapping[str, Any] | None = None, action: str = "view") -> QuerySet[Account]:
    """Accounts the user may `action`, narrowed by allow-listed filters."""
    queryset = access.restrict(Account.objects.all(), user, "account", action)
    filters = filters or {}
    if filters.get("q"):
        queryset = queryset.filter(_search_q(str(filters["q"])))
    for name in ("owner_id", "department_id"):
        if filters.get(name) not in (None, ""):
            queryset = queryset.filter(**{name: int(filters[name])})
    for name in ("industry", "province", "city", "status", "level", "size", "source"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    if filters.get("tag"):
        queryset = queryset.filter(tags__name=filters["tag"])
    if filters.get("created_from"):
        queryset = queryset.filter(created_at__date__gte=_as_date(filters["created_from"]))
    if filters.get("created_to"):
        queryset = queryset.filter(created_at__date__lte=_as_date(filters["created_to"]))
    return queryset


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def contact_list(*, user: User, filters: Mapping[str, Any] | None = None, action: str = "view") -> QuerySet[Contact]:
    queryset = access.restrict(Contact.objects.all(), user, "contact", action)
    filters = filters or {}
    if filters.get("q"):
        term = str(filters["q"]).strip().lower()
        queryset = queryset.filter(Q(search_text__contains=term) | Q(mobile__contains=term))
    if filters.get("account_id") not in (None, ""):
        queryset = queryset.filter(account_id=int(filters["account_id"]))
    return queryset


def account_detail(*, user: User, account_id: int) -> Account:
    return access.get_for_action(
        user, "account", account_id, "view",
        queryset=Account.objects.select_related("owner", "department").prefetch_related("tags"),
    )


def contact_detail(*, user: User, contact_id: int) -> Contact:
    return access.get_for_action(user, "contact", contact_id, "view",
                                 queryset=Contact.objects.select_related("account", "reports_to"))
