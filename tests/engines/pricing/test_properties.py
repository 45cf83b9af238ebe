"""Invariants of the engine over random carts (hypothesis): lines sum to the totals, every waterfall
sums to its line, the input order of rules changes nothing, re-pricing is identical, and a session's
incremental result equals a fresh price."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from l2c.engines.pricing import PricingSession, compile_catalog, price
from l2c.engines.pricing.engine import allocate
from l2c.engines.pricing.types import (
    AttributeAdjustment,
    Coupon,
    CustomerContext,
    LineInput,
    MarginPolicy,
    MarginThreshold,
    PriceEntry,
    PricingRequest,
    Quota,
    Scope,
    Tier,
)
from l2c.kernel.money import allocate_minor

from ._build import D, book, fixed, promotion, sku

SKUS = [
    sku("A", path=("hw", "server"), cost="61.3", attributes={"colour": "red"}),
    sku("B", path=("hw", "disk"), cost="12.07", attributes={"colour": "blue", "capacity": "2T"}),
    sku("C", path=("hw", "cable"), cost="0.35"),
    sku("D", path=("hw", "spare"), cost="8.8"),
    sku("E", path=("svc", "install"), kind="service", rate="0.06", cost="20"),
    sku("F", path=("svc", "warranty"), kind="service", rate="0.06", cost="1"),
    sku("G", path=("hw", "disk"), cost="3.33", attributes={"capacity": "4T"}),
    sku("N", path=("hw",), cost="5"),  # no price anywhere
]
TIERS = (Tier(D(1), D("19.99")), Tier(D(5), D("17.5"), D("3")), Tier(D(20), D("15.25"), D("10")))
BOOKS = [
    book("BASE", [
        fixed("A", "99.99", floor_price=D("80")), PriceEntry("B", tier_mode="volume", tiers=TIERS),
        PriceEntry("C", method="block", unit_price=D("9.9"), block_size=D(10)),
        PriceEntry("D", method="cost_plus", markup_percent=D("37.5")), fixed("E", "300"),
        PriceEntry("F", method="percent_of_total", percent=D("8"), percent_of=frozenset({"server", "type:service"})),
        PriceEntry("G", tier_mode="graduated", tiers=TIERS)],
        is_base=True, adjustments=[AttributeAdjustment("colour", "red", percent=D("7.5"), code="red"),
                                   AttributeAdjustment("capacity", "4T", amount=D("2.01"), code="4T"),
                                   AttributeAdjustment("colour", "blue", amount=D("-1"), categories=frozenset({"disk"}),
                                                       code="blue")]),
    book("KEY", [fixed("A", "95.5"), PriceEntry("G", tier_mode="volume", tiers=TIERS)], priority=5,
         scope=Scope(groups=frozenset({"level:key"})),
         adjustments=[AttributeAdjustment("colour", "red", percent=D(3), code="KEY:red")]),
    book("ACME", [fixed("A", "90"), fixed("B", "16")], scope=Scope(accounts=frozenset({1}))),
    book("SOUTH", [fixed("E", "280")], scope=Scope(regions=frozenset({"广东"}))),
]
START = datetime(2026, 6, 1, tzinfo=UTC)
PROMOTIONS = [
    promotion("P-PCT", "percent_off", {"percent": "12.5"}, categories=frozenset({"server"}), stacking_group="line"),
    promotion("P-AMT", "amount_off", {"amount": "3.33"}, categories=frozenset({"disk"}), stacking_group="line",
              priority=2),
    promotion("P-FIX", "fixed_price", {"price": "8.01"}, skus=frozenset({"D"})),
    promotion("P-FLASH", "flash_price", {"price": "88"}, skus=frozenset({"A"}), priority=9, valid_from=START,
              valid_to=datetime(2026, 6, 2, tzinfo=UTC)),
    promotion("P-GROUP", "group_price", {"percent": "4"}, customers=Scope(groups=frozenset({"level:key"}))),
    promotion("P-QTY", "quantity_discount", {"min_quantity": 10, "percent": 5}, categories=frozenset({"hw"})),
    promotion("P-BNGM", "buy_n_get_m", {"n": 3, "m": 1}, skus=frozenset({"G"}), priority=3),
    promotion("P-NTH", "nth_item", {"n": 2, "percent": 50}, skus=frozenset({"B"})),
    promotion("P-GIFT", "gift", {"min_quantity": 2, "gift_sku": "C", "gift_quantity": 3, "repeat": True},
              skus=frozenset({"A"})),
    promotion("P-EXCL", "percent_off", {"percent": "30"}, exclusive=True, priority=20,
              customers=Scope(accounts=frozenset({2}))),
    promotion("X-ACC", "free_accessory", {"accessory_sku": "E", "quantity_per_unit": "0.5"}, skus=frozenset({"A"})),
    promotion("X-BUN", "bundle", {"items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}],
                                  "price": "120"}),
    promotion("O-SAVE", "spend_save", {"threshold": "300", "amount": "25", "repeat": True}, stacking_group="order"),
    promotion("O-TIER", "tiered_spend", {"tiers": [{"threshold": "200", "amount": "10"},
                                                   {"threshold": "1000", "amount": "80"}]}, stacking_group="order",
              priority=1),
    promotion("O-PCT", "spend_percent", {"threshold": "500", "percent": "3"}),
    promotion("O-CPN", "coupon", {"percent": "5", "threshold": "50"}),
    promotion("P-CODE", "amount_off", {"amount": "1"}, requires_coupon=True, skus=frozenset({"C"})),
]
POLICY = MarginPolicy(thresholds=(MarginThreshold(D(15), 1), MarginThreshold(D(5), 2)), below_floor="block")
CATALOG = compile_catalog(version=1, skus=SKUS, books=BOOKS, promotions=PROMOTIONS, policy=POLICY)
CUSTOMERS = [CustomerContext(), CustomerContext(account_id=1, groups=frozenset({"level:key"}), region="广东/深圳"),
             CustomerContext(account_id=2, region="北京", department_ids=frozenset({3})),
             CustomerContext(account_id=3, groups=frozenset({"level:key"}))]

quantities = st.one_of(st.integers(min_value=1, max_value=60).map(Decimal),
                       st.sampled_from([D("0.5"), D("2.5"), D("0.001"), D(0), D(-2)]))
line_contents = st.tuples(st.sampled_from("ABCDEFGNZ"), quantities,
                          st.sampled_from([{}, {"colour": "red"}, {"colour": "blue"}, {"capacity": "4T"}]),
                          st.sampled_from([None, D(0), D(5), D("12.5"), D(100), D(150)]),
                          st.sampled_from([None, D("50"), D("0.01")]))


def _line(key: str, content: tuple[str, Decimal, dict[str, str], Decimal | None, Decimal | None]) -> LineInput:
    code, quantity, attributes, manual, unit_cost = content
    return LineInput(key, code, quantity, attributes, manual, unit_cost)


requests = st.builds(
    lambda contents, customer, as_of, typed, budget: PricingRequest(
        "CNY", as_of, tuple(_line(str(index), content) for index, content in enumerate(contents)), customer,
        coupon_codes=typed, coupons=(Coupon("C5", "O-CPN", remaining_uses=3), Coupon("ONE", "P-CODE")),
        quotas={"P-PCT": Quota(remaining_budget=budget), "O-TIER": Quota(remaining_budget=budget // 2 + 1)}),
    st.lists(line_contents, max_size=12), st.sampled_from(CUSTOMERS),
    st.sampled_from([START, datetime(2026, 7, 1, tzinfo=UTC)]),
    st.sampled_from([(), ("c5",), ("ONE", "C5", "BAD")]), st.integers(min_value=1, max_value=20_000))


@settings(max_examples=200, deadline=None)
@given(requests)
def test_lines_sum_to_totals_and_waterfalls_to_lines(request: PricingRequest) -> None:
    result = price(CATALOG, request)
    lines = result.lines
    totals = result.totals
    assert sum(item.total_amount for item in lines) == totals.total_amount
    assert sum(item.net_amount for item in lines) == totals.net_amount
    assert sum(item.tax_amount for item in lines) == totals.tax_amount
    assert sum(item.cost_amount for item in lines) == totals.cost_amount
    assert totals.net_amount + totals.tax_amount == totals.total_amount
    # Reductions and increases are reported apart and never net out against each other.
    assert totals.discount_amount == -sum(step.amount for item in lines for step in item.steps
                                          if step.kind != "list_price" and step.amount < 0)
    assert totals.surcharge_amount == sum(step.amount for item in lines for step in item.steps
                                          if step.kind != "list_price" and step.amount > 0)
    assert totals.list_amount + totals.surcharge_amount - totals.discount_amount == totals.total_amount
    for item in lines:
        assert item.total_amount >= 0 and item.net_amount + item.tax_amount == item.total_amount
        if item.steps:
            assert sum(step.amount for step in item.steps) == item.total_amount
    for applied in result.applied:  # every applied discount is exactly the steps it left on the lines
        assert -applied.discount == sum(step.amount for item in lines for step in item.steps
                                        if step.rule == applied.code and step.kind in ("promotion", "order_promotion"))
    assert len({item.key for item in lines}) == len(lines)


@settings(max_examples=60, deadline=None)
@given(requests, st.randoms(use_true_random=False))
def test_rule_input_order_changes_nothing(request: PricingRequest, shuffler: random.Random) -> None:
    def shuffled(items: list) -> list:  # type: ignore[type-arg]
        items = list(items)
        shuffler.shuffle(items)
        return items

    books = []
    for item in shuffled(BOOKS):
        entries = dict(shuffled(list(item.entries.items())))
        books.append(replace(item, entries=entries, adjustments=tuple(shuffled(list(item.adjustments)))))
    other = compile_catalog(version=2, skus=shuffled(SKUS), books=books, promotions=shuffled(PROMOTIONS),
                            policy=POLICY)
    assert price(other, request) == price(CATALOG, request)


@settings(max_examples=60, deadline=None)
@given(requests)
def test_pricing_twice_is_identical(request: PricingRequest) -> None:
    assert price(CATALOG, request) == price(CATALOG, request)


@settings(max_examples=120, deadline=None)
@given(requests, st.lists(st.tuples(st.sampled_from(["update", "add", "remove"]), st.integers(0, 20), line_contents),
                          min_size=1, max_size=4))
def test_session_edits_equal_a_fresh_price(request: PricingRequest, edits: list[tuple[str, int, tuple]]) -> None:  # type: ignore[type-arg]
    session = PricingSession(CATALOG, request)
    assert session.result == price(CATALOG, request)
    added = 100
    for action, position, content in edits:
        keys = [item.key for item in session.request.lines]
        if action == "add" or not keys:
            added += 1
            session.add_line(_line(str(added), content))
        elif action == "update":
            session.update_line(_line(keys[position % len(keys)], content))
        else:
            session.remove_line(keys[position % len(keys)])
        assert session.result == price(CATALOG, session.request)


@given(st.integers(min_value=-10**9, max_value=10**9),
       st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30))
def test_allocate_equals_kernel_allocate_minor(total: int, weights: list[int]) -> None:
    assert allocate(total, weights) == allocate_minor(total, weights)


@given(st.lists(st.sampled_from([0, 1, 2, 3, 5, 7]), min_size=1, max_size=12), st.integers(0, 50))
def test_allocate_ties_equal_kernel(weights: list[int], total: int) -> None:
    assert allocate(total, weights) == allocate_minor(total, weights)


@given(st.lists(st.sampled_from([0, 1, 2, 3, 5, 7, 10, 11]), min_size=33, max_size=120), st.integers(0, 10**6))
def test_allocate_long_lists_with_ties_equal_kernel(weights: list[int], total: int) -> None:
    # More than 32 units left over after the floor division: the cut is found by sorting.
    assert allocate(total, weights) == allocate_minor(total, weights)
