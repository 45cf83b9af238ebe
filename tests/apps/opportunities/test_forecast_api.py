"""Forecast API: roll-up, submissions (create, refuse, history), backtest, model train and status;
problem+json errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.apps.opportunities.forecast_fixtures import at, deal, seed_history
from tests.conftest import Org, make_account


def _deals(org: Org) -> None:
    account = make_account(org["rep1"])
    deal(org["rep1"], account, "商务谈判", amount=10_000_000, close_date=dt.date(2026, 12, 10))
    deal(org["rep3"], account, "赢单", amount=5_000_000, closed_at=at(2026, 12, 5))
    deal(org["rep3"], account, "初步接洽", amount=100, currency="USD", close_date=dt.date(2026, 12, 5))


def test_rollup(org: Org, api_client_for: Any) -> None:
    _deals(org)
    response = api_client_for("manager").get("/api/v1/forecast/rollup?period_kind=month&period_start=2026-12-01"
                                             "&group_by=owner")
    assert response.status_code == 200
    body = response.json()
    assert (body["label"], body["currency"], body["excluded_other_currencies"]) == ("2026-12", "CNY", {})
    assert [(group["name"], group["cells"]) for group in body["groups"]] == [
        ("rep1", {"commit": {"count": 1, "amount": 10_000_000, "expected": 7_500_000}})]
    admin = api_client_for("admin").get("/api/v1/forecast/rollup?period_start=2026-12-01&group_by=company").json()
    assert admin["system"] == {"closed": 5_000_000, "commit": 15_000_000, "best_case": 15_000_000,
                               "pipeline": 15_000_000}
    assert admin["excluded_other_currencies"] == {"USD": 1}


def test_rollup_bad_period_is_a_problem(org: Org, api_client_for: Any) -> None:
    response = api_client_for("rep1").get("/api/v1/forecast/rollup?period_kind=quarter&period_start=2026-11-01")
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["period_start"]


def test_submit_and_history(org: Org, api_client_for: Any) -> None:
    _deals(org)
    client = api_client_for("rep1")
    payload = {"period_kind": "month", "period_start": "2026-12-01", "commit": "80,000", "best_case": "90000",
               "pipeline": "100000.5", "note": "大单待签"}
    response = client.post("/api/v1/forecast/submissions", payload, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert (body["commit"], body["best_case"], body["pipeline"], body["scope"], body["is_current"]) == (
        8_000_000, 9_000_000, 10_000_050, "rep1", True)
    assert body["system_amounts"]["cumulative"]["commit"] == 10_000_000
    history = client.get("/api/v1/forecast/submissions?period_kind=month&period_start=2026-12-01").json()
    assert [row["id"] for row in history] == [body["id"]]
    assert api_client_for("rep3").get("/api/v1/forecast/submissions").json() == []


def test_submit_refusals(org: Org, api_client_for: Any) -> None:
    from l2c.apps.opportunities.models import ForecastSubmission

    client = api_client_for("rep1")
    base = {"period_kind": "month", "period_start": "2026-12-01", "commit": "1", "best_case": "2", "pipeline": "3"}
    forbidden = client.post("/api/v1/forecast/submissions", {**base, "department_id": org.north.pk},
                            content_type="application/json")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "permission_denied"
    invalid = client.post("/api/v1/forecast/submissions", {**base, "commit": "x"}, content_type="application/json")
    assert invalid.status_code == 422 and [e["field"] for e in invalid.json()["errors"]] == ["commit"]
    assert ForecastSubmission.objects.count() == 0
    assert api_client_for(None).get("/api/v1/forecast/submissions").status_code == 401


def test_backtest_without_snapshots(org: Org, api_client_for: Any) -> None:
    body = api_client_for("rep1").get("/api/v1/forecast/backtest?period_kind=quarter&periods=2").json()
    assert [(row["snapshot_on"], row["forecast"], row["brier_model"]) for row in body["periods"]] == [
        (None, 0, None), (None, 0, None)]
    assert (body["brier_model"], body["closed"], body["calibration"]) == (None, 0, [])


def test_model_train_and_status(org: Org, api_client_for: Any) -> None:
    assert api_client_for("rep1").get("/api/v1/forecast/model").json() == {"active": None, "latest": None}
    refused = api_client_for("admin").post("/api/v1/forecast/model/train")
    assert refused.status_code == 422 and "至少需要 50 个" in refused.json()["detail"]
    assert api_client_for("manager").post("/api/v1/forecast/model/train").status_code == 403
    seed_history(org["rep1"], make_account(org["rep1"]), 200)
    trained = api_client_for("admin").post("/api/v1/forecast/model/train")
    assert trained.status_code == 201
    body = trained.json()
    assert body["is_active"] and body["brier_model"] < body["brier_baseline"] and body["test_size"] == 50
    assert body["coefficients"][0] == {"feature": "health.need", "coefficient": body["coefficients"][0]["coefficient"]}
    status = api_client_for("rep1").get("/api/v1/forecast/model").json()
    assert status["active"]["id"] == status["latest"]["id"] == body["id"]
