"""Forecast engine: roll-ups computed by hand, the department tree, Brier, calibration, accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from l2c.engines.forecast import (
    Cell,
    brier,
    calibration,
    category_index,
    expected_amounts,
    period_accuracy,
    rollup,
    tree_rollup,
)


def ints(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_expected_amount_rounds_half_up_per_deal() -> None:
    # 1,001 fen × 50 % = 500.5 → 501; 999 × 33.3 % = 332.667 → 333; 10 × 0 = 0
    assert expected_amounts(ints([1001, 999, 10]), ints([500, 333, 0])).tolist() == [501, 333, 0]


def test_rollup_by_owner_and_category_by_hand() -> None:
    owners = ints([7, 7, 7, 8])
    categories = category_index(["commit", "commit", "pipeline", "commit"])
    amounts = ints([100_000, 50_001, 20_000, 30_000])
    permille = ints([800, 800, 100, 500])
    cells = rollup(owners, categories, amounts, permille)
    assert cells == {
        (7, "commit"): Cell(2, 150_001, 80_000 + 40_001),  # 50,001 × 0.8 = 40,000.8 → 40,001
        (7, "pipeline"): Cell(1, 20_000, 2_000),
        (8, "commit"): Cell(1, 30_000, 15_000),
    }


def test_rollup_keeps_every_fen_of_large_amounts() -> None:
    big = 2**53 + 1  # beyond float precision
    cells = rollup(ints([1, 1]), category_index(["commit", "commit"]), ints([big, 1]), ints([1000, 1000]))
    assert cells[(1, "commit")] == Cell(2, big + 1, big + 1)


def test_empty_and_mismatched_input() -> None:
    assert rollup(ints([]), ints([]), ints([]), ints([])) == {}
    with pytest.raises(ValueError, match="different lengths"):
        rollup(ints([1]), ints([]), ints([1]), ints([1]))


def test_tree_rollup_adds_descendants_to_ancestors() -> None:
    # 1 centre → 2 east → 4 shanghai; 1 → 3 north
    parents = {1: None, 2: 1, 3: 1, 4: 2}
    cells = {(4, "commit"): Cell(1, 100, 50), (2, "commit"): Cell(2, 10, 5), (3, "pipeline"): Cell(1, 7, 1)}
    totals = tree_rollup(cells, parents)
    assert totals == {
        (4, "commit"): Cell(1, 100, 50),
        (2, "commit"): Cell(3, 110, 55),
        (1, "commit"): Cell(3, 110, 55),
        (3, "pipeline"): Cell(1, 7, 1),
        (1, "pipeline"): Cell(1, 7, 1),
    }
    with pytest.raises(ValueError, match="cycle"):
        tree_rollup({(5, "commit"): Cell(1, 1, 1)}, {5: 6, 6: 5})


def test_brier_by_hand() -> None:
    # ((0.8−1)² + (0.3−0)² + (0.5−1)²) / 3 = (0.04 + 0.09 + 0.25) / 3
    assert brier(np.array([0.8, 0.3, 0.5]), ints([1, 0, 1])) == pytest.approx(0.38 / 3)
    with pytest.raises(ValueError):
        brier(np.array([]), ints([]))


def test_calibration_table() -> None:
    table = calibration(np.array([0.05, 0.15, 0.12, 0.95, 1.0]), ints([0, 1, 0, 1, 1]), bins=10)
    assert [(row.low, row.count, row.observed_rate) for row in table] == [
        (0.0, 1, 0.0), (pytest.approx(0.1), 2, 0.5), (pytest.approx(0.9), 2, 1.0)]
    assert table[1].mean_probability == pytest.approx(0.135)


def test_period_accuracy() -> None:
    assert period_accuracy("2026-10", 110, 100).error_percent == 10.0
    assert period_accuracy("2026-10", 75, 100).error_percent == -25.0
    assert period_accuracy("2026-10", 75, 0).error_percent is None
