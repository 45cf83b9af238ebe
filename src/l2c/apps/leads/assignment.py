"""Lead assignment rules (线索分配, ADR 0004): rule administration and `leads_assign`.

The first active rule (by position, then id) whose conditions all hold takes a lead:
- round_robin: the rule's active users in turn (by user id); the rule's `cursor` counts the leads it
  handed out and is advanced with one `UPDATE … SET cursor = cursor + n`, which also locks the rule
  row until commit, so concurrent calls never hand out the same turn twice;
- least_loaded: the user holding the fewest open (new/contacted/qualified) leads, ties by user id,
  counted once per call; every lead given adds one to its assignee's load;
- user: one named user;
- pool: the lead goes into the target pool (unowned, claimable by its members).
For the three user actions a `target_pool` on the rule means "held under that pool": the lead keeps
the pool, so the pool's reclaim rule applies and an untouched lead returns to it. Without it the lead
is owned outright and never reclaimed. Holding under a pool respects the pool's per-rep cap
(`max_held_per_rep`), race-safe like a claim: the candidates' counters are locked first; a candidate at
the cap is passed over (round robin / least loaded: the next candidate) and a lead nobody may take goes
into that pool unowned. A lead no rule matches is left as it is: a last rule with no conditions and
action pool is the default pool (the demo's 公共线索池). A stored rule that cannot be evaluated is passed
over (logged), never failing the capture.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from l2c.apps.activity.audit import audit_bulk, audit_record
from l2c.apps.activity.imports import audit_insert, transfers_insert
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import notification_send
from l2c.apps.customers.models import CompanySize, Industry
from l2c.apps.identity import access
from l2c.engines import routing
from l2c.engines.routing import FieldSpec
from l2c.kernel.errors import FieldError, NotFound, PermissionDenied, ValidationFailed

from .models import AssignmentAction, AssignmentRule, Lead, LeadPool, LeadSource, LeadStatus, ScoreBand
from .pools import CHUNK, OPEN_STATUSES, _lock_counter, hold_fields, may_manage_routing

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

logger = logging.getLogger(__name__)

USER_ACTIONS = (AssignmentAction.ROUND_ROBIN, AssignmentAction.LEAST_LOADED, AssignmentAction.USER)

# Lead fields rules may test (custom fields as `custom.<key>`), with their labels for the editor.
CONDITION_FIELDS: dict[str, tuple[Any, FieldSpec]] = {
    "score_band": (gettext_lazy("评分等级"), FieldSpec("text", frozenset(ScoreBand.values))),
    "score": (gettext_lazy("综合评分"), FieldSpec("number")),
    "behaviour_score": (gettext_lazy("行为积分"), FieldSpec("number")),
    "attribute_score": (gettext_lazy("属性评分"), FieldSpec("number")),
    "source": (gettext_lazy("来源"), FieldSpec("text", frozenset(LeadSource.values))),
    "status": (gettext_lazy("状态"), FieldSpec("text", frozenset(LeadStatus.values))),
    "province": (gettext_lazy("省份"), FieldSpec("text")),
    "city": (gettext_lazy("城市"), FieldSpec("text")),
    "industry": (gettext_lazy("行业"), FieldSpec("text", frozenset(Industry.values))),
    "size": (gettext_lazy("规模"), FieldSpec("text", frozenset(CompanySize.values))),
    "company": (gettext_lazy("公司"), FieldSpec("text")),
    "name": (gettext_lazy("姓名"), FieldSpec("text")),
    "title": (gettext_lazy("职务"), FieldSpec("text")),
    "email": (gettext_lazy("邮箱"), FieldSpec("text")),
    "campaign_id": (gettext_lazy("市场活动 ID"), FieldSpec("number")),
    "tender_notice_id": (gettext_lazy("招投标公告 ID"), FieldSpec("number")),
}
CATALOGUE: dict[str, FieldSpec] = {name: spec for name, (_label, spec) in CONDITION_FIELDS.items()}
OPERATOR_LABELS: dict[str, Any] = {
    "eq": gettext_lazy("等于"), "ne": gettext_lazy("不等于"), "in": gettext_lazy("属于"),
    "not_in": gettext_lazy("不属于"), "contains": gettext_lazy("包含"), "gt": gettext_lazy("大于"),
    "gte": gettext_lazy("大于等于"), "lt": gettext_lazy("小于"), "lte": gettext_lazy("小于等于"),
    "is_empty": gettext_lazy("为空"), "is_not_empty": gettext_lazy("不为空"),
}
RECORD_FIELDS = tuple(CONDITION_FIELDS)


@dataclass(frozen=True)
class AssignmentOutcome:
    """What `leads_assign` did with one lead. `status`: assigned (owner set, maybe held under
    `pool_id`), pooled (put into `pool_id`), no_match (left as it was), skipped (not found, or it
    already had an owner or a pool)."""

    status: str
    rule_id: int | None = None
    owner_id: int | None = None
    pool_id: int | None = None


def lead_record(values: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping the routing engine reads for one lead: its condition fields and `custom.<key>`."""
    record = {name: values.get(name) for name in RECORD_FIELDS}
    custom = values.get("custom")
    if isinstance(custom, Mapping):
        for key, value in custom.items():
            record[f"{routing.CUSTOM_PREFIX}{key}"] = value
    return record


