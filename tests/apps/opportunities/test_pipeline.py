"""Pipeline analytics (ADR 0005 §6): every figure computed by hand on a small seeded set of deals whose
stage history has exact timestamps; visibility per role; filters; the query budget.

The seed (project process: 1 初步接洽 pipeline 10%, 2 需求确认 pipeline 25%, 3 方案报价 best_case 50%,
4 商务谈判 commit 75%, then 赢单, 输单). Days count from T0 = 2026-01-01 00:00 UTC; "now" is day 31.

deal  owner    amount (fen)  history (stage [entered→exited])                    now      close date
A     rep1     100000 CNY    1 [0→2]  2 [2→6]  3 [6→16]  won [16→]                won      —
B     rep1     200000 CNY    1 [0→4]  2 [4→]                                     2 open   2026-03-15  p=250‰
C     rep2     300000 CNY    1 [0→6]  3 [6→8]  lost [8→]                         lost     —
D     rep3     400000 CNY    1 [0→1]  2 [1→3]  1 [3→5]  2 [5→12]  4 [12→]        4 open   2026-02-10  p=stage 75%
E     manager   50000 USD    1 [0→]                                              1 open   —           p=100‰
F     rep2     123457 CNY    1 [0→3]  3 [3→]                                     3 open   2026-01-20  p=333‰
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import Org, make_account

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(days=31)
TODAY = dt.date(2026, 2, 1)


def at(day: float) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


def _stage(name: str) -> Any:
    from l2c.apps.opportunities.models import Stage

    return Stage.objects.get(process__code="project", name=name)


STAGES = {1: "初步接洽", 2: "需求确认", 3: "方案报价", 4: "商务谈判", "won": "赢单", "lost": "输单"}


def make_deal(owner: Any, account: Any, name: str, amount: int, history: list[tuple[Any, float, float | None]], *,
              currency: str = "CNY", close_date: dt.date | None = None, win_probability: int | None = None) -> Any:
    """A deal written directly (no gate) with its stage history at exact times."""
    from l2c.apps.opportunities.models import Opportunity, StageHistory

    last_key, last_entered, _exit = history[-1]
    stage = _stage(STAGES[last_key])
    status = {"won": "won", "lost": "lost"}.get(str(last_key), "open")
    deal = Opportunity.objects.create(
        name=name, account=account, owner=owner, department_id=owner.department_id, amount=amount, currency=currency,
        close_date=close_date, process=stage.process, stage=stage, status=status, stage_entered_at=at(last_entered),
        closed_at=at(last_entered) if status != "open" else None, win_probability=win_probability,
        lost_reason="price" if status == "lost" else "")
    Opportunity.objects.filter(pk=deal.pk).update(created_at=at(history[0][1]))
    StageHistory.objects.bulk_create(
        StageHistory(opportunity=deal, stage=_stage(STAGES[key]), entered_at=at(entered),
                     exited_at=at(exited) if exited is not None else None)
        for key, entered, exited in history)
    return deal


@pytest.fixture
def deals(org: Org) -> dict[str, Any]:
    north_account = make_account(org["rep1"])
    east_account = make_account(org["rep3"], name="上海云杉信息技术有限公司")
    return {
        "A": make_deal(org["rep1"], north_account, "A", 100000, [(1, 0, 2), (2, 2, 6), (3, 6, 16), ("won", 16, None)]),
        "B": make_deal(org["rep1"], north_account, "B", 200000, [(1, 0, 4), (2, 4, None)],
                       close_date=dt.date(2026, 3, 15), win_probability=250),
        "C": make_deal(org["rep2"], north_account, "C", 300000, [(1, 0, 6), (3, 6, 8), ("lost", 8, None)]),
        "D": make_deal(org["rep3"], east_account, "D", 400000,
                       [(1, 0, 1), (2, 1, 3), (1, 3, 5), (2, 5, 12), (4, 12, None)], close_date=dt.date(2026, 2, 10)),
        "E": make_deal(org["manager"], north_account, "E", 50000, [(1, 0, None)], currency="USD",
                       win_probability=100),
        "F": make_deal(org["rep2"], north_account, "F", 123457, [(1, 0, 3), (3, 3, None)],
                       close_date=dt.date(2026, 1, 20), win_probability=333),
    }


def _filters(**params: Any) -> Any:
    from l2c.apps.opportunities.pipeline import pipeline_filters_clean

    return pipeline_filters_clean(params=params)


# --- funnel ------------------------------------------------------------------------------------------
def test_funnel_counts_and_amounts_of_the_deals_now_in_each_stage_per_currency(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_funnel

    funnel = pipeline_funnel(actor=org["admin"], filters=_filters())
    assert funnel.process_name == "项目型销售"
    assert [(row.name, row.kind, row.count, row.amounts) for row in funnel.stages] == [
        ("初步接洽", "open", 1, {"USD": 50000}),
        ("需求确认", "open", 1, {"CNY": 200000}),
        ("方案报价", "open", 1, {"CNY": 123457}),
        ("商务谈判", "open", 1, {"CNY": 400000}),
        ("赢单", "won", 1, {"CNY": 100000}),
        ("输单", "lost", 1, {"CNY": 300000}),
    ]


def test_funnel_in_one_currency_counts_only_that_currencys_deals(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_funnel

    funnel = pipeline_funnel(actor=org["admin"], filters=_filters(currency="cny"))
    assert [(row.count, row.amounts) for row in funnel.stages] == [
        (0, {}), (1, {"CNY": 200000}), (1, {"CNY": 123457}), (1, {"CNY": 400000}), (1, {"CNY": 100000}),
        (1, {"CNY": 300000})]


def test_funnel_of_another_process_is_its_own_stage_list(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.models import SalesProcess
    from l2c.apps.opportunities.pipeline import pipeline_funnel

    quick = SalesProcess.objects.get(code="quick")
    funnel = pipeline_funnel(actor=org["admin"], filters=_filters(process_id=str(quick.pk)))
    assert [(row.name, row.count) for row in funnel.stages] == [
        ("意向确认", 0), ("报价", 0), ("待签约", 0), ("赢单", 0), ("输单", 0)]


# --- conversion --------------------------------------------------------------------------------------
def test_conversion_counts_deals_that_entered_a_stage_and_later_entered_a_later_stage_or_won(
        org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_conversion

    conversion = pipeline_conversion(actor=org["admin"], filters=_filters())
    # 1: all six entered; A, B, D moved to 2, C and F skipped to 3; E still there → 5/6.
    # 2: A, B, D entered (D twice: counted once); A went to 3, D to 4; B still there → 2/3.
    # 3: A, C, F entered; A won; C lost (not an advance); F still there → 1/3.
    # 4: D entered and is still there → 0/1.
    assert [(row.name, row.entered, row.advanced, row.rate_percent) for row in conversion.stages] == [
        ("初步接洽", 6, 5, 83.3), ("需求确认", 3, 2, 66.7), ("方案报价", 3, 1, 33.3), ("商务谈判", 1, 0, 0.0)]
    assert (conversion.won, conversion.lost) == (1, 1)


def test_moving_back_to_an_earlier_stage_is_not_an_advance(org: Org) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_conversion

    account = make_account(org["rep1"])
    make_deal(org["rep1"], account, "back", 1000, [(1, 0, 1), (2, 1, 2), (1, 2, None)])
    stages = pipeline_conversion(actor=org["admin"], filters=_filters()).stages
    assert [(row.entered, row.advanced) for row in stages] == [(1, 1), (1, 0), (0, 0), (0, 0)]
    assert stages[2].rate_percent is None


# --- time in stage -----------------------------------------------------------------------------------
def test_cycle_time_mean_and_median_of_finished_stays_and_of_running_stays(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_cycle_time

    cycle = pipeline_cycle_time(actor=org["admin"], filters=_filters(), as_of=NOW)
    rows = [(row.name, row.closed.count, row.closed.average_days, row.closed.median_days, row.current.count,
             row.current.average_days, row.current.median_days) for row in cycle.stages]
    assert rows == [
        # finished: A 2, B 4, C 6, D 1 and 2, F 3 → mean 18/6 = 3, median (2+3)/2; running: E 31 days.
        ("初步接洽", 6, 3.0, 2.5, 1, 31.0, 31.0),
        # finished: A 4, D 2 and 7 → mean 13/3, median 4; running: B since day 4 → 27.
        ("需求确认", 3, 4.33, 4.0, 1, 27.0, 27.0),
        # finished: A 10, C 2 → mean 6, median 6; running: F since day 3 → 28.
        ("方案报价", 2, 6.0, 6.0, 1, 28.0, 28.0),
        # none finished; running: D since day 12 → 19.
        ("商务谈判", 0, None, None, 1, 19.0, 19.0),
    ]


def test_cycle_time_median_of_three_running_stays_is_the_middle_one(org: Org) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_cycle_time

    account = make_account(org["rep1"])
    for name, entered in (("x", 1), ("y", 21), ("z", 30.5)):
        make_deal(org["rep1"], account, name, 100, [(1, entered, None)])
    first = pipeline_cycle_time(actor=org["admin"], filters=_filters(), as_of=NOW).stages[0]
    assert (first.current.count, first.current.average_days, first.current.median_days) == (3, 13.5, 10.0)


# --- win rate, by rep, by team -----------------------------------------------------------------------
def test_win_rate_by_count_and_by_amount_in_total_by_rep_and_by_team(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_breakdown

    breakdown = pipeline_breakdown(actor=org["admin"], filters=_filters())
    total = breakdown.total
    assert (total.won_count, total.lost_count, total.win_rate_percent) == (1, 1, 50.0)
    assert total.amount_win_rate_percent == {"CNY": 25.0}  # 100000 / (100000 + 300000)
    owners = {row.name: (row.figures.won_count, row.figures.lost_count, row.figures.win_rate_percent)
              for row in breakdown.owners}
    assert owners == {"manager": (0, 0, None), "rep1": (1, 0, 100.0), "rep2": (0, 1, 0.0), "rep3": (0, 0, None)}
    teams = {row.name: (row.depth, row.figures.won_count, row.figures.lost_count, row.figures.win_rate_percent)
             for row in breakdown.teams}
    assert teams == {"销售中心": (0, 1, 1, 50.0), "华北销售部": (1, 1, 1, 50.0), "华东销售部": (1, 0, 0, None)}


def test_open_pipeline_and_expected_amounts_by_rep_and_by_team_roll_up_the_tree(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_breakdown

    breakdown = pipeline_breakdown(actor=org["admin"], filters=_filters())
    # Expected, half up per deal: B 200000 × 250‰ = 50000; D 400000 × 750‰ (stage 75%) = 300000;
    # F 123457 × 333‰ = 41111.181 → 41111; E 50000 USD × 100‰ = 5000.
    owners = {row.name: (row.figures.open_count, row.figures.open_amounts, row.figures.expected_amounts)
              for row in breakdown.owners}
    assert owners == {
        "manager": (1, {"USD": 50000}, {"USD": 5000}),
        "rep1": (1, {"CNY": 200000}, {"CNY": 50000}),
        "rep2": (1, {"CNY": 123457}, {"CNY": 41111}),
        "rep3": (1, {"CNY": 400000}, {"CNY": 300000}),
    }
    assert [(row.name, row.figures.open_count, row.figures.open_amounts, row.figures.expected_amounts,
             row.figures.won_amounts, row.figures.lost_amounts) for row in breakdown.teams] == [
        ("销售中心", 4, {"CNY": 723457, "USD": 50000}, {"CNY": 391111, "USD": 5000}, {"CNY": 100000},
         {"CNY": 300000}),
        ("华北销售部", 3, {"CNY": 323457, "USD": 50000}, {"CNY": 91111, "USD": 5000}, {"CNY": 100000},
         {"CNY": 300000}),
        ("华东销售部", 1, {"CNY": 400000}, {"CNY": 300000}, {}, {}),
    ]


def test_win_rate_over_a_closing_period_counts_only_deals_closed_in_it(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_breakdown

    # Shanghai days: C closed on day 8 (2026-01-09 08:00 local), A on day 16 (2026-01-17).
    breakdown = pipeline_breakdown(actor=org["admin"], filters=_filters(date_field="closed", date_from="2026-01-10",
                                                                        date_to="2026-01-31"))
    assert (breakdown.total.won_count, breakdown.total.lost_count, breakdown.total.open_count) == (1, 0, 0)
    breakdown = pipeline_breakdown(actor=org["admin"], filters=_filters(date_field="closed", date_to="2026-01-09"))
    assert (breakdown.total.won_count, breakdown.total.lost_count) == (0, 1)


# --- by expected close month -------------------------------------------------------------------------
def test_pipeline_by_close_month_for_twelve_months_by_forecast_category(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_by_month

    report = pipeline_by_month(actor=org["admin"], filters=_filters(), today=TODAY)
    assert [row.month for row in report.months][:3] == [dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)]
    assert report.months[-1].month == dt.date(2027, 1, 1) and len(report.months) == 12
    february, march = report.months[0], report.months[1]
    assert {name: (cell.count, cell.amounts, cell.expected_amounts) for name, cell in february.categories.items()} == {
        "commit": (1, {"CNY": 400000}, {"CNY": 300000})}
    assert {name: (cell.count, cell.amounts, cell.expected_amounts) for name, cell in march.categories.items()} == {
        "pipeline": (1, {"CNY": 200000}, {"CNY": 50000})}
    assert all(row.total.count == 0 for row in report.months[2:])
    assert (report.overdue.count, report.overdue.amounts, report.overdue.expected_amounts) == (
        1, {"CNY": 123457}, {"CNY": 41111})  # F, due 2026-01-20
    assert (report.undated.count, report.undated.amounts) == (1, {"USD": 50000})  # E
    assert report.later.count == 0


# --- visibility ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("username", "names"), [
    ("rep1", {"A", "B"}),
    ("rep2", {"C", "F"}),
    ("rep3", {"D"}),
    ("manager", {"A", "B", "C", "E", "F"}),  # 华北销售部 and below
    ("director", {"A", "B", "C", "D", "E", "F"}),  # 销售中心 and below
    ("marketing", {"A", "B", "C", "D", "E", "F"}),
    ("finance", {"A", "B", "C", "D", "E", "F"}),
    ("presales", set()),
])
def test_every_report_counts_only_the_deals_the_user_may_see(org: Org, deals: Any, username: str,
                                                             names: set[str]) -> None:
    from l2c.apps.opportunities import pipeline

    user, filters = org[username], _filters()
    seen = {deal.name for deal in pipeline.pipeline_deals(actor=user, filters=filters)}
    assert seen == names
    funnel = pipeline.pipeline_funnel(actor=user, filters=filters)
    assert sum(row.count for row in funnel.stages) == len(names)
    breakdown = pipeline.pipeline_breakdown(actor=user, filters=filters)
    assert breakdown.total.open_count + breakdown.total.won_count + breakdown.total.lost_count == len(names)
    assert sum(row.figures.open_count + row.figures.won_count + row.figures.lost_count
               for row in breakdown.owners) == len(names)
    conversion = pipeline.pipeline_conversion(actor=user, filters=filters)
    assert conversion.stages[0].entered == len(names)
    cycle = pipeline.pipeline_cycle_time(actor=user, filters=filters, as_of=NOW)
    first_stays = sum(1 for deal in names for _ in range(2 if deal == "D" else 1))
    assert cycle.stages[0].closed.count + cycle.stages[0].current.count == first_stays


def test_a_deal_team_member_sees_the_deals_figures(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.models import OpportunityTeamMember
    from l2c.apps.opportunities.pipeline import pipeline_funnel

    OpportunityTeamMember.objects.create(opportunity=deals["D"], user=org["presales"])
    funnel = pipeline_funnel(actor=org["presales"], filters=_filters())
    assert [(row.name, row.count) for row in funnel.stages if row.count] == [("商务谈判", 1)]


def test_a_department_filter_keeps_the_subtree_and_an_owner_filter_one_rep(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.pipeline import pipeline_deals

    def names(**params: Any) -> set[str]:
        return {deal.name for deal in pipeline_deals(actor=org["admin"], filters=_filters(**params))}

    assert names(department_id=org.center.pk) == {"A", "B", "C", "D", "E", "F"}
    assert names(department_id=org.east.pk) == {"D"}
    assert names(owner_id=org["rep2"].pk) == {"C", "F"}
    # Filters never widen visibility: rep1 asking for the east department sees nothing.
    assert not list(pipeline_deals(actor=org["rep1"], filters=_filters(department_id=org.east.pk)))


def test_created_date_range_keeps_deals_created_in_it(org: Org, deals: Any) -> None:
    from l2c.apps.opportunities.models import Opportunity
    from l2c.apps.opportunities.pipeline import pipeline_deals

    Opportunity.objects.filter(name="A").update(created_at=at(40))
    found = {deal.name for deal in pipeline_deals(actor=org["admin"], filters=_filters(
        date_from="2026-02-01", date_to="2026-02-15"))}
    assert found == {"A"}


# --- filters -------------------------------------------------------------------------------------------
def test_bad_filters_are_reported_all_at_once_by_parameter(org: Org) -> None:
    from l2c.kernel.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        _filters(process_id="999999", owner_id="abc", department_id="0", date_field="updated",
                 date_from="2026-02-30", currency="XXX")
    assert sorted((error.field, error.code) for error in caught.value.errors) == [
        ("currency", "invalid"), ("date_field", "invalid"), ("date_from", "invalid"), ("department_id", "invalid"),
        ("owner_id", "invalid"), ("process_id", "not_found")]
    with pytest.raises(ValidationFailed) as caught:
        _filters(date_from="2026-03-01", date_to="2026-02-01")
    assert [(error.field, error.code) for error in caught.value.errors] == [("date_to", "range")]
    with pytest.raises(ValidationFailed) as caught:  # beyond what a key or a datetime can hold
        _filters(owner_id=str(2**63), date_from="0001-01-01", date_to="9999-12-31")
    assert sorted((error.field, error.code) for error in caught.value.errors) == [
        ("date_from", "range"), ("date_to", "range"), ("owner_id", "invalid")]


# --- query budget ----------------------------------------------------------------------------------------
def test_each_report_runs_a_fixed_number_of_queries_whatever_the_number_of_deals(
        org: Org, deals: Any, django_assert_num_queries: Any) -> None:
    from l2c.apps.opportunities import pipeline

    def run_all() -> None:
        filters = pipeline.PipelineFilters()
        pipeline.pipeline_funnel(actor=org["manager"], filters=filters)
        pipeline.pipeline_conversion(actor=org["manager"], filters=filters)
        pipeline.pipeline_cycle_time(actor=org["manager"], filters=filters, as_of=NOW)
        pipeline.pipeline_breakdown(actor=org["manager"], filters=filters)
        pipeline.pipeline_by_month(actor=org["manager"], filters=filters, today=TODAY)

    run_all()  # warm the user's grant cache
    account = make_account(org["rep1"], name="深圳前海数据服务有限公司")
    for number in range(20):
        make_deal(org["rep1"], account, f"more {number}", 1000 + number, [(1, 0, 1), (2, 1, 2), (3, 2, None)],
                  close_date=dt.date(2026, 4, 1))
    # funnel 3 (process, grouped rows, stages); conversion 5 (process, entered, advanced, won/lost,
    # stages); cycle time 6 (process, count/sum and median of finished and of running stays, stages);
    # breakdown 3 (grouped rows, owner names, departments); by month 1.
    with django_assert_num_queries(BUDGET):
        run_all()


BUDGET = 18
