"""Pipeline analytics (管道分析, ADR 0005 §6): funnel, stage conversion, time in stage, win rate,
pipeline by expected close month, by rep and by team.

Every figure reads only the deals the actor may see (`access.visible(actor, "opportunity")`,
which includes deal-team membership and shares), narrowed by `PipelineFilters`. Each report runs a
fixed number of grouped SQL queries whatever the number of deals (see the query-budget tests).

Money is integer minor units (fen) and is never summed across currencies: every amount is a
mapping currency → minor units. With `currency` set, only deals in that currency count (counts
included); without it, counts cover every deal and amounts are reported per currency.

A deal's expected amount is `amount × win_probability / 1000` (per-mille; the stage probability
when the deal has none), rounded half up *per deal* exactly as `engines.forecast.expected_amounts`,
so group sums equal the sum of their deals.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.engines.forecast import Cell, tree_rollup
from l2c.kernel.errors import FieldError, ValidationFailed
from l2c.kernel.money import CURRENCY_EXPONENTS

from .models import Opportunity, OpportunityStatus, SalesProcess, Stage, StageHistory, StageKind

DATE_FIELDS = ("created", "closed")
MONTHS_AHEAD = 12
SECONDS_PER_DAY = 86400
MAX_ID = 2**63 - 1  # a larger id cannot be a primary key (and overflows SQLite's integer)
# Date filters outside these years are typing mistakes; the bounds also keep day arithmetic and
# time-zone conversion far from datetime's limits.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
NO_DEPARTMENT = 0  # the group key of deals without a department in the by-team roll-up

Amounts = dict[str, int]  # currency → minor units


# --- filters -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PipelineFilters:
    """What narrows the visible deals. `process_id` None: every process (the per-stage reports use
    the default process). `department_id`: that department and every department below it.
    `date_field` "created" keeps deals created in [date_from, date_to]; "closed" keeps deals closed
    (won or lost) in it, so open deals drop out. Dates are whole local days, both ends included.
    `currency` None: every currency, amounts per currency."""

    process_id: int | None = None
    owner_id: int | None = None
    department_id: int | None = None
    date_field: str = "created"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    currency: str | None = None


def _parse_id(raw: Any, name: str, errors: list[FieldError]) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_ID:
        errors.append(FieldError(name, _("%(name)s 必须是正整数，收到“%(value)s”。") % {"name": name, "value": raw},
                                 "invalid"))
        return None
    return value


def _parse_date(raw: Any, name: str, errors: list[FieldError]) -> dt.date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.date):
        return raw
    try:
        value = dt.date.fromisoformat(str(raw))
    except ValueError:
        errors.append(FieldError(name, _("%(name)s 必须是 YYYY-MM-DD 格式的日期，收到“%(value)s”。")
                                 % {"name": name, "value": raw}, "invalid"))
        return None
    if not FIRST_DAY <= value <= LAST_DAY:
        errors.append(FieldError(name, _("%(name)s 必须在 %(first)s 到 %(last)s 之间。")
                                 % {"name": name, "first": FIRST_DAY, "last": LAST_DAY}, "range"))
        return None
    return value


def pipeline_filters_clean(*, params: Mapping[str, Any]) -> PipelineFilters:
    """Filters from query parameters (process_id, owner_id, department_id, date_field, date_from,
    date_to, currency). Every bad parameter is reported at once (ValidationFailed, one FieldError
    per parameter saying why); unknown ids are errors, not empty reports."""
    errors: list[FieldError] = []
    process_id = _parse_id(params.get("process_id"), "process_id", errors)
    owner_id = _parse_id(params.get("owner_id"), "owner_id", errors)
    department_id = _parse_id(params.get("department_id"), "department_id", errors)
    date_field = str(params.get("date_field") or "created")
    if date_field not in DATE_FIELDS:
        errors.append(FieldError("date_field", _("date_field 只能是 created（按创建日期）或 closed（按关闭日期）。"),
                                 "invalid"))
    date_from = _parse_date(params.get("date_from"), "date_from", errors)
    date_to = _parse_date(params.get("date_to"), "date_to", errors)
    if date_from and date_to and date_from > date_to:
        errors.append(FieldError("date_to", _("结束日期不能早于开始日期。"), "range"))
    currency = str(params.get("currency") or "").strip().upper() or None
    if currency in ("ALL", "*"):
        currency = None
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        errors.append(FieldError("currency", _("币种“%(value)s”不是支持的 ISO 4217 代码。") % {"value": currency},
                                 "invalid"))
    if process_id is not None and not SalesProcess.objects.filter(pk=process_id).exists():
        errors.append(FieldError("process_id", _("没有 ID 为 %(id)s 的销售流程。") % {"id": process_id}, "not_found"))
    if owner_id is not None and not User.objects.filter(pk=owner_id).exists():
        errors.append(FieldError("owner_id", _("没有 ID 为 %(id)s 的用户。") % {"id": owner_id}, "not_found"))
    if department_id is not None and not Department.objects.filter(pk=department_id).exists():
        errors.append(FieldError("department_id", _("没有 ID 为 %(id)s 的部门。") % {"id": department_id},
                                 "not_found"))
    if errors:
        raise ValidationFailed(_("筛选条件有误：%(fields)s。") % {"fields": "、".join(e.field for e in errors)},
                               errors=errors)
    return PipelineFilters(process_id=process_id, owner_id=owner_id, department_id=department_id,
                           date_field=date_field, date_from=date_from, date_to=date_to, currency=currency)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def pipeline_deals(*, actor: User, filters: PipelineFilters) -> QuerySet[Opportunity]:
    """The visible deals the filters keep (a lazy queryset: reports group it in SQL)."""
    deals: QuerySet[Opportunity] = access.visible(actor, "opportunity")
    if filters.process_id is not None:
        deals = deals.filter(process_id=filters.process_id)
    if filters.owner_id is not None:
        deals = deals.filter(owner_id=filters.owner_id)
    if filters.department_id is not None:
        # The subtree as a subquery on the materialised path: no extra round trip.
        path = Department.objects.filter(pk=filters.department_id).values("path")[:1]
        deals = deals.filter(department__in=Department.objects.filter(path__startswith=Subquery(path)).values("pk"))
    column = "created_at" if filters.date_field == "created" else "closed_at"
    if filters.date_field == "closed":
        deals = deals.filter(closed_at__isnull=False)
    if filters.date_from is not None:
        deals = deals.filter(**{f"{column}__gte": _day_start(filters.date_from)})
    if filters.date_to is not None:
        deals = deals.filter(**{f"{column}__lt": _day_start(filters.date_to + dt.timedelta(days=1))})
    if filters.currency is not None:
        deals = deals.filter(currency=filters.currency)
    return deals


def report_process(filters: PipelineFilters) -> SalesProcess:
    """The process of the per-stage reports: the filtered one, else the default process."""
    process = (SalesProcess.objects.filter(pk=filters.process_id).first() if filters.process_id is not None
               else SalesProcess.objects.filter(is_default=True).first())
    if process is None:
        raise ValidationFailed.for_field("process_id", _("请选择一个销售流程（没有默认流程）。"), "required")
    return process


def _add(target: Amounts, currency: str, amount: int | None) -> None:
    target[currency] = target.get(currency, 0) + int(amount or 0)


def percent(numerator: int, denominator: int) -> float | None:
    """numerator / denominator as a percentage rounded to one decimal; None when the denominator is 0."""
    if denominator <= 0:
        return None
    return round(numerator * 100 / denominator, 1)


# --- funnel ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageFigure:
    """Deals currently in one stage: how many and their amounts."""

    stage_id: int
    name: str
    kind: str
    position: int
    count: int
    amounts: Amounts


@dataclass(frozen=True)
class Funnel:
    process_id: int
    process_name: str
    stages: list[StageFigure]  # open stages in process order, then won, then lost


def pipeline_funnel(*, actor: User, filters: PipelineFilters) -> Funnel:
    """Per stage of the process (open stages in order, then won and lost): the number and amount of
    the filtered deals *currently* in it (the deal's stage now, not stages it passed through)."""
    process = report_process(filters)
    deals = pipeline_deals(actor=actor, filters=filters).filter(process_id=process.pk)
    counts: dict[int, int] = defaultdict(int)
    amounts: dict[int, Amounts] = defaultdict(dict)
    for row in deals.order_by().values("stage_id", "currency").annotate(count=Count("id"), amount=Sum("amount")):
        counts[row["stage_id"]] += row["count"]
        _add(amounts[row["stage_id"]], row["currency"], row["amount"])
    return Funnel(process.pk, process.name, [
        StageFigure(stage.pk, stage.name, stage.kind, stage.position, counts.get(stage.pk, 0),
                    amounts.get(stage.pk, {}))
        for stage in _stages_in_order(process.pk)])


def _stages_in_order(process_id: int) -> list[Stage]:
    """Open stages by position, then won, then lost."""
    order = {StageKind.OPEN: 0, StageKind.WON: 1, StageKind.LOST: 2}
    stages = list(Stage.objects.filter(process_id=process_id).order_by("position"))
    return sorted(stages, key=lambda stage: (order.get(StageKind(stage.kind), 3), stage.position))


# --- stage conversion -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageConversion:
    """`entered`: distinct deals with at least one stay in the stage. `advanced`: those of them that,
    after entering it, entered an open stage with a higher position or the won stage. `rate_percent`
    = advanced / entered (None when nobody entered)."""

    stage_id: int
    name: str
    position: int
    entered: int
    advanced: int
    rate_percent: float | None


@dataclass(frozen=True)
class Conversion:
    process_id: int
    process_name: str
    stages: list[StageConversion]  # open stages in process order
    won: int  # filtered deals of the process now won
    lost: int


def pipeline_conversion(*, actor: User, filters: PipelineFilters) -> Conversion:
    """Stage-to-stage conversion from the stage history of the filtered deals of one process.

    For each open stage S: `entered` counts the deals that have a StageHistory row in S (ever, a
    re-entry counts once); `advanced` counts those with a later StageHistory row (entered after one
    of their entries into S) in an open stage positioned after S or in the won stage. Moving back
    and forth counts once; skipping stages counts as advancing from every stage the deal was in
    (not from stages it skipped, which it never entered); a deal still open in S or lost from S has
    not advanced, so recent stages read lower until their deals move on.

    `advanced` is a self-join of the history through the deal (each deal has a handful of stays,
    so the join stays small and hash-joins on both databases) rather than a correlated EXISTS per
    stay, whose plan on PostgreSQL depended on fresh statistics. Three grouped queries."""
    process = report_process(filters)
    deals = pipeline_deals(actor=actor, filters=filters).filter(process_id=process.pk)
    stays = StageHistory.objects.filter(opportunity__in=deals.values("pk"), stage__kind=StageKind.OPEN).order_by()
    entered = dict(stays.values("stage_id").annotate(deals=Count("opportunity_id", distinct=True))
                   .values_list("stage_id", "deals"))
    # One filter() call: the three conditions apply to the same later stay of the same deal.
    advanced = dict(stays.filter(
        opportunity__stage_history__stage__position__gt=F("stage__position"),
        opportunity__stage_history__stage__kind__in=(StageKind.OPEN, StageKind.WON),
        opportunity__stage_history__entered_at__gt=F("entered_at"),
    ).values("stage_id").annotate(deals=Count("opportunity_id", distinct=True)).values_list("stage_id", "deals"))
    closed = dict(deals.filter(status__in=(OpportunityStatus.WON, OpportunityStatus.LOST)).order_by()
                  .values_list("status").annotate(count=Count("id")).values_list("status", "count"))
    stages = [stage for stage in _stages_in_order(process.pk) if stage.kind == StageKind.OPEN]
    figures = []
    for stage in stages:
        entered_count, advanced_count = entered.get(stage.pk, 0), advanced.get(stage.pk, 0)
        figures.append(StageConversion(stage.pk, stage.name, stage.position, entered_count, advanced_count,
                                       percent(advanced_count, entered_count)))
    return Conversion(process.pk, process.name, figures, closed.get(OpportunityStatus.WON, 0),
                      closed.get(OpportunityStatus.LOST, 0))


# --- time in stage ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StayFigure:
    """Stays in one stage: how many, the mean and the median length in days (two decimals)."""

    count: int
    average_days: float | None
    median_days: float | None


@dataclass(frozen=True)
class StageCycleTime:
    stage_id: int
    name: str
    position: int
    closed: StayFigure  # finished stays: exited_at − entered_at
    current: StayFigure  # stays still running: as_of − entered_at


@dataclass(frozen=True)
class CycleTime:
    process_id: int
    process_name: str
    as_of: dt.datetime
    stages: list[StageCycleTime]  # open stages in process order


class StaySeconds(Func):
    """Seconds from `start` to `end` (two datetimes) as a native float SQL expression. Django's own
    datetime subtraction runs a Python function per row on SQLite, which dominated this report;
    julianday() and EXTRACT(EPOCH …) are built in (microsecond-exact well within two decimals of
    a day)."""

    output_field = FloatField()
    arity = 2

    def __init__(self, end: Any, start: Any) -> None:
        super().__init__(end, start)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, template="((julianday(%(expressions)s)) * 86400.0)",
                           arg_joiner=") - julianday(", **extra_context)

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))::float8",
                           arg_joiner=" - ", **extra_context)


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / SECONDS_PER_DAY, 2)


