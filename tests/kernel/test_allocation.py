from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2c.kernel.money import allocate_minor

D = Decimal

weight_values = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
)
weight_lists = st.lists(weight_values, min_size=1, max_size=30)
totals = st.integers(min_value=-(10**12), max_value=10**12)


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (1000, [1, 1, 1, 1, 1, 1, 1], [143, 143, 143, 143, 143, 143, 142]),
        (1, [1, 1, 1], [1, 0, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (100, [1], [100]),
        (100, [0, 1], [0, 100]),
        (100, [1, 2, 3, 4], [10, 20, 30, 40]),
        (10, [1, 2, 3, 4], [1, 2, 3, 4]),
        # 1.5 and 3.5: equal remainders, the larger weight takes the spare unit.
        (5, [3, 7], [1, 4]),
        (5, [7, 3], [4, 1]),
        # 3.5, 1.75, 1.75 -> the two .75 remainders win.
        (7, [D("0.5"), D("0.25"), D("0.25")], [3, 2, 2]),
        # 33.3, 33.3, 33.4 -> remainders .3 .3 .4; the third and then the first win.
        (100, [D("33.3"), D("33.3"), D("33.4")], [33, 33, 34]),
        (10, [D("0.333"), D("0.333"), D("0.334")], [3, 3, 4]),
        # Mixed int and Decimal weights: shares 2.5, 5, 2.5.
        (10, [1, D("2.0"), 1], [3, 5, 2]),
        # All-zero weights split equally.
        (10, [0, 0, 0], [4, 3, 3]),
        (3, [0, 0], [2, 1]),
        # Negative totals mirror the positive allocation.
        (-100, [1, 1, 1], [-34, -33, -33]),
        (-5, [3, 7], [-1, -4]),
        (0, [1, 2], [0, 0]),
        (0, [], []),
        (10**18, [1, 1, 1], [333333333333333334, 333333333333333333, 333333333333333333]),
    ],
)
def test_allocation_table(total, weights, parts):
    assert allocate_minor(total, weights) == parts


def test_empty_weights_with_a_non_zero_total_is_rejected():
    with pytest.raises(ValueError, match="no weights"):
        allocate_minor(5, [])


def test_negative_weight_is_rejected():
    with pytest.raises(ValueError, match=r"weights\[1\] must not be negative"):
        allocate_minor(5, [1, -1])


@pytest.mark.parametrize("weights", [[1.0, 2.0], [True, False], ["1"]])
def test_float_and_other_weight_types_are_rejected(weights):
    with pytest.raises(TypeError):
        allocate_minor(5, weights)


@pytest.mark.parametrize("total", [5.0, D("5"), True])
def test_total_must_be_an_int(total):
    with pytest.raises(TypeError):
        allocate_minor(total, [1, 1])


def test_non_finite_weight_is_rejected():
    with pytest.raises(ValueError, match="finite"):
        allocate_minor(5, [D("Infinity")])


@given(total=totals, weights=weight_lists)
def test_parts_always_sum_to_the_total(total, weights):
    parts = allocate_minor(total, weights)

    assert len(parts) == len(weights)
    assert all(type(part) is int for part in parts)
    assert sum(parts) == total


@given(total=totals, weights=weight_lists)
def test_no_part_deviates_from_its_exact_share_by_one_unit(total, weights):
    parts = allocate_minor(total, weights)
    exact = [Fraction(weight) for weight in weights]
    weight_sum = sum(exact)
    if weight_sum == 0:
        exact = [Fraction(1)] * len(weights)
        weight_sum = Fraction(len(weights))

    for part, weight in zip(parts, exact, strict=True):
        assert abs(part - total * weight / weight_sum) < 1


@given(total=totals, weights=weight_lists)
def test_negative_total_mirrors_the_positive_total(total, weights):
    assert allocate_minor(-total, weights) == [-part for part in allocate_minor(total, weights)]


@given(data=st.data(), total=totals, weights=weight_lists)
def test_allocation_is_independent_of_input_order(data, total, weights):
    permuted = data.draw(st.permutations(weights))

    pairs = sorted(zip(weights, allocate_minor(total, weights), strict=True))
    permuted_pairs = sorted(zip(permuted, allocate_minor(total, permuted), strict=True))

    assert pairs == permuted_pairs


@given(total=totals, weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=30))
def test_larger_weight_never_gets_a_smaller_part(total, weights):
    parts = allocate_minor(abs(total), weights)

    for first_weight, first_part in zip(weights, parts, strict=True):
        for second_weight, second_part in zip(weights, parts, strict=True):
            if first_weight > second_weight:
                assert first_part >= second_part


@given(total=totals, weights=weight_lists, factor=st.integers(min_value=1, max_value=1000))
def test_scaling_all_weights_does_not_change_the_allocation(total, weights, factor):
    assert allocate_minor(total, [weight * factor for weight in weights]) == allocate_minor(total, weights)
