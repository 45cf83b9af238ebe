"""Opportunity services (ADR 0005): create, update, delete, move through the stage gate, team,
stage tasks. Every write is one transaction with its audit record; updates are compare-and-set on
`version` (the API's ETag)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from l2c.apps.activity.audit import audit_record, diff, snapshot
from l2c.apps.activity.custom_fields import clean_custom_values
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import owner_assignable
from l2c.apps.customers.models import Account
from l2c.apps.customers.pool import Won, deals_won, won_revoked
from l2c.apps.customers.rfm import clean_amount_minor, clean_currency
from l2c.apps.customers.validation import date as clean_date
from l2c.apps.customers.validation import text as clean_text
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.engines import stages as gate_engine
from l2c.kernel.errors import Conflict, FieldError, PermissionDenied, PreconditionFailed, ValidationFailed

from .gates import deal_facts, field_label
from .health import health_refresh
from .models import (
    Competitor,
    LostReason,
    Opportunity,
    OpportunitySource,
    OpportunityStatus,
    OpportunityTask,
    OpportunityTeamMember,
    SalesProcess,
    Stage,
    StageHistory,
    StageKind,
    StageTask,
    TeamAccess,
    TeamRole,
)
from .processes import default_process, first_open_stage, stage_specs

AUDITED = ["name", "account", "owner", "amount", "currency", "close_date", "process", "stage", "status", "source",
           "next_step", "description", "lost_reason", "lost_note", "lost_to", "custom"]
TEXT_FIELDS = {"name": clean_text(200, required=True), "next_step": clean_text(300),
               "description": clean_text(5000)}


def list_separator() -> str:
    """The separator of names inside a message: "、" in Chinese, ", " in English."""
    return pgettext("list separator", "、")


SOURCE_LINKS = {"lead_id": ("lead", "leads.Lead"), "campaign_id": ("campaign", "marketing.Campaign"),
                "tender_notice_id": ("tender_notice", "tenders.TenderNotice")}


class StageGateBlocked(Conflict):
    """A move the stage gate refuses: `missing` lists every unmet requirement (kind, key, stage,
    label, message). A manager may override with a reason."""

    code = "stage_gate"
    title = "Stage requirements not met"

    def __init__(self, detail: str, *, missing: Sequence[dict[str, object]], can_override: bool) -> None:
        super().__init__(detail)
        self.missing = list(missing)
        self.can_override = can_override

    def to_problem(self, instance: str | None = None) -> Any:
        problem = super().to_problem(instance)
        problem["missing"] = self.missing  # type: ignore[typeddict-unknown-key]
        problem["can_override"] = self.can_override  # type: ignore[typeddict-unknown-key]
        return problem


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(_("商机信息填写有误。"), errors=errors)


def _int(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _check_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        message = _("这个商机已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
        raise PreconditionFailed(message % {"current": current, "expected": expected})


# --- field cleaning --------------------------------------------------------------------------------
def _clean(actor: User, data: Mapping[str, Any], *, partial: bool, deal: Opportunity | None,
           errors: list[FieldError]) -> dict[str, Any]:
    """The model fields named in `data`, cleaned; problems appended to `errors` (all at once)."""
    cleaned: dict[str, Any] = {}
    for name, cleaner in TEXT_FIELDS.items():
        if partial and name not in data:
            continue
        try:
            cleaned[name] = cleaner(data.get(name))
        except ValueError as error:
            errors.append(FieldError(name, str(error), getattr(error, "code", "invalid")))
    currency = deal.currency if deal is not None else "CNY"
    if "currency" in data or not partial:
        try:
            currency = clean_currency(data.get("currency") or "CNY")
            cleaned["currency"] = currency
        except ValueError as error:
            errors.append(FieldError("currency", str(error), "invalid"))
    if "amount" in data or not partial:
        raw = data.get("amount")
        try:
            amount = clean_amount_minor(raw if raw not in (None, "") else "0", currency)
            if amount < 0:
                errors.append(FieldError("amount", _("金额不能为负数。"), "negative"))
            else:
                cleaned["amount"] = amount
        except ValueError as error:
            errors.append(FieldError("amount", str(error), "invalid"))
    if "close_date" in data or not partial:
        try:
            cleaned["close_date"] = clean_date(data.get("close_date"))
        except ValueError as error:
            errors.append(FieldError("close_date", str(error), "invalid"))
    if "account_id" in data or not partial:
        account_id = _int(data.get("account_id"))
        account = access.visible(actor, "account").filter(pk=account_id).first() if account_id else None
        if account is None:
            errors.append(FieldError("account_id", _("请选择一个你能查看的客户（ID %(id)s 不存在或不可见）。")
                                     % {"id": data.get("account_id")}, "not_found"))
        else:
            cleaned["account"] = account
    if "source" in data and data.get("source") not in (None, ""):
        if data["source"] not in OpportunitySource.values:
            errors.append(FieldError("source", _("来源无效，可选：%(allowed)s。")
                                     % {"allowed": ", ".join(OpportunitySource.values)}, "invalid"))
        else:
            cleaned["source"] = data["source"]
    for key, (field, label) in SOURCE_LINKS.items():
        if key in data:
            cleaned[field] = _source_link(actor, key, label, data.get(key), errors)
    if "custom" in data:
        try:
            cleaned["custom"] = clean_custom_values("opportunity", data.get("custom") or {},
                                                    existing=deal.custom if deal else None, partial=partial)
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    elif not partial:
        try:
            cleaned["custom"] = clean_custom_values("opportunity", {})
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    return cleaned


def _source_link(actor: User, key: str, label: str, raw: Any, errors: list[FieldError]) -> Any:
    """A lead / campaign / tender notice the deal comes from; it must be visible to the actor."""
    if raw in (None, ""):
        return None
    from django.apps import apps

    model = apps.get_model(label)
    pk = _int(raw)
    record = None
    if pk is not None:
        if model._meta.label_lower == "leads.lead":
            record = access.visible(actor, "lead").filter(pk=pk).first()
        else:
            record = model._default_manager.filter(pk=pk).first()
    if record is None:
        errors.append(FieldError(key, _("没有 ID 为 %(id)s 的记录，或你不能查看它。") % {"id": raw}, "not_found"))
    return record


def _competitors(raw: Any, errors: list[FieldError]) -> list[Competitor] | None:
    """Competitors by id or by name (new names are added to the catalogue)."""
    if raw is None:
        return None
    if not isinstance(raw, list | tuple):
        errors.append(FieldError("competitors", _("竞争对手必须是列表。"), "invalid"))
        return None
    found: list[Competitor] = []
    for item in raw:
        if isinstance(item, int) and not isinstance(item, bool):
            competitor = Competitor.objects.filter(pk=item).first()
            if competitor is None:
                errors.append(FieldError("competitors", _("没有 ID 为 %(id)s 的竞争对手。") % {"id": item},
                                         "not_found"))
                continue
        else:
            name = " ".join(str(item or "").split())[:100]
            if not name:
                continue
            competitor, _created = Competitor.objects.get_or_create(name=name)
        if competitor not in found:
            found.append(competitor)
    return found


def _owner(actor: User, raw: Any, errors: list[FieldError]) -> User | None:
    if raw in (None, ""):
        return actor
    owner = User.objects.filter(pk=_int(raw) or 0, is_active=True).first()
    if owner is None:
        errors.append(FieldError("owner_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": raw}, "not_found"))
        return None
    if not owner_assignable(actor=actor, object_type="opportunity", owner=owner):
        errors.append(FieldError("owner_id", _("你不能把商机分配给这个用户。"), "forbidden"))
        return None
    return owner


def _process_and_stage(data: Mapping[str, Any], errors: list[FieldError]) -> tuple[SalesProcess | None, Stage | None]:
    process_id = data.get("process_id")
    process = (SalesProcess.objects.filter(pk=_int(process_id) or 0, is_active=True).first()
               if process_id not in (None, "") else default_process())
    if process is None:
        errors.append(FieldError("process_id", _("没有 ID 为 %(id)s 的启用中的销售流程。") % {"id": process_id},
                                 "not_found"))
        return None, None
    stage_id = data.get("stage_id")
    if stage_id in (None, ""):
        return process, first_open_stage(process)
    stage = process.stages.filter(pk=_int(stage_id) or 0, kind=StageKind.OPEN).first()
    if stage is None:
        message = _("阶段 %(id)s 不是流程“%(process)s”中进行中的阶段（新商机不能直接赢单或输单）。")
        errors.append(FieldError("stage_id", message % {"id": stage_id, "process": process.name}, "invalid"))
    return process, stage


# --- create / update / delete ----------------------------------------------------------------------
@transaction.atomic
def opportunity_create(*, actor: User, data: Mapping[str, Any]) -> Opportunity:
    """Create a deal owned by the actor (or `owner_id` when the actor may assign it) in the first
    open stage of its process (default process unless `process_id`), or in `stage_id` when that
    stage's entry fields are filled."""
    access.require(actor, "opportunity", "create")
    errors: list[FieldError] = []
    cleaned = _clean(actor, data, partial=False, deal=None, errors=errors)
    owner = _owner(actor, data.get("owner_id"), errors)
    process, stage = _process_and_stage(data, errors)
    competitors = _competitors(data.get("competitors"), errors)
    _raise(errors)
    assert owner is not None and process is not None and stage is not None
    now = timezone.now()
    deal = Opportunity(**cleaned, owner=owner, department_id=owner.department_id, process=process, stage=stage,
                       status=OpportunityStatus.OPEN, stage_entered_at=now, created_by=actor,
                       win_probability=stage.probability * 10, probability_source="stage")
    if deal.source == OpportunitySource.MANUAL:
        deal.source = (OpportunitySource.LEAD if deal.lead_id else OpportunitySource.TENDER if deal.tender_notice_id
                       else OpportunitySource.CAMPAIGN if deal.campaign_id else OpportunitySource.MANUAL)
    if stage.entry_fields:
        from .gates import filled_fields

        filled = filled_fields(deal, roles=(), competitor_count=len(competitors or []))
        missing = [key for key in stage.entry_fields if key not in filled]
        if missing:
            fields = list_separator().join(field_label(key) for key in missing)
            message = _("进入阶段“%(stage)s”需要先填写：%(fields)s。") % {"stage": stage.name, "fields": fields}
            raise ValidationFailed(message,
                                   errors=[FieldError("stage_id", field_label(key), "required") for key in missing])
    deal.save()
    if competitors:
        deal.competitors.set(competitors)
    StageHistory.objects.create(opportunity=deal, stage=stage, entered_at=now, moved_by=actor)
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=deal.name, changes=diff({}, _snapshot(deal)))
    health_refresh([deal.pk])
    deal.refresh_from_db()
    return deal