def _stay_stats(stays: QuerySet[StageHistory], length: StaySeconds) -> dict[int, StayFigure]:
    """Count, mean and median of `length` (seconds) per stage: one grouped query for count and sum,
    one windowed query returning only the middle one or two stays of each stage for the median."""
    sums = {row["stage_id"]: (row["count"], row["total"]) for row in
            stays.annotate(length=length).order_by().values("stage_id")
            .annotate(count=Count("id"), total=Sum("length"))}
    ranked = stays.annotate(
        length=length,
        rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=[F("length").asc(), F("id").asc()]),
        size=Window(Count("id"), partition_by=[F("stage_id")]),
    )
    # The median sits at rank (n+1)/2 for odd n, between n/2 and n/2+1 for even n (integer division
    # gives both as (n+1)/2 ≤ rank ≤ (n+2)/2).
    middle: dict[int, list[float]] = defaultdict(list)
    for stage_id, value in ranked.filter(rank__gte=(F("size") + 1) / 2, rank__lte=(F("size") + 2) / 2).values_list(
            "stage_id", "length"):
        middle[stage_id].append(value)
    figures = {}
    for stage_id, (count, total) in sums.items():
        values = middle.get(stage_id) or []
        figures[stage_id] = StayFigure(count, _days(total / count if total is not None and count else None),
                                       _days(sum(values) / len(values) if values else None))
    return figures


