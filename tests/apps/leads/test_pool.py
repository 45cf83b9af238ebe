"""Lead pools (线索池): membership, claim rules (quota, cap, cool-down), release, manager assign, owner
change, activity moving the deadline, the reclaim job and its reminders, settings, permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _pool(org, **rules):
    from l2c.apps.leads.pools import lead_pool_save

    data = {"name": rules.pop("name", "华北线索池"), "member_department_ids": [org.north.pk], **rules}
    return lead_pool_save(actor=org["admin"], data=data)


def _pooled(pool, name="王磊", company="北京线索科技有限公司", **fields):
    from l2c.apps.leads.models import Lead

    return Lead.objects.create(name=name, company=company, pool=pool, pool_entered_at=timezone.now(), **fields)


def _owner(lead_id):
    from l2c.apps.leads.models import Lead

    return Lead.objects.values_list("owner_id", flat=True).get(pk=lead_id)


def _fresh(user):
    """The user as a new request sees them (no cached pool membership)."""
    from l2c.apps.identity.models import User

    return User.objects.get(pk=user.pk)


def test_membership_by_department_includes_sub_departments_and_excludes_others(org):
    from l2c.apps.leads.pools import member_lead_pools

    center_pool = _pool(org, name="中心线索池", member_department_ids=[org.center.pk])
    east_only = _pool(org, name="华东线索池", member_department_ids=[org.east.pk], include_subdepartments=False)

    assert list(member_lead_pools(org["rep1"])) == [center_pool]
    assert sorted(p.name for p in member_lead_pools(org["rep3"])) == ["中心线索池", "华东线索池"]
    assert list(member_lead_pools(org["marketing"])) == []
    assert east_only in member_lead_pools(org["admin"])


def test_claim_takes_the_lead_sets_the_deadline_and_keeps_history(org):
    from l2c.apps.activity.models import AuditEvent
    from l2c.apps.identity.models import OwnershipTransfer
    from l2c.apps.leads.pools import lead_claim

    pool = _pool(org, reclaim_after_days=7)
    lead = _pooled(pool)

    claimed = lead_claim(actor=org["rep1"], lead_id=lead.pk)

    assert (claimed.owner_id, claimed.department_id, claimed.pool_id) == (org["rep1"].pk, org.north.pk, pool.pk)
    assert claimed.pool_entered_at is None
    assert claimed.reclaim_due_at == claimed.held_since + dt.timedelta(days=7)
    assert claimed.version == lead.version + 1
    history = OwnershipTransfer.objects.filter(object_type="lead", object_id=lead.pk)
    assert [(row.via, row.from_user_id, row.to_user_id) for row in history] == [("claim", None, org["rep1"].pk)]
    event = AuditEvent.objects.filter(object_type="lead", object_id=lead.pk).latest("pk")
    assert (event.action, event.changes) == (AuditEvent.Kind.TRANSFER, {"owner_id": [None, org["rep1"].pk]})


def test_a_second_claim_is_409_already_claimed_and_a_non_member_gets_404_with_nothing_changed(org):
    from l2c.apps.leads.models import LeadClaimCounter
    from l2c.apps.leads.pools import LeadPoolConflict, lead_claim
    from l2c.kernel.errors import NotFound

    pool = _pool(org)
    lead, other = _pooled(pool), _pooled(pool, name="李娜")
    lead_claim(actor=org["rep1"], lead_id=lead.pk)

    with pytest.raises(LeadPoolConflict) as error:
        lead_claim(actor=org["rep2"], lead_id=lead.pk)
    assert error.value.code == "already_claimed"
    assert error.value.status == 409
    with pytest.raises(NotFound):
        lead_claim(actor=org["rep3"], lead_id=other.pk)
    assert _owner(lead.pk) == org["rep1"].pk and _owner(other.pk) is None
    assert not LeadClaimCounter.objects.filter(user=org["rep3"]).exists()
    assert not LeadClaimCounter.objects.filter(user=org["rep2"], claimed__gt=0).exists()


def test_daily_quota_stops_the_next_claim_and_leaves_no_trace(org):
    from l2c.apps.leads.models import LeadClaimCounter
    from l2c.apps.leads.pools import LeadPoolConflict, lead_claim

    pool = _pool(org, daily_claim_quota=2)
    leads = [_pooled(pool, name=f"配额{i}") for i in range(3)]
    lead_claim(actor=org["rep1"], lead_id=leads[0].pk)
    lead_claim(actor=org["rep1"], lead_id=leads[1].pk)

    with pytest.raises(LeadPoolConflict) as error:
        lead_claim(actor=org["rep1"], lead_id=leads[2].pk)

    assert error.value.code == "claim_quota_reached"
    assert "2 条线索" in error.value.detail
    assert _owner(leads[2].pk) is None
    assert LeadClaimCounter.objects.get(user=org["rep1"], pool=pool).claimed == 2
    assert lead_claim(actor=org["rep2"], lead_id=leads[2].pk).owner_id == org["rep2"].pk  # per user


def test_cap_on_held_leads_counts_every_lead_held_under_the_pool(org):
    from l2c.apps.leads.pools import LeadPoolConflict, lead_claim

    pool = _pool(org, max_held_per_rep=1)
    first, second = _pooled(pool, name="上限一"), _pooled(pool, name="上限二")
    lead_claim(actor=org["rep1"], lead_id=first.pk)

    with pytest.raises(LeadPoolConflict) as error:
        lead_claim(actor=org["rep1"], lead_id=second.pk)

    assert error.value.code == "held_cap_reached"
    assert "上限 1 条" in error.value.detail
    assert _owner(second.pk) is None


def test_previous_owner_waits_for_the_cool_down_others_do_not(org):
    from l2c.apps.leads.models import LeadPoolExit
    from l2c.apps.leads.pools import LeadPoolConflict, lead_claim, lead_release

    pool = _pool(org, reclaim_cooldown_days=3)
    lead = _pooled(pool)
    lead_claim(actor=org["rep1"], lead_id=lead.pk)
    lead_release(actor=org["rep1"], lead_id=lead.pk, reason="暂无需求")

    with pytest.raises(LeadPoolConflict) as error:
        lead_claim(actor=_fresh(org["rep1"]), lead_id=lead.pk)
    assert error.value.code == "claim_cooldown"
    assert LeadPoolExit.objects.get(lead=lead).reason == "release"
    assert lead_claim(actor=org["rep2"], lead_id=lead.pk).owner_id == org["rep2"].pk
    # Once the cool-down has passed the previous owner may claim again.
    LeadPoolExit.objects.update(at=timezone.now() - dt.timedelta(days=4))
    lead_release(actor=org["rep2"], lead_id=lead.pk, reason="转回")
    assert lead_claim(actor=_fresh(org["rep1"]), lead_id=lead.pk).owner_id == org["rep1"].pk


def test_release_needs_a_reason_and_the_owner_or_a_manager(org):
    from l2c.apps.activity.models import Notification
    from l2c.apps.identity.models import OwnershipTransfer
    from l2c.apps.leads.pools import lead_claim, lead_release
    from l2c.kernel.errors import NotFound, ValidationFailed

    pool = _pool(org, reclaim_after_days=5)
    lead = _pooled(pool)
    lead_claim(actor=org["rep1"], lead_id=lead.pk)

    with pytest.raises(ValidationFailed) as error:
        lead_release(actor=org["rep1"], lead_id=lead.pk, reason="  ")
    assert [(e.field, e.code) for e in error.value.errors] == [("reason", "required")]
    with pytest.raises(NotFound):  # rep2 cannot even see rep1's lead
        lead_release(actor=org["rep2"], lead_id=lead.pk, reason="抢线索")
    assert _owner(lead.pk) == org["rep1"].pk

    released = lead_release(actor=org["manager"], lead_id=lead.pk, reason="长期未跟进")

    assert (released.owner_id, released.pool_id, released.reclaim_due_at, released.held_since) == (
        None, pool.pk, None, None)
    assert released.pool_entered_at is not None
    row = OwnershipTransfer.objects.get(object_type="lead", object_id=lead.pk, via="release")
    assert (row.from_user_id, row.reason, row.actor_id) == (org["rep1"].pk, "长期未跟进", org["manager"].pk)
    assert Notification.objects.filter(recipient=org["rep1"], kind="lead_pool_release").count() == 1


def test_release_of_a_lead_owned_outside_pools_needs_a_target_pool(org):
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import lead_release
    from l2c.kernel.errors import ValidationFailed

    pool = _pool(org)
    lead = Lead.objects.create(name="直属线索", owner=org["rep1"], department=org.north)

    with pytest.raises(ValidationFailed) as error:
        lead_release(actor=org["rep1"], lead_id=lead.pk, reason="不跟了")
    assert [(e.field, e.code) for e in error.value.errors] == [("pool_id", "required")]
    released = lead_release(actor=org["rep1"], lead_id=lead.pk, reason="不跟了", pool_id=pool.pk)
    assert (released.owner_id, released.pool_id) == (None, pool.pk)


def test_pool_assign_by_a_manager_is_all_or_nothing_and_respects_the_cap(org):
    from l2c.apps.identity.models import OwnershipTransfer
    from l2c.apps.leads.pools import LeadPoolConflict, leads_pool_assign
    from l2c.kernel.errors import NotFound, PermissionDenied

    pool = _pool(org, max_held_per_rep=2, daily_claim_quota=1)
    ids = [_pooled(pool, name=f"分配{i}").pk for i in range(3)]

    with pytest.raises(PermissionDenied):
        leads_pool_assign(actor=org["rep1"], pool_id=pool.pk, lead_ids=ids[:1], to_user=org["rep2"])
    with pytest.raises(LeadPoolConflict) as error:
        leads_pool_assign(actor=org["manager"], pool_id=pool.pk, lead_ids=ids, to_user=org["rep2"])
    assert error.value.code == "held_cap_reached"
    with pytest.raises(NotFound):
        leads_pool_assign(actor=org["manager"], pool_id=pool.pk, lead_ids=[ids[0], 999999], to_user=org["rep2"])
    assert [_owner(i) for i in ids] == [None, None, None]

    # The daily claim quota (1) does not bind a manager's assignment.
    assert leads_pool_assign(actor=org["manager"], pool_id=pool.pk, lead_ids=ids[:2], to_user=org["rep2"]) == 2
    assert [_owner(i) for i in ids] == [org["rep2"].pk, org["rep2"].pk, None]
    assert OwnershipTransfer.objects.filter(object_type="lead", via="pool_assign").count() == 2


def test_owner_change_needs_transfer_and_restarts_the_hold_under_the_cap(org):
    from l2c.apps.identity.models import OwnershipTransfer
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import LeadPoolConflict, lead_claim, leads_owner_change
    from l2c.kernel.errors import PermissionDenied

    pool = _pool(org, max_held_per_rep=1, reclaim_after_days=10)
    first, second = _pooled(pool, name="转移一"), _pooled(pool, name="转移二")
    plain = Lead.objects.create(name="直属", owner=org["rep1"], department=org.north)
    lead_claim(actor=org["rep1"], lead_id=first.pk)
    lead_claim(actor=org["rep2"], lead_id=second.pk)

    with pytest.raises(PermissionDenied):
        leads_owner_change(actor=org["rep1"], lead_ids=[plain.pk], to_user=org["rep2"], via="transfer")
    with pytest.raises(PermissionDenied):  # rep3 is outside the manager's scope
        leads_owner_change(actor=org["manager"], lead_ids=[plain.pk], to_user=org["rep3"], via="transfer")
    with pytest.raises(LeadPoolConflict) as error:
        leads_owner_change(actor=org["manager"], lead_ids=[first.pk, plain.pk], to_user=org["rep2"], via="transfer")
    assert error.value.code == "held_cap_reached"
    assert (_owner(first.pk), _owner(plain.pk)) == (org["rep1"].pk, org["rep1"].pk)

    before = Lead.objects.get(pk=first.pk).held_since
    count = leads_owner_change(actor=org["manager"], lead_ids=[first.pk, plain.pk], to_user=org["manager"],
                               via="transfer", reason="调整分工")

    assert count == 2
    moved, direct = Lead.objects.get(pk=first.pk), Lead.objects.get(pk=plain.pk)
    assert moved.owner_id == org["manager"].pk and moved.held_since > before
    assert moved.reclaim_due_at == moved.held_since + dt.timedelta(days=10)
    assert (direct.owner_id, direct.pool_id, direct.reclaim_due_at) == (org["manager"].pk, None, None)
    rows = OwnershipTransfer.objects.filter(object_type="lead", via="transfer").values_list("object_id", "reason")
    assert sorted(rows) == sorted([(first.pk, "调整分工"), (plain.pk, "调整分工")])
    assert leads_owner_change(actor=org["manager"], lead_ids=[plain.pk], to_user=org["manager"], via="transfer") == 0


def test_follow_up_on_a_held_lead_moves_its_activity_and_deadline(org):
    from l2c.apps.activity.services import followup_create
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import lead_claim, lead_touched

    pool = _pool(org, reclaim_after_days=5)
    lead = _pooled(pool)
    lead_claim(actor=org["rep1"], lead_id=lead.pk)
    held_since = timezone.now() - dt.timedelta(days=3)
    Lead.objects.filter(pk=lead.pk).update(held_since=held_since, reclaim_due_at=held_since + dt.timedelta(days=5))
    at = held_since + dt.timedelta(days=2)

    followup_create(actor=org["rep1"], object_type="lead", object_id=lead.pk, kind="call", content="电话沟通",
                    occurred_at=at)

    after = Lead.objects.get(pk=lead.pk)
    assert after.last_activity_at == at
    assert after.reclaim_due_at == at + dt.timedelta(days=5)
    # Activity never moves backwards.
    lead_touched(lead_id=lead.pk, at=held_since - dt.timedelta(days=3))
    assert Lead.objects.get(pk=lead.pk).last_activity_at == after.last_activity_at


def test_reclaim_job_returns_overdue_leads_notifies_and_is_idempotent(org):
    from l2c.apps.activity.models import Notification
    from l2c.apps.identity.models import OwnershipTransfer
    from l2c.apps.leads.models import Lead, LeadPoolExit
    from l2c.apps.leads.pools import lead_claim, lead_pools_reclaim, reclaim_reason_text

    pool = _pool(org, reclaim_after_days=5)
    overdue, fresh = _pooled(pool, name="逾期"), _pooled(pool, name="新领")
    lead_claim(actor=org["rep1"], lead_id=overdue.pk)
    lead_claim(actor=org["rep1"], lead_id=fresh.pk)
    now = timezone.now()
    Lead.objects.filter(pk=overdue.pk).update(held_since=now - dt.timedelta(days=6),
                                              reclaim_due_at=now - dt.timedelta(days=1))

    assert lead_pools_reclaim(now=now) == 1
    assert lead_pools_reclaim(now=now) == 0

    assert _owner(overdue.pk) is None and _owner(fresh.pk) == org["rep1"].pk
    assert Lead.objects.get(pk=overdue.pk).pool_entered_at == now
    reclaim = OwnershipTransfer.objects.get(object_type="lead", object_id=overdue.pk, via="reclaim")
    assert (reclaim.from_user_id, reclaim.reason, reclaim_reason_text(reclaim.reason)) == (
        org["rep1"].pk, "no_activity:5", "5 天未跟进")
    assert LeadPoolExit.objects.get(lead=overdue).reason == "reclaim"
    titles = Notification.objects.filter(recipient=org["rep1"], kind="lead_pool_reclaim").values_list("title",
                                                                                                      flat=True)
    assert list(titles) == ["线索“逾期”已被回收到线索池“华北线索池”"]


def test_reclaim_job_with_time_passed_reclaims_only_after_the_deadline(org):
    from l2c.apps.leads.pools import lead_claim, lead_pools_reclaim

    pool = _pool(org, reclaim_after_days=5)
    lead = _pooled(pool)
    held = lead_claim(actor=org["rep1"], lead_id=lead.pk)

    assert lead_pools_reclaim(now=held.held_since + dt.timedelta(days=4, hours=23)) == 0
    assert _owner(lead.pk) == org["rep1"].pk
    assert lead_pools_reclaim(now=held.held_since + dt.timedelta(days=5)) == 1
    assert _owner(lead.pk) is None


def test_reclaim_job_reschedules_when_activity_was_recorded_without_the_deadline(org):
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import lead_claim, lead_pools_reclaim

    pool = _pool(org, reclaim_after_days=5)
    lead = _pooled(pool)
    lead_claim(actor=org["rep1"], lead_id=lead.pk)
    now = timezone.now()
    # Activity written by a bulk path that did not move the deadline: the job must look again.
    Lead.objects.filter(pk=lead.pk).update(held_since=now - dt.timedelta(days=9),
                                           last_activity_at=now - dt.timedelta(days=1),
                                           reclaim_due_at=now - dt.timedelta(days=4))

    assert lead_pools_reclaim(now=now) == 0
    assert Lead.objects.get(pk=lead.pk).reclaim_due_at == now + dt.timedelta(days=4)
    assert _owner(lead.pk) == org["rep1"].pk


def test_reclaim_and_a_concurrent_edit_cannot_overwrite_each_other(org, monkeypatch):
    from l2c.apps.leads import pools as pool_module
    from l2c.apps.leads.models import Lead

    pool = _pool(org, reclaim_after_days=5)
    lead = _pooled(pool)
    pool_module.lead_claim(actor=org["rep1"], lead_id=lead.pk)
    now = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(held_since=now - dt.timedelta(days=6),
                                           reclaim_due_at=now - dt.timedelta(hours=1))
    version = Lead.objects.get(pk=lead.pk).version
    real_due_of = pool_module.due_of

    def due_then_edit(row, pool_):
        # An edit (compare-and-set on the version, as lead_update does) commits between read and write.
        Lead.objects.filter(pk=row.pk, version=version).update(city="天津", version=version + 1)
        return real_due_of(row, pool_)

    monkeypatch.setattr(pool_module, "due_of", due_then_edit)
    assert pool_module.lead_pools_reclaim(now=now) == 0
    monkeypatch.setattr(pool_module, "due_of", real_due_of)

    assert Lead.objects.values_list("owner_id", "city", "version").get(pk=lead.pk) == (
        org["rep1"].pk, "天津", version + 1)
    assert pool_module.lead_pools_reclaim(now=now) == 1
    assert Lead.objects.values_list("owner_id", "city").get(pk=lead.pk) == (None, "天津")


def test_reminder_is_sent_once_per_deadline_and_again_after_new_activity(org):
    from l2c.apps.activity.models import Notification
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import lead_claim, lead_pools_remind, lead_touched

    pool = _pool(org, reclaim_after_days=10, reminder_days=3)
    lead = _pooled(pool)
    held = lead_claim(actor=org["rep1"], lead_id=lead.pk)

    assert lead_pools_remind(now=held.held_since + dt.timedelta(days=6)) == 0  # too early
    assert lead_pools_remind(now=held.held_since + dt.timedelta(days=8)) == 1
    assert lead_pools_remind(now=held.held_since + dt.timedelta(days=9)) == 0
    assert Notification.objects.filter(recipient=org["rep1"], kind="lead_pool_reminder").count() == 1

    lead_touched(lead_id=lead.pk, at=timezone.now())
    later = Lead.objects.get(pk=lead.pk).reclaim_due_at - dt.timedelta(days=2)
    assert lead_pools_remind(now=later) == 1
    assert Notification.objects.filter(recipient=org["rep1"], kind="lead_pool_reminder").count() == 2


def test_changing_the_reclaim_rule_reschedules_held_leads(org):
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import lead_claim, lead_pool_reschedule, lead_pool_save

    pool = _pool(org, reclaim_after_days=5)
    lead = _pooled(pool)
    held = lead_claim(actor=org["rep1"], lead_id=lead.pk)

    lead_pool_save(actor=org["admin"], pool_id=pool.pk, data={"reclaim_after_days": 9})
    assert lead_pool_reschedule(pool.pk) == 1

    assert Lead.objects.get(pk=lead.pk).reclaim_due_at == held.held_since + dt.timedelta(days=9)


def test_pool_settings_are_validated_and_only_admins_and_marketing_manage_them(org):
    from l2c.apps.leads.models import LeadPool
    from l2c.apps.leads.pools import lead_pool_save
    from l2c.kernel.errors import PermissionDenied, ValidationFailed

    with pytest.raises(PermissionDenied):
        lead_pool_save(actor=org["manager"], data={"name": "经理线索池"})
    with pytest.raises(ValidationFailed) as error:
        lead_pool_save(actor=org["admin"], data={"name": "", "reclaim_after_days": 0, "daily_claim_quota": "many",
                                                 "member_user_ids": [999999]})
    assert sorted((e.field, e.code) for e in error.value.errors) == [
        ("daily_claim_quota", "invalid"), ("member_user_ids", "invalid"), ("name", "required"),
        ("reclaim_after_days", "out_of_range")]
    assert not LeadPool.objects.exists()
    pool = lead_pool_save(actor=org["marketing"], data={"name": "市场线索池", "member_user_ids": [org["rep3"].pk]})
    assert list(pool.member_users.values_list("username", flat=True)) == ["rep3"]


def test_pool_members_browse_unowned_pooled_leads_on_the_pool_only(org):
    from l2c.apps.identity import access
    from l2c.apps.leads.pools import lead_claim, lead_pool_for_member, pool_leads

    pool = _pool(org)
    pooled, claimed = _pooled(pool, name="可见"), _pooled(pool, name="已领")
    lead_claim(actor=org["rep1"], lead_id=claimed.pk)

    # Membership grants no view of the lead itself (contact data stays hidden until a claim) ...
    assert not access.visible(_fresh(org["rep2"]), "lead").exists()
    assert not access.visible(_fresh(org["rep3"]), "lead").exists()
    # ... members browse the unowned leads through the pool.
    member_pool = lead_pool_for_member(_fresh(org["rep2"]), pool.pk)
    assert list(pool_leads(pool=member_pool).values_list("pk", flat=True)) == [pooled.pk]
