"""The combined score (综合评分), its band and its explanation, for a batch of leads at once.

- Parts are integers 0..100: behaviour B, attribute A, predicted P (None without an active model).
- Weights are integers in 1/10,000 (default 4000/3000/3000). Combined = (Wb·B + Wa·A + Wp·P) / 10,000,
  rounded half up with integer arithmetic (no float ties). Without a predicted score the weights are
  re-normalised over the two other parts: (Wb·B + Wa·A) / (Wb + Wa).
- Band: A ≥ 75, B ≥ 50, C ≥ 25, else D.
- Explanation: per part, its top contributions (largest |value| first, ties by position), the rest
  summed as "other" and, for the predicted part, the "baseline" (the average lead's score). Each
  item's exact value is weight × its share of the part's integer score; the values of all items of
  all parts are rounded together by largest remainder (ties by position), so the integer
  contributions add up exactly to the combined score, and a part's points are the sum of its items.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from .attributes import MAX_ATTRIBUTE, AttributeRuleSpec, Factors, ObjectArray, attribute_points
from .behaviour import MAX_BEHAVIOUR, EventKindRule
from .predicted import BehaviourColumns, LinearModel, feature_matrix, predict
from .rounding import EPSILON, ratio_half_up, round_half_up_array

WEIGHT_SCALE = 10_000
DEFAULT_WEIGHTS = (4000, 3000, 3000)
BANDS = ((75, "A"), (50, "B"), (25, "C"))
TOP_ITEMS = 3
PARTS = ("behaviour", "attribute", "predicted")
EXPLANATION_VERSION = 1

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Weights:
    """Weights of the parts in 1/10,000; non-negative, summing to 10,000, behaviour + attribute > 0."""

    behaviour: int = DEFAULT_WEIGHTS[0]
    attribute: int = DEFAULT_WEIGHTS[1]
    predicted: int = DEFAULT_WEIGHTS[2]

    def __post_init__(self) -> None:
        values = (self.behaviour, self.attribute, self.predicted)
        if min(values) < 0 or sum(values) != WEIGHT_SCALE or self.behaviour + self.attribute == 0:
            raise ValueError(f"invalid weights {values}")

    def as_fractions(self) -> tuple[float, float, float]:
        return (self.behaviour / WEIGHT_SCALE, self.attribute / WEIGHT_SCALE, self.predicted / WEIGHT_SCALE)


def band_of(score: int) -> str:
    for floor, band in BANDS:
        if score >= floor:
            return band
    return "D"


BAND_OF = [band_of(value) for value in range(101)]


@dataclass(frozen=True)
class ScoringConfig:
    """Everything a score depends on besides the lead: kinds (the column order of the behaviour
    inputs), active attribute rules, the active model (None: not used) and the weights."""

    kinds: tuple[EventKindRule, ...]
    rules: tuple[AttributeRuleSpec, ...]
    model: LinearModel | None
    weights: Weights
    top_items: int = TOP_ITEMS


@dataclass(frozen=True, eq=False)
class LeadColumns:
    """Inputs of n leads: field texts by field name (object arrays of str, "" when blank, custom
    fields as `custom.<key>`), Σ decay factors per kind (n × kinds, in config order), events per kind
    in the last 90 days (n × kinds) and days since the last event (NaN without events)."""

    count: int
    fields: Mapping[str, ObjectArray]
    decayed: FloatArray
    recent_counts: FloatArray
    days_since_last: FloatArray


@dataclass(frozen=True)
class LeadScore:
    behaviour: int
    attribute: int
    predicted: int | None
    score: int
    band: str
    explanation: dict[str, Any]


@dataclass(frozen=True, eq=False)
class ScoredBatch:
    behaviour: IntArray
    attribute: IntArray
    predicted: IntArray  # -1 where there is no predicted score
    score: IntArray
    bands: list[str]
    _explain: Any
    _texts: list[list[str]] = field(default_factory=list)

    def explanation_texts(self) -> list[str]:
        """The explanations as compact JSON texts (what the bulk write stores); built once."""
        if not self._texts:
            self._texts.append(self._explain())
        return self._texts[0]

    def explanations(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.explanation_texts()]

    def lead(self, index: int) -> LeadScore:
        predicted = int(self.predicted[index])
        return LeadScore(int(self.behaviour[index]), int(self.attribute[index]), None if predicted < 0 else predicted,
                         int(self.score[index]), self.bands[index], json.loads(self.explanation_texts()[index]))


def largest_remainder(values: FloatArray, totals: IntArray) -> IntArray:
    """Integers per row close to `values` (n × m) that add up to `totals` (n): floor each value and
    give +1 to the largest fractional parts (ties: the earlier column); any residue from float
    noise goes to the largest item."""
    count, width = values.shape
    if width == 0:
        return np.zeros((count, 0), dtype=np.int64)
    cleaned = np.round(values, 9)
    floors = np.floor(cleaned)
    fractions = cleaned - floors
    deficit = np.minimum(np.maximum(totals - floors.sum(axis=1).astype(np.int64), 0), width)
    # The +1s: one argmax pass per unit of the largest deficit (its first maximum is the earlier
    # column), rather than ranking every row by a stable sort.
    result = floors.astype(np.int64)
    rows = np.arange(count)
    remaining = fractions.copy()
    for step in range(int(deficit.max(initial=0))):
        best = np.argmax(remaining, axis=1)
        wanted = deficit > step
        result[rows[wanted], best[wanted]] += 1
        remaining[rows, best] = -np.inf
    residue = totals - result.sum(axis=1)
    if np.any(residue):
        largest = np.argmax(np.abs(values), axis=1)
        result[np.arange(count), largest] += residue
    return np.asarray(result, dtype=np.int64)


ITEM_TABLE_LIMIT = 100


@lru_cache(maxsize=64)
def _item_table(codes: tuple[str, ...]) -> ObjectArray:
    """'[code,value]' texts of every code for values −100..100 ('' for 0), without (0) and with (1)
    a leading comma: items are looked up, not formatted, per lead."""
    table = np.empty((2, max(len(codes), 1), 2 * ITEM_TABLE_LIMIT + 1), dtype=object)
    table[:] = ""
    for index, code in enumerate(codes):
        quoted = json.dumps(code, ensure_ascii=False)
        for comma in (0, 1):
            table[comma, index] = [("," if comma else "") + f"[{quoted},{value}]" if value else ""
                                   for value in range(-ITEM_TABLE_LIMIT, ITEM_TABLE_LIMIT + 1)]
    return table


def _item_texts(codes: tuple[str, ...], code_index: IntArray, values: IntArray) -> ObjectArray:
    """Per lead the joined item texts of a part: item j is (codes[code_index[:, j]], values[:, j])
    (n × items), left out where the value is 0, comma-separated; one table lookup for all items
    (an item takes the comma variant when an earlier one is shown), one concatenation per column."""
    clipped = np.minimum(np.maximum(values, -ITEM_TABLE_LIMIT), ITEM_TABLE_LIMIT)
    shown = values != 0
    after_shown = (np.cumsum(shown, axis=1) - shown) > 0
    texts: ObjectArray = _item_table(codes)[after_shown.astype(np.intp), code_index, clipped + ITEM_TABLE_LIMIT]
    for row, column in zip(*np.nonzero(clipped != values), strict=True):
        code = codes[code_index[row, column]]
        comma = "," if after_shown[row, column] else ""
        texts[row, column] = f"{comma}[{json.dumps(code, ensure_ascii=False)},{int(values[row, column])}]"
    joined: ObjectArray = texts[:, 0].copy()
    for column in range(1, texts.shape[1]):
        joined += texts[:, column]
    return joined


def _top(matrix: FloatArray, keep: int) -> tuple[IntArray, FloatArray, FloatArray]:
    """Column indices and values of the `keep` largest |values| per row (largest first, ties: the
    earlier column — what a stable descending sort gives), and the sum of the rest. `keep` passes
    of argmax (its first maximum is the earlier column) instead of sorting every row."""
    count, width = matrix.shape
    keep = min(keep, width)
    magnitude = np.abs(matrix)
    rows = np.arange(count)
    order = np.empty((count, keep), dtype=np.int64)
    for position in range(keep):
        best = np.argmax(magnitude, axis=1)
        order[:, position] = best
        magnitude[rows, best] = -1.0  # below every |value|: not chosen again
    values = matrix[rows[:, None], order]
    rest = matrix.sum(axis=1) - values.sum(axis=1)
    return order, values, rest


def _share(matrix: FloatArray, raw_total: FloatArray, part: IntArray) -> FloatArray:
    """Scale each row so it sums to the part's integer score (zero rows when the total is ≤ 0)."""
    positive = raw_total > EPSILON
    factor = np.where(positive, part / np.where(positive, raw_total, 1.0), 0.0)
    return np.asarray(matrix * factor[:, None], dtype=np.float64)


