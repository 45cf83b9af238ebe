"""The pricing engine (ADR 0006, "The engine"): a cart in, every line's waterfall out.

Phases: (1) per line — book selection, list price, the book's method (tiers, block, cost-plus),
attribute adjustments and line promotions (kinds 1–9); this depends on the line alone and is cached
by `PricingSession`. (2) cross-line — percent-of-total lines, line-promotion budgets, free
accessories and bundles; (3) order promotions (12–15); (4) manual discount, tax, cost, margin guard.
Phases 2–4 run over integers on every (re-)price.

Amounts are integer minor units; prices and rates are exact integer fractions (numerator,
denominator) built from Decimals, and every rounding is half-up at a named place, so the result is
exact and identical on every run and for every order of the inputs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, localcontext
from types import MappingProxyType
from typing import Any

from l2c.kernel.gcpause import gc_pause, gc_resume
from l2c.kernel.money import currency_exponent

from .compile import (
    PHASE_CROSS,
    PHASE_LINE,
    BundleParams,
    BuyNGetMParams,
    CompiledAdjustment,
    CompiledBook,
    CompiledCatalog,
    CompiledEntry,
    CompiledPromotion,
    CouponParams,
    Fraction,
    FreeAccessoryParams,
    GiftParams,
    NthItemParams,
    QuantityDiscountParams,
    SkuInfo,
    SpendSaveParams,
    TieredSpendParams,
    quantize4,
    round_half_up,
)
from .types import (
    _LAZY,
    _NO_PARAMS,
    DECIMAL_CONTEXT,
    AppliedPromotion,
    Approval,
    BookConsidered,
    Coupon,
    CustomerContext,
    LazyUnitPrice,
    LineInput,
    LineResult,
    MarginThreshold,
    PricingRequest,
    PricingResult,
    Promotion,
    RejectedPromotion,
    Scope,
    SkuFacts,
    Step,
    Totals,
    Violation,
    margin_percent,
)

__all__ = ["PricingSession", "allocate", "price", "scope_mismatch"]

_NO_GROUPS: Mapping[str, str] = MappingProxyType({})
_NO_SAVING: tuple[str, Mapping[str, Any]] = ("no_saving", _NO_PARAMS)
_ZERO = Decimal(0)
_ZERO_PRICE = Decimal("0.0000")
# Rejection reasons, the one closest to applying first: a line promotion rejected on several lines
# reports the best of them (ties: the first line in request order).
_REASON_RANK = {"below_threshold": 0, "no_saving": 1, "stacking_group": 2, "exclusive": 3, "not_eligible": 4}
Reason = tuple[str, Mapping[str, Any]]
# A live line promotion of a request: (promotion, rank, min_quantity, stacking group, mode, numerator, denominator).
_Live = tuple[CompiledPromotion, int, Decimal | None, str, int, int, int]


_new_tuple = tuple.__new__  # _new_tuple(Step, (kind, rule, message, amount, params)): a Step without its Python __new__


class _PricingScope:
    """Every Decimal operation of a price runs in the engine's own context, not the caller's; and the
    cyclic garbage collector is paused while a price builds its result. A price makes tens of
    thousands of small objects that all survive and hold no cycles; the collector would only rescan
    them (12–16 % of the time of a 1,000–10,000-line quote). It resumes, as it was, when the last
    concurrent pause ends (`l2c.kernel.gcpause`)."""

    __slots__ = ("_decimal",)

    def __enter__(self) -> None:
        gc_pause()
        try:
            self._decimal = localcontext(DECIMAL_CONTEXT)
            self._decimal.__enter__()
        except BaseException:
            gc_resume()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            self._decimal.__exit__(None, None, None)
        finally:
            gc_resume()


_pricing_scope = _PricingScope


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """`kernel.money.allocate_minor` for integer weights, with identical results but without its
    per-weight Decimal conversions (which dominate on thousands of lines): largest remainder, ties
    to the larger weight, then the lower index; all-zero weights split equally."""
    if total < 0:
        return [-part for part in allocate(-total, weights)]
    count = len(weights)
    if not count:
        if total:
            raise ValueError("cannot allocate a non-zero total over no weights")
        return []
    weight_sum = sum(weights)
    if weight_sum == 0:
        weights = [1] * count
        weight_sum = count
    products = [total * weight for weight in weights]
    parts = [product // weight_sum for product in products]
    leftover = total - sum(parts)
    if leftover:
        # The `leftover` largest remainders get one more unit each: every remainder above the cut (the
        # leftover-th largest), and as many of those equal to it as are still needed — the larger
        # weights first, then the lower index. (Equal to a stable sort by remainder; ints sort fast.)
        remainders = [product % weight_sum for product in products]
        if leftover <= 32:
            cut = heapq.nlargest(leftover, remainders)[-1]
        else:
            cut = sorted(remainders, reverse=True)[leftover - 1]
        tied: list[int] = []
        for index, remainder in enumerate(remainders):
            if remainder > cut:
                parts[index] += 1
                leftover -= 1
            elif remainder == cut:
                tied.append(index)
        if leftover < len(tied):
            tied.sort(key=lambda index: (-weights[index], index))
        for index in tied[:leftover]:
            parts[index] += 1
    return parts


def scope_mismatch(scope: Scope, customer: CustomerContext) -> str | None:
    """The first dimension of `scope` the customer fails (account, group, department, region), or None."""
    if scope.accounts and customer.account_id not in scope.accounts:
        return "account"
    if scope.groups and not (scope.groups & customer.groups):
        return "group"
    if scope.departments and not (scope.departments & customer.department_ids):
        return "department"
    if scope.regions:
        region = customer.region
        if not any(region == allowed or region.startswith(allowed + "/") for allowed in scope.regions):
            return "region"
    return None


def _matches(promotion: Promotion, facts: SkuFacts) -> bool:
    if not (promotion.skus or promotion.products or promotion.categories):
        return True
    return (facts.code in promotion.skus or facts.product_code in promotion.products
            or any(category in promotion.categories for category in facts.category_path))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _book_reason(book: CompiledBook, currency: str, day: date, customer: CustomerContext) -> str:
    if book.currency != currency:
        return "other_currency"
    source = book.book
    if source.valid_from is not None and day < source.valid_from:
        return "not_yet_valid"
    if source.valid_to is not None and day > source.valid_to:
        return "expired"
    dimension = scope_mismatch(source.scope, customer)
    if dimension is not None:
        return f"scope_{dimension}"
    return "applicable"


class _Context:
    """What a request fixes for every line: the currency scale, the books in selection order, each
    promotion's request-level verdict (validity, customer, coupon, quota), coupons and budgets."""

    def __init__(self, catalog: CompiledCatalog, request: PricingRequest) -> None:
        self.catalog = catalog
        self.request = request
        self.scale = 10 ** currency_exponent(request.currency)
        self.violations: list[Violation] = []
        self.base: CompiledBook | None = None
        self.books: tuple[CompiledBook, ...] = ()
        self.considered: tuple[BookConsidered, ...] = ()
        self.blocked: list[Reason | None] = []
        self.coupon: dict[int, str] = {}
        self.budget: dict[int, int] = {}
        self.plans: dict[str, Any] = {}
        self.all_lines = frozenset(catalog.all_lines)
        # What phases 2–3 need to know of phase 1: the stacking groups they use, whether any is exclusive.
        self.late_groups = frozenset(item.group for item in catalog.promotions if item.phase != PHASE_LINE)
        self.late_exclusive = any(item.exclusive for item in catalog.promotions if item.phase != PHASE_LINE)
        self._below: dict[int, Reason] = {}
        self.live: dict[tuple[int, ...], tuple[_Live, ...]] = {}
        self.below_reason: dict[int, Reason] = {}  # of the live candidates with a quantity threshold
        policy = catalog.policy
        self.thresholds: list[tuple[MarginThreshold, Fraction]] = [
            (item, item.min_margin_percent.as_integer_ratio())
            for item in sorted(policy.thresholds, key=lambda item: (item.min_margin_percent, item.level, item.name))]
        self._select_books(catalog, request)
        self._judge_promotions(catalog, request)
        # The SKUs whose lines the cross-line promotions look up (bundle items, free accessories).
        cross: set[str] = set()
        for item in catalog.promotions:
            if item.phase == PHASE_CROSS and self.blocked[item.rank] is None:
                if isinstance(item.params, BundleParams):
                    cross.update(part.sku for part in item.params.items)
                elif isinstance(item.params, FreeAccessoryParams):
                    cross.add(item.params.accessory_sku)
        self.cross_skus = frozenset(cross)

    def _select_books(self, catalog: CompiledCatalog, request: PricingRequest) -> None:
        day = request.as_of.date()
        currency = request.currency
        forced = request.price_book
        if forced is not None and forced not in catalog.book_by_code:
            self.violations.append(Violation("unknown_price_book", None, False, {"price_book": forced}))
            forced = None
        if forced is not None:
            # A book asked for by name must apply to this request itself (currency, dates, sellable
            # scope): otherwise the cart is priced as if none was named, so a contracted book still
            # wins, and the answer says why the named one could not be used — blocking, since a
            # quote on another book than the one asked for must not go out unnoticed.
            reason = _book_reason(catalog.book_by_code[forced], currency, day, request.customer)
            if reason != "applicable":
                self.violations.append(Violation("price_book_not_applicable", None, True,
                                                 {"price_book": forced, "reason": reason}))
                forced = None
        base = catalog.base_by_currency.get(currency)
        considered: list[BookConsidered] = []
        usable: list[CompiledBook] = []
        for book in catalog.books:
            reason = _book_reason(book, currency, day, request.customer)
            if reason == "applicable" and forced is not None and book is not base:
                reason = "forced" if book.code == forced else "not_forced"
            applicable = reason in ("applicable", "forced")
            considered.append(BookConsidered(book.code, applicable, reason, book.priority))
            if applicable:
                if book is base:
                    self.base = book
                else:
                    usable.append(book)
        if self.base is not None:
            usable.append(self.base)
        self.books = tuple(usable)
        self.considered = tuple(considered)
        self.plans = catalog.plans(tuple(book.code for book in usable))

    def _judge_promotions(self, catalog: CompiledCatalog, request: PricingRequest) -> None:
        as_of = request.as_of
        typed: list[str] = []
        for raw in request.coupon_codes:
            code = raw.strip().upper()
            if code and code not in typed:
                typed.append(code)
        coupons: dict[str, Coupon] = {coupon.code.upper(): coupon for coupon in request.coupons}
        for code in typed:
            coupon = coupons.get(code)
            if coupon is None:
                self.violations.append(Violation("unknown_coupon", None, False, {"code": code}))
            elif coupon.promotion not in catalog.promotion_by_code:
                self.violations.append(Violation("coupon_invalid", None, False, {"code": code}))
        by_promotion: dict[str, list[Coupon]] = {}
        for code in sorted(set(typed) & set(coupons)):
            by_promotion.setdefault(coupons[code].promotion, []).append(coupons[code])
        for promotion in catalog.promotions:
            rule = promotion.promotion
            verdict: Reason | None = None
            if (rule.valid_from is not None and as_of < rule.valid_from) or (
                    rule.valid_to is not None and as_of > rule.valid_to):
                verdict = ("outside_validity", {"valid_from": _iso(rule.valid_from), "valid_to": _iso(rule.valid_to)})
            elif (dimension := scope_mismatch(rule.customers, request.customer)) is not None:
                verdict = ("customer", {"dimension": dimension})
            elif promotion.needs_coupon:
                verdict = self._coupon_verdict(promotion, by_promotion.get(promotion.code, []))
            if verdict is None:
                quota = request.quotas.get(promotion.code)
                if quota is not None:
                    if quota.remaining_uses is not None and quota.remaining_uses <= 0:
                        verdict = ("quota_used_up", _NO_PARAMS)
                    elif quota.remaining_budget is not None:
                        if quota.remaining_budget <= 0:
                            verdict = ("budget_used_up", _NO_PARAMS)
                        else:
                            self.budget[promotion.rank] = quota.remaining_budget
            self.blocked.append(verdict)

    def live_candidates(self, ranks: tuple[int, ...]) -> tuple[_Live, ...]:
        """The line promotions among `ranks` that this request does not block, in rank order (memoised:
        SKUs of one kind share their candidate ranks), each with how the hot loop prices it: a mode
        (1 percent of the amount, 2 amount off per unit, 3 a unit price; 0 anything else) and its number."""
        promotions = self.catalog.promotions
        found: list[_Live] = []
        for rank in ranks:
            if self.blocked[rank] is not None:
                continue
            promotion = promotions[rank]
            if promotion.min_quantity is not None and rank not in self.below_reason:
                self.below_reason[rank] = self.below(promotion)
            kind = promotion.kind
            numbers = promotion.numbers
            mode, number = 0, (0, 1)
            if kind in ("percent_off", "quantity_discount") or (kind == "group_price" and "percent" in numbers):
                mode, number = 1, numbers["percent"]
            elif kind == "amount_off":
                mode, number = 2, numbers["amount"]
            elif kind in ("fixed_price", "flash_price", "group_price"):
                mode, number = 3, numbers["price"]
            found.append((promotion, rank, promotion.min_quantity, promotion.group, mode, number[0], number[1]))
        live = self.live[ranks] = tuple(found)
        return live

    def below(self, promotion: CompiledPromotion) -> Reason:
        """The (shared) below-threshold reason of a line promotion with a quantity threshold."""
        found = self._below.get(promotion.rank)
        if found is None:
            params = promotion.params
            if isinstance(params, BuyNGetMParams):
                minimum: object = params.n + params.m
            elif isinstance(params, NthItemParams):
                minimum = params.n
            else:
                assert isinstance(params, (QuantityDiscountParams, GiftParams))
                minimum = str(params.min_quantity)
            found = self._below[promotion.rank] = ("below_threshold", {"min_quantity": minimum})
        return found

    def _coupon_verdict(self, promotion: CompiledPromotion, candidates: list[Coupon]) -> Reason | None:
        if not candidates:
            return "coupon_required", _NO_PARAMS
        first_reason: Reason | None = None
        for coupon in candidates:  # sorted by code
            if coupon.remaining_uses is not None and coupon.remaining_uses <= 0:
                reason: Reason = ("coupon_used_up", {"code": coupon.code.upper()})
            elif coupon.customer_remaining is not None and coupon.customer_remaining <= 0:
                reason = ("coupon_customer_limit", {"code": coupon.code.upper()})
            else:
                self.coupon[promotion.rank] = coupon.code.upper()
                return None
            first_reason = first_reason or reason
        return first_reason


