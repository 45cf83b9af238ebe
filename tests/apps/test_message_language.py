"""Business errors raised by the services are worded in the active language (Chinese by default),
with the same machine codes in every language; stored notifications use the recipient's language."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from l2c.apps.activity.models import Notification
from l2c.apps.activity.services import followup_create, records_transfer, todo_complete
from l2c.apps.customers.services import account_delete
from l2c.apps.identity import access
from l2c.apps.identity.services import user_create
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import make_account, make_contact


@pytest.mark.parametrize(("language", "detail"), [
    ("zh-hans", "你没有删除客户的权限。"),
    ("en", "You may not delete account records."),
])
def test_missing_permission_names_action_and_object_type(org, language, detail):
    with translation.override(language), pytest.raises(PermissionDenied) as denied:
        access.require(org["marketing"], "account", "delete")

    assert denied.value.detail == detail


@pytest.mark.parametrize(("language", "detail"), [
    ("zh-hans", "你可以查看这个联系人，但没有删除它的权限。"),
    ("en", "You may see this contact but not delete it."),
])
def test_visible_record_without_the_action_says_so(org, language, detail):
    contact = make_contact(org["rep1"], make_account(org["rep1"]))

    with translation.override(language), pytest.raises(PermissionDenied) as denied:
        access.get_for_action(org["rep1"], "contact", contact.pk, "delete")

    assert denied.value.detail == detail


@pytest.mark.parametrize(("language", "detail"), [
    ("zh-hans", "你没有 ID 为 987654 的待办。"),
    ("en", "You have no to-do with id 987654."),
])
def test_unknown_todo(org, language, detail):
    with translation.override(language), pytest.raises(NotFound) as missing:
        todo_complete(actor=org["rep1"], todo_id=987654)

    assert missing.value.detail == detail


def test_follow_up_errors_in_english_keep_their_codes(org):
    account = make_account(org["rep1"])

    with translation.override("en"), pytest.raises(ValidationFailed) as invalid:
        followup_create(actor=org["rep1"], object_type="account", object_id=account.pk, kind="call", content=" ",
                        occurred_at=timezone.now() + dt.timedelta(days=1))

    assert invalid.value.detail == "The follow-up is not valid."
    assert invalid.value.errors == [
        FieldError("content", "This field is required.", "required"),
        FieldError("occurred_at", "A follow-up cannot be in the future.", "in_future"),
    ]


def test_user_create_errors_in_chinese(org):
    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as invalid:
        user_create(username="rep1", password=None, email="REP2@example.com", role_codes=["sales_rep", "pilot"])

    assert invalid.value.detail == "无法创建用户。"
    assert invalid.value.errors == [
        FieldError("username", "用户名“rep1”已被占用。", "taken"),
        FieldError("email", "电子邮箱“REP2@example.com”已被占用。", "taken"),
        FieldError("role_codes", "未知的角色：pilot。", "unknown_role"),
    ]


@pytest.mark.parametrize(("language", "detail"), [
    ("zh-hans", "客户“北京星河科技有限公司”还有 1 个联系人，请先删除或移走这些联系人。"),
    ("en", "Account “北京星河科技有限公司” still has 1 contact; delete or move it first."),
])
def test_deleting_an_account_with_contacts_conflicts(org, language, detail):
    account = make_account(org["rep1"])
    make_contact(org["rep1"], account)

    with translation.override(language), pytest.raises(Conflict) as conflict:
        account_delete(actor=org["manager"], account_id=account.pk)

    assert conflict.value.detail == detail


def test_transfer_notification_uses_the_recipients_language(org):
    first = make_account(org["rep1"], "北京甲公司")
    second = make_account(org["rep1"], "北京乙公司")
    org["rep2"].language = "en"
    org["rep2"].save(update_fields=["language"])

    records_transfer(actor=org["manager"], object_type="account", object_ids=[first.pk, second.pk],
                     to_user=org["rep2"])
    records_transfer(actor=org["manager"], object_type="account", object_ids=[first.pk], to_user=org["rep1"])

    assert Notification.objects.get(recipient=org["rep2"]).title == "2 account records transferred to you"
    assert Notification.objects.get(recipient=org["rep1"]).title == "1 条客户记录已转移给你"
