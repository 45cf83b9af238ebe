"""N threads reserve the last K uses of a promotion (and of a coupon) at the same time: exactly K succeed,
the others get 409 quota_exhausted / coupon_used_up, and the counters equal the reservations. Real
threads, each with its own connection and transaction, on SQLite and on PostgreSQL (CI runs the suite
on both; DATABASE_URL selects the database)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

THREADS = 16
QUOTA = 5


def _race(applied_for):
    """Every thread reserves `applied_for(index)` under its own reference at once; outcome per thread."""
    from django.db import OperationalError, connection

    from l2c.apps.pricing.reservations import promotion_reserve
    from l2c.kernel.errors import Conflict

    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(index):
        deadline = time.monotonic() + 60
        while True:
            try:
                promotion_reserve(reference=f"Q-{index}", account_id=None, currency="CNY",
                                  applied=[applied_for(index)])
                return "ok"
            except Conflict as conflict:
                return conflict.code
            except OperationalError as error:
                # The in-memory SQLite test database reports a busy table at once: retry like a client.
                if connection.vendor != "sqlite" or "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.001, 0.01))

    def work(index):
        try:
            barrier.wait(timeout=30)
            outcome = attempt(index)
        except Exception as error:  # pragma: no cover - reported by the assertions
            outcome = repr(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(outcomes)


def _promotion(org, **data):
    from l2c.apps.pricing import services

    created = services.promotion_create(actor=org["marketing"], data={
        "code": "last-uses", "name": "最后几次", "kind": "coupon", "params": {"amount": 10}, **data})
    return services.promotion_activate(actor=org["marketing"], promotion_id=created.pk)


@pytest.mark.django_db(transaction=True)
def test_exactly_k_of_n_concurrent_reservations_win_the_last_uses(org):
    from l2c.apps.pricing.models import Promotion, PromotionReservation

    _promotion(org, max_uses=QUOTA + 2)
    Promotion.objects.filter(code="last-uses").update(used_count=2)  # two uses already consumed

    outcomes = _race(lambda index: ("last-uses", None, 100))

    assert outcomes == Counter({"ok": QUOTA, "quota_exhausted": THREADS - QUOTA})
    promotion = Promotion.objects.get(code="last-uses")
    assert (promotion.reserved_count, promotion.used_count, promotion.discount_reserved) == (QUOTA, 2, QUOTA * 100)
    assert PromotionReservation.objects.filter(status="reserved").count() == QUOTA


@pytest.mark.django_db(transaction=True)
def test_exactly_k_of_n_concurrent_reservations_win_a_shared_coupon(org):
    from l2c.apps.pricing import services
    from l2c.apps.pricing.models import Coupon, Promotion

    promotion = _promotion(org)
    services.coupon_create(actor=org["marketing"], promotion_id=promotion.pk, code="SHARED", max_uses=QUOTA)

    outcomes = _race(lambda index: ("last-uses", "SHARED", 100))

    assert outcomes == Counter({"ok": QUOTA, "coupon_used_up": THREADS - QUOTA})
    assert Coupon.objects.get(code="SHARED").reserved_count == QUOTA
    # The refused reservations rolled their promotion use back.
    assert Promotion.objects.get(code="last-uses").reserved_count == QUOTA
