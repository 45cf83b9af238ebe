"""Forecast pages (销售预测, ADR 0005): the period forecast (roll-up by rep / team / company and
forecast category, system figures beside the submitted ones, the submit form over HTMX, the
history, a chart) and the accuracy page (backtest, Brier of the model vs the stage baseline,
calibration chart); admins retrain the model from there. Included by opportunities.urls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.apps.customers.view_helpers import domain_errors, error_text, int_or_none
from l2c.apps.identity import access
from l2c.apps.identity.models import Department
from l2c.engines.forecast import Cell, periods
from l2c.kernel.errors import ValidationFailed

from . import forecast
from .models import ForecastCategory, ForecastModel, PeriodKind

# Categories in the order of the table: the firmest first; omitted deals are not forecast.
CATEGORIES = ("closed", "commit", "best_case", "pipeline")
GROUP_LABELS = {"owner": gettext_lazy("按销售"), "department": gettext_lazy("按团队"),
                "company": gettext_lazy("全公司")}


def _selection(request: HttpRequest) -> tuple[str, dt.date, str]:
    """Period kind, period start and grouping from the query string; anything invalid falls back to
    the current month / grouping by rep."""
    kind = request.GET.get("period_kind", "month")
    kind = kind if kind in PeriodKind.values else "month"
    try:
        start = periods.period_of(kind, dt.date.fromisoformat(request.GET.get("period", "")))
    except ValueError:
        start = forecast.current_period(kind)
    group_by = request.GET.get("group_by", "owner")
    return kind, start, group_by if group_by in forecast.GROUPS else "owner"


def _period_choices(kind: str, start: dt.date) -> list[dict[str, Any]]:
    """Six periods back and three ahead of the current one, plus the selected one."""
    current = forecast.current_period(kind)
    starts = sorted({periods.shift(kind, current, offset) for offset in range(-6, 4)} | {start})
    return [{"value": day.isoformat(), "label": periods.label(kind, day), "selected": day == start}
            for day in reversed(starts)]


def _category_labels() -> dict[str, str]:
    return {value: str(label) for value, label in ForecastCategory.choices}


def _chart(rollup: forecast.Rollup) -> dict[str, Any]:
    """Stacked bars per group: amount by category, with the expected amount and the submitted commit."""
    labels = _category_labels()
    groups = rollup.groups[:30]
    return {
        "names": [group.name for group in groups],
        "series": [{"name": labels[category], "data": [round(group.cells[category].amount / 100, 2)
                                                       if category in group.cells else 0 for group in groups]}
                   for category in CATEGORIES],
        "expected": [round(group.total.expected / 100, 2) for group in groups],
        "submitted": [round(group.submitted.commit / 100, 2) if group.submitted else None for group in groups],
        "labels": {"expected": _("预期金额"), "submitted": _("提交的承诺金额"), "yuan": _("元")},
    }


def _rows(rollup: forecast.Rollup) -> list[dict[str, Any]]:
    empty = Cell(0, 0, 0)
    return [{"group": group, "cells": [group.cells.get(category, empty) for category in CATEGORIES]}
            for group in rollup.groups]


def _submission_context(request: HttpRequest, kind: str, start: dt.date, **extra: Any) -> dict[str, Any]:
    managed = forecast.managed_department_ids(request.user)
    return {
        "period_kind": kind, "period_start": start, "period_label": periods.label(kind, start),
        "departments": list(Department.objects.filter(pk__in=managed).order_by("path")) if managed else [],
        "history": forecast.forecast_submissions(actor=request.user, period_kind=kind, period_start=start,
                                                 limit=50),
        "values": extra.pop("values", {}), "errors": extra.pop("errors", []), "notice": extra.pop("notice", ""),
        **extra,
    }


@login_required
@domain_errors
def forecast_page(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "opportunity", "view")
    kind, start, group_by = _selection(request)
    rollup = forecast.forecast_rollup(actor=request.user, period_kind=kind, period_start=start, group_by=group_by)
    labels = _category_labels()
    return render(request, "opportunities/forecast.html", {
        "rollup": rollup, "rows": _rows(rollup),
        "categories": [(category, labels[category]) for category in CATEGORIES],
        "totals": [rollup.totals.get(category, Cell(0, 0, 0)) for category in CATEGORIES],
        "total": forecast.total_of(rollup.totals), "group_by": group_by,
        "groupings": [(value, str(label)) for value, label in GROUP_LABELS.items()],
        "kinds": [(value, str(label)) for value, label in PeriodKind.choices],
        "period_choices": _period_choices(kind, start), "chart": _chart(rollup),
        "model": forecast.active_model(), "is_admin": access.is_admin(request.user),
        **_submission_context(request, kind, start),
    })


@login_required
@require_POST
@domain_errors
def forecast_submit(request: HttpRequest) -> HttpResponse:
    """The submit form: HTMX swaps the submissions panel (errors shown in it); without HTMX, a
    redirect back to the forecast page (or the page again with the errors, 422)."""
    data = request.POST
    kind = data.get("period_kind", "")
    raw_start = data.get("period_start", "")
    department_id = int_or_none(data.get("department_id"))
    values = {name: data.get(name, "") for name in ("commit", "best_case", "pipeline", "note")}
    htmx = bool(getattr(request, "htmx", False))
    try:
        row = forecast.forecast_submit(actor=request.user, period_kind=kind, period_start=raw_start,
                                       department_id=department_id, **values)
    except ValidationFailed as error:
        try:
            kind, start = forecast.period_clean(kind, raw_start)
        except ValidationFailed:
            kind, start = "month", forecast.current_period("month")
        context = _submission_context(request, kind, start, values=values, errors=[error_text(error)],
                                      selected_department=department_id)
        if htmx:
            return render(request, "opportunities/_forecast_submissions.html", context)
        messages.error(request, error_text(error))
        return redirect(f"{_page_url()}?period_kind={kind}&period={start.isoformat()}")
    notice = _("已提交 %(period)s 的销售预测。") % {"period": periods.label(row.period_kind, row.period_start)}
    if htmx:
        return render(request, "opportunities/_forecast_submissions.html",
                      _submission_context(request, row.period_kind, row.period_start, notice=notice))
    messages.success(request, notice)
    return redirect(f"{_page_url()}?period_kind={row.period_kind}&period={row.period_start.isoformat()}")


def _page_url() -> str:
    return reverse("opportunities:forecast")


def _accuracy_chart(backtest: forecast.Backtest, model: ForecastModel | None) -> dict[str, Any]:
    def points(table: Any) -> list[list[float]]:
        return [[round(item.mean_probability, 4), round(item.observed_rate, 4), item.count] for item in table]

    held_out = (model.metrics.get("calibration") or []) if model else []
    return {
        "periods": [row.label for row in backtest.periods],
        "forecast": [round(row.accuracy.forecast / 100, 2) for row in backtest.periods],
        "actual": [round(row.accuracy.actual / 100, 2) for row in backtest.periods],
        "error": [row.accuracy.error_percent for row in backtest.periods],
        "brier_model": [row.brier_model for row in backtest.periods],
        "brier_baseline": [row.brier_baseline for row in backtest.periods],
        "calibration_model": points(backtest.calibration),
        "calibration_baseline": points(backtest.calibration_baseline),
        "calibration_held_out": [[round(item["mean_probability"], 4), round(item["observed_rate"], 4), item["count"]]
                                 for item in held_out],
        "labels": {"forecast": _("预测"), "actual": _("实际成交"), "error": _("误差 %"), "yuan": _("元"),
                   "model": _("模型"), "baseline": _("阶段赢率基线"), "held_out": _("模型（训练留出集）"),
                   "perfect": _("完美校准"), "predicted": _("预测赢率"), "observed": _("实际赢单比例"),
                   "brier": _("Brier 分数（越低越好）")},
    }


@login_required
@domain_errors
def forecast_accuracy(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "opportunity", "view")
    kind = request.GET.get("period_kind", "month")
    kind = kind if kind in PeriodKind.values else "month"
    count = int_or_none(request.GET.get("periods")) or 6
    count = max(1, min(count, 24))
    backtest = forecast.forecast_backtest(actor=request.user, period_kind=kind, periods_back=count)
    model = forecast.active_model()
    return render(request, "opportunities/forecast_accuracy.html", {
        "backtest": backtest, "model": model, "period_kind": kind, "periods": count,
        "kinds": [(value, str(label)) for value, label in PeriodKind.choices],
        "latest": ForecastModel.objects.order_by("-trained_at", "-pk").first(),
        "recent_models": list(ForecastModel.objects.select_related("trained_by").order_by("-trained_at", "-pk")[:10]),
        "chart": _accuracy_chart(backtest, model), "is_admin": access.is_admin(request.user),
    })


@login_required
@require_POST
@domain_errors
def forecast_train(request: HttpRequest) -> HttpResponse:
    """Admins retrain the model now (synchronous: a few seconds for thousands of closed deals)."""
    try:
        result = forecast.forecast_train(actor=request.user)
    except ValidationFailed as error:
        messages.error(request, error.detail)
    else:
        (messages.success if result.is_active else messages.warning)(request, result.reason)
    return redirect(reverse("opportunities:forecast_accuracy"))


urlpatterns: list[URLPattern] = [
    path("opportunities/forecast/", forecast_page, name="forecast"),
    path("opportunities/forecast/submit/", forecast_submit, name="forecast_submit"),
    path("opportunities/forecast/accuracy/", forecast_accuracy, name="forecast_accuracy"),
    path("opportunities/forecast/train/", forecast_train, name="forecast_train"),
]
