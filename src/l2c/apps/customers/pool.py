"""Public pools (公海, ADR 0003): membership, browsing, claim, release, assign, transfer and reclaim.

Invariants:
- An account lies in a pool iff `owner IS NULL AND pool IS NOT NULL`; it is *held* under a pool's
  rules iff `owner IS NOT NULL AND pool IS NOT NULL` (then `held_since` and `reclaim_due_at` are set
  when a rule applies).
- Every owner change of an account goes through this module (claim, release, assign, transfer, create,
  import, reclaim); each is a compare-and-set UPDATE that also bumps `version`, so a concurrent edit
  and the reclaim job cannot overwrite each other: whoever comes second finds the row changed.
- Per-user limits (daily claim quota, cap on held accounts) are checked after locking the user's
  counter row for the pool and day (`PoolClaimCounter`): claims of one user are serialised, so neither
  limit can be exceeded by concurrent requests, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from l2c.apps.activity.audit import audit_bulk, audit_record
from l2c.apps.activity.jobs import job_enqueue
from l2c.apps.activity.models import AuditEvent, FollowUp
from l2c.apps.activity.services import notification_send, owner_assignable, records_transfer
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, OwnershipTransfer, Share, User
from l2c.engines.pool import Hold, PoolRules, reclaim_due, remind_at
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied, PreconditionFailed, ValidationFailed

from .models import (
    POOL_DEFAULT_VISIBLE_FIELDS,
    Account,
    AccountTeamMember,
    Contact,
    CustomerTransaction,
    Pool,
    PoolClaimCounter,
)

# Fields a pool may show before a claim; contact data (phone, address, credit code …) never is.
POOL_SHOWABLE_FIELDS = ("name", "short_name", "industry", "size", "province", "city", "district", "level",
                        "source", "status", "last_followed_up_at", "registered_capital", "founded_on")


class PoolConflict(Conflict):
    """A claim or hold refused by a pool rule; `code` says which (stable; titles in api.problems):
    already_claimed, claim_quota_reached, held_cap_reached, claim_cooldown."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code  # type: ignore[misc]



# --- rules ----------------------------------------------------------------------------------------
def pool_rules(pool: Pool) -> PoolRules:
    return PoolRules(
        no_followup_days=pool.reclaim_no_followup_days, protection_days=pool.protection_days,
        extension_days=pool.protection_extension_days, protection_max_days=pool.protection_max_days,
        reminder_days=pool.reminder_days,
    )


def _followups_since(account_id: int, since: dt.datetime) -> int:
    """Follow-ups on the account and on its contacts since the hold started."""
    contact_ids = Contact.objects.filter(account_id=account_id).values("pk")
    return FollowUp.objects.filter(
        Q(object_type="account", object_id=account_id) | Q(object_type="contact", object_id__in=contact_ids),
        occurred_at__gte=since,
    ).count()


def hold_of(account: Account) -> Hold | None:
    if account.owner_id is None or account.held_since is None:
        return None
    return Hold(since=account.held_since, last_followup_at=account.last_followed_up_at,
                followups_since=_followups_since(account.pk, account.held_since), won_at=account.last_won_at)


def due_of(account: Account, pool: Pool | None) -> dt.datetime | None:
    """The reclaim deadline of a held account under its pool's rules (None: no deadline)."""
    hold = hold_of(account)
    if pool is None or hold is None or not pool.is_active:
        return None
    return reclaim_due(pool_rules(pool), hold)


