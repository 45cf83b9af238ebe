"""Forecast (销售预测, ADR 0005 and docs/opportunities.md "Forecast"): the win-probability model
(training, rescoring: code in `forecast_model`), the period roll-up by rep / team / company and forecast category, the
forecast submissions of reps and managers, pipeline snapshots and the accuracy backtest.

Money: amounts are integer fen; only CNY deals are summed (other currencies are counted and reported
as left out: adding yuan to dollars would be wrong, and there is no exchange-rate table yet). A deal's
expected amount is amount × probability (per-mille) rounded half up per deal, as
`engines.forecast.expected_amounts` does, so every figure is the exact sum of its deals.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import BigIntegerField, Case, CharField, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent
from l2c.apps.customers.rfm import clean_amount_minor
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.engines import forecast as engine
from l2c.engines.forecast import periods
from l2c.kernel.errors import FieldError, PermissionDenied, ValidationFailed

# The model's services are part of this module's interface (forecast_model holds their code).
from .forecast_model import active_model, forecast_rescore, forecast_train, rescore_request, training_set
from .models import ForecastSubmission, Opportunity, OpportunityStatus, PeriodKind, PipelineSnapshot

__all__ = [
    "Backtest", "BacktestPeriod", "Rollup", "RollupGroup", "SubmissionRow", "active_model", "aggregate",
    "cumulative", "current_period", "forecast_backtest", "forecast_rescore", "forecast_rollup", "forecast_submissions",
    "forecast_submit", "forecast_train", "managed_department_ids", "period_clean", "period_deals",
    "pipeline_snapshot_take", "rescore_request", "total_of", "training_set",
]

CURRENCY = "CNY"
CHUNK = 2000
GROUPS = ("owner", "department", "company")
NO_DEPARTMENT = -1  # group key of deals whose owner has no department


# --- periods -------------------------------------------------------------------------------------------
def period_clean(period_kind: Any, period_start: Any, errors: list[FieldError] | None = None
                 ) -> tuple[str, dt.date]:
    """A (kind, first day) pair from input; problems raise ValidationFailed (or go to `errors`)."""
    problems: list[FieldError] = []
    kind = str(period_kind or "")
    if kind not in PeriodKind.values:
        problems.append(FieldError("period_kind", _("周期只能是 month（月）或 quarter（季度）。"), "invalid"))
    start: dt.date | None = None
    if isinstance(period_start, dt.date):
        start = period_start
    else:
        try:
            start = dt.date.fromisoformat(str(period_start or "").strip())
        except ValueError:
            problems.append(FieldError("period_start", _("周期开始日期格式应为 YYYY-MM-DD。"), "invalid"))
    if start is not None and not problems and not periods.is_period_start(kind, start):
        message = (_("月度周期必须从某月 1 日开始。") if kind == "month"
                   else _("季度周期必须从 1 月、4 月、7 月或 10 月的 1 日开始。"))
        problems.append(FieldError("period_start", message, "not_period_start"))
    if problems:
        if errors is None:
            raise ValidationFailed(_("预测周期填写有误。"), errors=problems)
        errors.extend(problems)
        return kind, start or dt.date(2000, 1, 1)
    assert start is not None
    return kind, start


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the current time zone (periods are local calendar days)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def current_period(kind: str, today: dt.date | None = None) -> dt.date:
    return periods.period_of(kind, today or timezone.localdate())


# --- roll-up ---------------------------------------------------------------------------------------------
WON_PERMILLE = 1000


def _category_expression() -> Case:
    """The forecast category of a deal: "closed" once won, else its stage's."""
    return Case(When(status=OpportunityStatus.WON, then=Value("closed")), default=F("stage__forecast_category"),
                output_field=CharField())


def _permille_expression() -> Case:
    """Probability per-mille: 1000 once won, else the stored one (model or stage), else the stage's."""
    return Case(When(status=OpportunityStatus.WON, then=Value(WON_PERMILLE)),
                default=Coalesce(F("win_probability"), F("stage__probability") * 10), output_field=IntegerField())


def _expected_expression() -> Any:
    # round_half_up(amount × p / 1000) per deal, in integer SQL arithmetic: floor((2·a·p + 1000) / 2000)
    # equals engines.forecast.expected_amounts; 2·a·p ≤ 2 × 10^13 × 1000 fits in 64 bits (MAX_MINOR).
    return (F("amount") * _permille_expression() * 2 + 1000) / 2000


