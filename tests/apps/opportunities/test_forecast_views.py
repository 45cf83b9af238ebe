"""Forecast pages: the roll-up table respects visibility, the HTMX submit form, the accuracy page and
the admin-only retrain button."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from tests.apps.opportunities.forecast_fixtures import deal
from tests.conftest import Org, make_account


def _client(org: Org, username: str) -> Client:
    client = Client()
    client.force_login(org[username])
    return client


def _deals(org: Org) -> None:
    account = make_account(org["rep1"])
    deal(org["rep1"], account, "商务谈判", amount=10_000_000, close_date=dt.date(2026, 12, 10))
    deal(org["rep3"], account, "初步接洽", amount=2_000_000, close_date=dt.date(2026, 12, 11))


def test_forecast_page_shows_the_visible_rollup(org: Org) -> None:
    _deals(org)
    page = _client(org, "rep1").get("/opportunities/forecast/?period_kind=month&period=2026-12-01&group_by=owner")
    assert page.status_code == 200
    html = page.content.decode()
    assert "¥100,000.00" in html and "¥75,000.00" in html  # amount and expected (75 %)
    assert "¥20,000.00" not in html  # rep3's deal is not visible to rep1
    assert 'id="forecast-chart-data"' in html and "forecast-submit-form" in html
    director = _client(org, "director").get("/opportunities/forecast/?period=2026-12-01&group_by=department")
    assert "华东销售部" in director.content.decode() and "¥20,000.00" in director.content.decode()


def test_submit_over_htmx_returns_the_panel(org: Org) -> None:
    from l2c.apps.opportunities.models import ForecastSubmission

    client = _client(org, "rep1")
    data = {"period_kind": "month", "period_start": "2026-12-01", "commit": "1000", "best_case": "2000",
            "pipeline": "3000", "note": "月底签约"}
    response = client.post("/opportunities/forecast/submit/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="forecast-submissions"' in html and "已提交 2026-12 的销售预测" in html and "月底签约" in html
    assert ForecastSubmission.objects.get().commit_amount == 100_000
    refused = client.post("/opportunities/forecast/submit/", {**data, "best_case": "10"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200 and "乐观金额包含承诺金额" in refused.content.decode()
    assert ForecastSubmission.objects.count() == 1
    plain = client.post("/opportunities/forecast/submit/", data)
    assert plain.status_code == 302 and ForecastSubmission.objects.count() == 2


def test_a_rep_cannot_submit_for_a_department(org: Org) -> None:
    from l2c.apps.opportunities.models import ForecastSubmission

    response = _client(org, "rep1").post("/opportunities/forecast/submit/", {
        "period_kind": "month", "period_start": "2026-12-01", "department_id": org.north.pk, "commit": "1",
        "best_case": "1", "pipeline": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403 and ForecastSubmission.objects.count() == 0


def test_accuracy_page_and_retrain_button(org: Org) -> None:
    rep = _client(org, "rep1").get("/opportunities/forecast/accuracy/?period_kind=quarter&periods=2")
    assert rep.status_code == 200
    html = rep.content.decode()
    assert 'id="accuracy-chart-data"' in html and "forecast-train-form" not in html
    admin = _client(org, "admin")
    assert "forecast-train-form" in admin.get("/opportunities/forecast/accuracy/").content.decode()
    response = admin.post("/opportunities/forecast/train/", follow=True)
    assert "至少需要 50 个已关闭的商机" in response.content.decode()
    assert _client(org, "manager").post("/opportunities/forecast/train/").status_code == 403
    from l2c.apps.opportunities.models import ForecastModel

    assert ForecastModel.objects.count() == 0


def test_pages_need_a_login_and_the_view_permission(org: Org) -> None:
    assert Client().get("/opportunities/forecast/").status_code == 302
    from l2c.apps.identity.services import user_create

    nobody = user_create(username="nobody", password="pw-nobody", display_name="nobody", email="n@example.com",
                         department_id=None, role_codes=[], is_superuser=False)
    client = Client()
    client.force_login(nobody)
    assert client.get("/opportunities/forecast/").status_code == 403
    assert client.get("/opportunities/forecast/accuracy/").status_code == 403