def days_left(account: Account, now: dt.datetime | None = None) -> int | None:
    """Whole days until reclaim (0 on the last day), None without a deadline."""
    if account.reclaim_due_at is None:
        return None
    seconds = (account.reclaim_due_at - (now or timezone.now())).total_seconds()
    return max(int(seconds // 86400), 0)


# --- membership and reading -------------------------------------------------------------------------
def member_pools(user: User) -> QuerySet[Pool]:
    """Active pools the user may browse and claim from: as a member user, through their department, or
    through an ancestor department of a pool that includes sub-departments. Admins: every active pool."""
    pools = Pool.objects.filter(is_active=True)
    if access.is_admin(user):
        return pools
    condition = Q(member_users=user.pk)
    if user.department_id is not None:
        path = Department.objects.filter(pk=user.department_id).values_list("path", flat=True).first() or ""
        ancestors = [int(part) for part in path.strip("/").split("/") if part.isdigit()]
        condition |= Q(member_departments=user.department_id)
        condition |= Q(include_subdepartments=True, member_departments__in=ancestors)
    return pools.filter(pk__in=Pool.objects.filter(condition).values("pk"))


def pool_for_member(user: User, pool_id: Any) -> Pool:
    try:
        pk = int(pool_id)
    except (TypeError, ValueError):
        pk = 0
    pool = member_pools(user).filter(pk=pk).first()
    if pool is None:
        raise NotFound(_("没有 ID 为 %(id)s 的公海，或你不是它的成员。") % {"id": pool_id})
    return pool


def visible_fields(pool: Pool) -> list[str]:
    chosen = pool.visible_fields or POOL_DEFAULT_VISIBLE_FIELDS
    return ["id", *[name for name in chosen if name in POOL_SHOWABLE_FIELDS]]


def pool_accounts(*, user: User, pool: Pool, q: str = "",
                  filters: Mapping[str, str] | None = None) -> QuerySet[Account]:
    """Accounts lying in `pool` (the user must be a member: see pool_for_member), newest first.
    Callers show only `visible_fields(pool)` of them."""
    accounts = Account.objects.filter(pool=pool, owner__isnull=True)
    shown = set(visible_fields(pool))
    # Searching or filtering by a field the pool hides would reveal it one value at a time.
    if q.strip() and "name" in shown:
        accounts = accounts.filter(name__icontains=q.strip())
    for name in ("industry", "province", "city", "level", "size"):
        value = (filters or {}).get(name)
        if value and name in shown:
            accounts = accounts.filter(**{name: value})
    return accounts.order_by("-id")


def pool_summaries(user: User) -> list[dict[str, Any]]:
    """Each member pool with the number of accounts in it and the user's held count and limits."""
    pools = list(member_pools(user).annotate(
        pooled=Count("accounts", filter=Q(accounts__owner__isnull=True)),
        held=Count("accounts", filter=Q(accounts__owner=user.pk)),
    ))
    counters = dict(PoolClaimCounter.objects.filter(user=user, day=timezone.localdate(),
                                                    pool__in=pools).values_list("pool_id", "claimed"))
    return [{"pool": pool, "pooled": pool.pooled, "held": pool.held,  # type: ignore[attr-defined]
             "claimed_today": counters.get(pool.pk, 0)} for pool in pools]


def held_accounts(user: User) -> QuerySet[Account]:
    """Accounts the user holds under a pool's rules, the ones due soonest first."""
    return (Account.objects.filter(owner=user, pool__isnull=False).select_related("pool")
            .order_by(F("reclaim_due_at").asc(nulls_last=True), "id"))


# --- limits ---------------------------------------------------------------------------------------
def _lock_counter(pool: Pool, user: User, *, claim: bool) -> None:
    """Lock (and for a claim, count) the user's counter row for the pool and today. Raises when the
    daily quota is used up. The UPDATE holds a row lock until commit (PostgreSQL) or the write lock
    (SQLite), which serialises one user's claims and holds."""
    day = timezone.localdate()
    PoolClaimCounter.objects.bulk_create([PoolClaimCounter(pool=pool, user=user, day=day)], ignore_conflicts=True)
    counter = PoolClaimCounter.objects.filter(pool=pool, user=user, day=day)
    if not claim:
        counter.update(claimed=F("claimed"))
        return
    if pool.daily_claim_quota is not None:
        counter = counter.filter(claimed__lt=pool.daily_claim_quota)
    if not counter.update(claimed=F("claimed") + 1):
        raise PoolConflict("claim_quota_reached", _("你今天已从公海“%(pool)s”领取 %(quota)s 个客户，达到每日上限。")
                           % {"pool": pool.name, "quota": pool.daily_claim_quota})


def _check_cap(pool: Pool, user: User, adding: int) -> None:
    """Raise when `user` would hold more than the pool's cap after taking `adding` more accounts."""
    if pool.max_held_per_rep is None or adding <= 0:
        return
    held = Account.objects.filter(owner=user, pool=pool).count()
    if held + adding > pool.max_held_per_rep:
        raise PoolConflict("held_cap_reached",
                           _("“%(user)s”在公海“%(pool)s”下已持有 %(held)s 个客户，上限 %(cap)s 个。")
                           % {"user": user, "pool": pool.name, "held": held, "cap": pool.max_held_per_rep})


def _check_cooldown(pool: Pool, user: User, account_id: int, name: str) -> None:
    if not pool.reclaim_cooldown_days:
        return
    since = timezone.now() - dt.timedelta(days=pool.reclaim_cooldown_days)
    left_at = (OwnershipTransfer.objects.filter(object_type="account", object_id=account_id, from_user=user,
                                                via__in=("release", "reclaim"), created_at__gte=since)
               .order_by("-created_at").values_list("created_at", flat=True).first())
    if left_at is not None:
        until = timezone.localtime(left_at + dt.timedelta(days=pool.reclaim_cooldown_days))
        raise PoolConflict("claim_cooldown", _("客户“%(name)s”是你退回或被回收的，%(until)s 之后才能重新领取。")
                           % {"name": name, "until": f"{until:%Y-%m-%d %H:%M}"})


def _hold_fields(pool: Pool | None, owner: User, now: dt.datetime) -> dict[str, Any]:
    """Column values that start a hold of `owner` now (deadline from the pool's rules; a deal won
    before the hold does not count)."""
    fields: dict[str, Any] = {"owner_id": owner.pk, "department_id": owner.department_id, "held_since": now,
                              "pool_entered_at": None, "reclaim_reminded_at": None, "reclaim_due_at": None}
    if pool is not None and pool.is_active:
        fields["reclaim_due_at"] = reclaim_due(pool_rules(pool), Hold(since=now))
    return fields


def _into_pool(account: Account, pool: Pool, *, now: dt.datetime, via: str, reason: str, actor: User | None,
               summary: str) -> bool:
    """Put a held account into `pool` (release, reclaim): a compare-and-set on its version and owner,
    then its ownership history, its team and shares dropped, and the audit event. False when the row
    changed since it was read (nothing is written then)."""
    updated = Account.objects.filter(pk=account.pk, version=account.version, owner_id=account.owner_id).update(
        owner=None, pool=pool, held_since=None, pool_entered_at=now, reclaim_due_at=None, reclaim_reminded_at=None,
        version=F("version") + 1, updated_at=now,
    )
    if not updated:
        return False
    _history(account_id=account.pk, from_user_id=account.owner_id, to_user_id=None, via=via, reason=reason,
             actor=actor)
    dropped = _drop_access(account.pk)
    audit_record(object_type="account", object_id=account.pk, action=AuditEvent.Kind.TRANSFER,
                 actor_id=actor.pk if actor else None, object_repr=account.name,
                 changes={"owner_id": [account.owner_id, None], **dropped}, summary=summary)
    return True


def _drop_access(account_id: int) -> dict[str, list[Any]]:
    """An account going into a pool leaves its team and its shares: nobody keeps seeing or editing it
    in full except through their role's scope (else a rep could "release" it and keep it)."""
    team = sorted(AccountTeamMember.objects.filter(account_id=account_id).values_list("user_id", flat=True))
    shares = list(Share.objects.filter(object_type="account", object_id=account_id)
                  .values_list("user_id", "department_id", "access"))
    AccountTeamMember.objects.filter(account_id=account_id).delete()
    Share.objects.filter(object_type="account", object_id=account_id).delete()
    changes: dict[str, list[Any]] = {}
    if team:
        changes["team"] = [team, []]
    if shares:
        changes["shares"] = [[list(share) for share in shares], []]
    return changes


def _history(*, account_id: int, from_user_id: int | None, to_user_id: int | None, via: str, reason: str,
             actor: User | None) -> None:
    OwnershipTransfer.objects.create(object_type="account", object_id=account_id, from_user_id=from_user_id,
                                     to_user_id=to_user_id, via=via, reason=reason[:255], actor=actor)


def _notify(user_id: int | None, kind: str, title: Any, url: str = "", body: str = "") -> None:
    """Notify in the recipient's language; `title` is a callable producing the text once activated."""
    if user_id is None:
        return
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    with translation.override(user.language or settings.LANGUAGE_CODE):
        notification_send(recipient=user, kind=kind, title=title(), body=body, url=url)


# --- claim, release, assign ---------------------------------------------------------------------
@transaction.atomic
def pool_claim(*, actor: User, account_id: int) -> Account:
    """Claim (领取) an account lying in one of the actor's pools. Compare-and-set: of concurrent claims
    of one account exactly one succeeds, the others get 409 `already_claimed`."""
    pools = member_pools(actor)
    row = Account.objects.filter(pk=account_id, pool__in=pools).values("owner_id", "pool_id", "name").first()
    if row is None:
        raise NotFound(_("没有 ID 为 %(id)s 的公海客户，或你不是它所在公海的成员。") % {"id": account_id})
    taken = PoolConflict("already_claimed", _("客户“%(name)s”（ID %(id)s）已被领取。")
                         % {"name": row["name"], "id": account_id})
    if row["owner_id"] is not None:
        raise taken
    pool = Pool.objects.get(pk=row["pool_id"])
    _check_cooldown(pool, actor, account_id, row["name"])
    _lock_counter(pool, actor, claim=True)
    _check_cap(pool, actor, 1)
    now = timezone.now()
    updated = Account.objects.filter(pk=account_id, owner__isnull=True, pool=pool).update(
        **_hold_fields(pool, actor, now), version=F("version") + 1, updated_at=now,
    )
    if not updated:
        # Another claim won between our read and the update; the counter increment rolls back with us.
        raise taken
    account = Account.objects.get(pk=account_id)
    _history(account_id=account_id, from_user_id=None, to_user_id=actor.pk, via="claim", reason="", actor=actor)
    audit_record(object_type="account", object_id=account_id, action=AuditEvent.Kind.TRANSFER, actor_id=actor.pk,
                 object_repr=account.name, changes={"owner_id": [None, actor.pk]},
                 summary=f"claimed from pool {pool.name}")
    return account


@transaction.atomic
def pool_release(*, actor: User, account_id: int, reason: str, pool_id: int | None = None,
                 expected_version: int | None = None) -> Account:
    """Release (退回) a held account to a pool with a reason: its owner may, and anybody who may
    transfer it (a manager). The target is `pool_id` or the account's pool."""
    account: Account = access.get_for_action(actor, "account", account_id, "view")
    if account.owner_id != actor.pk and "transfer" not in access.allowed_actions(actor, "account", account):
        raise PermissionDenied(_("只有负责人或有转移权限的人可以退回这个客户。"))
    errors = []
    if not reason.strip():
        errors.append(FieldError("reason", _("请填写退回原因。"), "required"))
    target = account.pool if pool_id is None else member_pools(actor).filter(pk=pool_id).first()
    if target is None:
        message = (_("请选择要退回的公海。") if pool_id is None
                   else _("没有 ID 为 %(id)s 的公海，或你不是它的成员。") % {"id": pool_id})
        errors.append(FieldError("pool_id", message, "required" if pool_id is None else "invalid"))
    if errors:
        raise ValidationFailed(_("退回公海填写有误。"), errors=errors)
    assert target is not None
    if expected_version is not None and expected_version != account.version:
        raise PreconditionFailed(
            _("这个客户已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
            % {"current": account.version, "expected": expected_version})
    if not _into_pool(account, target, now=timezone.now(), via="release", reason=reason.strip(), actor=actor,
                      summary=f"released to pool {target.name}: {reason.strip()[:400]}"):
        raise Conflict(_("客户“%(name)s”刚被其他人修改，请刷新后重试。") % {"name": account.name})
    if account.owner_id not in (None, actor.pk):
        _notify(account.owner_id, "pool_release",
                lambda: _("客户“%(name)s”已被退回公海") % {"name": account.name}, body=reason.strip())
    account.refresh_from_db()
    return account


@transaction.atomic
def pool_assign(*, actor: User, account_ids: Sequence[int], to_user: User) -> int:
    """Assign (分配) accounts lying in pools to a user. All or nothing; needs the transfer permission and
    `to_user` inside the actor's scope; the recipient's cap applies, the claim quota does not."""
    ids = sorted({int(i) for i in account_ids})
    if not ids:
        raise ValidationFailed(_("没有要分配的客户。"),
                               errors=[FieldError("account_ids", _("请至少指定一个 ID。"), "required")])
    if not access.can(actor, "account", "transfer") or not owner_assignable(actor=actor, object_type="account",
                                                                            owner=to_user):
        raise PermissionDenied(_("你不能把客户分配给“%(user)s”。") % {"user": to_user})
    pools = member_pools(actor)
    rows = list(Account.objects.filter(pk__in=ids, pool__in=pools).values("pk", "owner_id", "pool_id", "name"))
    missing = sorted(set(ids) - {row["pk"] for row in rows})
    if missing:
        raise NotFound(_("这些客户不在你可管理的公海中：%(ids)s；没有分配任何客户。")
                       % {"ids": ", ".join(map(str, missing[:20]))})
    taken = [row["pk"] for row in rows if row["owner_id"] is not None]
    if taken:
        raise PoolConflict("already_claimed", _("这些客户已有负责人：%(ids)s；没有分配任何客户。")
                           % {"ids": ", ".join(map(str, taken[:20]))})
    now = timezone.now()
    by_pool: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_pool.setdefault(row["pool_id"], []).append(row)
    for pool in Pool.objects.filter(pk__in=by_pool):
        _lock_counter(pool, to_user, claim=False)
        _check_cap(pool, to_user, len(by_pool[pool.pk]))
        pool_ids = [row["pk"] for row in by_pool[pool.pk]]
        updated = Account.objects.filter(pk__in=pool_ids, owner__isnull=True, pool=pool).update(
            **_hold_fields(pool, to_user, now), version=F("version") + 1, updated_at=now)
        if updated != len(pool_ids):
            raise PoolConflict("already_claimed", _("有客户刚被其他人领取；没有分配任何客户。"))
    OwnershipTransfer.objects.bulk_create([
        OwnershipTransfer(object_type="account", object_id=row["pk"], to_user=to_user, via="assign", actor=actor)
        for row in rows
    ])
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "account", "object_id": row["pk"], "object_repr": row["name"],
         "action": AuditEvent.Kind.TRANSFER, "changes": {"owner_id": [None, to_user.pk]},
         "summary": "assigned from pool"} for row in rows
    ])
    if to_user.pk != actor.pk:
        _notify(to_user.pk, "pool_assign", lambda: ngettext(
            "%(count)s 个公海客户已分配给你", "%(count)s 个公海客户已分配给你", len(rows)) % {"count": len(rows)})
    return len(rows)


