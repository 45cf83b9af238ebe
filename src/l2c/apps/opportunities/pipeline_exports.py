"""Pipeline analytics as tables for export (CSV UTF-8 with BOM, or XLSX): the same figures as the
page and the API, one table per report. Amounts are exact decimals in major units (yuan) with
their currency in their own column, one row per currency; every text cell (a rep's or a
department's name) passes through `l2c.kernel.tabular`, which neutralises formulas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, PermissionDenied, ValidationFailed
from l2c.kernel.money import CURRENCY_EXPONENTS

from . import pipeline
from .models import ForecastCategory, StageKind

REPORTS = ("funnel", "conversion", "cycle_time", "win_rate", "by_month", "by_owner")
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Table:
    report: str
    title: str
    headers: list[str]
    rows: list[list[Any]]

    def file_name(self, fmt: str) -> str:
        return f"pipeline-{self.report}-{timezone.localdate():%Y%m%d}.{fmt}"


def major(amount: int | None, currency: str) -> Decimal | None:
    """Minor units as an exact decimal of major units (fen → yuan)."""
    if amount is None or not currency:
        return None
    return Decimal(amount).scaleb(-CURRENCY_EXPONENTS.get(currency, 2))


def _currencies(maps: Iterable[pipeline.Amounts], fallback: str | None) -> list[str]:
    """The currencies present in any of `maps`, sorted; one blank (or the filter's currency) when none."""
    found = sorted({currency for amounts in maps for currency in amounts})
    return found or [fallback or ""]


def _money(amounts: pipeline.Amounts, currency: str) -> Decimal | None:
    return major(amounts.get(currency, 0), currency)


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _funnel(actor: User, filters: pipeline.PipelineFilters) -> Table:
    funnel = pipeline.pipeline_funnel(actor=actor, filters=filters)
    rows = []
    for stage in funnel.stages:
        for currency in _currencies([stage.amounts], filters.currency):
            rows.append([funnel.process_name, stage.name, str(StageKind(stage.kind).label), stage.count, currency,
                         _blank(_money(stage.amounts, currency))])
    headers = [_("销售流程"), _("阶段"), _("类型"), _("商机数"), _("币种"), _("金额")]
    return Table("funnel", _("销售漏斗"), headers, rows)


def _conversion(actor: User, filters: pipeline.PipelineFilters) -> Table:
    conversion = pipeline.pipeline_conversion(actor=actor, filters=filters)
    rows = [[conversion.process_name, stage.name, stage.entered, stage.advanced, _blank(stage.rate_percent)]
            for stage in conversion.stages]
    return Table("conversion", _("阶段转化率"),
                 [_("销售流程"), _("阶段"), _("进入商机数"), _("推进到后续阶段或赢单"), _("转化率 %")], rows)


def _cycle_time(actor: User, filters: pipeline.PipelineFilters) -> Table:
    cycle = pipeline.pipeline_cycle_time(actor=actor, filters=filters)
    rows = [[cycle.process_name, stage.name, stage.closed.count, _blank(stage.closed.average_days),
             _blank(stage.closed.median_days), stage.current.count, _blank(stage.current.average_days),
             _blank(stage.current.median_days)] for stage in cycle.stages]
    return Table("cycle_time", _("阶段停留时间"), [
        _("销售流程"), _("阶段"), _("已结束停留次数"), _("平均天数"), _("中位天数"), _("当前停留商机数"),
        _("当前已停留平均天数"), _("当前已停留中位天数")], rows)


def _groups(breakdown: pipeline.Breakdown) -> Iterator[tuple[str, str, pipeline.StatusFigures]]:
    yield _("合计"), _("全部"), breakdown.total
    for owner in breakdown.owners:
        yield _("销售"), owner.name, owner.figures
    for team in breakdown.teams:
        yield _("团队"), "　" * team.depth + team.name, team.figures


def _win_rate(actor: User, filters: pipeline.PipelineFilters) -> Table:
    rows = []
    for level, name, figures in _groups(pipeline.pipeline_breakdown(actor=actor, filters=filters)):
        rates = figures.amount_win_rate_percent
        for currency in _currencies([figures.won_amounts, figures.lost_amounts], filters.currency):
            rows.append([level, name, figures.won_count, figures.lost_count, _blank(figures.win_rate_percent),
                         currency, _blank(_money(figures.won_amounts, currency)),
                         _blank(_money(figures.lost_amounts, currency)), _blank(rates.get(currency))])
    return Table("win_rate", _("赢率"), [
        _("维度"), _("名称"), _("赢单数"), _("输单数"), _("赢率（按数量）%"), _("币种"), _("赢单金额"), _("输单金额"),
        _("赢率（按金额）%")], rows)


def _by_owner(actor: User, filters: pipeline.PipelineFilters) -> Table:
    rows = []
    for level, name, figures in _groups(pipeline.pipeline_breakdown(actor=actor, filters=filters)):
        maps = [figures.open_amounts, figures.expected_amounts, figures.won_amounts, figures.lost_amounts]
        for currency in _currencies(maps, filters.currency):
            rows.append([level, name, figures.open_count, currency, _blank(_money(figures.open_amounts, currency)),
                         _blank(_money(figures.expected_amounts, currency)), figures.won_count,
                         _blank(_money(figures.won_amounts, currency)), figures.lost_count,
                         _blank(_money(figures.lost_amounts, currency)), _blank(figures.win_rate_percent)])
    return Table("by_owner", _("按销售与团队"), [
        _("维度"), _("名称"), _("进行中商机数"), _("币种"), _("进行中金额"), _("预期金额"), _("赢单数"), _("赢单金额"),
        _("输单数"), _("输单金额"), _("赢率（按数量）%")], rows)


def _by_month(actor: User, filters: pipeline.PipelineFilters, today: dt.date | None = None) -> Table:
    report = pipeline.pipeline_by_month(actor=actor, filters=filters, today=today)
    buckets: list[tuple[str, dict[str, pipeline.MonthCell]]] = [
        (_("已逾期"), {"": report.overdue}),
        *[(f"{row.month:%Y-%m}", row.categories) for row in report.months],
        (_("更晚"), {"": report.later}), (_("未填成交日期"), {"": report.undated})]
    rows = []
    for label, categories in buckets:
        for category, cell in categories.items():
            if not cell.count:
                continue
            name = str(ForecastCategory(category).label) if category else _("全部")
            for currency in _currencies([cell.amounts], filters.currency):
                rows.append([label, name, cell.count, currency, _blank(_money(cell.amounts, currency)),
                             _blank(_money(cell.expected_amounts, currency))])
    return Table("by_month", _("按预计成交月份"),
                 [_("月份"), _("预测类别"), _("商机数"), _("币种"), _("金额"), _("预期金额")], rows)


BUILDERS: dict[str, Callable[[User, pipeline.PipelineFilters], Table]] = {
    "funnel": _funnel, "conversion": _conversion, "cycle_time": _cycle_time, "win_rate": _win_rate,
    "by_month": _by_month, "by_owner": _by_owner}


def pipeline_export_table(*, actor: User, report: str, fmt: str, filters: pipeline.PipelineFilters) -> Table:
    """The table of one report for export; needs the export permission on deals (and reads only the
    deals the actor may see, like the page)."""
    errors = []
    if report not in REPORTS:
        errors.append(FieldError("report", _("report 只能是：%(allowed)s。") % {"allowed": ", ".join(REPORTS)},
                                 "invalid"))
    if fmt not in FORMATS:
        errors.append(FieldError("format", _("导出格式只能是 csv 或 xlsx。"), "invalid"))
    if errors:
        raise ValidationFailed(_("导出参数有误。"), errors=errors)
    if not access.can(actor, "opportunity", "export"):
        raise PermissionDenied(_("你没有导出商机的权限。"))
    return BUILDERS[report](actor, filters)