def pipeline_cycle_time(*, actor: User, filters: PipelineFilters, as_of: dt.datetime | None = None) -> CycleTime:
    """Time in each open stage of one process, from the stage history of the filtered deals.
    `closed`: stays that ended (the deal left the stage; exited_at − entered_at), every stay counted,
    re-entries included. `current`: the deals' stays still running, measured to `as_of` (now).
    Four grouped queries (count/sum and median for each kind of stay)."""
    as_of = as_of or timezone.now()
    process = report_process(filters)
    deals = pipeline_deals(actor=actor, filters=filters).filter(process_id=process.pk)
    stays = StageHistory.objects.filter(opportunity__in=deals.values("pk"), stage__kind=StageKind.OPEN)
    finished = _stay_stats(stays.filter(exited_at__isnull=False), StaySeconds(F("exited_at"), F("entered_at")))
    running = _stay_stats(stays.filter(exited_at__isnull=True),
                          StaySeconds(Value(as_of, output_field=DateTimeField()), F("entered_at")))
    empty = StayFigure(0, None, None)
    return CycleTime(process.pk, process.name, as_of, [
        StageCycleTime(stage.pk, stage.name, stage.position, finished.get(stage.pk, empty),
                       running.get(stage.pk, empty))
        for stage in _stages_in_order(process.pk) if stage.kind == StageKind.OPEN])