@transaction.atomic
def accounts_transfer(*, actor: User, account_ids: Sequence[int], to_user: User, reason: str = "") -> int:
    """Transfer (转移) accounts, single or bulk, under the pool rules: the recipient's cap per pool holds
    and each held account starts a new hold for the recipient. All or nothing."""
    ids = sorted({int(i) for i in account_ids})
    owners_before = dict(Account.objects.filter(pk__in=ids).values_list("pk", "owner_id"))
    # Lock the recipient's counters before the accounts, in the order claims use: no deadlock.
    for pool in Pool.objects.filter(pk__in=Account.objects.filter(pk__in=ids).values("pool_id")).order_by("pk"):
        _lock_counter(pool, to_user, claim=False)
    count = records_transfer(actor=actor, object_type="account", object_ids=ids, to_user=to_user, reason=reason)
    # Only accounts that changed hands start a new hold: "transferring" an account to its own holder
    # must not extend the hold.
    held = [(pk, pool_id) for pk, pool_id in Account.objects.filter(pk__in=ids, pool__isnull=False)
            .values_list("pk", "pool_id") if owners_before.get(pk) != to_user.pk]
    _restart_holds(held, to_user, actor)
    return count


def holds_restart(held: Iterable[tuple[int, int]], owner: User, actor: User | None) -> None:
    """(account id, pool id) pairs now owned by `owner` start a new hold; raises when that puts the
    owner over a pool's cap (the caller's transaction then rolls everything back)."""
    _restart_holds(held, owner, actor)