@dataclass
class _ActiveRule:
    rule: AssignmentRule
    engine: routing.Rule
    candidates: list[int]


def _active_rules() -> list[_ActiveRule]:
    """Active rules that can act now, in order. A rule whose stored conditions no longer validate, or
    whose action has nobody (or no active pool) to give leads to, is passed over."""
    result = []
    for rule in AssignmentRule.objects.filter(is_active=True).select_related("target_user", "target_pool") \
            .prefetch_related("users").order_by("position", "id"):
        try:
            conditions, problems = routing.parse_conditions(rule.conditions, CATALOGUE)
        except Exception:
            logger.exception("assignment rule %s (%s) passed over: its stored conditions cannot be read",
                             rule.pk, rule.name)
            continue
        if problems:
            logger.warning("assignment rule %s (%s) passed over: its stored conditions are invalid: %s", rule.pk,
                           rule.name, ", ".join(f"{p.index}:{p.field}:{p.code}:{p.detail}" for p in problems))
            continue
        candidates: list[int] = []
        if rule.action in (AssignmentAction.ROUND_ROBIN, AssignmentAction.LEAST_LOADED):
            candidates = sorted(user.pk for user in rule.users.all() if user.is_active)
        elif rule.action == AssignmentAction.USER:
            candidates = [rule.target_user_id] if rule.target_user and rule.target_user.is_active else []
        elif rule.target_pool is not None and rule.target_pool.is_active:
            candidates = [0]
        if not candidates:
            continue
        result.append(_ActiveRule(rule, routing.Rule(rule.pk, conditions), candidates))
    return result


def _hold_pool(rule: AssignmentRule) -> LeadPool | None:
    """The pool a user action holds its leads under (an inactive pool holds nothing)."""
    if rule.action not in USER_ACTIONS or rule.target_pool is None or not rule.target_pool.is_active:
        return None
    return rule.target_pool


def _owners_for(active: _ActiveRule, count: int, room: Mapping[int, int]) -> list[int]:
    """The assignees of `count` leads in order; a candidate in `room` takes at most that many (the
    pool's cap): the list is shorter when every candidate is full, the remaining leads have nobody."""
    rule = active.rule
    if rule.action == AssignmentAction.USER:
        return active.candidates * min(count, *(room.get(uid, count) for uid in active.candidates))
    if rule.action == AssignmentAction.ROUND_ROBIN:
        if not room:
            # The UPDATE locks the rule row until commit: the next caller reads our cursor.
            AssignmentRule.objects.filter(pk=rule.pk).update(cursor=F("cursor") + count)
            cursor = AssignmentRule.objects.values_list("cursor", flat=True).get(pk=rule.pk)
            return routing.round_robin(active.candidates, cursor - count, count)
        AssignmentRule.objects.filter(pk=rule.pk).update(cursor=F("cursor"))  # lock the row, then read
        cursor = AssignmentRule.objects.values_list("cursor", flat=True).get(pk=rule.pk)
        chosen, turns = routing.round_robin_capped(active.candidates, cursor, count, room)
        if turns:
            AssignmentRule.objects.filter(pk=rule.pk).update(cursor=F("cursor") + turns)
        return chosen
    AssignmentRule.objects.filter(pk=rule.pk).update(cursor=F("cursor"))  # lock: loads are read consistently
    loads = {user_id: 0 for user_id in active.candidates}
    for owner_id, held in Lead.objects.filter(owner_id__in=active.candidates, status__in=OPEN_STATUSES) \
            .values("owner_id").annotate(held=Count("pk")).values_list("owner_id", "held"):
        loads[owner_id] = held
    return routing.least_loaded(loads, count, room or None)