# --- status groups: win rate, by rep, by team -------------------------------------------------------
def expected_expression() -> ExpressionWrapper[Any]:
    """amount × p / 1000 half up in integer SQL, p = win_probability (per-mille) or the stage's
    probability × 10. Written as (amount / 1000) × p + ((amount mod 1000) × p × 2 + 1000) / 2000 —
    the split of engines.forecast.expected_amounts — with integer division on both SQLite and
    PostgreSQL (all operands are non-negative integers)."""
    probability = Coalesce(F("win_probability"), F("stage__probability") * 10)
    whole = F("amount") / 1000
    rest = F("amount") - whole * 1000
    return ExpressionWrapper(whole * probability + (rest * probability * 2 + 1000) / 2000,
                             output_field=BigIntegerField())


@dataclass
class StatusFigures:
    """One group's deals by status: open (count, amount, expected), won and lost (count, amount)."""

    open_count: int = 0
    open_amounts: Amounts = field(default_factory=dict)
    expected_amounts: Amounts = field(default_factory=dict)
    won_count: int = 0
    won_amounts: Amounts = field(default_factory=dict)
    lost_count: int = 0
    lost_amounts: Amounts = field(default_factory=dict)

    def add(self, status: str, currency: str, count: int, amount: int, expected: int) -> None:
        if status == OpportunityStatus.OPEN:
            self.open_count += count
            _add(self.open_amounts, currency, amount)
            _add(self.expected_amounts, currency, expected)
        elif status == OpportunityStatus.WON:
            self.won_count += count
            _add(self.won_amounts, currency, amount)
        elif status == OpportunityStatus.LOST:
            self.lost_count += count
            _add(self.lost_amounts, currency, amount)

    @property
    def win_rate_percent(self) -> float | None:
        """won / (won + lost) by count."""
        return percent(self.won_count, self.won_count + self.lost_count)

    @property
    def amount_win_rate_percent(self) -> dict[str, float | None]:
        """won amount / (won + lost amount), per currency."""
        currencies = sorted(set(self.won_amounts) | set(self.lost_amounts))
        return {currency: percent(self.won_amounts.get(currency, 0),
                                  self.won_amounts.get(currency, 0) + self.lost_amounts.get(currency, 0))
                for currency in currencies}


