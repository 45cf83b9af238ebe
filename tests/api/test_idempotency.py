"""Idempotency-Key on creating POSTs: a repeat replays the first response and creates nothing."""

from __future__ import annotations

from tests.conftest import make_account


def _counts():
    from l2c.apps.activity.models import AuditEvent, IdempotencyRecord
    from l2c.apps.customers.models import Account, Contact

    return (Account.objects.count(), Contact.objects.count(), AuditEvent.objects.count(),
            IdempotencyRecord.objects.count())


def _post(client, path, body, key):
    return client.post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_repeated_post_with_the_same_key_replays_the_first_response(org, api_client_for):
    from l2c.apps.customers.models import Account

    client = api_client_for("rep1")
    body = {"name": "北京幂等科技有限公司", "city": "北京", "tags": ["重点"]}

    first = _post(client, "/api/v1/accounts", body, "key-0001")
    second = _post(client, "/api/v1/accounts", body, "key-0001")

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    created = Account.objects.filter(name="北京幂等科技有限公司").values_list("pk", flat=True)
    assert list(created) == [first.json()["id"]]
    assert first.json()["tags"] == ["重点"]


def test_same_key_with_another_body_is_rejected_and_creates_nothing(org, api_client_for):
    client = api_client_for("rep1")
    first = _post(client, "/api/v1/accounts", {"name": "北京甲公司"}, "key-0002")
    before = _counts()

    response = _post(client, "/api/v1/accounts", {"name": "北京乙公司"}, "key-0002")

    assert first.status_code == 201
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "idempotency_key_reused"
    assert [error["field"] for error in body["errors"]] == ["Idempotency-Key"]
    assert _counts() == before


def test_same_key_on_another_endpoint_is_rejected(org, api_client_for):
    account = make_account(org["rep1"], "北京丙公司")
    client = api_client_for("rep1")
    _post(client, "/api/v1/accounts", {"name": "北京丁公司"}, "key-0003")
    before = _counts()

    response = _post(client, "/api/v1/contacts", {"name": "韩梅梅", "account_id": account.pk}, "key-0003")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert _counts() == before


def test_different_users_with_the_same_key_are_independent(org, api_client_for):
    from l2c.apps.customers.models import Account

    body = {"name": "北京共用键公司", "confirm_duplicates": True}

    first = _post(api_client_for("rep1"), "/api/v1/accounts", body, "shared-key")
    second = _post(api_client_for("rep2"), "/api/v1/accounts", body, "shared-key")

    assert first.status_code == 201
    assert second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert sorted(Account.objects.filter(name="北京共用键公司").values_list("owner_id", flat=True)) == sorted(
        [org["rep1"].pk, org["rep2"].pk])


def test_a_failed_request_does_not_consume_the_key(org, api_client_for):
    client = api_client_for("rep1")
    before = _counts()

    invalid = {"name": "北京失败公司", "credit_code": "91310000MA1FL0000X"}
    failed = _post(client, "/api/v1/accounts", invalid, "key-0004")
    after_failure = _counts()
    retried = _post(client, "/api/v1/accounts", {"name": "北京失败公司"}, "key-0004")

    assert failed.status_code == 422
    assert failed.json()["code"] == "validation_error"
    assert after_failure == before
    assert retried.status_code == 201
    assert retried.json()["name"] == "北京失败公司"


def test_a_request_still_in_flight_with_the_key_is_a_conflict(org, api_client_for):
    from l2c.apps.activity.models import IdempotencyRecord

    client = api_client_for("rep1")
    body = {"name": "北京进行中公司"}
    first = _post(client, "/api/v1/accounts", body, "key-0005")
    IdempotencyRecord.objects.filter(key="key-0005").update(status_code=None, response_body=None)
    before = _counts()

    response = _post(client, "/api/v1/accounts", body, "key-0005")

    assert first.status_code == 201
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert _counts() == before


def test_an_overlong_key_is_rejected(org, api_client_for):
    before = _counts()

    response = _post(api_client_for("rep1"), "/api/v1/accounts", {"name": "北京长键公司"}, "k" * 256)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert [error["field"] for error in response.json()["errors"]] == ["Idempotency-Key"]
    assert _counts() == before


def test_contact_creation_is_idempotent_too(org, api_client_for):
    from l2c.apps.customers.models import Contact

    account = make_account(org["rep1"], "北京联系人幂等公司")
    client = api_client_for("rep1")
    body = {"name": "张伟", "account_id": account.pk, "mobile": "13800138000"}

    first = _post(client, "/api/v1/contacts", body, "key-0006")
    second = _post(client, "/api/v1/contacts", body, "key-0006")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert Contact.objects.filter(account=account).count() == 1


def test_without_a_key_every_post_creates(org, api_client_for):
    from l2c.apps.customers.models import Account

    client = api_client_for("rep1")

    for _ in range(2):
        client.post("/api/v1/accounts", {"name": "北京无键公司", "confirm_duplicates": True},
                    content_type="application/json")

    assert Account.objects.filter(name="北京无键公司").count() == 2
