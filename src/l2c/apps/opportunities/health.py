"""Deal health (ADR 0005): the rep's answers, the admin's weights, and `health_refresh`, which feeds
the pure engine and stores the index, flags and history. Refreshed after every write touching an
input (answers, chain, follow-ups, moves, close date) and nightly for the time-driven flags."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines import health as engine
from l2c.kernel.errors import FieldError, PermissionDenied, ValidationFailed

from .models import (
    Dimension,
    HealthAnswer,
    HealthConfig,
    HealthSnapshot,
    Opportunity,
    OpportunityContact,
    OpportunityStatus,
    Stage,
)

# Marked for extraction (gettext_noop); translated where shown.
FLAG_MESSAGES = {
    "close_date_passed": gettext_noop("预计成交日期已过"),
    "stalled": gettext_noop("在当前阶段停留超过标准天数"),
    "no_activity": gettext_noop("长时间没有跟进"),
    "no_decision_maker": gettext_noop("决策链中没有决策者"),
    "no_champion": gettext_noop("决策链中没有支持者（内线）"),
    "opponent_high_influence": gettext_noop("有高影响力的反对者"),
}
CHUNK = 2000


def health_settings() -> engine.HealthSettings:
    config = HealthConfig.objects.filter(pk=1).first()
    if config is None:
        return engine.HealthSettings(weights=dict(engine.DEFAULT_WEIGHTS))
    return engine.HealthSettings(weights=dict(config.weights), no_activity_days=config.no_activity_days)


@transaction.atomic
def health_config_save(*, actor: User, weights: Mapping[str, Any], no_activity_days: Any) -> engine.HealthSettings:
    """Admins set the weight (0–100) of every dimension and the no-activity threshold (1–365 days)."""
    if not access.is_admin(actor):
        raise PermissionDenied(_("只有管理员可以修改健康度权重。"))
    errors: list[FieldError] = []
    cleaned: dict[str, int] = {}
    for dimension in engine.DIMENSIONS:
        raw = weights.get(dimension, 0)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            value = -1
        if not 0 <= value <= 100 or isinstance(raw, bool):
            errors.append(FieldError(f"weights.{dimension}", _("权重必须是 0 到 100 的整数。"), "invalid"))
        cleaned[dimension] = value
    unknown = sorted(set(weights) - set(engine.DIMENSIONS))
    if unknown:
        errors.append(FieldError("weights", _("未知的维度：%(names)s。") % {"names": ", ".join(unknown)}, "invalid"))
    if not errors and sum(cleaned.values()) == 0:
        errors.append(FieldError("weights", _("至少一个维度的权重要大于 0。"), "invalid"))
    try:
        days = int(no_activity_days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= 365:
        errors.append(FieldError("no_activity_days", _("无跟进天数必须是 1 到 365 的整数。"), "invalid"))
    if errors:
        raise ValidationFailed(_("健康度设置填写有误。"), errors=errors)
    before = health_settings()
    HealthConfig.objects.update_or_create(pk=1, defaults={"weights": cleaned, "no_activity_days": days,
                                                          "updated_by": actor})
    audit_record(object_type="health_settings", object_id=1, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=_("商机健康度"), changes={
                     "weights": [dict(before.weights), cleaned],
                     "no_activity_days": [before.no_activity_days, days]})
    # Every open deal is re-scored with the new weights by a job (after commit), not in this request.
    from l2c.apps.activity.jobs import job_enqueue

    from .tasks import health_refresh_task

    job_enqueue(task=health_refresh_task, name="opportunities.health_refresh", actor=actor)
    return health_settings()


@transaction.atomic
def health_answer_save(*, actor: User, opportunity_id: int, dimension: str, level: Any,
                       evidence: str = "") -> HealthAnswer:
    """The rep's answer (0 unknown … 4 strong) on one dimension, with the evidence; the index is
    recomputed at once."""
    deal: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "edit")
    errors: list[FieldError] = []
    if dimension not in Dimension.values:
        allowed = ", ".join(Dimension.values)
        errors.append(FieldError("dimension", _("维度无效，可选：%(allowed)s。") % {"allowed": allowed}, "invalid"))
    try:
        value = int(level)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= 4 or isinstance(level, bool):
        errors.append(FieldError("level", _("评估等级必须是 0（未知）到 4（强）。"), "invalid"))
    evidence = " ".join(str(evidence or "").split())
    if len(evidence) > 500:
        errors.append(FieldError("evidence", _("依据最多 500 个字。"), "too_long"))
    if errors:
        raise ValidationFailed(_("健康度评估填写有误。"), errors=errors)
    previous = HealthAnswer.objects.filter(opportunity=deal, dimension=dimension).first()
    answer, _created = HealthAnswer.objects.update_or_create(
        opportunity=deal, dimension=dimension,
        defaults={"level": value, "evidence": evidence, "answered_by": actor, "answered_at": timezone.now()})
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=deal.name, summary=_("健康度评估：%(dimension)s") % {
                     "dimension": Dimension(dimension).label},
                 changes={f"health.{dimension}": [
                     None if previous is None else {"level": previous.level, "evidence": previous.evidence},
                     {"level": value, "evidence": evidence}]})
    health_refresh([deal.pk])
    return answer


def _inputs(deals: Sequence[Opportunity], as_of: dt.datetime) -> dict[int, engine.HealthInput]:
    """Engine inputs of many deals: three queries whatever their number."""
    ids = [deal.pk for deal in deals]
    answers: dict[int, dict[str, int]] = {}
    for deal_id, dimension, level in HealthAnswer.objects.filter(opportunity_id__in=ids).values_list(
            "opportunity_id", "dimension", "level"):
        answers.setdefault(deal_id, {})[dimension] = level
    chains: dict[int, list[engine.ChainMember]] = {}
    for deal_id, role, attitude, influence in OpportunityContact.objects.filter(opportunity_id__in=ids).values_list(
            "opportunity_id", "role", "attitude", "influence"):
        chains.setdefault(deal_id, []).append(engine.ChainMember(role, attitude, influence))
    norms = dict(Stage.objects.filter(pk__in={deal.stage_id for deal in deals}).values_list("pk", "norm_days"))
    today = timezone.localdate(as_of)
    inputs = {}
    for deal in deals:
        # Never followed up: the deal's creation is its latest activity (a new deal is not neglected).
        last = deal.last_followed_up_at or deal.created_at
        inputs[deal.pk] = engine.HealthInput(
            answers=answers.get(deal.pk, {}), chain=chains.get(deal.pk, []),
            days_since_activity=None if last is None else max(0, (as_of - last).days),
            days_in_stage=max(0, (as_of - deal.stage_entered_at).days), stage_norm_days=norms.get(deal.stage_id),
            days_to_close=None if deal.close_date is None else (deal.close_date - today).days)
    return inputs


def health_of(deal: Opportunity, as_of: dt.datetime | None = None) -> engine.Health:
    """The explained health of one deal, computed now (for the deal page and the API)."""
    moment = as_of or timezone.now()
    return engine.health(_inputs([deal], moment)[deal.pk], health_settings())


def health_refresh(deal_ids: Sequence[int], as_of: dt.datetime | None = None) -> int:
    """Recompute the health of open deals; store index, flags and a history row where the index or
    the flags changed. Returns the number of deals whose stored health changed."""
    moment = as_of or timezone.now()
    settings = health_settings()
    changed = 0
    for start in range(0, len(deal_ids), CHUNK):
        deals = list(Opportunity.objects.filter(pk__in=deal_ids[start:start + CHUNK], status=OpportunityStatus.OPEN)
                     .only("pk", "stage_id", "stage_entered_at", "close_date", "last_followed_up_at", "created_at",
                           "health_index", "health_flags"))
        inputs = _inputs(deals, moment)
        snapshots = []
        # Deals sharing an index and flags are written by one UPDATE: a few hundred statements
        # per chunk at most, whatever the number of deals.
        groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        for deal in deals:
            result = engine.health(inputs[deal.pk], settings)
            flags = list(result.flags)
            if deal.health_index == result.index and deal.health_flags == flags:
                continue
            changed += 1
            groups.setdefault((result.index, result.flags), []).append(deal.pk)
            snapshots.append(HealthSnapshot(opportunity_id=deal.pk, index=result.index, flags=flags, taken_at=moment,
                                            dimensions={item.dimension: item.score for item in result.dimensions}))
        for (index, flags_key), ids in groups.items():
            Opportunity.objects.filter(pk__in=ids).update(health_index=index, health_flags=list(flags_key),
                                                          health_at=moment)
        HealthSnapshot.objects.bulk_create(snapshots)
    return changed


def health_refresh_all(as_of: dt.datetime | None = None) -> int:
    """Every open deal (the nightly job: days in stage, days without activity and close dates move)."""
    ids = list(Opportunity.objects.filter(status=OpportunityStatus.OPEN).order_by("pk").values_list("pk", flat=True))
    return health_refresh(ids, as_of)


def flag_messages(flags: Sequence[str]) -> list[dict[str, str]]:
    return [{"code": flag, "message": _(FLAG_MESSAGES[flag])} for flag in flags if flag in FLAG_MESSAGES]
