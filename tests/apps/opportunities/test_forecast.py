"""Forecast services: roll-ups computed by hand, visibility, submissions (permissions, audit,
history), the model (refusal, Brier below the stage baseline on a seeded history), rescoring and
the backtest on a tiny snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from l2c.apps.activity.models import AuditEvent
from l2c.engines.forecast import Cell, expected_amounts
from l2c.kernel.errors import PermissionDenied, ValidationFailed
from tests.apps.opportunities.forecast_fixtures import at, close, deal, seed_history
from tests.conftest import Org, make_account

DECEMBER = dt.date(2026, 12, 1)


@pytest.fixture
def december(org: Org) -> dict[str, Any]:
    """Deals of December 2026 (see the table in each test)."""
    account = make_account(org["rep1"])
    rows = {
        # rep1 (north): commit 100,000 yuan at the stage's 75 %; best case 100.01 yuan at the model's 33.3 %
        "a": deal(org["rep1"], account, "商务谈判", amount=10_000_000, close_date=dt.date(2026, 12, 10)),
        "b": deal(org["rep1"], account, "方案报价", amount=10_001, close_date=dt.date(2026, 12, 31),
                  win_probability=333, source="model"),
        # rep2 (north): won on 5 December; lost on 6 December (lost deals count nowhere)
        "c": deal(org["rep2"], account, "赢单", amount=5_000_000, closed_at=at(2026, 12, 5)),
        "g": deal(org["rep2"], account, "输单", amount=9_999_999, closed_at=at(2026, 12, 6)),
        # rep3 (east): pipeline at 10 %; another closing on 1 January (next period)
        "d": deal(org["rep3"], account, "初步接洽", amount=2_000_000, close_date=dt.date(2026, 12, 31)),
        "e": deal(org["rep3"], account, "初步接洽", amount=7_000_000, close_date=dt.date(2027, 1, 1)),
        # rep1: a dollar deal (left out, counted); won at 23:00 on 30 November Shanghai time (last period)
        "f": deal(org["rep1"], account, "商务谈判", amount=3_000_000, currency="USD", close_date=dt.date(2026, 12, 2)),
        "h": deal(org["rep1"], account, "赢单", amount=8_000_000, closed_at=at(2026, 11, 30, 23)),
    }
    return rows


def _rollup(user: Any, group_by: str, **kwargs: Any) -> Any:
    from l2c.apps.opportunities.forecast import forecast_rollup

    return forecast_rollup(actor=user, period_kind=kwargs.get("kind", "month"),
                           period_start=kwargs.get("start", DECEMBER), group_by=group_by)


def _cells(rollup: Any) -> dict[str, dict[str, Cell]]:
    return {group.name: group.cells for group in rollup.groups}


def test_rollup_by_owner_computed_by_hand(org: Org, december: dict[str, Any]) -> None:
    rollup = _rollup(org["admin"], "owner")
    assert _cells(rollup) == {
        "rep1": {"commit": Cell(1, 10_000_000, 7_500_000),  # 75 % of 100,000 yuan
                 "best_case": Cell(1, 10_001, 3_330)},  # 10,001 fen × 33.3 % = 3,330.33 → 3,330
        "rep2": {"closed": Cell(1, 5_000_000, 5_000_000)},
        "rep3": {"pipeline": Cell(1, 2_000_000, 200_000)},
    }
    assert rollup.excluded == {"USD": 1}
    assert (rollup.label, rollup.period_end) == ("2026-12", dt.date(2027, 1, 1))
    # cumulative: commit = closed + commit; best case adds best case; pipeline adds pipeline
    assert rollup.system == {"closed": 5_000_000, "commit": 15_000_000, "best_case": 15_010_001,
                             "pipeline": 17_010_001}
    assert rollup.totals["commit"] == Cell(1, 10_000_000, 7_500_000)


def test_sql_expected_amount_matches_the_engine_per_deal(org: Org) -> None:
    from l2c.apps.opportunities.forecast import aggregate
    from l2c.apps.opportunities.models import Opportunity

    account = make_account(org["rep1"])
    amounts = [1, 999, 1001, 10_001, 123_456_789, 10**13]
    permille = [500, 333, 500, 333, 999, 1]
    for amount, value in zip(amounts, permille, strict=True):
        deal(org["rep1"], account, "需求确认", amount=amount, close_date=dt.date(2026, 12, 1),
             win_probability=value, source="model")
    result = aggregate(Opportunity.objects.all(), "company")
    expected = int(expected_amounts(np.array(amounts, dtype=np.int64), np.array(permille, dtype=np.int64)).sum())
    assert result.cells[(0, "pipeline")] == Cell(6, sum(amounts), expected)


def test_rollup_by_department_adds_sub_departments(org: Org, december: dict[str, Any]) -> None:
    rollup = _rollup(org["admin"], "department")
    assert [(group.name, group.depth) for group in rollup.groups] == [
        ("销售中心", 0), ("华北销售部", 1), ("华东销售部", 1)]
    cells = _cells(rollup)
    assert cells["华北销售部"] == {"commit": Cell(1, 10_000_000, 7_500_000), "best_case": Cell(1, 10_001, 3_330),
                                   "closed": Cell(1, 5_000_000, 5_000_000)}
    assert cells["华东销售部"] == {"pipeline": Cell(1, 2_000_000, 200_000)}
    assert cells["销售中心"] == {**cells["华北销售部"], **cells["华东销售部"]}


def test_rollup_for_the_company_and_a_quarter(org: Org, december: dict[str, Any]) -> None:
    rollup = _rollup(org["admin"], "company", kind="quarter", start=dt.date(2026, 10, 1))
    [company] = rollup.groups
    # Q4 also holds the deal won on 30 November
    assert company.cells["closed"] == Cell(2, 13_000_000, 13_000_000)
    assert company.total == Cell(5, 25_010_001, 20_703_330)


def test_a_rep_sees_only_their_deals_and_a_manager_their_subtree(org: Org, december: dict[str, Any]) -> None:
    assert list(_cells(_rollup(org["rep1"], "owner"))) == ["rep1"]
    assert list(_cells(_rollup(org["manager"], "owner"))) == ["rep1", "rep2"]
    assert list(_cells(_rollup(org["director"], "owner"))) == ["rep1", "rep2", "rep3"]
    company = _rollup(org["rep3"], "company").groups[0]
    assert company.cells == {"pipeline": Cell(1, 2_000_000, 200_000)}


def test_team_members_see_the_deal_in_their_rollup(org: Org, december: dict[str, Any]) -> None:
    from l2c.apps.opportunities.models import OpportunityTeamMember

    OpportunityTeamMember.objects.create(opportunity=december["d"], user=org["rep1"])
    assert list(_cells(_rollup(org["rep1"], "owner"))) == ["rep1", "rep3"]


def test_rollup_is_a_constant_number_of_queries(org: Org, december: dict[str, Any],
                                                django_assert_max_num_queries: Any) -> None:
    for group_by in ("owner", "department", "company"):
        with django_assert_max_num_queries(8):
            _rollup(org["director"], group_by)


def test_rollup_refuses_bad_periods_and_groups(org: Org) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _rollup(org["admin"], "owner", start=dt.date(2026, 12, 2))
    assert [error.field for error in caught.value.errors] == ["period_start"]
    with pytest.raises(ValidationFailed):
        _rollup(org["admin"], "owner", kind="quarter", start=dt.date(2026, 11, 1))
    with pytest.raises(ValidationFailed) as caught:
        _rollup(org["admin"], "region")
    assert caught.value.errors[0].field == "group_by"


# --- submissions ---------------------------------------------------------------------------------------
def _submit(user: Any, **kwargs: Any) -> Any:
    from l2c.apps.opportunities.forecast import forecast_submit

    values = {"period_kind": "month", "period_start": "2026-12-01", "commit": "150,000", "best_case": "150000.10",
              "pipeline": "200000", "note": "  含  大客户  "}
    values.update(kwargs)
    return forecast_submit(actor=user, **values)


def test_a_rep_submits_for_themselves_with_the_system_figures_and_an_audit(org: Org,
                                                                           december: dict[str, Any]) -> None:
    row = _submit(org["rep1"])
    assert (row.user, row.department, row.commit_amount, row.best_case_amount, row.pipeline_amount, row.note) == (
        org["rep1"], None, 15_000_000, 15_000_010, 20_000_000, "含 大客户")
    # rep1's own deals only: commit 100,000 yuan, best case 100.01 yuan
    assert row.system_amounts["cumulative"] == {"closed": 0, "commit": 10_000_000, "best_case": 10_010_001,
                                                "pipeline": 10_010_001}
    assert row.system_amounts["excluded"] == {"USD": 1}
    event = AuditEvent.objects.get(object_type="forecast_submission", object_id=row.pk)
    assert event.actor_id == org["rep1"].pk and event.changes["commit"] == [None, 15_000_000]
    owner_row = {group.name: group for group in _rollup(org["admin"], "owner").groups}["rep1"]
    assert owner_row.submitted is not None and owner_row.submitted.commit == 15_000_000


def test_only_managers_submit_for_their_departments(org: Org) -> None:
    from l2c.apps.opportunities.models import ForecastSubmission

    with pytest.raises(PermissionDenied):
        _submit(org["rep1"], department_id=org.north.pk)
    with pytest.raises(PermissionDenied):
        _submit(org["manager"], department_id=org.east.pk)
    assert ForecastSubmission.objects.count() == 0
    assert _submit(org["manager"], department_id=org.north.pk).department == org.north
    org.center.manager = org["director"]
    org.center.save()
    assert _submit(org["director"], department_id=org.east.pk).department == org.east  # below their department
    assert _submit(org["admin"], department_id=org.finance_department.pk).user is None


def test_bad_submissions_are_refused_field_by_field_and_save_nothing(org: Org) -> None:
    from l2c.apps.opportunities.models import ForecastSubmission

    with pytest.raises(ValidationFailed) as caught:
        _submit(org["rep1"], commit="12.345", best_case="-1", pipeline="abc", period_start="2026-12-15")
    assert sorted(error.field for error in caught.value.errors) == ["best_case", "commit", "period_start",
                                                                   "pipeline"]
    with pytest.raises(ValidationFailed) as caught:
        _submit(org["rep1"], commit="100", best_case="50", pipeline="40")
    assert [(error.field, error.code) for error in caught.value.errors] == [("best_case", "order"),
                                                                            ("pipeline", "order")]
    assert ForecastSubmission.objects.count() == 0


def test_submission_history_newest_first_with_the_current_one_marked(org: Org) -> None:
    from l2c.apps.opportunities.forecast import forecast_submissions

    first = _submit(org["rep1"], commit="100")
    second = _submit(org["rep1"], commit="120")
    other = _submit(org["rep3"], commit="50")
    rows = forecast_submissions(actor=org["rep1"])
    assert [(row.submission.pk, row.is_current) for row in rows] == [(second.pk, True), (first.pk, False)]
    assert [row.submission.pk for row in forecast_submissions(actor=org["manager"])] == [second.pk, first.pk]
    assert [row.submission.pk for row in forecast_submissions(actor=org["admin"])] == [other.pk, second.pk, first.pk]
    assert forecast_submissions(actor=org["rep2"]) == []
    assert [row.label for row in forecast_submissions(actor=org["rep3"], period_kind="month",
                                                      period_start="2026-12-01")] == ["2026-12"]


# --- the model -----------------------------------------------------------------------------------------
def test_training_refuses_too_few_closed_deals_and_stores_nothing(org: Org) -> None:
    from l2c.apps.opportunities.forecast import forecast_train
    from l2c.apps.opportunities.models import ForecastModel

    seed_history(org["rep1"], make_account(org["rep1"]), 30)
    with pytest.raises(ValidationFailed) as caught:
        forecast_train(actor=org["admin"])
    assert "至少需要 50 个已关闭的商机" in caught.value.detail and "目前有 30 个" in caught.value.detail
    assert ForecastModel.objects.count() == 0


def test_only_admins_train(org: Org) -> None:
    from l2c.apps.opportunities.forecast import forecast_train

    with pytest.raises(PermissionDenied):
        forecast_train(actor=org["manager"])


def test_the_model_beats_the_stage_baseline_on_a_seeded_history(org: Org) -> None:
    from l2c.apps.opportunities.forecast import forecast_rescore, forecast_train
    from l2c.apps.opportunities.models import ForecastModel, HealthAnswer, Opportunity

    account = make_account(org["rep1"])
    seed_history(org["rep1"], account, 600)
    result = forecast_train(actor=org["admin"])
    metrics = result.model.metrics
    assert result.is_active and ForecastModel.objects.get(is_active=True) == result.model
    assert metrics["brier_model"] < metrics["brier_baseline"] - 0.05
    assert (metrics["train_size"], metrics["test_size"], result.model.sample_size) == (450, 150, 600)
    assert sum(row["count"] for row in metrics["calibration"]) == 150
    assert metrics["coefficients"][0]["feature"] == "health.need"  # the strongest feature is the true one
    event = AuditEvent.objects.get(object_type="forecast_model", object_id=result.model.pk)
    assert event.actor_id == org["admin"].pk and event.changes["is_active"] == [None, True]
    from l2c.apps.activity.models import JobRun

    assert JobRun.objects.filter(name="opportunities.forecast_rescore").count() == 1  # rescoring queued
    # rescore: open deals get the model's probability; a strong "need" answer raises it
    weak = deal(org["rep1"], account, "方案报价", amount=100_000)
    strong = deal(org["rep1"], account, "方案报价", amount=100_000)
    HealthAnswer.objects.create(opportunity=weak, dimension="need", level=0, answered_at=weak.created_at)
    HealthAnswer.objects.create(opportunity=strong, dimension="need", level=4, answered_at=strong.created_at)
    assert forecast_rescore() == 2
    weak.refresh_from_db()
    strong.refresh_from_db()
    assert weak.probability_source == strong.probability_source == "model"
    assert weak.win_probability < 300 < 700 < strong.win_probability
    assert forecast_rescore() == 0  # nothing changed
    assert Opportunity.objects.filter(status="won").first().probability_source == ""  # closed deals untouched


def test_training_is_deterministic(org: Org) -> None:
    from l2c.apps.opportunities.forecast import forecast_train

    seed_history(org["rep1"], make_account(org["rep1"]), 200)
    first = forecast_train(actor=None).model
    second = forecast_train(actor=None).model
    assert first.parameters == second.parameters and first.metrics == second.metrics


def test_a_model_that_does_not_beat_the_baseline_is_stored_unused(org: Org, monkeypatch: Any) -> None:
    from l2c.apps.opportunities import forecast, forecast_model
    from l2c.apps.opportunities.models import ForecastModel

    seed_history(org["rep1"], make_account(org["rep1"]), 200)
    previous = forecast.forecast_train(actor=None).model
    real_fit = forecast_model._fit

    def worse(data: Any) -> Any:
        model, metrics = real_fit(data)
        return model, {**metrics, "brier_model": 0.3, "brier_baseline": 0.2}

    monkeypatch.setattr(forecast_model, "_fit", worse)
    result = forecast.forecast_train(actor=None)
    assert not result.is_active and "未启用" in result.reason
    assert ForecastModel.objects.get(is_active=True) == previous  # the earlier model stays in use
    event = AuditEvent.objects.get(object_type="forecast_model", object_id=result.model.pk)
    assert event.changes["is_active"] == [None, False]


def test_rescore_without_a_model_uses_the_stage_probability(org: Org) -> None:
    from l2c.apps.opportunities.forecast import forecast_rescore

    account = make_account(org["rep1"])
    stale = deal(org["rep1"], account, "方案报价", win_probability=912, source="model")
    fresh = deal(org["rep1"], account, "商务谈判")
    assert forecast_rescore() == 2
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.win_probability, stale.probability_source) == (500, "stage")
    assert (fresh.win_probability, fresh.probability_source) == (750, "stage")


# --- snapshots and the backtest --------------------------------------------------------------------------
def test_backtest_by_hand_on_a_tiny_snapshot(org: Org) -> None:
    from l2c.apps.opportunities.forecast import forecast_backtest, pipeline_snapshot_take
    from l2c.apps.opportunities.models import PipelineSnapshot

    account = make_account(org["rep1"])
    x = deal(org["rep1"], account, "方案报价", amount=1_000_000, close_date=dt.date(2026, 10, 15))
    y = deal(org["rep1"], account, "方案报价", amount=2_000_000, close_date=dt.date(2026, 10, 20),
             win_probability=800, source="model")
    deal(org["rep1"], account, "方案报价", amount=4_000_000, close_date=dt.date(2026, 11, 5))
    hidden = deal(org["rep3"], account, "方案报价", amount=9_000_000, close_date=dt.date(2026, 10, 1))
    assert pipeline_snapshot_take(dt.date(2026, 10, 1)) == 4
    assert pipeline_snapshot_take(dt.date(2026, 10, 1)) == 0  # idempotent per day
    assert PipelineSnapshot.objects.get(opportunity=y).model_probability == 800
    assert PipelineSnapshot.objects.get(opportunity=x).stage_probability == 500
    close(x, "赢单", at(2026, 10, 16))
    close(y, "输单", at(2026, 10, 21))
    close(hidden, "赢单", at(2026, 10, 2))
    deal(org["rep1"], account, "赢单", amount=500_000, closed_at=at(2026, 10, 25))  # not in the snapshot
    result = forecast_backtest(actor=org["rep1"], period_kind="month", periods_back=2, today=dt.date(2026, 11, 15))
    september, october = result.periods
    assert (september.label, september.snapshot_on, september.accuracy.forecast, september.closed) == (
        "2026-09", None, 0, 0)
    # forecast = 1,000,000 × 50 % + 2,000,000 × 80 % = 2,100,000; actual = 1,000,000 + 500,000
    assert (october.label, october.snapshot_on, october.deals) == ("2026-10", dt.date(2026, 10, 1), 2)
    assert (october.accuracy.forecast, october.accuracy.actual, october.accuracy.error_percent) == (
        2_100_000, 1_500_000, 40.0)
    # Brier: model ((0.5 − 1)² + (0.8 − 0)²) / 2 = 0.445; stage ((0.5 − 1)² + (0.5 − 0)²) / 2 = 0.25
    assert (october.closed, october.brier_model, october.brier_baseline) == (2, 0.445, 0.25)
    assert (result.brier_model, result.brier_baseline, result.closed) == (0.445, 0.25, 2)
    # the admin also sees rep3's hidden deal: forecast + 9,000,000 × 50 %, actual + 9,000,000
    admin = forecast_backtest(actor=org["admin"], period_kind="month", periods_back=1, today=dt.date(2026, 11, 15))
    assert (admin.periods[0].accuracy.forecast, admin.periods[0].accuracy.actual) == (6_600_000, 10_500_000)


def test_backtest_refuses_bad_input(org: Org) -> None:
    from l2c.apps.opportunities.forecast import forecast_backtest

    with pytest.raises(ValidationFailed):
        forecast_backtest(actor=org["admin"], period_kind="week")
    with pytest.raises(ValidationFailed):
        forecast_backtest(actor=org["admin"], period_kind="month", periods_back=0)