def _first_match(rules: Sequence[routing.Rule], record: Mapping[str, Any], broken: set[int]) -> int | None:
    """`routing.first_match`, passing over (and logging once) a rule whose evaluation fails."""
    for rule in rules:
        if rule.rule_id in broken:
            continue
        try:
            if routing.rule_matches(rule, record):
                return rule.rule_id
        except Exception:
            logger.exception("assignment rule %s passed over: it cannot be evaluated", rule.rule_id)
            broken.add(rule.rule_id)
    return None


def _lock_capped(rules: Sequence[_ActiveRule], used: set[int],
                 owners: Mapping[int, User]) -> dict[tuple[int, int], int]:
    """Lock the claim counters of every (capped pool, candidate) this call may hold leads for, in
    (pool, user) order as claims and transfers do (no deadlock), then read how many more each may hold:
    {(pool id, user id): room}. Two queries per pair to lock and one to count, whatever the leads."""
    pools: dict[int, LeadPool] = {}
    pairs: set[tuple[int, int]] = set()
    for active in rules:
        pool = _hold_pool(active.rule)
        if active.rule.pk in used and pool is not None and pool.max_held_per_rep is not None:
            pools[pool.pk] = pool
            pairs.update((pool.pk, user_id) for user_id in active.candidates)
    if not pairs:
        return {}
    for pool_id, user_id in sorted(pairs):
        _lock_counter(pools[pool_id], owners[user_id], claim=False)
    held: Counter[tuple[int, int]] = Counter()
    for pool_id, owner_id, count in Lead.objects.filter(
            pool_id__in=list(pools), owner_id__in={user_id for _pool, user_id in pairs}) \
            .values("pool_id", "owner_id").annotate(count=Count("pk")).values_list("pool_id", "owner_id", "count"):
        held[(pool_id, owner_id)] = count
    return {(pool_id, user_id): max((pools[pool_id].max_held_per_rep or 0) - held[(pool_id, user_id)], 0)
            for pool_id, user_id in pairs}


