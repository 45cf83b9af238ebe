"""Half-up rounding (四舍五入) of floats and exact rounding of integer ratios."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

# Float noise below this is ignored before rounding (2.4999999999997 is 2.5).
EPSILON = 1e-9


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5 + EPSILON)


def round_half_up_array(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.floor(values + 0.5 + EPSILON).astype(np.int64)


def ratio_half_up(numerator: npt.NDArray[np.int64], denominator: int) -> npt.NDArray[np.int64]:
    """numerator / denominator rounded half up, exactly (integers, denominator > 0, numerator ≥ 0)."""
    return (2 * numerator + denominator) // (2 * denominator)
