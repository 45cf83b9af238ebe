"""The win-probability model of the forecast (赢率模型): feature vectors of deals and the maths of
applying a trained logistic regression with its calibration. Pure numpy; training (scikit-learn)
lives in the app, which stores the result as JSON and rebuilds a `WinModel` from it.

Features of one deal (all computed "as of" a moment: now for open deals, the closing time for
closed ones, so training never looks ahead):
- `stage_ratio`: position of the (last open) stage among the open stages of its process, 1/n … 1;
- `stage_probability`: that stage's win probability, 0–1;
- `log_age_days`, `log_days_in_stage`, `log_followups`: log(1 + x) of the deal's age, its days in
  the (last open) stage and its number of follow-ups;
- `health.<dimension>`: the 9 health dimension scores, 0–1;
- `log_amount`: log(1 + amount in yuan);
- `source=<code>`, `industry=<code>`: one-hot of the categories seen often enough in training
  (others are all-zero).

Applying: z = (x − mean) / scale; logit = z · coefficients + intercept; the calibration maps the
logit to a probability — Platt: p = 1 / (1 + exp(−(a · logit + b))); isotonic: linear interpolation
through fitted (logit, probability) points, flat beyond the ends.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from l2c.engines.health import DIMENSIONS

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

NUMERIC_FEATURES = ("stage_ratio", "stage_probability", "log_age_days", "log_days_in_stage", "log_followups",
                    *(f"health.{dimension}" for dimension in DIMENSIONS), "log_amount")
CATEGORY_FIELDS = ("source", "industry")


@dataclass(frozen=True)
class DealFacts:
    """What the model reads of one deal. `health` maps dimension codes to scores 0–100 (missing
    ones count 0); `amount` is in fen."""

    stage_ratio: float
    stage_probability: int  # percent 0–100
    age_days: int
    days_in_stage: int
    followups: int
    health: Mapping[str, int] = field(default_factory=dict)
    amount: int = 0
    source: str = ""
    industry: str = ""


def feature_names(rows: Sequence[DealFacts], min_count: int = 5) -> tuple[str, ...]:
    """The numeric features, then one `field=value` feature per category value held by at least
    `min_count` rows (sorted, so the same rows give the same names)."""
    names = list(NUMERIC_FEATURES)
    for name in CATEGORY_FIELDS:
        counts = Counter(str(getattr(row, name)) for row in rows)
        names += [f"{name}={value}" for value in sorted(counts) if value and counts[value] >= min_count]
    return tuple(names)


def _numeric(row: DealFacts) -> list[float]:
    return [
        float(row.stage_ratio), row.stage_probability / 100, math.log1p(max(0, row.age_days)),
        math.log1p(max(0, row.days_in_stage)), math.log1p(max(0, row.followups)),
        *(row.health.get(dimension, 0) / 100 for dimension in DIMENSIONS),
        math.log1p(max(0, row.amount) / 100),
    ]


def feature_matrix(rows: Sequence[DealFacts], names: Sequence[str]) -> Floats:
    """One row per deal, one column per name of `feature_names` (unknown names are a caller error)."""
    numeric_count = len(NUMERIC_FEATURES)
    if tuple(names[:numeric_count]) != NUMERIC_FEATURES:
        raise ValueError("feature names must start with the numeric features")
    column_of = {name: index for index, name in enumerate(names)}
    matrix = np.zeros((len(rows), len(names)), dtype=np.float64)
    for index, row in enumerate(rows):
        matrix[index, :numeric_count] = _numeric(row)
        for name in CATEGORY_FIELDS:
            column = column_of.get(f"{name}={getattr(row, name)}")
            if column is not None:
                matrix[index, column] = 1.0
    return matrix


@dataclass(frozen=True)
class Calibration:
    """`kind` "platt" uses (a, b); "isotonic" the increasing points (x: logits, y: probabilities);
    "none" is the raw sigmoid of the logit."""

    kind: str = "none"
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()


@dataclass(frozen=True)
class WinModel:
    """A trained logistic regression over standardised features, with its calibration."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    calibration: Calibration = Calibration()

    def __post_init__(self) -> None:
        width = len(self.features)
        if not (len(self.means) == len(self.scales) == len(self.coefficients) == width):
            raise ValueError("features, means, scales and coefficients differ in length")
        if any(scale <= 0 for scale in self.scales):
            raise ValueError("scales must be positive")
        if self.calibration.kind not in ("none", "platt", "isotonic"):
            raise ValueError(f"unknown calibration {self.calibration.kind!r}")
        if self.calibration.kind == "isotonic" and (
                len(self.calibration.x) != len(self.calibration.y) or len(self.calibration.x) < 2):
            raise ValueError("isotonic calibration needs at least two points")

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features), "means": list(self.means), "scales": list(self.scales),
            "coefficients": list(self.coefficients), "intercept": self.intercept,
            "calibration": {"kind": self.calibration.kind, "a": self.calibration.a, "b": self.calibration.b,
                            "x": list(self.calibration.x), "y": list(self.calibration.y)},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WinModel:
        raw = data.get("calibration") or {}
        calibration = Calibration(str(raw.get("kind", "none")), float(raw.get("a", 1.0)), float(raw.get("b", 0.0)),
                                  tuple(float(v) for v in raw.get("x", ())), tuple(float(v) for v in raw.get("y", ())))
        return cls(tuple(str(v) for v in data["features"]), tuple(float(v) for v in data["means"]),
                   tuple(float(v) for v in data["scales"]), tuple(float(v) for v in data["coefficients"]),
                   float(data["intercept"]), calibration)


def sigmoid(values: Floats) -> Floats:
    """1 / (1 + e^−x) without overflow for large |x|."""
    result: Floats = np.empty_like(values, dtype=np.float64)
    positive = values >= 0
    result[positive] = 1.0 / (1.0 + np.exp(-values[positive]))
    exp = np.exp(values[~positive])
    result[~positive] = exp / (1.0 + exp)
    return result


def logits(model: WinModel, matrix: Floats) -> Floats:
    """The uncalibrated log-odds of each row of a feature matrix built with `model.features`."""
    if matrix.ndim != 2 or matrix.shape[1] != len(model.features):
        raise ValueError("the matrix does not have one column per model feature")
    standardised = (matrix - np.asarray(model.means)) / np.asarray(model.scales)
    return np.asarray(standardised @ np.asarray(model.coefficients) + model.intercept, dtype=np.float64)


def calibrate(calibration: Calibration, values: Floats) -> Floats:
    """Logits → calibrated probabilities 0–1."""
    if calibration.kind == "platt":
        return sigmoid(calibration.a * values + calibration.b)
    if calibration.kind == "isotonic":
        points: Floats = np.interp(values, np.asarray(calibration.x), np.asarray(calibration.y))
        return np.clip(points, 0.0, 1.0)
    return sigmoid(values)


def probabilities(model: WinModel, matrix: Floats) -> Floats:
    """Calibrated win probabilities 0–1 of the rows of a feature matrix."""
    return calibrate(model.calibration, logits(model, matrix))


def permille(values: Floats) -> Ints:
    """Probabilities 0–1 as integer per-mille 0–1000, rounded half up."""
    return np.asarray(np.floor(np.clip(values, 0.0, 1.0) * 1000 + 0.5), dtype=np.int64)