@transaction.atomic
def leads_assign(*, lead_ids: Sequence[int], actor: User | None, via: str) -> dict[int, AssignmentOutcome]:
    """Route the given leads that have neither owner nor pool through the assignment rules (capture,
    import, creation without an owner). Set-based: one read per chunk of leads, one UPDATE per
    (rule, assignee) chunk, history, audit and notifications in bulk (one per assignee per call)."""
    from l2c.apps.identity.models import User as UserModel

    ids = sorted({int(i) for i in lead_ids})
    outcomes: dict[int, AssignmentOutcome] = {}
    rules = _active_rules()
    by_rule: dict[int, list[int]] = defaultdict(list)
    names: dict[int, str] = {}
    engine_rules = [active.engine for active in rules]
    broken: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for values in Lead.objects.filter(pk__in=chunk).values("pk", "owner_id", "pool_id", "custom",
                                                               *RECORD_FIELDS):
            lead_id = values["pk"]
            names[lead_id] = values["name"] or values["company"] or f"#{lead_id}"
            if values["owner_id"] is not None or values["pool_id"] is not None:
                outcomes[lead_id] = AssignmentOutcome("skipped", owner_id=values["owner_id"],
                                                      pool_id=values["pool_id"])
                continue
            rule_id = _first_match(engine_rules, lead_record(values), broken)
            if rule_id is None:
                outcomes[lead_id] = AssignmentOutcome("no_match")
            else:
                by_rule[rule_id].append(lead_id)
    for lead_id in ids:
        outcomes.setdefault(lead_id, AssignmentOutcome("skipped"))
    if not by_rule:
        return outcomes
    now = timezone.now()
    owners = {user.pk: user for user in UserModel.objects.filter(
        pk__in={uid for active in rules if active.rule.pk in by_rule for uid in active.candidates if uid})}
    history: list[tuple[str, int, int | None, int | None, str, str]] = []
    events: dict[str, list[tuple[str, int, str, str, dict[str, Any]]]] = defaultdict(list)  # by summary
    per_owner: Counter[int] = Counter()
    room = _lock_capped(rules, set(by_rule), owners)
    transfer = str(AuditEvent.Kind.TRANSFER.value)

    def into_pool(rule: AssignmentRule, pool: LeadPool, lead_group: list[int], summary: str) -> None:
        done = _write(lead_group, owner=None, pool=pool, now=now)
        for lead_id in lead_group:
            if lead_id in done:
                outcomes[lead_id] = AssignmentOutcome("pooled", rule.pk, None, pool.pk)
                events[summary].append(("lead", lead_id, names[lead_id], transfer, {"pool_id": [None, pool.pk]}))
            else:
                outcomes[lead_id] = AssignmentOutcome("skipped")

    for active in rules:
        rule, lead_group = active.rule, by_rule.get(active.rule.pk)
        if not lead_group:
            continue
        summary = f"{via}: rule {rule.name}"[:500]
        if rule.action == AssignmentAction.POOL:
            assert rule.target_pool is not None
            into_pool(rule, rule.target_pool, lead_group, summary)
            continue
        hold_pool = _hold_pool(rule)
        rule_room = {user_id: room[(hold_pool.pk, user_id)] for user_id in active.candidates
                     if hold_pool is not None and (hold_pool.pk, user_id) in room}
        chosen = _owners_for(active, len(lead_group), rule_room)
        if len(chosen) < len(lead_group):
            # Every candidate is at the pool's cap: the rest lies in the pool, unowned, for its members.
            assert hold_pool is not None
            into_pool(rule, hold_pool, lead_group[len(chosen):], f"{summary} (cap)"[:500])
        grouped: dict[int, list[int]] = defaultdict(list)
        for lead_id, owner_id in zip(lead_group, chosen, strict=False):
            grouped[owner_id].append(lead_id)
        for owner_id, owner_leads in grouped.items():
            owner = owners[owner_id]
            done = _write(owner_leads, owner=owner, pool=hold_pool, now=now)
            if hold_pool is not None and (hold_pool.pk, owner_id) in room:
                room[(hold_pool.pk, owner_id)] -= len(done)
            for lead_id in owner_leads:
                if lead_id not in done:
                    outcomes[lead_id] = AssignmentOutcome("skipped")
                    continue
                outcomes[lead_id] = AssignmentOutcome("assigned", rule.pk, owner_id,
                                                      hold_pool.pk if hold_pool else None)
                per_owner[owner_id] += 1
                history.append(("lead", lead_id, None, owner_id, "assign_rule", summary))
                events[summary].append(("lead", lead_id, names[lead_id], transfer, {"owner_id": [None, owner_id]}))
    # Raw multi-row inserts (COPY on PostgreSQL): an import routes up to a chunk of leads per call.
    actor_id = actor.pk if actor else None
    transfers_insert(actor_id=actor_id, transfers=history)
    for summary, summary_events in events.items():
        audit_insert(actor_id=actor_id, events=summary_events, summary=summary)
    for owner_id, count in sorted(per_owner.items()):
        owner = owners[owner_id]
        if actor is not None and owner_id == actor.pk:
            continue
        with translation.override(owner.language or settings.LANGUAGE_CODE):
            title = ngettext("%(count)s 条新线索已分配给你", "%(count)s 条新线索已分配给你", count) % {"count": count}
        notification_send(recipient=owner, kind="lead_assigned", title=title, url="/leads/")
    return outcomes


