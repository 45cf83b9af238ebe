"""Parse and compile pricing rules into indexes (ADR 0006, "Compiled catalog").

`compile_catalog` runs once per rules version: it validates every price entry and promotion, turns
Decimal prices into exact integer fractions, and indexes books by currency, attribute adjustments by
(attribute, value) and promotions by SKU / product / category, so pricing a line is dict lookups.
`parse_params` and `parse_entry` are what the app calls on save to refuse bad input: they raise
`RuleError` naming the wrong field.

Every order here is by codes and priorities, never by the order the inputs arrive in.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from .types import (
    CROSS_LINE_KINDS,
    DECIMAL_CONTEXT,
    LINE_KINDS,
    ORDER_KINDS,
    PROMOTION_KINDS,
    AttributeAdjustment,
    MarginPolicy,
    PriceBook,
    PriceEntry,
    Promotion,
    Scope,
    SkuFacts,
)

__all__ = [
    "DECIMAL_CONTEXT",
    "AmountParams",
    "BundleItem",
    "BundleParams",
    "BuyNGetMParams",
    "CompiledCatalog",
    "CouponParams",
    "FreeAccessoryParams",
    "GiftParams",
    "GroupPriceParams",
    "NthItemParams",
    "PercentParams",
    "PriceParams",
    "QuantityDiscountParams",
    "RuleError",
    "SpendPercentParams",
    "SpendSaveParams",
    "SpendTier",
    "TieredSpendParams",
    "compile_catalog",
    "parse_adjustment",
    "parse_entry",
    "parse_params",
    "validate_promotion",
]

Fraction = tuple[int, int]  # (numerator, denominator > 0), exact

_FOUR_PLACES = Decimal("0.0001")


class RuleError(ValueError):
    """A price entry or promotion is invalid: `code` (required, invalid_number, positive, …), the
    `field` that is wrong (dotted for nested params: "tiers.1.threshold") and a message key the app
    renders in the user's language."""

    def __init__(self, code: str, field: str, message_key: str | None = None) -> None:
        self.code = code
        self.field = field
        self.message_key = message_key or f"pricing.rule.{code}"
        super().__init__(f"{field}: {code}")


# --- typed promotion params ------------------------------------------------------------------------
# Money params are in currency units (Decimal, tax-inclusive), percentages in percent (15 = 15 %).


@dataclass(frozen=True, slots=True)
class PercentParams:  # percent_off
    percent: Decimal


@dataclass(frozen=True, slots=True)
class AmountParams:  # amount_off: per unit
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PriceParams:  # fixed_price, flash_price: promotional unit price
    price: Decimal


@dataclass(frozen=True, slots=True)
class GroupPriceParams:  # exactly one of price / percent
    price: Decimal | None
    percent: Decimal | None


@dataclass(frozen=True, slots=True)
class QuantityDiscountParams:
    min_quantity: Decimal
    percent: Decimal


@dataclass(frozen=True, slots=True)
class BuyNGetMParams:
    n: int
    m: int


@dataclass(frozen=True, slots=True)
class NthItemParams:
    n: int
    percent: Decimal


@dataclass(frozen=True, slots=True)
class GiftParams:
    min_quantity: Decimal
    gift_sku: str
    gift_quantity: Decimal
    repeat: bool


@dataclass(frozen=True, slots=True)
class FreeAccessoryParams:
    accessory_sku: str
    quantity_per_unit: Decimal


@dataclass(frozen=True, slots=True)
class BundleItem:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class BundleParams:
    items: tuple[BundleItem, ...]  # sorted by SKU
    price: Decimal  # one bundle


@dataclass(frozen=True, slots=True)
class SpendSaveParams:
    threshold: Decimal
    amount: Decimal
    repeat: bool


@dataclass(frozen=True, slots=True)
class SpendPercentParams:
    threshold: Decimal
    percent: Decimal