def _snapshot(deal: Opportunity) -> dict[str, Any]:
    values = snapshot(deal, AUDITED)
    values["competitors"] = sorted(deal.competitors.values_list("name", flat=True)) if deal.pk else []
    return values


@transaction.atomic
def opportunity_update(*, actor: User, opportunity_id: int, data: Mapping[str, Any],
                       expected_version: int | None = None) -> Opportunity:
    """Partial update of the deal's fields. The stage moves through `opportunity_move`, the owner
    through a transfer; `expected_version` must match or nothing changes."""
    deal: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "edit")
    _check_version(deal.version, expected_version)
    errors: list[FieldError] = []
    for key, message, code in (("stage_id", _("请通过“推进阶段”来更换阶段。"), "use_move"),
                               ("process_id", _("商机创建后不能更换销售流程。"), "immutable"),
                               ("owner_id", _("请通过转移来更换负责人。"), "use_transfer")):
        if key in data and _int(data[key]) != getattr(deal, key):
            errors.append(FieldError(key, message, code))
    cleaned = _clean(actor, data, partial=True, deal=deal, errors=errors)
    competitors = _competitors(data.get("competitors"), errors) if "competitors" in data else None
    _raise(errors)
    before = _snapshot(deal)
    for name, value in cleaned.items():
        setattr(deal, name, value)
    after = snapshot(deal, AUDITED)
    after["competitors"] = (sorted(item.name for item in competitors) if competitors is not None
                            else before["competitors"])
    changes = diff(before, after)
    if not changes:
        return deal
    fields = {name: getattr(deal, name) for name in cleaned}
    updated = Opportunity.objects.filter(pk=deal.pk, version=deal.version).update(
        **fields, version=F("version") + 1, updated_at=timezone.now())
    if not updated:
        raise PreconditionFailed(_("这个商机已被其他人修改，请刷新后重试。"))
    if competitors is not None:
        deal.competitors.set(competitors)
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=deal.name, changes=changes)
    if "close_date" in changes:
        health_refresh([deal.pk])
    deal.refresh_from_db()
    return deal


