"""RFM over HTTP: the REST API shapes and permissions, the account panel, list filter and column,
the settings page, the export column and query budgets."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from l2c.apps.activity.models import JobRun
from l2c.apps.customers import rfm
from l2c.apps.customers.models import AccountRfm, CustomerTransaction, RfmSegmentName, TransactionSource
from tests.conftest import make_account

AS_OF = dt.date(2026, 6, 30)


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _add(account, day: str, amount_minor: int, currency: str = "CNY") -> None:
    CustomerTransaction.objects.create(account=account, occurred_on=dt.date.fromisoformat(day),
                                       amount_minor=amount_minor, currency=currency,
                                       source=TransactionSource.IMPORT)


@pytest.fixture
def scored(org):
    """Two of rep1's accounts (one scored high on everything, one low), one of rep2's, one without."""
    best = make_account(org["rep1"], "北京最好科技有限公司")
    low = make_account(org["rep1"], "北京一般科技有限公司")
    other = make_account(org["rep2"], "天津别人贸易有限公司")
    empty = make_account(org["rep1"], "北京空白科技有限公司")
    for day in ("2026-06-29", "2026-06-01", "2026-05-01"):
        _add(best, day, 100000)
    _add(low, "2025-07-01", 1000)
    _add(other, "2026-06-10", 5000)
    _add(other, "2026-06-11", 5000)
    rfm.rfm_recompute(as_of=AS_OF)
    return {"best": best, "low": low, "other": other, "empty": empty}


# --- GET /accounts/{id}/rfm -------------------------------------------------------------------------
def test_account_rfm_returns_raw_values_scores_and_segment(org, scored, api_client_for):
    response = api_client_for("rep1").get(f"/api/v1/accounts/{scored['best'].pk}/rfm",
                                          HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("account_id", "has_score", "as_of", "recency_days", "frequency",
                                       "monetary_minor", "monetary", "currency", "scores", "segment",
                                       "segment_name", "window_days", "bins", "message")} == {
        "account_id": scored["best"].pk, "has_score": True, "as_of": "2026-06-30", "recency_days": 1,
        "frequency": 3, "monetary_minor": 300000, "monetary": "3000.00", "currency": "CNY",
        "scores": {"recency": 5, "frequency": 5, "monetary": 5}, "segment": "important_value",
        "segment_name": "Key value customers", "window_days": None, "bins": 5, "message": "",
    }
    assert body["definitions"]["recency"].startswith("Recency (R): whole days")


def test_account_rfm_without_transactions_says_why(org, scored, api_client_for):
    response = api_client_for("rep1").get(f"/api/v1/accounts/{scored['empty'].pk}/rfm")

    body = response.json()
    assert response.status_code == 200
    assert (body["has_score"], body["scores"], body["recency_days"], body["segment"]) == (False, None, None, None)
    assert body["message"] == ("暂无 RFM 评分：这个客户在全部历史中没有币种为 CNY 的交易记录，"
                               "或新增交易后还没有重新计算（每晚自动计算）。")


def test_rep_cannot_read_another_reps_account_rfm_or_transactions(org, scored, api_client_for):
    client = api_client_for("rep1")

    for path in ("rfm", "transactions"):
        response = client.get(f"/api/v1/accounts/{scored['other'].pk}/{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    response = client.post(f"/api/v1/accounts/{scored['other'].pk}/transactions",
                           data={"occurred_on": "2026-03-01", "amount": "1"}, content_type="application/json")
    assert response.status_code == 404
    assert CustomerTransaction.objects.filter(account=scored["other"]).count() == 2
    assert api_client_for("manager").get(f"/api/v1/accounts/{scored['other'].pk}/rfm").status_code == 200


# --- transactions -----------------------------------------------------------------------------------
def test_transactions_create_and_list(org, scored, api_client_for):
    client = api_client_for("rep1")
    url = f"/api/v1/accounts/{scored['empty'].pk}/transactions"

    created = client.post(url, data={"occurred_on": "2026-03-01", "amount": "1234.5", "reference": "SO-1"},
                          content_type="application/json")
    bad = client.post(url, data={"occurred_on": "2026-03-01", "amount": "1.234"}, content_type="application/json")
    duplicate = client.post(url, data={"occurred_on": "2026-03-02", "amount": "1", "reference": "SO-1"},
                            content_type="application/json")
    listed = client.get(url)

    assert created.status_code == 201
    body = created.json()
    assert {key: body[key] for key in ("account_id", "occurred_on", "amount_minor", "amount", "currency",
                                       "reference", "source", "created_by_id")} == {
        "account_id": scored["empty"].pk, "occurred_on": "2026-03-01", "amount_minor": 123450, "amount": "1234.50",
        "currency": "CNY", "reference": "SO-1", "source": "manual", "created_by_id": org["rep1"].pk}
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"field": "amount", "message": "金额最多 2 位小数（CNY）", "code": "invalid"}]
    assert duplicate.status_code == 409
    assert [row["id"] for row in listed.json()] == [body["id"]]


def test_transaction_delete_over_the_api(org, scored, api_client_for):
    record = CustomerTransaction.objects.filter(account=scored["other"]).first()

    assert api_client_for("rep1").delete(f"/api/v1/transactions/{record.pk}").status_code == 404
    assert api_client_for("rep2").delete(f"/api/v1/transactions/{record.pk}").status_code == 204
    assert not CustomerTransaction.objects.filter(pk=record.pk).exists()


# --- settings, segments, recompute -------------------------------------------------------------------
def test_settings_get_and_patch(org, api_client_for):
    assert api_client_for("rep1").get("/api/v1/rfm/settings").json()["bins"] == 5
    denied = api_client_for("manager").patch("/api/v1/rfm/settings", data={"bins": 4},
                                             content_type="application/json")
    invalid = api_client_for("admin").patch("/api/v1/rfm/settings", data={"bins": 11},
                                            content_type="application/json")
    changed = api_client_for("admin").patch("/api/v1/rfm/settings", data={"window_days": 365, "currency": "USD"},
                                            content_type="application/json")

    assert denied.status_code == 403
    assert invalid.status_code == 422
    assert changed.status_code == 200
    assert {key: changed.json()[key] for key in ("window_days", "bins", "currency")} == {
        "window_days": 365, "bins": 5, "currency": "USD"}
    reset = api_client_for("admin").patch("/api/v1/rfm/settings", data={"window_days": None},
                                          content_type="application/json")
    assert reset.json()["window_days"] is None


def test_segment_names_get_and_put(org, api_client_for):
    put = api_client_for("admin").put("/api/v1/rfm/segments", data={"names": {"important_value": "金牌客户"}},
                                      content_type="application/json")
    denied = api_client_for("rep1").put("/api/v1/rfm/segments", data={"names": {"important_value": "x"}},
                                        content_type="application/json")
    listed = api_client_for("rep1").get("/api/v1/rfm/segments", HTTP_ACCEPT_LANGUAGE="en").json()

    assert put.status_code == 200
    assert denied.status_code == 403
    assert [row["code"] for row in listed] == list(rfm.SEGMENT_CODES)
    assert listed[0] == {"code": "important_value", "name": "金牌客户", "default_name": "Key value customers",
                         "is_custom": True}
    assert listed[1] == {"code": "important_development", "name": "Key customers to develop",
                         "default_name": "Key customers to develop", "is_custom": False}


def test_recompute_endpoint_queues_a_job_for_managers_only(org, scored, api_client_for,
                                                            django_capture_on_commit_callbacks):
    assert api_client_for("rep1").post("/api/v1/rfm/recompute").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for("manager").post("/api/v1/rfm/recompute")

    assert response.status_code == 202
    run = JobRun.objects.get(pk=response.json()["job_run_id"])
    assert (run.name, run.status, run.created_by_id) == ("customers.rfm_recompute", "succeeded", org["manager"].pk)
    job = api_client_for("manager").get(f"/api/v1/jobs/{run.pk}").json()
    assert (job["status"], job["progress"], job["total"]) == ("succeeded", 3, 3)
    assert set(AccountRfm.objects.values_list("as_of", flat=True)) == {rfm.timezone.localdate()}


# --- the account list: filter, column, export, query budgets ------------------------------------------
def test_account_list_api_filters_by_segment(org, scored, api_client_for):
    client = api_client_for("manager")
    segment = AccountRfm.objects.get(account=scored["best"]).segment

    names = [item["name"] for item in client.get(f"/api/v1/accounts?rfm_segment={segment}").json()["items"]]
    none = [item["name"] for item in client.get("/api/v1/accounts?rfm_segment=none").json()["items"]]
    unknown = client.get("/api/v1/accounts?rfm_segment=vip")
    counted = client.get(f"/api/v1/accounts/count?rfm_segment={segment}").json()["count"]

    expected = sorted(row.account.name for row in AccountRfm.objects.filter(segment=segment)
                      .select_related("account"))
    assert sorted(names) == expected and counted == len(expected)
    assert none == ["北京空白科技有限公司"]
    assert unknown.status_code == 422


def test_account_list_page_filters_and_shows_the_renamed_segment(org, scored):
    segment = AccountRfm.objects.get(account=scored["low"]).segment
    RfmSegmentName.objects.create(code=segment, name="沉睡客户")
    client = _browser(org["rep1"])

    page = client.get("/accounts/", {"rfm_segment": segment, "cols_set": "1", "cols": ["rfm_segment"]})

    html = page.content.decode()
    assert page.status_code == 200
    assert "北京一般科技有限公司" in html and "北京空白科技有限公司" not in html
    assert "<td>沉睡客户</td>" in html
    assert f'<option value="{segment}" selected>沉睡客户</option>' in html


def test_account_list_page_with_the_segment_column_has_a_fixed_query_budget(org, scored):
    client = _browser(org["manager"])
    client.get("/accounts/", {"cols_set": "1", "cols": ["rfm_segment", "tags"]})
    with CaptureQueriesContext(connection) as small:
        assert client.get("/accounts/").status_code == 200
    for index in range(20):
        account = make_account(org["rep2"], f"北京预算{index}科技有限公司")
        _add(account, "2026-06-01", 100 * (index + 1))
    rfm.rfm_recompute(as_of=AS_OF)

    with CaptureQueriesContext(connection) as large:
        assert client.get("/accounts/").status_code == 200

    assert len(small) == len(large)


def test_account_list_api_query_count_is_unchanged_by_the_segment_filter(org, scored, api_client_for):
    client = api_client_for("manager")
    client.get("/api/v1/me")
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/accounts?limit=50&rfm_segment=general_recovery").status_code == 200
    assert len(captured) == 4  # token + user, roles and grants, the page, its tags


def test_account_export_has_the_segment_column(org, scored):
    RfmSegmentName.objects.create(code=AccountRfm.objects.get(account=scored["best"]).segment, name="金牌客户")

    response = _browser(org["rep1"]).get("/export/", {"object_type": "account", "format": "csv"})

    content = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    header = rows[0]
    segments = {row[header.index("客户名称")]: row[header.index("RFM 分群")] for row in rows[1:]}
    assert segments["北京最好科技有限公司"] == "金牌客户"
    assert segments["北京空白科技有限公司"] == ""


# --- the account panel and the settings page -------------------------------------------------------
def test_account_page_loads_the_rfm_panel_with_scores_and_definitions(org, scored):
    client = _browser(org["rep1"])
    detail = client.get(f"/accounts/{scored['best'].pk}/").content.decode()
    assert f'hx-get="/accounts/{scored["best"].pk}/rfm/"' in detail

    panel = client.get(f"/accounts/{scored['best'].pk}/rfm/", HTTP_HX_REQUEST="true",
                       HTTP_ACCEPT_LANGUAGE="zh-hans")

    html = panel.content.decode()
    assert panel.status_code == 200
    assert "计算基准日 2026-06-30" in html
    assert "CNY 3,000.00" in html and "CNY 1,000.00" in html
    assert "1 天前" in html and "3 笔" in html
    assert "最近一次消费（R）：从统计窗口内最后一笔交易的日期到计算基准日的整天数" in html
    assert html.count("<tr>") == 1 + 3  # header and the three transactions
    assert client.get(f"/accounts/{scored['other'].pk}/rfm/", HTTP_HX_REQUEST="true").status_code == 404


def test_panel_add_form_saves_or_shows_the_cell_errors(org, scored):
    client = _browser(org["rep1"])
    url = f"/accounts/{scored['empty'].pk}/transactions/"

    bad = client.post(url, {"occurred_on": "2026-03-01", "amount": "12.345", "currency": "CNY"},
                      HTTP_HX_REQUEST="true")
    good = client.post(url, {"occurred_on": "2026-03-01", "amount": "12.34", "currency": "CNY", "reference": "A1"},
                       HTTP_HX_REQUEST="true")

    assert "金额最多 2 位小数（CNY）" in bad.content.decode()
    assert "交易记录已添加" in good.content.decode()
    assert list(CustomerTransaction.objects.filter(account=scored["empty"]).values_list("amount_minor", flat=True)) == [
        1234]
    denied = _browser(org["rep1"]).post(f"/accounts/{scored['other'].pk}/transactions/",
                                        {"occurred_on": "2026-03-01", "amount": "1", "currency": "CNY"})
    assert denied.status_code == 404


def test_settings_page_for_admin_and_manager_not_rep(org, scored, django_capture_on_commit_callbacks):
    assert _browser(org["rep1"]).get("/rfm/").status_code == 403
    manager_page = _browser(org["manager"]).get("/rfm/").content.decode()
    assert "立即重新计算" in manager_page and 'name="name_important_value"' not in manager_page
    assert _browser(org["manager"]).post("/rfm/", {"op": "settings", "bins": "4", "currency": "CNY"}).status_code == 403

    admin = _browser(org["admin"])
    saved = admin.post("/rfm/", {"op": "settings", "window_days": "", "bins": "4", "currency": "CNY"})
    renamed = admin.post("/rfm/", {"op": "names", "name_important_value": "金牌客户"})
    with django_capture_on_commit_callbacks(execute=True):
        queued = admin.post("/rfm/recompute/")

    assert saved.status_code == 302 and rfm.settings_get().bins == 4
    assert renamed.status_code == 302 and rfm.segment_names()["important_value"] == "金牌客户"
    assert queued.status_code == 302 and queued["Location"] == f"/jobs/{JobRun.objects.get().pk}/"
    english = _browser(org["admin"]).get("/rfm/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Recompute now" in english and 'value="金牌客户"' in english and "Key value customers" in english


def test_rfm_panel_has_a_fixed_query_budget(org, scored):
    client = _browser(org["rep1"])
    url = f"/accounts/{scored['best'].pk}/rfm/"
    client.get(url, HTTP_HX_REQUEST="true")
    with CaptureQueriesContext(connection) as small:
        client.get(url, HTTP_HX_REQUEST="true")
    for day in range(1, 40):
        _add(scored["best"], f"2026-04-{day % 28 + 1:02d}", 100)

    with CaptureQueriesContext(connection) as large:
        response = client.get(url, HTTP_HX_REQUEST="true")

    assert response.content.decode().count('action="/accounts/') == 20 + 1  # 20 delete forms, the add form
    assert len(small) == len(large)


def test_without_javascript_the_panel_is_a_page_and_forms_redirect_to_it(org, scored):
    client = _browser(org["rep1"])
    url = f"/accounts/{scored['empty'].pk}/rfm/"

    page = client.get(url)
    bad = client.post(f"/accounts/{scored['empty'].pk}/transactions/",
                      {"occurred_on": "2026-03-01", "amount": "x", "currency": "CNY"})
    good = client.post(f"/accounts/{scored['empty'].pk}/transactions/",
                       {"occurred_on": "2026-03-01", "amount": "5", "currency": "CNY"})

    assert page.status_code == 200 and "<title>" in page.content.decode()
    assert "北京空白科技有限公司" in page.content.decode()
    assert bad.status_code == 422 and "“x”不是有效的金额" in bad.content.decode()
    assert (good.status_code, good["Location"]) == (302, url)
