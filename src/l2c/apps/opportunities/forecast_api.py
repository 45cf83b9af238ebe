"""Forecast API (销售预测, ADR 0005): the period roll-up, forecast submissions and their history, the
accuracy backtest, and the win-probability model. Mounted at /api/v1/ by l2c.api.root. Amounts are
integer fen of CNY (deals in other currencies are counted in `excluded_other_currencies`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.identity import access
from l2c.kernel.errors import ValidationFailed

from . import forecast
from .models import ForecastModel

router = Router(tags=["forecast"])

PeriodKindIn = Literal["month", "quarter"]


# --- schemas ----------------------------------------------------------------------------------------
class CellOut(Schema):
    count: int
    amount: int = Field(description="Σ amount, fen")
    expected: int = Field(description="Σ amount × win probability, rounded half up per deal, fen")


class FiguresOut(Schema):
    """Cumulative figures: commit = closed + commit; best_case = commit + best case; pipeline =
    best_case + pipeline (omitted deals count nowhere)."""

    closed: int
    commit: int
    best_case: int
    pipeline: int


class SubmittedOut(Schema):
    commit: int
    best_case: int
    pipeline: int
    submitted_at: dt.datetime | None
    submitted_by: str
    note: str
    count: int = Field(description="submissions summed (the company row adds the root departments')")


class GroupOut(Schema):
    key: int = Field(description="user id, department id (-1: no department) or 0 for the company")
    name: str
    depth: int = Field(description="department depth in the tree (0 at the top)")
    cells: dict[str, CellOut] = Field(description="by forecast category: pipeline, best_case, commit, closed")
    total: CellOut
    system: FiguresOut
    submitted: SubmittedOut | None = Field(description="the current submission of this rep / department")


class RollupOut(Schema):
    period_kind: str
    period_start: dt.date
    period_end: dt.date = Field(description="exclusive")
    label: str
    group_by: str
    currency: str
    groups: list[GroupOut]
    totals: dict[str, CellOut]
    system: FiguresOut
    excluded_other_currencies: dict[str, int] = Field(description="deals in other currencies left out, by currency")


class SubmissionIn(Schema):
    period_kind: PeriodKindIn
    period_start: dt.date = Field(description="first day of the month or quarter")
    department_id: RecordId | None = Field(None, description="a department you head (or below); omit for yourself")
    commit: str = Field(..., max_length=30, description="yuan, e.g. \"150,000.00\"")
    best_case: str = Field(..., max_length=30, description="yuan; includes commit, so ≥ commit")
    pipeline: str = Field(..., max_length=30, description="yuan; includes best case, so ≥ best_case")
    note: str = Field("", max_length=1000)


class SubmissionOut(Schema):
    id: int
    period_kind: str
    period_start: dt.date
    label: str
    scope: str = Field(description="the rep's or the department's name")
    user_id: int | None
    department_id: int | None
    currency: str
    commit: int = Field(description="fen")
    best_case: int = Field(description="fen")
    pipeline: int = Field(description="fen")
    system_amounts: dict[str, Any] = Field(description="the system's figures of the same scope when submitted")
    note: str
    submitted_by_id: int
    submitted_at: dt.datetime
    is_current: bool = Field(description="the newest submission of its period and scope")


class SubmissionsQuery(Schema):
    period_kind: PeriodKindIn | None = None
    period_start: dt.date | None = None
    user_id: RecordId | None = None
    department_id: RecordId | None = None
    limit: int = Field(200, ge=1, le=1000)


class AccuracyOut(Schema):
    label: str
    period_start: dt.date
    period_end: dt.date
    snapshot_on: dt.date | None = Field(description="the pipeline snapshot used (at or before the period start)")
    deals: int = Field(description="snapshot deals expected to close in the period")
    forecast: int = Field(description="Σ expected amount of those deals, fen")
    actual: int = Field(description="Σ amount won in the period, fen")
    error_percent: float | None = Field(description="(forecast − actual) / actual × 100; null when nothing was won")
    closed: int = Field(description="snapshot deals that closed in the period (the Brier sample)")
    brier_model: float | None
    brier_baseline: float | None


class CalibrationBinOut(Schema):
    low: float
    high: float
    count: int
    mean_probability: float
    observed_rate: float


class BacktestOut(Schema):
    period_kind: str
    currency: str
    periods: list[AccuracyOut]
    brier_model: float | None = Field(description="over every period's closed snapshot deals")
    brier_baseline: float | None
    closed: int
    calibration: list[CalibrationBinOut]
    calibration_baseline: list[CalibrationBinOut]


class CoefficientOut(Schema):
    feature: str
    coefficient: float


class ModelOut(Schema):
    id: int
    trained_at: dt.datetime
    is_active: bool
    sample_size: int
    brier_model: float | None
    brier_baseline: float | None
    reason: str
    train_size: int
    test_size: int
    calibration: list[CalibrationBinOut] = Field(description="held-out reliability table of the model")
    features: list[str]
    coefficients: list[CoefficientOut] = Field(description="standardised coefficients, strongest first")


class ModelStatusOut(Schema):
    active: ModelOut | None = Field(description="the model in use; null: stage probabilities are used")
    latest: ModelOut | None = Field(description="the most recently trained model (may be unused)")


class BacktestQuery(Schema):
    period_kind: PeriodKindIn = "month"
    periods: int = Field(6, ge=1, le=36)


def _cell(cell: Any) -> dict[str, int]:
    return {"count": cell.count, "amount": cell.amount, "expected": cell.expected}


def _rollup_out(rollup: forecast.Rollup) -> dict[str, Any]:
    return {
        "period_kind": rollup.period_kind, "period_start": rollup.period_start, "period_end": rollup.period_end,
        "label": rollup.label, "group_by": rollup.group_by, "currency": rollup.currency,
        "groups": [{"key": group.key, "name": group.name, "depth": group.depth,
                    "cells": {category: _cell(cell) for category, cell in group.cells.items()},
                    "total": _cell(group.total), "system": group.system,
                    "submitted": group.submitted.__dict__ if group.submitted else None} for group in rollup.groups],
        "totals": {category: _cell(cell) for category, cell in rollup.totals.items()}, "system": rollup.system,
        "excluded_other_currencies": rollup.excluded,
    }


def _submission_out(row: forecast.SubmissionRow) -> dict[str, Any]:
    item = row.submission
    return {"id": item.pk, "period_kind": item.period_kind, "period_start": item.period_start, "label": row.label,
            "scope": row.scope, "user_id": item.user_id, "department_id": item.department_id,
            "currency": item.currency, "commit": item.commit_amount, "best_case": item.best_case_amount,
            "pipeline": item.pipeline_amount, "system_amounts": item.system_amounts, "note": item.note,
            "submitted_by_id": item.submitted_by_id, "submitted_at": item.submitted_at, "is_current": row.is_current}


def model_out(row: ForecastModel | None) -> dict[str, Any] | None:
    if row is None:
        return None
    metrics = row.metrics or {}
    return {"id": row.pk, "trained_at": row.trained_at, "is_active": row.is_active, "sample_size": row.sample_size,
            "brier_model": metrics.get("brier_model"), "brier_baseline": metrics.get("brier_baseline"),
            "reason": str(metrics.get("reason", "")), "train_size": int(metrics.get("train_size", 0)),
            "test_size": int(metrics.get("test_size", 0)), "calibration": metrics.get("calibration", []),
            "features": list(row.features), "coefficients": metrics.get("coefficients", [])}


# --- endpoints ----------------------------------------------------------------------------------------
@router.get("/forecast/rollup", response={200: RollupOut, **READ_ERRORS},
            summary="Period forecast by rep, team or company and forecast category",
            description="Open deals you may see expected to close in the period, and deals won in it, summed "
                        "per forecast category (amount and expected amount = amount × win probability). "
                        "group_by=department adds each department's sub-departments. Current submissions are "
                        "returned beside the system figures. Only CNY is summed; other currencies are counted.")
def rollup(request: HttpRequest, period_kind: PeriodKindIn = "month", period_start: dt.date | None = None,
           group_by: Literal["owner", "department", "company"] = "owner") -> Any:
    start = period_start or forecast.current_period(period_kind)
    return _rollup_out(forecast.forecast_rollup(actor=request.user, period_kind=period_kind, period_start=start,
                                                group_by=group_by))


@router.post("/forecast/submissions", response={201: SubmissionOut, **WRITE_ERRORS},
             summary="Submit a forecast call for a period (yourself, or a department you head)",
             description="Append-only: the newest submission of a period and scope is the current one. Amounts "
                         "are yuan as text (at most 2 decimals) and cumulative: commit ≤ best_case ≤ pipeline. "
                         "403 when department_id is not a department you head (or below it). Audited.")
def submit(request: HttpRequest, payload: SubmissionIn) -> Any:
    row = forecast.forecast_submit(actor=request.user, **payload.model_dump())
    label = forecast.periods.label(row.period_kind, row.period_start)
    scope = row.department.name if row.department else str(row.user)
    return Status(201, _submission_out(forecast.SubmissionRow(row, True, label, scope)))


@router.get("/forecast/submissions", response={200: list[SubmissionOut], **READ_ERRORS},
            summary="Submission history you may read, newest first")
def submissions(request: HttpRequest, filters: Query[SubmissionsQuery]) -> Any:
    if (filters.period_kind is None) != (filters.period_start is None):
        raise ValidationFailed.for_field("period_start", _("周期类型和开始日期需要同时提供。"))
    rows = forecast.forecast_submissions(actor=request.user, period_kind=filters.period_kind,
                                         period_start=filters.period_start, user_id=filters.user_id,
                                         department_id=filters.department_id, limit=filters.limit)
    return [_submission_out(row) for row in rows]


@router.get("/forecast/backtest", response={200: BacktestOut, **READ_ERRORS},
            summary="Forecast accuracy of past periods: error % and Brier of the model vs the stage baseline")
def backtest(request: HttpRequest, query: Query[BacktestQuery]) -> Any:
    result = forecast.forecast_backtest(actor=request.user, period_kind=query.period_kind,
                                        periods_back=query.periods)
    return {
        "period_kind": result.period_kind, "currency": result.currency,
        "periods": [{"label": row.label, "period_start": row.start, "period_end": row.end,
                     "snapshot_on": row.snapshot_on, "deals": row.deals, "forecast": row.accuracy.forecast,
                     "actual": row.accuracy.actual, "error_percent": row.accuracy.error_percent,
                     "closed": row.closed, "brier_model": row.brier_model, "brier_baseline": row.brier_baseline}
                    for row in result.periods],
        "brier_model": result.brier_model, "brier_baseline": result.brier_baseline, "closed": result.closed,
        "calibration": [item.__dict__ for item in result.calibration],
        "calibration_baseline": [item.__dict__ for item in result.calibration_baseline],
    }


@router.post("/forecast/model/train", response={201: ModelOut, **WRITE_ERRORS},
             summary="Train a win-probability model now (admins)",
             description="Trains on every closed deal (75 % / 25 % held out) and returns the recorded model; it "
                         "is activated (and open deals rescored) only when its Brier score beats the stage "
                         "baseline. 422 when there are too few closed deals (the message says how many).")
def train(request: HttpRequest) -> Any:
    result = forecast.forecast_train(actor=request.user)
    return Status(201, model_out(result.model))


@router.get("/forecast/model", response={200: ModelStatusOut, **READ_ERRORS},
            summary="The active win-probability model and the latest trained one, with their metrics")
def model_status(request: HttpRequest) -> Any:
    access.require(request.user, "opportunity", "view")
    return {"active": model_out(forecast.active_model()),
            "latest": model_out(ForecastModel.objects.order_by("-trained_at", "-pk").first())}
