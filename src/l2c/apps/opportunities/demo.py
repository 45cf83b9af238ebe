"""Demo deals (ADR 0005): an open pipeline across the three processes and fifteen months of closed
history with a known structure — the better a deal's latent quality, the further it gets, the
healthier it looks and the likelier it is won — so the board, health, forecast model and backtest
all have something real to show. Written in bulk (like the other demo modules) with stage history,
tasks, decision chains, health answers, follow-ups and audit records; wins are announced like a
move to won does (pool protection, campaign attribution)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from l2c.apps.activity.audit import audit_bulk
from l2c.apps.activity.models import AuditEvent, FollowUp
from l2c.apps.customers.models import Contact
from l2c.apps.customers.pool import Won, deals_won
from l2c.apps.identity.models import User

from .health import health_refresh_all
from .models import (
    ChainRole,
    Competitor,
    HealthAnswer,
    LostReason,
    Opportunity,
    OpportunityContact,
    OpportunitySource,
    OpportunityStatus,
    OpportunityTask,
    OpportunityTeamMember,
    PipelineSnapshot,
    SalesProcess,
    Stage,
    StageHistory,
    StageKind,
    StageTask,
    TeamRole,
)

COMPETITORS = ["华为", "新华三", "浪潮", "深信服", "锐捷网络", "用友", "金蝶", "无（客户放弃采购）"]
PRODUCTS = ["数据中心扩容", "私有云平台", "网络安全升级", "ERP 实施", "智慧园区", "备份容灾", "终端国产化替代",
            "视频会议系统", "数据治理平台", "运维服务续约", "等保测评", "超融合集群"]
NEXT_STEPS = ["安排技术交流", "提交方案初稿", "约决策人拜访", "发送报价单", "确认合同条款", "组织现场演示"]
DIMENSIONS = ("need", "budget", "competition", "value", "solution_fit", "commercial_terms")
CLOSED_DEALS = 260
OPEN_DEALS = 72


@dataclass
class _Plan:
    """One generated deal before it is written: its stays (stage, entered, exited) in order."""

    deal: Opportunity
    quality: float
    stays: list[tuple[Stage, dt.datetime, dt.datetime | None]] = field(default_factory=list)


def _processes() -> dict[str, tuple[SalesProcess, list[Stage], Stage, Stage]]:
    result = {}
    for process in SalesProcess.objects.filter(code__in=("project", "quick", "renewal")):
        stages = list(process.stages.order_by("position"))
        open_stages = [stage for stage in stages if stage.kind == StageKind.OPEN]
        won = next(stage for stage in stages if stage.kind == StageKind.WON)
        lost = next(stage for stage in stages if stage.kind == StageKind.LOST)
        result[process.code] = (process, open_stages, won, lost)
    return result


def _plan(rng: random.Random, *, account: Any, owner: User, anchor: dt.datetime, closed: bool,
          processes: dict[str, tuple[SalesProcess, list[Stage], Stage, Stage]], competitors: list[Competitor],
          campaign_ids: Sequence[int]) -> _Plan:
    code = rng.choices(("project", "quick", "renewal"), weights=(6, 3, 1))[0]
    process, open_stages, won_stage, lost_stage = processes[code]
    quality = rng.random()
    # Latent quality decides how far the deal gets and (for closed ones) whether it is won.
    reach = min(len(open_stages), 1 + int(quality * len(open_stages) + rng.random() * 0.8))
    start = anchor - dt.timedelta(days=rng.randint(60, 470) if closed else rng.randint(3, 110))
    amount_yuan = rng.choice((3, 5, 8, 12, 18, 25, 40, 60, 90, 150)) * 10_000 * (3 if code == "project" else 1)
    deal = Opportunity(
        name=f"{account.short_name or account.name[:6]} {rng.choice(PRODUCTS)}", account=account, owner=owner,
        department_id=owner.department_id, amount=amount_yuan * 100, currency="CNY", process=process,
        next_step=rng.choice(NEXT_STEPS), source=OpportunitySource.MANUAL, created_by=owner,
        campaign_id=rng.choice(campaign_ids) if campaign_ids and rng.random() < 0.2 else None)
    if deal.campaign_id:
        deal.source = OpportunitySource.CAMPAIGN
    plan = _Plan(deal=deal, quality=quality)
    moment = start
    for stage in open_stages[:reach]:
        norm = stage.norm_days or 14
        # Better deals move faster; open deals may be stalled in their current stage.
        stay = dt.timedelta(days=max(1, int(rng.gauss(norm * (1.3 - quality * 0.6), norm / 3))),
                            hours=rng.randint(0, 8))
        plan.stays.append((stage, moment, moment + stay))
        moment += stay
    if closed:
        won = rng.random() < 0.08 + 0.85 * quality ** 1.6 * (reach / len(open_stages))
        final = won_stage if won else lost_stage
        closed_at = min(plan.stays[-1][2] or moment, anchor - dt.timedelta(days=1))
        plan.stays[-1] = (plan.stays[-1][0], plan.stays[-1][1], closed_at)
        plan.stays.append((final, closed_at, None))
        deal.status = OpportunityStatus.WON if won else OpportunityStatus.LOST
        deal.closed_at = closed_at
        deal.close_date = closed_at.date()
        if not won:
            deal.lost_reason = rng.choice([reason for reason in LostReason.values if reason != "other"])
            deal.lost_to = rng.choice(competitors)
    else:
        # The current stay is open: drop its end (it may already lie past the anchor: cut it).
        stage, entered, _exited = plan.stays[-1]
        entered = min(entered, anchor - dt.timedelta(days=1))
        plan.stays[-1] = (stage, entered, None)
        deal.status = OpportunityStatus.OPEN
        deal.close_date = (anchor + dt.timedelta(days=rng.randint(-12, 150))).date()
    current_stage, entered, _end = plan.stays[-1]
    deal.stage = current_stage
    deal.stage_entered_at = entered
    deal.win_probability = current_stage.probability * 10
    deal.probability_source = "stage"
    deal.last_followed_up_at = anchor - dt.timedelta(days=int((1 - quality) * rng.randint(1, 40)))
    return plan


def opportunities_demo(*, users: dict[str, User], anchor: dt.datetime, accounts: Sequence[Any],
                       campaign_ids: Sequence[int] = ()) -> dict[str, int]:
    """Create the demo deals; returns counts by status."""
    rng = random.Random(20261128)  # noqa: S311 - demo data, not secrets
    competitors = [Competitor.objects.get_or_create(name=name)[0] for name in COMPETITORS]
    processes = _processes()
    rep_ids = {users[name].pk for name in ("rep1", "rep2", "rep3", "manager") if name in users}
    held = [account for account in accounts if account.owner_id in rep_ids]
    owners = {user.pk: user for user in users.values()}
    plans = [_plan(rng, account=account, owner=owners[account.owner_id], anchor=anchor, closed=closed,
                   processes=processes, competitors=competitors[:-1], campaign_ids=campaign_ids)
             for closed, count in ((True, CLOSED_DEALS), (False, OPEN_DEALS)) for account in
             [rng.choice(held) for _ in range(count)]]
    Opportunity.objects.bulk_create([plan.deal for plan in plans], batch_size=500)
    # created_at / updated_at are automatic: set them to the deal's own history.
    for plan in plans:
        last = plan.deal.closed_at or plan.deal.stage_entered_at
        Opportunity.objects.filter(pk=plan.deal.pk).update(created_at=plan.stays[0][1], updated_at=last)
    _history(plans)
    _chains_answers_followups(rng, plans, anchor)
    _competitors_and_team(rng, plans, competitors, users)
    audit_bulk(actor_id=users["admin"].pk, events=[
        {"object_type": "opportunity", "object_id": plan.deal.pk, "action": AuditEvent.Kind.CREATE,
         "object_repr": plan.deal.name, "summary": "demo data"} for plan in plans])
    deals_won([Won(account_id=plan.deal.account_id, amount=plan.deal.amount, currency=plan.deal.currency,
                   won_at=plan.deal.closed_at, source="opportunity", source_id=plan.deal.pk)
               for plan in plans if plan.deal.status == OpportunityStatus.WON and plan.deal.closed_at])
    health_refresh_all(as_of=anchor)
    _snapshots(plans, anchor)
    _forecast_model(anchor)
    counts = {status: sum(1 for plan in plans if plan.deal.status == status) for status in OpportunityStatus.values}
    return counts


def _history(plans: Sequence[_Plan]) -> None:
    required = {}
    for task_id, stage_id in StageTask.objects.filter(required=True).values_list("pk", "stage_id"):
        required.setdefault(stage_id, []).append(task_id)
    rows, tasks = [], []
    for plan in plans:
        for stage, entered, exited in plan.stays:
            rows.append(StageHistory(opportunity=plan.deal, stage=stage, entered_at=entered, exited_at=exited,
                                     moved_by_id=plan.deal.owner_id))
            if exited is not None:  # stages left had their required tasks done
                tasks += [OpportunityTask(opportunity=plan.deal, task_id=task_id, done_by_id=plan.deal.owner_id,
                                          done_at=exited) for task_id in required.get(stage.pk, [])]
    StageHistory.objects.bulk_create(rows, batch_size=1000)
    OpportunityTask.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)


def _chains_answers_followups(rng: random.Random, plans: Sequence[_Plan], anchor: dt.datetime) -> None:
    contacts: dict[int, list[int]] = {}
    for contact_id, account_id in Contact.objects.filter(
            account_id__in={plan.deal.account_id for plan in plans}).values_list("pk", "account_id"):
        contacts.setdefault(account_id, []).append(contact_id)
    chain, answers, followups = [], [], []
    roles = [ChainRole.DECISION_MAKER, ChainRole.CHAMPION, ChainRole.TECHNICAL_EVALUATOR,
             ChainRole.BUSINESS_EVALUATOR, ChainRole.USER, ChainRole.INFLUENCER]
    for plan in plans:
        available = list(contacts.get(plan.deal.account_id, []))
        rng.shuffle(available)
        covered = min(len(available), int(plan.quality * 4 + rng.random()))
        for contact_id, role in zip(available[:covered], roles, strict=False):
            attitude = "supporter" if rng.random() < plan.quality else ("opponent" if rng.random() < 0.3 else
                                                                          "neutral")
            chain.append(OpportunityContact(opportunity=plan.deal, contact_id=contact_id, role=role,
                                            attitude=attitude, influence=rng.choice(("high", "medium", "low"))))
        at = plan.deal.closed_at or anchor
        for dimension in DIMENSIONS:
            if rng.random() < 0.75:
                level = max(0, min(4, round(plan.quality * 4 + rng.gauss(0, 0.8))))
                answers.append(HealthAnswer(opportunity=plan.deal, dimension=dimension, level=level,
                                            answered_by_id=plan.deal.owner_id, answered_at=at))
        for number in range(int(plan.quality * 6 + rng.random() * 2)):
            when = plan.stays[0][1] + (at - plan.stays[0][1]) * ((number + 1) / 8)
            followups.append(FollowUp(object_type="opportunity", object_id=plan.deal.pk, kind="call",
                                      occurred_at=when, content=rng.choice(NEXT_STEPS), owner_id=plan.deal.owner_id))
    OpportunityContact.objects.bulk_create(chain, batch_size=1000)
    HealthAnswer.objects.bulk_create(answers, batch_size=1000)
    FollowUp.objects.bulk_create(followups, batch_size=1000)


def _competitors_and_team(rng: random.Random, plans: Sequence[_Plan], competitors: list[Competitor],
                          users: dict[str, User]) -> None:
    through = Opportunity.competitors.through
    links = []
    for plan in plans:
        for competitor in rng.sample(competitors[:-1], k=rng.randint(0, 2)):
            links.append(through(opportunity_id=plan.deal.pk, competitor_id=competitor.pk))
    through.objects.bulk_create(links, batch_size=1000, ignore_conflicts=True)
    presales = users.get("presales")
    if presales is not None:
        OpportunityTeamMember.objects.bulk_create([
            OpportunityTeamMember(opportunity=plan.deal, user=presales, role=TeamRole.PRESALES)
            for plan in plans if plan.deal.status == OpportunityStatus.OPEN and plan.deal.process.code == "project"
            and plan.quality > 0.4])


def _snapshots(plans: Sequence[_Plan], anchor: dt.datetime) -> None:
    """The pipeline as it stood at the start of each of the last six months, rebuilt from the
    generated stays (the weekly snapshot job does this going forward), for the backtest."""
    rows = []
    month = anchor.date().replace(day=1)
    starts = []
    for _ in range(6):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        starts.append(month)
    for start in starts:
        moment = dt.datetime.combine(start, dt.time.min, tzinfo=anchor.tzinfo)
        for plan in plans:
            stay = next(((stage, entered) for stage, entered, exited in plan.stays
                         if entered <= moment and (exited is None or exited > moment)), None)
            if stay is None or stay[0].kind != StageKind.OPEN:
                continue
            stage = stay[0]
            rows.append(PipelineSnapshot(
                taken_on=start, opportunity=plan.deal, owner_id_at=plan.deal.owner_id,
                department_id_at=plan.deal.department_id, stage=stage, forecast_category=stage.forecast_category,
                amount=plan.deal.amount, currency=plan.deal.currency,
                close_date=plan.deal.close_date, stage_probability=stage.probability * 10, model_probability=None))
    PipelineSnapshot.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def _forecast_model(anchor: dt.datetime) -> None:
    """Train the win-probability model on the closed history (as the weekly job does) and score the
    open deals with it, so the board and the forecast show model probabilities from the start."""
    from l2c.kernel.errors import ValidationFailed

    from .forecast_model import forecast_rescore, forecast_train

    try:
        result = forecast_train(actor=None, now=anchor)
    except ValidationFailed:  # too few closed deals: the stage probabilities stay
        return
    if result.is_active:
        forecast_rescore(as_of=anchor)
