"""Customer 360 profile: the dimensions, visibility, constant queries, registration refresh."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import make_account, make_contact

pytestmark = pytest.mark.django_db


def _client(org, username):
    client = Client()
    client.force_login(org[username])
    return client


def _rich_account(org, contacts=3, followups=4, name="北京画像科技有限公司"):
    from l2c.apps.activity.services import followup_create
    from l2c.apps.customers.rfm import transaction_create

    account = make_account(org["rep1"], name, legal_representative="张三",
                           registered_capital=Decimal("500.00"), tags=["重点"])
    for i in range(contacts):
        make_contact(org["rep1"], account, f"联系人{i}", title="经理", mobile=f"1380000000{i}")
    now = timezone.now()
    for i in range(followups):
        followup_create(actor=org["rep1"], object_type="account", object_id=account.pk, kind="call",
                        content=f"第{i}次电话", occurred_at=now - dt.timedelta(days=10 * i))
    transaction_create(actor=org["rep1"], account_id=account.pk,
                       data={"occurred_on": "2026-01-05", "amount": "1200.50", "reference": "SO-1"})
    return account


def test_profile_has_at_least_twenty_dimensions_with_their_facts(org):
    from l2c.apps.customers.profile import account_profile, upcoming_modules

    account = _rich_account(org)

    _account, built = account_profile(user=org["rep1"], account_id=account.pk)
    data = {dimension.key: values for dimension, values in built}

    assert len(data) >= 20  # real dimensions; the upcoming modules are not counted
    assert len(upcoming_modules()) == 6
    assert data["registration"]["legal_representative"] == "张三"
    assert data["contacts"]["count"] == 3 and data["contacts"]["with_mobile"] == 3
    assert (data["followups"]["total"], data["followups"]["last_30"], data["followups"]["cadence_days"]) == (4, 3, 10.0)
    assert data["transactions"]["by_currency"][0]["count"] == 1
    assert data["transactions"]["by_currency"][0]["total_minor"] == 120050
    assert data["tags"] == {"tags": ["重点"]}
    assert data["ownership"]["owner"] == "rep1"
    assert data["duplicates"] == {"candidates": [], "hidden": 0}
    assert data["lifecycle"]["first_transaction_on"] == dt.date(2026, 1, 5)
    assert data["completeness"]["percent"] == 20  # legal representative, capital, contacts: 3 of 15
    assert "统一社会信用代码" in data["completeness"]["missing"]


def test_profile_is_404_for_an_invisible_account_and_its_page_renders(org):
    account = _rich_account(org)

    assert _client(org, "rep2").get(f"/accounts/{account.pk}/profile/").status_code == 404
    page = _client(org, "rep1").get(f"/accounts/{account.pk}/profile/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "客户画像" in html and "张三" in html and "联系人2" in html and "第1次电话" in html


def test_profile_api_returns_the_same_dimensions(org, api_client_for):
    account = _rich_account(org)

    response = api_client_for("rep1").get(f"/api/v1/accounts/{account.pk}/profile")

    assert response.status_code == 200
    body = response.json()
    keys = [dimension["key"] for dimension in body["dimensions"]]
    assert keys[:3] == ["registration", "classification", "region"] and len(keys) == 20
    assert body["upcoming"] == ["商机", "报价", "合同", "发票", "回款", "应收"]
    assert api_client_for("rep2").get(f"/api/v1/accounts/{account.pk}/profile").status_code == 404


def test_profile_page_query_count_does_not_grow_with_contacts_and_follow_ups(org, django_assert_max_num_queries):
    small = _rich_account(org, contacts=1, followups=1)
    client = _client(org, "rep1")
    client.get(f"/accounts/{small.pk}/profile/")  # warm caches (permissions, custom fields)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small_queries:
        client.get(f"/accounts/{small.pk}/profile/")
    big = _rich_account(org, contacts=12, followups=15, name="上海宏远物流股份有限公司")
    with CaptureQueriesContext(connection) as big_queries:
        client.get(f"/accounts/{big.pk}/profile/")

    assert len(big_queries) == len(small_queries)
    assert len(big_queries) <= 45


def test_registration_refresh_writes_only_changed_fields_and_is_audited(org, tmp_path, settings):
    from l2c.apps.activity.models import AuditEvent
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.registration import registration_refresh

    account = make_account(org["rep1"], "北京工商测试有限公司", credit_code="91110108551385082Q",
                           legal_representative="张三", registered_capital=Decimal("100.00"))
    source = tmp_path / "registry.csv"
    source.write_text("credit_code,name,legal_representative,registered_capital,founded_on,business_status\n"
                      "91110108551385082Q,北京工商测试有限公司,李四,300,2015-06-01,吊销\n", encoding="utf-8")
    settings.REGISTRATION_OPTIONS = {"path": str(source)}

    result = registration_refresh(actor=org["rep1"], account_id=account.pk)

    assert result.found and result.provider == "file"
    assert result.changes == {"legal_representative": ["张三", "李四"], "registered_capital": ["100.00", "300.00"],
                              "founded_on": [None, "2015-06-01"], "business_status": ["", "revoked"]}
    stored = Account.objects.get(pk=account.pk)
    assert (stored.legal_representative, stored.registered_capital, stored.business_status) == (
        "李四", Decimal("300.00"), "revoked")
    assert AuditEvent.objects.filter(object_id=account.pk, summary="registration refreshed from file").count() == 1
    again = registration_refresh(actor=org["rep1"], account_id=account.pk)
    assert again.changes == {}


def test_registration_refresh_needs_edit_and_reports_an_unknown_company(org, api_client_for, tmp_path, settings):
    account = make_account(org["rep1"], "北京查无此司有限公司")
    source = tmp_path / "registry.json"
    source.write_text("[]", encoding="utf-8")
    settings.REGISTRATION_OPTIONS = {"path": str(source)}

    missing = api_client_for("rep1").post(f"/api/v1/accounts/{account.pk}/registration/refresh")
    other = api_client_for("rep2").post(f"/api/v1/accounts/{account.pk}/registration/refresh")

    assert missing.status_code == 200 and missing.json() == {"found": False, "provider": "file", "changes": {},
                                                             "version": 1}
    assert other.status_code == 404


def test_registration_refresh_never_copies_a_namesake_with_another_credit_code(org, tmp_path, settings):
    from l2c.apps.customers.registration import registration_refresh

    account = make_account(org["rep1"], "北京同名测试有限公司", credit_code="91110108551385082Q",
                           legal_representative="张三")
    source = tmp_path / "registry.csv"
    source.write_text("credit_code,name,legal_representative\n914403001922038216,北京同名测试有限公司,王五\n",
                      encoding="utf-8")
    settings.REGISTRATION_OPTIONS = {"path": str(source)}

    result = registration_refresh(actor=org["rep1"], account_id=account.pk)

    assert (result.found, result.changes, result.account.legal_representative) == (False, {}, "张三")