def _restart_holds(held: Iterable[tuple[int, int]], owner: User, actor: User | None) -> None:
    by_pool: dict[int, list[int]] = {}
    for account_id, pool_id in held:
        by_pool.setdefault(pool_id, []).append(account_id)
    now = timezone.now()
    for pool in Pool.objects.filter(pk__in=by_pool):
        _lock_counter(pool, owner, claim=False)
        # The accounts are already the recipient's: the cap counts them, so compare with no addition.
        if pool.max_held_per_rep is not None:
            held_count = Account.objects.filter(owner=owner, pool=pool).count()
            if held_count > pool.max_held_per_rep:
                raise PoolConflict("held_cap_reached",
                                   _("“%(user)s”在公海“%(pool)s”下将持有 %(held)s 个客户，超过上限 %(cap)s 个。")
                                   % {"user": owner, "pool": pool.name, "held": held_count,
                                      "cap": pool.max_held_per_rep})
        # A fresh hold has no follow-ups and no won deal yet (earlier wins predate it): one deadline
        # for all of them, one UPDATE.
        Account.objects.filter(pk__in=by_pool[pool.pk]).update(**_hold_fields(pool, owner, now))


def holds_start(*, account_ids: Sequence[int], owner: User, pool: Pool, actor: User | None) -> None:
    """Put newly created or imported accounts of `owner` under `pool`'s rules (cap checked)."""
    Account.objects.filter(pk__in=account_ids).update(pool=pool)
    _restart_holds([(account_id, pool.pk) for account_id in account_ids], owner, actor)