@dataclass(frozen=True, slots=True)
class SpendTier:
    threshold: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class TieredSpendParams:
    tiers: tuple[SpendTier, ...]  # ascending thresholds


@dataclass(frozen=True, slots=True)
class CouponParams:  # exactly one of amount / percent
    amount: Decimal | None
    percent: Decimal | None
    threshold: Decimal


TypedParams = (PercentParams | AmountParams | PriceParams | GroupPriceParams | QuantityDiscountParams
               | BuyNGetMParams | NthItemParams | GiftParams | FreeAccessoryParams | BundleParams
               | SpendSaveParams | SpendPercentParams | TieredSpendParams | CouponParams)


def _number(value: object, name: str) -> Decimal:
    """A finite Decimal from Decimal, int, str or (JSON) float — never a bool."""
    if isinstance(value, bool) or value is None:
        raise RuleError("invalid_number", name)
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        value = value.strip()
    try:
        number = Decimal(value)  # type: ignore[arg-type]
    except (ArithmeticError, TypeError, ValueError):
        raise RuleError("invalid_number", name) from None
    if not number.is_finite():
        raise RuleError("invalid_number", name)
    return number


def _positive(value: object, name: str) -> Decimal:
    number = _number(value, name)
    if number <= 0:
        raise RuleError("positive", name)
    return number


def _non_negative(value: object, name: str) -> Decimal:
    number = _number(value, name)
    if number < 0:
        raise RuleError("non_negative", name)
    return number


def _percent(value: object, name: str) -> Decimal:
    number = _number(value, name)
    if not 0 < number <= 100:
        raise RuleError("percent_range", name)
    return number


def _integer(value: object, name: str, minimum: int) -> int:
    number = _number(value, name)
    if number != number.to_integral_value():
        raise RuleError("integer", name)
    if number < minimum:
        raise RuleError("positive" if minimum == 1 else "minimum", name)
    return int(number)


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError("required", name)
    return value.strip()


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise RuleError("invalid_boolean", name)
    return value


_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # kind → (required, optional)
    "percent_off": (frozenset({"percent"}), frozenset()),
    "amount_off": (frozenset({"amount"}), frozenset()),
    "fixed_price": (frozenset({"price"}), frozenset()),
    "flash_price": (frozenset({"price"}), frozenset()),
    "group_price": (frozenset(), frozenset({"price", "percent"})),
    "quantity_discount": (frozenset({"min_quantity", "percent"}), frozenset()),
    "buy_n_get_m": (frozenset({"n", "m"}), frozenset()),
    "nth_item": (frozenset({"n", "percent"}), frozenset()),
    "gift": (frozenset({"min_quantity", "gift_sku"}), frozenset({"gift_quantity", "repeat"})),
    "free_accessory": (frozenset({"accessory_sku"}), frozenset({"quantity_per_unit"})),
    "bundle": (frozenset({"items", "price"}), frozenset()),
    "spend_save": (frozenset({"threshold", "amount"}), frozenset({"repeat"})),
    "spend_percent": (frozenset({"threshold", "percent"}), frozenset()),
    "tiered_spend": (frozenset({"tiers"}), frozenset()),
    "coupon": (frozenset(), frozenset({"amount", "percent", "threshold"})),
}


def _one_of(params: Mapping[str, Any], first: str, second: str) -> tuple[str, str | None]:
    given = [name for name in (first, second) if params.get(name) not in (None, "")]
    if len(given) != 1:
        raise RuleError("one_of", first if not given else second)
    return given[0], None


