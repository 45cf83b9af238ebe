"""Pipeline analytics through the REST API and the page: output shapes, problem+json for bad filters,
visibility, exports (contents, formula neutralisation, permission)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

from tests.apps.opportunities.test_pipeline import (
    deals,  # noqa: F401 - the seeded deals fixture
    make_deal,
)
from tests.conftest import Org, make_account


def _csv(response: Any) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_funnel_and_conversion_over_the_api(api_client_for: Any, deals: Any) -> None:  # noqa: F811
    client = api_client_for("admin")
    funnel = client.get("/api/v1/pipeline/funnel").json()
    assert funnel["process_name"] == "项目型销售"
    assert [(row["name"], row["kind"], row["count"], row["amounts"]) for row in funnel["stages"]] == [
        ("初步接洽", "open", 1, {"USD": 50000}), ("需求确认", "open", 1, {"CNY": 200000}),
        ("方案报价", "open", 1, {"CNY": 123457}), ("商务谈判", "open", 1, {"CNY": 400000}),
        ("赢单", "won", 1, {"CNY": 100000}), ("输单", "lost", 1, {"CNY": 300000})]
    conversion = client.get("/api/v1/pipeline/conversion?currency=CNY").json()
    assert [(row["entered"], row["advanced"], row["rate_percent"]) for row in conversion["stages"]] == [
        (5, 5, 100.0), (3, 2, 66.7), (3, 1, 33.3), (1, 0, 0.0)]  # E (USD) left out
    assert (conversion["won"], conversion["lost"]) == (1, 1)


def test_cycle_time_win_rate_by_owner_and_by_month_shapes(api_client_for: Any, deals: Any) -> None:  # noqa: F811
    client = api_client_for("manager")  # 华北销售部: A, B, C, E, F
    cycle = client.get("/api/v1/pipeline/cycle-time").json()
    first = cycle["stages"][0]
    assert (first["name"], first["closed"]["count"], first["closed"]["average_days"],
            first["closed"]["median_days"]) == ("初步接洽", 4, 3.75, 3.5)  # A 2, B 4, C 6, F 3
    win = client.get("/api/v1/pipeline/win-rate").json()
    assert win["total"] == {"won_count": 1, "lost_count": 1, "win_rate_percent": 50.0, "won_amounts": {"CNY": 100000},
                            "lost_amounts": {"CNY": 300000}, "amount_win_rate_percent": {"CNY": 25.0}}
    assert [row["name"] for row in win["teams"]] == ["销售中心", "华北销售部"]
    by_owner = client.get("/api/v1/pipeline/by-owner").json()
    assert {row["name"]: row["figures"]["expected_amounts"] for row in by_owner["owners"]} == {
        "manager": {"USD": 5000}, "rep1": {"CNY": 50000}, "rep2": {"CNY": 41111}}
    by_month = client.get("/api/v1/pipeline/by-month").json()
    assert len(by_month["months"]) == 12 and by_month["undated"]["count"] == 1


def test_bad_filters_are_problem_json_naming_each_parameter(api_client_for: Any, org: Org) -> None:
    response = api_client_for("manager").get(
        "/api/v1/pipeline/funnel?process_id=x&date_field=updated&date_from=2026-05-01&date_to=2026-04-01")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_error"
    assert {error["field"]: error["code"] for error in body["errors"]} == {
        "process_id": "invalid", "date_field": "invalid", "date_to": "range"}


def test_reports_need_the_view_permission_on_deals(api_client_for: Any, org: Org) -> None:
    from l2c.apps.identity.models import Role

    Role.objects.filter(code="presales").delete()  # presales now holds no role at all
    response = api_client_for("presales").get("/api/v1/pipeline/funnel")
    assert response.status_code == 403


def test_export_funnel_csv_holds_the_visible_figures_in_yuan(api_client_for: Any, deals: Any) -> None:  # noqa: F811
    response = api_client_for("rep1").get("/api/v1/pipeline/export?report=funnel&format=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="pipeline-funnel-')
    rows = _csv(response)
    assert rows[0] == ["销售流程", "阶段", "类型", "商机数", "币种", "金额"]
    assert rows[1:] == [
        ["项目型销售", "初步接洽", "进行中", "0", "", ""], ["项目型销售", "需求确认", "进行中", "1", "CNY", "2000.00"],
        ["项目型销售", "方案报价", "进行中", "0", "", ""], ["项目型销售", "商务谈判", "进行中", "0", "", ""],
        ["项目型销售", "赢单", "赢单", "1", "CNY", "1000.00"], ["项目型销售", "输单", "输单", "0", "", ""]]


def test_export_neutralises_formulas_in_names_and_writes_xlsx(api_client_for: Any, org: Org) -> None:
    from openpyxl import load_workbook

    rep = org["rep1"]
    rep.display_name = "=HYPERLINK(\"http://evil\")"
    rep.save()
    make_deal(rep, make_account(rep), "x", 12345, [(1, 0, None)], close_date=dt.date(2026, 3, 1))
    client = api_client_for("rep1")
    rows = _csv(client.get("/api/v1/pipeline/export?report=by_owner&format=csv"))
    assert rows[0][:3] == ["维度", "名称", "进行中商机数"]
    owner = next(row for row in rows if row[0] == "销售")
    assert owner[1] == "'=HYPERLINK(\"http://evil\")" and owner[3:6] == ["CNY", "123.45", "12.35"]
    response = client.get("/api/v1/pipeline/export?report=by_owner&format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    owner_row = next(row for row in values if row[0] == "销售")
    assert owner_row[1] == "'=HYPERLINK(\"http://evil\")"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize("report", ["conversion", "cycle_time", "win_rate", "by_month"])
def test_every_report_exports(api_client_for: Any, deals: Any, report: str) -> None:  # noqa: F811
    rows = _csv(api_client_for("admin").get(f"/api/v1/pipeline/export?report={report}&format=csv"))
    assert len(rows) > 1


def test_export_by_month_rows(api_client_for: Any, deals: Any) -> None:  # noqa: F811
    from django.utils import timezone

    from l2c.apps.opportunities.models import Opportunity

    # The export counts months from today: date D in this month and B in the next, F stays overdue.
    this_month = timezone.localdate().replace(day=1)
    next_month = (this_month + dt.timedelta(days=32)).replace(day=1)
    Opportunity.objects.filter(name="D").update(close_date=this_month + dt.timedelta(days=9))
    Opportunity.objects.filter(name="B").update(close_date=next_month + dt.timedelta(days=14))
    rows = _csv(api_client_for("admin").get("/api/v1/pipeline/export?report=by_month&format=csv&currency=CNY"))
    assert rows[0] == ["月份", "预测类别", "商机数", "币种", "金额", "预期金额"]
    assert rows[1:] == [
        ["已逾期", "全部", "1", "CNY", "1234.57", "411.11"],  # F
        [f"{this_month:%Y-%m}", "承诺", "1", "CNY", "4000.00", "3000.00"],  # D, stage 75%
        [f"{next_month:%Y-%m}", "管道", "1", "CNY", "2000.00", "500.00"],  # B, 250‰
    ]  # E (USD, undated) is left out by the currency filter


def test_export_needs_the_export_permission_and_a_known_report(api_client_for: Any, org: Org) -> None:
    response = api_client_for("presales").get("/api/v1/pipeline/export?report=funnel&format=csv")
    assert response.status_code == 403
    response = api_client_for("admin").get("/api/v1/pipeline/export?report=everything&format=pdf")
    assert response.status_code == 422
    assert sorted(error["field"] for error in response.json()["errors"]) == ["format", "report"]


# --- the page ------------------------------------------------------------------------------------------
def _login(client: Any, username: str) -> Any:
    assert client.login(username=username, password="pw-" + username)
    return client


def test_pipeline_page_shows_the_filter_bar_charts_tables_and_export_links(client: Any, deals: Any) -> None:  # noqa: F811
    from django.urls import reverse

    response = _login(client, "manager").get(reverse("opportunities:pipeline"))
    assert response.status_code == 200
    html = response.content.decode()
    for marker in ('data-pipeline-chart="funnel"', 'data-pipeline-chart="conversion"',
                   'data-pipeline-chart="cycle_time"', 'data-pipeline-chart="win_rate"',
                   'data-pipeline-chart="by_month"', 'id="pipeline-chart-data"', 'name="process_id"',
                   'name="department_id"', 'name="date_field"', "report=by_owner&amp;format=xlsx"):
        assert marker in html, marker
    assert "华东销售部" not in html.split('id="pipeline-teams"')[1].split("</table>")[0]
    assert response.context["report"].breakdown.total.open_count == 3  # B, E, F


def test_pipeline_page_with_bad_filters_says_which_and_renders_400(client: Any, org: Org) -> None:
    from django.urls import reverse

    response = _login(client, "manager").get(reverse("opportunities:pipeline") + "?date_from=2026-13-01")
    assert response.status_code == 400
    assert "date_from" in response.content.decode()


def test_pipeline_page_export_link_downloads(client: Any, deals: Any) -> None:  # noqa: F811
    from django.urls import reverse

    response = _login(client, "finance").get(reverse("opportunities:pipeline_export") + "?report=win_rate&format=csv")
    assert response.status_code == 200
    rows = _csv(response)
    assert rows[1][:5] == ["合计", "全部", "1", "1", "50.0"]


def test_pipeline_page_query_count_does_not_grow_with_deals(client: Any, deals: Any) -> None:  # noqa: F811
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    _login(client, "manager")
    url = reverse("opportunities:pipeline")
    client.get(url)  # warm the session and the grant cache
    with CaptureQueriesContext(connection) as before:
        assert client.get(url).status_code == 200
    account = make_account(deals["A"].owner, name="深圳前海数据服务有限公司")
    for number in range(15):
        make_deal(deals["A"].owner, account, f"more {number}", 1000, [(1, 0, 1), (2, 1, 2), ("won", 2, None)])
    with CaptureQueriesContext(connection) as after:
        assert client.get(url).status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries) <= 30
