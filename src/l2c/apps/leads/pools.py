"""Lead pools (线索池, ADR 0004): membership, browsing, claim, release, assign, owner change, activity
and the reclaim job.

Invariants (as for the account public pool, customers/pool.py):
- A lead lies in a pool iff `owner IS NULL AND pool IS NOT NULL`; it is *held* under a pool's rules iff
  `owner IS NOT NULL AND pool IS NOT NULL`; then `held_since` is set and `reclaim_due_at` is
  max(held_since, last_activity_at) + `reclaim_after_days` (None when the pool has no such rule).
  A lead owned with no pool is never reclaimed.
- Every owner change of a lead goes through this module or `assignment.leads_assign`: claim, release,
  pool assign, reclaim, manual owner change (`leads_owner_change`). Each is a compare-and-set UPDATE
  that bumps `version`, so a concurrent edit and the reclaim job cannot overwrite each other.
- Per-user limits (daily claim quota, cap on held leads) are checked after locking the user's counter
  row for the pool and day (`LeadClaimCounter`): one user's claims are serialised, so neither limit
  can be exceeded by concurrent requests, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from l2c.apps.activity.audit import audit_bulk, audit_record
from l2c.apps.activity.models import AuditEvent, Notification
from l2c.apps.activity.services import notification_send, owner_assignable
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, OwnershipTransfer, Share
from l2c.engines.pool import Hold, PoolRules, reclaim_due, remind_at
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied, PreconditionFailed, ValidationFailed

from .models import Lead, LeadClaimCounter, LeadPool, LeadPoolExit, LeadStatus

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)
BROWSE_FILTERS = ("score_band", "source", "province", "industry", "status")
CHUNK = 500


class LeadPoolConflict(Conflict):
    """A claim or hold refused by a pool rule; `code` says which (stable; titles in api.problems):
    already_claimed, claim_quota_reached, held_cap_reached, claim_cooldown."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code  # type: ignore[misc]


def lead_url(lead_id: int) -> str:
    return f"/leads/{lead_id}/"


# --- membership and reading -------------------------------------------------------------------------
def member_lead_pools(user: User) -> QuerySet[LeadPool]:
    """Active lead pools the user may browse and claim from: as a member user, through their
    department, or through an ancestor department of a pool that includes sub-departments.
    Admins: every active pool."""
    pools = LeadPool.objects.filter(is_active=True)
    if access.is_admin(user):
        return pools
    condition = Q(member_users=user.pk)
    if user.department_id is not None:
        path = Department.objects.filter(pk=user.department_id).values_list("path", flat=True).first() or ""
        ancestors = [int(part) for part in path.strip("/").split("/") if part.isdigit()]
        condition |= Q(member_departments=user.department_id)
        condition |= Q(include_subdepartments=True, member_departments__in=ancestors)
    return pools.filter(pk__in=LeadPool.objects.filter(condition).values("pk"))


def pool_ids_of_member(user: User) -> list[int]:
    """Ids of the member lead pools, cached on the user object for the request."""
    cached = getattr(user, "_l2c_lead_pool_ids", None)
    if cached is None:
        cached = list(member_lead_pools(user).values_list("pk", flat=True)) if user.is_authenticated else []
        user._l2c_lead_pool_ids = cached  # type: ignore[attr-defined]
    return cached


def lead_pool_for_member(user: User, pool_id: Any) -> LeadPool:
    """A pool the user is a member of (and whose role may view leads at all), else 404."""
    try:
        pk = int(pool_id)
    except (TypeError, ValueError):
        pk = 0
    pool = member_lead_pools(user).filter(pk=pk).first() if access.can(user, "lead", "view") else None
    if pool is None:
        raise NotFound(_("没有 ID 为 %(id)s 的线索池，或你不是它的成员。") % {"id": pool_id})
    return pool


def may_manage_routing(user: User) -> bool:
    """Who edits lead pools and assignment rules: admins, and roles that see and transfer every lead
    (marketing by default: it routes the top of the funnel)."""
    if access.is_admin(user):
        return True
    return access.can(user, "lead", "transfer") and access.grant_for(user, "lead").scope == "all"


def pool_rules(pool: LeadPool) -> PoolRules:
    return PoolRules(no_followup_days=pool.reclaim_after_days, reminder_days=pool.reminder_days)


def due_of(lead: Lead, pool: LeadPool | None) -> dt.datetime | None:
    """The reclaim deadline of a held lead under its pool's rules (None: no deadline)."""
    if pool is None or not pool.is_active or lead.owner_id is None or lead.held_since is None:
        return None
    return reclaim_due(pool_rules(pool), Hold(since=lead.held_since, last_followup_at=lead.last_activity_at))