def period_deals(queryset: QuerySet[Opportunity], start: dt.date, end: dt.date) -> QuerySet[Opportunity]:
    """Open deals expected to close in [start, end) and deals won in it (local calendar days)."""
    return queryset.filter(
        Q(status=OpportunityStatus.OPEN, close_date__gte=start, close_date__lt=end)
        | Q(status=OpportunityStatus.WON, closed_at__gte=_day_start(start), closed_at__lt=_day_start(end)))


def _group_expression(group_by: str) -> Any:
    if group_by == "owner":
        return F("owner_id")
    if group_by == "department":
        return Coalesce(F("department_id"), Value(NO_DEPARTMENT))
    return Value(0)


@dataclass(frozen=True)
class Aggregate:
    """Cells by (group key, category) of CNY deals, and counts of deals in other currencies."""

    cells: dict[tuple[int, str], engine.Cell]
    excluded: dict[str, int]


def aggregate(queryset: QuerySet[Opportunity], group_by: str) -> Aggregate:
    """ONE grouped query: (group, category, currency) → count, amount, expected."""
    rows = (queryset.annotate(group_key=_group_expression(group_by), category=_category_expression())
            .values("group_key", "category", "currency")
            .annotate(deals=Count("pk"), amount_sum=Sum("amount"),
                      expected_sum=Sum(_expected_expression(), output_field=BigIntegerField()))
            .order_by())
    cells: dict[tuple[int, str], engine.Cell] = {}
    excluded: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["currency"] != CURRENCY:
            excluded[row["currency"]] += row["deals"]
            continue
        key = (int(row["group_key"]), str(row["category"]))
        before = cells.get(key, engine.Cell(0, 0, 0))
        cells[key] = engine.Cell(before.count + row["deals"], before.amount + int(row["amount_sum"] or 0),
                                 before.expected + int(row["expected_sum"] or 0))
    return Aggregate(cells, dict(excluded))


def cumulative(cells: Mapping[str, engine.Cell]) -> dict[str, int]:
    """The three figures a forecast call names, cumulative (closed ⊂ commit ⊂ best case ⊂ pipeline):
    commit = closed + commit amounts; best_case = commit + best-case amounts; pipeline = best_case +
    pipeline amounts. Omitted deals count nowhere."""
    def amount(category: str) -> int:
        cell = cells.get(category)
        return cell.amount if cell else 0

    commit = amount("closed") + amount("commit")
    best_case = commit + amount("best_case")
    return {"closed": amount("closed"), "commit": commit, "best_case": best_case,
            "pipeline": best_case + amount("pipeline")}


@dataclass(frozen=True)
class SubmittedView:
    commit: int
    best_case: int
    pipeline: int
    submitted_at: dt.datetime | None
    submitted_by: str
    note: str
    count: int = 1  # submissions summed (the company row adds the root departments')


@dataclass(frozen=True)
class RollupGroup:
    key: int
    name: str
    depth: int
    cells: dict[str, engine.Cell]
    total: engine.Cell
    system: dict[str, int]
    submitted: SubmittedView | None


@dataclass(frozen=True)
class Rollup:
    period_kind: str
    period_start: dt.date
    period_end: dt.date
    label: str
    group_by: str
    currency: str
    groups: list[RollupGroup]
    totals: dict[str, engine.Cell]
    system: dict[str, int]
    excluded: dict[str, int] = field(default_factory=dict)


def total_of(cells: Mapping[str, engine.Cell]) -> engine.Cell:
    return engine.Cell(sum(cell.count for cell in cells.values()), sum(cell.amount for cell in cells.values()),
                       sum(cell.expected for cell in cells.values()))


def _by_group(cells: Mapping[tuple[int, str], engine.Cell]) -> dict[int, dict[str, engine.Cell]]:
    grouped: dict[int, dict[str, engine.Cell]] = defaultdict(dict)
    for (key, category), cell in cells.items():
        grouped[key][category] = cell
    return grouped