def won_on(day: dt.date) -> dt.datetime:
    """A deal dated `day` (a transaction date) counts as won at the end of that local day, so an order
    dated the day of a claim counts for that hold and an older one does not."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.max))


def accounts_won(*, won: Mapping[int, dt.datetime]) -> None:
    """Deals were won on these accounts (account id → when: a transaction recorded, the status set
    to 成交; later a won opportunity): remember the latest, and drop the protection deadline of the
    ones held under a pool since before then."""
    current = dict(Account.objects.filter(pk__in=list(won)).values_list("pk", "last_won_at"))
    # Only accounts whose latest win moves are written (a conditional UPDATE each: a later win stored
    # concurrently is never overwritten) and only their deadlines can change.
    later = [pk for pk, at in won.items() if pk in current and (current[pk] is None or current[pk] < at)]
    for account_id in later:
        Account.objects.filter(pk=account_id).filter(
            Q(last_won_at__isnull=True) | Q(last_won_at__lt=won[account_id])).update(last_won_at=won[account_id])
    for account in Account.objects.select_related("pool").filter(pk__in=later, owner__isnull=False,
                                                                 pool__isnull=False):
        due = due_of(account, account.pool)
        if due != account.reclaim_due_at:
            Account.objects.filter(pk=account.pk, owner_id=account.owner_id).update(reclaim_due_at=due,
                                                                                    reclaim_reminded_at=None)


# --- won deals: listeners (extension point) -----------------------------------------------------
@dataclass(frozen=True)
class Won:
    """A won deal as listeners see it: `amount` in minor units (fen) of `currency`, won at `won_at`;
    (`source`, `source_id`) names the record it came from ("transaction" + the transaction id) and is
    unique per win, so a listener can be idempotent."""

    account_id: int
    amount: int
    currency: str
    won_at: dt.datetime
    source: str
    source_id: int


# Higher apps react to won deals (marketing attributes them to campaigns); registered in ready().
WonListener = Callable[[Sequence[Won]], None]
_WON_LISTENERS: list[WonListener] = []
WON_BATCH = 1000


def won_listen(listener: WonListener) -> None:
    """Register a listener (from an AppConfig.ready()); registering the same one twice is a no-op.
    It gets batches of `Won` after the commit that recorded them; its errors are logged, never undo
    the recording."""
    if listener not in _WON_LISTENERS:
        _WON_LISTENERS.append(listener)


def transactions_won(transactions: QuerySet[CustomerTransaction]) -> None:
    """Customer transactions were recorded (each is a won deal until opportunities exist): once the
    transaction commits, every won listener gets them, WON_BATCH at a time. Read inside the
    transaction, so nothing is read when nobody listens."""
    if not _WON_LISTENERS:
        return
    wins = [Won(account_id=account_id, amount=amount, currency=currency, won_at=won_on(day),
                source="transaction", source_id=pk)
            for pk, account_id, amount, currency, day in transactions.order_by("pk").values_list(
                "pk", "account_id", "amount_minor", "currency", "occurred_on")]
    _announce(wins)


def _announce(wins: Sequence[Won]) -> None:
    """Tell every won listener about `wins` once the current transaction commits."""
    if not wins or not _WON_LISTENERS:
        return

    def tell() -> None:
        for start in range(0, len(wins), WON_BATCH):
            for listener in list(_WON_LISTENERS):
                listener(wins[start:start + WON_BATCH])

    transaction.on_commit(tell, robust=True)


def deals_won(wins: Sequence[Won]) -> None:
    """Deals were won (opportunities, ADR 0005): the accounts' protection deadlines move as for any
    win, and after the commit every won listener gets them (marketing attributes the revenue)."""
    latest: dict[int, dt.datetime] = {}
    for win in wins:
        if win.account_id not in latest or latest[win.account_id] < win.won_at:
            latest[win.account_id] = win.won_at
    if latest:
        accounts_won(won=latest)
    _announce(list(wins))


# Higher apps undo what they did for a won deal whose record is deleted (marketing drops its
# attribution); registered in ready().
WonRevokedListener = Callable[[str, Sequence[int]], None]
_WON_REVOKED_LISTENERS: list[WonRevokedListener] = []


def won_revoked_listen(listener: WonRevokedListener) -> None:
    """Register a listener of revoked wins (from an AppConfig.ready()); twice is a no-op. It is called
    as `listener(source, source_ids)` inside the transaction that deletes those records (the same
    (`source`, `source_id`) as in `Won`), so its changes commit or roll back with the deletion."""
    if listener not in _WON_REVOKED_LISTENERS:
        _WON_REVOKED_LISTENERS.append(listener)


def won_revoked(*, source: str, source_ids: Sequence[int]) -> None:
    """Won deals are no more (their records are being deleted): tell every listener, now, in the
    caller's transaction."""
    ids = sorted(set(source_ids))
    if not ids:
        return
    for listener in list(_WON_REVOKED_LISTENERS):
        listener(source, ids)