def days_left(lead: Lead, now: dt.datetime | None = None) -> int | None:
    """Whole days until reclaim (0 on the last day), None without a deadline."""
    if lead.reclaim_due_at is None:
        return None
    seconds = (lead.reclaim_due_at - (now or timezone.now())).total_seconds()
    return max(int(seconds // 86400), 0)


def pool_leads(*, pool: LeadPool, q: str = "", filters: Mapping[str, str] | None = None) -> QuerySet[Lead]:
    """Unowned leads lying in `pool` (the caller checked membership: lead_pool_for_member)."""
    leads = Lead.objects.filter(pool=pool, owner__isnull=True)
    text = q.strip()
    if text:
        leads = leads.filter(Q(company__icontains=text) | Q(name__icontains=text))
    for name in BROWSE_FILTERS:
        value = (filters or {}).get(name)
        if value:
            leads = leads.filter(**{name: value})
    return leads


def lead_pool_summaries(user: User) -> list[dict[str, Any]]:
    """Each member pool with its pooled count, the user's held count and today's claims."""
    pools = list(member_lead_pools(user).annotate(
        pooled=Count("leads", filter=Q(leads__owner__isnull=True)),
        held=Count("leads", filter=Q(leads__owner=user.pk)),
    ))
    counters = dict(LeadClaimCounter.objects.filter(user=user, day=timezone.localdate(), pool__in=pools)
                    .values_list("pool_id", "claimed"))
    return [{"pool": pool, "pooled": pool.pooled, "held": pool.held,  # type: ignore[attr-defined]
             "claimed_today": counters.get(pool.pk, 0)} for pool in pools]


def held_leads(user: User) -> QuerySet[Lead]:
    """Leads the user holds under a pool's rules, the ones due soonest first."""
    return (Lead.objects.filter(owner=user, pool__isnull=False).select_related("pool")
            .order_by(F("reclaim_due_at").asc(nulls_last=True), "id"))


# --- limits -----------------------------------------------------------------------------------------
def _lock_counter(pool: LeadPool, user: User, *, claim: bool) -> None:
    """Lock (and for a claim, count) the user's counter row for the pool and today; raise when the
    daily quota is used up. The UPDATE holds a row lock (PostgreSQL) or the write lock (SQLite)
    until commit, which serialises one user's claims and holds."""
    day = timezone.localdate()
    LeadClaimCounter.objects.bulk_create([LeadClaimCounter(pool=pool, user=user, day=day)], ignore_conflicts=True)
    counter = LeadClaimCounter.objects.filter(pool=pool, user=user, day=day)
    if not claim:
        counter.update(claimed=F("claimed"))
        return
    if pool.daily_claim_quota is not None:
        counter = counter.filter(claimed__lt=pool.daily_claim_quota)
    if not counter.update(claimed=F("claimed") + 1):
        raise LeadPoolConflict("claim_quota_reached",
                               _("你今天已从线索池“%(pool)s”领取 %(quota)s 条线索，达到每日上限。")
                               % {"pool": pool.name, "quota": pool.daily_claim_quota})


def _check_cap(pool: LeadPool, user: User, adding: int) -> None:
    """Raise when `user` would hold more than the pool's cap after taking `adding` more leads."""
    if pool.max_held_per_rep is None or adding <= 0:
        return
    held = Lead.objects.filter(owner=user, pool=pool).count()
    if held + adding > pool.max_held_per_rep:
        raise LeadPoolConflict("held_cap_reached",
                               _("“%(user)s”在线索池“%(pool)s”下已持有 %(held)s 条线索，上限 %(cap)s 条。")
                               % {"user": user, "pool": pool.name, "held": held, "cap": pool.max_held_per_rep})


def _check_cooldown(pool: LeadPool, user: User, lead_id: int, name: str) -> None:
    if not pool.reclaim_cooldown_days:
        return
    since = timezone.now() - dt.timedelta(days=pool.reclaim_cooldown_days)
    left_at = (LeadPoolExit.objects.filter(lead_id=lead_id, user=user, at__gte=since).order_by("-at")
               .values_list("at", flat=True).first())
    if left_at is not None:
        until = timezone.localtime(left_at + dt.timedelta(days=pool.reclaim_cooldown_days))
        raise LeadPoolConflict("claim_cooldown", _("线索“%(name)s”是你退回或被回收的，%(until)s 之后才能重新领取。")
                               % {"name": name, "until": f"{until:%Y-%m-%d %H:%M}"})


def hold_fields(pool: LeadPool | None, owner: User, now: dt.datetime) -> dict[str, Any]:
    """Column values that start a hold of `owner` now (the deadline from the pool's rules; a lead
    owned outside any pool has none)."""
    fields: dict[str, Any] = {"owner_id": owner.pk, "department_id": owner.department_id, "held_since": now,
                              "pool_entered_at": None, "reclaim_due_at": None}
    if pool is not None and pool.is_active:
        fields["reclaim_due_at"] = reclaim_due(pool_rules(pool), Hold(since=now))
    return fields


def _notify(user_id: int | None, kind: str, title: Callable[[], str], url: str = "", body: str = "") -> None:
    """Notify in the recipient's language; `title` produces the text once the language is active."""
    if user_id is None:
        return
    from l2c.apps.identity.models import User

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    with translation.override(user.language or settings.LANGUAGE_CODE):
        notification_send(recipient=user, kind=kind, title=title(), body=body, url=url)


def _history(rows: Iterable[Mapping[str, Any]], *, via: str, actor: User | None, reason: str = "") -> None:
    """Ownership history rows: each mapping has lead_id, from_user_id, to_user_id."""
    OwnershipTransfer.objects.bulk_create([
        OwnershipTransfer(object_type="lead", object_id=row["lead_id"], from_user_id=row["from_user_id"],
                          to_user_id=row["to_user_id"], via=via, reason=reason[:255], actor=actor)
        for row in rows
    ], batch_size=2000)


def _into_pool(lead: Lead, pool: LeadPool, *, now: dt.datetime, via: str, reason: str, actor: User | None,
               summary: str) -> bool:
    """Put a held lead into `pool` (release, reclaim): compare-and-set on its version and owner, then
    the cool-down mark, its ownership history, its shares dropped and the audit event. False when the
    row changed since it was read (nothing is written then)."""
    updated = Lead.objects.filter(pk=lead.pk, version=lead.version, owner_id=lead.owner_id).update(
        owner=None, pool=pool, held_since=None, pool_entered_at=now, reclaim_due_at=None,
        version=F("version") + 1, updated_at=now,
    )
    if not updated:
        return False
    if lead.owner_id is not None:
        LeadPoolExit.objects.create(lead_id=lead.pk, user_id=lead.owner_id, pool=pool, reason=via, at=now)
    _history([{"lead_id": lead.pk, "from_user_id": lead.owner_id, "to_user_id": None}], via=via, actor=actor,
             reason=reason)
    # A pooled lead keeps no shares: nobody keeps seeing it except through their role's scope (else a
    # rep could release a lead and keep it).
    shares = list(Share.objects.filter(object_type="lead", object_id=lead.pk)
                  .values_list("user_id", "department_id", "access"))
    Share.objects.filter(object_type="lead", object_id=lead.pk).delete()
    changes: dict[str, Any] = {"owner_id": [lead.owner_id, None], "pool_id": [lead.pool_id, pool.pk]}
    if shares:
        changes["shares"] = [[list(share) for share in shares], []]
    audit_record(object_type="lead", object_id=lead.pk, action=AuditEvent.Kind.TRANSFER,
                 actor_id=actor.pk if actor else None, object_repr=str(lead), changes=changes, summary=summary)
    return True


# --- claim, release, assign, owner change -----------------------------------------------------------------
@transaction.atomic
def lead_claim(*, actor: User, lead_id: int) -> Lead:
    """Claim (领取) a lead lying in one of the actor's pools. Compare-and-set: of concurrent claims of
    one lead exactly one succeeds, the others get 409 `already_claimed`; the daily quota and the cap
    are checked under the actor's counter lock in the same transaction."""
    pools = member_lead_pools(actor) if access.can(actor, "lead", "view") else LeadPool.objects.none()
    row = Lead.objects.filter(pk=lead_id, pool__in=pools).values("owner_id", "pool_id", "name", "company").first()
    if row is None:
        raise NotFound(_("没有 ID 为 %(id)s 的池中线索，或你不是它所在线索池的成员。") % {"id": lead_id})
    label = row["name"] or row["company"] or f"#{lead_id}"
    taken = LeadPoolConflict("already_claimed", _("线索“%(name)s”（ID %(id)s）已被领取。")
                             % {"name": label, "id": lead_id})
    if row["owner_id"] is not None:
        raise taken
    pool = LeadPool.objects.get(pk=row["pool_id"])
    _check_cooldown(pool, actor, lead_id, label)
    _lock_counter(pool, actor, claim=True)
    _check_cap(pool, actor, 1)
    now = timezone.now()
    updated = Lead.objects.filter(pk=lead_id, owner__isnull=True, pool=pool).update(
        **hold_fields(pool, actor, now), version=F("version") + 1, updated_at=now)
    if not updated:
        # Another claim won between our read and the update; the counter increment rolls back with us.
        raise taken
    _history([{"lead_id": lead_id, "from_user_id": None, "to_user_id": actor.pk}], via="claim", actor=actor)
    audit_record(object_type="lead", object_id=lead_id, action=AuditEvent.Kind.TRANSFER, actor_id=actor.pk,
                 object_repr=label, changes={"owner_id": [None, actor.pk]}, summary=f"claimed from pool {pool.name}")
    return Lead.objects.get(pk=lead_id)


@transaction.atomic
def leads_claim(*, actor: User, lead_ids: Sequence[int]) -> dict[int, str]:
    """Claim several leads one by one (bulk claim from the pool page): each claim stands alone, so one
    refused lead does not undo the others. Returns lead id → "ok" or the refusal code."""
    outcomes: dict[int, str] = {}
    for lead_id in sorted({int(i) for i in lead_ids}):
        try:
            with transaction.atomic():
                lead_claim(actor=actor, lead_id=lead_id)
            outcomes[lead_id] = "ok"
        except LeadPoolConflict as error:
            outcomes[lead_id] = str(error.code)
        except NotFound:
            outcomes[lead_id] = "not_found"
    return outcomes


@transaction.atomic
def lead_release(*, actor: User, lead_id: int, reason: str, pool_id: int | None = None,
                 expected_version: int | None = None) -> Lead:
    """Release (退回) a held lead into a pool with a reason (required): its owner may, and anybody who
    may transfer it (a manager). The target is `pool_id` (a member pool) or the lead's pool."""
    lead: Lead = access.get_for_action(actor, "lead", lead_id, "view")
    if lead.owner_id is None:
        raise Conflict(_("线索“%(name)s”没有负责人，无需退回。") % {"name": lead})
    if lead.owner_id != actor.pk and "transfer" not in access.allowed_actions(actor, "lead", lead):
        raise PermissionDenied(_("只有负责人或有转移权限的人可以退回这条线索。"))
    errors = []
    if not reason.strip():
        errors.append(FieldError("reason", _("请填写退回原因。"), "required"))
    elif len(reason.strip()) > 255:
        errors.append(FieldError("reason", _("最多 255 个字符。"), "too_long"))
    target = (LeadPool.objects.filter(pk=lead.pool_id, is_active=True).first() if pool_id is None
              else member_lead_pools(actor).filter(pk=pool_id).first())
    if target is None:
        message = (_("请选择要退回的线索池。") if pool_id is None
                   else _("没有 ID 为 %(id)s 的线索池，或你不是它的成员。") % {"id": pool_id})
        errors.append(FieldError("pool_id", message, "required" if pool_id is None else "invalid"))
    if errors:
        raise ValidationFailed(_("退回线索池填写有误。"), errors=errors)
    assert target is not None
    if expected_version is not None and expected_version != lead.version:
        raise PreconditionFailed(
            _("这条线索已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
            % {"current": lead.version, "expected": expected_version})
    if not _into_pool(lead, target, now=timezone.now(), via="release", reason=reason.strip(), actor=actor,
                      summary=f"released to pool {target.name}: {reason.strip()[:400]}"):
        raise Conflict(_("线索“%(name)s”刚被其他人修改，请刷新后重试。") % {"name": lead})
    if lead.owner_id != actor.pk:
        _notify(lead.owner_id, "lead_pool_release", lambda: _("线索“%(name)s”已被退回线索池") % {"name": lead},
                url=lead_url(lead.pk), body=reason.strip())
    return Lead.objects.get(pk=lead.pk)


@transaction.atomic
def leads_pool_assign(*, actor: User, pool_id: int, lead_ids: Sequence[int], to_user: User) -> int:
    """Assign (分配) leads lying in one pool to a user. All or nothing; needs the transfer permission on
    leads, membership of the pool and `to_user` assignable by the actor; the recipient's cap applies,
    the claim quota does not."""
    pool = lead_pool_for_member(actor, pool_id)
    ids = sorted({int(i) for i in lead_ids})
    if not ids:
        raise ValidationFailed(_("没有要分配的线索。"),
                               errors=[FieldError("lead_ids", _("请至少指定一个 ID。"), "required")])
    if not access.can(actor, "lead", "transfer") or not owner_assignable(actor=actor, object_type="lead",
                                                                         owner=to_user):
        raise PermissionDenied(_("你不能把线索分配给“%(user)s”。") % {"user": to_user})
    rows = list(Lead.objects.filter(pk__in=ids, pool=pool).values("pk", "owner_id", "name", "company"))
    missing = sorted(set(ids) - {row["pk"] for row in rows})
    if missing:
        raise NotFound(_("这些线索不在线索池“%(pool)s”中：%(ids)s；没有分配任何线索。")
                       % {"pool": pool.name, "ids": ", ".join(map(str, missing[:20]))})
    taken = [row["pk"] for row in rows if row["owner_id"] is not None]
    if taken:
        raise LeadPoolConflict("already_claimed", _("这些线索已有负责人：%(ids)s；没有分配任何线索。")
                               % {"ids": ", ".join(map(str, taken[:20]))})
    _lock_counter(pool, to_user, claim=False)
    _check_cap(pool, to_user, len(ids))
    now = timezone.now()
    updated = 0
    for start in range(0, len(ids), CHUNK):
        updated += Lead.objects.filter(pk__in=ids[start:start + CHUNK], owner__isnull=True, pool=pool).update(
            **hold_fields(pool, to_user, now), version=F("version") + 1, updated_at=now)
    if updated != len(ids):
        raise LeadPoolConflict("already_claimed", _("有线索刚被其他人领取；没有分配任何线索。"))
    _history(({"lead_id": pk, "from_user_id": None, "to_user_id": to_user.pk} for pk in ids), via="pool_assign",
             actor=actor)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "lead", "object_id": row["pk"], "object_repr": row["name"] or row["company"],
         "action": AuditEvent.Kind.TRANSFER, "changes": {"owner_id": [None, to_user.pk]},
         "summary": f"assigned from pool {pool.name}"} for row in rows
    ])
    if to_user.pk != actor.pk:
        _notify(to_user.pk, "lead_pool_assign", lambda: ngettext(
            "%(count)s 条池中线索已分配给你", "%(count)s 条池中线索已分配给你", len(ids)) % {"count": len(ids)},
            url="/lead-pools/")
    return len(ids)