def score_batch(config: ScoringConfig, leads: LeadColumns) -> ScoredBatch:
    """Score n leads: parts, combined score, band, and (lazily) the explanations."""
    n = leads.count
    kinds = config.kinds
    # Behaviour: decayed points per kind.
    points = np.asarray([kind.points for kind in kinds], dtype=np.float64)
    behaviour_raw = leads.decayed * points[None, :] if kinds else np.zeros((n, 0))
    behaviour_total = behaviour_raw.sum(axis=1)
    behaviour = round_half_up_array(np.minimum(np.maximum(behaviour_total, 0.0), MAX_BEHAVIOUR))
    # Attribute fit.
    factors: Factors = {}
    attribute_raw = attribute_points(config.rules, leads.fields, n, factors)
    attribute_total = attribute_raw.sum(axis=1)
    attribute = np.minimum(np.maximum(round_half_up_array(attribute_total), 0), MAX_ATTRIBUTE)
    # Predicted.
    weights = config.weights
    model = config.model
    if model is not None:
        behaviour_columns = BehaviourColumns(tuple(kind.kind for kind in kinds), leads.recent_counts,
                                             leads.days_since_last)
        prediction = predict(model, feature_matrix(model.features, leads.fields, behaviour_columns, n, factors))
        predicted_real = 100.0 * prediction.probability
        predicted = np.minimum(np.maximum(round_half_up_array(predicted_real), 0), 100)
        numerator = weights.behaviour * behaviour + weights.attribute * attribute + weights.predicted * predicted
        denominator = WEIGHT_SCALE
    else:
        predicted = np.full(n, -1, dtype=np.int64)
        numerator = weights.behaviour * behaviour + weights.attribute * attribute
        denominator = weights.behaviour + weights.attribute
    score = np.minimum(np.maximum(ratio_half_up(numerator.astype(np.int64), denominator), 0), 100)
    bands = [BAND_OF[value] for value in score.tolist()]

    def explain() -> list[str]:
        keep = config.top_items
        blocks: list[tuple[str, tuple[str, ...], IntArray, bool]] = []  # part, codes, top indices, baseline
        columns: list[FloatArray] = []
        share_b = _share(behaviour_raw, behaviour_total, behaviour)
        share_a = _share(attribute_raw, attribute_total, attribute)
        weight_b = weights.behaviour / denominator
        weight_a = weights.attribute / denominator
        for part, codes, share, weight in (("behaviour", tuple(kind.kind for kind in kinds), share_b, weight_b),
                                           ("attribute", tuple(f"r{rule.rule_id}" for rule in config.rules), share_a,
                                            weight_a)):
            order, values, rest = _top(share, keep)
            blocks.append((part, codes, order, False))
            columns += [values * weight, (rest * weight)[:, None]]
        weight_p = weights.predicted / denominator if model is not None else 0.0
        if model is not None:
            factor = np.where(predicted_real > EPSILON, predicted / np.maximum(predicted_real, EPSILON), 0.0)
            # The feature matrix is not needed after this: overwritten in place.
            contributions = prediction.scaled_contributions(factor, overwrite=True)
            order, values, rest = _top(contributions, keep)
            blocks.append(("predicted", tuple(feature.code for feature in model.features), order, True))
            columns += [(prediction.baseline * factor * weight_p)[:, None], values * weight_p,
                        (rest * weight_p)[:, None]]
        matrix = np.hstack(columns) if columns else np.zeros((n, 0))
        integers = largest_remainder(matrix, score)
        part_scores = {"behaviour": behaviour, "attribute": attribute, "predicted": predicted}
        fractions = {"behaviour": weight_b, "attribute": weight_a, "predicted": weight_p}
        position = 0
        model_text = "null" if model is None else str(model.version)
        arguments: list[list[Any]] = [score.tolist()]
        pieces = []
        for part, codes, order, has_baseline in blocks:
            width = order.shape[1]
            span = width + 1 + int(has_baseline)
            block = integers[:, position:position + span]
            # Item columns: [baseline,] the top codes, other — codes of one table, looked up at once.
            names = (("baseline",) if has_baseline else ()) + codes + ("other",)
            other = np.full((n, 1), len(names) - 1, dtype=np.int64)
            index = np.hstack(([np.zeros((n, 1), dtype=np.int64)] if has_baseline else [])
                              + [order + int(has_baseline), other])
            joined = _item_texts(names, index, block)
            pieces.append('"' + part + '":{"score":%d,"weight":' + repr(round(fractions[part], 4))
                          + ',"points":%d,"items":[%s]}')
            arguments += [part_scores[part].tolist(), block.sum(axis=1).tolist(), joined.tolist()]
            position += span
        template = ('{"v":' + str(EXPLANATION_VERSION) + ',"score":%d,"model":' + model_text + ',"parts":{'
                    + ",".join(pieces) + "}}")
        return [template % row for row in zip(*arguments, strict=True)]

    return ScoredBatch(behaviour, attribute, predicted, score, bands, explain)


def empty_columns(count: int, kinds: Sequence[EventKindRule]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Behaviour inputs of leads without events."""
    return (np.zeros((count, len(kinds))), np.zeros((count, len(kinds))), np.full(count, np.nan))