def _write(lead_ids: list[int], *, owner: User | None, pool: LeadPool | None, now: Any) -> set[int]:
    """Give unowned, unpooled leads an owner (held under `pool` when given) or put them into `pool`.
    Compare-and-set on "no owner and no pool": a lead assigned concurrently is left alone. Returns the
    ids written."""
    if owner is not None:
        fields = hold_fields(pool, owner, now)
        fields["pool_id"] = pool.pk if pool else None
    else:
        assert pool is not None
        fields = {"pool_id": pool.pk, "pool_entered_at": now, "held_since": None, "reclaim_due_at": None}
    written: set[int] = set()
    for start in range(0, len(lead_ids), CHUNK):
        chunk = lead_ids[start:start + CHUNK]
        updated = Lead.objects.filter(pk__in=chunk, owner__isnull=True, pool__isnull=True).update(
            **fields, version=F("version") + 1, updated_at=now)
        if updated == len(chunk):
            written.update(chunk)
        else:
            expected = (owner.pk if owner else None, pool.pk if pool else None)
            written.update(pk for pk, owner_id, pool_id in Lead.objects.filter(pk__in=chunk).values_list(
                "pk", "owner_id", "pool_id") if (owner_id, pool_id) == expected)
    return written


# --- rule administration -------------------------------------------------------------------------------
def condition_error_field(problem: routing.ConditionProblem) -> str:
    """The field path of a condition problem: `conditions` (the list), `conditions.<i>` (its shape),
    `conditions.<i>.field` / `.op` / `.value` (0-based index)."""
    if problem.index < 0:
        return "conditions"
    part = {"unknown_field": ".field", "bad_op": ".op", "bad_value": ".value"}.get(problem.code, "")
    return f"conditions.{problem.index}{part}"


def condition_problem_text(problem: routing.ConditionProblem) -> str:
    """One engine problem in the active language, naming the condition (1-based) and the field."""
    number = problem.index + 1
    if problem.code == "bad_shape":
        if problem.detail == "too_many":
            return _("条件最多 %(count)s 个。") % {"count": routing.MAX_CONDITIONS}
        if problem.detail == "list":
            return _("条件必须是列表。")
        return _("第 %(n)s 个条件缺少字段或运算。") % {"n": number}
    names = {"n": number, "field": problem.field, "op": problem.op}
    if problem.code == "unknown_field":
        return _("第 %(n)s 个条件：没有字段“%(field)s”（可用字段见条件编辑器，自定义字段写作 custom.<键>）。") % names
    if problem.code == "bad_op":
        if problem.detail == "order_on_text":
            return _("第 %(n)s 个条件：文本字段“%(field)s”不能比较大小（运算 %(op)s）。") % names
        if problem.detail == "contains_on_number":
            return _("第 %(n)s 个条件：数字字段“%(field)s”不能用“包含”。") % names
        return _("第 %(n)s 个条件：没有运算“%(op)s”。") % names
    details = {
        "list": _("需要一个非空的值列表"),
        "too_many": _("值最多 %(count)s 个") % {"count": routing.MAX_LIST_VALUES},
        "number": _("需要数字"),
        "not_finite": _("需要有限的数字，不能是 NaN 或无穷大"),
        "range": _("数字的绝对值不能超过 %(max)s") % {"max": f"{routing.MAX_NUMBER:,}"},
        "control": _("不能包含控制字符"),
        "text": _("需要非空文本"),
        "scalar": _("需要文本或数字"),
        "too_long": _("最多 %(count)s 个字符") % {"count": routing.MAX_TEXT},
    }
    if problem.detail == "choice":
        spec = CATALOGUE.get(problem.field)
        allowed = ", ".join(sorted(spec.choices)) if spec and spec.choices else ""
        why = _("必须是以下之一：%(values)s") % {"values": allowed}
    else:
        why = details.get(problem.detail, problem.detail)
    return _("第 %(n)s 个条件：字段“%(field)s”的值无效（%(why)s）。") % {**names, "why": why}


