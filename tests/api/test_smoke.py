"""The API answers, authenticates and renders problems."""

from __future__ import annotations

from tests.conftest import make_account


def test_list_accounts_requires_authentication(org):
    from django.test import Client

    response = Client().get("/api/v1/accounts")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"


def test_rep_sees_only_own_accounts(org, api_client_for):
    own = make_account(org["rep1"], "北京甲公司")
    make_account(org["rep2"], "北京乙公司")

    response = api_client_for("rep1").get("/api/v1/accounts")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [own.pk]


def test_create_with_invalid_credit_code_names_the_field(org, api_client_for):
    response = api_client_for("rep1").post(
        "/api/v1/accounts", {"name": "上海丙公司", "credit_code": "91310000MA1FL0000X"}, content_type="application/json"
    )

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [error["field"] for error in body["errors"]] == ["credit_code"]


def test_filter_by_custom_field(org, api_client_for):
    from l2c.apps.activity.models import CustomField

    CustomField.objects.create(object_type="account", key="tier", label="合同等级", kind="choice",
                               choices=["A", "B"])
    gold = make_account(org["rep1"], "北京金牌公司", custom={"tier": "A"})
    make_account(org["rep1"], "北京银牌公司", custom={"tier": "B"})
    client = api_client_for("rep1")

    response = client.get("/api/v1/accounts?custom=tier:A")
    unknown = client.get("/api/v1/accounts?custom=nope:A")

    assert [item["id"] for item in response.json()["items"]] == [gold.pk]
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "custom.nope"


def test_field_messages_follow_the_requested_language(org, api_client_for):
    client = api_client_for("rep1")
    payload = {"name": "上海丁公司", "credit_code": "91350100M000100Y44"}

    chinese = client.post("/api/v1/accounts", payload, content_type="application/json")
    english = client.post("/api/v1/accounts", payload, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")

    assert chinese.json()["errors"][0]["message"] == "不是有效的统一社会信用代码：校验位应为“3”。"
    assert english.json()["errors"][0]["message"] == (
        'Not a valid unified social credit code: the check character should be "3".')
    assert chinese.json()["errors"][0]["code"] == english.json()["errors"][0]["code"] == "invalid"
