"""Training of the predicted score and recalibration of the weights (线索评分, docs/lead-scoring.md).

Labelling rule (outcomes): a lead is *converted* (1) when its status is `converted`; *not converted*
(0) when its status is `disqualified`, or when it was created more than LABEL_AFTER_DAYS (180) days
before as-of and is still not converted. Younger open leads have no outcome yet and are left out.
For converted leads, events after `converted_at` are not counted (no look-ahead).

Training: the leads with an outcome are split 75/25 (stratified, fixed random_state); a
scikit-learn LogisticRegression is fitted on standardised features of the 75 % and stored back in
raw feature space as JSON. Quality on the 25 %: ROC AUC and the lift of the top decile (positive
rate of the top 10 % by probability ÷ overall positive rate). Baseline: the AUC of the current score
without a model (behaviour and attribute parts, re-normalised weights) on the same 25 %. A model is
used (activated) only when there are ≥ 200 leads with ≥ 20 of each outcome and its AUC beats the
baseline by more than max(0.02, 2 standard errors of the AUC, Hanley–McNeil); otherwise it is
recorded with the reason it is not used.

Recalibration: a grid over the weights (steps of 0.05, non-negative, summing to 1) picks the one
whose combined score has the highest AUC on the leads with an outcome (ties: the closest to the
current weights). Without a predicted score on every such lead, the predicted weight is kept and
only behaviour vs attribute is refitted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent
from l2c.engines.scoring import (
    BehaviourColumns,
    LinearModel,
    ScoringConfig,
    feature_matrix,
    features_for,
    score_batch,
    vocabulary_of,
)
from l2c.engines.scoring.predicted import CATEGORY_FIELDS, PRESENCE_FIELDS

from . import scoring
from .models import Lead, LeadStatus, ScoringModel

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

LABEL_AFTER_DAYS = 180
MIN_SAMPLES = 200
MIN_PER_CLASS = 20
HOLDOUT = 0.25
RANDOM_STATE = 0
MIN_CATEGORY_COUNT = 20
MIN_AUC_GAIN = 0.02
GRID_STEP = 5  # percent
Log = Callable[[str], None] | None


@dataclass(frozen=True)
class Outcomes:
    ids: list[int]
    labels: npt.NDArray[np.int64]

    @property
    def positives(self) -> int:
        return int(self.labels.sum())

    @property
    def negatives(self) -> int:
        return len(self.ids) - self.positives


def _outcome_filter(as_of: datetime) -> Q:
    cut = as_of - timedelta(days=LABEL_AFTER_DAYS)
    return Q(status__in=[LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED]) | Q(created_at__lt=cut)


def outcomes(*, as_of: datetime) -> Outcomes:
    """The leads with an outcome (see the labelling rule), ordered by id."""
    rows = Lead.objects.filter(_outcome_filter(as_of)).order_by("pk").values_list("pk", "status")
    ids, labels = [], []
    for pk, status in rows.iterator(chunk_size=20_000):
        ids.append(pk)
        labels.append(1 if status == LeadStatus.CONVERTED else 0)
    return Outcomes(ids, np.asarray(labels, dtype=np.int64))


def auc(labels: npt.NDArray[Any], scores: npt.NDArray[Any]) -> float:
    """ROC AUC (ties count half); 0.5 when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return 0.5
    return float(roc_auc_score(labels, scores))


