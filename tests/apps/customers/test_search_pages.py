"""Search result pages: newest first by default, paged by cursor through every match exactly once,
visibility applied, the count including the search, on both databases. On SQLite the pages are
read through the full-text stream in batches; small batches here force many of them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.api import pagination
from tests.conftest import make_account, make_contact


@pytest.fixture
def many(org: Any) -> dict[str, list[int]]:
    """30 星河 accounts alternating between rep1 and rep2, and 10 other rep1 accounts around them."""
    ids: dict[str, list[int]] = {"rep1": [], "rep2": [], "other": []}
    for index in range(30):
        owner = "rep1" if index % 2 == 0 else "rep2"
        ids[owner].append(make_account(org[owner], f"北京星河{index}号科技有限公司").pk)
        if index % 3 == 0:
            ids["other"].append(make_account(org["rep1"], f"上海远景{index}号贸易有限公司").pk)
    return ids


def all_pages(client: Any, params: dict[str, Any]) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        response = client.get("/api/v1/accounts", {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize("first_batch", [500, 3])
def test_a_search_pages_newest_first_through_every_visible_match_once(org, api_client_for, many, monkeypatch,
                                                                      first_batch):
    monkeypatch.setattr(pagination, "STREAM_FIRST_BATCH", first_batch)
    monkeypatch.setattr(pagination, "STREAM_GROWTH", 2)
    manager = api_client_for("manager")  # sees rep1's and rep2's accounts

    pages = all_pages(manager, {"q": "星河", "limit": 7})

    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    assert [pk for page in pages for pk in page] == sorted(many["rep1"] + many["rep2"], reverse=True)


@pytest.mark.parametrize("first_batch", [500, 2])
def test_a_search_page_holds_only_the_callers_records(org, api_client_for, many, monkeypatch, first_batch):
    monkeypatch.setattr(pagination, "STREAM_FIRST_BATCH", first_batch)
    rep2 = api_client_for("rep2")

    pages = all_pages(rep2, {"q": "星河", "limit": 4})

    assert [pk for page in pages for pk in page] == sorted(many["rep2"], reverse=True)


def test_previous_pages_of_a_search_go_back_in_the_same_order(org, api_client_for, many, monkeypatch):
    monkeypatch.setattr(pagination, "STREAM_FIRST_BATCH", 2)
    manager = api_client_for("manager")
    first = manager.get("/api/v1/accounts", {"q": "星河", "limit": 5}).json()
    second = manager.get("/api/v1/accounts", {"q": "星河", "limit": 5, "cursor": first["next_cursor"]}).json()

    back = manager.get("/api/v1/accounts", {"q": "星河", "limit": 5, "cursor": second["previous_cursor"]}).json()

    assert [item["id"] for item in back["items"]] == [item["id"] for item in first["items"]]
    expected = sorted(many["rep1"] + many["rep2"], reverse=True)
    assert [item["id"] for item in second["items"]] == expected[5:10]


def test_a_search_with_other_filters_and_a_chosen_sort(org, api_client_for, many):
    manager = api_client_for("manager")
    owner = str(org["rep2"].pk)

    by_owner = all_pages(manager, {"q": "星河", "owner_id": owner, "limit": 50})
    by_name = manager.get("/api/v1/accounts", {"q": "星河", "sort": "name", "limit": 3}).json()

    assert by_owner == [sorted(many["rep2"], reverse=True)]
    assert [item["name"] for item in by_name["items"]] == ["北京星河0号科技有限公司", "北京星河10号科技有限公司",
                                                           "北京星河11号科技有限公司"]


def test_the_count_of_a_search_page_counts_the_matches_only(org, api_client_for, many):
    manager = api_client_for("manager")

    body = manager.get("/api/v1/accounts", {"q": "星河", "limit": 5, "with_count": "true"}).json()
    count = manager.get("/api/v1/accounts/count", {"q": "星河"}).json()

    assert body["count"] == count["count"] == 30


def test_a_search_page_costs_a_fixed_number_of_queries(org, api_client_for, many):
    client = api_client_for("manager")
    client.get("/api/v1/me")  # first use of the token records last_used_at

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/accounts", {"q": "星河", "limit": 10})

    assert response.status_code == 200
    # token + user, roles and grants, [SQLite: a batch of matches from the full-text index], the page, its tags
    assert len(captured) == (5 if connection.vendor == "sqlite" else 4)


def test_a_contact_search_pages_newest_first(org, api_client_for, monkeypatch):
    monkeypatch.setattr(pagination, "STREAM_FIRST_BATCH", 2)
    account = make_account(org["rep1"], "北京星河科技有限公司")
    ids = [make_contact(org["rep1"], account, f"王{index}强").pk for index in range(5)]
    make_contact(org["rep1"], account, "李四")
    client = api_client_for("rep1")

    first = client.get("/api/v1/contacts", {"q": "王", "limit": 3}).json()
    rest = client.get("/api/v1/contacts", {"q": "王", "limit": 3, "cursor": first["next_cursor"]}).json()

    assert [item["id"] for item in first["items"] + rest["items"]] == sorted(ids, reverse=True)
    assert rest["next_cursor"] is None


def test_the_search_page_in_the_browser_lists_newest_first_and_links_to_the_whole_list(org, many):
    from django.test import Client

    from l2c.web import views

    client = Client()
    client.force_login(org["manager"])
    page = client.get("/search/", {"q": "星河"}).content.decode()

    first_names = [f"北京星河{index}号科技有限公司" for index in range(29, 29 - views.SEARCH_LIMIT, -1)]
    positions = [page.index(name) for name in first_names]
    assert positions == sorted(positions)
    assert "北京星河9号科技有限公司" not in page  # the 21st newest
    assert f"({views.SEARCH_LIMIT}+)" in page
    assert "/accounts/?q=%E6%98%9F%E6%B2%B3" in page
