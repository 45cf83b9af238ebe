"""PricingSession: edits re-price to exactly what a fresh price of the edited request gives."""

from __future__ import annotations

import pytest

from l2c.engines.pricing import PricingSession, price

from ._build import D, base, catalog, fixed, line, promotion, request, sku

COMPILED = catalog([sku("A"), sku("B")], [base(fixed("A", "100"), fixed("B", "30"))],
                   [promotion("O", "spend_save", {"threshold": "150", "amount": "15"})])


def test_edits_equal_fresh_prices() -> None:
    session = PricingSession(COMPILED, request(line("1", "A"), line("2", "B")))
    assert session.result.totals.total_amount == 13000
    updated = session.update_line(line("1", "A", 2))
    assert updated.totals.total_amount == 23000 - 1500
    assert updated == price(COMPILED, session.request)
    added = session.add_line(line("3", "B", 2))
    assert [item.key for item in added.lines] == ["1", "2", "3"]
    assert added == price(COMPILED, session.request)
    removed = session.remove_line("1")
    assert [item.key for item in removed.lines] == ["2", "3"]
    assert removed.totals.total_amount == 9000
    assert removed == price(COMPILED, session.request) == session.result


def test_earlier_results_are_not_changed_by_later_edits() -> None:
    session = PricingSession(COMPILED, request(line("1", "A", 2)))
    before = session.result
    lines_before = [(item.total_amount, list(item.steps)) for item in before.lines]
    session.update_line(line("1", "A", 1, manual_discount_percent=D(50)))
    assert [(item.total_amount, list(item.steps)) for item in before.lines] == lines_before


def test_keys_must_exist_or_be_new() -> None:
    session = PricingSession(COMPILED, request(line("1", "A")))
    with pytest.raises(KeyError):
        session.update_line(line("9", "A"))
    with pytest.raises(KeyError):
        session.remove_line("9")
    with pytest.raises(ValueError, match="duplicate"):
        session.add_line(line("1", "B"))
    with pytest.raises(ValueError, match="duplicate"):
        PricingSession(COMPILED, request(line("1", "A"), line("1", "B")))


def test_unchanged_request_is_returned_as_is() -> None:
    original = request(line("1", "A"))
    assert PricingSession(COMPILED, original).request is original


def test_the_callers_decimal_context_changes_nothing() -> None:
    from decimal import ROUND_DOWN, localcontext

    from l2c.engines.pricing import compile_catalog
    from l2c.engines.pricing.types import MarginPolicy, PriceEntry

    def build() -> tuple[object, object]:
        compiled = compile_catalog(version=1, skus=[sku("A", cost="12.3456789")], books=[base(
            fixed("A", "1234567.891"), PriceEntry("B", method="block", unit_price=D(100), block_size=D(3)))],
            promotions=[promotion("P", "percent_off", {"percent": "33.333"})], policy=MarginPolicy())
        result = price(compiled, request(line("1", "A", "7.77")))
        return result.lines[0].unit_price, result
    expected = build()
    with localcontext() as context:
        context.prec = 3
        context.rounding = ROUND_DOWN
        assert build() == expected
