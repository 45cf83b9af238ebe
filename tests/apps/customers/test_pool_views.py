"""Public pool pages: my pools, browse with hidden fields, claim, release, assign, admin settings."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import make_account

pytestmark = pytest.mark.django_db


def _client(org, username):
    client = Client()
    client.force_login(org[username])
    return client


def _pool(org, **rules):
    from l2c.apps.customers.pool import pool_save

    data = {"name": "华北公海", "member_department_ids": [org.north.pk], **rules}
    return pool_save(actor=org["admin"], data=data)


def _pooled(org, pool, name="北京公海页面有限公司"):
    from l2c.apps.customers.pool import pool_release

    account = make_account(org["admin"], name, phone="010-12345678", city="北京")
    return pool_release(actor=org["admin"], account_id=account.pk, reason="测试", pool_id=pool.pk)


def test_browse_shows_the_allowed_fields_and_a_claim_button_never_the_phone(org):
    pool = _pool(org, visible_fields=["name", "city"])
    account = _pooled(org, pool)

    page = _client(org, "rep1").get(f"/pools/{pool.pk}/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "北京公海页面有限公司" in html and "<td>北京</td>" in html
    assert "010-12345678" not in html
    assert f'action="/pools/{pool.pk}/claim/{account.pk}/"' in html
    assert _client(org, "rep3").get(f"/pools/{pool.pk}/").status_code == 404


def test_claim_from_the_page_opens_the_account_with_its_deadline(org):
    pool = _pool(org, reclaim_no_followup_days=7)
    account = _pooled(org, pool)
    client = _client(org, "rep1")

    response = client.post(f"/pools/{pool.pk}/claim/{account.pk}/")

    assert response.status_code == 302 and response["Location"] == f"/accounts/{account.pk}/"
    detail = client.get(f"/accounts/{account.pk}/").content.decode()
    assert 'id="pool"' in detail and "剩余 6 天" in detail and "退回公海" in detail
    listing = client.get("/pools/").content.decode()
    assert f'href="/accounts/{account.pk}/"' in listing


def test_a_failed_claim_shows_the_reason_and_stays_in_the_pool_page(org):
    pool = _pool(org)
    account = _pooled(org, pool)
    _client(org, "rep2").post(f"/pools/{pool.pk}/claim/{account.pk}/")
    client = _client(org, "rep1")

    response = client.post(f"/pools/{pool.pk}/claim/{account.pk}/", {"next": f"/pools/{pool.pk}/"}, follow=True)

    assert response.redirect_chain == [(f"/pools/{pool.pk}/", 302)]
    assert f"客户“北京公海页面有限公司”（ID {account.pk}）已被领取。" in response.content.decode()


def test_release_from_the_account_page_needs_a_reason(org):
    from l2c.apps.customers.pool import pool_claim

    pool = _pool(org)
    account = _pooled(org, pool)
    pool_claim(actor=org["rep1"], account_id=account.pk)
    client = _client(org, "rep1")

    refused = client.post(f"/accounts/{account.pk}/release/", {"reason": ""}, follow=True)
    released = client.post(f"/accounts/{account.pk}/release/", {"reason": "预算取消"})

    assert "请填写退回原因。" in refused.content.decode()
    assert released.status_code == 302 and released["Location"] == "/pools/"
    from l2c.apps.customers.models import Account

    assert Account.objects.get(pk=account.pk).owner_id is None


def test_manager_assigns_from_the_browse_page(org):
    pool = _pool(org)
    account = _pooled(org, pool)
    client = _client(org, "manager")

    page = client.get(f"/pools/{pool.pk}/").content.decode()
    response = client.post(f"/pools/{pool.pk}/assign/", {"ids": [account.pk], "to_user_id": org["rep2"].pk})

    assert 'id="assign-form"' in page
    assert response.status_code == 302
    from l2c.apps.customers.models import Account

    assert Account.objects.get(pk=account.pk).owner_id == org["rep2"].pk


def test_pool_settings_pages_are_for_admins(org):
    admin = _client(org, "admin")
    assert _client(org, "manager").get("/pools/manage/").status_code == 403

    bad = admin.post("/pools/manage/new/", {"name": "测试公海", "protection_days": "10", "protection_max_days": "5",
                                            "protection_extension_days": "0", "reclaim_cooldown_days": "0",
                                            "reminder_days": "3"})
    good = admin.post("/pools/manage/new/", {"name": "测试公海", "member_department_ids": [str(org.east.pk)],
                                             "is_active": "on", "protection_days": "10",
                                             "protection_extension_days": "2", "reclaim_cooldown_days": "0",
                                             "reminder_days": "3", "visible_fields": ["name", "city"]})

    assert bad.status_code == 200 and "保护期上限不能小于保护期。" in bad.content.decode()
    assert good.status_code == 302
    from l2c.apps.customers.models import Pool

    pool = Pool.objects.get(name="测试公海")
    assert (pool.protection_days, pool.protection_extension_days, pool.visible_fields) == (10, 2, ["name", "city"])
    assert list(pool.member_departments.values_list("pk", flat=True)) == [org.east.pk]
    assert "测试公海" in admin.get("/pools/manage/").content.decode()


def test_the_account_form_offers_to_claim_a_pooled_duplicate(org):
    from l2c.apps.customers.pool import pool_release

    pool = _pool(org)
    account = make_account(org["admin"], "北京表单撞单有限公司", credit_code="91110108551385082Q")
    pool_release(actor=org["admin"], account_id=account.pk, reason="测试", pool_id=pool.pk)

    response = _client(org, "rep1").post("/accounts/new/", {"name": "北京表单撞单有限公司", "status": "potential",
                                                            "credit_code": "91110108551385082Q"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "其中这些客户在你可领取的公海中" in html
    assert f'formaction="/pools/{pool.pk}/claim/{account.pk}/"' in html
