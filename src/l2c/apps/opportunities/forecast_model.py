"""The win-probability model of the forecast (赢率模型, docs/opportunities.md "Forecast"): features of
deals as of a moment (closing time for closed deals, now for open ones), training on the closed
history with a held-out Brier score against the stage baseline, and rescoring of the open deals.
The maths of applying a model is `engines.forecast.model`."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent, FollowUp
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines import forecast as engine
from l2c.engines import health as health_engine
from l2c.engines.forecast import model as model_engine
from l2c.kernel.errors import FieldError, PermissionDenied, ValidationFailed

from .health import health_settings
from .models import (
    ForecastModel,
    HealthAnswer,
    Opportunity,
    OpportunityContact,
    OpportunityStatus,
    Stage,
    StageHistory,
    StageKind,
)

MIN_CLOSED = 50
MIN_PER_CLASS = 5
HOLDOUT = 0.25
RANDOM_STATE = 0
MIN_CATEGORY_COUNT = 5
CHUNK = 2000


# --- the model: features ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _StageInfo:
    process_id: int
    kind: str
    probability: int
    norm_days: int | None
    ratio: float  # position among the open stages of its process, 1/n … 1 (0 for closing stages)


def _stages() -> dict[int, _StageInfo]:
    rows = list(Stage.objects.order_by("process_id", "position").values_list(
        "pk", "process_id", "kind", "probability", "norm_days"))
    open_by_process: dict[int, list[int]] = defaultdict(list)
    for pk, process_id, kind, _probability, _norm in rows:
        if kind == StageKind.OPEN:
            open_by_process[process_id].append(pk)
    info = {}
    for pk, process_id, kind, probability, norm_days in rows:
        opened = open_by_process[process_id]
        ratio = (opened.index(pk) + 1) / len(opened) if pk in opened else 0.0
        info[pk] = _StageInfo(process_id, kind, probability, norm_days, ratio)
    return info


@dataclass(frozen=True)
class _DealRow:
    """A deal as the model sees it at moment `cut`: its (last open) stage and when it entered it."""

    pk: int
    stage_id: int
    stage_entered_at: dt.datetime
    cut: dt.datetime
    created_at: dt.datetime
    close_date: dt.date | None
    amount: int
    source: str
    industry: str


def _health_inputs(rows: Sequence[_DealRow], stages: Mapping[int, _StageInfo]
                   ) -> tuple[dict[int, health_engine.HealthInput], dict[int, int]]:
    """Health engine inputs at each row's `cut` and follow-up counts before it: three queries."""
    ids = [row.pk for row in rows]
    answers: dict[int, dict[str, int]] = defaultdict(dict)
    for deal_id, dimension, level in HealthAnswer.objects.filter(opportunity_id__in=ids).values_list(
            "opportunity_id", "dimension", "level"):
        answers[deal_id][dimension] = level
    chains: dict[int, list[health_engine.ChainMember]] = defaultdict(list)
    for deal_id, role, attitude, influence in OpportunityContact.objects.filter(opportunity_id__in=ids).values_list(
            "opportunity_id", "role", "attitude", "influence"):
        chains[deal_id].append(health_engine.ChainMember(role, attitude, influence))
    cut_of = {row.pk: row.cut for row in rows}
    followups: dict[int, int] = defaultdict(int)
    last_followup: dict[int, dt.datetime] = {}
    for deal_id, occurred_at in FollowUp.objects.filter(object_type="opportunity", object_id__in=ids).values_list(
            "object_id", "occurred_at"):
        if occurred_at <= cut_of[deal_id]:  # no look-ahead: only follow-ups up to the moment
            followups[deal_id] += 1
            if deal_id not in last_followup or occurred_at > last_followup[deal_id]:
                last_followup[deal_id] = occurred_at
    inputs = {}
    for row in rows:
        last = last_followup.get(row.pk)
        inputs[row.pk] = health_engine.HealthInput(
            answers=answers.get(row.pk, {}), chain=chains.get(row.pk, []),
            days_since_activity=None if last is None else max(0, (row.cut - last).days),
            days_in_stage=max(0, (row.cut - row.stage_entered_at).days),
            stage_norm_days=stages[row.stage_id].norm_days,
            days_to_close=None if row.close_date is None else (row.close_date - timezone.localdate(row.cut)).days)
    return inputs, followups