@transaction.atomic
def opportunity_delete(*, actor: User, opportunity_id: int, expected_version: int | None = None) -> None:
    deal: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "delete")
    _check_version(deal.version, expected_version)
    if deal.status == OpportunityStatus.WON:
        won_revoked(source="opportunity", source_ids=[deal.pk])
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=deal.name, changes=diff(_snapshot(deal), {}))
    deal.delete()


# --- the stage gate ----------------------------------------------------------------------------------
def can_override(actor: User, deal: Opportunity) -> bool:
    """Admins, and managers of the deal's department or of one of its ancestors, may override a gate."""
    if access.is_admin(actor):
        return True
    if deal.department_id is None:
        return False
    path = Department.objects.filter(pk=deal.department_id).values_list("path", flat=True).first() or ""
    ancestors = [int(part) for part in path.strip("/").split("/") if part.isdigit()]
    return Department.objects.filter(pk__in=ancestors, manager_id=actor.pk).exists()


def missing_dicts(missing: Sequence[gate_engine.Missing], stages: Mapping[int, Stage]) -> list[dict[str, object]]:
    """The engine's missing items for people: the stage name, the field label or task title."""
    task_titles = dict(StageTask.objects.filter(pk__in=[int(item.key) for item in missing if item.kind == "task"])
                       .values_list("pk", "title"))
    rows: list[dict[str, object]] = []
    for item in missing:
        stage = stages[item.stage_id]
        if item.kind == "task":
            label = task_titles.get(int(item.key), item.key)
            message = _("完成阶段“%(stage)s”的必做任务：%(task)s") % {"stage": stage.name, "task": label}
        elif item.kind == "lost_reason":
            label = _("输单原因")
            message = _("填写输单原因")
        elif item.kind == "lost_competitor":
            label = _("赢单的竞争对手")
            message = _("选择赢得这单的竞争对手")
        else:
            label = field_label(item.key)
            message = (_("离开阶段“%(stage)s”前填写：%(field)s") if item.when == "exit"
                       else _("进入阶段“%(stage)s”前填写：%(field)s")) % {"stage": stage.name, "field": label}
        rows.append({"kind": item.kind, "key": item.key, "stage_id": item.stage_id, "stage": stage.name,
                     "when": item.when, "label": str(label), "message": message})
    return rows