@transaction.atomic
def leads_owner_change(*, actor: User, lead_ids: Sequence[int], to_user: User, via: str, reason: str = "") -> int:
    """The one path of a manual owner change (转移), single or bulk, all or nothing: the actor needs the
    transfer permission on every lead and `to_user` must be assignable by them. Leads held under or
    lying in a pool start a new hold for the recipient under that pool's rules (its cap holds); other
    leads just change hands. Returns how many leads changed owner."""
    ids = sorted({int(i) for i in lead_ids})
    if not ids:
        raise ValidationFailed(_("没有要转移的线索。"),
                               errors=[FieldError("lead_ids", _("请至少指定一个 ID。"), "required")])
    if not to_user.is_active or not owner_assignable(actor=actor, object_type="lead", owner=to_user) or (
            to_user.pk != actor.pk and not access.can(actor, "lead", "transfer")):
        raise PermissionDenied(_("你不能把线索分配给“%(user)s”。") % {"user": to_user})
    allowed = access.restrict(Lead.objects.filter(pk__in=ids), actor, "lead", "transfer")
    rows = list(allowed.values("pk", "owner_id", "pool_id", "name", "company"))
    if len(rows) != len(ids):
        missing = sorted(set(ids) - {row["pk"] for row in rows})
        raise PermissionDenied(_("你没有转移这些线索的权限：%(ids)s；没有转移任何线索。")
                               % {"ids": ", ".join(map(str, missing[:20]))})
    changed = [row for row in rows if row["owner_id"] != to_user.pk]
    if not changed:
        return 0
    now = timezone.now()
    by_pool: dict[int | None, list[dict[str, Any]]] = {}
    for row in changed:
        by_pool.setdefault(row["pool_id"], []).append(row)
    pools = {pool.pk: pool for pool in LeadPool.objects.filter(pk__in=[pk for pk in by_pool if pk]).order_by("pk")}
    # Lock the recipient's counters in pool order (as claims do: no deadlock), then cap-check.
    for pool in pools.values():
        _lock_counter(pool, to_user, claim=False)
        _check_cap(pool, to_user, len(by_pool[pool.pk]))
    for pool_id, group in by_pool.items():
        pool = pools.get(pool_id) if pool_id else None
        group_ids = [row["pk"] for row in group]
        for start in range(0, len(group_ids), CHUNK):
            chunk = group_ids[start:start + CHUNK]
            # Compare-and-set on the owners read above: a concurrent claim/release makes us retry.
            expected = {row["pk"]: row["owner_id"] for row in group if row["pk"] in set(chunk)}
            done = 0
            for owner_id in set(expected.values()):
                same = [pk for pk, owner in expected.items() if owner == owner_id]
                done += Lead.objects.filter(pk__in=same, owner_id=owner_id).update(
                    **hold_fields(pool, to_user, now), version=F("version") + 1, updated_at=now)
            if done != len(chunk):
                raise Conflict(_("有线索刚被其他人修改；没有转移任何线索，请刷新后重试。"))
    _history(({"lead_id": row["pk"], "from_user_id": row["owner_id"], "to_user_id": to_user.pk} for row in changed),
             via=via[:20] or "transfer", actor=actor, reason=reason)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "lead", "object_id": row["pk"], "object_repr": row["name"] or row["company"],
         "action": AuditEvent.Kind.TRANSFER, "changes": {"owner_id": [row["owner_id"], to_user.pk]},
         "summary": f"{via}: {reason}"[:500]} for row in changed
    ])
    if to_user.pk != actor.pk:
        _notify(to_user.pk, "transfer", lambda: ngettext(
            "%(count)s 条线索已转移给你", "%(count)s 条线索已转移给你", len(changed)) % {"count": len(changed)},
            url="/leads/", body=reason)
    return len(changed)


