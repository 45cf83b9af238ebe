"""Every page of the shell renders for every role; staff-only pages stay staff-only."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import make_account

ROLES = ["admin", "director", "manager", "rep1", "presales", "marketing", "finance"]
PAGES = ["/", "/accounts/", "/contacts/", "/search/?q=北京", "/inbox/", "/jobs/", "/imports/",
         "/settings/tokens/", "/accounts/new/", "/contacts/new/"]


@pytest.mark.parametrize("username", ROLES)
def test_every_page_renders_for_every_role(org, username):
    make_account(org["rep1"], "北京页面测试有限公司")
    client = Client()
    client.force_login(org[username])

    statuses = {page: client.get(page).status_code for page in PAGES}

    allowed_create = username not in ("marketing", "finance")
    expected = {page: 200 for page in PAGES}
    if not allowed_create:
        expected["/accounts/new/"] = 403
        expected["/contacts/new/"] = 403
    assert statuses == expected


def test_why_page_is_for_staff_only_and_explains(org):
    account = make_account(org["rep1"], "北京权限说明有限公司")
    staff, rep = Client(), Client()
    staff.force_login(org["admin"])
    rep.force_login(org["rep1"])

    explained = staff.get("/admin-tools/why/", {"username": "rep2", "object_type": "account",
                                                "object_id": account.pk})
    english = staff.get("/admin-tools/why/", {"username": "rep2", "object_type": "account",
                                              "object_id": account.pk}, HTTP_ACCEPT_LANGUAGE="en")
    denied = rep.get("/admin-tools/why/")

    assert explained.status_code == 200
    assert [(item.action, item.allowed) for item in explained.context["explanation"]] == [
        ("view", False), ("edit", False), ("delete", False), ("transfer", False)]
    assert explained.context["explanation"][0].reasons == (
        "角色授予：查看, 新建, 编辑, 导出；数据范围：本人", "来自：销售代表: 本人", "记录属于用户所在部门")
    assert english.context["explanation"][0].reasons == (
        "roles grant: view, create, edit, export; scope: Own", "from 销售代表: Own",
        "record is in the user's department")
    assert denied.status_code == 302


def test_anonymous_is_sent_to_login(db):
    response = Client().get("/accounts/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_healthz_reports_database_and_queue(db):
    response = Client().get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["task_queue"]["status"] == "ok"


def test_login_page_lists_demo_logins_only_when_enabled(db, settings):
    settings.L2C_SHOW_DEMO_LOGINS = False
    hidden = Client().get("/login/")
    settings.L2C_SHOW_DEMO_LOGINS = True
    settings.DEMO_PASSWORD_SHOWN = True
    shown = Client().get("/login/")

    assert hidden.status_code == shown.status_code == 200
    assert "demo_logins" not in hidden.context
    assert [username for username, _label in shown.context["demo_logins"]][:3] == ["admin", "manager", "rep1"]
    assert settings.DEMO_PASSWORD.encode() in shown.content


def test_contact_list_offers_export_of_the_filtered_rows(org):
    account = make_account(org["rep1"], "北京导出联系人有限公司")
    from tests.conftest import make_contact

    make_contact(org["rep1"], account, "导出甲")
    client = Client()
    client.force_login(org["rep1"])

    page = client.get("/contacts/", {"account": account.pk})
    export = client.get(page.context["export_csv_url"])

    assert export.status_code == 200
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "导出甲" in body
    assert page.context["import_url"] is None  # reps may not import


def test_nul_characters_never_reach_a_view(org, client):
    """PostgreSQL cannot store or compare NUL: pages drop it from the query string and from forms."""
    from l2c.apps.leads.models import Lead

    client.force_login(org["rep1"])
    assert client.get("/leads/?q=%00&province=%00").status_code == 200
    assert client.get("/accounts/?q=a%00b").status_code == 200
    response = client.post("/leads/new/", {"name": "张\x00伟"})
    assert response.status_code == 302
    assert list(Lead.objects.values_list("name", flat=True)) == ["张伟"]