def gate_preview(actor: User, deal: Opportunity, stage_id: int) -> dict[str, Any] | None:
    """What a move of `deal` to `stage_id` still misses, without changing anything: the target
    stage, the missing items (as `missing_dicts` names them) and whether `actor` may override them
    (never for the lost reason and competitor). None when the stage is not a move target."""
    stages = {stage.pk: stage for stage in Stage.objects.filter(process_id=deal.process_id)}
    target = stages.get(stage_id)
    if target is None or stage_id == deal.stage_id:
        return None
    missing = gate_engine.gate(stage_specs(deal.process_id), deal.stage_id, stage_id, deal_facts(deal))
    rows = missing_dicts(missing, stages)
    hard = any(str(row["kind"]).startswith("lost_") for row in rows)
    return {"stage": target, "missing": rows, "lost": target.kind == StageKind.LOST,
            "can_override": bool(rows) and not hard and can_override(actor, deal)}


@transaction.atomic
def opportunity_move(*, actor: User, opportunity_id: int, stage_id: int, expected_version: int | None = None,
                     override_reason: str = "", lost_reason: str = "", lost_note: str = "",
                     lost_to: Any = None) -> Opportunity:
    """Move a deal to another stage of its process through the gate. Refused moves raise
    StageGateBlocked with every missing item; a manager's `override_reason` lets it through (the
    history keeps what was skipped). Won: closed, the win announced; lost: reason and competitor."""
    visible: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "edit")
    deal = Opportunity.objects.select_for_update().get(pk=visible.pk)
    _check_version(deal.version, expected_version)
    stages = {stage.pk: stage for stage in Stage.objects.filter(process_id=deal.process_id)}
    target = stages.get(_int(stage_id) or 0)
    if target is None:
        raise ValidationFailed.for_field("stage_id", _("阶段 %(id)s 不属于这个商机的销售流程。") % {"id": stage_id})
    if target.pk == deal.stage_id:
        raise ValidationFailed.for_field("stage_id", _("商机已在阶段“%(stage)s”。") % {"stage": target.name}, "same")
    errors: list[FieldError] = []
    competitor = None
    if target.kind == StageKind.LOST:
        if lost_reason and lost_reason not in LostReason.values:
            errors.append(FieldError("lost_reason", _("输单原因无效，可选：%(allowed)s。")
                                     % {"allowed": ", ".join(LostReason.values)}, "invalid"))
        if lost_to not in (None, ""):
            # Only a JSON integer is an id: a name made of digits ("360") is a name.
            found = _competitors([lost_to], errors)
            competitor = found[0] if found else None
    _raise(errors)
    override_reason = " ".join((override_reason or "").split())[:500]
    missing = gate_engine.gate(stage_specs(deal.process_id), deal.stage_id, target.pk,
                               deal_facts(deal, lost_reason=lost_reason,
                                          lost_to_id=competitor.pk if competitor else None))
    rows = missing_dicts(missing, stages)
    # Lost reason and competitor are never overridden: a lost deal always says why and to whom.
    hard = [row for row in rows if row["kind"] in ("lost_reason", "lost_competitor")]
    if rows:
        allowed = can_override(actor, deal)
        if hard or not override_reason or not allowed:
            if override_reason and not allowed and not hard:
                raise PermissionDenied(_("只有商机所属部门（或上级部门）的负责人或管理员可以越过阶段要求。"))
            raise StageGateBlocked(_("推进到阶段“%(stage)s”还缺 %(count)s 项：%(items)s")
                                   % {"stage": target.name, "count": len(rows),
                                      "items": "；".join(str(row["message"]) for row in rows)},
                                   missing=rows, can_override=allowed and not hard)
    now = timezone.now()
    before = _snapshot(deal)
    source_name = stages[deal.stage_id].name
    was_won = deal.status == OpportunityStatus.WON
    deal.stage = target
    deal.status = {StageKind.OPEN: OpportunityStatus.OPEN, StageKind.WON: OpportunityStatus.WON,
                   StageKind.LOST: OpportunityStatus.LOST}[StageKind(target.kind)]
    deal.stage_entered_at = now
    deal.closed_at = now if target.kind != StageKind.OPEN else None
    if target.kind == StageKind.LOST:
        deal.lost_reason = lost_reason or deal.lost_reason
        deal.lost_note = " ".join((lost_note or "").split())[:500] or deal.lost_note
        deal.lost_to = competitor or deal.lost_to
    else:
        deal.lost_reason, deal.lost_note, deal.lost_to = "", "", None
    if deal.probability_source != "model" or target.kind != StageKind.OPEN:
        deal.win_probability = target.probability * 10
        deal.probability_source = "stage"
    deal.version += 1
    deal.save()
    StageHistory.objects.filter(opportunity=deal, exited_at__isnull=True).update(exited_at=now)
    StageHistory.objects.create(opportunity=deal, stage=target, entered_at=now, moved_by=actor,
                                override_reason=override_reason if rows else "", skipped=rows if rows else [])
    changes = diff(before, _snapshot(deal))
    if rows:
        changes["override"] = [None, override_reason]
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=deal.name, changes=changes,
                 summary=_("阶段：%(source)s → %(target)s") % {"source": source_name, "target": target.name})
    if target.kind == StageKind.WON:
        deals_won([Won(account_id=deal.account_id, amount=deal.amount, currency=deal.currency, won_at=now,
                       source="opportunity", source_id=deal.pk)])
    elif was_won:
        won_revoked(source="opportunity", source_ids=[deal.pk])
    health_refresh([deal.pk])
    if target.kind == StageKind.OPEN:
        # The model reads the stage and the health: the deal's probability follows the move now,
        # not at the nightly rescore (without a model it is the new stage's probability).
        from .forecast_model import forecast_rescore

        forecast_rescore([deal.pk])
    deal.refresh_from_db()
    return deal