# --- activity and the reclaim job ---------------------------------------------------------------------
def lead_touched(*, lead_id: int, at: dt.datetime) -> None:
    """Work on a lead happened at `at` (a follow-up, a status change, an edit by its owner): move its
    last activity (never backwards) and, when held under a pool, its reclaim deadline."""
    Lead.objects.filter(pk=lead_id).filter(Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at)).update(
        last_activity_at=at)
    lead = Lead.objects.select_related("pool").filter(pk=lead_id, owner__isnull=False, pool__isnull=False).first()
    if lead is None:
        return
    due = due_of(lead, lead.pool)
    if due != lead.reclaim_due_at:
        # Still held by the same owner since the same moment (the reclaim job may have taken it).
        Lead.objects.filter(pk=lead.pk, owner_id=lead.owner_id, held_since=lead.held_since).update(
            reclaim_due_at=due)


def lead_followup_recorded(object_type: str, object_id: int, occurred_at: dt.datetime) -> None:
    """Listener of activity follow-ups (registered in LeadsConfig.ready): a follow-up on a lead is
    activity on it."""
    if object_type == "lead":
        lead_touched(lead_id=object_id, at=occurred_at)


def reclaim_reason_text(reason: str) -> str:
    """A stored reclaim reason code in the active language; reasons typed by people as they are."""
    if reason.startswith("no_activity:"):
        return _("%(days)s 天未跟进") % {"days": reason.split(":", 1)[1]}
    return reason


