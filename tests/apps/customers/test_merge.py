"""Merging accounts and undoing the merge: exact re-pointing of every relation and exact restore."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from l2c.apps.activity import services as activity_services
from l2c.apps.activity.models import AuditEvent, FollowUp, Note, Todo
from l2c.apps.customers import merge, services
from l2c.apps.customers.models import (
    Account,
    AccountRfm,
    AccountTeamMember,
    Contact,
    CustomerTransaction,
    DuplicateKey,
    DuplicateProfile,
    RecordMerge,
    RiskEvent,
)
from l2c.apps.customers.risk import risk_levels_recompute
from l2c.apps.identity.models import Share
from l2c.kernel.errors import NotFound, PermissionDenied, ValidationFailed
from tests.conftest import make_account, make_contact

pytestmark = pytest.mark.django_db


def _row(account_id: int) -> dict[str, Any]:
    return Account.objects.filter(pk=account_id).values().get()


def _world(org: Any) -> dict[str, Any]:
    """Two duplicate accounts of rep1 (in the north department, managed by manager) with one of
    every relation, and a third unrelated account."""
    rep1 = org["rep1"]
    survivor = make_account(rep1, "北京星河科技有限公司", phone="010-62345678", city="北京", level="key",
                            tags=["重点", "华北"])
    merged = make_account(rep1, "北京星河科技股份有限公司", phone="010-62349999", credit_code="",
                          address="海淀区中关村大街1号", website="https://xinghe.example.com", tags=["华北", "展会"])
    Account.objects.filter(pk=merged.pk).update(custom={"tier": "A"})
    other = make_account(rep1, "上海远航物流有限公司")
    contacts = [make_contact(rep1, merged, "王强", mobile="13800138000"), make_contact(rep1, merged, "李娜")]
    survivor_contact = make_contact(rep1, survivor, "赵磊")
    followup = activity_services.followup_create(actor=rep1, object_type="account", object_id=merged.pk,
                                                 kind="call", content="电话沟通")
    note = activity_services.note_create(actor=rep1, object_type="account", object_id=merged.pk, body="备注")
    todo = activity_services.todo_create(actor=rep1, title="回访", object_type="account", object_id=merged.pk)
    share_moved = activity_services.record_share(actor=rep1, object_type="account", object_id=merged.pk,
                                                 user_id=org["rep3"].pk)
    share_kept = activity_services.record_share(actor=rep1, object_type="account", object_id=merged.pk,
                                                user_id=org["presales"].pk)
    activity_services.record_share(actor=rep1, object_type="account", object_id=survivor.pk,
                                   user_id=org["presales"].pk)
    team_both_survivor = services.account_team_set(actor=rep1, account_id=survivor.pk, user_id=org["rep2"].pk)
    team_both_merged = services.account_team_set(actor=rep1, account_id=merged.pk, user_id=org["rep2"].pk,
                                                 role="技术", access_level="edit")
    team_moved = services.account_team_set(actor=rep1, account_id=merged.pk, user_id=org["presales"].pk)
    day = dt.date(2026, 5, 1)
    transaction_moved = CustomerTransaction.objects.create(account=merged, occurred_on=day, amount_minor=10000,
                                                           reference="SO-1", source="import")
    transaction_blank = CustomerTransaction.objects.create(account=merged, occurred_on=day, amount_minor=500)
    CustomerTransaction.objects.create(account=survivor, occurred_on=day, amount_minor=20000, reference="SO-2",
                                       source="import")
    transaction_colliding = CustomerTransaction.objects.create(account=merged, occurred_on=day, amount_minor=20000,
                                                               reference="SO-2", source="import")
    risk = RiskEvent.objects.create(account=merged, source="qcc", event_id="E1", kind="lawsuit", severity="high",
                                    title="诉讼")
    risk_levels_recompute(account_ids=[merged.pk])
    rfm = AccountRfm.objects.create(account=merged, as_of=day, recency_days=3, frequency=2, monetary_minor=30500,
                                    recency_score=5, frequency_score=3, monetary_score=4, segment="champions",
                                    computed_at=timezone.now())
    return {
        "survivor": survivor, "merged": merged, "other": other, "contacts": contacts,
        "survivor_contact": survivor_contact, "followup": followup, "note": note, "todo": todo,
        "share_moved": share_moved, "share_kept": share_kept, "team_both_survivor": team_both_survivor,
        "team_both_merged": team_both_merged, "team_moved": team_moved, "transaction_moved": transaction_moved,
        "transaction_blank": transaction_blank, "transaction_colliding": transaction_colliding, "risk": risk,
        "rfm": rfm,
    }


def _related_state(account_id: int) -> dict[str, Any]:
    return {
        "contacts": sorted(Contact.objects.filter(account_id=account_id).values_list("pk", flat=True)),
        "followups": sorted(FollowUp.objects.filter(object_type="account", object_id=account_id)
                            .values_list("pk", flat=True)),
        "notes": sorted(Note.objects.filter(object_type="account", object_id=account_id).values_list("pk", flat=True)),
        "todos": sorted(Todo.objects.filter(object_type="account", object_id=account_id).values_list("pk", flat=True)),
        "shares": sorted(Share.objects.filter(object_type="account", object_id=account_id)
                         .values_list("pk", "user_id", "access")),
        "team": sorted(AccountTeamMember.objects.filter(account_id=account_id)
                       .values_list("pk", "user_id", "role", "access")),
        "tags": sorted(Account.tags.through.objects.filter(account_id=account_id).values_list("tag__name", flat=True)),
        "transactions": sorted(CustomerTransaction.objects.filter(account_id=account_id)
                               .values_list("pk", "reference", "amount_minor")),
        "risks": sorted(RiskEvent.objects.filter(account_id=account_id).values_list("pk", flat=True)),
        "rfm": list(AccountRfm.objects.filter(account_id=account_id).values_list("segment", "monetary_minor")),
        "keys": sorted(DuplicateKey.objects.filter(object_type="account", record_id=account_id)
                       .values_list("key", flat=True)),
        "profile": list(DuplicateProfile.objects.filter(object_type="account", record_id=account_id)
                        .values_list("name_core", "phones", "address")),
    }


def test_merge_repoints_every_relation_and_keeps_what_undo_needs(org: Any) -> None:
    world = _world(org)
    survivor, merged = world["survivor"], world["merged"]
    survivor_version = Account.objects.get(pk=survivor.pk).version

    [record] = merge.accounts_merge(actor=org["manager"], survivor_id=survivor.pk, merged_ids=[merged.pk],
                                    field_choices={"phone": merged.pk})

    assert not Account.objects.filter(pk=merged.pk).exists()
    after = Account.objects.get(pk=survivor.pk)
    assert after.phone == "010-62349999"  # chosen
    assert after.city == "北京" and after.level == "key"  # the survivor's
    assert after.address == "海淀区中关村大街1号"  # the survivor's was empty: the first non-empty
    assert after.website == "https://xinghe.example.com"
    assert after.custom == {"tier": "A"}
    assert after.name == "北京星河科技有限公司"
    assert after.risk_level == "high"  # the moved risk event's severity
    assert after.version == survivor_version + 1
    state = _related_state(survivor.pk)
    assert state["contacts"] == sorted([world["survivor_contact"].pk, *(c.pk for c in world["contacts"])])
    assert state["followups"] == [world["followup"].pk]
    assert state["notes"] == [world["note"].pk]
    assert world["todo"].pk in state["todos"]
    assert [share[0] for share in state["shares"]] == sorted([
        Share.objects.get(object_type="account", object_id=survivor.pk, user_id=org["presales"].pk).pk,
        world["share_moved"].pk])
    assert {member[1] for member in state["team"]} == {org["rep2"].pk, org["presales"].pk}
    assert world["team_moved"].pk in [member[0] for member in state["team"]]
    assert world["team_both_survivor"].pk in [member[0] for member in state["team"]]
    assert state["tags"] == ["华北", "展会", "重点"]
    assert [row[0] for row in state["transactions"]] == sorted(
        [world["transaction_moved"].pk, world["transaction_blank"].pk,
         CustomerTransaction.objects.get(account_id=survivor.pk, reference="SO-2").pk])
    assert state["risks"] == [world["risk"].pk]
    assert state["rfm"] == []  # recomputed by the next RFM run
    assert not AccountRfm.objects.filter(account_id=merged.pk).exists()
    assert not DuplicateKey.objects.filter(object_type="account", record_id=merged.pk).exists()
    assert not DuplicateProfile.objects.filter(object_type="account", record_id=merged.pk).exists()
    assert state["profile"][0][1] == "01062349999"
    assert "phone:01062349999" in state["keys"]

    record = RecordMerge.objects.get(pk=record.pk)
    assert (record.survivor_id, record.merged_id, record.survivor_version) == (survivor.pk, merged.pk,
                                                                               survivor_version + 1)
    assert record.repointed == {
        "activity.FollowUp.object_id": [world["followup"].pk],
        "activity.Note.object_id": [world["note"].pk],
        "activity.Todo.object_id": [world["todo"].pk],
        "identity.Share.object_id": [world["share_moved"].pk],
        "customers.Contact.account": sorted(c.pk for c in world["contacts"]),
        "customers.AccountTeamMember.account": [world["team_moved"].pk],
        "customers.CustomerTransaction.account": sorted([world["transaction_moved"].pk,
                                                         world["transaction_blank"].pk]),
        "customers.RiskEvent.account": [world["risk"].pk],
    }
    assert record.survivor_before == {"phone": "010-62345678", "address": "", "website": "", "custom.tier": None,
                                      "last_followed_up_at": None}  # the survivor took the later follow-up date
    kept = record.merged_snapshot["kept_aside"]
    assert [row["id"] for row in kept["identity.Share.object_id"]] == [world["share_kept"].pk]
    assert [row["id"] for row in kept["customers.AccountTeamMember.account"]] == [world["team_both_merged"].pk]
    assert [row["id"] for row in kept["customers.CustomerTransaction.account"]] == [
        world["transaction_colliding"].pk]
    assert [row["account_id"] for row in kept["customers.AccountRfm.account"]] == [merged.pk]
    assert record.merged_snapshot["record"]["name"] == "北京星河科技股份有限公司"

    merged_events = AuditEvent.objects.filter(object_type="account", object_id=merged.pk).order_by("pk")
    assert merged_events.first().action == AuditEvent.Kind.CREATE  # its history is kept
    last = merged_events.last()
    assert last.action == AuditEvent.Kind.MERGE
    assert last.changes == {"merge_id": [None, record.pk], "survivor_id": [None, survivor.pk]}
    survivor_event = AuditEvent.objects.filter(object_type="account", object_id=survivor.pk).latest("pk")
    assert survivor_event.action == AuditEvent.Kind.MERGE
    assert survivor_event.changes["phone"] == ["010-62345678", "010-62349999"]
    assert merge.merged_into("account", merged.pk).pk == record.pk


def test_undo_restores_exactly(org: Any) -> None:
    world = _world(org)
    survivor, merged = world["survivor"], world["merged"]
    merged_row = _row(merged.pk)
    survivor_row = _row(survivor.pk)
    merged_state = _related_state(merged.pk)
    survivor_state = _related_state(survivor.pk)
    [record] = merge.accounts_merge(actor=org["manager"], survivor_id=survivor.pk, merged_ids=[merged.pk],
                                    field_choices={"phone": merged.pk, "owner": merged.pk})

    merge.merge_undo(actor=org["manager"], merge_id=record.pk)

    restored = _row(merged.pk)
    assert restored == merged_row  # every column, including created_at, updated_at and version
    survivor_now = _row(survivor.pk)
    for name, value in survivor_row.items():
        if name not in ("version", "updated_at"):
            assert survivor_now[name] == value, name
    assert survivor_now["version"] == survivor_row["version"] + 2
    assert _related_state(merged.pk) == merged_state
    assert _related_state(survivor.pk) == survivor_state
    record.refresh_from_db()
    assert record.undone_at is not None and record.undone_by == org["manager"]
    assert merge.merged_into("account", merged.pk) is None
    event = AuditEvent.objects.filter(object_type="account", object_id=survivor.pk).latest("pk")
    assert event.changes["phone"] == ["010-62349999", "010-62345678"]
    assert event.changes["undone_merge_id"] == [None, record.pk]


def test_rep_without_delete_gets_403_and_nothing_changes(org: Any, api_client_for: Any) -> None:
    world = _world(org)
    survivor, merged = world["survivor"], world["merged"]
    before = (_row(survivor.pk), _row(merged.pk), _related_state(survivor.pk), _related_state(merged.pk))

    with pytest.raises(PermissionDenied):
        merge.accounts_merge(actor=org["rep1"], survivor_id=survivor.pk, merged_ids=[merged.pk])
    response = api_client_for("rep1").post("/api/v1/accounts/merge", {
        "survivor_id": survivor.pk, "merged_ids": [merged.pk], "field_choices": {}}, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert (_row(survivor.pk), _row(merged.pk), _related_state(survivor.pk), _related_state(merged.pk)) == before
    assert not RecordMerge.objects.exists()


def test_invisible_record_is_404_and_bad_choices_are_field_errors(org: Any) -> None:
    world = _world(org)
    theirs = make_account(org["rep3"], "杭州某某贸易有限公司")
    with pytest.raises(NotFound):
        merge.accounts_merge(actor=org["manager"], survivor_id=world["survivor"].pk, merged_ids=[theirs.pk])
    with pytest.raises(ValidationFailed) as failure:
        merge.accounts_merge(actor=org["manager"], survivor_id=world["survivor"].pk,
                             merged_ids=[world["merged"].pk, world["survivor"].pk],
                             field_choices={"phone": world["other"].pk, "colour": world["merged"].pk})
    assert {(error.field, error.code) for error in failure.value.errors} == {
        ("merged_ids", "survivor_in_merged"), ("field_choices.phone", "not_in_merge"),
        ("field_choices.colour", "unknown_field")}
    assert Account.objects.filter(pk=world["merged"].pk).exists()


def test_undo_refused_after_a_change_of_the_survivor_or_twice(org: Any, api_client_for: Any) -> None:
    world = _world(org)
    survivor, merged = world["survivor"], world["merged"]
    [record] = merge.accounts_merge(actor=org["manager"], survivor_id=survivor.pk, merged_ids=[merged.pk])
    services.account_update(actor=org["rep1"], account_id=survivor.pk, data={"city": "天津"})
    client = api_client_for("manager")

    response = client.post(f"/api/v1/merges/{record.pk}/undo")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "survivor_changed"
    assert "北京星河科技有限公司" in body["detail"]
    assert not Account.objects.filter(pk=merged.pk).exists()
    record.refresh_from_db()
    assert record.undone_at is None

    other = make_account(org["rep1"], "广州远景电子有限公司")
    second = make_account(org["rep1"], "广州远景电子股份有限公司")
    [again] = merge.accounts_merge(actor=org["manager"], survivor_id=other.pk, merged_ids=[second.pk])
    assert client.post(f"/api/v1/merges/{again.pk}/undo").status_code == 200
    repeat = client.post(f"/api/v1/merges/{again.pk}/undo")
    assert repeat.status_code == 409
    assert repeat.json()["code"] == "merge_undone"


def test_merging_two_records_at_once_is_undone_as_one_operation(org: Any) -> None:
    rep1 = org["rep1"]
    survivor = make_account(rep1, "深圳蓝海科技有限公司")
    first = make_account(rep1, "深圳蓝海科技股份有限公司", phone="0755-88888888")
    second = make_account(rep1, "深圳市蓝海科技有限公司", address="南山区科技园")
    merges = merge.accounts_merge(actor=org["manager"], survivor_id=survivor.pk, merged_ids=[first.pk, second.pk])
    assert [item.merged_id for item in merges] == [first.pk, second.pk]
    assert merges[0].survivor_before == {"phone": ""} and merges[1].survivor_before == {"address": ""}

    undone = merge.merge_undo(actor=org["manager"], merge_id=merges[1].pk)

    assert sorted(item.merged_id for item in undone) == [first.pk, second.pk]
    assert Account.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
    assert Account.objects.get(pk=survivor.pk).phone == ""


def test_later_module_relation_registered_is_repointed(org: Any) -> None:
    world = _world(org)
    merge.register_relation("account", "activity.Todo", "object_id", type_field="object_type")  # idempotent
    assert [relation.key for relation in merge.relations("account")].count("activity.Todo.object_id") == 1
    [record] = merge.accounts_merge(actor=org["admin"], survivor_id=world["survivor"].pk,
                                    merged_ids=[world["merged"].pk])
    assert record.repointed["activity.Todo.object_id"] == [world["todo"].pk]


def test_merged_account_url_redirects_to_the_survivor(org: Any, client: Any) -> None:
    world = _world(org)
    merge.accounts_merge(actor=org["manager"], survivor_id=world["survivor"].pk, merged_ids=[world["merged"].pk])
    client.force_login(org["rep1"])

    response = client.get(f"/accounts/{world['merged'].pk}/", follow=True)

    assert response.redirect_chain[-1][0] == f"/accounts/{world['survivor'].pk}/"
    assert "已合并到" in response.content.decode()


def test_timeline_merge_entry_has_an_undo_button_until_undone(org: Any, client: Any) -> None:
    world = _world(org)
    survivor = world["survivor"]
    [record] = merge.accounts_merge(actor=org["manager"], survivor_id=survivor.pk, merged_ids=[world["merged"].pk])
    client.force_login(org["manager"])
    undo_url = f"/merges/{record.pk}/undo/"

    page = client.get(f"/accounts/{survivor.pk}/").content.decode()
    assert page.count(f'action="{undo_url}"') == 1
    assert "merge_id" not in page
    panel = client.get(f"/accounts/{survivor.pk}/merges/").content.decode()
    assert f'action="{undo_url}"' in panel and "北京星河科技股份有限公司" in panel

    response = client.post(undo_url)
    assert response.status_code == 302 and response["Location"] == f"/accounts/{world['merged'].pk}/"
    page = client.get(f"/accounts/{survivor.pk}/").content.decode()
    assert undo_url not in page
    assert "撤销合并：恢复了客户" in page


def test_owner_chosen_from_a_merged_account_is_a_recorded_transfer_and_undo_gives_it_back(org: Any) -> None:
    from l2c.apps.identity.models import OwnershipTransfer

    survivor = make_account(org["rep1"], "北京星河科技有限公司")
    merged = make_account(org["rep3"], "北京星河科技股份有限公司")  # another department
    director = org["director"]
    [record] = merge.accounts_merge(actor=director, survivor_id=survivor.pk, merged_ids=[merged.pk],
                                    field_choices={"owner": merged.pk})

    after = Account.objects.get(pk=survivor.pk)
    assert (after.owner_id, after.department_id) == (org["rep3"].pk, org.east.pk)
    assert record.survivor_before == {"owner": org["rep1"].pk, "owner_department": org.north.pk}
    assert list(OwnershipTransfer.objects.filter(object_id=survivor.pk).values_list("from_user", "to_user", "via")) \
        == [(org["rep1"].pk, org["rep3"].pk, "merge")]

    merge.merge_undo(actor=director, merge_id=record.pk)

    after = Account.objects.get(pk=survivor.pk)
    assert (after.owner_id, after.department_id) == (org["rep1"].pk, org.north.pk)
    assert Account.objects.get(pk=merged.pk).owner_id == org["rep3"].pk
    assert OwnershipTransfer.objects.filter(object_id=survivor.pk, via="merge_undo").count() == 1


def test_every_relation_pointing_at_an_account_is_in_the_merge_registry() -> None:
    """A later module that adds a foreign key to Account must register it (merge.register_relation),
    else a merge would cascade-delete its rows or fail on PROTECT."""
    from l2c.apps.customers import merge
    from l2c.apps.customers.models import Account

    registered = {relation.key for relation in merge.relations("account")}
    pointing = {f"{rel.related_model._meta.label}.{rel.field.name}" for rel in Account._meta.related_objects
                if not rel.many_to_many}  # tags (many-to-many) are combined by the merge itself

    assert pointing - registered == set()


def test_a_merge_seen_only_through_its_merged_record_hides_the_survivors_former_values(org, api_client_for) -> None:
    from l2c.apps.customers import merge
    from l2c.apps.customers.models import RecordMerge

    survivor = make_account(org["rep3"], "上海合并保留有限公司", phone="021-11112222")
    merged = make_account(org["rep3"], "上海合并保留（分部）有限公司", phone="")
    merge.accounts_merge(actor=org["admin"], survivor_id=survivor.pk, merged_ids=[merged.pk],
                         field_choices={"phone": merged.pk})
    record = RecordMerge.objects.get()
    merge.merge_undo(actor=org["admin"], merge_id=record.pk)
    from l2c.apps.customers.pool import accounts_transfer

    accounts_transfer(actor=org["admin"], account_ids=[merged.pk], to_user=org["rep1"])  # rep1 sees only it

    seen_by_rep1 = api_client_for("rep1").get(f"/api/v1/merges/{record.pk}")
    seen_by_admin = api_client_for("admin").get(f"/api/v1/merges/{record.pk}")

    assert seen_by_rep1.status_code == 200 and seen_by_rep1.json()["survivor_before"] == {}
    assert seen_by_admin.json()["survivor_before"] == {"phone": "021-11112222"}
