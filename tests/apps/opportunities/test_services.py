"""Opportunity services: create, the stage gate with its full missing list, override, won/lost, tasks,
team visibility, versions, and the process editor."""

from __future__ import annotations

from typing import Any

import pytest

from l2c.apps.activity.models import AuditEvent
from l2c.kernel.errors import PermissionDenied, PreconditionFailed, ValidationFailed
from tests.conftest import Org, make_account, make_contact


def _process(code: str = "project") -> Any:
    from l2c.apps.opportunities.models import SalesProcess

    return SalesProcess.objects.get(code=code)


def _stage(name: str, code: str = "project") -> Any:
    return _process(code).stages.get(name=name)


@pytest.fixture
def deal(org: Org) -> Any:
    from l2c.apps.opportunities.services import opportunity_create

    account = make_account(org["rep1"])
    return opportunity_create(actor=org["rep1"], data={"name": "星河 数据中心扩容", "account_id": account.pk})


def _gate_error(**kwargs: Any) -> Any:
    from l2c.apps.opportunities.services import StageGateBlocked, opportunity_move

    with pytest.raises(StageGateBlocked) as caught:
        opportunity_move(**kwargs)
    return caught.value


def test_the_default_processes_exist_after_migrate(db: Any) -> None:
    from l2c.apps.opportunities.models import SalesProcess

    assert list(SalesProcess.objects.order_by("code").values_list("code", "is_default")) == [
        ("project", True), ("quick", False), ("renewal", False)]
    assert list(_process().stages.values_list("name", "kind", "probability")) == [
        ("初步接洽", "open", 10), ("需求确认", "open", 25), ("方案报价", "open", 50), ("商务谈判", "open", 75),
        ("赢单", "won", 100), ("输单", "lost", 0)]


def test_create_puts_the_deal_in_the_first_stage_of_the_default_process_with_history_and_audit(
        org: Org, deal: Any) -> None:
    from l2c.apps.opportunities.models import StageHistory

    assert (deal.owner, deal.department, deal.stage.name, deal.status, deal.amount) == (
        org["rep1"], org.north, "初步接洽", "open", 0)
    assert deal.win_probability == 100 and deal.probability_source == "stage"
    assert list(StageHistory.objects.filter(opportunity=deal).values_list("stage__name", "exited_at")) == [
        ("初步接洽", None)]
    event = AuditEvent.objects.get(object_type="opportunity", object_id=deal.pk)
    assert event.action == "create" and event.changes["name"] == [None, "星河 数据中心扩容"]


def test_create_refuses_bad_input_field_by_field_and_saves_nothing(org: Org) -> None:
    from l2c.apps.opportunities.models import Opportunity
    from l2c.apps.opportunities.services import opportunity_create

    other = make_account(org["rep3"], name="上海云杉信息技术有限公司")  # rep1 cannot see it
    with pytest.raises(ValidationFailed) as caught:
        opportunity_create(actor=org["rep1"], data={"name": "", "account_id": other.pk, "amount": "12.345",
                                                    "close_date": "2026-13-01", "stage_id": 999999})
    assert sorted(error.field for error in caught.value.errors) == [
        "account_id", "amount", "close_date", "name", "stage_id"]
    assert Opportunity.objects.count() == 0


def test_a_blocked_move_lists_every_missing_item_and_changes_nothing(org: Org, deal: Any) -> None:
    error = _gate_error(actor=org["rep1"], opportunity_id=deal.pk, stage_id=_stage("方案报价").pk)
    assert [(item["kind"], item["stage"], item["label"]) for item in error.missing] == [
        ("field", "初步接洽", "金额"), ("task", "初步接洽", "确认客户需求与预算范围"),
        ("field", "需求确认", "预计成交日期"), ("field", "需求确认", "决策者"),
        ("task", "需求确认", "完成需求调研"), ("task", "需求确认", "识别决策链"),
    ]
    assert error.can_override is False  # a rep
    assert error.to_problem()["code"] == "stage_gate"
    deal.refresh_from_db()
    assert deal.stage.name == "初步接洽" and deal.version == 1