def lead_pools_reclaim(*, now: dt.datetime, limit: int = 5000) -> int:
    """Return overdue held leads to their pools (the hourly job). Each lead is locked and re-evaluated
    from fresh data first (a late follow-up may have moved its deadline); the reclaim is a
    compare-and-set on `version`, so an edit committed in between wins and the lead is looked at
    again next run. Idempotent: running twice reclaims nothing new. Returns how many were reclaimed."""
    due_ids = list(Lead.objects.filter(reclaim_due_at__lte=now, owner__isnull=False, pool__isnull=False)
                   .order_by("reclaim_due_at", "pk").values_list("pk", flat=True)[:limit])
    reclaimed = 0
    for lead_id in due_ids:
        with transaction.atomic():
            reclaimed += _reclaim_one(lead_id, now)
    return reclaimed


def _reclaim_one(lead_id: int, now: dt.datetime) -> int:
    lead = Lead.objects.select_for_update(of=("self",)).select_related("pool").filter(pk=lead_id).first()
    if lead is None or lead.owner_id is None or lead.pool is None:
        return 0
    pool = lead.pool
    due = due_of(lead, pool)
    if due is None or due > now:
        Lead.objects.filter(pk=lead.pk, version=lead.version).update(reclaim_due_at=due)
        return 0
    reason = f"no_activity:{pool.reclaim_after_days}"
    if not _into_pool(lead, pool, now=now, via="reclaim", reason=reason, actor=None,
                      summary=f"reclaimed to pool {pool.name}: {reason}"):
        return 0
    _notify(lead.owner_id, "lead_pool_reclaim",
            lambda: _("线索“%(name)s”已被回收到线索池“%(pool)s”") % {"name": lead, "pool": pool.name},
            url=lead_url(lead.pk))
    return 1


