"""A priced cart's lines as the preview answer's JSON-ready dicts (amounts as decimal strings).

Pure, and compiled with the engine (ADR 0007): a 1,000-line answer is ~7,000 dicts and ~13,000
amounts, which cost more than pricing the cart when built by interpreted code. The sentences come
from the caller (`texts`, memoised by message, rule, gift flag and the identity of the step's
params — shared params objects are the promotion's or the tier's own), so nothing here knows a
language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from .types import LineResult, SkuFacts, Step

__all__ = ["LIST_PRICE_KEY", "line_dicts", "money_text", "percent_text", "quantity_text", "unit_text"]

LIST_PRICE_KEY = "pricing.step.list_price"
StepText = Callable[[Step, LineResult], str]


def money_text(minor: int, exponent: int) -> str:
    """Minor units as a decimal string in currency units: 123450 → "1234.50" (exponent 2)."""
    if exponent == 2:  # the hot case: string slicing, no divmod
        if minor >= 100:
            text = str(minor)
            return text[:-2] + "." + text[-2:]
        if minor >= 0:
            return f"0.{minor:02d}"
        return "-" + money_text(-minor, 2)
    if exponent == 0:
        return str(minor)
    whole, part = divmod(-minor if minor < 0 else minor, 10 ** exponent)
    return f"{'-' if minor < 0 else ''}{whole}.{part:0{exponent}d}"


def unit_text(value: Decimal | None, exponent: int) -> str | None:
    """A unit price: the currency's places at least, more only when they carry digits (4 at most)."""
    if value is None:
        return None
    text = f"{value:.4f}"  # the engine's unit prices have four places
    trimmed = text.rstrip("0")
    places = len(trimmed) - trimmed.index(".") - 1
    if places < exponent:
        trimmed = text[:len(text) - 4 + exponent]
    return trimmed[:-1] if trimmed.endswith(".") else trimmed


def quantity_text(value: Decimal) -> str:
    return f"{value.normalize():f}" if value.is_finite() else str(value)


def percent_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def line_dicts(lines: Sequence[LineResult], exponent: int, facts: Mapping[str, SkuFacts], list_template: str,
               memo: Mapping[tuple[Any, ...], tuple[Mapping[str, Any], str]], texts: StepText) -> list[dict[str, Any]]:
    """Each line with its waterfall: the list-price sentence is formatted from the line's own strings,
    every other step's from `memo[(message, rule, is_gift, id(params))]` when it holds these very
    params, else from `texts` (which fills the memo)."""
    out: list[dict[str, Any]] = []
    for line in lines:
        sku = facts.get(line.sku)
        quantity = quantity_text(line.quantity)
        list_price = unit_text(line.list_price, exponent)
        is_gift = line.is_gift
        steps: list[dict[str, Any]] = []
        for step in line.steps:
            message = step.message
            if message == LIST_PRICE_KEY:
                description = list_template % {"price": list_price, "quantity": quantity, "book": step.rule or "—"}
            else:
                params = step.params
                found = memo.get((message, step.rule, is_gift, id(params)))
                description = found[1] if found is not None and found[0] is params else texts(step, line)
            steps.append({"kind": step.kind, "rule": step.rule, "description": description,
                          "amount": money_text(step.amount, exponent), "message": message})
        out.append({
            "key": line.key, "sku": line.sku, "name": sku.name if sku is not None else "",
            "quantity": quantity, "list_price": list_price,
            "unit_price": unit_text(line.unit_price, exponent), "net_amount": money_text(line.net_amount, exponent),
            "tax_amount": money_text(line.tax_amount, exponent),
            "total_amount": money_text(line.total_amount, exponent),
            "cost_amount": money_text(line.cost_amount, exponent),
            "margin_percent": percent_text(line.margin_percent),
            "price_book": line.price_book, "is_gift": is_gift, "parent": line.parent,
            "promotions": list(line.promotions), "steps": steps,
        })
    return out