def test_a_complete_move_passes_and_keeps_the_stage_history(org: Org, deal: Any) -> None:
    from l2c.apps.opportunities.models import StageHistory, StageTask
    from l2c.apps.opportunities.services import opportunity_move, opportunity_update, task_set

    opportunity_update(actor=org["rep1"], opportunity_id=deal.pk, data={"amount": "120000"})
    task = StageTask.objects.get(stage=_stage("初步接洽"), required=True)
    assert task_set(actor=org["rep1"], opportunity_id=deal.pk, task_id=task.pk, done=True) is True
    # Entering 需求确认 needs a contact in the decision chain: still blocked, on exactly that.
    error = _gate_error(actor=org["rep1"], opportunity_id=deal.pk, stage_id=_stage("需求确认").pk)
    assert [item["key"] for item in error.missing] == ["contacts"]
    from l2c.apps.opportunities.chain import chain_member_save

    contact = make_contact(org["rep1"], deal.account)
    chain_member_save(actor=org["rep1"], opportunity_id=deal.pk, data={"contact_id": contact.pk, "role": "user"})
    moved = opportunity_move(actor=org["rep1"], opportunity_id=deal.pk, stage_id=_stage("需求确认").pk,
                             expected_version=2)
    assert (moved.stage.name, moved.version, moved.win_probability) == ("需求确认", 3, 250)
    history = [(row.stage.name, row.exited_at is None, row.override_reason)
               for row in StageHistory.objects.filter(opportunity=deal).order_by("entered_at")]
    assert history == [("初步接洽", False, ""), ("需求确认", True, "")]


def test_only_a_manager_above_the_deal_may_override_and_the_override_is_kept(org: Org, deal: Any) -> None:
    from l2c.apps.opportunities.models import StageHistory
    from l2c.apps.opportunities.services import opportunity_move

    target = _stage("方案报价").pk
    with pytest.raises(PermissionDenied):
        opportunity_move(actor=org["rep1"], opportunity_id=deal.pk, stage_id=target, override_reason="客户催得紧")
    # The manager of 华北销售部 (the deal's department) sees the override offered, and uses it.
    error = _gate_error(actor=org["manager"], opportunity_id=deal.pk, stage_id=target)
    assert error.can_override is True
    moved = opportunity_move(actor=org["manager"], opportunity_id=deal.pk, stage_id=target,
                             override_reason="  客户已口头确认，\n资料后补 ")
    assert moved.stage.name == "方案报价"
    row = StageHistory.objects.get(opportunity=deal, exited_at__isnull=True)
    assert row.override_reason == "客户已口头确认， 资料后补"
    assert len(row.skipped) == 6 and row.moved_by == org["manager"]
    event = AuditEvent.objects.filter(object_type="opportunity", object_id=deal.pk).order_by("-pk").first()
    assert event.changes["override"] == [None, "客户已口头确认， 资料后补"]
    assert event.changes["stage"] == [_stage("初步接洽").pk, target]
    assert event.summary == "阶段：初步接洽 → 方案报价"


def test_lost_needs_a_reason_and_a_competitor_and_no_override_skips_them(org: Org, deal: Any) -> None:
    from l2c.apps.opportunities.services import opportunity_move

    lost = _stage("输单").pk
    error = _gate_error(actor=org["admin"], opportunity_id=deal.pk, stage_id=lost, override_reason="就是输了")
    assert [item["kind"] for item in error.missing] == ["lost_reason", "lost_competitor"]
    assert error.can_override is False
    closed = opportunity_move(actor=org["rep1"], opportunity_id=deal.pk, stage_id=lost, lost_reason="price",
                              lost_to="华为", lost_note="对手低价 15%")
    assert (closed.status, closed.lost_reason, closed.lost_to.name, closed.closed_at is not None) == (
        "lost", "price", "华为", True)
    assert closed.win_probability == 0


def test_winning_announces_the_win_to_the_account_and_reopening_revokes_it(org: Org, deal: Any) -> None:
    from l2c.apps.customers.models import Account
    from l2c.apps.opportunities.services import opportunity_move

    opportunity_move(actor=org["admin"], opportunity_id=deal.pk, stage_id=_stage("赢单").pk,
                     override_reason="历史数据补录")
    deal.refresh_from_db()
    assert deal.status == "won" and deal.win_probability == 1000
    assert Account.objects.get(pk=deal.account_id).last_won_at == deal.closed_at
    reopened = opportunity_move(actor=org["rep1"], opportunity_id=deal.pk, stage_id=_stage("商务谈判").pk)
    assert (reopened.status, reopened.closed_at) == ("open", None)


