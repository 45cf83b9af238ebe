"""Optimistic concurrency: ETag / If-Match on the API and compare-and-set in the services."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import make_account


def _state(account_id):
    from l2c.apps.activity.models import AuditEvent
    from l2c.apps.customers.models import Account

    row = Account.objects.values_list("name", "owner_id", "version").get(pk=account_id)
    return row, AuditEvent.objects.filter(object_type="account", object_id=account_id).count()


def test_get_returns_the_version_as_etag(org, api_client_for):
    account = make_account(org["rep1"], "北京版本公司")

    response = api_client_for("rep1").get(f"/api/v1/accounts/{account.pk}")

    assert response.status_code == 200
    assert response["ETag"] == '"v1"'
    assert response.json()["version"] == 1


def test_two_clients_with_the_same_etag_one_wins_one_gets_412(org, api_client_for):
    account = make_account(org["rep1"], "北京并发公司")
    owner_client, manager_client = api_client_for("rep1"), api_client_for("manager")
    etag = owner_client.get(f"/api/v1/accounts/{account.pk}")["ETag"]

    first = owner_client.patch(f"/api/v1/accounts/{account.pk}", {"name": "北京并发公司（销售改）"},
                               content_type="application/json", HTTP_IF_MATCH=etag)
    before_second = _state(account.pk)
    second = manager_client.patch(f"/api/v1/accounts/{account.pk}", {"name": "北京并发公司（经理改）"},
                                  content_type="application/json", HTTP_IF_MATCH=etag)

    assert first.status_code == 200
    assert first["ETag"] == '"v2"'
    assert second.status_code == 412
    assert second["Content-Type"] == "application/problem+json"
    assert second.json()["code"] == "precondition_failed"
    assert _state(account.pk) == before_second
    assert before_second[0] == ("北京并发公司（销售改）", org["rep1"].pk, 2)


def test_update_with_the_current_etag_succeeds_and_weak_etags_are_accepted(org, api_client_for):
    account = make_account(org["rep1"], "北京弱校验公司")
    client = api_client_for("rep1")

    response = client.patch(f"/api/v1/accounts/{account.pk}", {"name": "北京弱校验公司2"},
                            content_type="application/json", HTTP_IF_MATCH='W/"v1"')

    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response["ETag"] == '"v2"'


@pytest.mark.parametrize("header", ['"abc"', "v1", '"v1', '"v"', '"v1x"', '"1"', "garbage, *", '"v-1"', '"v\u00b2"',
                                    '"v\u0663"', '"v' + "9" * 40 + '"'])
def test_malformed_if_match_is_412_and_changes_nothing(org, api_client_for, header):
    account = make_account(org["rep1"], "北京格式公司")
    before = _state(account.pk)

    response = api_client_for("rep1").patch(f"/api/v1/accounts/{account.pk}", {"name": "改名"},
                                            content_type="application/json", HTTP_IF_MATCH=header)

    assert response.status_code == 412
    assert response.json()["code"] == "precondition_failed"
    assert _state(account.pk) == before


def test_stale_if_match_on_delete_is_412_and_keeps_the_account(org, api_client_for):
    account = make_account(org["rep1"], "北京删除并发公司")
    client = api_client_for("manager")
    client.patch(f"/api/v1/accounts/{account.pk}", {"name": "北京删除并发公司2"}, content_type="application/json")
    before = _state(account.pk)

    response = client.delete(f"/api/v1/accounts/{account.pk}", HTTP_IF_MATCH='"v1"')

    assert response.status_code == 412
    assert _state(account.pk) == before


def test_stale_if_match_on_contact_update_is_412(org, api_client_for):
    from l2c.apps.customers.models import Contact
    from tests.conftest import make_contact

    account = make_account(org["rep1"], "北京联系人并发公司")
    contact = make_contact(org["rep1"], account, "李雷")
    client = api_client_for("rep1")
    client.patch(f"/api/v1/contacts/{contact.pk}", {"title": "经理"}, content_type="application/json")

    response = client.patch(f"/api/v1/contacts/{contact.pk}", {"title": "总监"}, content_type="application/json",
                            HTTP_IF_MATCH='"v1"')

    assert response.status_code == 412
    assert Contact.objects.values_list("title", "version").get(pk=contact.pk) == ("经理", 2)


@pytest.mark.django_db(transaction=True)
def test_two_threads_updating_with_the_same_version_one_succeeds(org):
    """Real concurrency: each thread has its own connection and transaction (SQLite or PostgreSQL)."""
    from django.db import OperationalError, connection

    from l2c.apps.activity.models import AuditEvent
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.services import account_update
    from l2c.kernel.errors import PreconditionFailed

    account = make_account(org["rep1"], "北京线程公司")
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def update(username: str) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                account_update(actor=org[username], account_id=account.pk,
                               data={"name": f"北京线程公司-{username}"}, expected_version=1)
                return
            except OperationalError as error:
                # The SQLite *test* database is in memory with a shared cache, which reports a busy
                # table at once instead of waiting like the file database (busy timeout) does.
                if connection.vendor != "sqlite" or "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def work(username: str) -> None:
        try:
            barrier.wait(timeout=10)
            update(username)
            outcomes[username] = "ok"
        except PreconditionFailed:
            outcomes[username] = "412"
        except Exception as error:  # pragma: no cover - reported by the assertion below
            outcomes[username] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(username,)) for username in ("rep1", "manager")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winner = next((username for username, outcome in outcomes.items() if outcome == "ok"), None)
    assert sorted(outcomes.values()) == ["412", "ok"]
    assert Account.objects.values_list("name", "version").get(pk=account.pk) == (f"北京线程公司-{winner}", 2)
    assert AuditEvent.objects.filter(object_type="account", object_id=account.pk, action="update").count() == 1
