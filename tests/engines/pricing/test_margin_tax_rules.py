"""Margin guard, tax rounding, manual discount, and the rule parsers that refuse bad input on save."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from l2c.engines.pricing import RuleError, parse_entry, parse_params, validate_promotion
from l2c.engines.pricing.compile import BundleItem, BundleParams, SpendTier, TieredSpendParams
from l2c.engines.pricing.types import (
    Approval,
    MarginPolicy,
    MarginThreshold,
    PriceEntry,
    Promotion,
    Scope,
    Tier,
    Violation,
)

from ._build import D, base, book, by_key, catalog, fixed, line, priced, promotion, sku, steps

POLICY = MarginPolicy(below_cost="approval", below_cost_level=3, thresholds=(
    MarginThreshold(D(20), 1, "毛利低于20%"), MarginThreshold(D(10), 2, "毛利低于10%")))


@pytest.mark.parametrize(("price", "margin", "approvals"), [
    ("113", D("50.00"), []),  # net 100, cost 50
    ("96.05", D("41.18"), []),  # net 85: 35 / 85 = 41.176…
    ("67.80", D("16.67"), [(1, "margin")]),  # net 60: below 20 %, not below 10 %
    ("58.76", D("3.85"), [(2, "margin")]),  # net 52: below both → the highest level
    ("50", D("-12.99"), [(3, "below_cost"), (2, "margin")]),  # net 44.25 < cost 50: −5.75 / 44.25
])
def test_line_margin_thresholds_and_below_cost(price: str, margin: Decimal,
                                               approvals: list[tuple[int, str]]) -> None:
    compiled = catalog([sku("A", cost="50")], [base(fixed("A", price))], policy=POLICY)
    result = priced(compiled, line("1", "A"))
    assert result.lines[0].margin_percent == margin
    assert [(item.level, item.code) for item in result.approvals if item.line == "1"] == approvals
    quote = [(item.level, item.code) for item in result.approvals if item.line is None]
    assert quote == approvals[-1:] if approvals and approvals[-1][1] == "margin" else quote == []


def test_below_cost_blocks_when_the_policy_says_so() -> None:
    compiled = catalog([sku("A", cost="50")], [base(fixed("A", "50"))],
                       policy=MarginPolicy(below_cost="block", below_cost_level=3))
    result = priced(compiled, line("1", "A"))
    assert result.violations == (Violation("below_cost", "1", True, {"net_amount": 4425, "cost_amount": 5000}),)
    assert result.approvals == ()


def test_quote_margin_approval_counts_gift_cost() -> None:
    compiled = catalog([sku("A", cost="50"), sku("G", cost="30")], [base(fixed("A", "113"), fixed("G", "10"))],
                       [promotion("GIFT", "gift", {"min_quantity": 1, "gift_sku": "G"}, skus=frozenset({"A"}))],
                       policy=POLICY)
    result = priced(compiled, line("1", "A"))
    assert result.lines[0].margin_percent == D("50.00")  # the line alone is fine
    assert result.totals.cost_amount == 8000
    assert result.totals.margin_percent == D("20.00")  # (100 − 80) / 100: not below 20 %
    result = priced(compiled, line("1", "A", 1, unit_cost=D("51")))
    assert result.totals.margin_percent == D("19.00")
    assert result.approvals == (Approval(1, "margin", None, {"margin_percent": "19.00", "threshold": "20",
                                                             "name": "毛利低于20%"}),)


@pytest.mark.parametrize(("price", "quantity", "rate", "net", "tax"), [
    ("1.00", 1, "0.13", 88, 12),  # 0.884955… → 0.88
    ("0.01", 1, "0.13", 1, 0),
    ("0.05", 1, "0.13", 4, 1),  # 0.04424… → 0.04
    ("113", 1, "0.13", 10000, 1300),
    ("10.6", 3, "0.06", 3000, 180),
    ("1.09", 7, "0.09", 700, 63),
    ("99.99", 1, "0", 9999, 0),
    ("0.17", 1, "0.13", 15, 2),  # 0.150442… → 0.15
])
def test_tax_split_per_line_half_up(price: str, quantity: int, rate: str, net: int, tax: int) -> None:
    compiled = catalog([sku("A", rate=rate)], [base(fixed("A", price))])
    (only,) = priced(compiled, line("1", "A", quantity)).lines
    assert (only.net_amount, only.tax_amount, only.total_amount) == (net, tax, net + tax)


def test_net_rounds_half_up_exactly_at_the_half() -> None:
    # 0.565 at 13 %: 56.5 / 1.13 = 50.0 exactly; 1.695 at 13 % = 150 exactly → no rounding needed; 0.5 fen cases:
    compiled = catalog([sku("A", rate="0.03")], [base(fixed("A", "0.515"))])
    (only,) = priced(compiled, line("1", "A", 2)).lines  # 1.03 → net 1.00
    assert (only.total_amount, only.net_amount) == (103, 100)
    compiled = catalog([sku("B", rate="0")], [base(fixed("B", "0.005"))])
    assert priced(compiled, line("1", "B")).lines[0].total_amount == 1  # 0.5 fen → 1 fen


@pytest.mark.parametrize(("percent", "total", "violation"), [
    (D(0), 10000, None), (D("12.5"), 8750, None), (D(100), 0, None), (D(101), 10000, "invalid_discount"),
    (D(-1), 10000, "invalid_discount")])
def test_manual_discount(percent: Decimal, total: int, violation: str | None) -> None:
    compiled = catalog([sku("A")], [base(fixed("A", "100"))])
    result = priced(compiled, line("1", "A", manual_discount_percent=percent))
    assert result.lines[0].total_amount == total
    assert [(item.code, item.blocking) for item in result.violations] == ([(violation, True)] if violation else [])
    if total not in (10000,):
        assert steps(result.lines[0])[-1] == ("manual_discount", "", total - 10000)


def test_manual_discount_comes_after_order_promotions() -> None:
    compiled = catalog([sku("A")], [base(fixed("A", "100"))],
                       [promotion("O", "spend_save", {"threshold": "100", "amount": "10"})])
    (only,) = priced(compiled, line("1", "A", manual_discount_percent=D(10))).lines
    assert steps(only) == [("list_price", "BASE", 10000), ("order_promotion", "O", -1000),
                           ("manual_discount", "", -900)]


def test_unit_price_has_four_places() -> None:
    compiled = catalog([sku("A")], [base(fixed("A", "10"))],
                       [promotion("O", "spend_save", {"threshold": "10", "amount": "1"})])
    (only,) = priced(compiled, line("1", "A", 3)).lines
    assert (only.total_amount, only.unit_price) == (2900, D("9.6667"))


# --- parsers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "params", "code", "field"), [
    ("nope", {}, "unknown_kind", "kind"),
    ("percent_off", {}, "required", "percent"),
    ("percent_off", {"percent": "abc"}, "invalid_number", "percent"),
    ("percent_off", {"percent": True}, "invalid_number", "percent"),
    ("percent_off", {"percent": "0"}, "percent_range", "percent"),
    ("percent_off", {"percent": "101"}, "percent_range", "percent"),
    ("percent_off", {"percent": "10", "extra": 1}, "unknown_field", "extra"),
    ("amount_off", {"amount": "-1"}, "positive", "amount"),
    ("fixed_price", {"price": "NaN"}, "invalid_number", "price"),
    ("group_price", {}, "one_of", "price"),
    ("group_price", {"price": "1", "percent": "2"}, "one_of", "percent"),
    ("buy_n_get_m", {"n": "1.5", "m": 1}, "integer", "n"),
    ("buy_n_get_m", {"n": 2, "m": 0}, "positive", "m"),
    ("nth_item", {"n": 1, "percent": 50}, "minimum", "n"),
    ("gift", {"min_quantity": 1}, "required", "gift_sku"),
    ("gift", {"min_quantity": 1, "gift_sku": "G", "repeat": "yes"}, "invalid_boolean", "repeat"),
    ("free_accessory", {"accessory_sku": "S", "quantity_per_unit": 0}, "positive", "quantity_per_unit"),
    ("bundle", {"items": [], "price": "1"}, "required", "items"),
    ("bundle", {"items": [{"sku": "A"}], "price": "1"}, "bundle_too_small", "items"),
    ("bundle", {"items": [{"sku": "A"}, {"sku": "A"}], "price": "1"}, "duplicate", "items.1.sku"),
    ("bundle", {"items": [{"sku": "A", "quantity": 0}, {"sku": "B"}], "price": "1"}, "positive", "items.0.quantity"),
    ("spend_save", {"threshold": "0", "amount": "1"}, "positive", "threshold"),
    ("tiered_spend", {"tiers": [{"threshold": "3000", "amount": "400"}, {"threshold": "1000", "amount": "100"}]},
     "not_ascending", "tiers.1.threshold"),
    ("tiered_spend", {"tiers": [{"threshold": "100", "amount": "400"}]}, "amount_above_threshold", "tiers.0.amount"),
    ("coupon", {"amount": "5", "percent": "5"}, "one_of", "percent"),
])
def test_parse_params_names_the_wrong_field(kind: str, params: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_params(kind, params)
    assert (caught.value.code, caught.value.field, caught.value.message_key) == (code, field, f"pricing.rule.{code}")


def test_parse_params_types() -> None:
    assert parse_params("tiered_spend", {"tiers": [{"threshold": 1000, "amount": 100.5}]}) == TieredSpendParams(
        (SpendTier(D(1000), D("100.5")),))
    assert parse_params("bundle", {"items": [{"sku": "B", "quantity": 2}, {"sku": "A"}], "price": "9"}) == BundleParams(
        (BundleItem("A", 1), BundleItem("B", 2)), D(9))


@pytest.mark.parametrize(("entry", "code", "field"), [
    (PriceEntry("A", method="block", unit_price=D(5)), "required", "block_size"),
    (PriceEntry("A", method="block", unit_price=D(5), block_size=D(0)), "positive", "block_size"),
    (PriceEntry("A", method="cost_plus"), "required", "markup_percent"),
    (PriceEntry("A", method="percent_of_total", percent=D(5)), "required", "percent_of"),
    (PriceEntry("A", method="bogus"), "invalid_choice", "method"),
    (PriceEntry("A", tier_mode="volume"), "required", "tiers"),
    (PriceEntry("A", tier_mode="volume", tiers=(Tier(D(1), D(5)), Tier(D(1), D(4)))), "not_ascending",
     "tiers.1.min_quantity"),
    (PriceEntry("A", tier_mode="volume", tiers=(Tier(D(10), D(5)),)), "first_tier_start", "tiers.0.min_quantity"),
    (PriceEntry("A", tier_mode="graduated", tiers=(Tier(D(1), D(5), D(-1)),)), "non_negative", "tiers.0.flat_fee"),
    (PriceEntry("A", tiers=(Tier(D(1), D(5)),)), "tiers_without_mode", "tier_mode"),
    (PriceEntry("A", unit_price=D(-1)), "non_negative", "unit_price"),
])
def test_parse_entry_refuses_inconsistent_entries(entry: PriceEntry, code: str, field: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_entry(entry)
    assert (caught.value.code, caught.value.field) == (code, field)


@pytest.mark.parametrize(("rule", "code", "field"), [
    (Promotion("F", "F", "flash_price", {"price": "1"}), "validity_required", "valid_from"),
    (Promotion("G", "G", "group_price", {"price": "1"}), "groups_required", "groups"),
    (Promotion("V", "V", "percent_off", {"percent": "1"}, valid_from=datetime(2026, 2, 1, tzinfo=UTC),
               valid_to=datetime(2026, 1, 1, tzinfo=UTC)), "validity_order", "valid_to"),
])
def test_validate_promotion(rule: Promotion, code: str, field: str) -> None:
    with pytest.raises(RuleError) as caught:
        validate_promotion(rule)
    assert (caught.value.code, caught.value.field) == (code, field)
    validate_promotion(Promotion("G", "G", "group_price", {"price": "1"}, customers=Scope(groups=frozenset({"a"}))))


def test_compile_refuses_duplicates_and_names_the_rule() -> None:
    with pytest.raises(RuleError) as caught:
        catalog([sku("A")], [base(fixed("A", "1")), book("BASE")])
    assert (caught.value.code, caught.value.field) == ("duplicate", "books.BASE")
    with pytest.raises(RuleError) as caught:
        catalog([sku("A")], [base(PriceEntry("A", method="block"))])
    assert (caught.value.code, caught.value.field) == ("required", "BASE.entries.A.block_size")
    with pytest.raises(RuleError) as caught:
        catalog([sku("A")], [base()], [promotion("P", "percent_off", {})])
    assert (caught.value.code, caught.value.field) == ("required", "P.percent")


def test_line_results_sum_and_explain() -> None:
    compiled = catalog([sku("A", cost="10"), sku("B", cost="1")], [base(fixed("A", "33.33"), fixed("B", "0.07"))],
                       [promotion("O", "spend_percent", {"threshold": "1", "percent": "7"})])
    result = priced(compiled, line("1", "A", 3), line("2", "B", 7))
    lines = by_key(result)
    for item in lines.values():
        assert sum(step.amount for step in item.steps) == item.total_amount
    # 7 % of 100.48 = 7.0336 → 7.03
    assert sum(item.total_amount for item in lines.values()) == result.totals.total_amount == 9999 + 49 - 703


def test_thresholds_compare_by_value_not_by_writing() -> None:
    policy = MarginPolicy(thresholds=(MarginThreshold(D("12.5"), 2), MarginThreshold(D(20), 1)))
    compiled = catalog([sku("A", cost="50")], [base(fixed("A", "67.80"))], policy=policy)  # margin 16.67 %
    result = priced(compiled, line("1", "A"))
    assert [(item.level, item.line) for item in result.approvals] == [(1, "1"), (1, None)]
