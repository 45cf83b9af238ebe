"""Public pool API: shapes, visible fields before a claim, problem codes, permissions."""

from __future__ import annotations

import pytest

from tests.conftest import make_account

pytestmark = pytest.mark.django_db


def _pool(org, **rules):
    from l2c.apps.customers.pool import pool_save

    data = {"name": "华北公海", "member_department_ids": [org.north.pk], **rules}
    return pool_save(actor=org["admin"], data=data)


def _pooled(org, pool, name="北京公海客户有限公司", **fields):
    from l2c.apps.customers.pool import pool_release

    account = make_account(org["admin"], name, phone="010-88886666", address="北京市海淀区中关村大街1号",
                           province="北京", city="北京", industry="I", **fields)
    return pool_release(actor=org["admin"], account_id=account.pk, reason="测试", pool_id=pool.pk)


def _post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def test_admin_creates_a_pool_others_get_403(org, api_client_for):
    body = {"name": "华东公海", "member_department_ids": [org.east.pk], "daily_claim_quota": 5,
            "protection_days": 10, "protection_extension_days": 3, "protection_max_days": 20}

    refused = _post(api_client_for("manager"), "/api/v1/pools", body)
    created = _post(api_client_for("admin"), "/api/v1/pools", body)

    assert refused.status_code == 403
    assert created.status_code == 201
    payload = created.json()
    assert (payload["name"], payload["member_department_ids"], payload["daily_claim_quota"]) == (
        "华东公海", [org.east.pk], 5)
    assert payload["visible_fields"] == ["name", "industry", "size", "province", "city", "level", "source",
                                         "last_followed_up_at"]


def test_members_browse_only_the_fields_the_pool_shows(org, api_client_for):
    pool = _pool(org, visible_fields=["name", "city"])
    account = _pooled(org, pool)

    response = api_client_for("rep1").get(f"/api/v1/pools/{pool.pk}/accounts")
    outsider = api_client_for("rep3").get(f"/api/v1/pools/{pool.pk}/accounts")

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["id"] == account.pk and (item["name"], item["city"]) == ("北京公海客户有限公司", "北京")
    assert item["industry"] is None and item["province"] is None
    assert "phone" not in item and "address" not in item
    assert outsider.status_code == 404
    # Before the claim the full account stays invisible to the member.
    assert api_client_for("rep1").get(f"/api/v1/accounts/{account.pk}").status_code == 404


def test_claim_then_409_with_a_stable_code_and_the_account_becomes_visible(org, api_client_for):
    pool = _pool(org)
    account = _pooled(org, pool)
    url = f"/api/v1/pools/{pool.pk}/accounts/{account.pk}/claim"

    first = _post(api_client_for("rep1"), url)
    second = _post(api_client_for("rep2"), url)

    assert first.status_code == 200
    assert (first.json()["owner_id"], first.json()["pool_id"]) == (org["rep1"].pk, pool.pk)
    assert second.status_code == 409
    assert second["Content-Type"] == "application/problem+json"
    assert (second.json()["code"], second.json()["title"]) == ("already_claimed", "已被领取")
    assert api_client_for("rep1").get(f"/api/v1/accounts/{account.pk}").json()["phone"] == "010-88886666"


def test_release_needs_a_reason_then_lists_it_back_in_the_pool(org, api_client_for):
    pool = _pool(org, reclaim_no_followup_days=7)
    account = _pooled(org, pool)
    client = api_client_for("rep1")
    _post(client, f"/api/v1/pools/{pool.pk}/accounts/{account.pk}/claim")
    held = client.get("/api/v1/pools/held").json()
    assert [(row["id"], row["pool_name"], row["days_left"]) for row in held] == [(account.pk, "华北公海", 6)]

    missing = _post(client, f"/api/v1/accounts/{account.pk}/release", {"reason": ""})
    released = _post(client, f"/api/v1/accounts/{account.pk}/release", {"reason": "客户已选择竞品"})

    assert missing.status_code == 422
    assert [(e["field"], e["code"]) for e in missing.json()["errors"]] == [("reason", "required")]
    assert released.status_code == 200 and released.json()["owner_id"] is None
    assert [row["id"] for row in client.get(f"/api/v1/pools/{pool.pk}/accounts").json()["items"]] == [account.pk]
    summary = client.get("/api/v1/pools").json()
    assert [(row["pool"]["name"], row["pooled"], row["held"], row["claimed_today"]) for row in summary] == [
        ("华北公海", 1, 0, 1)]