def parse_params(kind: str, params: Mapping[str, Any]) -> TypedParams:
    """The typed params of a promotion of `kind`; `RuleError` names the first wrong field."""
    if kind not in _FIELDS:
        raise RuleError("unknown_kind", "kind")
    if not isinstance(params, Mapping):
        raise RuleError("invalid", "params")
    required, optional = _FIELDS[kind]
    for name in sorted(params):
        if name not in required and name not in optional:
            raise RuleError("unknown_field", str(name))
    for name in sorted(required):
        if params.get(name) in (None, ""):
            raise RuleError("required", name)
    get = params.get
    if kind == "percent_off":
        return PercentParams(_percent(get("percent"), "percent"))
    if kind == "amount_off":
        return AmountParams(_positive(get("amount"), "amount"))
    if kind in ("fixed_price", "flash_price"):
        return PriceParams(_non_negative(get("price"), "price"))
    if kind == "group_price":
        chosen, _ = _one_of(params, "price", "percent")
        if chosen == "price":
            return GroupPriceParams(_non_negative(get("price"), "price"), None)
        return GroupPriceParams(None, _percent(get("percent"), "percent"))
    if kind == "quantity_discount":
        return QuantityDiscountParams(_positive(get("min_quantity"), "min_quantity"),
                                      _percent(get("percent"), "percent"))
    if kind == "buy_n_get_m":
        return BuyNGetMParams(_integer(get("n"), "n", 1), _integer(get("m"), "m", 1))
    if kind == "nth_item":
        return NthItemParams(_integer(get("n"), "n", 2), _percent(get("percent"), "percent"))
    if kind == "gift":
        return GiftParams(_positive(get("min_quantity"), "min_quantity"), _text(get("gift_sku"), "gift_sku"),
                          _positive(get("gift_quantity", 1), "gift_quantity"), _flag(get("repeat", False), "repeat"))
    if kind == "free_accessory":
        return FreeAccessoryParams(_text(get("accessory_sku"), "accessory_sku"),
                                   _positive(get("quantity_per_unit", 1), "quantity_per_unit"))
    if kind == "bundle":
        return _bundle(params)
    if kind == "spend_save":
        return SpendSaveParams(_positive(get("threshold"), "threshold"), _positive(get("amount"), "amount"),
                               _flag(get("repeat", False), "repeat"))
    if kind == "spend_percent":
        return SpendPercentParams(_positive(get("threshold"), "threshold"), _percent(get("percent"), "percent"))
    if kind == "tiered_spend":
        return _tiered_spend(params)
    # coupon
    chosen, _ = _one_of(params, "amount", "percent")
    threshold = _non_negative(get("threshold") if get("threshold") not in (None, "") else 0, "threshold")
    if chosen == "amount":
        return CouponParams(_positive(get("amount"), "amount"), None, threshold)
    return CouponParams(None, _percent(get("percent"), "percent"), threshold)


def _bundle(params: Mapping[str, Any]) -> BundleParams:
    raw = params["items"]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise RuleError("required", "items")
    items: dict[str, BundleItem] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise RuleError("invalid", f"items.{index}")
        for name in sorted(item):
            if name not in ("sku", "quantity"):
                raise RuleError("unknown_field", f"items.{index}.{name}")
        sku = _text(item.get("sku"), f"items.{index}.sku")
        if sku in items:
            raise RuleError("duplicate", f"items.{index}.sku")
        items[sku] = BundleItem(sku, _integer(item.get("quantity", 1), f"items.{index}.quantity", 1))
    if sum(item.quantity for item in items.values()) < 2:
        raise RuleError("bundle_too_small", "items")
    return BundleParams(tuple(items[sku] for sku in sorted(items)), _non_negative(params["price"], "price"))


def _tiered_spend(params: Mapping[str, Any]) -> TieredSpendParams:
    raw = params["tiers"]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise RuleError("required", "tiers")
    tiers: list[SpendTier] = []
    for index, tier in enumerate(raw):
        if not isinstance(tier, Mapping):
            raise RuleError("invalid", f"tiers.{index}")
        for name in sorted(tier):
            if name not in ("threshold", "amount"):
                raise RuleError("unknown_field", f"tiers.{index}.{name}")
        threshold = _positive(tier.get("threshold"), f"tiers.{index}.threshold")
        amount = _positive(tier.get("amount"), f"tiers.{index}.amount")
        if tiers and threshold <= tiers[-1].threshold:
            raise RuleError("not_ascending", f"tiers.{index}.threshold")
        if amount > threshold:
            raise RuleError("amount_above_threshold", f"tiers.{index}.amount")
        tiers.append(SpendTier(threshold, amount))
    return TieredSpendParams(tuple(tiers))


