"""Input and output types of the pricing engine (ADR 0006).

Inputs are frozen dataclasses built by the app's mappers (rows → facts) once per rules version.
Outputs are slotted, mutable-free-by-convention dataclasses built per request; the engine is the only
writer. Amounts are integer minor units (fen for CNY) unless a field says "unit" (a Decimal price).
Rules, promotions and books are referred to by their **codes**, never by database ids, so shuffling
the order in which rules were created changes nothing.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

# Every Decimal operation of the engine runs in this context (50 digits: exact for any realistic
# amount), never in the caller's thread-local one; traps turn silent NaN or infinity into errors.
DECIMAL_CONTEXT = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
                                  traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])
_FOUR_PLACES = Decimal("0.0001")
_TWO_PLACES = Decimal("0.01")
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})

# --- Customer context and scope --------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerContext:
    """Who buys: the account (None for an anonymous preview), its groups and region, and the selling
    channel (the department of the seller and every department above it)."""

    account_id: int | None = None
    groups: frozenset[str] = frozenset()  # "level:key", "tag:<name>"
    region: str = ""  # "province" or "province/city"
    department_ids: frozenset[int] = frozenset()  # the seller's department and its ancestors


@dataclass(frozen=True)
class Scope:
    """A sellable scope / eligibility on the customer side; an empty dimension means "any".

    Every given dimension must match: the account is listed; the customer has one of the groups; the
    customer's region equals or lies under one of the regions ("广东" covers "广东/深圳"); the
    selling channel includes one of the departments (sub-departments are covered because the
    context carries the seller's department *and its ancestors*).
    """

    accounts: frozenset[int] = frozenset()
    groups: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    departments: frozenset[int] = frozenset()


# --- Catalogue facts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkuFacts:
    code: str
    product_code: str
    category_path: tuple[str, ...]  # category codes, root first, the product's own category last
    product_type: str  # goods / service / subscription / usage / project
    tax_rate: Decimal  # 0.13, 0.09, 0.06, 0.03, 0
    unit_cost: Decimal  # tax-exclusive cost per unit; a configured BOM passes its rolled-up cost per line
    name: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)  # the SKU's own attribute values
    cost_currency: str = "CNY"  # the currency of unit_cost: a quote in another one cannot guard its margin


# --- Price books -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    min_quantity: Decimal
    unit_price: Decimal
    flat_fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class PriceEntry:
    sku: str
    method: str = "fixed"  # fixed / block / cost_plus / percent_of_total
    unit_price: Decimal = Decimal(0)  # fixed: per unit; block: per block
    block_size: Decimal | None = None
    markup_percent: Decimal | None = None  # cost_plus
    percent: Decimal | None = None  # percent_of_total
    percent_of: frozenset[str] = frozenset()  # category codes and/or product types ("type:goods")
    tier_mode: str = "none"  # none / volume / graduated
    tiers: tuple[Tier, ...] = ()  # sorted by min_quantity
    floor_price: Decimal | None = None  # per unit, tax-inclusive


@dataclass(frozen=True)
class AttributeAdjustment:
    attribute: str
    value: str
    amount: Decimal | None = None  # per unit, + or −
    percent: Decimal | None = None  # of the book price, + or −
    products: frozenset[str] = frozenset()  # product codes; empty = any
    categories: frozenset[str] = frozenset()  # category codes (any level); empty = any
    code: str = ""  # a stable name for the step's `rule` ("<book>:<attribute>=<value>")


@dataclass(frozen=True)
class PriceBook:
    code: str
    name: str
    currency: str
    priority: int = 0
    is_base: bool = False
    valid_from: date | None = None
    valid_to: date | None = None
    scope: Scope = Scope()
    entries: Mapping[str, PriceEntry] = field(default_factory=dict)  # by SKU code
    adjustments: tuple[AttributeAdjustment, ...] = ()


# --- Promotions ------------------------------------------------------------------------------------

LINE_KINDS = ("percent_off", "amount_off", "fixed_price", "flash_price", "group_price",
              "quantity_discount", "buy_n_get_m", "nth_item", "gift")
CROSS_LINE_KINDS = ("free_accessory", "bundle")
ORDER_KINDS = ("spend_save", "spend_percent", "tiered_spend", "coupon")
PROMOTION_KINDS = LINE_KINDS + CROSS_LINE_KINDS + ORDER_KINDS


@dataclass(frozen=True)
class Promotion:
    code: str
    name: str
    kind: str
    params: Mapping[str, Any]
    priority: int = 0
    stacking_group: str = ""  # empty = a group of its own
    exclusive: bool = False
    requires_coupon: bool = False
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    customers: Scope = Scope()
    skus: frozenset[str] = frozenset()  # line eligibility; all three empty = every line
    products: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Quota:
    """What is left of a promotion's limits right now (read live per request, not compiled)."""

    remaining_uses: int | None = None  # None = unlimited
    remaining_budget: int | None = None  # minor units; None = unlimited


@dataclass(frozen=True)
class Coupon:
    code: str  # upper-case
    promotion: str  # promotion code
    remaining_uses: int | None = None
    customer_remaining: int | None = None  # for the request's account; None = unlimited


# --- Margin policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarginThreshold:
    min_margin_percent: Decimal  # a margin below this needs `level`
    level: int
    name: str = ""


@dataclass(frozen=True)
class MarginPolicy:
    below_cost: str = "approval"  # block / approval
    below_cost_level: int = 2
    below_floor: str = "approval"  # block / approval
    below_floor_level: int = 1
    thresholds: tuple[MarginThreshold, ...] = ()


# --- Request ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    key: str  # stable within the request (quote line id, or "1", "2", …)
    sku: str
    quantity: Decimal
    attributes: Mapping[str, str] = field(default_factory=dict)  # chosen values; override the SKU's
    manual_discount_percent: Decimal | None = None
    unit_cost: Decimal | None = None  # overrides the SKU cost (a configured BOM's rolled-up cost)
    parent: str | None = None  # key of the configured parent line (display only)


@dataclass(frozen=True)
class PricingRequest:
    currency: str
    as_of: datetime
    lines: tuple[LineInput, ...]
    customer: CustomerContext = CustomerContext()
    price_book: str | None = None  # force a book (by code); the base book stays the fallback
    coupon_codes: tuple[str, ...] = ()  # as typed by the user
    # Live counters, read per request by the app (the compiled catalog is cached per rules version):
    coupons: tuple[Coupon, ...] = ()  # the coupons found for `coupon_codes` (unknown codes absent)
    quotas: Mapping[str, Quota] = field(default_factory=dict)  # by promotion code; absent = unlimited


# --- Output ----------------------------------------------------------------------------------------


class Step(NamedTuple):
    """One step of a line's waterfall. A named tuple: the engine makes several per line, and a tuple
    is built about three times faster than a frozen dataclass; fields and equality are the same."""

    kind: str  # list_price, price_book, tier, block, cost_plus, percent_of_total, attribute,
    #            promotion, order_promotion, manual_discount
    rule: str  # code of the source (book, promotion, adjustment); "" for list_price / manual
    message: str  # message key; the app renders it with `params` in the user's language
    amount: int  # delta of the line amount in minor units (list_price: the list amount itself)
    params: Mapping[str, Any] = _NO_PARAMS


_LAZY: Any = object()  # a LineResult margin computed on first read


class LazyUnitPrice:
    """Passed as a LineResult's `unit_price`: compute it on first read, for this currency scale."""

    __slots__ = ("scale",)

    def __init__(self, scale: int) -> None:
        self.scale = scale  # minor units per currency unit


def _unit_price(total_amount: int, quantity: Decimal, scale: int) -> Decimal:
    """total_amount (minor units) / quantity, in currency units, 4 places half-up."""
    qn, qd = quantity.as_integer_ratio()
    return DECIMAL_CONTEXT.multiply(Decimal((2 * total_amount * qd * 10_000 + qn * scale) // (2 * qn * scale)),
                                    _FOUR_PLACES)


def margin_percent(net: int, cost: int) -> Decimal | None:
    """(net − cost) / net in percent, 2 places half-up; None when net is 0."""
    if net == 0:
        return None
    numerator = (net - cost) * 10_000  # net > 0: amounts are never negative
    rounded = (2 * numerator + net) // (2 * net) if numerator >= 0 else -((-2 * numerator + net) // (2 * net))
    return DECIMAL_CONTEXT.multiply(Decimal(rounded), _TWO_PLACES)


class LineResult:
    """One priced line. `unit_price` (total ÷ quantity, 4 places) and `margin_percent` are computed
    from the integer amounts on first read (and kept): a bulk price does not build two Decimals per
    line that nobody reads. Equality, repr and the constructor are those of the former dataclass;
    the engine passes a `LazyUnitPrice` and `_LAZY` for the two."""

    __slots__ = ("_margin_percent", "_unit_price", "cost_amount", "is_gift", "key", "list_price",
                 "net_amount", "parent", "price_book", "promotions", "quantity", "sku", "steps", "tax_amount",
                 "total_amount")
    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    key: str
    sku: str
    quantity: Decimal
    list_price: Decimal  # unit, tax-inclusive
    net_amount: int  # tax-exclusive
    tax_amount: int
    total_amount: int  # tax-inclusive
    cost_amount: int
    steps: list[Step]
    price_book: str | None
    is_gift: bool
    parent: str | None
    promotions: list[str]  # codes applied to the line

    def __init__(self, key: str, sku: str, quantity: Decimal, list_price: Decimal, unit_price: Decimal | LazyUnitPrice,
                 net_amount: int, tax_amount: int, total_amount: int, cost_amount: int,
                 margin_percent: Decimal | None, steps: list[Step], price_book: str | None, is_gift: bool = False,
                 parent: str | None = None, promotions: list[str] | None = None) -> None:
        self.key = key
        self.sku = sku
        self.quantity = quantity
        self.list_price = list_price
        self._unit_price: Decimal | LazyUnitPrice = unit_price
        self.net_amount = net_amount
        self.tax_amount = tax_amount
        self.total_amount = total_amount
        self.cost_amount = cost_amount
        self._margin_percent = margin_percent
        self.steps = steps
        self.price_book = price_book
        self.is_gift = is_gift
        self.parent = parent
        self.promotions = [] if promotions is None else promotions

    @property
    def unit_price(self) -> Decimal:
        """total_amount / quantity, 4 places half-up."""
        value = self._unit_price
        if isinstance(value, LazyUnitPrice):
            value = self._unit_price = _unit_price(self.total_amount, self.quantity, value.scale)
        return value

    @unit_price.setter
    def unit_price(self, value: Decimal) -> None:
        self._unit_price = value

    @property
    def margin_percent(self) -> Decimal | None:
        """(net − cost) / net in percent, 2 places half-up; None when net_amount is 0."""
        value: Decimal | None = self._margin_percent
        if value is _LAZY:
            value = self._margin_percent = margin_percent(self.net_amount, self.cost_amount)
        return value

    @margin_percent.setter
    def margin_percent(self, value: Decimal | None) -> None:
        self._margin_percent = value

    def _values(self) -> tuple[Any, ...]:
        return (self.key, self.sku, self.quantity, self.list_price, self.unit_price, self.net_amount,
                self.tax_amount, self.total_amount, self.cost_amount, self.margin_percent, self.steps,
                self.price_book, self.is_gift, self.parent, self.promotions)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, LineResult)
        return self._values() == other._values()

    def __repr__(self) -> str:
        names = ("key", "sku", "quantity", "list_price", "unit_price", "net_amount", "tax_amount", "total_amount",
                 "cost_amount", "margin_percent", "steps", "price_book", "is_gift", "parent", "promotions")
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(names, self._values(), strict=True))
        return f"LineResult({inner})"


