"""1,000 concurrent claims on 100 pooled accounts: exactly 100 succeed, the rest get 409, no account
has two owners and no quota is exceeded. Real threads, each with its own connection and transaction,
on SQLite and on PostgreSQL (CI runs the suite on both)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

CLAIMERS = 20
CLAIMS_PER_CLAIMER = 50  # 20 × 50 = 1,000 claims
ACCOUNTS = 100


def _setup(org, *, quota, cap=None):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import pool_save
    from l2c.apps.identity.services import user_create

    users = [user_create(username=f"claimer{i}", password="pw-claimer", display_name=f"claimer{i}",
                         email=f"claimer{i}@example.com", department_id=org.north.pk, role_codes=["sales_rep"])
             for i in range(CLAIMERS)]
    pool = pool_save(actor=org["admin"], data={"name": "抢单公海", "member_department_ids": [org.north.pk],
                                                "daily_claim_quota": quota, "max_held_per_rep": cap})
    Account.objects.bulk_create([Account(name=f"抢单客户{i:03d}", pool=pool) for i in range(ACCOUNTS)])
    return users, list(Account.objects.filter(pool=pool).values_list("pk", flat=True))


def _race(users, account_ids):
    """Every user claims CLAIMS_PER_CLAIMER random pooled accounts at the same time."""
    from django.db import OperationalError, connection

    from l2c.apps.customers.pool import PoolConflict, pool_claim

    barrier = threading.Barrier(len(users))
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def claim(user, account_id):
        deadline = time.monotonic() + 60
        while True:
            try:
                pool_claim(actor=user, account_id=account_id)
                return "ok"
            except PoolConflict as conflict:
                return conflict.code
            except OperationalError as error:
                # The SQLite test database is in memory with a shared cache: a busy table is reported at
                # once instead of waited for (the file database has a busy timeout). Retry like a client.
                if connection.vendor != "sqlite" or "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.001, 0.01))

    def work(user, seed):
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            for _ in range(CLAIMS_PER_CLAIMER):
                outcome = claim(user, rng.choice(account_ids))
                with lock:
                    outcomes.append((user.pk, outcome))
        except Exception as error:  # pragma: no cover - reported by the assertions
            with lock:
                outcomes.append((user.pk, repr(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(user, seed)) for seed, user in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_one_thousand_concurrent_claims_on_one_hundred_accounts(org):
    from l2c.apps.customers.models import Account, PoolClaimCounter
    from l2c.apps.identity.models import OwnershipTransfer

    users, account_ids = _setup(org, quota=10)  # capacity 200 ≥ 100 accounts: every account gets claimed

    outcomes = _race(users, account_ids)

    kinds = Counter(outcome for _, outcome in outcomes)
    assert len(outcomes) == CLAIMERS * CLAIMS_PER_CLAIMER
    assert kinds["ok"] == ACCOUNTS
    assert set(kinds) <= {"ok", "already_claimed", "claim_quota_reached"}
    owners = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "owner_id"))
    assert all(owner is not None for owner in owners.values())
    # One claim history row per account: nobody held an account that somebody else also claimed.
    claims = Counter(OwnershipTransfer.objects.filter(via="claim").values_list("object_id", flat=True))
    assert set(claims.values()) == {1} and len(claims) == ACCOUNTS
    held = Counter(owners.values())
    successes = Counter(user_id for user_id, outcome in outcomes if outcome == "ok")
    assert held == successes
    assert max(held.values()) <= 10
    counters = dict(PoolClaimCounter.objects.values_list("user_id", "claimed"))
    assert all(counters.get(user_id, 0) == count for user_id, count in held.items())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("limits", "refusal"), [({"quota": 3}, "claim_quota_reached"),
                                                 ({"quota": None, "cap": 3}, "held_cap_reached")])
def test_concurrent_claims_never_exceed_a_binding_quota_or_cap(org, limits, refusal):
    from l2c.apps.customers.models import Account, PoolClaimCounter

    users, account_ids = _setup(org, **limits)  # capacity 60 < 100 accounts: the limit binds

    outcomes = _race(users, account_ids)

    kinds = Counter(outcome for _, outcome in outcomes)
    assert kinds["ok"] == CLAIMERS * 3
    assert set(kinds) <= {"ok", "already_claimed", refusal}
    held = Counter(Account.objects.filter(pk__in=account_ids, owner__isnull=False).values_list("owner_id", flat=True))
    assert set(held.values()) == {3}
    if "cap" not in limits:
        assert set(PoolClaimCounter.objects.values_list("claimed", flat=True)) == {3}
