"""Predicted score (智能评分): a logistic regression over a documented feature encoding of a lead,
stored as plain JSON (feature codes, coefficients, intercept, feature means) and evaluated here with
numpy — no scikit-learn call and no unpickling at scoring time.

Features (codes in the explanation):
- `source=<v>`, `industry=<v>`, `size=<v>`, `province=<v>`: one-hot of the categorical fields; the
  vocabulary is the values seen at least `min_count` times when the model was trained;
- `has:<field>` for email, mobile, wechat, phone, company, title: the field is filled in;
- `title:<group>`: the title contains a keyword of the group (executive, manager, procurement,
  technical);
- `recent:<kind>`: log(1 + events of the kind in the last 90 days);
- `recency`: days since the last event, capped at 365, divided by 365; `no_events`: 1 without events.

Probability p = σ(b + Σ cᵢ·xᵢ); predicted score = 100·p, half-up. Explanation: the baseline is the
score of the average lead, 100·σ(z₀) with z₀ = b + Σ cᵢ·meanᵢ; feature i contributes
r·cᵢ·(xᵢ − meanᵢ) with r = (100·p − 100·σ(z₀)) / (z − z₀) (the secant slope, ≤ 25 per logit unit;
the derivative 100·σ'(z₀) when z = z₀), so baseline + contributions = 100·p exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy import strings

from .attributes import Factors, as_text, factor_of
from .behaviour import RECENT_WINDOW_DAYS  # noqa: F401  (re-exported: the window of `recent:<kind>`)

CATEGORY_FIELDS = ("source", "industry", "size", "province")
PRESENCE_FIELDS = ("email", "mobile", "wechat", "phone", "company", "title")
TITLE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "executive": ("总经理", "总裁", "董事", "ceo", "cto", "cio", "cfo", "coo", "vp", "副总", "总监", "合伙人"),
    "manager": ("经理", "主管", "负责人", "主任", "manager", "head"),
    "procurement": ("采购", "purchas", "procure"),
    "technical": ("技术", "工程师", "it", "信息", "研发", "engineer"),
}
RECENCY_CAP_DAYS = 365.0
FEATURE_ENCODING_VERSION = 1

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Feature:
    """One model input column: `family` is category, has, title, recent, recency or no_events."""

    code: str
    family: str
    field: str = ""
    value: str = ""


@dataclass(frozen=True, eq=False)
class BehaviourColumns:
    """Behaviour aggregates of n leads for the model: events per kind in the last 90 days (n × K,
    in `kinds` order) and days since the last event (NaN without events)."""

    kinds: tuple[str, ...]
    recent_counts: FloatArray
    days_since_last: FloatArray


def features_for(vocabulary: Mapping[str, Sequence[str]], kinds: Sequence[str]) -> tuple[Feature, ...]:
    """The feature list: one-hot columns of the vocabulary, presence flags, title groups, recent
    counts per kind, recency and no_events — always in this order."""
    features: list[Feature] = []
    for field in CATEGORY_FIELDS:
        for value in vocabulary.get(field, ()):
            features.append(Feature(f"{field}={value}", "category", field, value))
    features += [Feature(f"has:{field}", "has", field) for field in PRESENCE_FIELDS]
    features += [Feature(f"title:{group}", "title", "title", group) for group in TITLE_KEYWORDS]
    features += [Feature(f"recent:{kind}", "recent", kind) for kind in sorted(kinds)]
    features += [Feature("recency", "recency"), Feature("no_events", "no_events")]
    return tuple(features)


def vocabulary_of(columns: Mapping[str, ObjectArray], min_count: int) -> dict[str, list[str]]:
    """Values of each categorical field seen at least `min_count` times (blank excluded), sorted."""
    vocabulary: dict[str, list[str]] = {}
    for field in CATEGORY_FIELDS:
        column = columns.get(field)
        if column is None or len(column) == 0:
            vocabulary[field] = []
            continue
        counts = Counter(str(value) for value in column.tolist())
        vocabulary[field] = sorted(value for value, count in counts.items() if value and count >= min_count)
    return vocabulary


_TITLE_PATTERNS = {group: re.compile("|".join(re.escape(word) for word in words))
                   for group, words in TITLE_KEYWORDS.items()}
SMALL_BATCH = 256


def _title_flags(titles: npt.NDArray[Any]) -> dict[str, npt.NDArray[np.bool_]]:
    """Whether each lower-cased title contains a keyword of each group: one regular expression per
    group for a few leads, numpy substring search for many (the same test either way)."""
    lowered = strings.lower(as_text(titles))
    flags = {}
    if len(lowered) <= SMALL_BATCH:
        texts = lowered.tolist()
        for group, pattern in _TITLE_PATTERNS.items():
            flags[group] = np.fromiter((pattern.search(text) is not None for text in texts), dtype=np.bool_,
                                       count=len(texts))
        return flags
    for group, words in TITLE_KEYWORDS.items():
        found = np.zeros(len(lowered), dtype=np.bool_)
        for word in words:
            found |= np.asarray(strings.find(lowered, word) >= 0, dtype=np.bool_)
        flags[group] = found
    return flags


_Layout = tuple[tuple[tuple[str, dict[str, int]], ...], tuple[tuple[int, Feature], ...]]
_layouts: dict[int, tuple[Sequence[Feature], _Layout]] = {}


def _layout(features: Sequence[Feature]) -> _Layout:
    """The one-hot columns per categorical field ({value: column}) and the other features with their
    column; kept per features object (a model's tuple), so one lead does not rebuild them."""
    cached = _layouts.get(id(features))
    if cached is not None and cached[0] is features:
        return cached[1]
    categories: dict[str, dict[str, int]] = {}
    others: list[tuple[int, Feature]] = []
    for index, feature in enumerate(features):
        if feature.family == "category":
            categories.setdefault(feature.field, {})[feature.value] = index
        else:
            others.append((index, feature))
    layout = (tuple(categories.items()), tuple(others))
    if len(_layouts) >= 16:
        _layouts.clear()
    _layouts[id(features)] = (features, layout)
    return layout


def feature_matrix(features: Sequence[Feature], columns: Mapping[str, npt.NDArray[Any]], behaviour: BehaviourColumns,
                   count: int, factors: Factors | None = None) -> FloatArray:
    """The (n × features) input matrix of n leads. Text features are computed once per distinct
    value of the field (`factors`) and spread to the leads."""
    matrix = np.zeros((count, len(features)), dtype=np.float64)
    factors = {} if factors is None else factors
    titles: dict[str, npt.NDArray[np.bool_]] | None = None
    kind_index = {kind: index for index, kind in enumerate(behaviour.kinds)}
    has_events = ~np.isnan(behaviour.days_since_last)
    categories, others = _layout(features)
    rows = np.arange(count)
    for field, positions in categories:
        # One pass per field: the column of each lead's value (−1 when not in the vocabulary).
        uniques, inverse = factor_of(factors, columns, field, count)
        found = np.fromiter((positions.get(value, -1) for value in uniques.tolist()), dtype=np.int64,
                            count=len(uniques))[inverse]
        hit = found >= 0
        matrix[rows[hit], found[hit]] = 1.0
    for index, feature in others:
        if feature.family == "has":
            uniques, inverse = factor_of(factors, columns, feature.field, count)
            matrix[:, index] = (strings.str_len(strings.strip(as_text(uniques))) > 0)[inverse]
        elif feature.family == "title":
            uniques, inverse = factor_of(factors, columns, "title", count)
            if titles is None:
                titles = _title_flags(uniques)
            matrix[:, index] = titles[feature.value][inverse]
        elif feature.family == "recent":
            position = kind_index.get(feature.field)
            if position is not None:
                matrix[:, index] = np.log1p(behaviour.recent_counts[:, position])
        elif feature.family == "recency":
            days = np.where(has_events, np.nan_to_num(behaviour.days_since_last, nan=RECENCY_CAP_DAYS),
                            RECENCY_CAP_DAYS)
            matrix[:, index] = np.minimum(np.maximum(days, 0.0), RECENCY_CAP_DAYS) / RECENCY_CAP_DAYS
        elif feature.family == "no_events":
            matrix[:, index] = ~has_events
        else:
            raise ValueError(f"unknown feature family {feature.family!r}")
    return matrix


def sigmoid(values: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.minimum(np.maximum(values, -60.0), 60.0))), dtype=np.float64)


