"""A constant number of SQL queries per list page and per detail, whatever the page holds."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.apps.customers.services import accounts_tag
from tests.conftest import make_account, make_contact


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


def test_account_list_query_count_does_not_grow_with_rows(org, api_client_for):
    client = api_client_for("manager")
    client.get("/api/v1/me")  # first use of the token records last_used_at; keep it out of the count
    make_account(org["rep1"], "北京甲一公司")
    small = _queries(client, "/api/v1/accounts?limit=50")
    ids = [make_account(org["rep1" if i % 2 else "rep2"], f"北京批量{i}公司").pk for i in range(60)]
    accounts_tag(actor=org["manager"], account_ids=ids, add=["重点", "华北"])

    large = _queries(client, "/api/v1/accounts?limit=50")

    # token + user, roles and grants, the page, its tags
    assert small == large == 4


def test_contact_list_query_count_does_not_grow_with_rows(org, api_client_for):
    client = api_client_for("rep1")
    client.get("/api/v1/me")
    account = make_account(org["rep1"])
    make_contact(org["rep1"], account, "联系人0")
    small = _queries(client, "/api/v1/contacts?limit=50")
    for i in range(40):
        make_contact(org["rep1"], account, f"联系人{i + 1}")

    large = _queries(client, "/api/v1/contacts?limit=50")

    assert small == large


def test_account_page_in_the_browser_has_a_fixed_query_budget(org):
    from django.test import Client

    client = Client()
    client.force_login(org["manager"])
    make_account(org["rep1"], "北京页面一公司")
    small = _queries(client, "/accounts/")
    for i in range(30):
        make_account(org["rep2"], f"北京页面{i}公司")

    large = _queries(client, "/accounts/")

    assert small == large


def test_a_filtered_sorted_page_after_a_cursor_costs_the_same_four_queries(org, api_client_for):
    client = api_client_for("manager")
    client.get("/api/v1/me")
    ids = [make_account(org["rep1"], f"北京排序{i}公司", industry="C").pk for i in range(5)]
    make_account(org["rep2"], "北京其他行业公司", industry="F")
    accounts_tag(actor=org["manager"], account_ids=ids, add=["重点"])
    first = client.get("/api/v1/accounts?industry=C&sort=name&limit=2").json()

    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/accounts?industry=C&sort=name&limit=2&cursor={first['next_cursor']}")

    assert response.status_code == 200
    assert len(response.json()["items"]) == 2
    assert len(captured) == 4  # token + user, roles and grants, the page, its tags


def test_a_name_search_costs_one_more_query_for_the_full_text_index(org, api_client_for):
    client = api_client_for("manager")
    client.get("/api/v1/me")
    for i in range(5):
        make_account(org["rep1"], f"北京搜索{i}有限公司")

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/accounts?q=搜索&limit=50")

    assert response.status_code == 200
    assert len(response.json()["items"]) == 5
    expected = 5 if connection.vendor == "sqlite" else 4  # SQLite reads the matching ids from FTS5 first
    assert len(captured) == expected


def test_a_list_row_is_the_detail_of_the_account(org, api_client_for):
    client = api_client_for("rep1")
    account = make_account(org["rep1"], "北京详情一致有限公司", registered_capital="1234.50",
                           founded_on="2019-02-06", custom={}, industry="C")
    accounts_tag(actor=org["rep1"], account_ids=[account.pk], add=["乙", "甲"])

    [listed] = client.get("/api/v1/accounts?limit=50").json()["items"]
    detail = client.get(f"/api/v1/accounts/{account.pk}").json()

    # The list writes timestamps with microseconds, the detail (ninja's encoder) with milliseconds.
    stamps = ("created_at", "updated_at")
    assert {k: v for k, v in listed.items() if k not in stamps} == {k: v for k, v in detail.items() if k not in stamps}
    for name in stamps:
        assert listed[name][:23] + "Z" == detail[name]
    assert listed["registered_capital"] == "1234.50"
    assert listed["tags"] == sorted(["乙", "甲"])
