"""Template filters of the campaign pages."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Mapping[str, Any] | None, key: str) -> Any:
    """mapping[key] (None when missing), for dicts keyed by status or model."""
    return (mapping or {}).get(key)


@register.filter
def fen(amount: int | None) -> str:
    """Fen as yuan with thousands separators and 2 decimals ("12,800.00")."""
    if amount is None:
        return "—"
    return f"{Decimal(amount).scaleb(-2):,.2f}"
