"""The nine price kinds and book selection, with worked values (fen)."""

from __future__ import annotations

from datetime import date

import pytest

from l2c.engines.pricing import CompiledCatalog
from l2c.engines.pricing.types import (
    AttributeAdjustment,
    BookConsidered,
    CustomerContext,
    MarginPolicy,
    PriceEntry,
    Scope,
    Tier,
    Violation,
)

from ._build import D, base, book, by_key, catalog, fixed, line, priced, sku, steps

TIERS = (Tier(D(1), D(10)), Tier(D(10), D(8)), Tier(D(50), D(6)))
TIERS_WITH_FEES = (Tier(D(1), D(10)), Tier(D(10), D(8), D(5)), Tier(D(50), D(6), D(20)))


def test_base_list_price_line() -> None:
    compiled = catalog([sku("A")], [base(fixed("A", "100"))])
    result = priced(compiled, line("1", "A", 3))
    (only,) = result.lines
    assert (only.list_price, only.unit_price, only.total_amount, only.net_amount, only.tax_amount) == (
        D("100.0000"), D("100.0000"), 30000, 26549, 3451)
    assert steps(only) == [("list_price", "BASE", 30000)]
    assert only.price_book == "BASE"
    assert result.totals.discount_amount == 0


@pytest.mark.parametrize(("mode", "tiers", "quantity", "total"), [
    ("volume", TIERS, 1, 1000),
    ("volume", TIERS, 9, 9000),
    ("volume", TIERS, 10, 8000),  # every unit at the tier reached
    ("volume", TIERS, 49, 39200),
    ("volume", TIERS, 50, 30000),
    ("graduated", TIERS, 9, 9000),
    ("graduated", TIERS, 10, 9800),  # 9 × 10 + 1 × 8
    ("graduated", TIERS, 49, 41000),  # 9 × 10 + 40 × 8
    ("graduated", TIERS, 50, 41600),  # 9 × 10 + 40 × 8 + 1 × 6
    ("volume", TIERS_WITH_FEES, 9, 9000),
    ("volume", TIERS_WITH_FEES, 10, 8500),  # that tier's fee only
    ("volume", TIERS_WITH_FEES, 50, 32000),
    ("graduated", TIERS_WITH_FEES, 10, 10300),  # fee of every tier entered
    ("graduated", TIERS_WITH_FEES, 50, 44100),
])
def test_tiers_at_the_edges(mode: str, tiers: tuple[Tier, ...], quantity: int, total: int) -> None:
    compiled = catalog([sku("A")], [base(PriceEntry("A", tier_mode=mode, tiers=tiers))])
    (only,) = priced(compiled, line("1", "A", quantity)).lines
    assert only.total_amount == total
    assert only.list_price == D("10.0000")
    assert steps(only) == [("list_price", "BASE", quantity * 1000), ("tier", "BASE", total - quantity * 1000)]


def test_tiers_starting_at_zero_match_tiers_starting_at_one() -> None:
    zero = (Tier(D(0), D(10)), Tier(D(10), D(8)))
    compiled = catalog([sku("A")], [base(PriceEntry("A", tier_mode="graduated", tiers=zero))])
    assert [priced(compiled, line("1", "A", q)).totals.total_amount for q in (9, 10, 11)] == [9000, 9800, 10600]


@pytest.mark.parametrize(("quantity", "total", "block_step"), [
    (1, 5000, 4500), (10, 5000, 0), (11, 10000, 4500), (20, 10000, 0), (D("0.5"), 5000, 4750)])
def test_block_price_is_per_started_block(quantity: object, total: int, block_step: int) -> None:
    entry = PriceEntry("C", method="block", unit_price=D(50), block_size=D(10))
    compiled = catalog([sku("C")], [base(entry)])
    (only,) = priced(compiled, line("1", "C", str(quantity))).lines
    assert only.total_amount == total
    assert only.list_price == D("5.0000")
    assert steps(only)[1] == ("block", "BASE", block_step)


def test_cost_plus_uses_the_line_cost_when_given() -> None:
    entry = PriceEntry("S", method="cost_plus", markup_percent=D(25))
    compiled = catalog([sku("S", cost="80")], [base(entry)])
    result = priced(compiled, line("1", "S", 2), line("2", "S", 2, unit_cost=D(40)))
    lines = by_key(result)
    assert (lines["1"].total_amount, lines["1"].list_price, lines["1"].cost_amount) == (20000, D("100.0000"), 16000)
    assert (lines["2"].total_amount, lines["2"].list_price, lines["2"].cost_amount) == (10000, D("50.0000"), 8000)
    assert steps(lines["1"]) == [("list_price", "BASE", 20000), ("cost_plus", "BASE", 0)]


