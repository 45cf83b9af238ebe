"""Problem documents speak the request's language (zh-hans by default, English on Accept-Language: en);
codes and fields stay the same in both."""

from __future__ import annotations

from django.test import Client

from tests.conftest import make_account


def test_unauthenticated_problem_in_both_languages(org):
    chinese = Client().get("/api/v1/accounts")
    english = Client().get("/api/v1/accounts", HTTP_ACCEPT_LANGUAGE="en")

    assert (chinese.json()["title"], chinese.json()["detail"]) == (
        "未登录", "请先登录，或发送请求头 Authorization: Bearer <令牌>。")
    assert (english.json()["title"], english.json()["detail"]) == (
        "Not authenticated", "Log in or send Authorization: Bearer <token>.")
    assert chinese.json()["code"] == english.json()["code"] == "not_authenticated"


def test_record_out_of_reach_is_not_found_in_both_languages(org, api_client_for):
    other = make_account(org["rep3"], "杭州戊公司")
    client = api_client_for("rep1")

    chinese = client.get(f"/api/v1/accounts/{other.pk}")
    english = client.get(f"/api/v1/accounts/{other.pk}", HTTP_ACCEPT_LANGUAGE="en")

    assert chinese.status_code == english.status_code == 404
    assert (chinese.json()["title"], chinese.json()["detail"]) == ("未找到", f"没有 ID 为 {other.pk} 的客户。")
    assert (english.json()["title"], english.json()["detail"]) == ("Not found", f"No account with id {other.pk}.")
    assert chinese.json()["code"] == english.json()["code"] == "not_found"


def test_bad_cursor_in_both_languages(org, api_client_for):
    client = api_client_for("rep1")

    cursor_zh = client.get("/api/v1/accounts?cursor=garbage")
    cursor_en = client.get("/api/v1/accounts?cursor=garbage", HTTP_ACCEPT_LANGUAGE="en")

    assert cursor_zh.json()["detail"] == "分页游标无效。"
    assert cursor_en.json()["detail"] == "The pagination cursor is invalid."
    assert cursor_en.json()["errors"] == [
        {"field": "cursor", "message": "The pagination cursor is invalid.", "code": "invalid_cursor"}]


def test_service_field_errors_in_both_languages(org, api_client_for):
    client = api_client_for("rep1")
    payload = {"name": "nightly"}

    chinese = client.post("/api/v1/auth/tokens", {**payload, "expires_at": "2000-01-01T00:00:00Z"},
                          content_type="application/json")
    english = client.post("/api/v1/auth/tokens", {**payload, "expires_at": "2000-01-01T00:00:00Z"},
                          content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")

    assert chinese.status_code == english.status_code == 422
    assert chinese.json()["title"] == "校验未通过"
    assert chinese.json()["detail"] == "过期时间已经过去。"
    assert chinese.json()["errors"] == [{"field": "expires_at", "message": "必须是将来的时间。", "code": "in_past"}]
    assert english.json()["title"] == "Validation failed"
    assert english.json()["detail"] == "Expiry in the past."
    assert english.json()["errors"] == [{"field": "expires_at", "message": "Must be in the future.", "code": "in_past"}]
