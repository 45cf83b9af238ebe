"""Pipeline analytics pages (管道分析, ADR 0005 §6): `/opportunities/pipeline/` with the filter bar,
ECharts charts (funnel, conversion, time in stage, win rate, pipeline by close month stacked by
forecast category), the by-rep and by-team tables and export links; `/opportunities/pipeline/export/`
downloads one report. Thin: parse the filters, call `pipeline`, shape for the template."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from l2c.apps.customers.rfm import amount_display
from l2c.apps.customers.view_helpers import domain_errors, query_string
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.kernel.errors import ValidationFailed
from l2c.kernel.money import CURRENCY_EXPONENTS

from . import pipeline, pipeline_exports
from .models import ForecastCategory, SalesProcess

FILTER_NAMES = ("process_id", "owner_id", "department_id", "date_field", "date_from", "date_to", "currency")
OPEN_CATEGORIES = (ForecastCategory.PIPELINE, ForecastCategory.BEST_CASE, ForecastCategory.COMMIT,
                   ForecastCategory.OMITTED)


def money_text(amounts: pipeline.Amounts) -> str:
    """"CNY 1,000.00 · USD 50.00", or "—" without amounts."""
    parts = [amount_display(amount, currency) for currency, amount in sorted(amounts.items()) if currency]
    return " · ".join(parts) or "—"


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _yuan(amounts: pipeline.Amounts, currency: str) -> float:
    """Major units as a number for a chart axis (exact amounts are in the tables)."""
    return float(Decimal(amounts.get(currency, 0)).scaleb(-CURRENCY_EXPONENTS.get(currency, 2)))


def _figures_view(figures: pipeline.StatusFigures) -> dict[str, Any]:
    return {"open_count": figures.open_count, "open": money_text(figures.open_amounts),
            "expected": money_text(figures.expected_amounts), "won_count": figures.won_count,
            "won": money_text(figures.won_amounts), "lost_count": figures.lost_count,
            "lost": money_text(figures.lost_amounts), "win_rate": percent_text(figures.win_rate_percent),
            "amount_win_rate": " · ".join(f"{currency} {percent_text(rate)}" for currency, rate in
                                          figures.amount_win_rate_percent.items()) or "—"}


@dataclass(frozen=True)
class PageReport:
    """Every report of the page, for the same actor and filters."""

    funnel: pipeline.Funnel
    conversion: pipeline.Conversion
    cycle_time: pipeline.CycleTime
    breakdown: pipeline.Breakdown
    by_month: pipeline.ByMonth


def page_report(actor: User, filters: pipeline.PipelineFilters) -> PageReport:
    return PageReport(
        funnel=pipeline.pipeline_funnel(actor=actor, filters=filters),
        conversion=pipeline.pipeline_conversion(actor=actor, filters=filters),
        cycle_time=pipeline.pipeline_cycle_time(actor=actor, filters=filters),
        breakdown=pipeline.pipeline_breakdown(actor=actor, filters=filters),
        by_month=pipeline.pipeline_by_month(actor=actor, filters=filters),
    )


def _chart_data(report: PageReport, currency: str) -> dict[str, Any]:
    """What the charts draw: counts, rates and days as numbers, amounts of one currency in major units."""
    funnel, conversion, cycle = report.funnel, report.conversion, report.cycle_time
    breakdown, by_month = report.breakdown, report.by_month
    category_labels = {value: str(label) for value, label in ForecastCategory.choices}
    return {
        "currency": currency,
        "labels": {"funnel": _("销售漏斗（当前所在阶段）"), "conversion": _("阶段转化率 %"),
                   "cycle_time": _("阶段停留天数"), "win_rate": _("赢率 %（按数量）"),
                   "by_month": _("按预计成交月份的管道（%(currency)s）") % {"currency": currency},
                   "average": _("平均（已结束）"), "median": _("中位（已结束）"), "current": _("当前停留平均"),
                   "days": _("天"), "deals": _("商机数"), "amount": _("金额"), "expected": _("预期金额"),
                   "rate": _("转化率 %"), "owners": _("销售"), "teams": _("团队")},
        "funnel": [{"name": row.name, "value": row.count, "amount": _yuan(row.amounts, currency)}
                   for row in funnel.stages if row.kind != "lost"],
        "conversion": {"names": [row.name for row in conversion.stages],
                       "rates": [row.rate_percent for row in conversion.stages],
                       "entered": [row.entered for row in conversion.stages]},
        "cycle_time": {"names": [row.name for row in cycle.stages],
                       "average": [row.closed.average_days for row in cycle.stages],
                       "median": [row.closed.median_days for row in cycle.stages],
                       "current": [row.current.average_days for row in cycle.stages]},
        "win_rate": {"names": [row.name for row in breakdown.owners],
                     "rates": [row.figures.win_rate_percent for row in breakdown.owners]},
        "by_month": {"months": [f"{row.month:%Y-%m}" for row in by_month.months],
                     "series": [{"name": category_labels[category],
                                 "data": [_yuan(row.categories[category].amounts, currency)
                                          if category in row.categories else 0 for row in by_month.months]}
                                for category in OPEN_CATEGORIES
                                if any(category in row.categories for row in by_month.months)],
                     "expected": [_yuan(row.total.expected_amounts, currency) for row in by_month.months]},
    }


def _choices(user: User) -> dict[str, Any]:
    visible = access.visible(user, "opportunity")
    owners = User.objects.filter(pk__in=visible.values("owner_id")).order_by("display_name", "username")
    currencies = sorted(set(visible.order_by().values_list("currency", flat=True).distinct()))
    return {
        "processes": list(SalesProcess.objects.order_by("-is_default", "name").values_list("pk", "name")),
        "owners": [(owner.pk, str(owner)) for owner in owners],
        "departments": [(pk, "　" * path.strip("/").count("/") + name)
                        for pk, name, path in Department.objects.order_by("path").values_list("pk", "name", "path")],
        "currencies": currencies,
    }


def _export_links(params: dict[str, str], may_export: bool) -> dict[str, dict[str, str]]:
    if not may_export:
        return {}
    base = reverse("opportunities:pipeline_export")
    return {report: {fmt: f"{base}?{query_string({**params, 'report': report, 'format': fmt})}"
                     for fmt in pipeline_exports.FORMATS} for report in pipeline_exports.REPORTS}


@login_required
@require_GET
@domain_errors
def pipeline_page(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    access.require(user, "opportunity", "view")
    params = {name: request.GET.get(name, "").strip() for name in FILTER_NAMES if request.GET.get(name, "").strip()}
    context: dict[str, Any] = {"params": params, **_choices(user), "errors": [], "report": None,
                               "date_fields": [("created", _("创建日期")), ("closed", _("关闭日期"))]}
    try:
        filters = pipeline.pipeline_filters_clean(params=params)
        report = page_report(user, filters)
    except ValidationFailed as failure:
        context["errors"] = failure.errors
        return render(request, "opportunities/pipeline.html", context, status=400)
    chart_currency = filters.currency or ("CNY" if "CNY" in context["currencies"] or not context["currencies"]
                                          else context["currencies"][0])
    breakdown, by_month = report.breakdown, report.by_month
    context.update({
        "report": report, "filters": filters, "chart_currency": chart_currency,
        "chart": _chart_data(report, chart_currency),
        "funnel_rows": [{"row": row, "amount": money_text(row.amounts)} for row in report.funnel.stages],
        "total": _figures_view(breakdown.total),
        "owner_rows": [{"row": row, "view": _figures_view(row.figures)} for row in breakdown.owners],
        "team_rows": [{"row": row, "view": _figures_view(row.figures)} for row in breakdown.teams],
        "month_rows": [{"row": row, "amount": money_text(row.total.amounts),
                        "expected": money_text(row.total.expected_amounts)} for row in by_month.months],
        "month_extras": [(label, cell, money_text(cell.amounts), money_text(cell.expected_amounts))
                         for label, cell in ((_("已逾期"), by_month.overdue),
                                             (_("12 个月之后"), by_month.later),
                                             (_("未填预计成交日期"), by_month.undated))],
        "exports": _export_links(params, access.can(user, "opportunity", "export")),
    })
    return render(request, "opportunities/pipeline.html", context)


@login_required
@require_GET
@domain_errors
def pipeline_export(request: HttpRequest) -> HttpResponse:
    from .pipeline_api import export_response

    params = {name: request.GET.get(name, "") for name in FILTER_NAMES}
    try:
        filters = pipeline.pipeline_filters_clean(params=params)
        fmt = request.GET.get("format", "csv")
        table = pipeline_exports.pipeline_export_table(actor=cast(User, request.user), fmt=fmt, filters=filters,
                                                       report=request.GET.get("report", ""))
    except ValidationFailed as failure:
        return HttpResponse("\n".join(f"{error.field}: {error.message}" for error in failure.errors), status=400,
                            content_type="text/plain; charset=utf-8")
    return export_response(table, fmt)  # type: ignore[return-value] # a FileResponse is a streaming response


urlpatterns = [
    path("opportunities/pipeline/", pipeline_page, name="pipeline"),
    path("opportunities/pipeline/export/", pipeline_export, name="pipeline_export"),
]