def validate_promotion(promotion: Promotion) -> TypedParams:
    """`parse_params` plus the rules that involve other fields of the promotion."""
    if promotion.kind not in PROMOTION_KINDS:
        raise RuleError("unknown_kind", "kind")
    if not promotion.code:
        raise RuleError("required", "code")
    typed = parse_params(promotion.kind, promotion.params)
    if promotion.valid_from and promotion.valid_to and promotion.valid_to < promotion.valid_from:
        raise RuleError("validity_order", "valid_to")
    if promotion.kind == "flash_price" and (promotion.valid_from is None or promotion.valid_to is None):
        raise RuleError("validity_required", "valid_to" if promotion.valid_from else "valid_from")
    if promotion.kind == "group_price" and not promotion.customers.groups:
        raise RuleError("groups_required", "groups")
    return typed


def parse_entry(entry: PriceEntry) -> None:
    """Refuse an inconsistent price entry (`RuleError` with the field)."""
    if not entry.sku:
        raise RuleError("required", "sku")
    if entry.method not in ("fixed", "block", "cost_plus", "percent_of_total"):
        raise RuleError("invalid_choice", "method")
    if entry.tier_mode not in ("none", "volume", "graduated"):
        raise RuleError("invalid_choice", "tier_mode")
    if entry.unit_price < 0:
        raise RuleError("non_negative", "unit_price")
    if entry.floor_price is not None and entry.floor_price < 0:
        raise RuleError("non_negative", "floor_price")
    if entry.method == "block":
        if entry.block_size is None:
            raise RuleError("required", "block_size")
        if entry.block_size <= 0:
            raise RuleError("positive", "block_size")
    if entry.method == "cost_plus":
        if entry.markup_percent is None:
            raise RuleError("required", "markup_percent")
        if entry.markup_percent <= -100:
            raise RuleError("markup_range", "markup_percent")
    if entry.method == "percent_of_total":
        if entry.percent is None:
            raise RuleError("required", "percent")
        if entry.percent <= 0:
            raise RuleError("positive", "percent")
        if not entry.percent_of:
            raise RuleError("required", "percent_of")
    if entry.tier_mode != "none":
        if entry.method != "fixed":
            raise RuleError("tiers_need_fixed", "tier_mode")
        if not entry.tiers:
            raise RuleError("required", "tiers")
    elif entry.tiers:
        raise RuleError("tiers_without_mode", "tier_mode")
    previous: Decimal | None = None
    for index, tier in enumerate(entry.tiers):
        if tier.min_quantity < 0:
            raise RuleError("non_negative", f"tiers.{index}.min_quantity")
        if index == 0 and tier.min_quantity > 1:
            raise RuleError("first_tier_start", "tiers.0.min_quantity")
        if previous is not None and tier.min_quantity <= previous:
            raise RuleError("not_ascending", f"tiers.{index}.min_quantity")
        if tier.unit_price < 0:
            raise RuleError("non_negative", f"tiers.{index}.unit_price")
        if tier.flat_fee < 0:
            raise RuleError("non_negative", f"tiers.{index}.flat_fee")
        previous = tier.min_quantity


def parse_adjustment(adjustment: AttributeAdjustment) -> None:
    if not adjustment.attribute:
        raise RuleError("required", "attribute")
    if not adjustment.value:
        raise RuleError("required", "value")
    if (adjustment.amount is None) == (adjustment.percent is None):
        raise RuleError("one_of", "amount")
    if adjustment.percent is not None and adjustment.percent <= -100:
        raise RuleError("percent_range", "percent")


