"""Small presentation helpers for the L2C templates: ``{% load l2c_ui %}``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.http import HttpRequest
from django.utils import timezone

register = template.Library()

CURRENCY_SYMBOLS: dict[str, str] = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "GBP": "£"}
CENT = Decimal("0.01")


def _to_decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _format_money(amount: Decimal, currency: str) -> str:
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), f"{currency.upper()} ")
    sign = "-" if rounded < 0 else ""
    return f"{sign}{symbol}{abs(rounded):,.2f}"


@register.filter
def money(value: object, currency: str = "CNY") -> str:
    """``{{ amount|money }}`` → ``¥1,234.50``; ``{{ amount|money:"USD" }}`` → ``$1,234.50``.

    Accepts a Decimal/int/str, or a Money-like object with ``.amount`` and ``.currency``
    (whose currency then wins). Rounds half-up to 2 decimals; empty input renders "".
    """
    if value is None or value == "":
        return ""
    amount = _to_decimal(getattr(value, "amount", value))
    if amount is None:
        return str(value)
    code = getattr(value, "currency", None) or currency or "CNY"
    return _format_money(amount, str(getattr(code, "code", code)))


@register.filter
def money_minor(value: object, currency: str = "CNY") -> str:
    """``{{ amount_minor|money_minor:row.currency }}``: integer minor units (fen) → ``¥12.34``."""
    if value is None or value == "":
        return ""
    amount = _to_decimal(value)
    return "" if amount is None else _format_money(amount / 100, currency or "CNY")


@register.filter(expects_localtime=False)
def dt(value: object) -> str:
    """An aware datetime in the current time zone as ``YYYY-MM-DD HH:MM``; a date as ``YYYY-MM-DD``."""
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return "" if value is None else str(value)


@register.simple_tag
def qs_replace(request: HttpRequest, key: str, value: object = "", *drop: str) -> str:
    """The request's query string with ``key`` set to ``value`` (removed when empty).

    Extra arguments name keys to drop, e.g. reset the cursor when sorting:
    ``href="?{% qs_replace request 'sort' 'name' 'cursor' %}"``. No leading "?".
    """
    params = request.GET.copy()
    for name in (key, *drop):
        params.pop(name, None)
    if value is not None and value != "":
        params[key] = str(value)
    return params.urlencode()


@register.filter
def field_value(obj: object, path: str) -> object:
    """``{{ row|field_value:"account.owner.display_name" }}``: getattr (or dict key) along a dotted path.

    Like template variables: private names are refused, plain callables are called,
    methods flagged ``alters_data`` are not. A missing step yields None.
    """
    for part in str(path).split("."):
        if obj is None or not part or part.startswith("_"):
            return None
        obj = obj.get(part) if isinstance(obj, Mapping) else getattr(obj, part, None)
        if callable(obj) and not isinstance(obj, type):
            if getattr(obj, "alters_data", False):
                return None
            try:
                obj = obj()
            except TypeError:
                return None
    return obj