def test_percent_of_total_takes_the_listed_categories_and_types() -> None:
    skus = [sku("A", path=("hw", "server")), sku("B", path=("hw", "disk")), sku("C", path=("svc",), kind="service"),
            sku("S", path=("svc",), kind="service", rate="0.06"), sku("T", path=("svc",), kind="service")]
    compiled = catalog(skus, [base(
        fixed("A", "100"), fixed("B", "50"), fixed("C", "100"),
        PriceEntry("S", method="percent_of_total", percent=D(15), percent_of=frozenset({"hw"})),
        PriceEntry("T", method="percent_of_total", percent=D(10), percent_of=frozenset({"type:service"})))])
    result = priced(compiled, line("1", "A", 2), line("2", "B"), line("3", "C"), line("4", "S"), line("5", "T", 2))
    lines = by_key(result)
    assert lines["4"].total_amount == 3750  # 15 % × (200 + 50)
    assert lines["4"].list_price == D("37.5000")
    assert steps(lines["4"]) == [("list_price", "BASE", 3750), ("percent_of_total", "BASE", 0)]
    assert lines["5"].total_amount == 2000  # 10 % × 100 (C only: percent lines are not a base) × 2
    assert result.totals.total_amount == 20000 + 5000 + 10000 + 3750 + 2000


def test_percent_of_total_counts_attribute_adjusted_amounts() -> None:
    skus = [sku("A", attributes={"colour": "red"}), sku("S", path=("svc",), kind="service")]
    compiled = catalog(skus, [base(fixed("A", "100"), PriceEntry("S", method="percent_of_total", percent=D(15),
                                                                   percent_of=frozenset({"hw"})),
                                   adjustments=[AttributeAdjustment("colour", "red", percent=D(10))])])
    lines = by_key(priced(compiled, line("1", "A", 2), line("2", "S")))
    assert lines["1"].total_amount == 22000
    assert lines["2"].total_amount == 3300


def test_attribute_adjustments_amount_and_percent_with_line_override() -> None:
    adjustments = [
        AttributeAdjustment("colour", "red", percent=D(10), code="red+10%"),
        AttributeAdjustment("capacity", "2T", amount=D(20), code="2T+20"),
        AttributeAdjustment("colour", "red", amount=D(99), categories=frozenset({"other"}), code="not-this-category"),
        AttributeAdjustment("colour", "black", amount=D(-5), code="black-5"),
    ]
    compiled = catalog([sku("A", attributes={"colour": "black", "capacity": "2T"})],
                       [base(fixed("A", "100"), adjustments=adjustments)])
    lines = by_key(priced(compiled, line("1", "A", 2, attributes={"colour": "red"}), line("2", "A", 2)))
    assert steps(lines["1"]) == [("list_price", "BASE", 20000), ("attribute", "2T+20", 4000),
                                 ("attribute", "red+10%", 2000)]
    assert lines["1"].total_amount == 26000
    assert steps(lines["2"]) == [("list_price", "BASE", 20000), ("attribute", "2T+20", 4000),
                                 ("attribute", "black-5", -1000)]  # by attribute code


def _scoped_catalog() -> CompiledCatalog:
    return catalog([sku("A"), sku("B")], [
        base(fixed("A", "100"), fixed("B", "10")),
        book("CONTRACT-42", [fixed("A", "90")], scope=Scope(accounts=frozenset({42}))),
        book("KEY", [fixed("A", "95")], scope=Scope(groups=frozenset({"level:key"}))),
        book("SOUTH", [fixed("A", "97")], priority=5, scope=Scope(regions=frozenset({"广东"}))),
        book("CHANNEL", [fixed("A", "93")], scope=Scope(departments=frozenset({7}))),
        book("LATER", [fixed("A", "1")], priority=99, valid_from=date(2026, 7, 1)),
        book("OLD", [fixed("A", "2")], priority=99, valid_to=date(2026, 5, 31)),
        book("USD", [fixed("A", "14")], priority=99, currency="USD"),
    ])


@pytest.mark.parametrize(("customer", "book_code", "total"), [
    (CustomerContext(account_id=42, groups=frozenset({"level:key"})), "CONTRACT-42", 9000),  # account before group
    (CustomerContext(account_id=7, groups=frozenset({"level:key"})), "KEY", 9500),
    (CustomerContext(account_id=7, department_ids=frozenset({7, 1})), "CHANNEL", 9300),
    (CustomerContext(account_id=42, region="广东/深圳"), "SOUTH", 9700),  # priority beats specificity
    (CustomerContext(account_id=42, region="广东"), "SOUTH", 9700),
    (CustomerContext(account_id=8, region="北京"), "BASE", 10000),
])
def test_book_selection_by_priority_then_specificity(customer: CustomerContext, book_code: str, total: int) -> None:
    result = priced(_scoped_catalog(), line("1", "A"), customer=customer)
    (only,) = result.lines
    assert (only.price_book, only.total_amount, only.list_price) == (book_code, total, D("100.0000"))
    if book_code != "BASE":
        assert steps(only) == [("list_price", "BASE", 10000), ("price_book", book_code, total - 10000)]