@dataclass(frozen=True, slots=True)
class AppliedPromotion:
    code: str
    kind: str
    discount: int  # minor units, over all lines
    lines: tuple[str, ...]
    coupon: str | None = None
    capped: bool = False  # the remaining budget cut the discount


@dataclass(frozen=True, slots=True)
class RejectedPromotion:
    code: str
    kind: str
    reason: str  # not_eligible, customer, outside_validity, coupon_required, coupon_invalid, …
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Approval:
    level: int
    code: str  # below_cost / below_floor / margin
    line: str | None  # None for the quote margin
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Violation:
    code: str  # no_price, unknown_sku, below_cost, below_floor, invalid_quantity, unknown_coupon, …
    #            (also: invalid_discount, coupon_invalid, unknown_price_book, price_book_not_applicable,
    #            cost_currency)
    line: str | None
    blocking: bool
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BookConsidered:
    code: str
    applicable: bool
    reason: str  # applicable, forced, other_currency, not_yet_valid, expired, scope_account,
    #              scope_group, scope_region, scope_department, inactive,
    #              not_forced (applicable, but another book was forced)
    priority: int


@dataclass(frozen=True, slots=True)
class Totals:
    list_amount: int
    net_amount: int
    tax_amount: int
    total_amount: int
    cost_amount: int
    discount_amount: int  # every reduction of the lines' list amounts (price books, promotions, gifts, manual)
    margin_percent: Decimal | None
    surcharge_amount: int = 0  # every increase (attribute surcharges, tier fees, books above list)


@dataclass(frozen=True, slots=True)
class PricingResult:
    currency: str
    lines: tuple[LineResult, ...]
    totals: Totals
    applied: tuple[AppliedPromotion, ...]
    rejected: tuple[RejectedPromotion, ...]
    approvals: tuple[Approval, ...]
    violations: tuple[Violation, ...]
    books: tuple[BookConsidered, ...]
