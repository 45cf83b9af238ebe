"""Pipeline analytics API (管道分析, ADR 0005 §6), mounted at /api/v1/ by l2c.api.root.

Every report reads only the deals the caller may see and takes the same filters (`PipelineQuery`).
Bad filters are a 422 problem+json whose `errors` name each parameter and say why. Amounts are
integer minor units (fen) per currency: `{"CNY": 120000}`; rates are percentages with one decimal
(null when there is nothing to divide by)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any, Literal, cast

from django.http import FileResponse, HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from l2c.api.problems import READ_ERRORS
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.tabular import csv_chunks, write_xlsx

from . import pipeline, pipeline_exports

router = Router(tags=["pipeline"])

AMOUNTS = "minor units (fen) per ISO 4217 currency"


# --- schemas -------------------------------------------------------------------------------------------
class PipelineQuery(Schema):
    process_id: str | None = Field(None, description="a sales process id; the per-stage reports (funnel, "
                                   "conversion, cycle time) use the default process without it")
    owner_id: str | None = Field(None, description="only deals owned by this user")
    department_id: str | None = Field(None, description="only deals of this department and the ones below it")
    date_field: str | None = Field(None, description="created (default) or closed: what date_from/date_to "
                                   "filter; closed keeps only won/lost deals closed in the range")
    date_from: str | None = Field(None, description="first day, YYYY-MM-DD, local time, included")
    date_to: str | None = Field(None, description="last day, YYYY-MM-DD, local time, included")
    currency: str | None = Field(None, description="only deals in this currency (e.g. CNY); empty or ALL: "
                                 "every deal, amounts per currency")


class FunnelStageOut(Schema):
    stage_id: int
    name: str
    kind: Literal["open", "won", "lost"]
    position: int
    count: int = Field(description="deals now in the stage")
    amounts: dict[str, int] = Field(description=AMOUNTS)


class FunnelOut(Schema):
    process_id: int
    process_name: str
    stages: list[FunnelStageOut] = Field(description="open stages in process order, then won, then lost")


class ConversionStageOut(Schema):
    stage_id: int
    name: str
    position: int
    entered: int = Field(description="distinct deals with a stay in the stage")
    advanced: int = Field(description="of those, deals that afterwards entered a later open stage or won")
    rate_percent: float | None = Field(description="advanced / entered × 100, one decimal")


class ConversionOut(Schema):
    process_id: int
    process_name: str
    won: int
    lost: int
    stages: list[ConversionStageOut]


class StayOut(Schema):
    count: int
    average_days: float | None
    median_days: float | None


class CycleTimeStageOut(Schema):
    stage_id: int
    name: str
    position: int
    closed: StayOut = Field(description="finished stays: exited − entered")
    current: StayOut = Field(description="stays still running, measured to as_of")


class CycleTimeOut(Schema):
    process_id: int
    process_name: str
    as_of: dt.datetime
    stages: list[CycleTimeStageOut]


class WinRateFiguresOut(Schema):
    won_count: int
    lost_count: int
    win_rate_percent: float | None = Field(description="won / (won + lost) by count")
    won_amounts: dict[str, int] = Field(description=AMOUNTS)
    lost_amounts: dict[str, int] = Field(description=AMOUNTS)
    amount_win_rate_percent: dict[str, float | None] = Field(description="won / (won + lost) by amount, per currency")


class GroupFiguresOut(WinRateFiguresOut):
    open_count: int
    open_amounts: dict[str, int] = Field(description=AMOUNTS)
    expected_amounts: dict[str, int] = Field(description="Σ amount × win probability, half up per deal; " + AMOUNTS)


class OwnerWinRateOut(Schema):
    owner_id: int
    name: str
    figures: WinRateFiguresOut


class TeamWinRateOut(Schema):
    department_id: int | None = Field(description="null: deals without a department")
    name: str
    depth: int
    figures: WinRateFiguresOut = Field(description="the department and every department below it")


class WinRateOut(Schema):
    total: WinRateFiguresOut
    owners: list[OwnerWinRateOut]
    teams: list[TeamWinRateOut]


class OwnerFiguresOut(Schema):
    owner_id: int
    name: str
    figures: GroupFiguresOut


class TeamFiguresOut(Schema):
    department_id: int | None
    name: str
    depth: int
    figures: GroupFiguresOut


class ByOwnerOut(Schema):
    total: GroupFiguresOut
    owners: list[OwnerFiguresOut]
    teams: list[TeamFiguresOut]


class MonthCellOut(Schema):
    count: int
    amounts: dict[str, int] = Field(description=AMOUNTS)
    expected_amounts: dict[str, int] = Field(description=AMOUNTS)


class MonthOut(Schema):
    month: dt.date = Field(description="first day of the month")
    total: MonthCellOut
    categories: dict[str, MonthCellOut] = Field(description="by forecast category of the deal's stage")


class ByMonthOut(Schema):
    first_month: dt.date
    months: list[MonthOut] = Field(description="the current month and the next 11")
    overdue: MonthCellOut = Field(description="open deals expected to close before the current month")
    later: MonthCellOut
    undated: MonthCellOut


# --- helpers ---------------------------------------------------------------------------------------------
def _actor(request: HttpRequest) -> User:
    """The authenticated caller (API_AUTH has already refused anonymous requests)."""
    return cast(User, request.user)


def _filters(request: HttpRequest, query: PipelineQuery) -> pipeline.PipelineFilters:
    access.require(_actor(request), "opportunity", "view")
    return pipeline.pipeline_filters_clean(params=query.dict())


def _figures(figures: pipeline.StatusFigures) -> dict[str, Any]:
    return {"open_count": figures.open_count, "open_amounts": figures.open_amounts,
            "expected_amounts": figures.expected_amounts, "won_count": figures.won_count,
            "won_amounts": figures.won_amounts, "lost_count": figures.lost_count, "lost_amounts": figures.lost_amounts,
            "win_rate_percent": figures.win_rate_percent,
            "amount_win_rate_percent": figures.amount_win_rate_percent}


def _breakdown(breakdown: pipeline.Breakdown) -> dict[str, Any]:
    return {
        "total": _figures(breakdown.total),
        "owners": [{"owner_id": row.owner_id, "name": row.name, "figures": _figures(row.figures)}
                   for row in breakdown.owners],
        "teams": [{"department_id": row.department_id, "name": row.name, "depth": row.depth,
                   "figures": _figures(row.figures)} for row in breakdown.teams],
    }


def _cell(cell: pipeline.MonthCell) -> dict[str, Any]:
    return {"count": cell.count, "amounts": cell.amounts, "expected_amounts": cell.expected_amounts}


# --- endpoints ---------------------------------------------------------------------------------------------
@router.get("/pipeline/funnel", response={200: FunnelOut, **READ_ERRORS},
            summary="Deals now in each stage of a process (count and amount), won and lost")
def funnel(request: HttpRequest, query: Query[PipelineQuery]) -> Any:
    return pipeline.pipeline_funnel(actor=_actor(request), filters=_filters(request, query))


@router.get("/pipeline/conversion", response={200: ConversionOut, **READ_ERRORS},
            summary="Stage conversion: of deals that entered a stage, the share that moved on to a later one or won")
def conversion(request: HttpRequest, query: Query[PipelineQuery]) -> Any:
    return pipeline.pipeline_conversion(actor=_actor(request), filters=_filters(request, query))


@router.get("/pipeline/cycle-time", response={200: CycleTimeOut, **READ_ERRORS},
            summary="Average and median days in each open stage (finished stays; running stays apart)")
def cycle_time(request: HttpRequest, query: Query[PipelineQuery]) -> Any:
    return pipeline.pipeline_cycle_time(actor=_actor(request), filters=_filters(request, query))


@router.get("/pipeline/win-rate", response={200: WinRateOut, **READ_ERRORS},
            summary="Win rate (won / (won + lost)) by count and amount: total, by rep, by team")
def win_rate(request: HttpRequest, query: Query[PipelineQuery]) -> Any:
    return _breakdown(pipeline.pipeline_breakdown(actor=_actor(request), filters=_filters(request, query)))


@router.get("/pipeline/by-month", response={200: ByMonthOut, **READ_ERRORS},
            summary="Open pipeline by expected close month (12 months) and forecast category")
def by_month(request: HttpRequest, query: Query[PipelineQuery]) -> Any:
    report = pipeline.pipeline_by_month(actor=_actor(request), filters=_filters(request, query))
    return {"first_month": report.first_month,
            "months": [{"month": row.month, "total": _cell(row.total),
                        "categories": {name: _cell(cell) for name, cell in row.categories.items()}}
                       for row in report.months],
            "overdue": _cell(report.overdue), "later": _cell(report.later), "undated": _cell(report.undated)}


@router.get("/pipeline/by-owner", response={200: ByOwnerOut, **READ_ERRORS},
            summary="Open pipeline, expected amount, won and lost by rep and by team (rolled up the tree)")
def by_owner(request: HttpRequest, query: Query[PipelineQuery]) -> Any:
    return _breakdown(pipeline.pipeline_breakdown(actor=_actor(request), filters=_filters(request, query)))


EXPORT_OPENAPI = {"responses": {"200": {
    "description": "The report as a file (CSV UTF-8 with BOM, or XLSX); formula cells are neutralised.",
    "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}}}}}}


def export_response(table: pipeline_exports.Table, fmt: str) -> HttpResponse | FileResponse:
    """The table as a CSV or XLSX download (shared with the page's export links)."""
    if fmt == "csv":
        response = HttpResponse(b"".join(csv_chunks(table.headers, table.rows)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{table.file_name(fmt)}"'
        return response
    buffer = io.BytesIO()
    write_xlsx(buffer, table.headers, table.rows, sheet_title=table.title)
    buffer.seek(0)
    return FileResponse(buffer, as_attachment=True, filename=table.file_name(fmt),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@router.get("/pipeline/export", response={200: None, **READ_ERRORS}, openapi_extra=EXPORT_OPENAPI,
            summary="Export one report (funnel, conversion, cycle_time, win_rate, by_month, by_owner) as CSV or XLSX")
def export(request: HttpRequest, query: Query[PipelineQuery], report: str = "funnel",
           format: str = "csv") -> Any:
    table = pipeline_exports.pipeline_export_table(actor=_actor(request), report=report, fmt=format,
                                                   filters=_filters(request, query))
    return export_response(table, format)
