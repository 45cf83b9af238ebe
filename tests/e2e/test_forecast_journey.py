"""Browser journey of the forecast pages: a rep opens the forecast, the chart draws, the HTMX form
submits a call that appears in the history; the accuracy page draws both charts."""

from __future__ import annotations

import datetime as dt

import pytest

from l2c.apps.opportunities.forecast import current_period
from tests.apps.opportunities.forecast_fixtures import deal
from tests.conftest import make_account
from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e


def test_forecast_page_chart_and_htmx_submit(org, live_server, page, screenshot):
    account = make_account(org["rep1"])
    start = current_period("month")
    deal(org["rep1"], account, "商务谈判", amount=10_000_000, close_date=start + dt.timedelta(days=3))
    deal(org["rep1"], account, "方案报价", amount=4_000_000, close_date=start + dt.timedelta(days=5))
    login(page, live_server, "rep1", "pw-rep1", "zh-hans")
    page.goto(f"{live_server.url}/opportunities/forecast/")
    page.locator("[data-forecast-chart='rollup'][data-rendered='true'] svg").first.wait_for()
    page.fill("#forecast-commit", "90000")
    page.fill("#forecast-best", "100000")
    page.fill("#forecast-pipeline", "140000")
    page.locator("#forecast-submit-form button[type=submit]").click()
    page.locator("#forecast-history tbody tr").first.wait_for()
    assert "¥90,000.00" in page.locator("#forecast-history").inner_text()
    screenshot("zh-hans-forecast")
    page.goto(f"{live_server.url}/opportunities/forecast/accuracy/")
    for chart in ("periods", "calibration"):
        page.locator(f"[data-accuracy-chart='{chart}'][data-rendered='true'] svg").first.wait_for()
    screenshot("zh-hans-forecast-accuracy")