def _clean_rule(data: Mapping[str, Any], rule: AssignmentRule | None) -> tuple[dict[str, Any], list[FieldError]]:
    from l2c.apps.identity.models import User as UserModel

    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}

    def given(name: str) -> bool:
        return rule is None or (name in data and data[name] is not None)

    if given("name"):
        name = str(data.get("name") or "").strip()
        if not name:
            errors.append(FieldError("name", _("此项为必填项。"), "required"))
        elif len(name) > 100:
            errors.append(FieldError("name", _("最多 100 个字符。"), "too_long"))
        cleaned["name"] = name
    if "is_active" in data and data["is_active"] is not None:
        cleaned["is_active"] = bool(data["is_active"])
    if given("conditions"):
        raw = data.get("conditions") if data.get("conditions") is not None else []
        conditions, problems = routing.parse_conditions(raw, CATALOGUE)
        for problem in problems:
            errors.append(FieldError(condition_error_field(problem), condition_problem_text(problem), problem.code))
        cleaned["conditions"] = [{"field": c.field, "op": c.op, "value": list(c.value) if isinstance(c.value, tuple)
                                  else c.value} for c in conditions]
    action = str(data.get("action") or (rule.action if rule else ""))
    if given("action") and action not in AssignmentAction.values:
        errors.append(FieldError("action", _("必须是以下之一：%(values)s。")
                                 % {"values": ", ".join(AssignmentAction.values)}, "invalid"))
    cleaned["action"] = action
    users = None
    if "user_ids" in data and data["user_ids"] is not None:
        wanted = {int(i) for i in data["user_ids"]}
        users = list(UserModel.objects.filter(pk__in=wanted, is_active=True))
        missing = sorted(wanted - {user.pk for user in users})
        if missing:
            errors.append(FieldError("user_ids", _("没有这些在职用户：%(ids)s。")
                                     % {"ids": ", ".join(map(str, missing[:20]))}, "not_found"))
    current_users = users if users is not None else (list(rule.users.filter(is_active=True)) if rule else [])
    if action in (AssignmentAction.ROUND_ROBIN, AssignmentAction.LEAST_LOADED) and not current_users:
        errors.append(FieldError("user_ids", _("轮流分配和分给待跟进最少者需要至少一名候选人员。"), "required"))
    target_user_id = data.get("target_user_id") if "target_user_id" in data else (
        rule.target_user_id if rule else None)
    if action == AssignmentAction.USER:
        target = UserModel.objects.filter(pk=target_user_id or 0, is_active=True).first()
        if target is None:
            errors.append(FieldError("target_user_id", _("请选择一名在职的指定人员。"), "required"))
        cleaned["target_user_id"] = target.pk if target else None
    else:
        cleaned["target_user_id"] = None
    target_pool_id = data.get("target_pool_id") if "target_pool_id" in data else (
        rule.target_pool_id if rule else None)
    if target_pool_id:
        if not LeadPool.objects.filter(pk=target_pool_id, is_active=True).exists():
            errors.append(FieldError("target_pool_id", _("没有 ID 为 %(id)s 的启用中的线索池。")
                                     % {"id": target_pool_id}, "not_found"))
        cleaned["target_pool_id"] = target_pool_id
    else:
        cleaned["target_pool_id"] = None
        if action == AssignmentAction.POOL:
            errors.append(FieldError("target_pool_id", _("放入线索池需要选择目标线索池。"), "required"))
    if "position" in data and data["position"] is not None:
        try:
            cleaned["position"] = max(int(data["position"]), 0)
        except (TypeError, ValueError):
            errors.append(FieldError("position", _("请输入整数。"), "invalid"))
    if users is not None:
        cleaned["users"] = users
    return cleaned, errors


def _rule_snapshot(rule: AssignmentRule) -> dict[str, Any]:
    return {"name": rule.name, "position": rule.position, "is_active": rule.is_active, "conditions": rule.conditions,
            "action": rule.action, "target_user_id": rule.target_user_id, "target_pool_id": rule.target_pool_id,
            "user_ids": sorted(rule.users.values_list("pk", flat=True))}


def _require_manager(actor: User) -> None:
    if not may_manage_routing(actor):
        raise PermissionDenied(_("只有管理员或市场人员可以管理分配规则。"))