# --- compiled forms --------------------------------------------------------------------------------


def fraction(value: Decimal) -> Fraction:
    numerator, denominator = value.as_integer_ratio()
    return numerator, denominator


def quantize4(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator rounded half-up to 4 places."""
    return DECIMAL_CONTEXT.multiply(Decimal(round_half_up(numerator * 10_000, denominator)), _FOUR_PLACES)


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0) rounded half away from zero, exactly."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


@dataclass(frozen=True, slots=True, eq=False)
class CompiledTier:
    start: Fraction  # units numbered above `start` belong to this tier (graduated), min_quantity − 1 ≥ 0
    min_quantity: Fraction
    price: Fraction
    fee: Fraction
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class CompiledEntry:
    book: str
    sku: str
    method: str
    tier_mode: str
    price: Fraction  # fixed: unit; block: per block
    nominal: Fraction | None  # the plain unit price (fixed/tiered/block); None: depends on cost or other lines
    block_size: Fraction | None
    markup: Fraction | None  # 1 + markup/100
    percent: Fraction | None  # percent_of_total as a factor (15 % → 15/100)
    percent_categories: frozenset[str]
    percent_types: frozenset[str]
    tiers: tuple[CompiledTier, ...]
    floor: Fraction | None
    floor_price: Decimal | None
    step_params: Mapping[str, Any]
    list_price: Decimal | None  # the nominal unit price to 4 places, when it is known without the line


@dataclass(frozen=True, slots=True, eq=False)
class CompiledAdjustment:
    code: str
    attribute: str
    value: str
    amount: Fraction | None
    percent: Fraction | None  # factor
    products: frozenset[str]
    categories: frozenset[str]
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class CompiledBook:
    code: str
    name: str
    currency: str
    priority: int
    is_base: bool
    specificity: int  # 0 account, 1 group, 2 department, 3 region, 4 open
    book: PriceBook
    entries: Mapping[str, CompiledEntry]
    adjustments: Mapping[tuple[str, str], tuple[CompiledAdjustment, ...]]
    step_params: Mapping[str, Any]  # of its price_book steps


PHASE_LINE, PHASE_CROSS, PHASE_ORDER = 0, 1, 2


@dataclass(frozen=True, slots=True, eq=False)
class CompiledPromotion:
    rank: int  # position in (phase, -priority, code) order
    code: str
    kind: str
    phase: int
    promotion: Promotion
    params: TypedParams
    group: str  # the stacking group ("" → its own: "\x00" + code)
    exclusive: bool
    needs_coupon: bool
    step_params: Mapping[str, Any]
    message: str
    numbers: Mapping[str, Fraction]  # every Decimal param as an exact fraction
    min_quantity: Decimal | None  # quantity_discount and gift: the line quantity needed


def _specificity(scope: Scope) -> int:
    if scope.accounts:
        return 0
    if scope.groups:
        return 1
    if scope.departments:
        return 2
    if scope.regions:
        return 3
    return 4


def _compile_entry(book: str, entry: PriceEntry) -> CompiledEntry:
    parse_entry(entry)
    tiers: list[CompiledTier] = []
    for tier in entry.tiers:
        start = max(tier.min_quantity - 1, Decimal(0))
        tiers.append(CompiledTier(fraction(start), fraction(tier.min_quantity), fraction(tier.unit_price),
                                  fraction(tier.flat_fee),
                                  {"mode": entry.tier_mode, "min_quantity": str(tier.min_quantity),
                                   "unit_price": str(tier.unit_price), "flat_fee": str(tier.flat_fee)}))
    nominal: Fraction | None = None
    step_params: dict[str, Any] = {}
    if entry.method == "fixed":
        nominal = tiers[0].price if tiers else fraction(entry.unit_price)
    elif entry.method == "block":
        assert entry.block_size is not None
        nominal = _divide(fraction(entry.unit_price), fraction(entry.block_size))
        step_params = {"block_size": str(entry.block_size), "block_price": str(entry.unit_price)}
    elif entry.method == "cost_plus":
        step_params = {"markup_percent": str(entry.markup_percent)}
    else:
        step_params = {"percent": str(entry.percent), "percent_of": sorted(entry.percent_of)}
    markup = None
    if entry.markup_percent is not None and entry.method == "cost_plus":
        markup = fraction(1 + entry.markup_percent / 100)
    percent = fraction(entry.percent / 100) if entry.percent is not None and entry.method == "percent_of_total" \
        else None
    return CompiledEntry(
        book=book, sku=entry.sku, method=entry.method, tier_mode=entry.tier_mode, price=fraction(entry.unit_price),
        nominal=nominal, block_size=fraction(entry.block_size) if entry.block_size is not None else None,
        markup=markup, percent=percent,
        percent_categories=frozenset(code for code in entry.percent_of if not code.startswith("type:")),
        percent_types=frozenset(code[5:] for code in entry.percent_of if code.startswith("type:")),
        tiers=tuple(tiers), floor=fraction(entry.floor_price) if entry.floor_price is not None else None,
        floor_price=entry.floor_price, step_params=step_params,
        list_price=quantize4(*nominal) if nominal is not None else None)


def _divide(left: Fraction, right: Fraction) -> Fraction:
    return left[0] * right[1], left[1] * right[0]


def _adjustment_key(adjustment: AttributeAdjustment) -> tuple[Any, ...]:
    return (adjustment.attribute, adjustment.value, adjustment.code, sorted(adjustment.products),
            sorted(adjustment.categories), str(adjustment.amount), str(adjustment.percent))


def _compile_book(book: PriceBook) -> CompiledBook:
    if not book.code:
        raise RuleError("required", "code")
    entries: dict[str, CompiledEntry] = {}
    for sku in sorted(book.entries):
        try:
            entries[sku] = _compile_entry(book.code, book.entries[sku])
        except RuleError as error:
            raise RuleError(error.code, f"{book.code}.entries.{sku}.{error.field}", error.message_key) from None
    by_value: dict[tuple[str, str], list[CompiledAdjustment]] = {}
    for adjustment in sorted(book.adjustments, key=_adjustment_key):
        parse_adjustment(adjustment)
        code = adjustment.code or f"{book.code}:{adjustment.attribute}={adjustment.value}"
        params: dict[str, Any] = {"attribute": adjustment.attribute, "value": adjustment.value}
        if adjustment.amount is not None:
            params["amount"] = str(adjustment.amount)
        if adjustment.percent is not None:
            params["percent"] = str(adjustment.percent)
        by_value.setdefault((adjustment.attribute, adjustment.value), []).append(CompiledAdjustment(
            code=code, attribute=adjustment.attribute, value=adjustment.value,
            amount=fraction(adjustment.amount) if adjustment.amount is not None else None,
            percent=fraction(adjustment.percent / 100) if adjustment.percent is not None else None,
            products=adjustment.products, categories=adjustment.categories, params=params))
    return CompiledBook(code=book.code, name=book.name, currency=book.currency, priority=book.priority,
                        is_base=book.is_base, specificity=_specificity(book.scope), book=book, entries=entries,
                        adjustments={key: tuple(value) for key, value in by_value.items()},
                        step_params={"book": book.code, "name": book.name})


def _numbers(params: TypedParams) -> dict[str, Fraction]:
    numbers: dict[str, Fraction] = {}
    for item in fields(params):
        value = getattr(params, item.name)
        if isinstance(value, Decimal):
            numbers[item.name] = fraction(value)
    return numbers


def _phase(kind: str) -> int:
    if kind in LINE_KINDS:
        return PHASE_LINE
    if kind in CROSS_LINE_KINDS:
        return PHASE_CROSS
    assert kind in ORDER_KINDS
    return PHASE_ORDER


@dataclass(frozen=True, slots=True)
class Candidates:
    line: tuple[int, ...]
    every: frozenset[int]


@dataclass(frozen=True, slots=True, eq=False)
class SkuInfo:
    """A SKU's facts in the forms the engine uses per line (built on first use, then memoised)."""

    facts: SkuFacts
    cost: Fraction
    tax: Fraction
    line_promotions: tuple[int, ...]  # ranks of the line-phase candidates, ascending
    promotions: frozenset[int]  # ranks of every candidate promotion
    attributes: tuple[tuple[str, str], ...]  # the SKU's own attribute values, sorted


@dataclass(frozen=True, eq=False)
class CompiledCatalog:
    """Everything the engine needs, indexed once per rules version. Immutable after compile except
    for `_candidates`, a memo of each SKU's candidate promotions (pure function of the SKU)."""

    version: int | str
    skus: Mapping[str, SkuFacts]
    books: tuple[CompiledBook, ...]  # every book, in considered order per currency (currency, rank)
    books_by_currency: Mapping[str, tuple[CompiledBook, ...]]  # non-base, selection order
    base_by_currency: Mapping[str, CompiledBook]
    book_by_code: Mapping[str, CompiledBook]
    promotions: tuple[CompiledPromotion, ...]  # by rank
    promotion_by_code: Mapping[str, CompiledPromotion]
    index_sku: Mapping[str, tuple[int, ...]]
    index_product: Mapping[str, tuple[int, ...]]
    index_category: Mapping[str, tuple[int, ...]]
    all_lines: tuple[int, ...]
    policy: MarginPolicy
    _candidates: dict[str, Candidates] = field(default_factory=dict, repr=False)
    _info: dict[str, SkuInfo] = field(default_factory=dict, repr=False)
    _plans: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict, repr=False)

    def plans(self, books: tuple[str, ...]) -> dict[str, Any]:
        """The engine's memo of per-SKU pricing plans for one selection of books (by code)."""
        found = self._plans.get(books)
        if found is None:
            found = self._plans.setdefault(books, {})
        return found

    def sku_info(self, code: str) -> SkuInfo | None:
        found = self._info.get(code)
        if found is None:
            facts = self.skus.get(code)
            if facts is None:
                return None
            candidates = self.candidates(facts)
            found = SkuInfo(facts, fraction(facts.unit_cost), fraction(facts.tax_rate), candidates.line,
                            candidates.every, tuple(sorted(facts.attributes.items())))
            self._info[code] = found
        return found

    def candidates(self, sku: SkuFacts) -> Candidates:
        """The promotions whose line eligibility the SKU meets: ranks of the line phase (ascending) and
        the set of all ranks (every phase)."""
        found = self._candidates.get(sku.code)
        if found is None:
            ranks = set(self.all_lines)
            ranks.update(self.index_sku.get(sku.code, ()))
            ranks.update(self.index_product.get(sku.product_code, ()))
            for category in sku.category_path:
                ranks.update(self.index_category.get(category, ()))
            ordered = sorted(ranks)
            found = Candidates(tuple(rank for rank in ordered if self.promotions[rank].phase == PHASE_LINE),
                               frozenset(ordered))
            self._candidates[sku.code] = found
        return found