def lead_pools_remind(*, now: dt.datetime, limit: int = 5000) -> int:
    """Remind holders of leads whose reclaim comes within their pool's `reminder_days`: one
    notification per lead and deadline basis (a reminder sent after the latest activity is not sent
    again; new activity moves the deadline and allows a new one). The candidate rows are locked, so
    two concurrent runs never remind twice."""
    pools = {pool.pk: pool for pool in LeadPool.objects.filter(is_active=True, reminder_days__gt=0,
                                                               reclaim_after_days__isnull=False)}
    if not pools:
        return 0
    horizon = now + dt.timedelta(days=max(pool.reminder_days for pool in pools.values()))
    sent = 0
    with transaction.atomic():
        candidates = list(Lead.objects.select_for_update().filter(
            reclaim_due_at__gt=now, reclaim_due_at__lte=horizon, owner__isnull=False, pool__in=list(pools),
        ).order_by("pk").only("pk", "name", "company", "owner_id", "pool_id", "reclaim_due_at", "held_since",
                               "last_activity_at")[:limit])
        if not candidates:
            return 0
        basis = {lead.pk: max(lead.held_since or now, lead.last_activity_at or lead.held_since or now)
                 for lead in candidates}
        urls = {lead_url(lead.pk): lead.pk for lead in candidates}
        earlier: set[tuple[int, int]] = set()
        for recipient_id, url, created_at in Notification.objects.filter(
                kind="lead_pool_reminder", url__in=list(urls), created_at__gte=min(basis.values())).values_list(
                "recipient_id", "url", "created_at"):
            lead_id = urls[url]
            if created_at >= basis[lead_id]:
                earlier.add((lead_id, recipient_id))
        for lead in candidates:
            pool = pools[lead.pool_id]
            assert lead.reclaim_due_at is not None and lead.held_since is not None
            at = remind_at(pool_rules(pool), Hold(since=lead.held_since), lead.reclaim_due_at)
            if at is None or at > now or (lead.pk, lead.owner_id) in earlier:
                continue
            due_text = f"{timezone.localtime(lead.reclaim_due_at):%Y-%m-%d %H:%M}"
            _notify(lead.owner_id, "lead_pool_reminder",
                    lambda lead=lead, due_text=due_text: _("线索“%(name)s”将于 %(due)s 被回收到线索池")
                    % {"name": lead, "due": due_text}, url=lead_url(lead.pk))
            sent += 1
    return sent