def test_a_stale_version_is_refused(org: Org, deal: Any) -> None:
    from l2c.apps.opportunities.services import opportunity_move, opportunity_update

    opportunity_update(actor=org["rep1"], opportunity_id=deal.pk, data={"next_step": "约技术交流"})
    with pytest.raises(PreconditionFailed):
        opportunity_update(actor=org["rep1"], opportunity_id=deal.pk, data={"amount": "1"}, expected_version=1)
    with pytest.raises(PreconditionFailed):
        opportunity_move(actor=org["rep1"], opportunity_id=deal.pk, stage_id=_stage("商务谈判").pk,
                         expected_version=1)


def test_update_refuses_stage_process_and_owner_changes(org: Org, deal: Any) -> None:
    from l2c.apps.opportunities.services import opportunity_update

    with pytest.raises(ValidationFailed) as caught:
        opportunity_update(actor=org["rep1"], opportunity_id=deal.pk, data={
            "stage_id": _stage("商务谈判").pk, "process_id": _process("quick").pk, "owner_id": org["rep2"].pk})
    assert [error.code for error in caught.value.errors] == ["use_move", "immutable", "use_transfer"]


def test_team_members_see_the_deal_and_edit_only_with_edit_access(org: Org, deal: Any) -> None:
    from l2c.apps.identity import access
    from l2c.apps.opportunities.services import team_member_remove, team_member_set

    def sees(username: str, action: str = "view") -> bool:
        return access.visible(org[username], "opportunity", action).filter(pk=deal.pk).exists()

    assert (sees("rep2"), sees("presales"), sees("manager"), sees("rep3")) == (False, False, True, False)
    team_member_set(actor=org["rep1"], opportunity_id=deal.pk, user_id=org["presales"].pk, role="presales")
    assert (sees("presales"), sees("presales", "edit")) == (True, False)
    team_member_set(actor=org["rep1"], opportunity_id=deal.pk, user_id=org["presales"].pk, role="presales",
                    access_level="edit")
    assert sees("presales", "edit") is True
    team_member_remove(actor=org["rep1"], opportunity_id=deal.pk, user_id=org["presales"].pk)
    assert sees("presales") is False


def test_a_task_of_another_process_is_refused(org: Org, deal: Any) -> None:
    from l2c.apps.opportunities.models import StageTask
    from l2c.apps.opportunities.services import task_set

    foreign = StageTask.objects.filter(stage__process__code="quick").first()
    with pytest.raises(ValidationFailed):
        task_set(actor=org["rep1"], opportunity_id=deal.pk, task_id=foreign.pk, done=True)


def test_the_process_editor_validates_the_whole_process(org: Org) -> None:
    from l2c.apps.opportunities.processes import process_save

    with pytest.raises(PermissionDenied):
        process_save(actor=org["manager"], data={"name": "x", "code": "x", "stages": []})
    with pytest.raises(ValidationFailed) as caught:
        process_save(actor=org["admin"], data={"name": "渠道销售", "code": "channel", "stages": [
            {"name": "赢单", "kind": "won"}, {"name": "报备", "probability": 120, "entry_fields": ["colour"]},
            {"name": "报备"}]})
    codes = sorted(error.code for error in caught.value.errors)
    assert codes == ["closing_not_last", "duplicate", "invalid", "invalid", "lost_stage_count"]
    process = process_save(actor=org["admin"], data={"name": "渠道销售", "code": "channel", "stages": [
        {"name": "报备", "probability": 20, "exit_fields": ["amount"], "tasks": [{"title": "渠道报备审批"}]},
        {"name": "赢单", "kind": "won"}, {"name": "输单", "kind": "lost"}]})
    assert list(process.stages.values_list("name", "position", "kind")) == [
        ("报备", 1, "open"), ("赢单", 2, "won"), ("输单", 3, "lost")]
    assert process.stages.get(name="报备").tasks.get().title == "渠道报备审批"


