"""Merging contacts and undoing it: relations (follow-ups, colleagues reporting to the merged one),
the survivor that reported to a merged contact, permissions."""

from __future__ import annotations

from typing import Any

import pytest

from l2c.apps.activity import services as activity_services
from l2c.apps.activity.models import FollowUp
from l2c.apps.customers import merge
from l2c.apps.customers.models import Contact, DuplicateKey, RecordMerge
from l2c.kernel.errors import PermissionDenied
from tests.conftest import make_account, make_contact

pytestmark = pytest.mark.django_db


def _row(contact_id: int) -> dict[str, Any]:
    return Contact.objects.filter(pk=contact_id).values().get()


def test_contact_merge_repoints_and_undo_restores(org: Any, api_client_for: Any) -> None:
    rep1 = org["rep1"]
    account = make_account(rep1, "北京星河科技有限公司")
    other_account = make_account(rep1, "上海远航物流有限公司")
    boss = make_contact(rep1, account, "王总")
    merged = make_contact(rep1, account, "王强", mobile="13800138000", title="经理")
    survivor = make_contact(rep1, other_account, "王强", email="wq@example.com")
    Contact.objects.filter(pk=merged.pk).update(reports_to=boss)
    Contact.objects.filter(pk=survivor.pk).update(reports_to=merged)  # would report to itself
    report = make_contact(rep1, account, "李娜")
    Contact.objects.filter(pk=report.pk).update(reports_to=merged)
    followup = activity_services.followup_create(actor=rep1, object_type="contact", object_id=merged.pk,
                                                 kind="call", content="电话")
    before = {pk: _row(pk) for pk in (merged.pk, survivor.pk, report.pk, boss.pk)}

    response = api_client_for("manager").post("/api/v1/contacts/merge", {
        "survivor_id": survivor.pk, "merged_ids": [merged.pk], "field_choices": {"account": merged.pk}},
        content_type="application/json")

    assert response.status_code == 200
    [record] = RecordMerge.objects.filter(object_type="contact")
    after = Contact.objects.get(pk=survivor.pk)
    assert (after.account_id, after.mobile, after.title, after.email) == (account.pk, "13800138000", "经理",
                                                                         "wq@example.com")
    assert after.reports_to_id is None
    assert Contact.objects.get(pk=report.pk).reports_to_id == survivor.pk
    assert FollowUp.objects.get(pk=followup.pk).object_id == survivor.pk
    assert not Contact.objects.filter(pk=merged.pk).exists()
    assert record.repointed == {"activity.FollowUp.object_id": [followup.pk],
                                "customers.Contact.reports_to": [report.pk]}
    assert record.survivor_before == {"account": other_account.pk, "mobile": "", "title": "", "reports_to": merged.pk}
    assert DuplicateKey.objects.filter(object_type="contact", record_id=survivor.pk, key="phone:13800138000").exists()

    undo = api_client_for("manager").post(f"/api/v1/merges/{record.pk}/undo")

    assert undo.status_code == 200
    for pk, row in before.items():
        now = _row(pk)
        if pk == survivor.pk:
            assert {k: v for k, v in now.items() if k not in ("version", "updated_at")} == {
                k: v for k, v in row.items() if k not in ("version", "updated_at")}
        else:
            assert now == row, pk
    assert FollowUp.objects.get(pk=followup.pk).object_id == merged.pk


def test_contact_merge_needs_delete_on_the_merged_contact(org: Any, client: Any) -> None:
    rep1 = org["rep1"]
    account = make_account(rep1, "北京星河科技有限公司")
    first = make_contact(rep1, account, "王强", mobile="13800138000")
    second = make_contact(rep1, account, "王强", mobile="13800138000")
    with pytest.raises(PermissionDenied):
        merge.contacts_merge(actor=rep1, survivor_id=first.pk, merged_ids=[second.pk])
    assert Contact.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
    assert not RecordMerge.objects.exists()

    merge.contacts_merge(actor=org["manager"], survivor_id=first.pk, merged_ids=[second.pk])
    client.force_login(rep1)
    response = client.get(f"/contacts/{second.pk}/", follow=True)
    assert response.redirect_chain[-1][0] == f"/contacts/{first.pk}/"