@dataclass(frozen=True)
class OwnerRow:
    owner_id: int
    name: str
    figures: StatusFigures


@dataclass(frozen=True)
class TeamRow:
    """A department with the figures of its own deals and every department below it."""

    department_id: int | None  # None: deals without a department
    name: str
    depth: int
    figures: StatusFigures


@dataclass(frozen=True)
class Breakdown:
    total: StatusFigures
    owners: list[OwnerRow]  # by name
    teams: list[TeamRow]  # tree order (by path); only departments with deals in or below them


def _status_rows(deals: QuerySet[Opportunity]) -> list[dict[str, Any]]:
    """One grouped query: (owner, department, status, currency) → count, amount, expected."""
    return list(deals.order_by().values("owner_id", "department_id", "status", "currency").annotate(
        count=Count("id"), amount_sum=Sum("amount"), expected_sum=Sum(expected_expression())))


def pipeline_breakdown(*, actor: User, filters: PipelineFilters) -> Breakdown:
    """Open pipeline, won and lost of the filtered deals in total, by owner (rep) and by team.
    A team's figures are the deals of its department and of every department below it (the deal's
    department is its owner's at assignment). Three queries: the grouped deals, owner names, the
    department tree."""
    rows = _status_rows(pipeline_deals(actor=actor, filters=filters))
    total = StatusFigures()
    owners: dict[int, StatusFigures] = defaultdict(StatusFigures)
    cells: dict[tuple[int, str], Cell] = {}
    for row in rows:
        count, amount, expected = row["count"], int(row["amount_sum"] or 0), int(row["expected_sum"] or 0)
        total.add(row["status"], row["currency"], count, amount, expected)
        owners[row["owner_id"]].add(row["status"], row["currency"], count, amount, expected)
        key = (row["department_id"] or NO_DEPARTMENT, f"{row['status']}|{row['currency']}")
        previous = cells.get(key, Cell(0, 0, 0))
        cells[key] = Cell(previous.count + count, previous.amount + amount, previous.expected + expected)
    names = {pk: display_name or username for pk, display_name, username in
             User.objects.filter(pk__in=list(owners)).values_list("pk", "display_name", "username")}
    owner_rows = sorted((OwnerRow(pk, names.get(pk, str(pk)), figures)
                         for pk, figures in owners.items()), key=lambda row: (row.name, row.owner_id))
    return Breakdown(total, owner_rows, _team_rows(cells) if cells else [])


