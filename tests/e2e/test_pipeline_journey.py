"""Browser journey of the pipeline analytics page: a sales manager opens it, every ECharts chart
draws, a filter narrows the tables, and the export link answers with a file."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.apps.opportunities.test_pipeline import make_deal
from tests.conftest import make_account
from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e


def test_pipeline_page_draws_every_chart_and_filters(org, live_server, page, screenshot):
    north = make_account(org["rep1"])
    east = make_account(org["rep3"], name="上海云杉信息技术有限公司")
    this_month = dt.date.today().replace(day=1)
    make_deal(org["rep1"], north, "A", 100000, [(1, 0, 2), (2, 2, 6), (3, 6, 16), ("won", 16, None)])
    make_deal(org["rep1"], north, "B", 200000, [(1, 0, 4), (2, 4, None)], close_date=this_month, win_probability=250)
    make_deal(org["rep2"], north, "C", 300000, [(1, 0, 6), (3, 6, 8), ("lost", 8, None)])
    make_deal(org["rep3"], east, "D", 400000, [(1, 0, 1), (2, 1, None)], close_date=this_month)
    login(page, live_server, "director", "pw-director", "zh-hans")
    page.goto(f"{live_server.url}/opportunities/pipeline/")
    for chart in ("funnel", "conversion", "cycle_time", "win_rate", "by_month"):
        page.locator(f"[data-pipeline-chart='{chart}'][data-rendered='true'] svg").first.wait_for()
    assert page.locator("#pipeline-teams tbody tr").count() == 3  # 销售中心, 华北销售部, 华东销售部
    screenshot("zh-hans-pipeline")
    page.select_option("#f-department", str(org.east.pk))
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"**department_id={org.east.pk}**")
    assert page.locator("#pipeline-owners tbody tr").count() == 1  # rep3 only
    with page.expect_download() as download:
        page.locator("#by-owner a[href*='report=by_owner'][href*='format=csv']").click()
    assert download.value.suggested_filename.startswith("pipeline-by_owner-")