def _latest_submissions(kind: str, start: dt.date) -> tuple[dict[int, ForecastSubmission],
                                                            dict[int, ForecastSubmission]]:
    """The current (newest) submission of the period per user and per department."""
    by_user: dict[int, ForecastSubmission] = {}
    by_department: dict[int, ForecastSubmission] = {}
    for row in (ForecastSubmission.objects.filter(period_kind=kind, period_start=start)
                .select_related("submitted_by").order_by("-submitted_at", "-pk")):
        if row.department_id is not None:
            by_department.setdefault(row.department_id, row)
        elif row.user_id is not None:
            by_user.setdefault(row.user_id, row)
    return by_user, by_department


def _submitted(rows: Sequence[ForecastSubmission]) -> SubmittedView | None:
    if not rows:
        return None
    if len(rows) == 1:
        row = rows[0]
        return SubmittedView(row.commit_amount, row.best_case_amount, row.pipeline_amount, row.submitted_at,
                             str(row.submitted_by), row.note)
    return SubmittedView(sum(row.commit_amount for row in rows), sum(row.best_case_amount for row in rows),
                         sum(row.pipeline_amount for row in rows), max(row.submitted_at for row in rows), "", "",
                         len(rows))


def forecast_rollup(*, actor: User, period_kind: str, period_start: Any, group_by: str) -> Rollup:
    """The period forecast of the deals the actor may see, by owner, department (each department
    including its sub-departments) or company, per forecast category, with the current submissions
    beside the system figures."""
    kind, start = period_clean(period_kind, period_start)
    if group_by not in GROUPS:
        raise ValidationFailed.for_field(
            "group_by", _("分组只能是 owner（销售）、department（团队）或 company（公司）。"))
    end = periods.period_end(kind, start)
    result = aggregate(period_deals(access.visible(actor, "opportunity"), start, end), group_by)
    by_user, by_department = _latest_submissions(kind, start)
    grouped = _by_group(result.cells)
    groups: list[RollupGroup] = []
    if group_by == "owner":
        names = {pk: str(user) for pk, user in ((user.pk, user) for user in User.objects.filter(pk__in=grouped))}
        for key in sorted(grouped, key=lambda pk: (names.get(pk, ""), pk)):
            cells = grouped[key]
            found = by_user.get(key)
            groups.append(RollupGroup(key, names.get(key, str(key)), 0, cells, total_of(cells), cumulative(cells),
                                      _submitted([found] if found else [])))
    elif group_by == "department":
        departments = {row["pk"]: row for row in Department.objects.values("pk", "name", "parent_id", "path")}
        parents = {pk: row["parent_id"] for pk, row in departments.items()}
        tree = _by_group(engine.tree_rollup({key: cell for key, cell in result.cells.items()
                                             if key[0] != NO_DEPARTMENT}, parents))
        for key in sorted(tree, key=lambda pk: departments[pk]["path"]):
            cells = tree[key]
            found = by_department.get(key)
            groups.append(RollupGroup(key, departments[key]["name"], departments[key]["path"].strip("/").count("/"),
                                      cells, total_of(cells), cumulative(cells), _submitted([found] if found else [])))
        if NO_DEPARTMENT in grouped:
            cells = grouped[NO_DEPARTMENT]
            groups.append(RollupGroup(NO_DEPARTMENT, _("未分配部门"), 0, cells, total_of(cells), cumulative(cells),
                                      None))
    else:
        cells = grouped.get(0, {})
        roots = Department.objects.filter(parent__isnull=True).values_list("pk", flat=True)
        groups.append(RollupGroup(0, _("全公司"), 0, cells, total_of(cells), cumulative(cells),
                                  _submitted([by_department[pk] for pk in roots if pk in by_department])))
    totals: dict[str, engine.Cell] = {}
    for (_key, category), cell in result.cells.items():
        before = totals.get(category, engine.Cell(0, 0, 0))
        totals[category] = engine.Cell(before.count + cell.count, before.amount + cell.amount,
                                       before.expected + cell.expected)
    return Rollup(kind, start, end, periods.label(kind, start), group_by, CURRENCY, groups, totals,
                  cumulative(totals), result.excluded)


# --- submissions -----------------------------------------------------------------------------------------
def managed_department_ids(user: User) -> list[int]:
    """Departments the user heads, and everything below them (admins: every department)."""
    if access.is_admin(user):
        return list(Department.objects.values_list("pk", flat=True))
    paths = list(Department.objects.filter(manager_id=user.pk).values_list("path", flat=True))
    if not paths:
        return []
    condition = Q()
    for path in paths:
        condition |= Q(path__startswith=path)
    return list(Department.objects.filter(condition).values_list("pk", flat=True))