def _facts(rows: Sequence[_DealRow], stages: Mapping[int, _StageInfo]) -> list[model_engine.DealFacts]:
    inputs, followups = _health_inputs(rows, stages)
    settings = health_settings()
    facts = []
    for row in rows:
        health = health_engine.health(inputs[row.pk], settings)
        stage = stages[row.stage_id]
        facts.append(model_engine.DealFacts(
            stage_ratio=stage.ratio, stage_probability=stage.probability,
            age_days=max(0, (row.cut - row.created_at).days),
            days_in_stage=max(0, (row.cut - row.stage_entered_at).days), followups=followups.get(row.pk, 0),
            health={item.dimension: item.score for item in health.dimensions}, amount=row.amount,
            source=row.source, industry=row.industry))
    return facts


DEAL_FIELDS = ("pk", "stage_id", "stage_entered_at", "created_at", "close_date", "amount", "source",
               "account__industry", "status", "closed_at")


def _closed_rows(deals: Sequence[Mapping[str, Any]], stages: Mapping[int, _StageInfo]) -> list[_DealRow]:
    """Closed deals as they stood when they closed: the last OPEN stage they were in (stage history),
    how long they had been in it, everything cut at `closed_at`."""
    ids = [deal["pk"] for deal in deals]
    last_open: dict[int, tuple[int, dt.datetime, dt.datetime | None]] = {}
    for deal_id, stage_id, entered_at, exited_at in StageHistory.objects.filter(opportunity_id__in=ids).order_by(
            "entered_at", "pk").values_list("opportunity_id", "stage_id", "entered_at", "exited_at"):
        if stages[stage_id].kind == StageKind.OPEN:
            last_open[deal_id] = (stage_id, entered_at, exited_at)
    rows = []
    for deal in deals:
        cut = deal["closed_at"]
        found = last_open.get(deal["pk"])
        if found is None:  # no history (imported closed): its process's first open stage, since creation
            first = min((pk for pk, info in stages.items() if info.kind == StageKind.OPEN
                         and info.process_id == stages[deal["stage_id"]].process_id),
                        key=lambda pk: stages[pk].ratio)
            found = (first, deal["created_at"], cut)
        stage_id, entered_at, _exited = found
        rows.append(_DealRow(deal["pk"], stage_id, min(entered_at, cut), cut, deal["created_at"], deal["close_date"],
                             deal["amount"], deal["source"] or "", deal["account__industry"] or ""))
    return rows


def _open_rows(deals: Sequence[Mapping[str, Any]], as_of: dt.datetime) -> list[_DealRow]:
    return [_DealRow(deal["pk"], deal["stage_id"], deal["stage_entered_at"], as_of, deal["created_at"],
                     deal["close_date"], deal["amount"], deal["source"] or "", deal["account__industry"] or "")
            for deal in deals]


# --- the model: training ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingSet:
    ids: list[int]
    facts: list[model_engine.DealFacts]
    labels: np.ndarray[Any, np.dtype[np.int64]]
    baseline: np.ndarray[Any, np.dtype[np.float64]]  # the stage probability (0–1) at close


def training_set() -> TrainingSet:
    """Every closed deal (won 1, lost 0) with its features at closing and its baseline probability
    (the probability of the last open stage it was in), ordered by id."""
    stages = _stages()
    ids: list[int] = []
    facts: list[model_engine.DealFacts] = []
    labels: list[int] = []
    baseline: list[float] = []
    closed = (Opportunity.objects.filter(status__in=[OpportunityStatus.WON, OpportunityStatus.LOST],
                                         closed_at__isnull=False).order_by("pk").values(*DEAL_FIELDS))
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        rows = _closed_rows(batch, stages)
        ids.extend(row.pk for row in rows)
        facts.extend(_facts(rows, stages))
        labels.extend(1 if deal["status"] == OpportunityStatus.WON else 0 for deal in batch)
        baseline.extend(stages[row.stage_id].probability / 100 for row in rows)
        batch.clear()

    for deal in closed.iterator(chunk_size=CHUNK):
        batch.append(deal)
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    return TrainingSet(ids, facts, np.asarray(labels, dtype=np.int64), np.asarray(baseline, dtype=np.float64))


def _not_enough(count: int, won: int, lost: int) -> ValidationFailed:
    message = _("训练赢率模型至少需要 %(min)s 个已关闭的商机，且赢单和输单各至少 %(per_class)s 个；"
                "目前有 %(count)s 个（赢单 %(won)s 个，输单 %(lost)s 个）。") % {
        "min": MIN_CLOSED, "per_class": MIN_PER_CLASS, "count": count, "won": won, "lost": lost}
    return ValidationFailed(message, errors=[FieldError("closed_deals", message, "too_few")])