class _Gift:
    """A zero-priced line added by a promotion (gift, or a free accessory with no line to zero)."""

    __slots__ = ("book", "cost_amount", "key", "list_amount", "list_price", "parent", "promotion", "quantity",
                 "sku")

    def __init__(self, key: str, sku: str, quantity: Decimal, list_price: Decimal, list_amount: int,
                 cost_amount: int, book: str | None, parent: str, promotion: str) -> None:
        self.key = key
        self.sku = sku
        self.quantity = quantity
        self.list_price = list_price
        self.list_amount = list_amount
        self.cost_amount = cost_amount
        self.book = book
        self.parent = parent
        self.promotion = promotion


_NO_STEPS: list[Step] = []  # never mutated: a priced line gets its own list
_NO_RANKS: frozenset[int] = frozenset()


_LINE_FIELDS = ("amount", "attribute_amount", "cost_amount", "discounts", "exclusive_by", "gifts", "groups", "info",
                "line", "list_amount", "list_price", "manual", "percent", "plan", "promotions", "qd", "qn",
                "reasons", "steps", "valid", "violations")


class _Line:
    """A line after phase 1 (cached by the session): everything that depends on the line alone.
    Slotted and set in full by the constructor: a line's state is a couple of hundred bytes, not a
    growing instance dict (most of the memory a 10,000-line price used to touch)."""

    __slots__ = _LINE_FIELDS

    def __init__(self, line: LineInput) -> None:
        self.line = line
        self.valid = False
        self.percent = False  # priced in phase 2 (percent of total)
        self.info: SkuInfo | None = None
        self.plan: _Plan | None = None
        self.qn = 0
        self.qd = 1
        self.violations: tuple[Violation, ...] = ()
        self.list_price = _ZERO
        self.list_amount = 0
        self.attribute_amount = 0  # after book and attribute adjustments (the percent-of-total base)
        self.amount = 0  # after line promotions
        self.steps = _NO_STEPS
        self.groups: Mapping[str, str] = _NO_GROUPS  # stacking group → promotion code, in application order
        self.exclusive_by: str | None = None
        self.discounts: dict[int, int] | None = None  # promotion rank → discount (gift: list value of the gifts)
        self.reasons: dict[int, Reason] | None = None
        self.gifts: tuple[_Gift, ...] = ()
        self.cost_amount = 0
        self.manual: Fraction | None = None
        self.promotions = _NO_RANKS

    def copy(self) -> _Line:
        clone = _Line(self.line)
        for name in _LINE_FIELDS:
            setattr(clone, name, getattr(self, name))
        return clone