def _clean_amount(name: str, raw: Any, errors: list[FieldError]) -> int:
    try:
        amount = clean_amount_minor(raw, CURRENCY)
    except ValueError as error:
        errors.append(FieldError(name, str(error), "invalid"))
        return 0
    if amount < 0:
        errors.append(FieldError(name, _("金额不能为负数。"), "negative"))
    return amount


def _scope_deals(actor: User, department_id: int | None) -> QuerySet[Opportunity]:
    visible = access.visible(actor, "opportunity")
    if department_id is None:
        return visible.filter(owner_id=actor.pk)
    return visible.filter(department_id__in=access.department_subtree_ids(department_id))


@transaction.atomic
def forecast_submit(*, actor: User, period_kind: Any, period_start: Any, department_id: int | None = None,
                    commit: Any, best_case: Any, pipeline: Any, note: str = "") -> ForecastSubmission:
    """Record a forecast call (amounts in yuan text) for one period: a rep's for themselves
    (`department_id` None), a manager's for a department they head or one below it (admins: any).
    Cumulative: commit ≤ best case ≤ pipeline. Append-only; the system's figures of the same scope
    are kept beside it; audited."""
    access.require(actor, "opportunity", "view")
    errors: list[FieldError] = []
    kind, start = period_clean(period_kind, period_start, errors)
    amounts = {name: _clean_amount(name, raw, errors)
               for name, raw in (("commit", commit), ("best_case", best_case), ("pipeline", pipeline))}
    if not errors:
        if amounts["best_case"] < amounts["commit"]:
            errors.append(FieldError("best_case", _("乐观金额包含承诺金额，不能小于承诺金额。"), "order"))
        if amounts["pipeline"] < amounts["best_case"]:
            errors.append(FieldError("pipeline", _("管道金额包含乐观金额，不能小于乐观金额。"), "order"))
    note = " ".join(str(note or "").split())
    if len(note) > 1000:
        errors.append(FieldError("note", _("说明最多 1000 个字。"), "too_long"))
    department = None
    if department_id is not None:
        department = Department.objects.filter(pk=department_id).first()
        if department is None:
            errors.append(FieldError("department_id", _("没有 ID 为 %(id)s 的部门。") % {"id": department_id},
                                     "not_found"))
    if errors:
        raise ValidationFailed(_("预测提交填写有误。"), errors=errors)
    if department is not None and department.pk not in managed_department_ids(actor):
        raise PermissionDenied(_("只有部门负责人（或上级部门负责人）和管理员可以为部门提交预测。"))
    end = periods.period_end(kind, start)
    system = aggregate(period_deals(_scope_deals(actor, department.pk if department else None), start, end),
                       "company")
    cells = _by_group(system.cells).get(0, {})
    snapshot = {"cells": {category: cell.__dict__ for category, cell in cells.items()},
                "cumulative": cumulative(cells), "excluded": system.excluded}
    row = ForecastSubmission.objects.create(
        period_kind=kind, period_start=start, user=actor if department is None else None, department=department,
        currency=CURRENCY, commit_amount=amounts["commit"], best_case_amount=amounts["best_case"],
        pipeline_amount=amounts["pipeline"], system_amounts=snapshot, note=note, submitted_by=actor,
        submitted_at=timezone.now())
    scope = department.name if department else str(actor)
    audit_record(object_type="forecast_submission", object_id=row.pk, action=AuditEvent.Kind.CREATE,
                 actor_id=actor.pk, object_repr=f"{periods.label(kind, start)} · {scope}",
                 summary=_("提交销售预测：%(period)s，%(scope)s") % {
                     "period": periods.label(kind, start), "scope": scope},
                 changes={"commit": [None, amounts["commit"]], "best_case": [None, amounts["best_case"]],
                          "pipeline": [None, amounts["pipeline"]], "note": [None, note],
                          "system": [None, snapshot["cumulative"]]})
    return row


