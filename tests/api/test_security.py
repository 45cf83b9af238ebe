"""Security of the API and pages: stored XSS is data (never markup), parameters are allow-listed,
cursors cannot be tampered with, page sizes are capped."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import make_account

SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMAGE = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
ACCOUNT_TEXT = {
    "name": SCRIPT + IMAGE, "short_name": SCRIPT, "province": IMAGE, "city": SCRIPT, "district": IMAGE,
    "address": SCRIPT + IMAGE, "legal_representative": IMAGE,
}
CONTACT_TEXT = {"name": SCRIPT + IMAGE, "title": IMAGE, "department": SCRIPT, "wechat": IMAGE}


def _create_hostile_records(client):
    account = client.post("/api/v1/accounts", {**ACCOUNT_TEXT, "tags": [SCRIPT]}, content_type="application/json")
    contact = client.post("/api/v1/contacts", {**CONTACT_TEXT, "account_id": account.json()["id"]},
                          content_type="application/json")
    return account, contact


def _is_placeholder(path):
    from django.urls import resolve

    from l2c.web.views import home

    return resolve(path).func is home


def _assert_escaped(html):
    assert SCRIPT not in html
    assert "<img src=x" not in html
    assert "onerror=alert(1)>" not in html.replace("onerror=alert(1)&gt;", "")
    assert ESCAPED_SCRIPT in html
    assert ESCAPED_IMAGE in html


def test_api_returns_hostile_text_unchanged_as_data(org, api_client_for):
    client = api_client_for("rep1")

    account, contact = _create_hostile_records(client)
    fetched_account = client.get(f"/api/v1/accounts/{account.json()['id']}")
    fetched_contact = client.get(f"/api/v1/contacts/{contact.json()['id']}")

    assert (account.status_code, contact.status_code) == (201, 201)
    assert account["Content-Type"] == "application/json; charset=utf-8"
    assert {name: fetched_account.json()[name] for name in ACCOUNT_TEXT} == ACCOUNT_TEXT
    assert fetched_account.json()["tags"] == [SCRIPT]
    assert {name: fetched_contact.json()[name] for name in CONTACT_TEXT} == CONTACT_TEXT


@pytest.mark.parametrize(("field", "value"), [
    ("website", "javascript:alert(1)"), ("website", 'https://x.cn/"><script>'), ("phone", SCRIPT),
])
def test_fields_with_a_format_reject_markup(org, api_client_for, field, value):
    from l2c.apps.customers.models import Account

    response = api_client_for("rep1").post("/api/v1/accounts", {"name": "北京格式公司", field: value},
                                           content_type="application/json")

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert Account.objects.count() == 0


@pytest.mark.parametrize("field", ["email", "mobile"])
def test_contact_fields_with_a_format_reject_markup(org, api_client_for, field):
    from l2c.apps.customers.models import Contact

    account = make_account(org["rep1"], "北京联系人格式公司")

    response = api_client_for("rep1").post("/api/v1/contacts", {"name": "王五", "account_id": account.pk,
                                                                field: IMAGE}, content_type="application/json")

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert Contact.objects.count() == 0


def test_pages_show_hostile_text_escaped(org, api_client_for):
    account, contact = _create_hostile_records(api_client_for("rep1"))
    account_id, contact_id = account.json()["id"], contact.json()["id"]
    browser = Client()
    browser.force_login(org["rep1"])
    paths = ["/", f"/search/?q={SCRIPT}"]
    for path in (f"/accounts/{account_id}/", "/accounts/", f"/contacts/{contact_id}/", "/contacts/"):
        if not _is_placeholder(path.split("?")[0]):
            paths.append(path)

    pages = {path: browser.get(path) for path in paths}

    assert {path: response.status_code for path, response in pages.items()} == {path: 200 for path in paths}
    for path, response in pages.items():
        html = response.content.decode()
        assert SCRIPT not in html, path
        assert "<img src=x" not in html, path
        assert ESCAPED_SCRIPT in html, path
    assert ESCAPED_IMAGE in pages[f"/search/?q={SCRIPT}"].content.decode()


def test_search_page_escapes_the_query_itself(org):
    browser = Client()
    browser.force_login(org["rep1"])

    response = browser.get("/search/", {"q": IMAGE})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<img src=x" not in html
    assert ESCAPED_IMAGE in html


# --- allow-listed parameters ----------------------------------------------------------------------
@pytest.mark.parametrize("sort", ["password", "owner__password", "-owner__password", "search_text", "id; DROP"])
def test_sort_is_allow_listed(org, api_client_for, sort):
    response = api_client_for("rep1").get("/api/v1/accounts", {"sort": sort})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert [error["field"] for error in response.json()["errors"]] == ["sort"]


def test_contact_sort_is_allow_listed(org, api_client_for):
    response = api_client_for("rep1").get("/api/v1/contacts", {"sort": "account__owner__password"})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["sort"]


def test_unknown_filters_are_ignored_not_passed_to_the_database(org, api_client_for):
    own = make_account(org["rep1"], "北京自有公司")

    response = api_client_for("rep1").get("/api/v1/accounts", {"owner__password__startswith": "x",
                                                               "owner__username": "nobody"})

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [own.pk]


def test_filters_on_other_owners_cannot_widen_visibility(org, api_client_for):
    make_account(org["rep2"], "北京他人公司")

    response = api_client_for("rep1").get("/api/v1/accounts", {"owner_id": org["rep2"].pk})
    counted = api_client_for("rep1").get("/api/v1/accounts/count", {"owner_id": org["rep2"].pk})

    assert response.json()["items"] == []
    assert counted.json() == {"count": 0}


@pytest.mark.parametrize(("name", "value"), [("owner_id", "abc"), ("created_from", "yesterday"),
                                              ("with_count", "maybe")])
def test_malformed_filter_values_are_422_naming_the_parameter(org, api_client_for, name, value):
    response = api_client_for("rep1").get("/api/v1/accounts", {name: value})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [name]


# --- cursors and page size ------------------------------------------------------------------------
def _first_page_cursor(client, sort="-updated_at"):
    response = client.get("/api/v1/accounts", {"limit": 1, "sort": sort})
    return response.json()["next_cursor"]


def _two_accounts(org):
    make_account(org["rep1"], "北京一号公司")
    make_account(org["rep1"], "北京二号公司")


def test_a_genuine_cursor_pages_on(org, api_client_for):
    _two_accounts(org)
    client = api_client_for("rep1")
    first = client.get("/api/v1/accounts", {"limit": 1})

    second = client.get("/api/v1/accounts", {"limit": 1, "cursor": first.json()["next_cursor"]})

    assert second.status_code == 200
    assert len(second.json()["items"]) == 1
    assert second.json()["items"][0]["id"] != first.json()["items"][0]["id"]


@pytest.mark.parametrize("tamper", ["flip", "truncate", "append", "garbage", "padding"])
def test_a_tampered_cursor_is_422_naming_cursor(org, api_client_for, tamper):
    _two_accounts(org)
    client = api_client_for("rep1")
    cursor = _first_page_cursor(client)
    changed = {
        "flip": cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:],
        "truncate": cursor[:-4],
        "append": cursor + "AAAA",
        "garbage": "not a cursor!",
        "padding": cursor + "==",
    }[tamper]

    response = client.get("/api/v1/accounts", {"limit": 1, "cursor": changed})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize("values", [
    ("not-a-date", 1), (17, 1), (None, 1), ("2026-01-01T00:00:00+00:00", "x"), ("2026-01-01T00:00:00+00:00",),
    ("2026-01-01T00:00:00+00:00", 1, 2),
])
def test_a_forged_cursor_with_a_valid_checksum_but_wrong_values_is_422(org, api_client_for, values):
    """The checksum is not a signature: a client can build a well-formed cursor with values of the
    wrong type for the sort key. That must be a 422 on `cursor`, not a server error."""
    from l2c.kernel.cursor import encode_cursor

    _two_accounts(org)

    response = api_client_for("rep1").get("/api/v1/accounts", {"limit": 1, "cursor": encode_cursor(values)})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


def test_a_cursor_of_another_sort_order_is_422(org, api_client_for):
    _two_accounts(org)
    client = api_client_for("rep1")
    cursor = _first_page_cursor(client, sort="name")

    response = client.get("/api/v1/accounts", {"limit": 1, "cursor": cursor, "sort": "-updated_at"})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize("limit", [0, 201, -1, 10**6])
def test_page_size_is_capped(org, api_client_for, limit):
    response = api_client_for("rep1").get("/api/v1/accounts", {"limit": limit})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["limit"]


def test_page_size_200_is_allowed(org, api_client_for):
    response = api_client_for("rep1").get("/api/v1/accounts", {"limit": 200})

    assert response.status_code == 200


def test_contact_cursor_tampering_is_422(org, api_client_for):
    from tests.conftest import make_contact

    account = make_account(org["rep1"], "北京联系人分页公司")
    make_contact(org["rep1"], account, "甲")
    make_contact(org["rep1"], account, "乙")
    client = api_client_for("rep1")
    cursor = client.get("/api/v1/contacts", {"limit": 1}).json()["next_cursor"]

    response = client.get("/api/v1/contacts", {"limit": 1, "cursor": cursor[:-2]})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


# --- NUL characters (PostgreSQL text cannot hold them) --------------------------------------------
@pytest.mark.parametrize(("body", "field"), [
    ({"name": "北京\x00公司"}, "name"),
    ({"name": "北京公司", "address": "x\x00"}, "address"),
    ({"name": "北京公司", "tags": ["ok", "a\x00"]}, "tags.1"),
    ({"name": "北京公司", "custom": {"a\x00": "1"}}, "custom.a\\x00"),
])
def test_nul_characters_in_a_body_are_422_naming_the_field(org, api_client_for, body, field):
    from l2c.apps.customers.models import Account

    response = api_client_for("rep1").post("/api/v1/accounts", body, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert Account.objects.count() == 0


def test_nul_characters_in_a_patch_change_nothing(org, api_client_for):
    from l2c.apps.customers.models import Account

    account = make_account(org["rep1"], "北京原名公司")

    response = api_client_for("rep1").patch(f"/api/v1/accounts/{account.pk}", {"name": "新\x00名"},
                                            content_type="application/json")

    assert response.status_code == 422
    assert Account.objects.values_list("name", "version").get(pk=account.pk) == ("北京原名公司", 1)


@pytest.mark.parametrize("path", ["/api/v1/accounts", "/api/v1/contacts", "/api/v1/accounts/count", "/api/v1/users"])
def test_nul_characters_in_the_query_string_are_422(org, api_client_for, path):
    response = api_client_for("rep1").get(path, {"q": "a\x00"})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["q"]


def test_nul_characters_in_the_token_login_are_422(org):
    response = Client().post("/api/v1/auth/token", {"username": "rep1\x00", "password": "pw-rep1"},
                             content_type="application/json")

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["username"]


@pytest.mark.parametrize("path", ["/search/?q=a%00", "/accounts/?q=a%00&city=%00", "/contacts/?q=a%00"])
def test_pages_searching_with_nul_characters_answer_normally(org, path):
    make_account(org["rep1"], "北京搜索公司")
    browser = Client()
    browser.force_login(org["rep1"])

    response = browser.get(path)

    assert response.status_code == 200
