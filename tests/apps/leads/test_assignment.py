"""Assignment rules (线索分配): each action kind, order, custom fields, round-robin fairness across calls,
least loaded with ties, holds under a pool, skipped and unmatched leads, bulk writes, validation,
reorder, preview and permissions."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _rule(org, **data):
    from l2c.apps.leads.assignment import assignment_rule_save

    return assignment_rule_save(actor=org["admin"], data={"name": data.pop("name", "规则"), **data})


def _pool(org, name="公共线索池", **rules):
    from l2c.apps.leads.pools import lead_pool_save

    return lead_pool_save(actor=org["admin"], data={"name": name, "member_department_ids": [org.center.pk], **rules})


def _leads(count, **fields):
    from l2c.apps.leads.models import Lead

    return [Lead.objects.create(name=f"线索{i}", **fields).pk for i in range(count)]


def _owners(ids):
    from l2c.apps.leads.models import Lead

    rows = dict(Lead.objects.filter(pk__in=ids).values_list("pk", "owner_id"))
    return [rows[i] for i in ids]


def test_first_matching_rule_by_position_assigns_each_action_kind(org):
    from l2c.apps.identity.models import OwnershipTransfer
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import Lead

    pool = _pool(org)
    band_a = _rule(org, name="A 级 → 华北轮流", conditions=[{"field": "score_band", "op": "eq", "value": "A"}],
                   action="round_robin", user_ids=[org["rep1"].pk, org["rep2"].pk])
    east = _rule(org, name="江浙沪 → rep3", action="user", target_user_id=org["rep3"].pk,
                 conditions=[{"field": "province", "op": "in", "value": ["上海", "江苏", "浙江"]}])
    _rule(org, name="其余 → 公共线索池", action="pool", target_pool_id=pool.pk)
    a_shanghai = Lead.objects.create(name="甲", score_band="A", province="上海")
    shanghai = Lead.objects.create(name="乙", score_band="B", province="上海")
    other = Lead.objects.create(name="丙", score_band="C", province="北京")

    outcomes = leads_assign(lead_ids=[a_shanghai.pk, shanghai.pk, other.pk], actor=org["marketing"], via="import")

    assert outcomes[a_shanghai.pk].rule_id == band_a.pk and outcomes[a_shanghai.pk].status == "assigned"
    assert (outcomes[shanghai.pk].rule_id, outcomes[shanghai.pk].owner_id) == (east.pk, org["rep3"].pk)
    assert (outcomes[other.pk].status, outcomes[other.pk].pool_id) == ("pooled", pool.pk)
    rows = {row.pk: row for row in Lead.objects.filter(pk__in=[a_shanghai.pk, shanghai.pk, other.pk])}
    assert rows[a_shanghai.pk].owner_id == org["rep1"].pk
    assert rows[a_shanghai.pk].department_id == org.north.pk and rows[a_shanghai.pk].pool_id is None
    assert (rows[shanghai.pk].department_id, rows[shanghai.pk].reclaim_due_at) == (org.east.pk, None)
    assert (rows[other.pk].owner_id, rows[other.pk].pool_id) == (None, pool.pk)
    assert rows[other.pk].pool_entered_at is not None
    history = OwnershipTransfer.objects.filter(object_type="lead", via="assign_rule")
    assert sorted(history.values_list("object_id", "to_user_id")) == sorted(
        [(a_shanghai.pk, org["rep1"].pk), (shanghai.pk, org["rep3"].pk)])


def test_unmatched_owned_and_pooled_leads_are_left_as_they_are(org):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import Lead

    pool = _pool(org)
    _rule(org, conditions=[{"field": "score_band", "op": "eq", "value": "A"}], action="user",
          target_user_id=org["rep1"].pk)
    unmatched = Lead.objects.create(name="无匹配", score_band="D")
    owned = Lead.objects.create(name="已有负责人", score_band="A", owner=org["rep2"])
    pooled = Lead.objects.create(name="池中", score_band="A", pool=pool)

    outcomes = leads_assign(lead_ids=[unmatched.pk, owned.pk, pooled.pk, 999999], actor=None, via="capture")

    assert {lead_id: outcome.status for lead_id, outcome in outcomes.items()} == {
        unmatched.pk: "no_match", owned.pk: "skipped", pooled.pk: "skipped", 999999: "skipped"}
    assert _owners([unmatched.pk, owned.pk, pooled.pk]) == [None, org["rep2"].pk, None]


def test_custom_fields_and_numbers_in_conditions(org):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import Lead

    _rule(org, action="user", target_user_id=org["rep2"].pk,
          conditions=[{"field": "custom.channel", "op": "eq", "value": "展会"},
                      {"field": "score", "op": "gte", "value": 60}])
    hot = Lead.objects.create(name="展会高分", score=70, custom={"channel": "展会"})
    cold = Lead.objects.create(name="展会低分", score=40, custom={"channel": "展会"})

    outcomes = leads_assign(lead_ids=[hot.pk, cold.pk], actor=None, via="capture")

    assert (outcomes[hot.pk].owner_id, outcomes[cold.pk].status) == (org["rep2"].pk, "no_match")


def test_round_robin_is_fair_across_calls(org):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import AssignmentRule

    reps = sorted([org["rep1"].pk, org["rep2"].pk, org["manager"].pk])
    rule = _rule(org, action="round_robin", user_ids=reps)
    assigned = []
    for size in (2, 1, 4, 3, 5):
        ids = _leads(size)
        outcomes = leads_assign(lead_ids=ids, actor=None, via="capture")
        assigned += [outcomes[i].owner_id for i in ids]

    assert assigned == [reps[i % 3] for i in range(15)]
    assert Counter(assigned) == {reps[0]: 5, reps[1]: 5, reps[2]: 5}
    assert AssignmentRule.objects.get(pk=rule.pk).cursor == 15


def test_least_loaded_counts_open_leads_and_breaks_ties_by_user_id(org):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import Lead, LeadStatus

    _rule(org, action="least_loaded", user_ids=[org["rep1"].pk, org["rep2"].pk, org["rep3"].pk])
    Lead.objects.create(name="rep1 开放", owner=org["rep1"], status=LeadStatus.CONTACTED)
    Lead.objects.create(name="rep1 开放二", owner=org["rep1"], status=LeadStatus.NEW)
    Lead.objects.create(name="rep2 已转化", owner=org["rep2"], status=LeadStatus.CONVERTED)  # not open
    Lead.objects.create(name="rep3 开放", owner=org["rep3"], status=LeadStatus.QUALIFIED)
    ids = _leads(4)

    outcomes = leads_assign(lead_ids=ids, actor=None, via="import")

    # Loads rep1 2, rep2 0, rep3 1 → rep2, rep2 (1 vs rep3 1: rep2 has the smaller id), rep3, then all at 2 → rep1.
    assert [outcomes[i].owner_id for i in ids] == [org["rep2"].pk, org["rep2"].pk, org["rep3"].pk, org["rep1"].pk]


def test_a_rule_with_a_hold_pool_puts_the_lead_under_its_reclaim_rule(org):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import Lead

    pool = _pool(org, reclaim_after_days=7)
    _rule(org, action="user", target_user_id=org["rep1"].pk, target_pool_id=pool.pk)
    [lead_id] = _leads(1)

    outcome = leads_assign(lead_ids=[lead_id], actor=None, via="capture")[lead_id]

    lead = Lead.objects.get(pk=lead_id)
    assert (outcome.status, outcome.owner_id, outcome.pool_id) == ("assigned", org["rep1"].pk, pool.pk)
    assert (lead.owner_id, lead.pool_id) == (org["rep1"].pk, pool.pk)
    assert lead.reclaim_due_at == lead.held_since + dt.timedelta(days=7)


def test_rules_with_nobody_to_assign_to_are_passed_over(org):
    from l2c.apps.identity.models import User
    from l2c.apps.leads.assignment import leads_assign

    first = _rule(org, name="离职人员", action="user", target_user_id=org["rep2"].pk)
    second = _rule(org, name="兜底", action="user", target_user_id=org["rep1"].pk)
    User.objects.filter(pk=org["rep2"].pk).update(is_active=False)
    [lead_id] = _leads(1)

    outcome = leads_assign(lead_ids=[lead_id], actor=None, via="capture")[lead_id]

    assert (outcome.rule_id, outcome.owner_id) == (second.pk, org["rep1"].pk)
    assert first.pk != second.pk


def test_bulk_assignment_is_set_based_with_one_notification_per_assignee(org):
    from l2c.apps.activity.models import AuditEvent, Notification
    from l2c.apps.leads.assignment import leads_assign

    _rule(org, action="round_robin", user_ids=[org["rep1"].pk, org["rep2"].pk])
    ids = _leads(600)

    with CaptureQueriesContext(connection) as queries:
        outcomes = leads_assign(lead_ids=ids, actor=org["marketing"], via="import")

    assert Counter(outcome.owner_id for outcome in outcomes.values()) == {org["rep1"].pk: 300, org["rep2"].pk: 300}
    assert len(queries) <= 40
    assert Notification.objects.filter(kind="lead_assigned").count() == 2
    assert list(Notification.objects.filter(kind="lead_assigned", recipient=org["rep1"])
                .values_list("title", flat=True)) == ["300 条新线索已分配给你"]
    assert AuditEvent.objects.filter(object_type="lead", action=AuditEvent.Kind.TRANSFER).count() == 600


def test_conditions_are_validated_with_specific_errors_and_nothing_saved(org):
    from l2c.apps.leads.models import AssignmentRule
    from l2c.kernel.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as error:
        _rule(org, action="round_robin", conditions=[
            {"field": "score_band", "op": "eq", "value": "A"},
            {"field": "colour", "op": "eq", "value": "red"},
            {"field": "province", "op": "gt", "value": 3},
            {"field": "score", "op": "gte", "value": "high"},
        ])

    assert [(e.field, e.code) for e in error.value.errors] == [
        ("conditions.1.field", "unknown_field"), ("conditions.2.op", "bad_op"), ("conditions.3.value", "bad_value"),
        ("user_ids", "required")]
    assert "第 2 个条件" in error.value.errors[0].message and "colour" in error.value.errors[0].message
    assert "需要数字" in error.value.errors[2].message
    assert not AssignmentRule.objects.exists()
    with pytest.raises(ValidationFailed) as error:
        _rule(org, action="pool")
    assert [(e.field, e.code) for e in error.value.errors] == [("target_pool_id", "required")]


def test_only_admins_and_marketing_edit_rules(org):
    from l2c.apps.leads.assignment import assignment_rule_save
    from l2c.apps.leads.models import AssignmentRule
    from l2c.kernel.errors import PermissionDenied

    for username in ("manager", "rep1"):
        with pytest.raises(PermissionDenied):
            assignment_rule_save(actor=org[username], data={"name": "x", "action": "user",
                                                            "target_user_id": org[username].pk})
    assert not AssignmentRule.objects.exists()
    rule = assignment_rule_save(actor=org["marketing"], data={"name": "市场规则", "action": "user",
                                                              "target_user_id": org["rep1"].pk})
    assert rule.position == 10


def test_reorder_changes_which_rule_takes_the_lead_and_preview_explains(org):
    from l2c.apps.leads.assignment import assignment_preview, assignment_rules_reorder, leads_assign
    from l2c.kernel.errors import ValidationFailed

    province = _rule(org, name="上海", action="user", target_user_id=org["rep3"].pk,
                     conditions=[{"field": "province", "op": "eq", "value": "上海"}])
    catch_all = _rule(org, name="兜底", action="user", target_user_id=org["rep1"].pk)
    sample = {"province": "上海", "score_band": "B"}

    assert assignment_preview(actor=org["admin"], sample=sample)["matched_rule_id"] == province.pk
    with pytest.raises(ValidationFailed):
        assignment_rules_reorder(actor=org["admin"], rule_ids=[catch_all.pk])
    assignment_rules_reorder(actor=org["admin"], rule_ids=[catch_all.pk, province.pk])

    preview = assignment_preview(actor=org["admin"], sample=sample)
    assert preview["matched_rule_id"] == catch_all.pk
    assert [(row["name"], row["matches"]) for row in preview["rules"]] == [("兜底", True), ("上海", True)]
    [lead_id] = _leads(1, province="上海")
    assert leads_assign(lead_ids=[lead_id], actor=None, via="capture")[lead_id].owner_id == org["rep1"].pk


def test_a_rule_update_keeps_the_cursor_and_delete_is_audited(org):
    from l2c.apps.activity.models import AuditEvent
    from l2c.apps.leads.assignment import assignment_rule_delete, assignment_rule_save, leads_assign
    from l2c.apps.leads.models import AssignmentRule

    rule = _rule(org, action="round_robin", user_ids=[org["rep1"].pk, org["rep2"].pk])
    leads_assign(lead_ids=_leads(3), actor=None, via="capture")
    updated = assignment_rule_save(actor=org["admin"], rule_id=rule.pk, data={"name": "改名"})
    assert (updated.name, updated.cursor, updated.version) == ("改名", 3, 2)

    assignment_rule_delete(actor=org["admin"], rule_id=rule.pk)

    assert not AssignmentRule.objects.exists()
    assert AuditEvent.objects.filter(object_type="assignment_rule", object_id=rule.pk).count() == 3


def test_demo_pools_and_rules_route_leads_as_described(org):
    from django.utils import timezone

    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import Lead, LeadPool
    from l2c.apps.leads.pool_demo import lead_pools_demo

    made = lead_pools_demo(users=org.users, departments={"center": org.center, "north": org.north, "east": org.east},
                           anchor=timezone.now())
    hot = Lead.objects.create(name="A 级", score_band="A", province="北京")
    east = Lead.objects.create(name="浙江", score_band="C", province="浙江")
    other = Lead.objects.create(name="其他", score_band="D", province="四川")

    outcomes = leads_assign(lead_ids=[hot.pk, east.pk, other.pk], actor=None, via="demo")

    assert (outcomes[hot.pk].owner_id, outcomes[hot.pk].pool_id) == (org["rep1"].pk, made["north_pool"])
    assert outcomes[east.pk].owner_id == org["rep3"].pk
    assert (outcomes[other.pk].status, outcomes[other.pk].pool_id) == ("pooled", made["public_pool"])
    assert LeadPool.objects.count() == 2


# --- review: a stored rule can never break a capture ------------------------------------------------------
def test_numbers_beyond_the_limit_non_finite_numbers_and_control_characters_are_refused(org):
    from l2c.apps.leads.models import AssignmentRule
    from l2c.kernel.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as error:
        _rule(org, action="user", target_user_id=org["rep1"].pk, conditions=[
            {"field": "score", "op": "gt", "value": int("9" * 400)},
            {"field": "score", "op": "lt", "value": float("nan")},
            {"field": "custom.size", "op": "in", "value": ["大", 1e16]},
            {"field": "province", "op": "eq", "value": "上\x00海"},
            {"field": "company", "op": "contains", "value": "a\x07b"},
            {"field": "score", "op": "lte", "value": 10**15},  # the limit itself is fine
        ])

    assert [(e.field, e.code) for e in error.value.errors] == [
        ("conditions.0.value", "bad_value"), ("conditions.1.value", "bad_value"), ("conditions.2.value", "bad_value"),
        ("conditions.3.value", "bad_value"), ("conditions.4.value", "bad_value")]
    messages = [e.message for e in error.value.errors]
    assert messages[0] == "第 1 个条件：字段“score”的值无效（数字的绝对值不能超过 1,000,000,000,000,000）。"
    assert messages[1] == "第 2 个条件：字段“score”的值无效（需要有限的数字，不能是 NaN 或无穷大）。"
    assert "第 3 个条件" in messages[2] and "1,000,000,000,000,000" in messages[2]
    assert messages[3] == "第 4 个条件：字段“province”的值无效（不能包含控制字符）。"
    assert not AssignmentRule.objects.exists()


def test_a_stored_rule_that_cannot_be_evaluated_is_passed_over_and_logged(org, caplog):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import AssignmentAction, AssignmentRule

    # Saved before the limits existed (or written around the service): a 400-digit bound.
    broken = AssignmentRule.objects.create(name="旧规则", position=10, action=AssignmentAction.USER,
                                           target_user=org["rep1"],
                                           conditions=[{"field": "score", "op": "gt", "value": int("9" * 400)}])
    fallback = _rule(org, name="兜底", action="user", target_user_id=org["rep2"].pk)
    ids = _leads(2, score=70)

    with caplog.at_level("WARNING", logger="l2c.apps.leads.assignment"):
        outcomes = leads_assign(lead_ids=ids, actor=None, via="capture")

    assert [(outcomes[i].rule_id, outcomes[i].owner_id) for i in ids] == [(fallback.pk, org["rep2"].pk)] * 2
    assert f"assignment rule {broken.pk} (旧规则) passed over" in caplog.text


def test_a_rule_whose_evaluation_fails_is_passed_over_for_the_rest_of_the_call(org, caplog, monkeypatch):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.engines import routing

    failing = _rule(org, name="会出错", action="user", target_user_id=org["rep1"].pk)
    fallback = _rule(org, name="兜底", action="user", target_user_id=org["rep2"].pk)
    real = routing.rule_matches
    calls = []

    def rule_matches(rule, record):
        if rule.rule_id == failing.pk:
            calls.append(rule.rule_id)
            raise OverflowError("int too large to convert to float")
        return real(rule, record)

    monkeypatch.setattr(routing, "rule_matches", rule_matches)
    ids = _leads(3)

    with caplog.at_level("ERROR", logger="l2c.apps.leads.assignment"):
        outcomes = leads_assign(lead_ids=ids, actor=None, via="import")

    assert {outcomes[i].owner_id for i in ids} == {org["rep2"].pk} and {outcomes[i].rule_id for i in ids} == {
        fallback.pk}
    assert calls == [failing.pk]  # tried once, then passed over
    assert caplog.text.count(f"assignment rule {failing.pk} passed over") == 1


def test_preview_with_a_huge_or_odd_sample_value_says_no_match(org):
    from l2c.apps.leads.assignment import assignment_preview

    rule = _rule(org, action="user", target_user_id=org["rep1"].pk,
                 conditions=[{"field": "score", "op": "gt", "value": 50}])

    for score in (int("9" * 400), "9" * 400, float("inf"), "nan"):
        result = assignment_preview(actor=org["admin"], sample={"score": score})
        assert result["matched_rule_id"] is None
        assert result["rules"][0]["conditions"][0]["holds"] is False
    assert assignment_preview(actor=org["admin"], sample={"score": 10**15})["matched_rule_id"] == rule.pk


# --- review: rules respect the pool's per-rep cap ---------------------------------------------------------
def _held(pool):
    from l2c.apps.leads.models import Lead

    return Counter(Lead.objects.filter(pool=pool, owner__isnull=False).values_list("owner_id", flat=True))


def test_a_user_rule_at_the_pools_cap_puts_the_rest_into_the_pool_unowned(org):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import Lead, LeadClaimCounter

    pool = _pool(org, max_held_per_rep=2)
    rule = _rule(org, action="user", target_user_id=org["rep1"].pk, target_pool_id=pool.pk)
    ids = _leads(5)

    outcomes = leads_assign(lead_ids=ids, actor=None, via="import")

    assert [(outcomes[i].status, outcomes[i].owner_id, outcomes[i].pool_id) for i in ids] == [
        ("assigned", org["rep1"].pk, pool.pk)] * 2 + [("pooled", None, pool.pk)] * 3
    assert {outcomes[i].rule_id for i in ids} == {rule.pk}
    assert _held(pool) == {org["rep1"].pk: 2}
    assert Lead.objects.filter(pk__in=ids[2:], owner__isnull=True, pool=pool).count() == 3
    # The counter was locked like a claim's, but a rule's assignment is no claim.
    assert list(LeadClaimCounter.objects.values_list("pool_id", "user_id", "claimed")) == [
        (pool.pk, org["rep1"].pk, 0)]

    # At the cap already: the next call pools everything.
    more = _leads(2)
    again = leads_assign(lead_ids=more, actor=None, via="capture")
    assert [again[i].status for i in more] == ["pooled", "pooled"]
    assert _held(pool) == {org["rep1"].pk: 2}


def test_round_robin_passes_a_capped_reps_turn_on_and_pools_what_nobody_may_take(org):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import AssignmentRule, Lead

    pool = _pool(org, max_held_per_rep=2)
    reps = sorted([org["rep1"].pk, org["rep2"].pk])
    Lead.objects.create(name="已持有", owner_id=reps[0], pool=pool)  # the first rep has room for one more
    rule = _rule(org, action="round_robin", user_ids=reps, target_pool_id=pool.pk)
    ids = _leads(5)

    outcomes = leads_assign(lead_ids=ids, actor=None, via="import")

    # Turns: reps[0], reps[1], (reps[0] full) reps[1]; then both full → the last two lie in the pool.
    assert [outcomes[i].owner_id for i in ids] == [reps[0], reps[1], reps[1], None, None]
    assert [outcomes[i].status for i in ids] == ["assigned"] * 3 + ["pooled"] * 2
    assert _held(pool) == {reps[0]: 2, reps[1]: 2}
    assert AssignmentRule.objects.get(pk=rule.pk).cursor == 4


def test_least_loaded_skips_reps_at_the_cap(org):
    from l2c.apps.leads.assignment import leads_assign
    from l2c.apps.leads.models import Lead

    pool = _pool(org, max_held_per_rep=2)
    reps = sorted([org["rep1"].pk, org["rep2"].pk, org["rep3"].pk])
    Lead.objects.create(name="不在池中", owner_id=reps[2])  # load 1, held under the pool 0
    Lead.objects.bulk_create([Lead(name=f"池下{i}", owner_id=reps[0], pool=pool) for i in range(2)])  # at the cap
    _rule(org, action="least_loaded", user_ids=reps, target_pool_id=pool.pk)
    ids = _leads(5)

    outcomes = leads_assign(lead_ids=ids, actor=None, via="import")

    # reps[0] (load 2) is full; reps[1] load 0 → 1, then reps[1] (1) vs reps[2] (1) → reps[1], full; reps[2] ×2.
    assert [outcomes[i].owner_id for i in ids] == [reps[1], reps[1], reps[2], reps[2], None]
    assert outcomes[ids[-1]].status == "pooled"
    assert _held(pool) == {reps[0]: 2, reps[1]: 2, reps[2]: 2}


def test_two_rules_under_one_capped_pool_share_the_reps_room(org):
    from l2c.apps.leads.assignment import leads_assign

    pool = _pool(org, max_held_per_rep=2)
    _rule(org, name="A 级", action="user", target_user_id=org["rep1"].pk, target_pool_id=pool.pk,
          conditions=[{"field": "score_band", "op": "eq", "value": "A"}])
    _rule(org, name="其余", action="round_robin", user_ids=[org["rep1"].pk], target_pool_id=pool.pk)
    a_leads, others = _leads(1, score_band="A"), _leads(4, score_band="B")

    outcomes = leads_assign(lead_ids=a_leads + others, actor=None, via="import")

    assert [outcomes[i].owner_id for i in a_leads + others] == [org["rep1"].pk, org["rep1"].pk, None, None, None]
    assert _held(pool) == {org["rep1"].pk: 2}


def test_a_rule_without_a_pool_or_a_pool_without_a_cap_is_not_limited(org):
    from l2c.apps.leads.assignment import leads_assign

    pool = _pool(org)
    _rule(org, action="user", target_user_id=org["rep1"].pk, target_pool_id=pool.pk)
    ids = _leads(5)

    outcomes = leads_assign(lead_ids=ids, actor=None, via="import")

    assert {outcomes[i].owner_id for i in ids} == {org["rep1"].pk}
    assert _held(pool) == {org["rep1"].pk: 5}


def test_capped_bulk_assignment_stays_set_based(org):
    from l2c.apps.leads.assignment import leads_assign

    pool = _pool(org, max_held_per_rep=250)
    _rule(org, action="round_robin", user_ids=[org["rep1"].pk, org["rep2"].pk], target_pool_id=pool.pk)
    ids = _leads(600)

    with CaptureQueriesContext(connection) as queries:
        outcomes = leads_assign(lead_ids=ids, actor=org["marketing"], via="import")

    assert Counter(outcome.owner_id for outcome in outcomes.values()) == {
        org["rep1"].pk: 250, org["rep2"].pk: 250, None: 100}
    assert len(queries) <= 50