# --- team and tasks ------------------------------------------------------------------------------------
@transaction.atomic
def team_member_set(*, actor: User, opportunity_id: int, user_id: int, role: str = TeamRole.SALES,
                    access_level: str = TeamAccess.READ) -> OpportunityTeamMember:
    deal: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "edit")
    errors: list[FieldError] = []
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        errors.append(FieldError("user_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": user_id}, "not_found"))
    if role not in TeamRole.values:
        errors.append(FieldError("role", _("团队角色无效。"), "invalid"))
    if access_level not in TeamAccess.values:
        errors.append(FieldError("access", _("权限只能是只读或可编辑。"), "invalid"))
    _raise(errors)
    member, created = OpportunityTeamMember.objects.update_or_create(
        opportunity=deal, user=user, defaults={"role": role, "access": access_level})
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=deal.name, changes={"team": [None, f"{user}: {role}/{access_level}"]},
                 summary=_("添加团队成员") if created else _("修改团队成员"))
    return member


@transaction.atomic
def team_member_remove(*, actor: User, opportunity_id: int, user_id: int) -> None:
    deal: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "edit")
    member = OpportunityTeamMember.objects.filter(opportunity=deal, user_id=user_id).select_related("user").first()
    if member is None:
        raise ValidationFailed.for_field("user_id", _("这个用户不在商机团队中。"), "not_found")
    member.delete()
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=deal.name, changes={"team": [str(member.user), None]}, summary=_("移除团队成员"))