@dataclass(frozen=True)
class LinearModel:
    """A trained logistic regression in raw feature space."""

    version: int
    features: tuple[Feature, ...]
    coefficients: tuple[float, ...]
    intercept: float
    means: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "encoding": FEATURE_ENCODING_VERSION,
            "features": [{"code": f.code, "family": f.family, "field": f.field, "value": f.value}
                         for f in self.features],
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "means": list(self.means),
        }

    @classmethod
    def from_json(cls, version: int, data: Mapping[str, Any]) -> LinearModel:
        """Rebuild from stored parameters; ValueError when they are not a model of this encoding."""
        if data.get("encoding") != FEATURE_ENCODING_VERSION:
            raise ValueError("unknown feature encoding")
        features = tuple(Feature(str(f["code"]), str(f["family"]), str(f.get("field", "")), str(f.get("value", "")))
                         for f in data["features"])
        coefficients = tuple(float(value) for value in data["coefficients"])
        means = tuple(float(value) for value in data["means"])
        if not (len(features) == len(coefficients) == len(means)):
            raise ValueError("features, coefficients and means differ in length")
        return cls(version, features, coefficients, float(data["intercept"]), means)


@dataclass(frozen=True, eq=False)
class Prediction:
    """Probabilities (n) and the baseline score of the average lead; per-feature contributions
    (n × features) in score points such that baseline + Σ contributions = 100·probability are
    computed on demand (`contributions`, `scaled_contributions`) from the kept feature matrix."""

    probability: FloatArray
    baseline: float
    matrix: FloatArray
    coefficients: FloatArray
    offsets: FloatArray  # cᵢ·meanᵢ
    slope: FloatArray  # r per lead (the secant slope, see the module docstring)

    @property
    def contributions(self) -> FloatArray:
        return self.scaled_contributions(np.ones(len(self.probability)))

    def scaled_contributions(self, scale: FloatArray, *, overwrite: bool = False) -> FloatArray:
        """Contributions × `scale` per lead: r·scale·cᵢ·(xᵢ − meanᵢ), in three passes. With
        `overwrite` the feature matrix becomes the result (no n × features allocation; the
        prediction must not be used again)."""
        out = self.matrix if overwrite else np.empty_like(self.matrix)
        np.multiply(self.matrix, self.coefficients, out=out)
        out -= self.offsets
        out *= (self.slope * scale)[:, None]
        return out


def predict(model: LinearModel, matrix: FloatArray) -> Prediction:
    coefficients = np.asarray(model.coefficients, dtype=np.float64)
    means = np.asarray(model.means, dtype=np.float64)
    logits = model.intercept + matrix @ coefficients
    probability = sigmoid(logits)
    z0 = float(model.intercept + means @ coefficients)
    baseline = float(100.0 / (1.0 + np.exp(-np.clip(z0, -60.0, 60.0))))
    gap = logits - z0
    derivative = baseline * (1.0 - baseline / 100.0)
    close = np.abs(gap) <= 1e-9
    slope = np.where(close, derivative, (100.0 * probability - baseline) / np.where(close, 1.0, gap))
    return Prediction(probability, baseline, matrix, coefficients, coefficients * means, slope)