def compile_catalog(*, version: int | str, skus: Iterable[SkuFacts], books: Iterable[PriceBook],
                    promotions: Iterable[Promotion], policy: MarginPolicy) -> CompiledCatalog:
    """Validate and index the active rules (`RuleError` on the first invalid one)."""
    with decimal.localcontext(DECIMAL_CONTEXT):
        return _compile_catalog(version, skus, books, promotions, policy)


def _compile_catalog(version: int | str, skus: Iterable[SkuFacts], books: Iterable[PriceBook],
                     promotions: Iterable[Promotion], policy: MarginPolicy) -> CompiledCatalog:
    sku_map: dict[str, SkuFacts] = {}
    for sku in sorted(skus, key=lambda facts: facts.code):
        if sku.code in sku_map:
            raise RuleError("duplicate", f"skus.{sku.code}")
        sku_map[sku.code] = sku
    compiled_books: dict[str, CompiledBook] = {}
    for book in sorted(books, key=lambda item: item.code):
        if book.code in compiled_books:
            raise RuleError("duplicate", f"books.{book.code}")
        compiled_books[book.code] = _compile_book(book)
    by_currency: dict[str, list[CompiledBook]] = {}
    base: dict[str, CompiledBook] = {}
    for candidate in compiled_books.values():
        if candidate.is_base:
            current = base.get(candidate.currency)
            if current is None or (-candidate.priority, candidate.code) < (-current.priority, current.code):
                base[candidate.currency] = candidate
    for candidate in compiled_books.values():
        if base.get(candidate.currency) is not candidate:
            by_currency.setdefault(candidate.currency, []).append(candidate)
    ordered: dict[str, tuple[CompiledBook, ...]] = {}
    for currency, items in by_currency.items():
        ordered[currency] = tuple(sorted(items, key=lambda item: (-item.priority, item.specificity, item.code)))
    all_books: list[CompiledBook] = []
    for currency in sorted(set(ordered) | set(base)):
        all_books.extend(ordered.get(currency, ()))
        if currency in base:
            all_books.append(base[currency])

    seen: dict[str, Promotion] = {}
    typed: dict[str, TypedParams] = {}
    for promotion in promotions:
        if promotion.code in seen:
            raise RuleError("duplicate", f"promotions.{promotion.code}")
        try:
            typed[promotion.code] = validate_promotion(promotion)
        except RuleError as error:
            raise RuleError(error.code, f"{promotion.code}.{error.field}", error.message_key) from None
        seen[promotion.code] = promotion
    order = sorted(seen.values(), key=lambda item: (_phase(item.kind), -item.priority, item.code))
    compiled: list[CompiledPromotion] = []
    index_sku: dict[str, list[int]] = {}
    index_product: dict[str, list[int]] = {}
    index_category: dict[str, list[int]] = {}
    all_lines: list[int] = []
    for rank, promotion in enumerate(order):
        params = typed[promotion.code]
        compiled.append(CompiledPromotion(
            rank=rank, code=promotion.code, kind=promotion.kind, phase=_phase(promotion.kind), promotion=promotion,
            params=params, group=promotion.stacking_group or "\x00" + promotion.code, exclusive=promotion.exclusive,
            needs_coupon=promotion.requires_coupon or promotion.kind == "coupon",
            step_params={"kind": promotion.kind, "name": promotion.name},
            message=f"pricing.step.promotion.{promotion.kind}", numbers=_numbers(params),
            min_quantity=params.min_quantity if isinstance(params, (QuantityDiscountParams, GiftParams)) else None))
        if isinstance(params, BundleParams):
            # A bundle's lines are its items (narrowed by the eligibility, checked when pricing).
            for item in params.items:
                index_sku.setdefault(item.sku, []).append(rank)
            continue
        if not (promotion.skus or promotion.products or promotion.categories):
            all_lines.append(rank)
            continue
        for code in promotion.skus:
            index_sku.setdefault(code, []).append(rank)
        for code in promotion.products:
            index_product.setdefault(code, []).append(rank)
        for code in promotion.categories:
            index_category.setdefault(code, []).append(rank)

    return CompiledCatalog(
        version=version, skus=sku_map, books=tuple(all_books), books_by_currency=ordered, base_by_currency=base,
        book_by_code=compiled_books, promotions=tuple(compiled),
        promotion_by_code={promotion.code: promotion for promotion in compiled},
        index_sku={key: tuple(value) for key, value in index_sku.items()},
        index_product={key: tuple(value) for key, value in index_product.items()},
        index_category={key: tuple(value) for key, value in index_category.items()},
        all_lines=tuple(all_lines), policy=policy)