def test_health_follows_answers_chain_and_follow_ups(org: Org, deal: Any) -> None:
    from l2c.apps.activity.services import followup_create
    from l2c.apps.opportunities.chain import chain_member_save
    from l2c.apps.opportunities.health import health_answer_save
    from l2c.apps.opportunities.models import HealthSnapshot

    deal.refresh_from_db()
    # Nothing known yet: timing (100: no close date, not stalled) and relationship (100: created
    # today counts as activity) score: (100 × 10 + 100 × 10) / 100 = 20.
    assert deal.health_index == 20
    assert deal.health_flags == ["no_decision_maker", "no_champion"]
    health_answer_save(actor=org["rep1"], opportunity_id=deal.pk, dimension="need", level=4, evidence="书面需求")
    health_answer_save(actor=org["rep1"], opportunity_id=deal.pk, dimension="budget", level=2)
    contact = make_contact(org["rep1"], deal.account)
    chain_member_save(actor=org["rep1"], opportunity_id=deal.pk,
                      data={"contact_id": contact.pk, "role": "decision_maker", "attitude": "supporter"})
    followup_create(actor=org["rep1"], object_type="opportunity", object_id=deal.pk, kind="call", content="电话沟通")
    deal.refresh_from_db()
    # need 100×15 + budget 50×15 + chain 50×15 + relationship 100×10 + timing 100×10 = 5,000 → 50
    assert deal.health_index == 50
    assert deal.health_flags == ["no_champion"]
    assert deal.account.__class__.objects.get(pk=deal.account_id).last_followed_up_at == deal.last_followed_up_at
    # 20; + need 1,500 → 35; + budget 750 → 42.5 → 43; + chain 750 → 50; the follow-up changes nothing.
    assert list(HealthSnapshot.objects.filter(opportunity=deal).order_by("taken_at", "pk")
                .values_list("index", flat=True)) == [20, 35, 43, 50]


def test_health_answers_and_weights_are_validated(org: Org, deal: Any) -> None:
    from l2c.apps.opportunities.health import health_answer_save, health_config_save

    with pytest.raises(ValidationFailed) as caught:
        health_answer_save(actor=org["rep1"], opportunity_id=deal.pk, dimension="mood", level=7)
    assert [error.field for error in caught.value.errors] == ["dimension", "level"]
    with pytest.raises(PermissionDenied):
        health_config_save(actor=org["manager"], weights={"need": 1}, no_activity_days=7)
    with pytest.raises(ValidationFailed) as caught:
        health_config_save(actor=org["admin"], weights={"need": 101, "luck": 5}, no_activity_days=0)
    assert [error.field for error in caught.value.errors] == ["weights.need", "weights", "no_activity_days"]
    settings = health_config_save(actor=org["admin"], weights={"need": 1}, no_activity_days=7)
    assert settings.weights["need"] == 1 and settings.weights["budget"] == 0 and settings.no_activity_days == 7


def test_the_nightly_run_raises_time_driven_flags(org: Org, deal: Any) -> None:
    import datetime as dt

    from l2c.apps.opportunities.health import health_refresh_all
    from l2c.apps.opportunities.services import opportunity_update

    close = (deal.stage_entered_at + dt.timedelta(days=5)).date().isoformat()
    opportunity_update(actor=org["rep1"], opportunity_id=deal.pk, data={"close_date": close})
    deal.refresh_from_db()
    assert deal.health_flags == ["no_decision_maker", "no_champion"]
    later = deal.stage_entered_at + dt.timedelta(days=16)  # 初步接洽 norm: 14 days; no-activity: 14
    assert health_refresh_all(as_of=later) == 1
    deal.refresh_from_db()
    assert deal.health_flags == ["close_date_passed", "stalled", "no_activity", "no_decision_maker", "no_champion"]
    assert health_refresh_all(as_of=later) == 0  # idempotent


def test_new_health_weights_rescore_every_open_deal_through_a_job(org: Org, deal: Any,
                                                                   django_capture_on_commit_callbacks: Any) -> None:
    from l2c.apps.activity.models import JobRun
    from l2c.apps.opportunities.health import health_config_save

    deal.refresh_from_db()
    assert deal.health_index == 20  # relationship 100 × 10 + timing 100 × 10 of 100
    with django_capture_on_commit_callbacks(execute=True):
        health_config_save(actor=org["admin"], weights={"timing": 1}, no_activity_days=7)
    assert JobRun.objects.filter(name="opportunities.health_refresh").exists()
    deal.refresh_from_db()
    assert deal.health_index == 100  # only timing weighs now, and it scores 100
