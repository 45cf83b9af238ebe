"""Output types: cheap to build (named-tuple steps, lazily computed line values), same values and equality."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from l2c.engines.pricing.types import LazyUnitPrice, LineResult, Step

from ._build import D, base, catalog, fixed, line, priced, sku


def test_step_is_a_named_tuple_with_empty_params_by_default() -> None:
    step = Step("list_price", "BASE", "pricing.step.list_price", 1000)
    assert (step.kind, step.rule, step.message, step.amount, dict(step.params)) == (
        "list_price", "BASE", "pricing.step.list_price", 1000, {})
    assert isinstance(step.params, MappingProxyType)
    assert step == Step("list_price", "BASE", "pricing.step.list_price", 1000, {})
    assert step != Step("list_price", "BASE", "pricing.step.list_price", 999)


@pytest.mark.parametrize(("total", "quantity", "scale", "unit_price"), [
    (2900, "3", 100, D("9.6667")),
    (1000, "3", 100, D("3.3333")),
    (5, "3", 100, D("0.0167")),  # 0.016666… → half-up
    (0, "7", 100, D("0.0000")),
    (1234, "0.5", 100, D("24.6800")),
    (1001, "2", 1, D("500.5000")),  # a currency without minor units
])
def test_lazy_unit_price_is_total_over_quantity_to_four_places(total: int, quantity: str, scale: int,
                                                               unit_price: D) -> None:
    result = LineResult("1", "A", D(quantity), D(0), LazyUnitPrice(scale), 0, 0, total, 0, None, [], None)
    assert result.unit_price == unit_price
    assert str(result.unit_price) == str(unit_price)
    assert result.unit_price is result.unit_price  # computed once


@pytest.mark.parametrize(("net", "cost", "margin"), [
    (100, 80, D("20.00")), (300, 200, D("33.33")), (300, 100, D("66.67")), (100, 150, D("-50.00")),
    (3, 2, D("33.33")), (200, 199, D("0.50")), (0, 50, None),
])
def test_lazy_margin_percent(net: int, cost: int, margin: D | None) -> None:
    from l2c.engines.pricing.types import _LAZY

    result = LineResult("1", "A", D(1), D(0), D(0), net, 0, net, cost, _LAZY, [], None)
    assert result.margin_percent == margin
    assert str(result.margin_percent) == str(margin)


def test_priced_lines_equal_lines_built_with_explicit_values() -> None:
    compiled = catalog([sku("A", cost="6")], [base(fixed("A", "10"))])
    only = priced(compiled, line("1", "A", 3)).lines[0]
    explicit = LineResult("1", "A", D(3), D("10.0000"), D("10.0000"), 2655, 345, 3000, 1800, D("32.20"),
                          list(only.steps), "BASE", False, None, [])
    assert only == explicit
    assert repr(only) == repr(explicit)
    assert repr(only).startswith("LineResult(key='1', sku='A', quantity=Decimal('3'), list_price=Decimal('10.0000'), "
                                 "unit_price=Decimal('10.0000'), net_amount=2655,")
    assert only != LineResult("1", "A", D(3), D("10.0000"), D("10.0001"), 2655, 345, 3000, 1800, D("32.20"),
                              list(only.steps), "BASE", False, None, [])

