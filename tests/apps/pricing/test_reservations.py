"""Promotion quota reservations: exact counters through reserve / consume / release, all or nothing,
re-reserving a reference, coupon limits (uses and per customer)."""

from __future__ import annotations

import pytest

from l2c.apps.catalog.selectors import rules_version
from l2c.apps.pricing import reservations, services
from l2c.apps.pricing.models import Coupon, Promotion, PromotionReservation
from l2c.apps.pricing.selectors import coupons_by_codes, promotion_quotas
from l2c.kernel.errors import ValidationFailed


def active(org, code, kind="percent_off", params=None, **data):
    created = services.promotion_create(actor=org["marketing"], data={
        "code": code, "name": code, "kind": kind, "params": params or {"percent": 10}, **data})
    return services.promotion_activate(actor=org["marketing"], promotion_id=created.pk)


def counters(code):
    return Promotion.objects.filter(code=code).values(
        "reserved_count", "used_count", "discount_reserved", "discount_used").get()


def coupon_counters(code):
    return Coupon.objects.filter(code=code).values_list("reserved_count", "used_count").get()


def reserve(reference, *applied, account_id=None):
    return reservations.promotion_reserve(reference=reference, account_id=account_id, currency="CNY",
                                          applied=list(applied))


def test_reserve_consume_release_move_the_counters_exactly(org):
    active(org, "p1", max_uses=5, max_discount=100_000)
    version = rules_version()

    rows = reserve("Q-1", ("p1", None, 1200))

    assert [(row.reference, row.status, row.discount) for row in rows] == [("Q-1", "reserved", 1200)]
    assert counters("p1") == {"reserved_count": 1, "used_count": 0, "discount_reserved": 1200, "discount_used": 0}
    assert promotion_quotas(["p1"])["p1"]["remaining_uses"] == 4
    assert promotion_quotas(["p1"])["p1"]["remaining_budget"] == 98_800

    assert reservations.promotion_consume(reference="Q-1") == 1
    assert counters("p1") == {"reserved_count": 0, "used_count": 1, "discount_reserved": 0, "discount_used": 1200}
    assert reservations.promotion_consume(reference="Q-1") == 0  # idempotent
    assert counters("p1") == {"reserved_count": 0, "used_count": 1, "discount_reserved": 0, "discount_used": 1200}

    reserve("Q-2", ("p1", None, 300))
    assert reservations.promotion_release(reference="Q-2") == 1
    assert reservations.promotion_release(reference="Q-2") == 0
    assert counters("p1") == {"reserved_count": 0, "used_count": 1, "discount_reserved": 0, "discount_used": 1200}
    assert PromotionReservation.objects.get(reference="Q-2").status == "released"
    assert rules_version() == version  # counters are read live: no recompile


def test_all_or_nothing_when_the_second_promotion_is_exhausted(org):
    active(org, "a-first", max_uses=10)
    active(org, "b-second", max_uses=1)
    reserve("Q-0", ("b-second", None, 100))

    with pytest.raises(reservations.QuotaExhausted) as caught:
        reserve("Q-1", ("a-first", None, 500), ("b-second", None, 100))

    assert caught.value.code == "quota_exhausted"
    assert caught.value.status == 409
    assert "b-second" in caught.value.detail
    assert counters("a-first") == {"reserved_count": 0, "used_count": 0, "discount_reserved": 0, "discount_used": 0}
    assert counters("b-second")["reserved_count"] == 1
    assert not PromotionReservation.objects.filter(reference="Q-1").exists()


def test_budget_is_a_quota_too(org):
    active(org, "budget", max_discount=1000)
    reserve("Q-1", ("budget", None, 800))

    with pytest.raises(reservations.BudgetExhausted) as caught:
        reserve("Q-2", ("budget", None, 201))

    assert caught.value.code == "budget_exhausted"
    assert isinstance(caught.value, reservations.QuotaExhausted)
    reserve("Q-3", ("budget", None, 200))
    assert counters("budget")["discount_reserved"] == 1000


