"""1,000 concurrent claims on 100 pooled leads: exactly 100 succeed, the rest get 409, no lead has two
owners and no quota or cap is exceeded. Real threads, each with its own connection and transaction,
on SQLite and on PostgreSQL (run with DATABASE_URL for the latter). Also concurrent round-robin
assignment: no turn is handed out twice."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter

import pytest

CLAIMERS = 20
CLAIMS_PER_CLAIMER = 50  # 20 × 50 = 1,000 claims
LEADS = 100


def _setup(org, *, quota, cap=None):
    from l2c.apps.identity.services import user_create
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import lead_pool_save

    users = [user_create(username=f"claimer{i}", password="pw-claimer", display_name=f"claimer{i}",
                         email=f"claimer{i}@example.com", department_id=org.north.pk, role_codes=["sales_rep"])
             for i in range(CLAIMERS)]
    pool = lead_pool_save(actor=org["admin"], data={"name": "抢单线索池", "member_department_ids": [org.north.pk],
                                                    "daily_claim_quota": quota, "max_held_per_rep": cap})
    Lead.objects.bulk_create([Lead(name=f"抢单线索{i:03d}", pool=pool) for i in range(LEADS)])
    return users, list(Lead.objects.filter(pool=pool).values_list("pk", flat=True))


def _retrying(call):
    """Run `call`; the in-memory SQLite test database (shared cache) reports a busy table at once
    instead of waiting, so retry like a client would."""
    from django.db import OperationalError, connection

    deadline = time.monotonic() + 60
    while True:
        try:
            return call()
        except OperationalError as error:
            if connection.vendor != "sqlite" or "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.001, 0.01))


def _race(users, lead_ids):
    from django.db import connection

    from l2c.apps.leads.pools import LeadPoolConflict, lead_claim

    barrier = threading.Barrier(len(users))
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def claim(user, lead_id):
        def attempt():
            try:
                lead_claim(actor=user, lead_id=lead_id)
                return "ok"
            except LeadPoolConflict as conflict:
                return conflict.code
        return _retrying(attempt)

    def work(user, seed):
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            for _ in range(CLAIMS_PER_CLAIMER):
                outcome = claim(user, rng.choice(lead_ids))
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
def test_one_thousand_concurrent_claims_on_one_hundred_leads(org):
    from l2c.apps.identity.models import OwnershipTransfer
    from l2c.apps.leads.models import Lead, LeadClaimCounter

    users, lead_ids = _setup(org, quota=10)  # capacity 200 ≥ 100 leads: every lead gets claimed

    outcomes = _race(users, lead_ids)

    kinds = Counter(outcome for _, outcome in outcomes)
    assert len(outcomes) == CLAIMERS * CLAIMS_PER_CLAIMER
    assert kinds["ok"] == LEADS
    assert set(kinds) <= {"ok", "already_claimed", "claim_quota_reached"}
    owners = dict(Lead.objects.filter(pk__in=lead_ids).values_list("pk", "owner_id"))
    assert all(owner is not None for owner in owners.values())
    # One claim history row per lead: nobody held a lead that somebody else also claimed.
    claims = Counter(OwnershipTransfer.objects.filter(object_type="lead", via="claim")
                     .values_list("object_id", flat=True))
    assert set(claims.values()) == {1} and len(claims) == LEADS
    held = Counter(owners.values())
    successes = Counter(user_id for user_id, outcome in outcomes if outcome == "ok")
    assert held == successes
    assert max(held.values()) <= 10
    counters = dict(LeadClaimCounter.objects.values_list("user_id", "claimed"))
    assert all(counters.get(user_id, 0) == count for user_id, count in held.items())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("limits", "refusal"), [({"quota": 3}, "claim_quota_reached"),
                                                 ({"quota": None, "cap": 3}, "held_cap_reached")])
def test_concurrent_claims_never_exceed_a_binding_quota_or_cap(org, limits, refusal):
    from l2c.apps.leads.models import Lead, LeadClaimCounter

    users, lead_ids = _setup(org, **limits)  # capacity 60 < 100 leads: the limit binds

    outcomes = _race(users, lead_ids)

    kinds = Counter(outcome for _, outcome in outcomes)
    assert kinds["ok"] == CLAIMERS * 3
    assert set(kinds) <= {"ok", "already_claimed", refusal}
    held = Counter(Lead.objects.filter(pk__in=lead_ids, owner__isnull=False).values_list("owner_id", flat=True))
    assert set(held.values()) == {3}
    if "cap" not in limits:
        assert set(LeadClaimCounter.objects.values_list("claimed", flat=True)) == {3}


@pytest.mark.django_db(transaction=True)
def test_concurrent_round_robin_assignments_hand_out_every_turn_once(org):
    from django.db import connection

    from l2c.apps.leads.assignment import assignment_rule_save, leads_assign
    from l2c.apps.leads.models import AssignmentRule, Lead

    reps = sorted(org[name].pk for name in ("rep1", "rep2", "manager", "director"))
    rule = assignment_rule_save(actor=org["admin"], data={"name": "轮流", "action": "round_robin",
                                                          "user_ids": reps})
    batches = [[Lead.objects.create(name=f"并发{b}-{i}").pk for i in range(5)] for b in range(8)]
    barrier = threading.Barrier(len(batches))
    errors: list[str] = []

    def work(ids):
        try:
            barrier.wait(timeout=30)
            _retrying(lambda: leads_assign(lead_ids=ids, actor=None, via="capture"))
        except Exception as error:  # pragma: no cover - reported by the assertions
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(ids,)) for ids in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert AssignmentRule.objects.get(pk=rule.pk).cursor == 40
    owners = Counter(Lead.objects.values_list("owner_id", flat=True))
    assert owners == {rep: 10 for rep in reps}


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_and_capped_rule_assignments_never_exceed_the_cap(org):
    """Claims from the pool and a round-robin rule holding leads under the same capped pool, at once:
    nobody ends up holding more than the cap; what nobody may take lies in the pool unowned."""
    from django.db import connection

    from l2c.apps.leads.assignment import assignment_rule_save, leads_assign
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import LeadPoolConflict, lead_claim

    cap = 3
    users, pooled_ids = _setup(org, quota=None, cap=cap)
    users = users[:4]
    pool_id = Lead.objects.get(pk=pooled_ids[0]).pool_id
    assignment_rule_save(actor=org["admin"], data={"name": "池下轮流", "action": "round_robin",
                                                   "user_ids": [user.pk for user in users], "target_pool_id": pool_id})
    batches = [[Lead.objects.create(name=f"规则{b}-{i}").pk for i in range(4)] for b in range(4)]
    barrier = threading.Barrier(len(users) + len(batches))
    errors: list[str] = []

    def claim(user, seed):
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            for lead_id in rng.sample(pooled_ids, 6):
                def attempt(lead_id=lead_id):
                    with contextlib.suppress(LeadPoolConflict):
                        lead_claim(actor=user, lead_id=lead_id)

                _retrying(attempt)
        except Exception as error:  # pragma: no cover - reported by the assertions
            errors.append(repr(error))
        finally:
            connection.close()

    def assign(ids):
        try:
            barrier.wait(timeout=30)
            _retrying(lambda: leads_assign(lead_ids=ids, actor=None, via="import"))
        except Exception as error:  # pragma: no cover - reported by the assertions
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user, seed)) for seed, user in enumerate(users)]
    threads += [threading.Thread(target=assign, args=(ids,)) for ids in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    held = Counter(Lead.objects.filter(pool_id=pool_id, owner__isnull=False).values_list("owner_id", flat=True))
    assert max(held.values()) <= cap
    rule_leads = [lead_id for ids in batches for lead_id in ids]
    # Every rule lead was routed: held by a candidate or lying unowned in the pool.
    assert Lead.objects.filter(pk__in=rule_leads, pool_id=pool_id).count() == len(rule_leads)