def _fit(data: TrainingSet) -> tuple[model_engine.WinModel, dict[str, Any]]:
    """Logistic regression on 75 % (stratified, fixed seed), Platt-calibrated on its out-of-fold
    logits (5-fold cross-validation inside the 75 %), evaluated on the held-out 25 %."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

    names = model_engine.feature_names(data.facts, MIN_CATEGORY_COUNT)
    x = model_engine.feature_matrix(data.facts, names)
    y = data.labels
    train, test = train_test_split(np.arange(len(y)), test_size=HOLDOUT, random_state=RANDOM_STATE, stratify=y)
    means = x[train].mean(axis=0)
    scales = x[train].std(axis=0)
    scales[scales == 0] = 1.0
    standardised = (x[train] - means) / scales
    classifier = LogisticRegression(C=1.0, max_iter=2000)
    folds = int(min(5, np.bincount(y[train], minlength=2).min()))
    out_of_fold = cross_val_predict(classifier, standardised, y[train], method="decision_function",
                                    cv=StratifiedKFold(n_splits=max(2, folds)))
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(out_of_fold.reshape(-1, 1), y[train])
    classifier.fit(standardised, y[train])
    model = model_engine.WinModel(
        names, tuple(float(v) for v in means), tuple(float(v) for v in scales),
        tuple(float(v) for v in classifier.coef_[0]), float(classifier.intercept_[0]),
        model_engine.Calibration("platt", float(platt.coef_[0][0]), float(platt.intercept_[0])))
    predicted = model_engine.probabilities(model, x[test])
    brier_model = engine.brier(predicted, y[test])
    brier_baseline = engine.brier(data.baseline[test], y[test])
    metrics = {
        "brier_model": round(brier_model, 5), "brier_baseline": round(brier_baseline, 5),
        "calibration": [bin_.__dict__ for bin_ in engine.calibration(predicted, y[test])],
        "calibration_baseline": [bin_.__dict__ for bin_ in engine.calibration(data.baseline[test], y[test])],
        "train_size": len(train), "test_size": len(test), "won": int(y.sum()), "lost": int(len(y) - y.sum()),
        "test_won": int(y[test].sum()), "calibration_kind": "platt",
        # A list, strongest first (a JSON object's key order is not kept by PostgreSQL's jsonb).
        "coefficients": [{"feature": name, "coefficient": value} for name, value in sorted(
            zip(names, (round(float(v), 4) for v in classifier.coef_[0]), strict=True),
            key=lambda item: -abs(item[1]))],
    }
    return model, metrics


@dataclass(frozen=True)
class TrainResult:
    model: ForecastModel
    is_active: bool
    reason: str


def forecast_train(*, actor: User | None = None, now: dt.datetime | None = None) -> TrainResult:
    """Train a win-probability model on the closed deals and record it with its held-out quality;
    it becomes the active one (and a job rescores the open deals after commit) only when its Brier
    score is below the stage baseline's. Too few closed deals: ValidationFailed, nothing stored.
    `actor` None is the weekly job; a person must be an admin."""
    if actor is not None and not access.is_admin(actor):
        raise PermissionDenied(_("只有管理员可以训练赢率模型。"))
    data = training_set()
    won = int(data.labels.sum())
    lost = len(data.ids) - won
    if len(data.ids) < MIN_CLOSED or won < MIN_PER_CLASS or lost < MIN_PER_CLASS:
        raise _not_enough(len(data.ids), won, lost)
    model, metrics = _fit(data)
    beats = metrics["brier_model"] < metrics["brier_baseline"]
    reason = (_("模型 Brier 分数 %(model).4f 低于阶段赢率基线 %(baseline).4f，已启用。") if beats else
              _("模型 Brier 分数 %(model).4f 未低于阶段赢率基线 %(baseline).4f，未启用。")) % {
        "model": metrics["brier_model"], "baseline": metrics["brier_baseline"]}
    metrics["reason"] = reason
    with transaction.atomic():
        row = ForecastModel.objects.create(
            trained_at=now or timezone.now(), parameters=model.to_json(), features=list(model.features),
            metrics=metrics, sample_size=len(data.ids), is_active=False, trained_by=actor)
        if beats:
            ForecastModel.objects.filter(is_active=True).update(is_active=False)
            ForecastModel.objects.filter(pk=row.pk).update(is_active=True)
            row.is_active = True
            rescore_request(actor=actor)
        audit_record(object_type="forecast_model", object_id=row.pk, action=AuditEvent.Kind.CREATE,
                     actor_id=actor.pk if actor else None, object_repr=str(row), summary=reason,
                     changes={"brier_model": [None, metrics["brier_model"]],
                              "brier_baseline": [None, metrics["brier_baseline"]],
                              "sample_size": [None, len(data.ids)], "is_active": [None, row.is_active]})
    return TrainResult(row, row.is_active, reason)


UPDATE_ROWS = 400  # deals per UPDATE statement (3 parameters each)


def _write_model_probabilities(updates: Sequence[tuple[int, int]]) -> None:
    """Set (deal id, per-mille) pairs with source "model": one `UPDATE … SET win_probability = CASE
    id WHEN … END WHERE id IN (…)` per UPDATE_ROWS deals (Django's bulk_update spends ~1 ms per row
    building the same CASE as expressions). Neither the version (ETag) nor updated_at moves: the
    probability is the system's, not an edit."""
    table = connection.ops.quote_name(Opportunity._meta.db_table)
    for start in range(0, len(updates), UPDATE_ROWS):
        chunk = updates[start:start + UPDATE_ROWS]
        cases = " ".join(["WHEN %s THEN CAST(%s AS INTEGER)"] * len(chunk))
        marks = ", ".join(["%s"] * len(chunk))
        params: list[Any] = [value for pair in chunk for value in pair]
        params += ["model", *(pk for pk, _value in chunk)]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET win_probability = CASE id {cases} END, "  # noqa: S608 - no input
                           f"probability_source = %s WHERE id IN ({marks})", params)