# --- phase 1 ---------------------------------------------------------------------------------------


class _Plan:
    """How one SKU is priced under one selection of books: its facts, the book and entry that price it,
    the list entry, its candidate line promotions and the attribute adjustments of its own values.
    It depends on the selected books only, so it is memoised on the catalog per selection (requests
    of the same customer class share it) — the compiled rules never change after compile."""

    __slots__ = ("adjustments", "book", "book_code", "entry", "floor", "floor_text", "info", "list_entry", "percent",
                 "plain", "ranks", "tax")

    def __init__(self, info: SkuInfo, book: CompiledBook, entry: CompiledEntry, list_entry: CompiledEntry) -> None:
        self.info = info
        self.tax = info.tax
        self.book = book
        self.book_code = book.code
        self.entry = entry
        self.floor = entry.floor
        self.floor_text = str(entry.floor_price)
        self.list_entry = list_entry
        self.percent = entry.method == "percent_of_total" or list_entry.method == "percent_of_total"
        # a plain price: fixed, no tiers, listed by the book that prices it
        self.plain = entry is list_entry and entry.method == "fixed" and entry.tier_mode == "none"
        self.ranks = info.line_promotions
        self.adjustments = _adjustments(book, info, info.attributes)


def _adjustments(book: CompiledBook, info: SkuInfo,
                 attributes: Iterable[tuple[str, str]]) -> tuple[CompiledAdjustment, ...]:
    """The book's adjustments for these attribute values that the SKU's product/category allows."""
    if not book.adjustments:
        return ()
    facts = info.facts
    found: list[CompiledAdjustment] = []
    for pair in attributes:
        for adjustment in book.adjustments.get(pair, ()):
            if adjustment.products and facts.product_code not in adjustment.products:
                continue
            if adjustment.categories and adjustment.categories.isdisjoint(facts.category_path):
                continue
            found.append(adjustment)
    return tuple(found)


_UNKNOWN = object()


def _plan(context: _Context, sku: str) -> _Plan | None:
    plans = context.plans
    plan = None
    info = context.catalog.sku_info(sku)
    if info is not None:
        for book in context.books:
            entry = book.entries.get(sku)
            if entry is not None:
                base = context.base
                list_entry = base.entries.get(sku) if base is not None else None
                plan = _Plan(info, book, entry, list_entry if list_entry is not None else entry)
                break
    plans[sku] = plan
    return plan


def _prepare(context: _Context, line: LineInput) -> _Line:
    state = _Line(line)
    quantity = line.quantity
    try:
        qn, qd = quantity.as_integer_ratio()
    except (ValueError, OverflowError):  # NaN, infinity
        qn, qd = 0, 1
    if qn <= 0:
        state.violations = (Violation("invalid_quantity", line.key, True, {"quantity": str(quantity)}),)
        return state
    state.qn = qn
    state.qd = qd
    sku = line.sku
    plan = context.plans.get(sku, _UNKNOWN)
    if plan is _UNKNOWN:
        plan = _plan(context, sku)
    if plan is None:
        info = context.catalog.sku_info(sku)
        if info is None:
            state.violations = (Violation("unknown_sku", line.key, True, {"sku": sku}),)
            return state
    else:
        info = plan.info
    state.info = info
    scale = context.scale
    unit_cost = line.unit_cost
    cost_n, cost_d = info.cost if unit_cost is None else unit_cost.as_integer_ratio()
    state.cost_amount = (2 * cost_n * qn * scale + cost_d * qd) // (2 * cost_d * qd)
    if unit_cost is None:
        # No exchange rates here: a CNY cost against a USD price would fake the margin and the
        # below-cost check, so such a line blocks until a cost in the quote's currency is given.
        foreign = _foreign_cost(context, info)
        if foreign is not None:
            state.violations = (Violation(foreign[0], line.key, True, foreign[1]),)
    manual = line.manual_discount_percent
    if manual is not None:
        if manual.is_finite() and 0 <= manual <= 100:
            state.manual = manual.as_integer_ratio()
        else:
            state.violations += (Violation("invalid_discount", line.key, True, {"percent": str(manual)}),)
    if plan is None:
        state.violations += (Violation("no_price", line.key, True, {"sku": sku}),)
        return state
    state.valid = True
    state.plan = plan
    state.promotions = info.promotions
    if plan.percent:
        state.percent = True
        return state
    _price_body(context, state, plan, None, None)
    return state


def _nominal(entry: CompiledEntry, state: _Line, scale: int, memo: dict[Any, int] | None,
             lines: Sequence[_Line] | None) -> Fraction:
    """The plain unit price of the entry for this line (currency units, exact)."""
    if entry.nominal is not None:
        return entry.nominal
    if entry.method == "cost_plus":
        assert entry.markup is not None and state.info is not None
        unit_cost = state.line.unit_cost
        cost_n, cost_d = unit_cost.as_integer_ratio() if unit_cost is not None else state.info.cost
        return cost_n * entry.markup[0], cost_d * entry.markup[1]
    assert entry.percent is not None and memo is not None and lines is not None
    return entry.percent[0] * _percent_base(entry, memo, lines), entry.percent[1] * scale


def _percent_base(entry: CompiledEntry, memo: dict[Any, int], lines: Sequence[_Line]) -> int:
    """Σ amounts after book and attributes of the non-percent lines in the entry's categories/types."""
    key = (entry.percent_categories, entry.percent_types)
    found = memo.get(key)
    if found is None:
        categories = entry.percent_categories
        types = entry.percent_types
        found = 0
        for other in lines:
            info = other.info
            if not other.valid or other.percent or info is None:
                continue
            facts = info.facts
            if facts.product_type in types or (categories and not categories.isdisjoint(facts.category_path)):
                found += other.attribute_amount
        memo[key] = found
    return found