def _team_rows(cells: Mapping[tuple[int, str], Cell]) -> list[TeamRow]:
    departments = list(Department.objects.values_list("pk", "name", "parent_id", "path"))
    parents: dict[int, int | None] = {pk: parent for pk, _name, parent, _path in departments}
    parents[NO_DEPARTMENT] = None
    rolled = tree_rollup(cells, parents)
    figures: dict[int, StatusFigures] = defaultdict(StatusFigures)
    for (department, key), cell in rolled.items():
        status, currency = key.split("|", 1)
        figures[department].add(status, currency, cell.count, cell.amount, cell.expected)
    rows = [TeamRow(pk, name, path.strip("/").count("/"), figures[pk])
            for pk, name, _parent, path in sorted(departments, key=lambda item: item[3]) if pk in figures]
    if NO_DEPARTMENT in figures:
        rows.append(TeamRow(None, _("（无部门）"), 0, figures[NO_DEPARTMENT]))
    return rows


# --- by expected close month ------------------------------------------------------------------------
@dataclass(frozen=True)
class MonthCell:
    count: int
    amounts: Amounts
    expected_amounts: Amounts


@dataclass(frozen=True)
class MonthRow:
    month: dt.date  # the first day of the month
    categories: dict[str, MonthCell]  # forecast category of the deal's stage → figures
    total: MonthCell


@dataclass(frozen=True)
class ByMonth:
    first_month: dt.date
    months: list[MonthRow]  # MONTHS_AHEAD rows from the current month, empty months included
    overdue: MonthCell  # open deals whose expected close date is before the current month
    later: MonthCell  # … after the last month shown
    undated: MonthCell  # … without an expected close date


def _month_add(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def _merge(cells: Iterable[MonthCell]) -> MonthCell:
    count, amounts, expected = 0, {}, {}  # type: ignore[var-annotated]
    for cell in cells:
        count += cell.count
        for currency, value in cell.amounts.items():
            _add(amounts, currency, value)
        for currency, value in cell.expected_amounts.items():
            _add(expected, currency, value)
    return MonthCell(count, amounts, expected)


def pipeline_by_month(*, actor: User, filters: PipelineFilters, today: dt.date | None = None) -> ByMonth:
    """Open filtered deals by the month of their expected close date, for the current month and the
    next eleven, split by the forecast category of their stage: count, amount and expected amount.
    Deals dated before the current month are `overdue`, after the window `later`, without a date
    `undated`. One grouped query."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    months = [_month_add(first, offset) for offset in range(MONTHS_AHEAD)]
    deals = pipeline_deals(actor=actor, filters=filters).filter(status=OpportunityStatus.OPEN)
    grouped: dict[Any, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(lambda: [0, {}, {}]))
    for row in deals.order_by().annotate(month=TruncMonth("close_date")).values(
            "month", "stage__forecast_category", "currency").annotate(
            count=Count("id"), amount_sum=Sum("amount"), expected_sum=Sum(expected_expression())):
        month = row["month"]
        if isinstance(month, dt.datetime):
            month = month.date()
        if month is None:
            bucket: Any = "undated"
        elif month < first:
            bucket = "overdue"
        elif month > months[-1]:
            bucket = "later"
        else:
            bucket = month
        cell = grouped[bucket][row["stage__forecast_category"]]
        cell[0] += row["count"]
        _add(cell[1], row["currency"], row["amount_sum"])
        _add(cell[2], row["currency"], row["expected_sum"])

    def cells(bucket: Any) -> dict[str, MonthCell]:
        return {category: MonthCell(*values) for category, values in sorted(grouped.get(bucket, {}).items())}

    rows = [MonthRow(month, cells(month), _merge(cells(month).values())) for month in months]
    return ByMonth(first, rows, _merge(cells("overdue").values()), _merge(cells("later").values()),
                   _merge(cells("undated").values()))
