"""Promotion and coupon services: params per kind (the engine's parser), eligibility, status changes,
coupons (one, generated, deactivated), the margin policy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from l2c.apps.pricing import services
from l2c.apps.pricing.models import Coupon, MarginThreshold, Promotion
from l2c.kernel.errors import Conflict, PermissionDenied, PreconditionFailed, ValidationFailed
from tests.apps.pricing.conftest import field_codes

START = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 12, 12, tzinfo=dt.UTC)


def promotion(org, kind="percent_off", params=None, code="p1", actor="marketing", **data):
    return services.promotion_create(actor=org[actor], data={
        "code": code, "name": "促销", "kind": kind, "params": params if params is not None else {"percent": 10},
        **data})


@pytest.mark.parametrize(("kind", "params", "extra"), [
    ("percent_off", {"percent": "15"}, {}),
    ("amount_off", {"amount": 20}, {}),
    ("fixed_price", {"price": "99.90"}, {}),
    ("flash_price", {"price": 9.9}, {"valid_from": START, "valid_to": END}),
    ("group_price", {"percent": 5}, {"eligible_groups": ["level:key"]}),
    ("quantity_discount", {"min_quantity": 10, "percent": 5}, {}),
    ("buy_n_get_m", {"n": 2, "m": 1}, {}),
    ("nth_item", {"n": 2, "percent": 50}, {}),
    ("gift", {"min_quantity": 1, "gift_sku": "INST-1", "gift_quantity": 1, "repeat": True}, {}),
    ("free_accessory", {"accessory_sku": "INST-1", "quantity_per_unit": 1}, {}),
    ("bundle", {"items": [{"sku": "SRV-1", "quantity": 1}, {"sku": "INST-1", "quantity": 1}], "price": 1000}, {}),
    ("spend_save", {"threshold": 1000, "amount": 100, "repeat": True}, {}),
    ("spend_percent", {"threshold": 1000, "percent": 10}, {}),
    ("tiered_spend", {"tiers": [{"threshold": 1000, "amount": 100}, {"threshold": 3000, "amount": 400}]}, {}),
    ("coupon", {"amount": 50, "threshold": 500}, {}),
])
def test_valid_params_per_kind(org, catalogue, kind, params, extra):
    created = promotion(org, kind, params, **extra)

    assert (created.kind, created.status, created.params) == (kind, "draft", params)
    assert created.requires_coupon is (kind == "coupon")


@pytest.mark.parametrize(("kind", "params", "extra", "expected"), [
    ("percent_off", {}, {}, [("params.percent", "required")]),
    ("percent_off", {"percent": 150}, {}, [("params.percent", "percent_range")]),
    ("percent_off", {"percent": 10, "colour": "red"}, {}, [("params.colour", "unknown_field")]),
    ("amount_off", {"amount": "abc"}, {}, [("params.amount", "invalid_number")]),
    ("buy_n_get_m", {"n": 2, "m": 0.5}, {}, [("params.m", "integer")]),
    ("nth_item", {"n": 1, "percent": 50}, {}, [("params.n", "minimum")]),
    ("gift", {"min_quantity": 1, "gift_sku": "NOPE"}, {}, [("params.gift_sku", "not_found")]),
    ("bundle", {"items": [{"sku": "SRV-1", "quantity": 1}], "price": 10}, {}, [("params.items", "bundle_too_small")]),
    ("bundle", {"items": [{"sku": "SRV-1", "quantity": 1}, {"sku": "X-9", "quantity": 1}], "price": 10}, {},
     [("params.items.1.sku", "not_found")]),
    ("tiered_spend", {"tiers": [{"threshold": 3000, "amount": 400}, {"threshold": 1000, "amount": 100}]}, {},
     [("params.tiers.1.threshold", "not_ascending")]),
    ("spend_save", {"threshold": 100, "amount": 10, "repeat": "yes"}, {}, [("params.repeat", "invalid_boolean")]),
    ("group_price", {"price": 10, "percent": 5}, {"eligible_groups": ["level:key"]}, [("params.percent", "one_of")]),
    ("group_price", {"price": 10}, {}, [("eligible_groups", "groups_required")]),
    ("flash_price", {"price": 10}, {"valid_from": START}, [("valid_to", "validity_required")]),
    ("percent_off", {"percent": 10}, {"valid_from": END, "valid_to": START}, [("valid_to", "validity_order")]),
    ("percent_off", {"percent": 10}, {"eligible_skus": ["NOPE"]}, [("eligible_skus", "not_found")]),
    ("percent_off", {"percent": 10}, {"eligible_categories": ["nope"]}, [("eligible_categories", "not_found")]),
    ("percent_off", {"percent": 10}, {"eligible_regions": ["a/b/c"]}, [("eligible_regions", "invalid")]),
    ("percent_off", {"percent": 10}, {"max_uses": 0}, [("max_uses", "out_of_range")]),
    ("percent_off", {"percent": 10}, {"max_discount": -5}, [("max_discount", "out_of_range")]),
    ("magic", {}, {}, [("kind", "invalid_choice")]),
])
def test_invalid_params_and_eligibility(org, catalogue, kind, params, extra, expected):
    with pytest.raises(ValidationFailed) as caught:
        promotion(org, kind, params, **extra)

    assert field_codes(caught.value) == expected
    assert Promotion.objects.count() == 0


def test_update_revalidates_params_against_the_kind_and_checks_the_version(org, catalogue):
    created = promotion(org)

    with pytest.raises(ValidationFailed) as caught:
        services.promotion_update(actor=org["marketing"], promotion_id=created.pk, data={"kind": "buy_n_get_m"})
    assert field_codes(caught.value)[0] == ("params.percent", "unknown_field")

    updated = services.promotion_update(actor=org["marketing"], promotion_id=created.pk,
                                        data={"kind": "buy_n_get_m", "params": {"n": 3, "m": 1}, "priority": 7},
                                        expected_version=1)
    assert (updated.kind, updated.params, updated.priority, updated.version) == ("buy_n_get_m", {"n": 3, "m": 1}, 7, 2)
    with pytest.raises(PreconditionFailed):
        services.promotion_update(actor=org["marketing"], promotion_id=created.pk, data={"priority": 1},
                                  expected_version=1)


def test_status_transitions(org, catalogue):
    created = promotion(org)
    actor = org["marketing"]

    assert services.promotion_activate(actor=actor, promotion_id=created.pk).status == "active"
    assert services.promotion_pause(actor=actor, promotion_id=created.pk).status == "paused"
    assert services.promotion_activate(actor=actor, promotion_id=created.pk).status == "active"
    assert services.promotion_end(actor=actor, promotion_id=created.pk).status == "ended"
    with pytest.raises(services.InvalidTransition) as caught:
        services.promotion_activate(actor=actor, promotion_id=created.pk)
    assert caught.value.code == "invalid_status"
    assert Promotion.objects.get(pk=created.pk).status == "ended"


def test_every_promotion_write_leaves_an_audit_event_with_what_changed(org, catalogue):
    from l2c.apps.activity.models import AuditEvent

    actor = org["marketing"]
    created = promotion(org)
    services.promotion_update(actor=actor, promotion_id=created.pk, data={"priority": 7})
    services.promotion_activate(actor=actor, promotion_id=created.pk)
    services.promotion_pause(actor=actor, promotion_id=created.pk)
    fresh = promotion(org, code="fresh")
    services.promotion_delete(actor=actor, promotion_id=fresh.pk)

    events = list(AuditEvent.objects.filter(object_type="promotion").order_by("id").values_list(
        "object_id", "action", "actor_id", "changes"))
    assert [(object_id, action, actor_id) for object_id, action, actor_id, _changes in events] == [
        (created.pk, "create", actor.pk), (created.pk, "update", actor.pk), (created.pk, "status", actor.pk),
        (created.pk, "status", actor.pk), (fresh.pk, "create", actor.pk), (fresh.pk, "delete", actor.pk)]
    assert events[1][3]["priority"] == [created.priority, 7]
    assert (events[2][3], events[3][3]) == ({"status": ["draft", "active"]}, {"status": ["active", "paused"]})
    assert events[5][3] == {"code": ["fresh", None]}


@pytest.mark.parametrize("username", ["rep1", "finance", "presales"])
def test_readers_cannot_create_promotions(org, username):
    with pytest.raises(PermissionDenied):
        promotion(org, actor=username)
    assert Promotion.objects.count() == 0


def test_delete_refused_once_used(org, catalogue):
    from l2c.apps.pricing.reservations import promotion_reserve

    used = promotion(org, code="used")
    services.promotion_activate(actor=org["marketing"], promotion_id=used.pk)
    promotion_reserve(reference="Q-1", account_id=None, currency="CNY", applied=[("used", None, 100)])
    fresh = promotion(org, code="fresh")

    with pytest.raises(Conflict):
        services.promotion_delete(actor=org["marketing"], promotion_id=used.pk)
    services.promotion_delete(actor=org["marketing"], promotion_id=fresh.pk)

    assert list(Promotion.objects.values_list("code", flat=True)) == ["used"]


# --- coupons --------------------------------------------------------------------------------------------
def test_coupon_create_upper_cases_and_refuses_duplicates(org, catalogue):
    owner = promotion(org, "coupon", {"amount": 50})

    coupon = services.coupon_create(actor=org["marketing"], promotion_id=owner.pk, code="welcome-50",
                                    max_uses=None, per_customer_limit=1)

    assert (coupon.code, coupon.max_uses, coupon.per_customer_limit) == ("WELCOME-50", None, 1)
    with pytest.raises(ValidationFailed) as caught:
        services.coupon_create(actor=org["marketing"], promotion_id=owner.pk, code="Welcome-50")
    assert field_codes(caught.value) == [("code", "duplicate")]
    with pytest.raises(ValidationFailed) as caught:
        services.coupon_create(actor=org["marketing"], promotion_id=owner.pk, code="a b")
    assert field_codes(caught.value) == [("code", "invalid")]


def test_coupons_generate_unique_random_codes(org, catalogue):
    owner = promotion(org, "coupon", {"percent": 10})
    services.coupon_create(actor=org["marketing"], promotion_id=owner.pk, code="XMAS-AAAAAAAA")

    coupons = services.coupons_generate(actor=org["marketing"], promotion_id=owner.pk, count=500, prefix="xmas-",
                                        max_uses=1, per_customer_limit=None, length=8)

    codes = [coupon.code for coupon in coupons]
    assert len(codes) == 500
    assert len(set(codes)) == 500
    assert all(code.startswith("XMAS-") and len(code) == 13 for code in codes)
    assert all(set(code[5:]) <= set(services.COUPON_ALPHABET) for code in codes)
    assert Coupon.objects.filter(promotion=owner).count() == 501


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"count": 0}, [("count", "out_of_range")]),
    ({"count": 10_001}, [("count", "out_of_range")]),
    ({"count": 5, "prefix": "a b"}, [("prefix", "invalid")]),
    ({"count": 5, "max_uses": 0}, [("max_uses", "out_of_range")]),
])
def test_coupons_generate_refusals(org, catalogue, kwargs, expected):
    owner = promotion(org, "coupon", {"percent": 10})
    with pytest.raises(ValidationFailed) as caught:
        services.coupons_generate(actor=org["marketing"], promotion_id=owner.pk, **kwargs)
    assert field_codes(caught.value) == expected
    assert Coupon.objects.count() == 0


def test_coupon_deactivate(org, catalogue):
    owner = promotion(org, "coupon", {"percent": 10})
    coupon = services.coupon_create(actor=org["marketing"], promotion_id=owner.pk, code="ONE-TIME")
    with pytest.raises(PermissionDenied):
        services.coupon_deactivate(actor=org["rep1"], coupon_id=coupon.pk)
    assert services.coupon_deactivate(actor=org["marketing"], coupon_id=coupon.pk).is_active is False


# --- margin policy --------------------------------------------------------------------------------------
def test_margin_policy_is_created_on_first_read_and_saved_by_admins(org):
    from l2c.apps.pricing.selectors import margin_policy_row

    assert margin_policy_row() == {"below_cost": "approval", "below_cost_level": 2, "below_floor": "approval",
                                   "below_floor_level": 1, "version": 1, "thresholds": []}

    services.margin_policy_save(actor=org["admin"], data={
        "below_cost": "block", "below_cost_level": 3,
        "thresholds": [{"name": "低毛利", "min_margin_percent": "15", "level": 1},
                       {"name": "极低毛利", "min_margin_percent": "5", "level": 2}]})

    row = margin_policy_row()
    assert (row["below_cost"], row["below_cost_level"], row["version"]) == ("block", 3, 2)
    assert row["thresholds"] == [{"name": "低毛利", "min_margin_percent": Decimal("15.00"), "level": 1},
                                 {"name": "极低毛利", "min_margin_percent": Decimal("5.00"), "level": 2}]


@pytest.mark.parametrize(("data", "expected"), [
    ({"below_cost": "ignore"}, [("below_cost", "invalid_choice")]),
    ({"below_floor_level": 0}, [("below_floor_level", "out_of_range")]),
    ({"thresholds": [{"min_margin_percent": 10, "level": 10}]}, [("thresholds.0.level", "out_of_range")]),
    ({"thresholds": [{"min_margin_percent": 10, "level": 1}, {"min_margin_percent": "10.00", "level": 2}]},
     [("thresholds.1.min_margin_percent", "duplicate")]),
    ({"thresholds": [{"level": 1}]}, [("thresholds.0.min_margin_percent", "required")]),
])
def test_margin_policy_refusals(org, data, expected):
    with pytest.raises(ValidationFailed) as caught:
        services.margin_policy_save(actor=org["admin"], data=data)
    assert field_codes(caught.value) == expected
    assert MarginThreshold.objects.count() == 0


def test_margin_policy_is_admin_only(org):
    with pytest.raises(PermissionDenied):
        services.margin_policy_save(actor=org["manager"], data={"below_cost": "block"})
