"""Forecast model engine: feature vectors, applying a model by hand, calibration, per-mille, periods."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from l2c.engines.forecast import periods
from l2c.engines.forecast.model import (
    NUMERIC_FEATURES,
    Calibration,
    DealFacts,
    WinModel,
    calibrate,
    feature_matrix,
    feature_names,
    logits,
    permille,
    probabilities,
    sigmoid,
)


def facts(**overrides: object) -> DealFacts:
    values: dict[str, object] = {"stage_ratio": 0.5, "stage_probability": 50, "age_days": 30, "days_in_stage": 10,
                                 "followups": 3, "health": {"need": 75}, "amount": 100_000, "source": "lead",
                                 "industry": "C"}
    values.update(overrides)
    return DealFacts(**values)  # type: ignore[arg-type]


def test_feature_names_keep_frequent_categories_only() -> None:
    rows = [facts(source="lead")] * 5 + [facts(source="tender", industry="")] * 2
    names = feature_names(rows, min_count=5)
    assert names[:len(NUMERIC_FEATURES)] == NUMERIC_FEATURES
    assert names[len(NUMERIC_FEATURES):] == ("source=lead", "industry=C")  # tender: 2 < 5; "" never


def test_feature_matrix_by_hand() -> None:
    names = (*NUMERIC_FEATURES, "source=lead", "industry=C")
    matrix = feature_matrix([facts(), facts(source="manual", industry="F", health={}, amount=0)], names)
    need = NUMERIC_FEATURES.index("health.need")
    first = matrix[0]
    assert first[0] == 0.5 and first[1] == 0.5
    assert first[2] == pytest.approx(math.log1p(30)) and first[3] == pytest.approx(math.log1p(10))
    assert first[4] == pytest.approx(math.log1p(3)) and first[need] == 0.75
    assert first[len(NUMERIC_FEATURES) - 1] == pytest.approx(math.log1p(1000.0))  # 100,000 fen = 1,000 yuan
    assert first[-2:].tolist() == [1.0, 1.0]
    assert matrix[1][need] == 0.0 and matrix[1][-2:].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="numeric"):
        feature_matrix([facts()], ("source=lead",))


def _model(calibration: Calibration | None = None) -> WinModel:
    return WinModel(("a", "b"), (1.0, 0.0), (2.0, 1.0), (0.5, -1.0), 0.25, calibration or Calibration())


def test_logits_and_probabilities_by_hand() -> None:
    # z = ((3 − 1) / 2, (1 − 0) / 1) = (1, 1); logit = 0.5 − 1 + 0.25 = −0.25
    matrix = np.array([[3.0, 1.0]])
    assert logits(_model(), matrix).tolist() == [pytest.approx(-0.25)]
    assert probabilities(_model(), matrix)[0] == pytest.approx(1 / (1 + math.exp(0.25)))
    # Platt: p = σ(2 × −0.25 + 1) = σ(0.5)
    platt = _model(Calibration("platt", a=2.0, b=1.0))
    assert probabilities(platt, matrix)[0] == pytest.approx(1 / (1 + math.exp(-0.5)))
    with pytest.raises(ValueError, match="column"):
        logits(_model(), np.array([[1.0, 2.0, 3.0]]))


def test_isotonic_calibration_interpolates_and_is_flat_beyond_the_ends() -> None:
    iso = Calibration("isotonic", x=(-1.0, 0.0, 1.0), y=(0.1, 0.2, 0.9))
    assert calibrate(iso, np.array([-5.0, -0.5, 0.5, 5.0])).tolist() == pytest.approx([0.1, 0.15, 0.55, 0.9])


def test_sigmoid_is_stable_for_large_values() -> None:
    assert sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist() == [0.0, 0.5, 1.0]


def test_permille_rounds_half_up_and_clips() -> None:
    assert permille(np.array([0.0, 0.1234, 0.1235, 0.9995, 1.2, -0.1])).tolist() == [0, 123, 124, 1000, 1000, 0]


def test_model_json_round_trip_and_validation() -> None:
    model = _model(Calibration("platt", a=1.5, b=-0.2))
    assert WinModel.from_json(model.to_json()) == model
    with pytest.raises(ValueError, match="length"):
        WinModel(("a",), (0.0, 1.0), (1.0,), (1.0,), 0.0)
    with pytest.raises(ValueError, match="positive"):
        WinModel(("a",), (0.0,), (0.0,), (1.0,), 0.0)
    with pytest.raises(ValueError, match="unknown calibration"):
        WinModel(("a",), (0.0,), (1.0,), (1.0,), 0.0, Calibration("magic"))


@pytest.mark.parametrize(("kind", "day", "start", "end", "label"), [
    ("month", dt.date(2026, 11, 27), dt.date(2026, 11, 1), dt.date(2026, 12, 1), "2026-11"),
    ("month", dt.date(2026, 12, 31), dt.date(2026, 12, 1), dt.date(2027, 1, 1), "2026-12"),
    ("quarter", dt.date(2026, 11, 27), dt.date(2026, 10, 1), dt.date(2027, 1, 1), "2026-Q4"),
    ("quarter", dt.date(2026, 2, 1), dt.date(2026, 1, 1), dt.date(2026, 4, 1), "2026-Q1"),
])
def test_periods(kind: str, day: dt.date, start: dt.date, end: dt.date, label: str) -> None:
    assert periods.period_of(kind, day) == start
    assert periods.period_end(kind, start) == end
    assert periods.label(kind, start) == label
    assert periods.is_period_start(kind, start) and not periods.is_period_start(kind, start + dt.timedelta(days=1))


def test_period_shift_and_bad_kind() -> None:
    assert periods.shift("month", dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert periods.shift("quarter", dt.date(2026, 1, 1), -2) == dt.date(2025, 7, 1)
    assert not periods.is_period_start("quarter", dt.date(2026, 2, 1))
    with pytest.raises(ValueError):
        periods.period_of("week", dt.date(2026, 1, 1))