def test_manager_assigns_pooled_accounts_all_or_nothing(org, api_client_for):
    pool = _pool(org)
    first, second = _pooled(org, pool, "北京分配甲有限公司"), _pooled(org, pool, "北京分配乙有限公司")
    client = api_client_for("manager")

    outside = _post(client, f"/api/v1/pools/{pool.pk}/assign",
                    {"account_ids": [first.pk, 999999], "to_user_id": org["rep2"].pk})
    rep = _post(api_client_for("rep1"), f"/api/v1/pools/{pool.pk}/assign",
                {"account_ids": [first.pk], "to_user_id": org["rep2"].pk})
    done = _post(client, f"/api/v1/pools/{pool.pk}/assign",
                 {"account_ids": [first.pk, second.pk], "to_user_id": org["rep2"].pk})

    assert outside.status_code == 404 and rep.status_code == 403
    assert done.status_code == 200 and done.json() == {"assigned": 2}
    from l2c.apps.customers.models import Account

    assert set(Account.objects.filter(pk__in=[first.pk, second.pk]).values_list("owner_id", flat=True)) == {
        org["rep2"].pk}


def test_quota_problem_in_english(org, api_client_for):
    pool = _pool(org, daily_claim_quota=1)
    first, second = _pooled(org, pool, "北京配额甲有限公司"), _pooled(org, pool, "北京配额乙有限公司")
    client = api_client_for("rep1")
    _post(client, f"/api/v1/pools/{pool.pk}/accounts/{first.pk}/claim")

    response = client.post(f"/api/v1/pools/{pool.pk}/accounts/{second.pk}/claim", {},
                           content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    assert response.json()["code"] == "claim_quota_reached"
    assert response.json()["title"] == "Daily claim limit reached"
    assert response.json()["detail"] == "You have claimed 1 accounts from pool “华北公海” today, the daily limit."


def test_account_list_filters_by_pool(org, api_client_for):
    from l2c.apps.customers.pool import pool_claim

    pool = _pool(org)
    held = _pooled(org, pool, "北京筛选公海有限公司")
    pool_claim(actor=org["rep1"], account_id=held.pk)
    make_account(org["rep1"], "北京不在公海有限公司")

    response = api_client_for("rep1").get(f"/api/v1/accounts?pool_id={pool.pk}")

    assert [item["name"] for item in response.json()["items"]] == ["北京筛选公海有限公司"]


def test_a_duplicate_lying_in_my_pool_is_named_so_i_claim_it_instead(org, api_client_for):
    pool = _pool(org)
    pooled = _pooled(org, pool, "北京撞单公海有限公司", credit_code="91110108551385082Q")
    body = {"name": "北京撞单公海有限公司", "credit_code": "91110108551385082Q"}

    member = api_client_for("rep1").post("/api/v1/accounts", body, content_type="application/json")
    outsider = api_client_for("rep3").post("/api/v1/accounts", body, content_type="application/json")

    assert member.status_code == 409 and member.json()["code"] == "duplicate"
    assert member.json()["hidden_duplicates"] == 1
    assert member.json()["claimable_duplicates"] == [
        {"id": pooled.pk, "name": "北京撞单公海有限公司", "pool_id": pool.pk, "pool": "华北公海"}]
    assert outsider.status_code == 409 and outsider.json()["claimable_duplicates"] == []