def _submission_scope(actor: User) -> Q | None:
    """Submissions the actor may read, following their reach over deals: all (admins and "all"
    scope), their department subtree, their department, or their own; plus departments they head."""
    grant = access.grant_for(actor, "opportunity")
    if grant.scope == "all":
        return None
    own = Q(user_id=actor.pk) | Q(submitted_by_id=actor.pk)
    departments: set[int] = set(managed_department_ids(actor))
    if actor.department_id is not None and grant.scope == "subtree":
        departments.update(access.department_subtree_ids(actor.department_id))
    elif actor.department_id is not None and grant.scope == "department":
        departments.add(actor.department_id)
    if not departments:
        return own
    return own | Q(department_id__in=departments) | Q(user__department_id__in=departments)


@dataclass(frozen=True)
class SubmissionRow:
    submission: ForecastSubmission
    is_current: bool
    label: str
    scope: str


def forecast_submissions(*, actor: User, period_kind: Any = None, period_start: Any = None,
                         user_id: int | None = None, department_id: int | None = None,
                         limit: int = 200) -> list[SubmissionRow]:
    """Submission history the actor may read, newest first; `is_current` marks the newest of each
    (period, scope)."""
    access.require(actor, "opportunity", "view")
    rows = ForecastSubmission.objects.select_related("user", "department", "submitted_by")
    scope = _submission_scope(actor)
    if scope is not None:
        rows = rows.filter(scope)
    if period_kind is not None or period_start is not None:
        kind, start = period_clean(period_kind, period_start)
        rows = rows.filter(period_kind=kind, period_start=start)
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if department_id is not None:
        rows = rows.filter(department_id=department_id)
    result = []
    seen: set[tuple[str, dt.date, int | None, int | None]] = set()
    for row in rows.order_by("-submitted_at", "-pk")[:max(1, min(limit, 1000))]:
        key = (row.period_kind, row.period_start, row.user_id, row.department_id)
        result.append(SubmissionRow(row, key not in seen, periods.label(row.period_kind, row.period_start),
                                    row.department.name if row.department else str(row.user)))
        seen.add(key)
    return result


# --- pipeline snapshots and the backtest ----------------------------------------------------------------
def pipeline_snapshot_take(as_of_date: dt.date | None = None) -> int:
    """Freeze every open deal as it stands into the snapshot of `as_of_date` (today by default).
    Idempotent per day: deals already in that day's snapshot are left as they are. Returns how many
    rows were added."""
    day = as_of_date or timezone.localdate()
    added = 0
    deals = (Opportunity.objects.filter(status=OpportunityStatus.OPEN).order_by("pk")
             .values_list("pk", "owner_id", "department_id", "stage_id", "stage__forecast_category", "amount",
                          "currency", "close_date", "stage__probability", "win_probability", "probability_source"))
    batch: list[PipelineSnapshot] = []

    def flush() -> int:
        existing = set(PipelineSnapshot.objects.filter(taken_on=day, opportunity_id__in=[row.opportunity_id
                                                                                         for row in batch])
                       .values_list("opportunity_id", flat=True))
        new = [row for row in batch if row.opportunity_id not in existing]
        PipelineSnapshot.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        batch.clear()
        return len(new)

    for pk, owner_id, department_id, stage_id, category, amount, currency, close_date, stage_probability, \
            win_probability, source in deals.iterator(chunk_size=CHUNK):
        batch.append(PipelineSnapshot(
            taken_on=day, opportunity_id=pk, owner_id_at=owner_id, department_id_at=department_id, stage_id=stage_id,
            forecast_category=category, amount=amount, currency=currency, close_date=close_date,
            stage_probability=stage_probability * 10,
            model_probability=win_probability if source == "model" else None))
        if len(batch) >= CHUNK:
            added += flush()
    if batch:
        added += flush()
    return added


@dataclass(frozen=True)
class BacktestPeriod:
    label: str
    start: dt.date
    end: dt.date
    snapshot_on: dt.date | None
    deals: int  # snapshot deals expected to close in the period (CNY)
    accuracy: engine.PeriodAccuracy
    closed: int  # snapshot deals that closed (won or lost) in the period: the Brier sample
    brier_model: float | None
    brier_baseline: float | None


