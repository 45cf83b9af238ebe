"""Public pools of the demo company: one pool per sales department, some accounts lying in them and
the reps' prospects held under their rules, so the pool pages show something after `make run`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from django.db.models import F, OuterRef, Subquery

from l2c.apps.identity.models import Department, OwnershipTransfer, User

from .models import Account, AccountStatus, CustomerTransaction, Pool
from .pool import due_of, pool_save, won_on

DEMO_POOL_RULES = {
    "reclaim_no_followup_days": 30, "protection_days": 60, "protection_extension_days": 7,
    "protection_max_days": 90, "max_held_per_rep": 200, "daily_claim_quota": 20, "reclaim_cooldown_days": 7,
    "reminder_days": 5,
}
# (pool name, department key, owners whose quiet prospects lie in the pool, how many at most)
DEMO_POOLS = (("华北公海", "north", ("rep1", "rep2", "manager"), 40), ("华东公海", "east", ("rep3",), 20))


def pool_demo(*, accounts: Sequence[Account], users: Mapping[str, User], departments: Mapping[str, Department],
              anchor: dt.datetime) -> dict[str, int]:
    """Create the demo pools; release each owner's quietest prospects into them and put the other
    prospects of the pools' members under the pools' rules (held since at most 25 days ago)."""
    # Demo transactions were bulk-written: their latest date is the accounts' last won deal.
    latest = CustomerTransaction.objects.filter(account=OuterRef("pk")).order_by("-occurred_on").values(
        "occurred_on")[:1]
    for account_id, day in Account.objects.annotate(day=Subquery(latest)).filter(day__isnull=False).values_list(
            "pk", "day"):
        Account.objects.filter(pk=account_id).update(last_won_at=won_on(day))
    counts = {"pooled": 0, "held": 0}
    for name, department_key, owners, limit in DEMO_POOLS:
        pool = pool_save(actor=users["admin"], data={
            "name": name, "member_department_ids": [departments[department_key].pk],
            "description": "演示公海：30 天未跟进或 60 天（每次跟进 +7 天，最多 90 天）未成交即回收",
            **DEMO_POOL_RULES})
        owner_ids = [users[username].pk for username in owners]
        prospects = sorted((a for a in accounts if a.owner_id in owner_ids and a.status == AccountStatus.POTENTIAL),
                           key=lambda a: (a.last_followed_up_at or a.created_at, a.pk))
        pooled, held = prospects[:limit], prospects[limit:]
        _release(pooled, pool, users["admin"], anchor)
        _hold(held, pool, anchor)
        counts["pooled"] += len(pooled)
        counts["held"] += len(held)
    return counts


def _release(accounts: Sequence[Account], pool: Pool, actor: User, anchor: dt.datetime) -> None:
    ids = [account.pk for account in accounts]
    Account.objects.filter(pk__in=ids).update(owner=None, pool=pool, pool_entered_at=anchor, held_since=None,
                                              reclaim_due_at=None, version=F("version") + 1)
    OwnershipTransfer.objects.bulk_create([
        OwnershipTransfer(object_type="account", object_id=account.pk, from_user_id=account.owner_id, via="release",
                          reason="演示：长期未跟进", actor=actor) for account in accounts
    ])


def _hold(accounts: Sequence[Account], pool: Pool, anchor: dt.datetime) -> None:
    for account in Account.objects.filter(pk__in=[a.pk for a in accounts]):
        account.pool = pool
        account.held_since = max(account.created_at, anchor - dt.timedelta(days=25))
        account.reclaim_due_at = due_of(account, pool)
        Account.objects.filter(pk=account.pk).update(pool=pool, held_since=account.held_since,
                                                     reclaim_due_at=account.reclaim_due_at)