@transaction.atomic
def task_set(*, actor: User, opportunity_id: int, task_id: int, done: bool) -> bool:
    """Check (or uncheck) a stage task of the deal's process; returns whether anything changed."""
    deal: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "edit")
    task = StageTask.objects.filter(pk=task_id, stage__process_id=deal.process_id).first()
    if task is None:
        raise ValidationFailed.for_field("task_id", _("任务 %(id)s 不属于这个商机的销售流程。") % {"id": task_id})
    if done:
        _row, changed = OpportunityTask.objects.get_or_create(opportunity=deal, task=task, defaults={
            "done_by": actor, "done_at": timezone.now()})
    else:
        changed = OpportunityTask.objects.filter(opportunity=deal, task=task).delete()[0] > 0
    if changed:
        audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                     object_repr=deal.name, changes={"task": [None if done else task.title,
                                                              task.title if done else None]},
                     summary=(_("完成任务：%(task)s") if done else _("取消完成：%(task)s")) % {"task": task.title})
    return changed


def opportunity_followup_recorded(object_type: str, object_id: int, occurred_at: dt.datetime) -> None:
    """Listener of activity follow-ups: one on a deal is activity on the deal (health) and on its
    account (last follow-up, and the public-pool hold moves as for a follow-up on the account)."""
    if object_type != "opportunity":
        return
    from django.db.models import Q

    from l2c.apps.customers.pool import pool_followup_recorded

    health_refresh([object_id])
    account_id = Opportunity.objects.filter(pk=object_id).values_list("account_id", flat=True).first()
    if account_id is None:
        return
    Account.objects.filter(Q(last_followed_up_at__isnull=True) | Q(last_followed_up_at__lt=occurred_at),
                           pk=account_id).update(last_followed_up_at=occurred_at)
    pool_followup_recorded("account", account_id, occurred_at)


def days_in_stage(deal: Opportunity, as_of: dt.datetime | None = None) -> int:
    return max(0, ((as_of or timezone.now()) - deal.stage_entered_at).days)


def account_open_deals(account: Account) -> int:
    return Opportunity.objects.filter(account=account, status=OpportunityStatus.OPEN).count()