# --- follow-ups and the reclaim job ------------------------------------------------------------------
def pool_followup_recorded(object_type: str, object_id: int, occurred_at: dt.datetime) -> None:
    """Listener of activity follow-ups: a follow-up on a held account (or one of its contacts) moves its
    reclaim deadline (the follow-up rule restarts, the protection period extends)."""
    if object_type == "contact":
        account_id = Contact.objects.filter(pk=object_id).values_list("account_id", flat=True).first()
    elif object_type == "account":
        account_id = object_id
    else:
        return
    account = Account.objects.select_related("pool").filter(pk=account_id, owner__isnull=False,
                                                             pool__isnull=False).first()
    if account is None:
        return
    due = due_of(account, account.pool)
    if due != account.reclaim_due_at:
        # Still held by the same owner (the reclaim job may have taken it meanwhile).
        Account.objects.filter(pk=account.pk, owner_id=account.owner_id).update(reclaim_due_at=due,
                                                                                reclaim_reminded_at=None)


def pool_reclaim_run(*, now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """Return overdue held accounts to their pools and remind holders of upcoming reclaims.

    Each account is re-evaluated from fresh data first (a late follow-up may have moved its deadline).
    The reclaim is a compare-and-set on `version`: an edit that committed after our read wins and the
    account is looked at again in the next run; an edit that comes after the reclaim finds the version
    changed and gets 412. Idempotent: running twice reclaims nothing new."""
    now = now or timezone.now()
    result = {"reclaimed": 0, "rescheduled": 0, "skipped": 0, "reminded": 0}
    due_ids = list(Account.objects.filter(reclaim_due_at__lte=now, owner__isnull=False, pool__isnull=False)
                   .order_by("reclaim_due_at").values_list("pk", flat=True)[:limit])
    for account_id in due_ids:
        with transaction.atomic():
            outcome = _reclaim_one(account_id, now)
        result[outcome] += 1
    result["reminded"] = _send_reminders(now, limit)
    return result


def _reclaim_one(account_id: int, now: dt.datetime) -> str:
    # The row lock (PostgreSQL; SQLite's write transactions are serial anyway) makes a follow-up being
    # recorded either commit before our read — and move the deadline — or wait until we are done.
    account = Account.objects.select_for_update(of=("self",)).select_related("pool").filter(pk=account_id).first()
    if account is None or account.owner_id is None or account.pool is None:
        return "skipped"
    due = due_of(account, account.pool)
    if due is None or due > now:
        Account.objects.filter(pk=account.pk, version=account.version).update(reclaim_due_at=due)
        return "rescheduled"
    pool = account.pool
    hold = hold_of(account)
    assert hold is not None
    rules = pool_rules(pool)
    followup_due = (None if rules.no_followup_days is None
                    else reclaim_due(PoolRules(no_followup_days=rules.no_followup_days), hold))
    # Stored as codes, shown in the reader's language (reason_text).
    reason = f"no_followup:{rules.no_followup_days}" if followup_due is not None and due == followup_due \
        else "protection_ended"
    if not _into_pool(account, pool, now=now, via="reclaim", reason=reason, actor=None,
                      summary=f"reclaimed to pool {pool.name}: {reason}"):
        return "skipped"
    _notify(account.owner_id, "pool_reclaim",
            lambda: _("客户“%(name)s”已被回收到公海“%(pool)s”") % {"name": account.name, "pool": pool.name},
            url=f"/accounts/{account.pk}/")
    return "reclaimed"


def reason_text(reason: str) -> str:
    """A stored reclaim reason code in the active language; other reasons (typed by people) as they are."""
    if reason == "protection_ended":
        return _("保护期内未成交")
    if reason.startswith("no_followup:"):
        return _("%(days)s 天未跟进") % {"days": reason.split(":", 1)[1]}
    return reason


def _send_reminders(now: dt.datetime, limit: int) -> int:
    sent = 0
    pools = {pool.pk: pool for pool in Pool.objects.filter(is_active=True, reminder_days__gt=0)}
    if not pools:
        return 0
    horizon = now + dt.timedelta(days=max(pool.reminder_days for pool in pools.values()))
    candidates = (Account.objects.filter(reclaim_due_at__gt=now, reclaim_due_at__lte=horizon, owner__isnull=False,
                                         pool__in=list(pools), reclaim_reminded_at__isnull=True)
                  .only("pk", "name", "owner_id", "pool_id", "reclaim_due_at", "held_since")[:limit])
    for account in candidates:
        pool = pools[account.pool_id]
        assert account.reclaim_due_at is not None and account.held_since is not None
        at = remind_at(pool_rules(pool), Hold(since=account.held_since), account.reclaim_due_at)
        if at is None or at > now:
            continue
        # Compare-and-set: two runs never remind twice.
        if Account.objects.filter(pk=account.pk, reclaim_reminded_at__isnull=True).update(reclaim_reminded_at=now):
            due_text = f"{timezone.localtime(account.reclaim_due_at):%Y-%m-%d %H:%M}"
            _notify(account.owner_id, "pool_reminder",
                    lambda account=account, due_text=due_text: _("客户“%(name)s”将于 %(due)s 被回收到公海")
                    % {"name": account.name, "due": due_text},
                    url=f"/accounts/{account.pk}/")
            sent += 1
    return sent


# --- administration -----------------------------------------------------------------------------
POOL_NUMBER_FIELDS = ("reclaim_no_followup_days", "protection_days", "protection_max_days", "max_held_per_rep",
                      "daily_claim_quota")
POOL_COUNT_FIELDS = ("protection_extension_days", "reclaim_cooldown_days", "reminder_days")


def _clean_pool(data: Mapping[str, Any], pool: Pool | None) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    if pool is None or "name" in data:
        name = str(data.get("name") or "").strip()
        if not name:
            errors.append(FieldError("name", _("此项为必填项。"), "required"))
        elif len(name) > 100:
            errors.append(FieldError("name", _("最多 100 个字符。"), "too_long"))
        elif Pool.objects.filter(name=name).exclude(pk=pool.pk if pool else None).exists():
            errors.append(FieldError("name", _("已有同名的公海。"), "unique"))
        cleaned["name"] = name
    for name in ("description",):
        if name in data:
            cleaned[name] = str(data.get(name) or "").strip()[:500]
    for name in ("is_active", "include_subdepartments"):
        if name in data:
            cleaned[name] = bool(data[name])
    for name in (*POOL_NUMBER_FIELDS, *POOL_COUNT_FIELDS):
        if name not in data:
            continue
        value = data[name]
        if value in (None, "") and name in POOL_NUMBER_FIELDS:
            cleaned[name] = None
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors.append(FieldError(name, _("请输入整数。"), "invalid"))
            continue
        if number < 0 or number > 10000:
            errors.append(FieldError(name, _("必须在 0 到 10000 之间。"), "out_of_range"))
            continue
        cleaned[name] = number
    if "visible_fields" in data:
        chosen = list(data.get("visible_fields") or [])
        unknown = [name for name in chosen if name not in POOL_SHOWABLE_FIELDS]
        if unknown:
            errors.append(FieldError("visible_fields", _("不能在领取前显示这些字段：%(fields)s。")
                                     % {"fields": ", ".join(map(str, unknown))}, "invalid"))
        cleaned["visible_fields"] = [name for name in chosen if name in POOL_SHOWABLE_FIELDS]
    base = cleaned.get("protection_days", pool.protection_days if pool else None)
    top = cleaned.get("protection_max_days", pool.protection_max_days if pool else None)
    if base is not None and top is not None and top < base:
        errors.append(FieldError("protection_max_days", _("保护期上限不能小于保护期。"), "out_of_range"))
    return cleaned, errors


@transaction.atomic
def pool_save(*, actor: User, data: Mapping[str, Any], pool_id: int | None = None) -> Pool:
    """Create or change a pool and its members (admins only). Held accounts of the pool get their
    deadlines recomputed when a rule changes."""
    if not access.is_admin(actor):
        raise PermissionDenied(_("只有管理员可以管理公海。"))
    pool = None
    if pool_id is not None:
        pool = Pool.objects.filter(pk=pool_id).first()
        if pool is None:
            raise NotFound(_("没有 ID 为 %(id)s 的公海。") % {"id": pool_id})
    cleaned, errors = _clean_pool(data, pool)
    users = _members(data, "member_user_ids", User, _("没有这些用户：%(ids)s。"), errors)
    departments = _members(data, "member_department_ids", Department, _("没有这些部门：%(ids)s。"), errors)
    if errors:
        raise ValidationFailed(_("公海设置填写有误。"), errors=errors)
    before = _pool_snapshot(pool) if pool else {}
    if pool is None:
        pool = Pool(**cleaned)
        if "visible_fields" not in cleaned:
            pool.visible_fields = list(POOL_DEFAULT_VISIBLE_FIELDS)
        pool.save()
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
    audit_record(object_type="pool", object_id=pool.pk,
                 action=AuditEvent.Kind.UPDATE if before else AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=pool.name, changes=changes)
    if before and any(name in changes for name in (*POOL_NUMBER_FIELDS, *POOL_COUNT_FIELDS, "is_active")):
        # Recomputing every held account's deadline is a job (batched, after this commit), not part
        # of the admin's request.
        from .pool_tasks import pool_reschedule_task

        job_enqueue(task=pool_reschedule_task, name="customers.pool_reschedule", arguments={"pool_id": pool.pk},
                    actor=actor)
    return pool


def _members(data: Mapping[str, Any], field: str, model: Any, message: str,
             errors: list[FieldError]) -> list[Any] | None:
    """The users or departments listed under `field` (None when not given); unknown ids are an error."""
    if field not in data:
        return None
    wanted = {int(i) for i in data.get(field) or []}
    found = list(model.objects.filter(pk__in=wanted))
    missing = sorted(wanted - {row.pk for row in found})
    if missing:
        errors.append(FieldError(field, message % {"ids": ", ".join(map(str, missing))}, "invalid"))
    return found


def _pool_snapshot(pool: Pool) -> dict[str, Any]:
    values = {name: getattr(pool, name) for name in ("name", "description", "is_active", "include_subdepartments",
                                                     *POOL_NUMBER_FIELDS, *POOL_COUNT_FIELDS, "visible_fields")}
    values["member_user_ids"] = sorted(pool.member_users.values_list("pk", flat=True))
    values["member_department_ids"] = sorted(pool.member_departments.values_list("pk", flat=True))
    return values


def pool_reschedule(pool_id: int, *, chunk: int = 500) -> int:
    """Recompute the deadline of every account held under a pool (after its rules changed), a chunk
    per transaction. Each write is a compare-and-set on the hold (owner and start), so a claim,
    release or reclaim in between is never overwritten."""
    pool = Pool.objects.filter(pk=pool_id).first()
    if pool is None:
        return 0
    changed, last_id = 0, 0
    while True:
        with transaction.atomic():
            accounts = list(Account.objects.filter(pool=pool, owner__isnull=False, pk__gt=last_id)
                            .order_by("pk")[:chunk])
            for account in accounts:
                due = due_of(account, pool)
                if due != account.reclaim_due_at:
                    changed += Account.objects.filter(
                        pk=account.pk, owner_id=account.owner_id, held_since=account.held_since,
                    ).update(reclaim_due_at=due, reclaim_reminded_at=None)
        if len(accounts) < chunk:
            return changed
        last_id = accounts[-1].pk