@transaction.atomic
def assignment_rule_save(*, actor: User, data: Mapping[str, Any], rule_id: int | None = None,
                         expected_version: int | None = None) -> AssignmentRule:
    """Create or change an assignment rule; the conditions are validated with a specific message per
    bad condition (which one, which field, why). A new rule goes last unless a position is given."""
    _require_manager(actor)
    rule = None
    if rule_id is not None:
        rule = AssignmentRule.objects.select_for_update().filter(pk=rule_id).first()
        if rule is None:
            raise NotFound(_("没有 ID 为 %(id)s 的分配规则。") % {"id": rule_id})
        if expected_version is not None and expected_version != rule.version:
            from l2c.kernel.errors import PreconditionFailed

            raise PreconditionFailed(_("这条分配规则已被其他人修改，请刷新后重试。"))
    cleaned, errors = _clean_rule(data, rule)
    if errors:
        raise ValidationFailed(_("分配规则填写有误。"), errors=errors)
    users = cleaned.pop("users", None)
    before = _rule_snapshot(rule) if rule else {}
    if rule is None:
        if "position" not in cleaned:
            last = AssignmentRule.objects.order_by("-position").values_list("position", flat=True).first()
            cleaned["position"] = (last or 0) + 10
        rule = AssignmentRule.objects.create(**cleaned)
    else:
        for name, value in cleaned.items():
            setattr(rule, name, value)
        rule.version += 1
        rule.save()
    if users is not None:
        rule.users.set(users)
    after = _rule_snapshot(rule)
    audit_record(object_type="assignment_rule", object_id=rule.pk,
                 action=AuditEvent.Kind.UPDATE if before else AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=rule.name,
                 changes={name: [before.get(name), value] for name, value in after.items()
                          if before.get(name) != value})
    return rule


@transaction.atomic
def assignment_rule_delete(*, actor: User, rule_id: int) -> None:
    _require_manager(actor)
    rule = AssignmentRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("没有 ID 为 %(id)s 的分配规则。") % {"id": rule_id})
    snapshot = _rule_snapshot(rule)
    rule.delete()
    audit_record(object_type="assignment_rule", object_id=rule_id, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=snapshot["name"], changes={name: [value, None] for name, value in snapshot.items()})


@transaction.atomic
def assignment_rules_reorder(*, actor: User, rule_ids: Sequence[int]) -> list[AssignmentRule]:
    """Put the rules in the given order (every rule exactly once); positions become 10, 20, …"""
    _require_manager(actor)
    ids = [int(i) for i in rule_ids]
    existing = set(AssignmentRule.objects.select_for_update().values_list("pk", flat=True))
    if len(ids) != len(set(ids)) or set(ids) != existing:
        missing, unknown = sorted(existing - set(ids)), sorted(set(ids) - existing)
        raise ValidationFailed(_("排序必须恰好列出每条分配规则一次。"), errors=[FieldError(
            "rule_ids", _("缺少：%(missing)s；不存在：%(unknown)s；或有重复。")
            % {"missing": ", ".join(map(str, missing)) or "—", "unknown": ", ".join(map(str, unknown)) or "—"},
            "invalid")])
    before = dict(AssignmentRule.objects.values_list("pk", "position"))
    for index, rule_id in enumerate(ids):
        if before[rule_id] != (index + 1) * 10:
            AssignmentRule.objects.filter(pk=rule_id).update(position=(index + 1) * 10, version=F("version") + 1)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "assignment_rule", "object_id": rule_id, "action": AuditEvent.Kind.UPDATE,
         "changes": {"position": [before[rule_id], (index + 1) * 10]}}
        for index, rule_id in enumerate(ids) if before[rule_id] != (index + 1) * 10
    ])
    return list(AssignmentRule.objects.order_by("position", "id"))


def assignment_preview(*, actor: User, lead_id: int | None = None,
                       sample: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Which rule would take this lead? For a visible lead or a sample (field → value, custom fields
    as `custom.<key>`): each active rule in order with whether each of its conditions holds, and the
    first matching rule's id. Nothing is written."""
    _require_manager(actor)
    if lead_id is not None:
        lead = access.get_for_action(actor, "lead", lead_id, "view")
        record = lead_record({**{name: getattr(lead, name) for name in RECORD_FIELDS}, "custom": lead.custom})
    else:
        record = {str(key)[:60]: value for key, value in (sample or {}).items()}
    rows = []
    matched: int | None = None
    for rule in AssignmentRule.objects.filter(is_active=True).order_by("position", "id"):
        conditions, problems = routing.parse_conditions(rule.conditions, CATALOGUE)
        checks = [{"field": c.field, "op": c.op, "value": list(c.value) if isinstance(c.value, tuple) else c.value,
                   "holds": routing.condition_holds(c, record)} for c in conditions]
        holds = not problems and all(check["holds"] for check in checks)
        rows.append({"rule_id": rule.pk, "name": rule.name, "matches": holds, "invalid": bool(problems),
                     "conditions": checks})
        if holds and matched is None:
            matched = rule.pk
    return {"matched_rule_id": matched, "rules": rows}
