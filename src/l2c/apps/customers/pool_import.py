"""The account import under the public-pool rules (the "pool" column).

- A row naming a pool (by name; the importer must be a member) and no owner puts the account *in*
  that pool: no owner, the importer's department, `pool_entered_at` = commit time.
- A row naming a pool and an owner makes the owner *hold* the account under the pool's rules: the
  pool's cap on held accounts is checked per owner across the whole file (existing holds plus the
  file's rows so far; the rows beyond the cap are row errors), and the commit starts the holds
  (`held_since`, `reclaim_due_at`).
- A row without a pool is imported as before, outside every pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.imports import ImportContext
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError

from .models import Account, Pool
from .pool import holds_restart, member_pools


def pool_of_cell(context: ImportContext, cell: str) -> tuple[Pool | None, str | None]:
    """(the pool a "pool" cell names, or None for an empty cell; the error message when unknown)."""
    name = (cell or "").strip()
    if not name:
        return None, None
    pools: dict[str, Pool] = context.cache.get("pools_by_name") or {}
    if "pools_by_name" not in context.cache:
        pools = {pool.name: pool for pool in member_pools(context.actor)}
        context.cache["pools_by_name"] = pools
    pool = pools.get(name)
    if pool is None:
        return None, _("没有名为“%(name)s”的公海，或你不是它的成员") % {"name": name[:50]}
    return pool, None


def hold_allowed(context: ImportContext, owner_id: int, pool: Pool) -> str | None:
    """Count one more account held by `owner_id` under `pool` in this import; the error message when
    that goes beyond the pool's cap (the count is then not taken)."""
    if pool.max_held_per_rep is None:
        return None
    counts: dict[tuple[int, int], int] = context.cache.setdefault("held_counts", {})
    key = (owner_id, pool.pk)
    if key not in counts:
        counts[key] = Account.objects.filter(owner_id=owner_id, pool=pool).count()
    if counts[key] + 1 > pool.max_held_per_rep:
        return _("负责人在公海“%(pool)s”下的持有数将超过上限 %(cap)s 个") % {"pool": pool.name,
                                                                          "cap": pool.max_held_per_rep}
    counts[key] += 1
    return None


def apply_pool(context: ImportContext, cleaned: dict[str, Any], pool_cell: str, owner_cell: str, number: int,
               errors: list[FieldError]) -> None:
    """Set `pool_id` (and, for a row going into the pool, no owner) on a valid row, or add the error."""
    pool, problem = pool_of_cell(context, pool_cell)
    cleaned["pool_id"] = pool.pk if pool else None
    if problem:
        errors.append(FieldError("pool", problem, "not_found", number))
        return
    if pool is None:
        return
    if not owner_cell.strip():
        cleaned["owner_id"] = None
        cleaned["department_id"] = context.actor.department_id
        return
    problem = hold_allowed(context, cleaned["owner_id"], pool)
    if problem:
        errors.append(FieldError("owner", problem, "held_cap_reached", number))


def commit_pools(actor: User, account_ids: Sequence[int], rows: Sequence[Mapping[str, Any]]) -> None:
    """After the insert: pooled rows enter their pool now; held rows start their hold now."""
    now = timezone.now()
    pooled: list[int] = []
    held: dict[int, list[int]] = {}
    owners = {account_id: row.get("owner_id") for account_id, row in zip(account_ids, rows, strict=True)}
    for account_id, row in zip(account_ids, rows, strict=True):
        pool_id = row.get("pool_id")
        if pool_id is None:
            continue
        if row.get("owner_id") is None:
            pooled.append(account_id)
        else:
            held.setdefault(pool_id, []).append(account_id)
    if pooled:
        Account.objects.filter(pk__in=pooled).update(pool_entered_at=now)
    # Holds start through the pool service: the owner's counter is locked and the cap re-counted with
    # the new rows, so a claim or another import since the dry run cannot take an owner over it (the
    # chunk then fails as a whole and the import reports why).
    by_owner: dict[int, list[tuple[int, int]]] = {}
    for pool_id, ids in held.items():
        for account_id in ids:
            owner_id = owners[account_id]
            by_owner.setdefault(owner_id, []).append((account_id, pool_id))
    users = User.objects.in_bulk(list(by_owner))
    for owner_id, pairs in by_owner.items():
        holds_restart(pairs, users[owner_id], actor)