# --- administration -----------------------------------------------------------------------------------
POOL_NUMBER_FIELDS = ("reclaim_after_days", "max_held_per_rep", "daily_claim_quota")
POOL_COUNT_FIELDS = ("reclaim_cooldown_days", "reminder_days")
POOL_LIMITS = {"reclaim_after_days": 3650, "max_held_per_rep": 1_000_000, "daily_claim_quota": 10_000,
               "reclaim_cooldown_days": 3650, "reminder_days": 365}


def _clean_pool(data: Mapping[str, Any], pool: LeadPool | None) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    if pool is None or "name" in data:
        name = str(data.get("name") or "").strip()
        if not name:
            errors.append(FieldError("name", _("此项为必填项。"), "required"))
        elif len(name) > 100:
            errors.append(FieldError("name", _("最多 100 个字符。"), "too_long"))
        elif LeadPool.objects.filter(name=name).exclude(pk=pool.pk if pool else None).exists():
            errors.append(FieldError("name", _("已有同名的线索池。"), "unique"))
        cleaned["name"] = name
    if "description" in data:
        description = str(data.get("description") or "").strip()
        if len(description) > 500:
            errors.append(FieldError("description", _("最多 500 个字符。"), "too_long"))
        cleaned["description"] = description
    for name in ("is_active", "include_subdepartments"):
        if name in data and data[name] is not None:
            cleaned[name] = bool(data[name])
    for name in (*POOL_NUMBER_FIELDS, *POOL_COUNT_FIELDS):
        if name not in data:
            continue
        value = data[name]
        if value in (None, ""):
            if name in POOL_NUMBER_FIELDS:
                cleaned[name] = None
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors.append(FieldError(name, _("请输入整数。"), "invalid"))
            continue
        low = 1 if name in POOL_NUMBER_FIELDS else 0
        if number < low or number > POOL_LIMITS[name]:
            errors.append(FieldError(name, _("必须在 %(low)s 到 %(high)s 之间。")
                                     % {"low": low, "high": POOL_LIMITS[name]}, "out_of_range"))
            continue
        cleaned[name] = number
    return cleaned, errors


