"""The account and contact pages: visibility per role, search, forms, conflicts, bulk, escaping."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from l2c.apps.customers.models import Account, Contact
from tests.conftest import make_account, make_contact

VALID_CODE = "91110000600037341L"
ROLES = ["admin", "manager", "rep1", "presales", "marketing", "finance"]


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def account_names(html: str) -> list[str]:
    """Names in the account list table (the links to account detail pages)."""
    return sorted(re.findall(r'<a href="/accounts/\d+/">([^<]*)</a>', html))


@pytest.fixture
def accounts(org: Any) -> dict[str, Any]:
    return {
        "rep1": make_account(org["rep1"], "北京星河科技有限公司"),
        "rep2": make_account(org["rep2"], "天津海风贸易有限公司"),
        "rep3": make_account(org["rep3"], "上海东方电子有限公司"),
    }


# --- list -----------------------------------------------------------------------------------------
def test_rep_sees_only_own_accounts_and_manager_sees_the_department(org: Any, accounts: dict[str, Any]) -> None:
    # when
    rep_page = client_for(org["rep1"]).get(reverse("customers:account_list"))
    manager_page = client_for(org["manager"]).get(reverse("customers:account_list"))

    # then
    assert rep_page.status_code == 200
    assert account_names(rep_page.content.decode()) == ["北京星河科技有限公司"]
    assert manager_page.status_code == 200
    assert account_names(manager_page.content.decode()) == ["北京星河科技有限公司", "天津海风贸易有限公司"]


def test_search_by_pinyin_initials_finds_the_account(org: Any, accounts: dict[str, Any]) -> None:
    # given
    make_account(org["rep1"], "广州白云物流有限公司")

    # when
    response = client_for(org["rep1"]).get(reverse("customers:account_list"), {"q": "bjxh"})

    # then
    assert response.status_code == 200
    assert account_names(response.content.decode()) == ["北京星河科技有限公司"]


def test_bad_filter_values_are_ignored_not_errors(org: Any, accounts: dict[str, Any]) -> None:
    response = client_for(org["rep1"]).get(
        reverse("customers:account_list"),
        {"owner_id": "abc", "industry": "ZZ", "sort": "password", "cursor": "garbage"},
    )

    assert response.status_code == 200
    assert account_names(response.content.decode()) == ["北京星河科技有限公司"]


def test_cursor_paging_links_keep_the_filters(org: Any) -> None:
    # given: 51 accounts, one more than a page
    for number in range(51):
        make_account(org["rep1"], f"分页测试公司{number:02d}", city="北京")
    client = client_for(org["rep1"])

    # when
    first = client.get(reverse("customers:account_list"), {"city": "北京", "sort": "name"})
    html = first.content.decode()
    next_url = re.search(r'href="(\?[^"]*cursor=[^"]*)" rel="next"', html).group(1).replace("&amp;", "&")
    second = client.get(reverse("customers:account_list") + next_url)

    # then
    assert len(account_names(html)) == 50
    assert "city=" in next_url and "sort=name" in next_url
    assert account_names(second.content.decode()) == ["分页测试公司50"]
    assert 'rel="prev"' in second.content.decode()


def test_column_choice_is_remembered_in_the_session(org: Any, accounts: dict[str, Any]) -> None:
    # given
    client = client_for(org["rep1"])

    # when: choose only the credit code column, then come back without `cols`
    client.get(reverse("customers:account_list"), {"cols_set": "1", "cols": ["credit_code"]})
    response = client.get(reverse("customers:account_list"))

    # then
    headers = re.findall(r"<th>([^<]*)</th>", response.content.decode())
    assert headers == ["客户名称", "统一社会信用代码"]


def test_bulk_bar_and_new_button_follow_permissions(org: Any, accounts: dict[str, Any]) -> None:
    rep_html = client_for(org["rep1"]).get(reverse("customers:account_list")).content.decode()
    marketing_html = client_for(org["marketing"]).get(reverse("customers:account_list")).content.decode()

    assert 'value="transfer"' not in rep_html
    assert 'value="tag"' in rep_html
    assert reverse("customers:account_create") in rep_html
    assert reverse("customers:account_create") not in marketing_html
    assert "data-select-all" not in marketing_html


# --- detail ---------------------------------------------------------------------------------------
def test_detail_of_another_reps_account_is_404_and_changes_nothing(org: Any, accounts: dict[str, Any]) -> None:
    # given
    other = accounts["rep3"]
    client = client_for(org["rep1"])

    # when
    detail = client.get(reverse("customers:account_detail", args=[other.pk]))
    edit = client.post(reverse("customers:account_edit", args=[other.pk]),
                       {"name": "改名", "status": "potential", "version": other.version})
    delete = client.post(reverse("customers:account_delete", args=[other.pk]))

    # then
    assert (detail.status_code, edit.status_code, delete.status_code) == (404, 404, 404)
    other.refresh_from_db()
    assert other.name == "上海东方电子有限公司"
    assert other.version == 1


def test_read_only_role_sees_detail_but_edit_is_403(org: Any, accounts: dict[str, Any]) -> None:
    # given
    account = accounts["rep1"]
    client = client_for(org["finance"])

    # when
    detail = client.get(reverse("customers:account_detail", args=[account.pk]))
    edit = client.post(reverse("customers:account_edit", args=[account.pk]),
                       {"name": "改名", "status": "potential", "version": account.version})

    # then
    assert detail.status_code == 200
    assert reverse("customers:account_edit", args=[account.pk]) not in detail.content.decode()
    assert edit.status_code == 403
    account.refresh_from_db()
    assert account.name == "北京星河科技有限公司"


def test_followup_form_on_the_detail_page_updates_last_followed_up_at(org: Any, accounts: dict[str, Any]) -> None:
    # given
    account = accounts["rep1"]
    client = client_for(org["rep1"])
    detail_url = reverse("customers:account_detail", args=[account.pk])
    html = client.get(detail_url).content.decode()
    assert f'action="{reverse("activity:followup_create")}"' in html
    assert account.last_followed_up_at is None

    # when
    response = client.post(reverse("activity:followup_create"), {
        "object_type": "account", "object_id": account.pk, "next": detail_url,
        "kind": "call", "content": "电话沟通需求", "outcome": "有意向", "next_step": "", "next_step_at": "",
    })

    # then
    assert response.status_code == 302
    assert response["Location"] == detail_url
    account.refresh_from_db()
    assert account.last_followed_up_at is not None
    assert "电话沟通需求" in client.get(detail_url).content.decode()


def test_account_name_with_markup_is_escaped_on_list_and_detail(org: Any) -> None:
    # given
    account = make_account(org["rep1"], "<script>alert(1)</script>")
    client = client_for(org["rep1"])

    # when
    list_html = client.get(reverse("customers:account_list")).content.decode()
    detail_html = client.get(reverse("customers:account_detail", args=[account.pk])).content.decode()

    # then
    for html in (list_html, detail_html):
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("username", ROLES)
def test_pages_render_for_every_role(org: Any, username: str) -> None:
    # given: an account and a contact every role may see (admin, finance and marketing see all;
    # managers their subtree; the owner their own; presales via a share)
    from l2c.apps.activity.services import record_share

    account = make_account(org["rep1"], "北京星河科技有限公司")
    contact = make_contact(org["rep1"], account)
    record_share(actor=org["rep1"], object_type="account", object_id=account.pk, user_id=org["presales"].pk)
    client = client_for(org[username])

    # when
    pages = [
        reverse("customers:account_list"),
        reverse("customers:account_detail", args=[account.pk]),
        reverse("customers:contact_list"),
        reverse("customers:contact_detail", args=[contact.pk]),
    ]
    statuses = [client.get(url).status_code for url in pages]

    # then
    assert statuses == [200, 200, 200, 200]


@pytest.mark.parametrize(("username", "expected"), [
    ("admin", 200), ("manager", 200), ("rep1", 200), ("presales", 200), ("marketing", 403), ("finance", 403),
])
def test_create_pages_follow_the_create_permission(org: Any, username: str, expected: int) -> None:
    client = client_for(org[username])

    assert client.get(reverse("customers:account_create")).status_code == expected
    assert client.get(reverse("customers:contact_create")).status_code == expected


def test_owner_of_an_account_sees_edit_and_delete_buttons_by_permission(org: Any, accounts: dict[str, Any]) -> None:
    account = accounts["rep1"]
    rep_html = client_for(org["rep1"]).get(reverse("customers:account_detail", args=[account.pk])).content.decode()
    manager_html = client_for(org["manager"]).get(
        reverse("customers:account_detail", args=[account.pk])).content.decode()

    assert reverse("customers:account_edit", args=[account.pk]) in rep_html
    assert reverse("customers:account_delete", args=[account.pk]) not in rep_html
    assert reverse("customers:account_delete", args=[account.pk]) in manager_html
    assert "data-confirm" in manager_html


# --- create / edit --------------------------------------------------------------------------------
def test_create_with_invalid_credit_code_shows_the_field_error_and_creates_nothing(org: Any) -> None:
    # when
    response = client_for(org["rep1"]).post(reverse("customers:account_create"), {
        "name": "北京新客户有限公司", "credit_code": "91110000600037341X", "status": "potential",
    })

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'id="id_credit_code_error">\s*<li>不是有效的统一社会信用代码', html)
    assert Account.objects.count() == 0


def test_create_with_valid_input_saves_fields_tags_and_redirects(org: Any) -> None:
    # when
    response = client_for(org["rep1"]).post(reverse("customers:account_create"), {
        "name": "北京新客户有限公司", "credit_code": VALID_CODE, "status": "active", "industry": "I",
        "registered_capital": "500.50", "founded_on": "2020-05-01", "tags": "重点, 华北，新签",
    })

    # then
    account = Account.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:account_detail", args=[account.pk])
    assert (account.name, account.credit_code, account.status, account.industry) == (
        "北京新客户有限公司", VALID_CODE, "active", "I")
    assert str(account.registered_capital) == "500.50"
    assert account.owner == org["rep1"]
    assert sorted(account.tags.values_list("name", flat=True)) == ["华北", "新签", "重点"]


def test_custom_fields_are_on_the_form_and_their_errors_map_back(org: Any) -> None:
    # given
    from l2c.apps.activity.models import CustomField

    CustomField.objects.create(object_type="account", key="employees", label="员工人数", kind="number",
                               min_value=1, show_in_list=True)
    client = client_for(org["rep1"])

    # when
    bad = client.post(reverse("customers:account_create"), {"name": "甲公司", "status": "potential",
                                                             "custom_employees": "0"})
    good = client.post(reverse("customers:account_create"), {"name": "甲公司", "status": "potential",
                                                              "custom_employees": "120"})

    # then
    assert re.search(r'id="id_custom_employees_error">\s*<li>不能小于 1', bad.content.decode())
    assert good.status_code == 302
    assert Account.objects.get().custom == {"employees": 120}
    list_html = client.get(reverse("customers:account_list")).content.decode()
    assert "<th>员工人数</th>" in list_html
    assert "<td>120</td>" in list_html


def test_edit_with_a_stale_version_shows_the_conflict_and_changes_nothing(org: Any, accounts: dict[str, Any]) -> None:
    # given: somebody else saved the account after our form was loaded at version 1
    from l2c.apps.customers.services import account_update

    account = accounts["rep1"]
    account_update(actor=org["manager"], account_id=account.pk, data={"city": "北京"})

    # when
    response = client_for(org["rep1"]).post(reverse("customers:account_edit", args=[account.pk]), {
        "name": "我的改名", "status": "potential", "version": "1",
    })

    # then
    assert response.status_code == 200
    assert "该记录已被他人修改，请刷新页面后重试。" in response.content.decode()
    account.refresh_from_db()
    assert (account.name, account.city, account.version) == ("北京星河科技有限公司", "北京", 2)


def test_edit_with_the_current_version_saves(org: Any, accounts: dict[str, Any]) -> None:
    account = accounts["rep1"]
    client = client_for(org["rep1"])
    form_html = client.get(reverse("customers:account_edit", args=[account.pk])).content.decode()
    assert 'name="version" value="1"' in form_html

    response = client.post(reverse("customers:account_edit", args=[account.pk]), {
        "name": "北京星河科技股份有限公司", "status": "active", "version": "1", "tags": "重点",
    })

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.status, account.version) == ("北京星河科技股份有限公司", "active", 2)


def test_inline_validation_returns_the_field_error(org: Any) -> None:
    client = client_for(org["rep1"])
    url = reverse("customers:account_validate") + "?field=credit_code"

    bad = client.post(url, {"credit_code": "91110000600037341X"})
    good = client.post(url, {"credit_code": VALID_CODE})

    assert bad.status_code == 200
    assert "不是有效的统一社会信用代码" in bad.content.decode()
    assert good.content.decode().strip() == ""


def test_form_fields_carry_htmx_inline_validation(org: Any) -> None:
    html = client_for(org["rep1"]).get(reverse("customers:account_create")).content.decode()

    assert 'hx-post="/accounts/validate/?field=credit_code"' in html
    assert 'hx-target="#id_credit_code_inline"' in html
    assert 'id="id_credit_code_inline"' in html


# --- bulk -----------------------------------------------------------------------------------------
def test_bulk_transfer_by_manager_moves_rows_and_records_transfers(org: Any, accounts: dict[str, Any]) -> None:
    # given
    from l2c.apps.identity.models import OwnershipTransfer

    ids = [accounts["rep1"].pk, accounts["rep2"].pk]

    # when
    response = client_for(org["manager"]).post(reverse("customers:account_bulk"), {
        "op": "transfer", "ids": ids, "to_user_id": org["rep2"].pk, "reason": "离职交接",
        "next": reverse("customers:account_list"),
    })

    # then
    assert response.status_code == 302
    assert sorted(Account.objects.filter(pk__in=ids).values_list("owner__username", flat=True)) == ["rep2", "rep2"]
    transfers = list(OwnershipTransfer.objects.values_list("object_type", "object_id", "from_user__username",
                                                           "to_user__username", "reason"))
    assert transfers == [("account", accounts["rep1"].pk, "rep1", "rep2", "离职交接")]


def test_bulk_transfer_outside_scope_changes_nothing(org: Any, accounts: dict[str, Any]) -> None:
    # given: rep3's account is outside the manager's subtree
    from l2c.apps.identity.models import OwnershipTransfer

    ids = [accounts["rep1"].pk, accounts["rep3"].pk]

    # when
    response = client_for(org["manager"]).post(reverse("customers:account_bulk"), {
        "op": "transfer", "ids": ids, "to_user_id": org["rep2"].pk, "reason": "",
    })

    # then
    assert response.status_code == 302
    assert Account.objects.get(pk=accounts["rep1"].pk).owner == org["rep1"]
    assert Account.objects.get(pk=accounts["rep3"].pk).owner == org["rep3"]
    assert OwnershipTransfer.objects.count() == 0


def test_bulk_tag_adds_the_tag_to_the_ticked_rows(org: Any, accounts: dict[str, Any]) -> None:
    response = client_for(org["rep1"]).post(reverse("customers:account_bulk"), {
        "op": "tag", "ids": [accounts["rep1"].pk], "tag": "重点跟进",
    })

    assert response.status_code == 302
    assert list(accounts["rep1"].tags.values_list("name", flat=True)) == ["重点跟进"]
    assert accounts["rep2"].tags.count() == 0


# --- team and shares ------------------------------------------------------------------------------
def test_owner_adds_and_removes_a_team_member(org: Any, accounts: dict[str, Any]) -> None:
    account = accounts["rep1"]
    client = client_for(org["rep1"])
    url = reverse("customers:account_team", args=[account.pk])

    client.post(url, {"op": "add", "user_id": org["presales"].pk, "role": "售前", "access": "read"})
    assert list(account.team.values_list("user__username", "role", "access")) == [("presales", "售前", "read")]

    client.post(url, {"op": "remove", "user_id": org["presales"].pk})
    assert account.team.count() == 0


def test_share_with_a_user_makes_the_account_visible_to_them(org: Any, accounts: dict[str, Any]) -> None:
    account = accounts["rep1"]
    url = reverse("customers:account_detail", args=[account.pk])
    assert client_for(org["rep3"]).get(url).status_code == 404

    client_for(org["rep1"]).post(reverse("customers:account_share", args=[account.pk]),
                                 {"op": "add", "user_id": org["rep3"].pk, "access": "read"})

    assert client_for(org["rep3"]).get(url).status_code == 200


# --- contacts -------------------------------------------------------------------------------------
def test_contact_create_preselects_the_account_and_saves(org: Any, accounts: dict[str, Any]) -> None:
    # given
    account = accounts["rep1"]
    boss = make_contact(org["rep1"], account, "李总")
    client = client_for(org["rep1"])

    # when
    form_html = client.get(reverse("customers:contact_create"), {"account": account.pk}).content.decode()
    response = client.post(reverse("customers:contact_create") + f"?account={account.pk}", {
        "account": account.pk, "name": "张伟", "mobile": "13800138000", "reports_to": boss.pk,
    })

    # then
    assert f'<option value="{account.pk}" selected>' in form_html
    assert "天津海风贸易有限公司" not in form_html  # only accounts the user may edit
    contact = Contact.objects.get(name="张伟")
    assert response.status_code == 302
    assert (contact.account_id, contact.reports_to_id, contact.mobile) == (account.pk, boss.pk, "13800138000")


def test_contact_create_with_bad_mobile_shows_error_and_creates_nothing(org: Any, accounts: dict[str, Any]) -> None:
    response = client_for(org["rep1"]).post(reverse("customers:contact_create"), {
        "account": accounts["rep1"].pk, "name": "张伟", "mobile": "abc",
    })

    assert response.status_code == 200
    assert 'id="id_mobile_error"' in response.content.decode()
    assert Contact.objects.count() == 0


def test_contact_of_another_reps_account_is_404(org: Any, accounts: dict[str, Any]) -> None:
    contact = make_contact(org["rep3"], accounts["rep3"])
    client = client_for(org["rep1"])

    assert client.get(reverse("customers:contact_detail", args=[contact.pk])).status_code == 404
    assert client.post(reverse("customers:contact_delete", args=[contact.pk])).status_code == 404
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_contact_list_search_and_account_filter(org: Any, accounts: dict[str, Any]) -> None:
    make_contact(org["rep1"], accounts["rep1"], "王强")
    make_contact(org["rep1"], accounts["rep1"], "赵敏")
    make_contact(org["rep3"], accounts["rep3"], "王芳")
    client = client_for(org["rep1"])

    searched = client.get(reverse("customers:contact_list"), {"q": "wq"}).content.decode()
    filtered = client.get(reverse("customers:contact_list"), {"account": accounts["rep1"].pk}).content.decode()

    names = re.compile(r'<a href="/contacts/\d+/">([^<]*)</a>')
    assert names.findall(searched) == ["王强"]
    assert sorted(names.findall(filtered)) == ["王强", "赵敏"]


def test_contact_edit_with_stale_version_changes_nothing(org: Any, accounts: dict[str, Any]) -> None:
    from l2c.apps.customers.services import contact_update

    contact = make_contact(org["rep1"], accounts["rep1"])
    contact_update(actor=org["rep1"], contact_id=contact.pk, data={"title": "总经理"})

    response = client_for(org["rep1"]).post(reverse("customers:contact_edit", args=[contact.pk]), {
        "account": accounts["rep1"].pk, "name": "王大强", "version": "1",
    })

    assert "该记录已被他人修改，请刷新页面后重试。" in response.content.decode()
    contact.refresh_from_db()
    assert (contact.name, contact.title, contact.version) == ("王强", "总经理", 2)


def test_manager_changing_the_owner_on_the_edit_form_transfers_the_account(org: Any,
                                                                          accounts: dict[str, Any]) -> None:
    # given
    from l2c.apps.identity.models import OwnershipTransfer

    account = accounts["rep1"]

    # when
    response = client_for(org["manager"]).post(reverse("customers:account_edit", args=[account.pk]), {
        "name": account.name, "status": "potential", "version": "1", "owner": org["rep2"].pk,
    })

    # then
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.owner == org["rep2"]
    assert list(OwnershipTransfer.objects.values_list("from_user__username", "to_user__username")) == [
        ("rep1", "rep2")]


def test_rep_edit_form_has_no_owner_picker(org: Any, accounts: dict[str, Any]) -> None:
    html = client_for(org["rep1"]).get(reverse("customers:account_edit", args=[accounts["rep1"].pk])).content.decode()

    assert 'name="owner"' not in html
    assert 'name="name" value="北京星河科技有限公司"' in html


def test_export_links_carry_the_current_filters_and_import_needs_the_permission(org: Any,
                                                                               accounts: dict[str, Any]) -> None:
    from django.urls import NoReverseMatch

    try:
        export_url = reverse("activity:export")
        import_url = reverse("activity:import_start", args=["account"])
    except NoReverseMatch:
        pytest.skip("the export/import pages are not installed")

    manager_html = client_for(org["manager"]).get(reverse("customers:account_list"),
                                                  {"q": "bjxh", "status": "potential"}).content.decode()
    rep_html = client_for(org["rep1"]).get(reverse("customers:account_list")).content.decode()

    assert f'href="{export_url}?object_type=account&amp;format=csv&amp;q=bjxh&amp;status=potential"' in manager_html
    assert f'href="{export_url}?object_type=account&amp;format=xlsx&amp;q=bjxh&amp;status=potential"' in manager_html
    assert f'href="{import_url}"' in manager_html
    assert f'href="{import_url}"' not in rep_html
    assert f'href="{export_url}?object_type=account&amp;format=csv"' in rep_html


def test_out_of_range_ids_in_filters_and_bulk_are_ignored(org: Any, accounts: dict[str, Any]) -> None:
    huge = "9" * 25
    client = client_for(org["manager"])

    listed = client.get(reverse("customers:account_list"), {"owner_id": huge})
    contacts = client.get(reverse("customers:contact_list"), {"account": huge})
    bulk = client.post(reverse("customers:account_bulk"), {"op": "tag", "ids": [huge], "tag": "x"})

    assert (listed.status_code, contacts.status_code, bulk.status_code) == (200, 200, 302)
    assert account_names(listed.content.decode()) == ["北京星河科技有限公司", "天津海风贸易有限公司"]


def test_one_submit_shows_every_field_problem(org):
    client = Client()
    client.force_login(org["rep1"])

    response = client.post("/accounts/new/", {"name": "", "credit_code": "91350100M000100Y4I",
                                              "phone": "abc", "website": "javascript:alert(1)", "status": "potential"})

    form = response.context["form"]
    assert sorted(form.errors) == ["credit_code", "name", "phone", "website"]
    assert form.errors["credit_code"] == ["不是有效的统一社会信用代码：第 18 位的“I”不是有效字符。"]
    assert Account.objects.count() == 0
