"""Forecast maths (销售预测): roll-ups by group and forecast category, the department tree, Brier
score, calibration table and backtest error. Pure; numpy arrays in, frozen dataclasses out.

Money is integer fen. A deal's expected amount is `amount × probability` with the probability in
per-mille, rounded half up to the fen *per deal*, so every roll-up is the exact sum of its deals and
drill-downs always add up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CATEGORIES = ("pipeline", "best_case", "commit", "closed", "omitted")
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Cell:
    """One (group, category) cell of a roll-up."""

    count: int
    amount: int
    expected: int


def expected_amounts(amounts: Ints, permille: Ints) -> Ints:
    """amount × permille / 1000 per deal, half up (both non-negative). Split as amount = 1000q + r so
    no intermediate exceeds the amount itself: q × permille is exact, only r × permille / 1000 rounds."""
    whole, rest = np.divmod(amounts, 1000)
    return whole * permille + (rest * permille * 2 + 1000) // 2000


def rollup(keys: Ints, categories: Ints, amounts: Ints, permille: Ints) -> dict[tuple[int, str], Cell]:
    """Sum deals by (key, category): `keys` any integer group key (owner id, department id, 0 for the
    company), `categories` indexes into CATEGORIES. Cells without deals are absent."""
    if not (len(keys) == len(categories) == len(amounts) == len(permille)):
        raise ValueError("arrays of different lengths")
    if len(keys) == 0:
        return {}
    expected = expected_amounts(amounts, permille)
    width = len(CATEGORIES)
    combined = keys * width + categories
    unique, inverse = np.unique(combined, return_inverse=True)
    counts = np.bincount(inverse)
    # Sums of int64 through float bincount would lose fen above 2**53: add with np.add.at on int64.
    amount_sums = np.zeros(len(unique), dtype=np.int64)
    expected_sums = np.zeros(len(unique), dtype=np.int64)
    np.add.at(amount_sums, inverse, amounts)
    np.add.at(expected_sums, inverse, expected)
    cells: dict[tuple[int, str], Cell] = {}
    for index, value in enumerate(unique.tolist()):
        key, category = divmod(int(value), width)
        cells[(key, CATEGORIES[category])] = Cell(int(counts[index]), int(amount_sums[index]),
                                                   int(expected_sums[index]))
    return cells


def tree_rollup(cells: Mapping[tuple[int, str], Cell],
                parents: Mapping[int, int | None]) -> dict[tuple[int, str], Cell]:
    """Department cells summed up the tree: each department's figures include its descendants'.
    `parents` maps every department id to its parent (None for a root); cycles are a caller error."""
    totals: dict[tuple[int, str], list[int]] = {}
    for (department, category), cell in cells.items():
        node: int | None = department
        guard = 0
        while node is not None:
            total = totals.setdefault((node, category), [0, 0, 0])
            total[0] += cell.count
            total[1] += cell.amount
            total[2] += cell.expected
            node = parents.get(node)
            guard += 1
            if guard > len(parents) + 1:
                raise ValueError("department tree has a cycle")
    return {key: Cell(*values) for key, values in totals.items()}


def brier(probabilities: Floats, outcomes: Ints) -> float:
    """Mean squared error of probabilities (0–1) against outcomes (1 won, 0 lost); lower is better."""
    if len(probabilities) == 0:
        raise ValueError("no outcomes")
    return float(np.mean((probabilities - outcomes) ** 2))


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    count: int
    mean_probability: float
    observed_rate: float


def calibration(probabilities: Floats, outcomes: Ints, bins: int = 10) -> tuple[CalibrationBin, ...]:
    """Reliability table: deals grouped by predicted probability into `bins` equal-width bins
    (the last includes 1.0); empty bins are left out."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, probabilities, side="right") - 1, 0, bins - 1)
    table = []
    for index in range(bins):
        mask = which == index
        count = int(mask.sum())
        if count:
            table.append(CalibrationBin(float(edges[index]), float(edges[index + 1]), count,
                                        float(probabilities[mask].mean()), float(outcomes[mask].mean())))
    return tuple(table)


@dataclass(frozen=True)
class PeriodAccuracy:
    period: str
    forecast: int
    actual: int
    error_percent: float | None  # (forecast − actual) / actual × 100; None when nothing was won


def period_accuracy(period: str, forecast: int, actual: int) -> PeriodAccuracy:
    error = None if actual == 0 else round((forecast - actual) * 100 / actual, 1)
    return PeriodAccuracy(period, forecast, actual, error)


def category_index(names: Sequence[str]) -> Ints:
    """CATEGORIES indexes of category names (unknown names are a caller error)."""
    lookup = {name: index for index, name in enumerate(CATEGORIES)}
    return np.array([lookup[name] for name in names], dtype=np.int64)
