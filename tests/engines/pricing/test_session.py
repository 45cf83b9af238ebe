"""PricingSession: edits re-price to exactly what a fresh price of the edited request gives."""

from __future__ import annotations

import gc
import threading

import pytest

from l2c.engines.pricing import PricingSession, price
from l2c.engines.pricing.engine import _pricing_scope
from l2c.engines.pricing.types import MarginPolicy, MarginThreshold

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


# Spend 500 save 20, allocated over the lines in proportion; a line promotion on B; a margin threshold.
REUSING = catalog([sku("A", cost="60"), sku("B", cost="25"), sku("C", cost="1")],
                  [base(fixed("A", "100"), fixed("B", "30"), fixed("C", "10"))],
                  [promotion("O", "spend_save", {"threshold": "500", "amount": "20"}),
                   promotion("P", "percent_off", {"percent": "10"}, skus=frozenset({"B"}))],
                  MarginPolicy(thresholds=(MarginThreshold(D(40), 1),)))


def test_unchanged_lines_are_reused_and_changed_ones_rebuilt() -> None:
    session = PricingSession(REUSING, request(line("1", "A"), line("2", "B", 3), line("3", "C", 2),
                                              line("4", "A", 2)))
    before = session.result
    # 100 + 81 + 20 + 200 = 401 < 500: the order promotion is not reached
    assert [applied.code for applied in before.applied] == ["P"]
    # Only line 3 changes (no promotion crosses a threshold): the other lines' results are the same objects.
    edited = session.update_line(line("3", "C", 5))
    assert edited == price(REUSING, session.request)
    assert [after is earlier for after, earlier in zip(edited.lines, before.lines, strict=True)] == [
        True, True, False, True]
    assert [approval.line for approval in edited.approvals] == [approval.line for approval in before.approvals]
    # Now the cart passes 500: every line takes a part of the order promotion and is rebuilt.
    crossed = session.update_line(line("4", "A", 4))
    assert crossed == price(REUSING, session.request)
    assert [applied.code for applied in crossed.applied] == ["P", "O"]
    assert not any(after is earlier for after, earlier in zip(crossed.lines, edited.lines, strict=True))
    # Back under it: the lines that lose their part are rebuilt again, totals re-summed.
    under = session.update_line(line("4", "A", 1))
    assert under == price(REUSING, session.request)
    assert under.totals == price(REUSING, session.request).totals


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


def test_the_garbage_collector_is_left_as_it_was() -> None:
    assert gc.isenabled()
    price(COMPILED, request(line("1", "A")))
    assert gc.isenabled()
    gc.disable()
    try:
        price(COMPILED, request(line("1", "A")))
        assert not gc.isenabled()
    finally:
        gc.enable()


def _overlapping_scopes() -> list[bool]:
    """Thread A enters the pricing scope, then B; A leaves first, then B (the order that used to leave
    the collector off). Returns gc.isenabled() seen after A left and after B left."""
    a_in, b_in, a_out, b_may_leave = (threading.Event() for _ in range(4))
    seen: list[bool] = []

    def first() -> None:
        with _pricing_scope():
            a_in.set()
            assert b_in.wait(5)
        seen.append(gc.isenabled())
        a_out.set()

    def second() -> None:
        assert a_in.wait(5)
        with _pricing_scope():
            b_in.set()
            assert b_may_leave.wait(5)
        seen.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert a_out.wait(5)
    b_may_leave.set()
    for thread in threads:
        thread.join(5)
    return seen


def test_overlapping_prices_in_two_threads_restore_the_collector() -> None:
    assert gc.isenabled()
    assert _overlapping_scopes() == [False, True]  # still paused while B prices; resumed when B is done
    assert gc.isenabled()


def test_overlapping_prices_keep_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        assert _overlapping_scopes() == [False, False]
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("enabled", [True, False])
def test_concurrent_prices_leave_the_collector_as_it_was(enabled: bool) -> None:
    compiled = catalog([sku(f"S{number}") for number in range(20)],
                       [base(*(fixed(f"S{number}", str(number + 1)) for number in range(20)))],
                       [promotion("O", "spend_save", {"threshold": "50", "amount": "5", "repeat": True})])
    cart = request(*(line(str(number), f"S{number % 20}", number % 7 + 1) for number in range(300)))
    expected = price(compiled, cart)
    start = threading.Barrier(8)
    results: list[object] = []

    def work() -> None:
        start.wait(5)
        for _ in range(15):
            results.append(price(compiled, cart))

    if not enabled:
        gc.disable()
    try:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert len(results) == 8 * 15
    assert all(result == expected for result in results)