def test_re_reserving_a_reference_replaces_its_reservations(org):
    active(org, "p1", max_uses=1)
    active(org, "p2")
    reserve("Q-1", ("p1", None, 100), ("p2", None, 50))

    rows = reserve("Q-1", ("p1", None, 70))  # p1 has one use: the reference's own reservation is given back first

    assert [(row.promotion.code, row.discount) for row in rows] == [("p1", 70)]
    assert counters("p1") == {"reserved_count": 1, "used_count": 0, "discount_reserved": 70, "discount_used": 0}
    assert counters("p2") == {"reserved_count": 0, "used_count": 0, "discount_reserved": 0, "discount_used": 0}
    assert PromotionReservation.objects.filter(reference="Q-1").count() == 1


def test_a_consumed_reference_cannot_be_reserved_again(org):
    active(org, "p1")
    reserve("Q-1", ("p1", None, 100))
    reservations.promotion_consume(reference="Q-1")

    with pytest.raises(reservations.ReferenceConsumed):
        reserve("Q-1", ("p1", None, 100))
    assert counters("p1")["used_count"] == 1


def test_paused_promotions_cannot_be_reserved(org):
    created = active(org, "p1")
    services.promotion_pause(actor=org["marketing"], promotion_id=created.pk)
    with pytest.raises(reservations.PromotionNotActive):
        reserve("Q-1", ("p1", None, 100))


@pytest.mark.parametrize(("applied", "expected"), [
    ([("p1", None, -1)], [("applied.0.discount", "invalid")]),
    ([("p1", None, 1), ("p1", None, 2)], [("applied.1.promotion", "duplicate")]),
    ([("nope", None, 1)], [("applied", "not_found")]),
])
def test_bad_requests(org, applied, expected):
    active(org, "p1")
    with pytest.raises(ValidationFailed) as caught:
        reserve("Q-1", *applied)
    assert [(item.field, item.code) for item in caught.value.errors] == expected
    assert PromotionReservation.objects.count() == 0


def test_coupon_uses_and_per_customer_limit(org):
    from tests.conftest import make_account

    first = make_account(org["rep1"], "北京星河科技有限公司")
    second = make_account(org["rep1"], "上海云帆信息技术有限公司")
    owner = active(org, "welcome", "coupon", {"amount": 50})
    services.coupon_create(actor=org["marketing"], promotion_id=owner.pk, code="MULTI", max_uses=3,
                           per_customer_limit=1)

    reserve("Q-1", ("welcome", "multi", 5000), account_id=first.pk)  # case-insensitive code
    with pytest.raises(reservations.CouponCustomerLimit) as caught:
        reserve("Q-2", ("welcome", "MULTI", 5000), account_id=first.pk)
    assert caught.value.code == "coupon_customer_limit"
    assert "welcome" in caught.value.detail
    reserve("Q-3", ("welcome", "MULTI", 5000), account_id=second.pk)
    assert coupons_by_codes(["multi"], account_id=first.pk)["MULTI"]["customer_remaining"] == 0
    assert coupons_by_codes(["multi"], account_id=second.pk)["MULTI"]["remaining_uses"] == 1
    # Consumed uses still count for the customer; a released one is given back.
    reservations.promotion_consume(reference="Q-1")
    with pytest.raises(reservations.CouponCustomerLimit):
        reserve("Q-4", ("welcome", "MULTI", 5000), account_id=first.pk)
    reservations.promotion_release(reference="Q-3")
    reserve("Q-5", ("welcome", "MULTI", 5000), account_id=second.pk)
    assert coupon_counters("MULTI") == (1, 1)
    assert counters("welcome") == {"reserved_count": 1, "used_count": 1, "discount_reserved": 5000,
                                   "discount_used": 5000}


def test_single_use_coupon_is_used_up(org):
    owner = active(org, "welcome", "coupon", {"amount": 50})
    services.coupon_create(actor=org["marketing"], promotion_id=owner.pk, code="ONCE")
    reserve("Q-1", ("welcome", "ONCE", 5000))

    with pytest.raises(reservations.CouponUsedUp) as caught:
        reserve("Q-2", ("welcome", "ONCE", 5000))

    assert caught.value.code == "coupon_used_up"
    assert counters("welcome")["reserved_count"] == 1  # the promotion's use of Q-2 was rolled back
    with pytest.raises(reservations.CouponInvalid):
        reserve("Q-3", ("welcome", "OTHER", 5000))
