"""Small builders for pricing-engine tests: one catalogue, books and promotions per test, exact values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from l2c.engines.pricing import compile_catalog, price
from l2c.engines.pricing.compile import CompiledCatalog
from l2c.engines.pricing.types import (
    AttributeAdjustment,
    Coupon,
    CustomerContext,
    LineInput,
    LineResult,
    MarginPolicy,
    PriceBook,
    PriceEntry,
    PricingRequest,
    PricingResult,
    Promotion,
    Quota,
    SkuFacts,
)

AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
D = Decimal


def sku(code: str, *, product: str | None = None, path: tuple[str, ...] = ("hw",), kind: str = "goods",
        rate: str = "0.13", cost: str = "0", attributes: Mapping[str, str] | None = None,
        cost_currency: str = "CNY") -> SkuFacts:
    return SkuFacts(code, product or f"P-{code}", path, kind, D(rate), D(cost), name=code,
                    attributes=dict(attributes or {}), cost_currency=cost_currency)


def fixed(code: str, unit_price: str, **kwargs: Any) -> PriceEntry:
    return PriceEntry(code, unit_price=D(unit_price), **kwargs)


def book(code: str = "BASE", entries: Iterable[PriceEntry] = (), *, is_base: bool = False,
         adjustments: Iterable[AttributeAdjustment] = (), currency: str = "CNY", **kwargs: Any) -> PriceBook:
    return PriceBook(code, code, currency, is_base=is_base, entries={entry.sku: entry for entry in entries},
                     adjustments=tuple(adjustments), **kwargs)


def base(*entries: PriceEntry, adjustments: Iterable[AttributeAdjustment] = ()) -> PriceBook:
    return book("BASE", entries, is_base=True, adjustments=adjustments)


def promotion(code: str, kind: str, params: Mapping[str, Any], **kwargs: Any) -> Promotion:
    return Promotion(code, code, kind, dict(params), **kwargs)


def catalog(skus: Iterable[SkuFacts], books: Iterable[PriceBook], promotions: Iterable[Promotion] = (),
            policy: MarginPolicy | None = None) -> CompiledCatalog:
    return compile_catalog(version=1, skus=list(skus), books=list(books), promotions=list(promotions),
                           policy=policy or MarginPolicy())


def line(key: str, code: str, quantity: str | int = 1, **kwargs: Any) -> LineInput:
    return LineInput(key, code, D(quantity), **kwargs)


def request(*lines: LineInput, customer: CustomerContext | None = None, coupon_codes: tuple[str, ...] = (),
            coupons: tuple[Coupon, ...] = (), quotas: Mapping[str, Quota] | None = None, as_of: datetime = AS_OF,
            price_book: str | None = None, currency: str = "CNY") -> PricingRequest:
    return PricingRequest(currency, as_of, tuple(lines), customer or CustomerContext(), price_book, coupon_codes,
                          coupons, dict(quotas or {}))


def priced(compiled: CompiledCatalog, *lines: LineInput, **kwargs: Any) -> PricingResult:
    return price(compiled, request(*lines, **kwargs))


def by_key(result: PricingResult) -> dict[str, LineResult]:
    return {item.key: item for item in result.lines}


def steps(result_line: LineResult) -> list[tuple[str, str, int]]:
    return [(step.kind, step.rule, step.amount) for step in result_line.steps]


def rejected(result: PricingResult) -> dict[str, str]:
    return {item.code: item.reason for item in result.rejected}


def applied(result: PricingResult) -> dict[str, int]:
    return {item.code: item.discount for item in result.applied}
