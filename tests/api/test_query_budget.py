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