RESCORE_JOB = "opportunities.forecast_rescore"


def rescore_request(*, actor: User | None) -> Any:
    """Queue a rescore of every open deal (after commit); one already queued is returned instead."""
    from l2c.apps.activity.jobs import job_enqueue
    from l2c.apps.activity.models import JobRun

    from .forecast_tasks import forecast_rescore_task

    waiting = JobRun.objects.filter(name=RESCORE_JOB, status=JobRun.Status.QUEUED).order_by("-id").first()
    if waiting is not None:
        return waiting
    return job_enqueue(task=forecast_rescore_task, name=RESCORE_JOB, actor=actor)


def active_model() -> ForecastModel | None:
    return ForecastModel.objects.filter(is_active=True).first()


# --- the model: rescoring --------------------------------------------------------------------------------
def forecast_rescore(deal_ids: Iterable[int] | None = None, *, as_of: dt.datetime | None = None) -> int:
    """Write `win_probability` (per-mille) of open deals (all, or `deal_ids`): from the active model
    (`probability_source` "model"), or without one the stage probability × 10 ("stage"). Returns
    the number of deals whose stored probability changed."""
    moment = as_of or timezone.now()
    deals = Opportunity.objects.filter(status=OpportunityStatus.OPEN)
    if deal_ids is not None:
        deals = deals.filter(pk__in=list(deal_ids))
    row = active_model()
    if row is None:
        changed = 0
        for stage_id, probability in Stage.objects.filter(kind=StageKind.OPEN).values_list("pk", "probability"):
            changed += deals.filter(stage_id=stage_id).exclude(
                win_probability=probability * 10, probability_source="stage").update(
                win_probability=probability * 10, probability_source="stage")
        return changed
    model = model_engine.WinModel.from_json(row.parameters)
    stages = _stages()
    changed = 0
    batch: list[dict[str, Any]] = []

    def flush() -> int:
        rows = _open_rows(batch, moment)
        values = model_engine.permille(model_engine.probabilities(
            model, model_engine.feature_matrix(_facts(rows, stages), model.features))).tolist()
        updates = [(deal["pk"], value) for deal, value in zip(batch, values, strict=True)
                   if (deal["win_probability"], deal["probability_source"]) != (value, "model")]
        _write_model_probabilities(updates)
        batch.clear()
        return len(updates)

    for deal in deals.order_by("pk").values(*DEAL_FIELDS, "win_probability", "probability_source").iterator(
            chunk_size=CHUNK):
        batch.append(deal)
        if len(batch) >= CHUNK:
            changed += flush()
    if batch:
        changed += flush()
    return changed