def _members(data: Mapping[str, Any], field: str, model: Any, message: str,
             errors: list[FieldError]) -> list[Any] | None:
    if field not in data or data[field] is None:
        return None
    try:
        wanted = {int(i) for i in data.get(field) or []}
    except (TypeError, ValueError):
        errors.append(FieldError(field, _("请填写 ID 列表。"), "invalid"))
        return None
    found = list(model.objects.filter(pk__in=wanted))
    missing = sorted(wanted - {row.pk for row in found})
    if missing:
        errors.append(FieldError(field, message % {"ids": ", ".join(map(str, missing[:20]))}, "invalid"))
    return found


def _pool_snapshot(pool: LeadPool) -> dict[str, Any]:
    values = {name: getattr(pool, name) for name in ("name", "description", "is_active", "include_subdepartments",
                                                     *POOL_NUMBER_FIELDS, *POOL_COUNT_FIELDS)}
    values["member_user_ids"] = sorted(pool.member_users.values_list("pk", flat=True))
    values["member_department_ids"] = sorted(pool.member_departments.values_list("pk", flat=True))
    return values


@transaction.atomic
def lead_pool_save(*, actor: User, data: Mapping[str, Any], pool_id: int | None = None) -> LeadPool:
    """Create or change a lead pool and its members (see may_manage_routing). When a rule changes,
    the deadlines of the pool's held leads are recomputed (in chunks, after the change)."""
    from l2c.apps.identity.models import User as UserModel

    if not may_manage_routing(actor):
        raise PermissionDenied(_("只有管理员或市场人员可以管理线索池。"))
    pool = None
    if pool_id is not None:
        pool = LeadPool.objects.select_for_update().filter(pk=pool_id).first()
        if pool is None:
            raise NotFound(_("没有 ID 为 %(id)s 的线索池。") % {"id": pool_id})
    cleaned, errors = _clean_pool(data, pool)
    users = _members(data, "member_user_ids", UserModel, _("没有这些用户：%(ids)s。"), errors)
    departments = _members(data, "member_department_ids", Department, _("没有这些部门：%(ids)s。"), errors)
    if errors:
        raise ValidationFailed(_("线索池设置填写有误。"), errors=errors)
    before = _pool_snapshot(pool) if pool else {}
    if pool is None:
        pool = LeadPool.objects.create(**cleaned)
    else:
        for name, value in cleaned.items():
            setattr(pool, name, value)
        pool.version += 1
        pool.save()
    if users is not None:
        pool.member_users.set(users)
    if departments is not None:
        pool.member_departments.set(departments)
    after = _pool_snapshot(pool)
    changes = {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}
    audit_record(object_type="lead_pool", object_id=pool.pk,
                 action=AuditEvent.Kind.UPDATE if before else AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=pool.name, changes=changes)
    if before and any(name in changes for name in ("reclaim_after_days", "is_active")):
        # Recomputing every held lead's deadline is a job (batched, after this commit).
        from l2c.apps.activity.jobs import job_enqueue

        from .pool_tasks import lead_pool_reschedule_task

        job_enqueue(task=lead_pool_reschedule_task, name="leads.pool_reschedule", arguments={"pool_id": pool.pk},
                    actor=actor)
    return pool


def lead_pool_reschedule(pool_id: int, *, chunk: int = CHUNK) -> int:
    """Recompute the deadline of every lead held under a pool (after its rules changed). Each write is
    a compare-and-set on the hold (owner and start), so a claim, release or reclaim in between is
    never overwritten. Returns how many deadlines changed."""
    pool = LeadPool.objects.filter(pk=pool_id).first()
    if pool is None:
        return 0
    changed, last_id = 0, 0
    while True:
        leads = list(Lead.objects.filter(pool=pool, owner__isnull=False, pk__gt=last_id).order_by("pk")
                     .only("pk", "owner_id", "held_since", "last_activity_at", "reclaim_due_at")[:chunk])
        for lead in leads:
            due = due_of(lead, pool)
            if due != lead.reclaim_due_at:
                changed += Lead.objects.filter(pk=lead.pk, owner_id=lead.owner_id, held_since=lead.held_since).update(
                    reclaim_due_at=due)
        if len(leads) < chunk:
            return changed
        last_id = leads[-1].pk