@dataclass(frozen=True)
class Backtest:
    period_kind: str
    currency: str
    periods: list[BacktestPeriod]
    brier_model: float | None
    brier_baseline: float | None
    closed: int
    calibration: tuple[engine.CalibrationBin, ...]
    calibration_baseline: tuple[engine.CalibrationBin, ...]


def forecast_backtest(*, actor: User, period_kind: Any, periods_back: int = 6,
                      today: dt.date | None = None) -> Backtest:
    """For each of the last `periods_back` finished periods: the pipeline snapshot taken at its start
    (or the latest before) → forecast = Σ expected amount of its deals expected to close in the
    period (model probability where it had one, else the stage's); actual = Σ amount of deals won
    in the period; the error %; and the Brier score of those probabilities against the stage
    probabilities on the snapshot deals that closed in the period. Only deals the actor may see."""
    if period_kind not in PeriodKind.values:
        raise ValidationFailed.for_field("period_kind", _("周期只能是 month（月）或 quarter（季度）。"))
    kind = str(period_kind)
    if not 1 <= int(periods_back) <= 36:
        raise ValidationFailed.for_field("periods", _("回测周期数必须在 1 到 36 之间。"))
    visible = access.visible(actor, "opportunity")
    current = current_period(kind, today)
    rows: list[BacktestPeriod] = []
    pooled_model: list[float] = []
    pooled_stage: list[float] = []
    pooled_outcomes: list[int] = []
    for back in range(int(periods_back), 0, -1):
        start = periods.shift(kind, current, -back)
        end = periods.period_end(kind, start)
        snapshot_on = (PipelineSnapshot.objects.filter(taken_on__lte=start).order_by("-taken_on")
                       .values_list("taken_on", flat=True).first())
        forecast_amount, deal_count = 0, 0
        model_p: list[float] = []
        stage_p: list[float] = []
        outcomes: list[int] = []
        if snapshot_on is not None:
            snap = list(PipelineSnapshot.objects.filter(taken_on=snapshot_on, opportunity__in=visible.values("pk"))
                        .values_list("amount", "currency", "close_date", "stage_probability", "model_probability",
                                     "opportunity__status", "opportunity__closed_at"))
            expecting = [row for row in snap if row[1] == CURRENCY and row[2] is not None and start <= row[2] < end]
            deal_count = len(expecting)
            if expecting:
                amounts = np.asarray([row[0] for row in expecting], dtype=np.int64)
                chosen = np.asarray([row[4] if row[4] is not None else row[3] for row in expecting], dtype=np.int64)
                forecast_amount = int(engine.expected_amounts(amounts, chosen).sum())
            low, high = _day_start(start), _day_start(end)
            for _amount, _currency, _close, stage_value, model_value, status, closed_at in snap:
                if status in (OpportunityStatus.WON, OpportunityStatus.LOST) and closed_at is not None \
                        and low <= closed_at < high:
                    model_p.append((model_value if model_value is not None else stage_value) / 1000)
                    stage_p.append(stage_value / 1000)
                    outcomes.append(1 if status == OpportunityStatus.WON else 0)
        actual = int(period_deals(visible, start, end).filter(status=OpportunityStatus.WON, currency=CURRENCY)
                     .aggregate(total=Sum("amount"))["total"] or 0)
        labels = np.asarray(outcomes, dtype=np.int64)
        rows.append(BacktestPeriod(
            periods.label(kind, start), start, end, snapshot_on, deal_count,
            engine.period_accuracy(periods.label(kind, start), forecast_amount, actual), len(outcomes),
            round(engine.brier(np.asarray(model_p), labels), 5) if outcomes else None,
            round(engine.brier(np.asarray(stage_p), labels), 5) if outcomes else None))
        pooled_model += model_p
        pooled_stage += stage_p
        pooled_outcomes += outcomes
    labels = np.asarray(pooled_outcomes, dtype=np.int64)
    model_values = np.asarray(pooled_model, dtype=np.float64)
    stage_values = np.asarray(pooled_stage, dtype=np.float64)
    return Backtest(
        kind, CURRENCY, rows,
        round(engine.brier(model_values, labels), 5) if pooled_outcomes else None,
        round(engine.brier(stage_values, labels), 5) if pooled_outcomes else None, len(pooled_outcomes),
        engine.calibration(model_values, labels) if pooled_outcomes else (),
        engine.calibration(stage_values, labels) if pooled_outcomes else ())