def test_books_considered_give_the_reason() -> None:
    result = priced(_scoped_catalog(), line("1", "A"), customer=CustomerContext(account_id=8, region="北京"))
    assert result.books == (
        BookConsidered("LATER", False, "not_yet_valid", 99), BookConsidered("OLD", False, "expired", 99),
        BookConsidered("SOUTH", False, "scope_region", 5), BookConsidered("CONTRACT-42", False, "scope_account", 0),
        BookConsidered("KEY", False, "scope_group", 0), BookConsidered("CHANNEL", False, "scope_department", 0),
        BookConsidered("BASE", True, "applicable", 0), BookConsidered("USD", False, "other_currency", 99))


def test_forced_book_then_base() -> None:
    customer = CustomerContext(account_id=42, groups=frozenset({"level:key"}))
    result = priced(_scoped_catalog(), line("1", "A"), line("2", "B"), customer=customer,
                    price_book="KEY")
    lines = by_key(result)
    assert (lines["1"].price_book, lines["1"].total_amount) == ("KEY", 9500)
    assert (lines["2"].price_book, lines["2"].total_amount) == ("BASE", 1000)
    reasons = {item.code: item.reason for item in result.books}
    assert (reasons["KEY"], reasons["CONTRACT-42"], reasons["BASE"]) == ("forced", "not_forced", "applicable")


@pytest.mark.parametrize(("forced", "reason"), [("CHANNEL", "scope_department"), ("USD", "other_currency"),
                                               ("LATER", "not_yet_valid"), ("OLD", "expired")])
def test_forced_book_that_does_not_apply_is_a_blocking_violation_and_the_contract_still_wins(
        forced: str, reason: str) -> None:
    customer = CustomerContext(account_id=42, groups=frozenset({"level:key"}))
    result = priced(_scoped_catalog(), line("1", "A"), customer=customer, price_book=forced)
    assert (result.lines[0].price_book, result.lines[0].total_amount) == ("CONTRACT-42", 9000)
    assert result.violations == (Violation("price_book_not_applicable", None, True,
                                           {"price_book": forced, "reason": reason}),)
    reasons = {item.code: item.reason for item in result.books}
    assert (reasons[forced], reasons["CONTRACT-42"]) == (reason, "applicable")


def test_unknown_forced_book_falls_back_with_a_violation() -> None:
    result = priced(_scoped_catalog(), line("1", "A"), price_book="NOPE")
    assert result.lines[0].price_book == "BASE"
    assert result.violations == (Violation("unknown_price_book", None, False, {"price_book": "NOPE"}),)


def test_entry_only_in_a_scoped_book_lists_at_its_own_price() -> None:
    compiled = catalog([sku("X")], [base(), book("CONTRACT", [fixed("X", "70")], scope=Scope(
        accounts=frozenset({1})))])
    (only,) = priced(compiled, line("1", "X"), customer=CustomerContext(account_id=1)).lines
    assert (only.list_price, only.total_amount, steps(only)) == (D("70.0000"), 7000, [("list_price", "CONTRACT", 7000)])


@pytest.mark.parametrize(("action", "approvals", "blocking"), [("approval", [(1, "below_floor", "1")], []),
                                                                ("block", [], [("below_floor", "1")])])
def test_floor_price_after_discounts(action: str, approvals: list[tuple[int, str, str]],
                                     blocking: list[tuple[str, str]]) -> None:
    compiled = catalog([sku("A", cost="10")], [base(fixed("A", "100", floor_price=D(90)))],
                       policy=MarginPolicy(below_floor=action, below_floor_level=1))
    result = priced(compiled, line("1", "A", 2, manual_discount_percent=D(15)), line("2", "A", 2,
                                                                                    manual_discount_percent=D(10)))
    assert [(item.level, item.code, item.line) for item in result.approvals] == approvals
    assert [(item.code, item.line) for item in result.violations if item.blocking] == blocking
    assert by_key(result)["1"].total_amount == 17000
    assert by_key(result)["2"].total_amount == 18000  # exactly at the floor: fine


def test_no_price_unknown_sku_and_bad_quantity_are_blocking_and_priced_zero() -> None:
    compiled = catalog([sku("A", cost="5"), sku("N", cost="3")], [base(fixed("A", "100"))])
    result = priced(compiled, line("1", "A"), line("2", "N", 2), line("3", "ZZZ"), line("4", "A", 0),
                    line("5", "A", -1))
    assert [(v.code, v.line, v.blocking) for v in result.violations] == [
        ("no_price", "2", True), ("unknown_sku", "3", True), ("invalid_quantity", "4", True),
        ("invalid_quantity", "5", True)]
    assert [item.total_amount for item in result.lines] == [10000, 0, 0, 0, 0]
    assert result.totals.total_amount == 10000
    assert result.totals.cost_amount == 500 + 600


def test_a_cost_in_another_currency_blocks_the_line_unless_the_line_brings_its_cost() -> None:
    compiled = catalog([sku("A", cost="10", cost_currency="USD"), sku("B", cost="10")],
                       [base(fixed("A", "100"), fixed("B", "100"))])
    result = priced(compiled, line("1", "A"), line("2", "B"), line("3", "A", unit_cost=D(70)))
    assert result.violations == (Violation("cost_currency", "1", True,
                                           {"sku": "A", "cost_currency": "USD", "currency": "CNY"}),)
