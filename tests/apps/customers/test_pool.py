"""Public pool (公海): membership, claim rules (quota, cap, cool-down), release, assign, transfer,
follow-up extension and the reclaim job, including the race between the job and an edit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from tests.conftest import make_account

pytestmark = pytest.mark.django_db


def _pool(org, **rules):
    from l2c.apps.customers.pool import pool_save

    data = {"name": rules.pop("name", "华北公海"), "member_department_ids": [org.north.pk], **rules}
    return pool_save(actor=org["admin"], data=data)


def _pooled(org, pool, name="北京公海客户有限公司", **fields):
    """An account lying in `pool` (created by the admin, then released)."""
    from l2c.apps.customers.pool import pool_release

    account = make_account(org["admin"], name, **fields)
    return pool_release(actor=org["admin"], account_id=account.pk, reason="测试", pool_id=pool.pk)


def _owner(account_id):
    from l2c.apps.customers.models import Account

    return Account.objects.values_list("owner_id", flat=True).get(pk=account_id)


def test_membership_by_department_includes_sub_departments_and_excludes_others(org):
    from l2c.apps.customers.pool import member_pools

    center_pool = _pool(org, name="中心公海", member_department_ids=[org.center.pk])
    east_only = _pool(org, name="华东公海", member_department_ids=[org.east.pk], include_subdepartments=False)

    assert list(member_pools(org["rep1"])) == [center_pool]
    assert sorted(p.name for p in member_pools(org["rep3"])) == ["中心公海", "华东公海"]
    assert list(member_pools(org["marketing"])) == []
    assert east_only in member_pools(org["admin"])


def test_claim_takes_the_account_sets_the_deadline_and_keeps_history(org):
    from l2c.apps.activity.models import AuditEvent
    from l2c.apps.customers.pool import pool_claim
    from l2c.apps.identity.models import OwnershipTransfer

    pool = _pool(org, reclaim_no_followup_days=7, protection_days=10)
    account = _pooled(org, pool)

    claimed = pool_claim(actor=org["rep1"], account_id=account.pk)

    assert claimed.owner_id == org["rep1"].pk
    assert claimed.department_id == org.north.pk
    assert claimed.pool_id == pool.pk and claimed.pool_entered_at is None
    assert claimed.reclaim_due_at == claimed.held_since + dt.timedelta(days=7)
    history = OwnershipTransfer.objects.filter(object_type="account", object_id=account.pk).order_by("pk")
    assert [(row.via, row.to_user_id) for row in history] == [("release", None), ("claim", org["rep1"].pk)]
    event = AuditEvent.objects.filter(object_type="account", object_id=account.pk).latest("pk")
    assert event.changes == {"owner_id": [None, org["rep1"].pk]}


def test_a_second_claim_is_409_already_claimed_and_a_non_member_gets_404(org):
    from l2c.apps.customers.pool import PoolConflict, pool_claim
    from l2c.kernel.errors import NotFound

    pool = _pool(org)
    account = _pooled(org, pool)
    pool_claim(actor=org["rep1"], account_id=account.pk)

    with pytest.raises(PoolConflict) as error:
        pool_claim(actor=org["rep2"], account_id=account.pk)
    assert error.value.code == "already_claimed"
    with pytest.raises(NotFound):
        pool_claim(actor=org["rep3"], account_id=account.pk)
    assert _owner(account.pk) == org["rep1"].pk


def test_daily_quota_stops_the_next_claim_and_leaves_no_trace(org):
    from l2c.apps.customers.models import PoolClaimCounter
    from l2c.apps.customers.pool import PoolConflict, pool_claim

    pool = _pool(org, daily_claim_quota=2)
    accounts = [_pooled(org, pool, f"北京配额测试{i}有限公司") for i in range(3)]
    pool_claim(actor=org["rep1"], account_id=accounts[0].pk)
    pool_claim(actor=org["rep1"], account_id=accounts[1].pk)

    with pytest.raises(PoolConflict) as error:
        pool_claim(actor=org["rep1"], account_id=accounts[2].pk)

    assert error.value.code == "claim_quota_reached"
    assert _owner(accounts[2].pk) is None
    assert PoolClaimCounter.objects.get(user=org["rep1"], pool=pool).claimed == 2
    pool_claim(actor=org["rep2"], account_id=accounts[2].pk)  # the quota is per user


def test_cap_on_held_accounts_counts_every_account_held_under_the_pool(org):
    from l2c.apps.customers.pool import PoolConflict, pool_claim

    pool = _pool(org, max_held_per_rep=1)
    first, second = _pooled(org, pool, "北京上限一有限公司"), _pooled(org, pool, "北京上限二有限公司")
    pool_claim(actor=org["rep1"], account_id=first.pk)

    with translation.override("zh-hans"), pytest.raises(PoolConflict) as error:
        pool_claim(actor=org["rep1"], account_id=second.pk)

    assert error.value.code == "held_cap_reached"
    assert "上限 1 个" in error.value.detail
    assert _owner(second.pk) is None


def test_previous_owner_waits_for_the_cool_down_others_do_not(org):
    from l2c.apps.customers.pool import PoolConflict, pool_claim, pool_release

    pool = _pool(org, reclaim_cooldown_days=3)
    account = _pooled(org, pool)
    pool_claim(actor=org["rep1"], account_id=account.pk)
    pool_release(actor=org["rep1"], account_id=account.pk, reason="客户暂无需求")

    with pytest.raises(PoolConflict) as error:
        pool_claim(actor=org["rep1"], account_id=account.pk)
    assert error.value.code == "claim_cooldown"
    assert pool_claim(actor=org["rep2"], account_id=account.pk).owner_id == org["rep2"].pk


def test_release_needs_a_reason_and_the_owner_or_a_manager(org):
    from l2c.apps.customers.pool import pool_claim, pool_release
    from l2c.kernel.errors import NotFound, ValidationFailed

    pool = _pool(org)
    account = _pooled(org, pool)
    pool_claim(actor=org["rep1"], account_id=account.pk)

    with pytest.raises(ValidationFailed) as error:
        pool_release(actor=org["rep1"], account_id=account.pk, reason="  ")
    assert [(e.field, e.code) for e in error.value.errors] == [("reason", "required")]
    with pytest.raises(NotFound):  # rep2 cannot even see rep1's account
        pool_release(actor=org["rep2"], account_id=account.pk, reason="抢客户")
    released = pool_release(actor=org["manager"], account_id=account.pk, reason="长期未跟进")
    assert (released.owner_id, released.pool_id, released.reclaim_due_at) == (None, pool.pk, None)
    assert released.pool_entered_at is not None


def test_assign_by_a_manager_is_all_or_nothing_and_respects_the_cap(org):
    from l2c.apps.customers.pool import PoolConflict, pool_assign
    from l2c.kernel.errors import PermissionDenied

    pool = _pool(org, max_held_per_rep=2)
    accounts = [_pooled(org, pool, f"北京分配{i}有限公司") for i in range(3)]
    ids = [a.pk for a in accounts]

    with pytest.raises(PermissionDenied):
        pool_assign(actor=org["rep1"], account_ids=ids[:1], to_user=org["rep2"])
    with pytest.raises(PoolConflict) as error:
        pool_assign(actor=org["manager"], account_ids=ids, to_user=org["rep2"])
    assert error.value.code == "held_cap_reached"
    assert [_owner(i) for i in ids] == [None, None, None]

    assert pool_assign(actor=org["manager"], account_ids=ids[:2], to_user=org["rep2"]) == 2
    assert [_owner(i) for i in ids] == [org["rep2"].pk, org["rep2"].pk, None]


def test_transfer_goes_through_the_cap_and_restarts_the_hold(org):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import PoolConflict, accounts_transfer, pool_claim

    pool = _pool(org, max_held_per_rep=1, protection_days=10)
    first, second = _pooled(org, pool, "北京转移一有限公司"), _pooled(org, pool, "北京转移二有限公司")
    pool_claim(actor=org["rep1"], account_id=first.pk)
    pool_claim(actor=org["rep2"], account_id=second.pk)

    with pytest.raises(PoolConflict) as error:
        accounts_transfer(actor=org["manager"], account_ids=[first.pk], to_user=org["rep2"])
    assert error.value.code == "held_cap_reached"
    assert _owner(first.pk) == org["rep1"].pk

    before = Account.objects.get(pk=second.pk).held_since
    accounts_transfer(actor=org["manager"], account_ids=[first.pk], to_user=org["manager"])
    moved = Account.objects.get(pk=first.pk)
    assert moved.owner_id == org["manager"].pk
    assert moved.held_since > before
    assert moved.reclaim_due_at == moved.held_since + dt.timedelta(days=10)


def test_follow_ups_extend_the_protection_period_up_to_the_maximum(org):
    from l2c.apps.activity.services import followup_create
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import pool_claim

    pool = _pool(org, protection_days=10, protection_extension_days=3, protection_max_days=15)
    account = _pooled(org, pool)
    held = pool_claim(actor=org["rep1"], account_id=account.pk)
    deadlines = []
    for _ in range(3):
        followup_create(actor=org["rep1"], object_type="account", object_id=account.pk, kind="call", content="电话沟通")
        deadlines.append(Account.objects.get(pk=account.pk).reclaim_due_at - held.held_since)

    assert deadlines == [dt.timedelta(days=13), dt.timedelta(days=15), dt.timedelta(days=15)]


def test_reclaim_job_returns_overdue_accounts_notifies_and_is_idempotent(org):
    from l2c.apps.activity.models import Notification
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import pool_claim, pool_reclaim_run, reason_text
    from l2c.apps.identity.models import OwnershipTransfer

    pool = _pool(org, reclaim_no_followup_days=5)
    overdue, fresh = _pooled(org, pool, "北京逾期有限公司"), _pooled(org, pool, "北京新领有限公司")
    pool_claim(actor=org["rep1"], account_id=overdue.pk)
    pool_claim(actor=org["rep1"], account_id=fresh.pk)
    Account.objects.filter(pk=overdue.pk).update(held_since=timezone.now() - dt.timedelta(days=6),
                                                 reclaim_due_at=timezone.now() - dt.timedelta(days=1))

    first = pool_reclaim_run()
    second = pool_reclaim_run()

    assert (first["reclaimed"], second["reclaimed"]) == (1, 0)
    assert _owner(overdue.pk) is None and _owner(fresh.pk) == org["rep1"].pk
    reclaim = OwnershipTransfer.objects.get(object_id=overdue.pk, via="reclaim")
    assert (reclaim.from_user_id, reclaim.reason, reason_text(reclaim.reason)) == (
        org["rep1"].pk, "no_followup:5", "5 天未跟进")
    titles = Notification.objects.filter(recipient=org["rep1"], kind="pool_reclaim").values_list("title", flat=True)
    assert list(titles) == ["客户“北京逾期有限公司”已被回收到公海“华北公海”"]


def test_reclaim_job_reschedules_when_a_late_follow_up_moved_the_deadline(org):
    from l2c.apps.activity.models import FollowUp
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import pool_claim, pool_reclaim_run

    pool = _pool(org, reclaim_no_followup_days=5)
    account = _pooled(org, pool)
    pool_claim(actor=org["rep1"], account_id=account.pk)
    now = timezone.now()
    # A follow-up recorded without the listener (as a bulk path might): the job must look again.
    FollowUp.objects.create(object_type="account", object_id=account.pk, kind="call", content="x",
                            occurred_at=now - dt.timedelta(days=1), owner=org["rep1"])
    Account.objects.filter(pk=account.pk).update(held_since=now - dt.timedelta(days=9),
                                                 last_followed_up_at=now - dt.timedelta(days=1),
                                                 reclaim_due_at=now - dt.timedelta(days=4))

    result = pool_reclaim_run()

    assert (result["reclaimed"], result["rescheduled"]) == (0, 1)
    assert Account.objects.get(pk=account.pk).reclaim_due_at == now - dt.timedelta(days=1) + dt.timedelta(days=5)


def test_reclaim_and_a_concurrent_edit_cannot_overwrite_each_other(org, monkeypatch):
    from l2c.apps.customers import pool as pool_module
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.services import account_update
    from l2c.kernel.errors import PreconditionFailed

    pool = _pool(org, reclaim_no_followup_days=5)
    account = _pooled(org, pool)
    pool_module.pool_claim(actor=org["rep1"], account_id=account.pk)
    Account.objects.filter(pk=account.pk).update(held_since=timezone.now() - dt.timedelta(days=6),
                                                 reclaim_due_at=timezone.now() - dt.timedelta(hours=1))
    version = Account.objects.get(pk=account.pk).version

    # The edit commits between the job's read and its update: the job's compare-and-set misses.
    real_due_of = pool_module.due_of

    def due_then_edit(acc, pool_):
        account_update(actor=org["rep1"], account_id=acc.pk, data={"city": "天津"}, expected_version=version)
        return real_due_of(acc, pool_)

    monkeypatch.setattr(pool_module, "due_of", due_then_edit)
    result = pool_module.pool_reclaim_run()
    monkeypatch.setattr(pool_module, "due_of", real_due_of)

    assert result["skipped"] == 1
    row = Account.objects.values_list("owner_id", "city", "version").get(pk=account.pk)
    assert row == (org["rep1"].pk, "天津", version + 1)

    # The next run reclaims; an edit made with the version read before the reclaim now gets 412.
    assert pool_module.pool_reclaim_run()["reclaimed"] == 1
    with pytest.raises(PreconditionFailed):
        account_update(actor=org["admin"], account_id=account.pk, data={"city": "上海"}, expected_version=version + 1)
    assert Account.objects.values_list("owner_id", "city").get(pk=account.pk) == (None, "天津")


def test_reminder_is_sent_once_before_the_deadline(org):
    from l2c.apps.activity.models import Notification
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import pool_claim, pool_reclaim_run

    pool = _pool(org, reclaim_no_followup_days=10, reminder_days=3)
    account = _pooled(org, pool)
    pool_claim(actor=org["rep1"], account_id=account.pk)
    Account.objects.filter(pk=account.pk).update(held_since=timezone.now() - dt.timedelta(days=8),
                                                 reclaim_due_at=timezone.now() + dt.timedelta(days=2))

    assert pool_reclaim_run()["reminded"] == 1
    assert pool_reclaim_run()["reminded"] == 0
    assert Notification.objects.filter(recipient=org["rep1"], kind="pool_reminder").count() == 1


def test_creating_an_account_in_a_pool_starts_a_hold_and_the_pool_needs_a_manager_to_change(org):
    from l2c.apps.customers.services import account_create, account_update
    from l2c.kernel.errors import ValidationFailed

    pool = _pool(org, protection_days=10)
    account = account_create(actor=org["rep1"], data={"name": "北京新建入海有限公司", "pool_id": pool.pk})
    assert (account.pool_id, account.owner_id) == (pool.pk, org["rep1"].pk)
    assert account.reclaim_due_at == account.held_since + dt.timedelta(days=10)

    with pytest.raises(ValidationFailed) as error:
        account_update(actor=org["rep1"], account_id=account.pk, data={"pool_id": None})
    assert [(e.field, e.code) for e in error.value.errors] == [("pool_id", "forbidden")]
    updated = account_update(actor=org["manager"], account_id=account.pk, data={"pool_id": None})
    assert (updated.pool_id, updated.reclaim_due_at) == (None, None)


def test_pool_settings_are_validated_and_admin_only(org):
    from l2c.apps.customers.pool import pool_save
    from l2c.kernel.errors import PermissionDenied, ValidationFailed

    with pytest.raises(PermissionDenied):
        pool_save(actor=org["manager"], data={"name": "经理公海"})
    with pytest.raises(ValidationFailed) as error:
        pool_save(actor=org["admin"], data={"name": "", "protection_days": 10, "protection_max_days": 5,
                                            "daily_claim_quota": "many", "visible_fields": ["phone"]})
    assert sorted((e.field, e.code) for e in error.value.errors) == [
        ("daily_claim_quota", "invalid"), ("name", "required"), ("protection_max_days", "out_of_range"),
        ("visible_fields", "invalid"),
    ]


def test_visibility_of_pooled_accounts_per_role(org):
    """Members browse a pooled account's allowed fields but cannot open it until they claim it; roles
    whose scope covers its department (the manager) or everything (finance, marketing) see it as
    any other account; reps outside the pool see nothing."""
    from l2c.apps.customers.pool import member_pools, pool_accounts
    from l2c.apps.identity import access

    pool = _pool(org)
    account = make_account(org["rep1"], "北京可见性有限公司")
    from l2c.apps.customers.pool import pool_release

    pool_release(actor=org["rep1"], account_id=account.pk, reason="测试", pool_id=pool.pk)

    def opens(username):
        return access.visible(org[username], "account").filter(pk=account.pk).exists()

    def browses(username):
        pools = list(member_pools(org[username]))
        return any(pool_accounts(user=org[username], pool=p).filter(pk=account.pk).exists() for p in pools)

    assert {name: (browses(name), opens(name)) for name in ("rep1", "rep2", "rep3", "manager", "director",
                                                             "finance", "marketing", "admin")} == {
        "rep1": (True, False), "rep2": (True, False), "rep3": (False, False), "manager": (True, True),
        "director": (False, True), "finance": (False, True), "marketing": (False, True), "admin": (True, True),
    }


def test_transferring_an_account_to_its_own_holder_does_not_extend_the_hold(org):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import accounts_transfer, pool_claim

    pool = _pool(org, protection_days=10)
    account = _pooled(org, pool)
    pool_claim(actor=org["rep1"], account_id=account.pk)
    earlier = timezone.now() - dt.timedelta(days=8)
    Account.objects.filter(pk=account.pk).update(held_since=earlier, reclaim_due_at=earlier + dt.timedelta(days=10))

    assert accounts_transfer(actor=org["manager"], account_ids=[account.pk], to_user=org["rep1"]) == 0

    assert Account.objects.values_list("held_since", "reclaim_due_at").get(pk=account.pk) == (
        earlier, earlier + dt.timedelta(days=10))


def test_release_removes_the_team_and_the_shares_so_nobody_keeps_the_account(org):
    from l2c.apps.activity.services import record_share
    from l2c.apps.customers.pool import pool_release
    from l2c.apps.customers.services import account_team_set
    from l2c.apps.identity import access

    pool = _pool(org)
    account = make_account(org["rep1"], "北京团队共享有限公司")
    account_team_set(actor=org["rep1"], account_id=account.pk, user_id=org["rep2"].pk, access_level="edit")
    record_share(actor=org["rep1"], object_type="account", object_id=account.pk, user_id=org["rep3"].pk,
                 access_level="edit")

    pool_release(actor=org["rep1"], account_id=account.pk, reason="退回", pool_id=pool.pk)

    for username in ("rep1", "rep2", "rep3"):
        assert not access.visible(org[username], "account").filter(pk=account.pk).exists(), username
        assert not access.visible(org[username], "account", "edit").filter(pk=account.pk).exists(), username


def test_a_follow_up_on_a_pooled_account_sets_no_deadline(org):
    from l2c.apps.activity.services import followup_create
    from l2c.apps.customers.models import Account

    pool = _pool(org, reclaim_no_followup_days=5)
    account = _pooled(org, pool)

    followup_create(actor=org["admin"], object_type="account", object_id=account.pk, kind="call", content="回访")

    assert Account.objects.values_list("owner_id", "reclaim_due_at").get(pk=account.pk) == (None, None)


def test_moving_an_owned_account_into_a_pool_checks_the_cap_and_starts_a_hold(org):
    from l2c.apps.customers.pool import PoolConflict
    from l2c.apps.customers.services import account_update

    pool = _pool(org, max_held_per_rep=1, protection_days=10)
    first, second = make_account(org["rep1"], "北京移入一有限公司"), make_account(org["rep1"], "北京移入二有限公司")

    moved = account_update(actor=org["manager"], account_id=first.pk, data={"pool_id": pool.pk})
    assert moved.reclaim_due_at == moved.held_since + dt.timedelta(days=10)
    with pytest.raises(PoolConflict) as error:
        account_update(actor=org["manager"], account_id=second.pk, data={"pool_id": pool.pk})
    assert error.value.code == "held_cap_reached"
    from l2c.apps.customers.models import Account

    assert Account.objects.get(pk=second.pk).pool_id is None


def test_a_won_deal_ends_the_protection_rule(org):
    from l2c.apps.customers.pool import pool_claim
    from l2c.apps.customers.services import account_update

    pool = _pool(org, protection_days=10, reclaim_no_followup_days=30)
    account = _pooled(org, pool)
    held = pool_claim(actor=org["rep1"], account_id=account.pk)
    assert held.reclaim_due_at == held.held_since + dt.timedelta(days=10)

    won = account_update(actor=org["rep1"], account_id=account.pk, data={"status": "active"})

    assert won.last_won_at is not None
    assert won.reclaim_due_at == held.held_since + dt.timedelta(days=30)  # only the follow-up rule is left


def test_browsing_cannot_filter_by_a_field_the_pool_hides(org):
    from l2c.apps.customers.pool import pool_accounts

    pool = _pool(org, visible_fields=["name"])
    _pooled(org, pool, "北京隐藏字段有限公司", city="北京")

    # The city filter is ignored (else filtering would reveal the hidden city one value at a time).
    assert pool_accounts(user=org["rep1"], pool=pool, filters={"city": "上海"}).count() == 1


def test_creating_for_an_owner_outside_the_pool_is_refused(org):
    from l2c.apps.customers.services import account_create
    from l2c.kernel.errors import ValidationFailed

    pool = _pool(org)

    with pytest.raises(ValidationFailed) as error:
        account_create(actor=org["admin"], data={"name": "上海非成员有限公司", "pool_id": pool.pk,
                                                 "owner_id": org["rep3"].pk})

    assert [(e.field, e.code, e.message) for e in error.value.errors] == [
        ("pool_id", "not_member", "负责人“rep3”不是公海“华北公海”的成员。")]


def test_a_transaction_dated_during_the_hold_counts_as_a_won_deal_an_older_one_does_not(org):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import pool_claim
    from l2c.apps.customers.rfm import transaction_create

    pool = _pool(org, protection_days=10)
    account = _pooled(org, pool)
    held = pool_claim(actor=org["rep1"], account_id=account.pk)

    transaction_create(actor=org["rep1"], account_id=account.pk,
                       data={"occurred_on": "2025-03-01", "amount": "100", "reference": "OLD-1"})
    assert Account.objects.get(pk=account.pk).reclaim_due_at == held.held_since + dt.timedelta(days=10)

    today = timezone.localdate().isoformat()
    transaction_create(actor=org["rep1"], account_id=account.pk,
                       data={"occurred_on": today, "amount": "100", "reference": "NEW-1"})
    assert Account.objects.get(pk=account.pk).reclaim_due_at is None


def test_a_merge_that_changes_the_owner_goes_through_the_pool_rules(org):
    from l2c.apps.customers import merge
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import PoolConflict, pool_claim

    pool = _pool(org, max_held_per_rep=1, protection_days=10)
    survivor, taken = _pooled(org, pool, "北京合并公海有限公司"), _pooled(org, pool, "北京合并公海另一有限公司")
    pool_claim(actor=org["rep1"], account_id=survivor.pk)
    pool_claim(actor=org["rep2"], account_id=taken.pk)
    other = make_account(org["rep2"], "北京合并来源有限公司")

    # rep2 already holds one account under the pool (cap 1): taking over the survivor is refused.
    with pytest.raises(PoolConflict) as error:
        merge.accounts_merge(actor=org["manager"], survivor_id=survivor.pk, merged_ids=[other.pk],
                             field_choices={"owner": other.pk})
    assert error.value.code == "held_cap_reached"
    assert Account.objects.filter(pk=other.pk).exists()

    Account.objects.filter(pk=taken.pk).update(pool=None)  # rep2 now holds nothing under the pool
    merge.accounts_merge(actor=org["manager"], survivor_id=survivor.pk, merged_ids=[other.pk],
                         field_choices={"owner": other.pk})
    moved = Account.objects.get(pk=survivor.pk)
    assert moved.owner_id == org["rep2"].pk
    assert moved.reclaim_due_at == moved.held_since + dt.timedelta(days=10)