def _method_amount(entry: CompiledEntry, state: _Line, nominal: Fraction, scale: int) -> tuple[int, Step | None]:
    """The book amount of the line and the step that explains the method (None for a plain price)."""
    qn, qd = state.qn, state.qd
    plain = round_half_up(nominal[0] * qn * scale, nominal[1] * qd)
    method = entry.method
    if method == "fixed":
        if entry.tier_mode == "none":
            return plain, None
        if entry.tier_mode == "volume":
            # every unit at the price of the highest tier reached, plus that tier's flat fee
            reached = entry.tiers[0]
            for tier in entry.tiers:
                if qn * tier.min_quantity[1] >= tier.min_quantity[0] * qd:
                    reached = tier
                else:
                    break
            pn, pd = reached.price
            fn, fd = reached.fee
            amount = round_half_up((pn * qn * fd + fn * pd * qd) * scale, pd * qd * fd)
            return amount, _new_tuple(Step, ("tier", entry.book, "pricing.step.tier.volume", amount - plain,
                                             reached.params))
        # graduated: unit k is priced at the tier that quantity k reaches; the fee of every tier entered
        total_n, total_d = 0, 1
        entered = 0
        tiers = entry.tiers
        last = len(tiers) - 1
        for index, tier in enumerate(tiers):
            ln, ld = tier.start
            if qn * ld <= ln * qd:  # quantity ≤ start: not entered
                break
            entered += 1
            top_n, top_d = qn, qd
            if index < last:
                hn, hd = tiers[index + 1].start
                if qn * hd > hn * qd:
                    top_n, top_d = hn, hd
            units_n, units_d = top_n * ld - ln * top_d, top_d * ld
            pn, pd = tier.price
            fn, fd = tier.fee
            term_d = units_d * pd * fd
            total_n = total_n * term_d + (units_n * pn * fd + fn * units_d * pd) * total_d
            total_d *= term_d
        amount = round_half_up(total_n * scale, total_d)
        return amount, _new_tuple(Step, ("tier", entry.book, "pricing.step.tier.graduated", amount - plain,
                             {"mode": "graduated", "tiers_entered": entered}))
    if method == "block":
        assert entry.block_size is not None
        bn, bd = entry.block_size
        blocks = -((-qn * bd) // (qd * bn))  # ceil(quantity / block size)
        pn, pd = entry.price
        amount = round_half_up(blocks * pn * scale, pd)
        return amount, _new_tuple(Step, ("block", entry.book, "pricing.step.block", amount - plain,
                             {**entry.step_params, "blocks": blocks}))
    if method == "cost_plus":
        return plain, _new_tuple(Step, ("cost_plus", entry.book, "pricing.step.cost_plus", 0, entry.step_params))
    return plain, _new_tuple(Step, ("percent_of_total", entry.book, "pricing.step.percent_of_total", 0,
                                    entry.step_params))


def _price_body(context: _Context, state: _Line, plan: _Plan, memo: dict[Any, int] | None,
                lines: Sequence[_Line] | None) -> None:
    """List price, book method, attribute adjustments and line promotions of a priced line."""
    scale = context.scale
    entry = plan.entry
    list_entry = plan.list_entry
    qn, qd = state.qn, state.qd
    if plan.plain:
        pn, pd = entry.nominal  # type: ignore[misc]
        amount = list_amount = (2 * pn * qn * scale + pd * qd) // (2 * pd * qd)
        state.list_price = entry.list_price  # type: ignore[assignment]
        steps = [_new_tuple(Step, ("list_price", entry.book, "pricing.step.list_price", list_amount, _NO_PARAMS))]
    else:
        nominal = entry.nominal
        if nominal is None:
            nominal = _nominal(entry, state, scale, memo, lines)
        if list_entry is entry:
            list_nominal = nominal
        else:
            listed = list_entry.nominal
            list_nominal = listed if listed is not None else _nominal(list_entry, state, scale, memo, lines)
        state.list_price = list_entry.list_price if list_entry.list_price is not None else quantize4(*list_nominal)
        pn, pd = list_nominal
        list_amount = (2 * pn * qn * scale + pd * qd) // (2 * pd * qd)  # half-up; prices are never negative
        steps = [_new_tuple(Step, ("list_price", list_entry.book, "pricing.step.list_price", list_amount, _NO_PARAMS))]
        amount = list_amount
        if list_entry is not entry:
            book = plan.book
            pn, pd = nominal
            amount = (2 * pn * qn * scale + pd * qd) // (2 * pd * qd)
            steps.append(_new_tuple(Step, ("price_book", book.code, "pricing.step.price_book", amount - list_amount,
                               book.step_params)))
        if entry.method != "fixed" or entry.tier_mode != "none":
            amount, method_step = _method_amount(entry, state, nominal, scale)
            if method_step is not None:
                steps.append(method_step)
    state.list_amount = list_amount
    adjustments = plan.adjustments if not state.line.attributes else _adjustments(
        plan.book, plan.info, sorted({**plan.info.facts.attributes, **state.line.attributes}.items()))
    if adjustments:
        book_amount = amount
        for adjustment in adjustments:
            if adjustment.amount is not None:
                delta = round_half_up(adjustment.amount[0] * qn * scale, adjustment.amount[1] * qd)
            else:
                assert adjustment.percent is not None
                delta = round_half_up(book_amount * adjustment.percent[0], adjustment.percent[1])
            delta = max(delta, -amount)  # never below zero
            amount += delta
            steps.append(_new_tuple(Step, ("attribute", adjustment.code, "pricing.step.attribute", delta,
                                           adjustment.params)))
    state.attribute_amount = amount
    state.steps = steps
    live = context.live.get(plan.ranks)
    if live is None:
        live = context.live_candidates(plan.ranks)
    if live:
        groups: dict[str, str] = {}
        quantity = state.line.quantity
        below = context.below_reason
        for promotion, rank, minimum, group, mode, pn, pd in live:
            if minimum is not None and quantity < minimum:
                reason = below[rank]
            elif state.exclusive_by is not None:
                reason = ("exclusive", {"by": state.exclusive_by})
            elif group in groups:
                reason = ("stacking_group", {"by": groups[group]})
            elif promotion.exclusive and groups:
                reason = ("exclusive", {"by": next(iter(groups.values()))})
            elif mode == 0:
                amount = _line_promotion(context, state, promotion, amount, steps, groups)
                continue
            else:
                # Kinds 1–6 inline (the same arithmetic as `_line_promotion`); amounts are never negative.
                if mode == 1:
                    discount = (2 * amount * pn + pd * 100) // (pd * 200)  # half-up of amount × p %
                elif mode == 2:
                    discount = (2 * pn * qn * scale + pd * qd) // (2 * pd * qd)  # per unit, half-up
                else:
                    discount = amount - (2 * pn * qn * scale + pd * qd) // (2 * pd * qd)  # to the unit price
                if discount > 0:
                    if discount > amount:
                        discount = amount
                    if state.discounts is None:
                        state.discounts = {rank: discount}
                    else:
                        state.discounts[rank] = discount
                    code = promotion.code
                    groups[group] = code
                    if promotion.exclusive:
                        state.exclusive_by = code
                    steps.append(_new_tuple(Step, ("promotion", code, promotion.message, -discount,
                                                   promotion.step_params)))
                    amount -= discount
                    continue
                reason = _NO_SAVING
            if state.reasons is None:
                state.reasons = {rank: reason}
            else:
                state.reasons[rank] = reason
        if groups:
            state.groups = groups
    state.amount = amount


def _reject(state: _Line, rank: int, reason: Reason) -> None:
    if state.reasons is None:
        state.reasons = {}
    state.reasons[rank] = reason


def _percent_off(amount: int, percent: Fraction) -> int:
    return round_half_up(amount * percent[0], percent[1] * 100)


def _line_promotion(context: _Context, state: _Line, promotion: CompiledPromotion, amount: int, steps: list[Step],
                    groups: dict[str, str]) -> int:
    """Apply one line promotion (kinds 1–9) to the line; returns the new amount."""
    kind = promotion.kind
    numbers = promotion.numbers
    params = promotion.params
    qn, qd = state.qn, state.qd
    if kind == "percent_off" or (kind == "group_price" and "percent" in numbers):
        pn, pd = numbers["percent"]
        discount = (2 * amount * pn + pd * 100) // (pd * 200)  # half-up of amount × p %; amount ≥ 0
    elif kind == "amount_off":
        an, ad = numbers["amount"]
        discount = (2 * an * qn * context.scale + ad * qd) // (2 * ad * qd)  # half-up; the amount is positive
    elif kind in ("fixed_price", "flash_price", "group_price"):
        pn, pd = numbers["price"]
        discount = amount - (2 * pn * qn * context.scale + pd * qd) // (2 * pd * qd)  # the price is ≥ 0
    elif kind == "quantity_discount":  # the caller checked `min_quantity`
        pn, pd = numbers["percent"]
        discount = (2 * amount * pn + pd * 100) // (pd * 200)
    elif kind == "buy_n_get_m":
        assert isinstance(params, BuyNGetMParams)
        free = (qn // qd) // (params.n + params.m) * params.m  # of every n + m whole units, m are free
        if free == 0:
            _reject(state, promotion.rank, context.below(promotion))
            return amount
        discount = round_half_up(amount * free * qd, qn)
    elif kind == "nth_item":
        assert isinstance(params, NthItemParams)
        units = (qn // qd) // params.n
        if units == 0:
            _reject(state, promotion.rank, context.below(promotion))
            return amount
        pn, pd = numbers["percent"]
        discount = round_half_up(amount * units * qd * pn, qn * pd * 100)
    else:
        assert isinstance(params, GiftParams)
        return _gift_promotion(context, state, promotion, params, amount, steps, groups)
    if discount <= 0:
        _reject(state, promotion.rank, ("no_saving", _NO_PARAMS))
        return amount
    if discount > amount:
        discount = amount
    if state.discounts is None:
        state.discounts = {promotion.rank: discount}
    else:
        state.discounts[promotion.rank] = discount
    code = promotion.code
    groups[promotion.group] = code
    if promotion.exclusive:
        state.exclusive_by = code
    steps.append(_new_tuple(Step, ("promotion", code, promotion.message, -discount, promotion.step_params)))
    return amount - discount


def _gift_promotion(context: _Context, state: _Line, promotion: CompiledPromotion, params: GiftParams, amount: int,
                    steps: list[Step], groups: dict[str, str]) -> int:
    quantity = state.line.quantity
    if quantity < params.min_quantity:
        _reject(state, promotion.rank, context.below(promotion))
        return amount
    sets = int(quantity // params.min_quantity) if params.repeat else 1
    foreign = _foreign_cost(context, context.catalog.sku_info(params.gift_sku))
    if foreign is not None:
        _reject(state, promotion.rank, foreign)
        return amount
    gift = _gift_line(context, params.gift_sku, params.gift_quantity * sets, state.line.key, promotion.code)
    if gift is None:
        _reject(state, promotion.rank, ("not_eligible", {"missing_sku": params.gift_sku}))
        return amount
    state.gifts += (gift,)
    if state.discounts is None:
        state.discounts = {}
    state.discounts[promotion.rank] = gift.list_amount
    groups[promotion.group] = promotion.code
    if promotion.exclusive:
        state.exclusive_by = promotion.code
    steps.append(_new_tuple(Step, ("promotion", promotion.code, promotion.message, 0,
                       {**promotion.step_params, "gift_sku": gift.sku, "gift_quantity": str(gift.quantity)})))
    return amount


def _foreign_cost(context: _Context, info: SkuInfo | None) -> Reason | None:
    """("cost_currency", params) when the SKU's cost is kept in another currency than the request's:
    its cost could not be judged against the margin (no exchange rates), so its line blocks and it
    is not given as a gift. None otherwise."""
    if info is None or info.facts.cost_currency == context.request.currency:
        return None
    return ("cost_currency", {"sku": info.facts.code, "cost_currency": info.facts.cost_currency,
                              "currency": context.request.currency})


def _gift_line(context: _Context, sku: str, quantity: Decimal, parent: str, promotion: str) -> _Gift | None:
    """A zero-priced line of `sku`, listed at its list price (base book first), its cost kept."""
    info = context.catalog.sku_info(sku)
    if info is None:
        return None
    scale = context.scale
    qn, qd = quantity.as_integer_ratio()
    list_price = _ZERO
    list_amount = 0
    book_code: str | None = None
    entry = context.base.entries.get(sku) if context.base is not None else None
    if entry is None:
        for book in context.books:
            entry = book.entries.get(sku)
            if entry is not None:
                break
    if entry is not None:
        book_code = entry.book
        nominal = entry.nominal
        if nominal is None and entry.markup is not None:
            nominal = (info.cost[0] * entry.markup[0], info.cost[1] * entry.markup[1])
        if nominal is not None:  # a percent-of-total gift has no price of its own: listed at 0
            list_price = quantize4(*nominal)
            list_amount = round_half_up(nominal[0] * qn * scale, nominal[1] * qd)
    cost_amount = round_half_up(info.cost[0] * qn * scale, info.cost[1] * qd)
    return _Gift(f"{parent}+gift:{promotion}", sku, quantity, list_price, list_amount, cost_amount, book_code,
                 parent, promotion)


# --- phases 2–4 ------------------------------------------------------------------------------------


class _Work:
    """The per-price state over the cached lines (phase-1 objects are never mutated)."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.amounts = [line.amount for line in lines]
        # Promotions taken in phases 2–3, in the order taken, with line index → discount.
        self.records: list[tuple[CompiledPromotion, dict[int, int]]] = []
        self.holders: dict[str, dict[int, str]] = {}  # stacking group → line index → code (phases 2–3)
        self.exclusive_by: dict[int, str] = {}
        self.overrides: dict[int, dict[str, int]] = {}  # capped line promotions: code → new step amount
        self.added: dict[int, list[_Gift]] = {}
        self.applied: dict[int, AppliedPromotion] = {}
        # Filled from phase 1 by `_evaluate`: the priced lines, lines per stacking group, lines with any
        # promotion, lines held by an exclusive one.
        self.valid: list[int] = []
        self.group_lines: dict[str, set[int]] = {}
        self.promoted: set[int] = set()
        self.held: set[int] = set()
        self.by_sku: dict[str, list[int]] = {}  # priced lines per SKU, in line order (of `cross_skus` only)

    def first_code(self, index: int) -> str | None:
        state = self.lines[index]
        if state.groups:
            return next(iter(state.groups.values()))
        for promotion, members in self.records:
            if index in members:
                return promotion.code
        return None

    def blocked(self, index: int, promotion: CompiledPromotion) -> Reason | None:
        """Why the line cannot take the promotion (the stacking rule), or None."""
        state = self.lines[index]
        by = state.exclusive_by or self.exclusive_by.get(index)
        if by is not None:
            return "exclusive", {"by": by}
        holder = state.groups.get(promotion.group)
        if holder is None:
            holders = self.holders.get(promotion.group)
            holder = holders.get(index) if holders is not None else None
        if holder is not None:
            return "stacking_group", {"by": holder}
        if promotion.exclusive:
            first = self.first_code(index)
            if first is not None:
                return "exclusive", {"by": first}
        return None

    def take(self, indexes: list[int], parts: list[int], promotion: CompiledPromotion) -> None:
        code = promotion.code
        members = dict(zip(indexes, parts, strict=True))
        self.records.append((promotion, members))
        holders = self.holders.get(promotion.group)
        if holders is None:
            self.holders[promotion.group] = dict.fromkeys(indexes, code)
        else:
            holders.update(dict.fromkeys(indexes, code))
        if promotion.exclusive:
            self.exclusive_by.update(dict.fromkeys(indexes, code))
        amounts = self.amounts
        for index, part in members.items():
            if part:
                amounts[index] -= part


def _evaluate(context: _Context, states: list[_Line], previous: _FinishMemo | None = None,
              finish_memo: _FinishMemo | None = None) -> PricingResult:
    promotions = context.catalog.promotions
    blocked = context.blocked
    # Phase 2a: percent-of-total lines, on the amounts after book and attributes of the others.
    if any(state.percent for state in states):
        memo: dict[Any, int] = {}
        originals = states
        states = list(states)
        for index, state in enumerate(originals):
            if state.percent:
                clone = state.copy()
                assert clone.plan is not None
                _price_body(context, clone, clone.plan, memo, originals)
                states[index] = clone
    work = _Work(states)
    rejected: dict[int, RejectedPromotion] = {}
    # Phase 2b: line promotions — gather, cap by budget, reject with the best reason.
    taken: dict[int, list[int]] = {}
    best: dict[int, Reason] = {}
    with_reasons: list[dict[int, Reason]] = []
    valid = work.valid
    group_lines = work.group_lines
    promoted = work.promoted
    held = work.held
    by_sku = work.by_sku
    late_groups = context.late_groups
    late_exclusive = context.late_exclusive
    cross_skus = context.cross_skus
    for index, state in enumerate(states):
        if not state.valid:
            continue
        valid.append(index)
        if cross_skus:
            sku = state.line.sku
            if sku in cross_skus:
                same_sku = by_sku.get(sku)
                if same_sku is None:
                    by_sku[sku] = [index]
                else:
                    same_sku.append(index)
        if state.groups:
            if late_exclusive:
                promoted.add(index)
            for group in state.groups:
                if group in late_groups:
                    found_lines = group_lines.get(group)
                    if found_lines is None:
                        group_lines[group] = {index}
                    else:
                        found_lines.add(index)
            if state.exclusive_by is not None:
                held.add(index)
        if state.discounts is not None:
            for rank in state.discounts:
                found = taken.get(rank)
                if found is None:
                    taken[rank] = [index]
                else:
                    found.append(index)
        if state.reasons is not None:
            with_reasons.append(state.reasons)
    # The best rejection reason, only of the line promotions that no line took (usually none).
    unsettled = {promotion.rank for promotion in promotions
                 if promotion.phase == PHASE_LINE and blocked[promotion.rank] is None and promotion.rank not in taken}
    if unsettled:
        for reasons in with_reasons:  # in line order: ties go to the first line
            for rank, reason in reasons.items():
                if rank in unsettled:
                    current = best.get(rank)
                    if current is None or _REASON_RANK[reason[0]] < _REASON_RANK[current[0]]:
                        best[rank] = reason
    for promotion in promotions:
        if promotion.phase != PHASE_LINE:
            break
        rank = promotion.rank
        verdict = blocked[rank]
        if verdict is None:
            indexes = taken.get(rank)
            if indexes:
                _settle_line_promotion(context, work, promotion, indexes)
                continue
            verdict = best.get(rank, ("not_eligible", _NO_PARAMS))
        rejected[rank] = RejectedPromotion(promotion.code, promotion.kind, verdict[0], verdict[1])
    # Phases 2c and 3: cross-line, then order promotions, in rank order.
    for promotion in promotions:
        if promotion.phase == PHASE_LINE:
            continue
        rank = promotion.rank
        verdict = blocked[rank]
        if verdict is not None:
            rejected[rank] = RejectedPromotion(promotion.code, promotion.kind, verdict[0], verdict[1])
            continue
        if promotion.kind == "free_accessory":
            outcome = _free_accessory(context, work, promotion)
        elif promotion.kind == "bundle":
            outcome = _bundle(context, work, promotion)
        else:
            outcome = _order_promotion(context, work, promotion)
        if isinstance(outcome, RejectedPromotion):
            rejected[rank] = outcome
        else:
            work.applied[rank] = outcome
    return _finish(context, work, rejected, previous, finish_memo)


def _settle_line_promotion(context: _Context, work: _Work, promotion: CompiledPromotion, taken: list[int]) -> None:
    rank = promotion.rank
    states = work.lines
    discounts = [states[index].discounts[rank] for index in taken]  # type: ignore[index]
    total = sum(discounts)
    budget = context.budget.get(rank)
    capped = False
    if budget is not None and total > budget:
        capped = True
        if promotion.kind == "gift":
            # Gifts are whole lines: keep them in line order while the budget lasts.
            kept = 0
            for index, value in zip(taken, discounts, strict=True):
                if kept + value <= budget:
                    kept += value
                else:
                    work.overrides.setdefault(index, {})["\x00gift:" + promotion.code] = 0
            total = kept
        else:
            # Line promotions ran on uncapped amounts; the budget scales their discounts down.
            parts = allocate(budget, discounts)
            for index, discount, part in zip(taken, discounts, parts, strict=True):
                if part != discount:
                    work.amounts[index] += discount - part
                    work.overrides.setdefault(index, {})[promotion.code] = -part
            total = budget
    work.applied[rank] = AppliedPromotion(promotion.code, promotion.kind, total,
                                          tuple([states[index].line.key for index in taken]),
                                          context.coupon.get(rank), capped)


def _cap(context: _Context, promotion: CompiledPromotion, discount: int) -> tuple[int, bool]:
    budget = context.budget.get(promotion.rank)
    if budget is not None and discount > budget:
        return budget, True
    return discount, False


def _rejected(promotion: CompiledPromotion, reason: Reason) -> RejectedPromotion:
    return RejectedPromotion(promotion.code, promotion.kind, reason[0], reason[1])


def _free_accessory(context: _Context, work: _Work,
                    promotion: CompiledPromotion) -> AppliedPromotion | RejectedPromotion:
    """With each unit of an eligible line, `quantity_per_unit` units of the accessory free: units of
    existing accessory lines are zeroed first (in line order), the rest is added as free lines."""
    params = promotion.params
    assert isinstance(params, FreeAccessoryParams)
    rank = promotion.rank
    states = work.lines
    accessory = params.accessory_sku
    triggers = [index for index in work.valid
                if rank in states[index].promotions and states[index].line.sku != accessory]
    pool: list[int] = []
    first_reason: Reason | None = None
    for index in work.by_sku.get(accessory, ()):
        reason = work.blocked(index, promotion)
        if reason is None:
            pool.append(index)
        elif first_reason is None:
            first_reason = reason
    if not triggers:
        return _rejected(promotion, ("not_eligible", _NO_PARAMS))
    available = {index: states[index].line.quantity for index in pool}
    zeroed: dict[int, Decimal] = {}
    added: list[tuple[int, _Gift]] = []
    cursor = 0  # pool lines before it are used up
    for trigger in triggers:
        need = states[trigger].line.quantity * params.quantity_per_unit
        while need > 0 and cursor < len(pool):
            index = pool[cursor]
            take = min(need, available[index])
            available[index] -= take
            zeroed[index] = zeroed.get(index, _ZERO) + take
            need -= take
            if available[index] <= 0:
                cursor += 1
        if need > 0:
            foreign = _foreign_cost(context, context.catalog.sku_info(accessory))
            if foreign is not None:
                return _rejected(promotion, foreign)
            gift = _gift_line(context, accessory, need, states[trigger].line.key, promotion.code)
            if gift is None:
                return _rejected(promotion, ("not_eligible", {"missing_sku": accessory}))
            added.append((trigger, gift))
    indexes: list[int] = []
    discounts: list[int] = []
    for index in pool:
        units = zeroed.get(index)
        if units is None:
            continue
        state = states[index]
        amount = work.amounts[index]
        if units == state.line.quantity:
            discount = amount
        else:
            un, ud = units.as_integer_ratio()
            discount = round_half_up(amount * un * state.qd, ud * state.qn)
        indexes.append(index)
        discounts.append(discount)
    total = sum(discounts)
    budget = context.budget.get(rank)
    capped = False
    if budget is not None and total > budget:
        capped = True
        discounts = allocate(budget, discounts)
        total = budget
    if budget is not None:
        kept: list[tuple[int, _Gift]] = []
        for trigger, gift in added:
            if total + gift.list_amount <= budget:
                total += gift.list_amount
                kept.append((trigger, gift))
            else:
                capped = True
        added = kept
    else:
        total += sum(gift.list_amount for _, gift in added)
    if not indexes and not added:
        if capped:
            return _rejected(promotion, ("budget_used_up", _NO_PARAMS))
        return _rejected(promotion, first_reason or ("no_saving", _NO_PARAMS))
    work.take(indexes, discounts, promotion)
    for trigger, gift in added:
        work.added.setdefault(trigger, []).append(gift)
    keys = tuple(states[index].line.key for index in indexes) + tuple(gift.key for _, gift in added)
    return AppliedPromotion(promotion.code, promotion.kind, total, keys, context.coupon.get(rank), capped)


def _bundle(context: _Context, work: _Work, promotion: CompiledPromotion) -> AppliedPromotion | RejectedPromotion:
    """Bundles = min over items of ⌊quantity / item quantity⌋; the saving (value of the bundled
    units − bundles × price) is allocated over the bundled lines by largest remainder."""
    params = promotion.params
    assert isinstance(params, BundleParams)
    rank = promotion.rank
    states = work.lines
    rule = promotion.promotion
    by_sku: dict[str, list[int]] = {item.sku: [] for item in params.items}
    first_reason: Reason | None = None
    for item in params.items:
        for index in work.by_sku.get(item.sku, ()):
            state = states[index]
            assert state.plan is not None
            if rank not in state.promotions or not _matches(rule, state.plan.info.facts):
                continue
            reason = work.blocked(index, promotion)
            if reason is None:
                by_sku[item.sku].append(index)
            elif first_reason is None:
                first_reason = reason
    if not any(by_sku.values()):
        return _rejected(promotion, first_reason or ("not_eligible", _NO_PARAMS))
    bundles = min(int(sum((states[index].line.quantity for index in by_sku[item.sku]), _ZERO) // item.quantity)
                  for item in params.items)
    if bundles == 0:
        return _rejected(promotion, first_reason or ("below_threshold", _NO_PARAMS))
    used: list[int] = []
    values: list[int] = []
    for item in params.items:
        need = Decimal(bundles * item.quantity)
        for index in by_sku[item.sku]:
            if need <= 0:
                break
            state = states[index]
            take = min(need, state.line.quantity)
            need -= take
            amount = work.amounts[index]
            if take == state.line.quantity:
                value = amount
            else:
                tn, td = take.as_integer_ratio()
                value = round_half_up(amount * tn * state.qd, td * state.qn)
            used.append(index)
            values.append(value)
    pn, pd = promotion.numbers["price"]
    saving = sum(values) - round_half_up(bundles * pn * context.scale, pd)
    if saving <= 0:
        return _rejected(promotion, ("no_saving", _NO_PARAMS))
    saving, capped = _cap(context, promotion, saving)
    work.take(used, allocate(saving, values), promotion)
    return AppliedPromotion(promotion.code, promotion.kind, saving, tuple([states[index].line.key for index in used]),
                            context.coupon.get(rank), capped)


def _order_promotion(context: _Context, work: _Work,
                     promotion: CompiledPromotion) -> AppliedPromotion | RejectedPromotion:
    """Kinds 12–15 on the amounts left by the earlier phases, over the lines the promotion can take."""
    rank = promotion.rank
    group = promotion.group
    states = work.lines
    amounts = work.amounts
    if rank in context.all_lines:
        eligible = work.valid
    else:
        eligible = [index for index in work.valid if rank in states[index].promotions]
    # The stacking rule in bulk: lines holding the group, held by an exclusive promotion, or (for an
    # exclusive promotion) holding any promotion.
    blocking: list[Iterable[int]] = [found for found in (
        work.group_lines.get(group), work.holders.get(group), work.held, work.exclusive_by) if found]
    if promotion.exclusive:
        blocking.append(work.promoted)
        blocking.extend(members for _, members in work.records)
    if blocking:
        blocked = set().union(*blocking)
        takers = [index for index in eligible if index not in blocked]
    else:
        takers = eligible
    if not takers:
        reason = work.blocked(eligible[0], promotion) if eligible else None
        return _rejected(promotion, reason or ("not_eligible", _NO_PARAMS))
    base = sum(map(amounts.__getitem__, takers))
    scale = context.scale
    numbers = promotion.numbers
    params = promotion.params

    def minor(name: str) -> int:
        numerator, denominator = numbers[name]
        return round_half_up(numerator * scale, denominator)

    def below(threshold: int) -> RejectedPromotion:
        return RejectedPromotion(promotion.code, promotion.kind, "below_threshold",
                                 {"threshold": threshold, "amount": base})

    if isinstance(params, SpendSaveParams):
        threshold = minor("threshold")
        if base < threshold:
            return below(threshold)
        discount = minor("amount") * (base // threshold if params.repeat else 1)
    elif isinstance(params, TieredSpendParams):
        discount = 0
        lowest = 0
        for tier in params.tiers:
            tn, td = tier.threshold.as_integer_ratio()
            threshold = round_half_up(tn * scale, td)
            lowest = lowest or threshold
            if base >= threshold:
                an, ad = tier.amount.as_integer_ratio()
                discount = round_half_up(an * scale, ad)
        if discount == 0:
            return below(lowest)
    elif isinstance(params, CouponParams):
        threshold = minor("threshold")
        if base < threshold:
            return below(threshold)
        discount = minor("amount") if params.amount is not None else _percent_off(base, numbers["percent"])
    else:  # spend_percent
        threshold = minor("threshold")
        if base < threshold:
            return below(threshold)
        discount = _percent_off(base, numbers["percent"])
    discount = min(discount, base)
    if discount <= 0:
        return _rejected(promotion, ("no_saving", _NO_PARAMS))
    discount, capped = _cap(context, promotion, discount)
    work.take(takers, allocate(discount, [amounts[index] for index in takers]), promotion)
    return AppliedPromotion(promotion.code, promotion.kind, discount,
                            tuple([states[index].line.key for index in takers]), context.coupon.get(rank), capped)


_margin = margin_percent


def _guard(approvals: list[Approval], violations: list[Violation], blocks: bool, level: int, code: str,
           line: str | None, params: Mapping[str, Any]) -> None:
    """A margin-guard finding: a blocking violation, or an approval of `level`."""
    if blocks:
        violations.append(Violation(code, line, True, params))
    else:
        approvals.append(Approval(level, code, line, params))


def _threshold(thresholds: Iterable[tuple[MarginThreshold, Fraction]], net: int, cost: int) -> MarginThreshold | None:
    """The threshold with the highest level among those the margin is (exactly) below, or None."""
    needed = None
    for threshold, (tn, td) in thresholds:
        if (net - cost) * 100 * td < tn * net and (needed is None or threshold.level > needed.level):
            needed = threshold
    return needed


class _Finished:
    """A line's phase-4 output kept by a `PricingSession`, with the inputs it was made from: reused as
    it is when the next price gives the line (at the same position) the same phase-1 state, amount and
    overrides, and no cross-line or order promotion changed its part (after a one-line edit, usually
    every other line)."""

    __slots__ = ("amount", "approvals", "changed", "cost", "discount", "gross", "index", "list_amount", "net",
                 "results", "state", "surcharge", "violations")

    def __init__(self, state: _Line, index: int, amount: int, changed: dict[str, int] | None) -> None:
        self.state = state
        self.index = index
        self.amount = amount
        self.changed = changed
        self.results: tuple[LineResult, ...] = ()  # the line's result, then its gift lines
        self.approvals: tuple[Approval, ...] = ()
        self.violations: tuple[Violation, ...] = ()
        self.list_amount = self.net = self.gross = self.cost = self.discount = self.surcharge = 0


class _FinishMemo:
    """What a session keeps of one phase 4 for the next: the finished lines by key, and the phase 2–3
    promotions taken (code, line index → part) in the order taken."""

    __slots__ = ("lines", "records")

    def __init__(self) -> None:
        self.lines: dict[str, _Finished] = {}
        self.records: list[tuple[str, dict[int, int]]] = []


def _moved_parts(previous: _FinishMemo, records: list[tuple[str, dict[int, int]]]) -> set[int] | None:
    """The line indexes whose phase 2–3 parts differ from last time (None: the promotions taken, or
    their order, differ — nothing is reused). Member dicts compare in C; only a changed one is walked."""
    before = previous.records
    if len(before) != len(records) or any(old[0] != new[0] for old, new in zip(before, records, strict=True)):
        return None
    changed: set[int] = set()
    for (_code, old), (_same, new) in zip(before, records, strict=True):
        if old != new:
            changed.update([index for index, part in new.items() if old.get(index) != part])
            changed.update([index for index in old if index not in new])
    return changed


def _finish(context: _Context, work: _Work, rejected: dict[int, RejectedPromotion],
            previous: _FinishMemo | None = None, memo: _FinishMemo | None = None) -> PricingResult:
    """Phase 4: manual discount, tax split, cost, margin guard, line results and totals.

    A session passes what it kept of the last phase 4 (`previous`) and a memo to fill for the next; a
    line whose inputs are unchanged reuses its results, findings and sums."""
    policy = context.catalog.policy
    thresholds = context.thresholds
    scale = context.scale
    amounts = work.amounts
    # Phase 2–3 promotions as (code, line index → part, step kind, message, params), in the order taken.
    records = [(promotion.code, members, "promotion" if promotion.phase == PHASE_CROSS else "order_promotion",
                promotion.message, promotion.step_params) for promotion, members in work.records]
    taken = [(code, members) for code, members, _kind, _message, _params in records]
    if memo is not None:
        memo.records = taken
    changed_parts = _moved_parts(previous, taken) if previous is not None else None
    kept_lines = previous.lines if previous is not None else None
    overrides = work.overrides
    added = work.added
    results: list[LineResult] = []
    append_result = results.append
    approvals: list[Approval] = []
    violations: list[Violation] = list(context.violations)
    below_cost_blocks = policy.below_cost == "block"
    below_floor_blocks = policy.below_floor == "block"
    list_total = net_total = gross_total = cost_total = discount_total = surcharge_total = 0
    new_tuple = _new_tuple
    new_result = LineResult
    lazy = _LAZY
    lazy_unit_price = LazyUnitPrice(scale)
    threshold_texts = {id(item): str(item.min_margin_percent) for item, _ in thresholds}
    top_n, top_d = max(thresholds, key=lambda item: item[0].min_margin_percent)[1] if thresholds else (0, 1)
    top_d *= 100
    for index, state in enumerate(work.lines):
        line = state.line
        cost = state.cost_amount
        if not state.valid:
            if state.violations:
                violations.extend(state.violations)
            cost_total += cost
            append_result(new_result(line.key, line.sku, line.quantity, _ZERO, _ZERO, 0, 0, 0, cost, None, [], None,
                                     False, line.parent, []))
            continue
        amount = amounts[index]
        changed = overrides.get(index) if overrides else None
        more = added.get(index) if added else None
        if changed_parts is not None and more is None and index not in changed_parts:
            assert kept_lines is not None and memo is not None
            kept = kept_lines.get(line.key)
            if (kept is not None and kept.state is state and kept.index == index and kept.amount == amount
                    and kept.changed == changed):
                results.extend(kept.results)
                if kept.approvals:
                    approvals.extend(kept.approvals)
                if kept.violations:
                    violations.extend(kept.violations)
                list_total += kept.list_amount
                net_total += kept.net
                gross_total += kept.gross
                cost_total += kept.cost
                discount_total += kept.discount
                surcharge_total += kept.surcharge
                memo.lines[line.key] = kept
                continue
        first_result, first_approval, first_violation = len(results), len(approvals), len(violations)
        if state.violations:
            violations.extend(state.violations)
        line_list = state.list_amount
        line_cost = cost
        steps = state.steps.copy()
        gifts: Sequence[_Gift] = state.gifts
        if changed is not None:
            steps = [_new_tuple(Step, (item.kind, item.rule, item.message, changed[item.rule], item.params))
                     if item.kind == "promotion" and item.rule in changed else item for item in steps]
            gifts = [gift for gift in gifts if "\x00gift:" + gift.promotion not in changed]
        groups = state.groups
        promotions = list(groups.values()) if groups else []
        for code, members, kind, message, params in records:
            part = members.get(index)
            if part is not None:
                promotions.append(code)
                if part:
                    steps.append(new_tuple(Step, (kind, code, message, -part, params)))
        manual = state.manual
        if manual is not None and amount > 0:
            discount = round_half_up(amount * manual[0], manual[1] * 100)
            if discount:
                amount -= discount
                steps.append(new_tuple(Step, ("manual_discount", "", "pricing.step.manual_discount", -discount,
                                              {"percent": str(line.manual_discount_percent)})))
        plan = state.plan
        assert plan is not None
        rn, rd = plan.tax
        divisor = rd + rn
        net = (2 * amount * rd + divisor) // (2 * divisor)  # half-up of amount / (1 + rate); amount ≥ 0
        result = new_result(line.key, line.sku, line.quantity, state.list_price, lazy_unit_price, net, amount - net,
                            amount, cost, lazy, steps, plan.book_code, False, line.parent, promotions)
        append_result(result)
        # Margin guard on the line (gift and free lines are exempt; their cost counts in the quote).
        if net < cost:
            _guard(approvals, violations, below_cost_blocks, policy.below_cost_level, "below_cost", line.key,
                   {"net_amount": net, "cost_amount": cost})
        floor = plan.floor
        if floor is not None and amount * floor[1] * state.qd < floor[0] * state.qn * scale:
            _guard(approvals, violations, below_floor_blocks, policy.below_floor_level, "below_floor", line.key,
                   {"floor_price": plan.floor_text, "unit_price": str(result.unit_price)})
        if net and thresholds and (net - cost) * top_d < top_n * net:  # below the highest threshold
            needed = _threshold(thresholds, net, cost)
            if needed is not None:
                approvals.append(Approval(needed.level, "margin", line.key, {
                    "margin_percent": str(result.margin_percent), "threshold": threshold_texts[id(needed)],
                    "name": needed.name}))
        if gifts or more:
            for gift in (*gifts, *more) if more else gifts:
                gift_steps = [new_tuple(Step, ("list_price", gift.book or "", "pricing.step.list_price",
                                               gift.list_amount, _NO_PARAMS))]
                if gift.list_amount:
                    gift_steps.append(new_tuple(Step, ("promotion", gift.promotion, "pricing.step.promotion.gift",
                                                       -gift.list_amount, _NO_PARAMS)))
                append_result(new_result(gift.key, gift.sku, gift.quantity, gift.list_price, _ZERO_PRICE, 0, 0, 0,
                                         gift.cost_amount, None, gift_steps, gift.book, True, gift.parent,
                                         [gift.promotion]))
                line_list += gift.list_amount
                line_cost += gift.cost_amount
        list_total += line_list
        net_total += net
        gross_total += amount
        cost_total += line_cost
        # Reductions and increases are summed apart: a surcharge on one line must not hide a promotion
        # on another (list + surcharges − discounts = total, line by line).
        line_discount = line_surcharge = 0
        for position in range(first_result, len(results)):
            for step in results[position].steps:
                if step.kind != "list_price":
                    if step.amount < 0:
                        line_discount -= step.amount
                    else:
                        line_surcharge += step.amount
        discount_total += line_discount
        surcharge_total += line_surcharge
        if memo is not None and more is None:
            kept = _Finished(state, index, amounts[index], changed)
            kept.results = tuple(results[first_result:])
            kept.approvals = tuple(approvals[first_approval:])
            kept.violations = tuple(violations[first_violation:])
            kept.list_amount, kept.net, kept.gross, kept.cost = line_list, net, amount, line_cost
            kept.discount, kept.surcharge = line_discount, line_surcharge
            memo.lines[line.key] = kept
    if net_total and thresholds:
        needed = _threshold(thresholds, net_total, cost_total)
        if needed is not None:
            approvals.append(Approval(needed.level, "margin", None, {
                "margin_percent": str(_margin(net_total, cost_total)), "threshold": str(needed.min_margin_percent),
                "name": needed.name}))
    totals = Totals(list_total, net_total, gross_total - net_total, gross_total, cost_total, discount_total,
                    _margin(net_total, cost_total), surcharge_total)
    return PricingResult(
        currency=context.request.currency, lines=tuple(results), totals=totals,
        applied=tuple(work.applied[rank] for rank in sorted(work.applied)),
        rejected=tuple(rejected[rank] for rank in sorted(rejected)),
        approvals=tuple(approvals), violations=tuple(violations), books=context.considered)


# --- public API ------------------------------------------------------------------------------------


class PricingSession:
    """A priced cart that re-prices fast after a one-line edit: each line's phase-1 work is cached
    (it depends on the line alone); an edit redoes that line and re-runs phases 2–3 over integers;
    phase 4 reuses the results of every line whose inputs did not change. `result` always equals
    `price(catalog, session.request)`; successive results share those unchanged line results, so
    treat them as read-only."""

    def __init__(self, catalog: CompiledCatalog, request: PricingRequest) -> None:
        self.catalog = catalog
        self._request = request
        self._keys: list[str] = []
        self._lines: dict[str, _Line] = {}
        self._finished: _FinishMemo | None = None
        with _pricing_scope():
            self._context = _Context(catalog, request)
            for line in request.lines:
                if line.key in self._lines:
                    raise ValueError(f"duplicate line key {line.key!r}")
                self._keys.append(line.key)
                self._lines[line.key] = _prepare(self._context, line)
            self._changed = False
            self.result = self._evaluate()

    @property
    def request(self) -> PricingRequest:
        """The request with the edits made so far."""
        if self._changed:
            self._request = replace(self._request, lines=tuple(self._lines[key].line for key in self._keys))
            self._changed = False
        return self._request

    def _evaluate(self) -> PricingResult:
        lines = self._lines
        memo = _FinishMemo()
        result = _evaluate(self._context, [lines[key] for key in self._keys], self._finished, memo)
        self._finished = memo
        return result

    def update_line(self, line: LineInput) -> PricingResult:
        """Replace the line with the same key (KeyError if there is none) and re-price."""
        if line.key not in self._lines:
            raise KeyError(line.key)
        with _pricing_scope():
            self._lines[line.key] = _prepare(self._context, line)
            self._changed = True
            self.result = self._evaluate()
        return self.result

    def add_line(self, line: LineInput) -> PricingResult:
        """Append a line (ValueError if its key is taken) and re-price."""
        if line.key in self._lines:
            raise ValueError(f"duplicate line key {line.key!r}")
        with _pricing_scope():
            self._keys.append(line.key)
            self._lines[line.key] = _prepare(self._context, line)
            self._changed = True
            self.result = self._evaluate()
        return self.result

    def remove_line(self, key: str) -> PricingResult:
        """Remove the line (KeyError if there is none) and re-price."""
        del self._lines[key]
        self._keys.remove(key)
        self._changed = True
        with _pricing_scope():
            self.result = self._evaluate()
        return self.result


def price(catalog: CompiledCatalog, request: PricingRequest) -> PricingResult:
    """Price a cart (see the module docstring); equal to a fresh `PricingSession(...).result`.

    The working state (phase-1 lines, context) is dropped before the collector resumes, so the one
    young-generation pass that follows scans only the result, not the result and the state."""
    with _pricing_scope():
        context = _Context(catalog, request)
        keys: set[str] = set()
        states: list[_Line] = []
        for line in request.lines:
            if line.key in keys:
                raise ValueError(f"duplicate line key {line.key!r}")
            keys.add(line.key)
            states.append(_prepare(context, line))
        result = _evaluate(context, states)
        del context, states, keys
    return result
