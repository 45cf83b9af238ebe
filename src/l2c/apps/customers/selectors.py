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


def _without_nul(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Filter input minus NUL characters: PostgreSQL cannot compare text with them and no stored value has one."""
    return {key: value.replace("\x00", "") if isinstance(value, str) else value
            for key, value in (filters or {}).items()}


def account_list(*, user: User, filters: Mapping[str, Any] | None = None, action: str = "view") -> QuerySet[Account]:
    """Accounts the user may `action`, narrowed by allow-listed filters."""
    queryset = access.restrict(Account.objects.all(), user, "account", action)
    filters = _without_nul(filters)
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
    if filters.get("custom"):
        queryset = queryset.filter(custom_field_q("account", filters["custom"]))
    return queryset


def custom_field_q(object_type: str, conditions: Mapping[str, str] | list[str]) -> Q:
    """Filter on custom fields: {key: value} or ["key:value", …]. Keys must be defined fields; values
    are matched as stored (multi-choice and boolean fields are matched by containment/truth)."""
    from l2c.apps.activity.custom_fields import definitions
    from l2c.apps.activity.models import CustomField
    from l2c.kernel.errors import FieldError, ValidationFailed

    if isinstance(conditions, list):
        pairs = [item.split(":", 1) for item in conditions]
        if any(len(pair) != 2 for pair in pairs):
            raise ValidationFailed("Bad custom filter.", errors=[FieldError("custom", "use key:value")])
        conditions = {key: value for key, value in pairs}
    fields = {field.key: field for field in definitions(object_type)}
    condition = Q()
    for key, value in conditions.items():
        field = fields.get(key)
        if field is None:
            raise ValidationFailed("Unknown custom field.",
                                   errors=[FieldError(f"custom.{key}", "no such custom field", "unknown_field")])
        if field.kind == CustomField.Kind.BOOLEAN:
            condition &= Q(**{f"custom__{key}": value.lower() in {"1", "true", "yes", "是"}})
        elif field.kind == CustomField.Kind.NUMBER:
            try:
                condition &= Q(**{f"custom__{key}": int(value)})
            except ValueError:
                raise ValidationFailed("Bad custom filter.", errors=[
                    FieldError(f"custom.{key}", "must be a whole number")]) from None
        elif field.kind == CustomField.Kind.MULTI_CHOICE:
            condition &= Q(**{f"custom__{key}__icontains": f'"{value}"'})
        else:
            condition &= Q(**{f"custom__{key}": value})
    return condition


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def contact_list(*, user: User, filters: Mapping[str, Any] | None = None, action: str = "view") -> QuerySet[Contact]:
    queryset = access.restrict(Contact.objects.all(), user, "contact", action)
    filters = _without_nul(filters)
    if filters.get("q"):
        term = str(filters["q"]).strip().lower()
        queryset = queryset.filter(Q(search_text__contains=term) | Q(mobile__contains=term))
    if filters.get("account_id") not in (None, ""):
        queryset = queryset.filter(account_id=int(filters["account_id"]))
    return queryset


def account_tag_names(account_ids: list[int]) -> dict[int, list[str]]:
    """Sorted tag names per account id, in one query."""
    names: dict[int, list[str]] = {}
    through = Account.tags.through
    for account_id, name in through.objects.filter(account_id__in=account_ids).values_list("account_id", "tag__name"):
        names.setdefault(account_id, []).append(name)
    return {account_id: sorted(values) for account_id, values in names.items()}


def account_detail(*, user: User, account_id: int) -> Account:
    return access.get_for_action(
        user, "account", account_id, "view",
        queryset=Account.objects.select_related("owner", "department").prefetch_related("tags"),
    )


def contact_detail(*, user: User, contact_id: int) -> Contact:
    return access.get_for_action(user, "contact", contact_id, "view",
                                 queryset=Contact.objects.select_related("account", "reports_to"))