def auc_standard_error(value: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC."""
    if positives == 0 or negatives == 0:
        return 1.0
    q1 = value / (2 - value)
    q2 = 2 * value * value / (1 + value)
    variance = (value * (1 - value) + (positives - 1) * (q1 - value * value)
                + (negatives - 1) * (q2 - value * value)) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def top_decile_lift(labels: npt.NDArray[Any], scores: npt.NDArray[Any]) -> float:
    """Positive rate of the top 10 % by score ÷ overall positive rate (ties broken by position)."""
    rate = float(np.mean(labels)) if len(labels) else 0.0
    if rate == 0:
        return 0.0
    top = max(1, len(labels) // 10)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:top]
    return float(np.mean(labels[order])) / rate


@dataclass(frozen=True)
class TrainResult:
    version: int
    is_active: bool
    reason: str
    auc: float | None
    baseline_auc: float | None
    top_decile_lift: float | None
    sample_count: int
    positive_count: int
    seconds: float


def _next_version() -> int:
    return int(ScoringModel.objects.aggregate(top=Max("version"))["top"] or 0) + 1


def _record(*, actor: User | None, as_of: datetime, data: dict[str, Any], activate: bool) -> ScoringModel:
    for _attempt in range(3):
        try:
            with transaction.atomic():
                model = ScoringModel.objects.create(version=_next_version(), trained_at=as_of, created_by=actor,
                                                    is_active=False, **data)
                if activate:
                    ScoringModel.objects.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
                    ScoringModel.objects.filter(pk=model.pk).update(is_active=True)
                    model.is_active = True
                audit_record(object_type="scoring_model", object_id=model.pk, action=AuditEvent.Kind.CREATE,
                             actor_id=actor.pk if actor else None, object_repr=f"v{model.version}",
                             changes={"auc": [None, model.auc], "baseline_auc": [None, model.baseline_auc],
                                      "is_active": [None, model.is_active],
                                      "reason": [None, model.parameters.get("reason", "")]})
                return model
        except IntegrityError:  # two trainings took the same version number: take the next one
            continue
    raise RuntimeError("could not allocate a model version")


def scoring_model_train(*, actor: User | None, as_of: datetime | None = None, log: Log = None) -> TrainResult:
    """Train, evaluate and record a model version; activate it when it beats the baseline (then
    every lead is rescored by a job)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    as_of = as_of or timezone.now()
    config = scoring.scoring_config()
    base_config = ScoringConfig(config.kinds, config.rules, None, config.weights)
    labelled = outcomes(as_of=as_of)
    count, positives, negatives = len(labelled.ids), labelled.positives, labelled.negatives
    if log:
        log(f"{count} leads with an outcome: {positives} converted, {negatives} not")

    def not_used(reason: str, **extra: Any) -> TrainResult:
        model = _record(actor=actor, as_of=as_of, activate=False, data={
            "sample_count": count, "positive_count": positives, "parameters": {"reason": reason, **extra.pop(
                "parameters", {})}, **extra})
        return TrainResult(model.version, False, reason, model.auc, model.baseline_auc, model.top_decile_lift, count,
                           positives, round(time.perf_counter() - started, 3))

    if count < MIN_SAMPLES or positives < MIN_PER_CLASS or negatives < MIN_PER_CLASS:
        return not_used(f"too few outcomes: {count} leads ({positives} converted, {negatives} not); needs "
                        f"≥ {MIN_SAMPLES} with ≥ {MIN_PER_CLASS} of each")
    ids, columns, _extras = scoring.lead_columns_for_ids(
        base_config, labelled.ids, as_of, until_converted=True,
        with_fields=(*CATEGORY_FIELDS, *PRESENCE_FIELDS))
    label_of = dict(zip(labelled.ids, labelled.labels.tolist(), strict=True))
    y = np.asarray([label_of[pk] for pk in ids], dtype=np.int64)
    kinds = tuple(kind.kind for kind in config.kinds)
    features = features_for(vocabulary_of(columns.fields, MIN_CATEGORY_COUNT), kinds)
    x = feature_matrix(features, columns.fields, BehaviourColumns(kinds, columns.recent_counts,
                                                                  columns.days_since_last), columns.count)
    train, test = train_test_split(np.arange(len(ids)), test_size=HOLDOUT, random_state=RANDOM_STATE, stratify=y)
    means = x[train].mean(axis=0)
    scales = x[train].std(axis=0)
    scales[scales == 0] = 1.0
    fitted = LogisticRegression(C=1.0, max_iter=500)
    fitted.fit((x[train] - means) / scales, y[train])
    coefficients = fitted.coef_[0] / scales
    intercept = float(fitted.intercept_[0] - np.sum(fitted.coef_[0] * means / scales))
    logits = intercept + x[test] @ coefficients
    model_auc = auc(y[test], logits)
    baseline_scores = score_batch(base_config, _rows(columns, test)).score
    baseline = auc(y[test], baseline_scores)
    lift = top_decile_lift(y[test], logits)
    test_positives = int(y[test].sum())
    error = auc_standard_error(model_auc, test_positives, len(test) - test_positives)
    margin = max(MIN_AUC_GAIN, 2 * error)
    linear = LinearModel(0, features, tuple(float(v) for v in coefficients), intercept, tuple(float(v) for v in means))
    parameters = linear.to_json()
    beats = model_auc > baseline + margin
    reason = (f"AUC {model_auc:.3f} beats the baseline {baseline:.3f} by more than {margin:.3f}" if beats else
              f"AUC {model_auc:.3f} does not beat the baseline {baseline:.3f} by more than {margin:.3f}")
    parameters.update(reason=reason, holdout=len(test), auc_standard_error=round(error, 4),
                      label_after_days=LABEL_AFTER_DAYS)
    if log:
        log(f"{len(features)} features; holdout {len(test)}: AUC {model_auc:.3f}, baseline {baseline:.3f}, "
            f"lift {lift:.2f}")
    data = {"sample_count": count, "positive_count": positives, "auc": round(model_auc, 4),
            "baseline_auc": round(baseline, 4), "top_decile_lift": round(lift, 3), "parameters": parameters}
    if not beats:
        return not_used(reason, **data)
    model = _record(actor=actor, as_of=as_of, activate=True, data=data)
    scoring.scoring_config_invalidate()
    transaction.on_commit(scoring.scoring_config_invalidate)
    transaction.on_commit(lambda: scoring.rescore_all_request(actor=None, trigger=f"model v{model.version}"))
    return TrainResult(model.version, True, reason, model.auc, model.baseline_auc, model.top_decile_lift, count,
                       positives, round(time.perf_counter() - started, 3))


def _rows(columns: scoring.LeadColumns, index: npt.NDArray[np.int64]) -> scoring.LeadColumns:
    return scoring.LeadColumns(len(index), {name: values[index] for name, values in columns.fields.items()},
                               columns.decayed[index], columns.recent_counts[index], columns.days_since_last[index])


# --- recalibration -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecalibrateResult:
    message: str
    proposed_id: int | None
    applied: bool
    quality_before: float | None
    quality_after: float | None


def _combined(weights: tuple[int, int, int], parts: npt.NDArray[np.int64], with_model: bool) -> npt.NDArray[np.int64]:
    behaviour, attribute, predicted = weights
    if with_model:
        numerator = behaviour * parts[:, 0] + attribute * parts[:, 1] + predicted * parts[:, 2]
        denominator = 10_000
    else:
        numerator = behaviour * parts[:, 0] + attribute * parts[:, 1]
        denominator = max(behaviour + attribute, 1)
    return np.asarray((2 * numerator + denominator) // (2 * denominator), dtype=np.int64)


def scoring_weights_recalibrate(*, as_of: datetime | None = None, log: Log = None) -> RecalibrateResult:
    """Fit the weights to the outcomes and propose them (applied at once when
    L2C_SCORING_WEIGHTS_AUTO_APPLY is on). Nothing is recorded when there are too few outcomes or
    when the current weights are already the best."""
    as_of = as_of or timezone.now()
    rows = list(Lead.objects.filter(_outcome_filter(as_of)).values_list(
        "status", "behaviour_score", "attribute_score", "predicted_score").iterator(chunk_size=20_000))
    labels = np.asarray([1 if row[0] == LeadStatus.CONVERTED else 0 for row in rows], dtype=np.int64)
    positives = int(labels.sum())
    negatives = len(rows) - positives
    if len(rows) < MIN_SAMPLES or positives < MIN_PER_CLASS or negatives < MIN_PER_CLASS:
        message = (f"not recalibrated: {len(rows)} leads with an outcome ({positives} converted, {negatives} not); "
                   f"needs ≥ {MIN_SAMPLES} with ≥ {MIN_PER_CLASS} of each")
        return RecalibrateResult(message, None, False, None, None)
    with_model = all(row[3] is not None for row in rows)
    parts = np.asarray([(row[1], row[2], row[3] or 0) for row in rows], dtype=np.int64)
    current = scoring.weights_current()
    current_tuple = (current.behaviour, current.attribute, current.predicted)
    candidates: list[tuple[int, int, int]] = []
    step = GRID_STEP * 100
    if with_model:
        for behaviour in range(0, 10_001, step):
            for attribute in range(0, 10_001 - behaviour, step):
                if behaviour + attribute > 0:
                    candidates.append((behaviour, attribute, 10_000 - behaviour - attribute))
    else:
        rest = 10_000 - current.predicted
        candidates = [(behaviour, rest - behaviour, current.predicted) for behaviour in range(0, rest + 1, step)]
        candidates += [] if current_tuple in candidates else [current_tuple]
    before = auc(labels, _combined(current_tuple, parts, with_model))

    def key(weights: tuple[int, int, int]) -> tuple[float, int, tuple[int, int, int]]:
        distance = sum(abs(a - b) for a, b in zip(weights, current_tuple, strict=True))
        return (-round(auc(labels, _combined(weights, parts, with_model)), 6), distance, weights)

    best = min(candidates, key=key)
    after = auc(labels, _combined(best, parts, with_model))
    if log:
        log(f"{len(rows)} leads with an outcome; AUC with the current weights {before:.4f}, best {after:.4f} "
            f"at {best}")
    if best == current_tuple or after <= before + 1e-6:
        return RecalibrateResult(f"weights unchanged: the current weights are the best (AUC {before:.4f})", None,
                                 False, before, after)
    auto = bool(getattr(settings, "L2C_SCORING_WEIGHTS_AUTO_APPLY", False))
    data = {name: str(Decimal(value) / 10_000) for name, value in zip(("behaviour", "attribute", "predicted"), best,
                                                                      strict=True)}
    with transaction.atomic():
        row = scoring.weights_propose(actor=None, data=data, quality_before=round(before, 4),
                                      quality_after=round(after, 4), sample_count=len(rows), apply=auto)
    verb = "applied" if auto else "proposed (waiting for an admin)"
    return RecalibrateResult(f"weights {verb}: {data}, AUC {before:.4f} → {after:.4f}", row.pk, auto,
                             round(before, 4), round(after, 4))
