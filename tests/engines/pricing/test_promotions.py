"""The fifteen promotion kinds, stacking, coupons, quotas and eligibility, with worked values (fen)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from l2c.engines.pricing.types import Coupon, CustomerContext, Quota, Scope, Violation

from ._build import D, applied, base, by_key, catalog, fixed, line, priced, promotion, rejected, sku, steps

SKUS = [sku("A", cost="40"), sku("B", cost="20"), sku("X", cost="0"),
        sku("S", path=("svc", "install"), kind="service", rate="0.06")]
BOOK = base(fixed("A", "100"), fixed("B", "30"), fixed("X", "1"), fixed("S", "200"))
KEY = CustomerContext(account_id=1, groups=frozenset({"level:key"}))


def _one(kind: str, params: dict[str, Any], **kwargs: Any) -> Any:
    return catalog(SKUS, [BOOK], [promotion("P", kind, params, skus=frozenset({"A"}), **kwargs)])


@pytest.mark.parametrize(("kind", "params", "quantity", "total", "reason"), [
    ("percent_off", {"percent": "10"}, 3, 27000, None),
    ("amount_off", {"amount": "15"}, 3, 25500, None),
    ("amount_off", {"amount": "150"}, 1, 0, None),  # never below zero
    ("fixed_price", {"price": "80"}, 3, 24000, None),
    ("fixed_price", {"price": "120"}, 3, 30000, "no_saving"),  # only if lower
    ("quantity_discount", {"min_quantity": 10, "percent": 5}, 9, 90000, "below_threshold"),
    ("quantity_discount", {"min_quantity": 10, "percent": 5}, 10, 95000, None),
    ("buy_n_get_m", {"n": 2, "m": 1}, 2, 20000, "below_threshold"),
    ("buy_n_get_m", {"n": 2, "m": 1}, 3, 20000, None),
    ("buy_n_get_m", {"n": 2, "m": 1}, 5, 40000, None),
    ("buy_n_get_m", {"n": 2, "m": 1}, 6, 40000, None),
    ("nth_item", {"n": 2, "percent": 50}, 1, 10000, "below_threshold"),
    ("nth_item", {"n": 2, "percent": 50}, 2, 15000, None),  # 第二件半价
    ("nth_item", {"n": 2, "percent": 50}, 3, 25000, None),
    ("nth_item", {"n": 2, "percent": 50}, 4, 30000, None),
])
def test_line_promotion_kinds(kind: str, params: dict[str, Any], quantity: int, total: int,
                              reason: str | None) -> None:
    result = priced(_one(kind, params), line("1", "A", quantity))
    (only,) = result.lines
    assert only.total_amount == total
    assert rejected(result) == ({"P": reason} if reason else {})
    if reason is None:
        assert steps(only) == [("list_price", "BASE", quantity * 10000), ("promotion", "P", total - quantity * 10000)]
        assert only.promotions == ["P"]
        assert applied(result) == {"P": quantity * 10000 - total}


@pytest.mark.parametrize(("params", "customer", "total", "reason"), [
    ({"price": "85"}, KEY, 17000, None),
    ({"percent": "20"}, KEY, 16000, None),
    ({"price": "85"}, CustomerContext(account_id=1), 20000, "customer"),
])
def test_group_price_for_members(params: dict[str, str], customer: CustomerContext, total: int,
                                 reason: str | None) -> None:
    compiled = _one("group_price", params, customers=Scope(groups=frozenset({"level:key"})))
    result = priced(compiled, line("1", "A", 2), customer=customer)
    assert result.lines[0].total_amount == total
    assert rejected(result) == ({"P": reason} if reason else {})


@pytest.mark.parametrize(("as_of", "total", "reason"), [
    (datetime(2026, 6, 1, 9, 59, tzinfo=UTC), 10000, "outside_validity"),
    (datetime(2026, 6, 1, 10, 0, tzinfo=UTC), 6600, None),
    (datetime(2026, 6, 1, 12, 0, tzinfo=UTC), 6600, None),
    (datetime(2026, 6, 1, 12, 0, 1, tzinfo=UTC), 10000, "outside_validity"),
])
def test_flash_price_only_inside_its_window(as_of: datetime, total: int, reason: str | None) -> None:
    compiled = _one("flash_price", {"price": "66"}, valid_from=datetime(2026, 6, 1, 10, tzinfo=UTC),
                    valid_to=datetime(2026, 6, 1, 12, tzinfo=UTC))
    result = priced(compiled, line("1", "A"), as_of=as_of)
    assert result.lines[0].total_amount == total
    assert rejected(result) == ({"P": reason} if reason else {})


def _order(kind: str, params: dict[str, Any], **kwargs: Any) -> Any:
    return catalog(SKUS, [BOOK], [promotion("O", kind, params, **kwargs)])


@pytest.mark.parametrize(("repeat", "totals", "discount"), [(False, (28667, 14333), 2000),
                                                            (True, (27333, 13667), 4000)])
def test_spend_save_once_or_per_multiple_allocated_by_largest_remainder(
        repeat: bool, totals: tuple[int, int], discount: int) -> None:
    compiled = _order("spend_save", {"threshold": "200", "amount": "20", "repeat": repeat})
    result = priced(compiled, line("1", "A", 3), line("2", "B", 5))
    assert tuple(item.total_amount for item in result.lines) == totals
    assert applied(result) == {"O": discount}
    assert result.applied[0].lines == ("1", "2")
    assert steps(result.lines[0])[-1] == ("order_promotion", "O", totals[0] - 30000)
    assert result.totals.discount_amount == discount


@pytest.mark.parametrize(("quantity", "discount", "reason"), [
    (999, 0, "below_threshold"), (1000, 10000, None), (2999, 10000, None), (3000, 40000, None)])
def test_tiered_spend_takes_the_highest_tier_reached(quantity: int, discount: int, reason: str | None) -> None:
    compiled = _order("tiered_spend", {"tiers": [{"threshold": "1000", "amount": "100"},
                                                 {"threshold": "3000", "amount": "400"}]})
    result = priced(compiled, line("1", "X", quantity))
    assert result.totals.total_amount == quantity * 100 - discount
    assert rejected(result) == ({"O": reason} if reason else {})


@pytest.mark.parametrize(("quantity", "total", "reason"), [(999, 99900, "below_threshold"), (1500, 135000, None)])
def test_spend_percent(quantity: int, total: int, reason: str | None) -> None:
    result = priced(_order("spend_percent", {"threshold": "1000", "percent": "10"}), line("1", "X", quantity))
    assert result.totals.total_amount == total
    assert rejected(result) == ({"O": reason} if reason else {})


@pytest.mark.parametrize(("repeat", "gift_quantity"), [(True, 2), (False, 1)])
def test_gift_lines_are_free_and_keep_their_cost(repeat: bool, gift_quantity: int) -> None:
    compiled = catalog(SKUS, [BOOK], [promotion("G", "gift", {"min_quantity": 2, "gift_sku": "B", "repeat": repeat},
                                                skus=frozenset({"A"}))])
    result = priced(compiled, line("1", "A", 5))
    trigger, gift = result.lines
    assert (trigger.total_amount, trigger.net_amount, trigger.cost_amount) == (50000, 44248, 20000)
    assert (gift.key, gift.sku, gift.is_gift, gift.parent, gift.quantity) == ("1+gift:G", "B", True, "1",
                                                                             D(gift_quantity))
    assert (gift.list_price, gift.unit_price, gift.total_amount, gift.cost_amount) == (
        D("30.0000"), D("0.0000"), 0, gift_quantity * 2000)
    assert steps(gift) == [("list_price", "BASE", gift_quantity * 3000), ("promotion", "G", -gift_quantity * 3000)]
    assert result.totals.list_amount == 50000 + gift_quantity * 3000
    assert result.totals.discount_amount == gift_quantity * 3000
    assert result.totals.cost_amount == 20000 + gift_quantity * 2000
    margin = (44248 - 20000 - gift_quantity * 2000) * 10000 / 44248
    assert result.totals.margin_percent == D(round(margin)).scaleb(-2)
    assert applied(result) == {"G": gift_quantity * 3000}


def test_gift_lines_take_no_order_promotion() -> None:
    compiled = catalog(SKUS, [BOOK], [
        promotion("G", "gift", {"min_quantity": 1, "gift_sku": "B"}, skus=frozenset({"A"})),
        promotion("O", "spend_save", {"threshold": "50", "amount": "10"})])
    result = priced(compiled, line("1", "A"))
    assert [item.key for item in result.lines] == ["1", "1+gift:G"]
    assert result.applied[1].lines == ("1",)
    assert result.lines[1].total_amount == 0


@pytest.mark.parametrize(("lines", "expected", "added"), [
    # an existing accessory line covers the need: zeroed
    ((("1", "A", 2), ("2", "S", 2)), {"1": 20000, "2": 0}, []),
    # it covers part of it: the rest is added as a free line
    ((("1", "A", 3), ("2", "S", 1)), {"1": 30000, "2": 0}, [("1+gift:FA", 3 - 1)]),
    ((("1", "A", 1),), {"1": 10000}, [("1+gift:FA", 1)]),
    # more accessory units than needed: only the needed part is free
    ((("1", "A", 1), ("2", "S", 3)), {"1": 10000, "2": 40000}, []),
])
def test_free_accessory_zeroes_existing_units_or_adds_a_line(
        lines: tuple[tuple[str, str, int], ...], expected: dict[str, int], added: list[tuple[str, int]]) -> None:
    compiled = catalog(SKUS, [BOOK], [promotion("FA", "free_accessory", {"accessory_sku": "S"},
                                                skus=frozenset({"A"}))])
    result = priced(compiled, *(line(*item) for item in lines))
    regular = {item.key: item.total_amount for item in result.lines if not item.is_gift}
    assert regular == expected
    gifts = [(item.key, int(item.quantity)) for item in result.lines if item.is_gift]
    assert gifts == added
    for item in result.lines:
        if item.is_gift:
            assert (item.sku, item.list_price, item.total_amount) == ("S", D("200.0000"), 0)
    assert result.totals.discount_amount == result.totals.list_amount - result.totals.total_amount


@pytest.mark.parametrize(("quantities", "totals", "saving"), [
    ((1, 2), (10000 - 813, 6000 - 488), 1301),  # one bundle: 160.00 − 146.99
    ((2, 5), (20000 - 1626, 15000 - 976), 2602),  # two bundles; one B left out of them
])
def test_bundle_price_allocated_over_the_bundle_lines(quantities: tuple[int, int], totals: tuple[int, int],
                                                      saving: int) -> None:
    compiled = catalog(SKUS, [BOOK], [promotion("BUN", "bundle", {
        "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}], "price": "146.99"})])
    result = priced(compiled, line("1", "A", quantities[0]), line("2", "B", quantities[1]))
    assert tuple(item.total_amount for item in result.lines) == totals
    assert applied(result) == {"BUN": saving}


@pytest.mark.parametrize(("lines", "reason"), [((("1", "A", 1),), "below_threshold"),
                                               ((("1", "X", 1),), "not_eligible")])
def test_bundle_rejected(lines: tuple[tuple[str, str, int], ...], reason: str) -> None:
    compiled = catalog(SKUS, [BOOK], [promotion("BUN", "bundle", {
        "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}], "price": "100"})])
    assert rejected(priced(compiled, *(line(*item) for item in lines))) == {"BUN": reason}


COUPON_CATALOG = catalog(SKUS, [BOOK], [
    promotion("CPN", "coupon", {"amount": "20", "threshold": "100"}),
    promotion("CODE10", "percent_off", {"percent": "10"}, requires_coupon=True, skus=frozenset({"A"}))])


@pytest.mark.parametrize(("typed", "coupons", "outcome", "violations"), [
    ((), (), {"CPN": "coupon_required", "CODE10": "coupon_required"}, []),
    (("nope",), (), {"CPN": "coupon_required", "CODE10": "coupon_required"}, [("unknown_coupon", "NOPE")]),
    ((" save20 ",), (Coupon("SAVE20", "CPN", remaining_uses=1, customer_remaining=1),), {"CPN": 2000}, []),
    (("SAVE20",), (Coupon("SAVE20", "CPN", remaining_uses=0),), {"CPN": "coupon_used_up"}, []),
    (("SAVE20",), (Coupon("SAVE20", "CPN", customer_remaining=0),), {"CPN": "coupon_customer_limit"}, []),
    (("TEN", "SAVE20"), (Coupon("SAVE20", "CPN"), Coupon("TEN", "CODE10")), {"CPN": 2000, "CODE10": 2000}, []),
])
def test_coupons(typed: tuple[str, ...], coupons: tuple[Coupon, ...], outcome: dict[str, Any],
                 violations: list[tuple[str, str]]) -> None:
    result = priced(COUPON_CATALOG, line("1", "A", 2), coupon_codes=typed, coupons=coupons)
    got: dict[str, Any] = {item.code: item.reason for item in result.rejected}
    got.update(applied(result))
    expected = {"CPN": "coupon_required", "CODE10": "coupon_required"} | outcome
    assert got == expected
    assert [(item.code, item.params["code"]) for item in result.violations] == violations
    assert all(not item.blocking for item in result.violations)
    for item in result.applied:
        assert item.coupon == {"CPN": "SAVE20", "CODE10": "TEN"}[item.code]


@pytest.mark.parametrize(("quota", "reason"), [(Quota(remaining_uses=0), "quota_used_up"),
                                               (Quota(remaining_budget=0), "budget_used_up")])
def test_quota_used_up(quota: Quota, reason: str) -> None:
    result = priced(_one("percent_off", {"percent": "10"}), line("1", "A"), quotas={"P": quota})
    assert rejected(result) == {"P": reason}
    assert result.totals.total_amount == 10000


def test_budget_caps_a_line_promotion_over_its_lines() -> None:
    result = priced(_one("percent_off", {"percent": "10"}), line("1", "A", 3), line("2", "A", 1),
                    quotas={"P": Quota(remaining_uses=5, remaining_budget=500)})
    assert [(item.code, item.discount, item.capped) for item in result.applied] == [("P", 500, True)]
    first, second = result.lines
    assert (first.total_amount, second.total_amount) == (29625, 9875)
    assert steps(first)[-1] == ("promotion", "P", -375)
    assert steps(second)[-1] == ("promotion", "P", -125)


def test_budget_caps_an_order_promotion() -> None:
    compiled = _order("spend_save", {"threshold": "100", "amount": "20"})
    result = priced(compiled, line("1", "A", 3), quotas={"O": Quota(remaining_budget=500)})
    assert [(item.code, item.discount, item.capped) for item in result.applied] == [("O", 500, True)]
    assert result.totals.total_amount == 29500


STACK_SKUS = frozenset({"A"})


def test_same_stacking_group_keeps_the_higher_priority() -> None:
    compiled = catalog(SKUS, [BOOK], [
        promotion("P2", "percent_off", {"percent": "20"}, priority=1, stacking_group="g", skus=STACK_SKUS),
        promotion("P1", "percent_off", {"percent": "10"}, priority=5, stacking_group="g", skus=STACK_SKUS)])
    result = priced(compiled, line("1", "A"))
    assert result.lines[0].total_amount == 9000
    assert [(item.code, item.reason, dict(item.params)) for item in result.rejected] == [
        ("P2", "stacking_group", {"by": "P1"})]


def test_different_groups_stack_in_priority_then_code_order() -> None:
    compiled = catalog(SKUS, [BOOK], [
        promotion("PB", "amount_off", {"amount": "10"}, stacking_group="g2", skus=STACK_SKUS),
        promotion("PA", "percent_off", {"percent": "10"}, stacking_group="g1", skus=STACK_SKUS),
        promotion("PC", "percent_off", {"percent": "50"}, priority=-1, skus=STACK_SKUS)])
    (only,) = priced(compiled, line("1", "A")).lines
    # PA 10 % of 100 → 90; PB −10 → 80; PC (lower priority) 50 % of 80 → 40
    assert steps(only) == [("list_price", "BASE", 10000), ("promotion", "PA", -1000), ("promotion", "PB", -1000),
                           ("promotion", "PC", -4000)]
    assert only.promotions == ["PA", "PB", "PC"]


def test_exclusive_first_holds_the_line_against_every_phase() -> None:
    compiled = catalog(SKUS, [BOOK], [
        promotion("X", "percent_off", {"percent": "20"}, priority=10, exclusive=True, skus=STACK_SKUS),
        promotion("P1", "percent_off", {"percent": "10"}, priority=5, skus=STACK_SKUS),
        promotion("O", "spend_save", {"threshold": "10", "amount": "1"})])
    result = priced(compiled, line("1", "A"), line("2", "B"))
    assert by_key(result)["1"].total_amount == 8000
    assert by_key(result)["2"].total_amount == 2900
    assert [(item.code, item.reason, dict(item.params)) for item in result.rejected] == [
        ("P1", "exclusive", {"by": "X"})]
    assert [(item.code, item.lines) for item in result.applied] == [("X", ("1",)), ("O", ("2",))]


def test_exclusive_later_finds_the_line_taken() -> None:
    compiled = catalog(SKUS, [BOOK], [
        promotion("X", "percent_off", {"percent": "20"}, priority=1, exclusive=True, skus=STACK_SKUS),
        promotion("P1", "percent_off", {"percent": "10"}, priority=5, skus=STACK_SKUS)])
    result = priced(compiled, line("1", "A"))
    assert result.lines[0].total_amount == 9000
    assert [(item.code, item.reason, dict(item.params)) for item in result.rejected] == [
        ("X", "exclusive", {"by": "P1"})]


def test_stacking_group_spans_phases_and_thresholds_count_only_takeable_lines() -> None:
    compiled = catalog(SKUS, [BOOK], [
        promotion("L", "percent_off", {"percent": "10"}, stacking_group="g", skus=STACK_SKUS),
        promotion("O", "spend_save", {"threshold": "100", "amount": "10"}, stacking_group="g")])
    result = priced(compiled, line("1", "A", 3), line("2", "B", 5))
    assert [item.total_amount for item in result.lines] == [27000, 14000]
    assert [(item.code, item.lines) for item in result.applied] == [("L", ("1",)), ("O", ("2",))]
    only_a = priced(compiled, line("1", "A", 3))
    assert [(item.code, item.reason, dict(item.params)) for item in only_a.rejected] == [
        ("O", "stacking_group", {"by": "L"})]
    too_small = priced(compiled, line("1", "A", 3), line("2", "B", 3))  # B alone: 90 < 100
    assert rejected(too_small) == {"O": "below_threshold"}


@pytest.mark.parametrize(("scope", "customer", "reason"), [
    (Scope(regions=frozenset({"广东"})), CustomerContext(region="广东/深圳"), None),
    (Scope(regions=frozenset({"广东/广州"})), CustomerContext(region="广东/深圳"), "customer"),
    (Scope(regions=frozenset({"广东"})), CustomerContext(region="广东省"), "customer"),
    (Scope(departments=frozenset({3})), CustomerContext(department_ids=frozenset({5, 3, 1})), None),
    (Scope(departments=frozenset({3})), CustomerContext(department_ids=frozenset({4, 1})), "customer"),
    (Scope(accounts=frozenset({9})), CustomerContext(account_id=9), None),
    (Scope(accounts=frozenset({9})), CustomerContext(), "customer"),
    (Scope(groups=frozenset({"tag:教育"})), CustomerContext(groups=frozenset({"tag:教育", "level:key"})), None),
])
def test_customer_eligibility(scope: Scope, customer: CustomerContext, reason: str | None) -> None:
    result = priced(_one("percent_off", {"percent": "10"}, customers=scope), line("1", "A"), customer=customer)
    assert rejected(result) == ({"P": reason} if reason else {})


def test_line_eligibility_by_product_and_category() -> None:
    compiled = catalog(SKUS, [BOOK], [
        promotion("HW", "percent_off", {"percent": "10"}, categories=frozenset({"hw"})),
        promotion("PROD", "amount_off", {"amount": "1"}, products=frozenset({"P-B"})),
        promotion("SVC", "percent_off", {"percent": "50"}, categories=frozenset({"install"}))])
    result = priced(compiled, line("1", "A"), line("2", "B"))
    assert [item.promotions for item in result.lines] == [["HW"], ["HW", "PROD"]]
    assert rejected(result) == {"SVC": "not_eligible"}


def test_unknown_coupon_never_blocks() -> None:
    result = priced(COUPON_CATALOG, line("1", "A"), coupon_codes=("x1",))
    assert Violation("unknown_coupon", None, False, {"code": "X1"}) in result.violations


@pytest.mark.parametrize(("kind", "params"), [("gift", {"min_quantity": 1, "gift_sku": "B"}),
                                              ("free_accessory", {"accessory_sku": "B"})])
def test_a_gift_whose_cost_is_kept_in_another_currency_is_not_given(kind: str, params: dict[str, Any]) -> None:
    skus = [sku("A", cost="40"), sku("B", cost="20", cost_currency="USD")]
    compiled = catalog(skus, [base(fixed("A", "100"), fixed("B", "30"))],
                       [promotion("G", kind, params, skus=frozenset({"A"}))])
    result = priced(compiled, line("1", "A", 2))
    assert [(item.sku, item.is_gift) for item in result.lines] == [("A", False)]
    assert [(item.code, item.reason, dict(item.params)) for item in result.rejected] == [
        ("G", "cost_currency", {"sku": "B", "cost_currency": "USD", "currency": "CNY"})]
    assert result.totals.cost_amount == 8000
