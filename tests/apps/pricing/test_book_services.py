"""Price book services: create/update/activate/archive/copy, base-book uniqueness, scope checks, entries
per method, tiers, attribute adjustments. Every refusal names its field and code and changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from l2c.apps.catalog.selectors import rules_version
from l2c.apps.pricing import services
from l2c.apps.pricing.models import AttributeAdjustment, PriceBook, PriceBookEntry, PriceTier
from l2c.kernel.errors import PermissionDenied, PreconditionFailed, ValidationFailed
from tests.apps.pricing.conftest import field_codes


def book(org, code="list-cny", **data):
    return services.price_book_create(actor=org["manager"], data={"code": code, "name": "标准价目表", **data})


def test_create_book_audits_and_bumps_the_rules_version(org):
    from l2c.apps.activity.models import AuditEvent

    before = rules_version()

    created = book(org, is_base=True, priority=5, scope_regions=["北京", "广东/深圳"])

    assert (created.code, created.status, created.currency, created.priority) == ("list-cny", "draft", "CNY", 5)
    assert created.scope_regions == ["北京", "广东/深圳"]
    assert rules_version() == (before or 1) + 1  # no row reads 0; the first bump writes 2
    event = AuditEvent.objects.get(object_type="price_book", object_id=created.pk)
    assert (event.action, event.actor_id) == ("create", org["manager"].pk)


@pytest.mark.parametrize(("data", "expected"), [
    ({"code": "bad code!"}, [("code", "invalid")]),
    ({"name": ""}, [("name", "required")]),
    ({"currency": "XXX"}, [("currency", "invalid")]),
    ({"valid_from": "2027-02-01", "valid_to": "2027-01-01"}, [("valid_to", "validity_order")]),
    ({"valid_from": "2027-13-01"}, [("valid_from", "invalid_date")]),
    ({"scope_groups": ["level:vip"]}, [("scope_groups", "invalid")]),
    ({"scope_groups": ["tag:"]}, [("scope_groups", "invalid")]),
    ({"scope_regions": ["广东/深圳/南山"]}, [("scope_regions", "invalid")]),
    ({"scope_accounts": [999999]}, [("scope_accounts", "not_found")]),
    ({"scope_departments": [999999]}, [("scope_departments", "not_found")]),
    ({"scope_accounts": ["x"]}, [("scope_accounts", "invalid")]),
])
def test_create_book_refusals(org, data, expected):
    with pytest.raises(ValidationFailed) as caught:
        services.price_book_create(actor=org["manager"], data={"code": "b1", "name": "价目表", **data})

    assert field_codes(caught.value) == expected
    assert PriceBook.objects.count() == 0


def test_scope_accepts_existing_accounts_departments_groups_and_regions(org):
    from tests.conftest import make_account

    account = make_account(org["rep1"])

    created = book(org, scope_accounts=[account.pk], scope_departments=[org.north.pk],
                   scope_groups=["tag:战略", "level:key"], scope_regions=["北京"])

    assert created.scope_accounts == [account.pk]
    assert created.scope_departments == [org.north.pk]
    assert created.scope_groups == ["level:key", "tag:战略"]


def test_duplicate_code_is_refused(org):
    book(org)
    with pytest.raises(ValidationFailed) as caught:
        book(org)
    assert field_codes(caught.value) == [("code", "duplicate")]


@pytest.mark.parametrize("username", ["rep1", "marketing", "finance", "presales"])
def test_only_book_editors_create_books(org, username):
    with pytest.raises(PermissionDenied):
        services.price_book_create(actor=org[username], data={"code": "b1", "name": "价目表"})
    assert PriceBook.objects.count() == 0


def test_one_active_base_book_per_currency(org):
    first = book(org, "base-2026", is_base=True)
    services.price_book_activate(actor=org["manager"], book_id=first.pk)
    second = book(org, "base-2027", is_base=True)

    with pytest.raises(services.BaseBookConflict) as caught:
        services.price_book_activate(actor=org["manager"], book_id=second.pk)

    assert caught.value.code == "base_book_exists"
    assert caught.value.status == 409
    assert "base-2026" in caught.value.detail and "标准价目表" in caught.value.detail
    assert PriceBook.objects.get(pk=second.pk).status == "draft"
    # Another currency, or a non-base book, is fine; archiving the first frees the slot.
    usd = book(org, "base-usd", is_base=True, currency="USD")
    assert services.price_book_activate(actor=org["manager"], book_id=usd.pk).status == "active"
    services.price_book_archive(actor=org["manager"], book_id=first.pk)
    assert services.price_book_activate(actor=org["manager"], book_id=second.pk).status == "active"


def test_making_an_active_book_base_is_refused_while_another_is_base(org):
    base = book(org, "base", is_base=True, status="active")
    other = book(org, "other", status="active")

    with pytest.raises(services.BaseBookConflict):
        services.price_book_update(actor=org["manager"], book_id=other.pk, data={"is_base": True})

    assert PriceBook.objects.get(pk=other.pk).is_base is False
    assert PriceBook.objects.get(pk=base.pk).is_base is True


def test_update_is_compare_and_set_on_version(org):
    created = book(org)

    updated = services.price_book_update(actor=org["manager"], book_id=created.pk, data={"priority": 9},
                                         expected_version=1)
    assert (updated.priority, updated.version) == (9, 2)
    with pytest.raises(PreconditionFailed):
        services.price_book_update(actor=org["manager"], book_id=created.pk, data={"priority": 1},
                                   expected_version=1)
    assert PriceBook.objects.get(pk=created.pk).priority == 9


# --- entries --------------------------------------------------------------------------------------------
def upsert(org, target, sku="SRV-1", **data):
    return services.price_entry_upsert(actor=org["manager"], book_id=target.pk, sku_code=sku, data=data)


@pytest.mark.parametrize(("data", "expected"), [
    ({"method": "fixed"}, [("unit_price", "required")]),
    ({"method": "fixed", "unit_price": "-1"}, [("unit_price", "non_negative")]),
    ({"method": "fixed", "unit_price": "abc"}, [("unit_price", "invalid_number")]),
    ({"method": "fixed", "unit_price": "1.00001"}, [("unit_price", "too_many_decimals")]),
    ({"method": "fixed", "unit_price": "10", "floor_price": "-5"}, [("floor_price", "non_negative")]),
    ({"method": "block", "unit_price": "100"}, [("block_size", "required")]),
    ({"method": "block", "unit_price": "100", "block_size": "0"}, [("block_size", "positive")]),
    ({"method": "cost_plus"}, [("markup_percent", "required")]),
    ({"method": "cost_plus", "markup_percent": "-100"}, [("markup_percent", "minimum")]),
    ({"method": "percent_of_total", "percent_of": ["hardware"]}, [("percent", "required")]),
    ({"method": "percent_of_total", "percent": "15"}, [("percent_of", "required")]),
    ({"method": "percent_of_total", "percent": "15", "percent_of": ["nope"]}, [("percent_of", "not_found")]),
    ({"method": "percent_of_total", "percent": "15", "percent_of": ["type:robot"]}, [("percent_of", "invalid")]),
    ({"method": "percent_of_total", "percent": "0", "percent_of": ["hardware"]}, [("percent", "positive")]),
    ({"method": "magic", "unit_price": "1"}, [("method", "invalid_choice")]),
    ({"method": "block", "unit_price": "1", "block_size": "10", "tier_mode": "volume",
      "tiers": [{"min_quantity": 1, "unit_price": 1}]}, [("tier_mode", "tiers_need_fixed")]),
    ({"method": "fixed", "tier_mode": "volume"}, [("tiers", "required")]),
    ({"method": "fixed", "unit_price": "1", "tiers": [{"min_quantity": 1, "unit_price": 1}]},
     [("tier_mode", "tiers_without_mode")]),
])
def test_entry_refusals_per_method(org, catalogue, data, expected):
    target = book(org)

    with pytest.raises(ValidationFailed) as caught:
        upsert(org, target, **data)

    assert field_codes(caught.value) == expected
    assert PriceBookEntry.objects.count() == 0
    assert PriceBook.objects.get(pk=target.pk).version == 1


@pytest.mark.parametrize(("tiers", "expected"), [
    ([{"min_quantity": 10, "unit_price": 90}, {"min_quantity": 1, "unit_price": 100}],
     [("tiers.0.min_quantity", "first_tier_start"), ("tiers.1.min_quantity", "not_ascending")]),
    ([{"min_quantity": 1, "unit_price": 100}, {"min_quantity": 1, "unit_price": 90}],
     [("tiers.1.min_quantity", "duplicate")]),
    ([{"min_quantity": 1, "unit_price": -1}], [("tiers.0.unit_price", "non_negative")]),
    ([{"min_quantity": 1, "unit_price": 1, "flat_fee": -1}], [("tiers.0.flat_fee", "non_negative")]),
    ([{"unit_price": 1}], [("tiers.0.min_quantity", "required")]),
])
def test_tier_refusals(org, catalogue, tiers, expected):
    target = book(org)

    with pytest.raises(ValidationFailed) as caught:
        upsert(org, target, method="fixed", tier_mode="graduated", tiers=tiers)

    assert field_codes(caught.value) == expected
    assert PriceTier.objects.count() == 0


def test_entry_upsert_per_method_and_tiers_replace(org, catalogue):
    target = book(org)

    upsert(org, target, "SRV-1", method="fixed", unit_price="1000.50", floor_price="900", tier_mode="graduated",
           tiers=[{"min_quantity": 1, "unit_price": "1000"},
                  {"min_quantity": 11, "unit_price": "950", "flat_fee": "50"}])
    upsert(org, target, "SRV-2", method="block", unit_price="500", block_size="10")
    upsert(org, target, "INST-1", method="percent_of_total", percent="15", percent_of=["type:goods", "hardware"])

    entries = {entry.sku.code: entry for entry in PriceBookEntry.objects.select_related("sku")}
    assert entries["SRV-1"].unit_price == Decimal("1000.5")
    assert [(t.min_quantity, t.unit_price, t.flat_fee) for t in entries["SRV-1"].tiers.all()] == [
        (Decimal(1), Decimal(1000), Decimal(0)), (Decimal(11), Decimal(950), Decimal(50))]
    assert (entries["SRV-2"].block_size, entries["SRV-2"].markup_percent) == (Decimal(10), None)
    assert entries["INST-1"].percent_of == ["hardware", "type:goods"]
    assert PriceBook.objects.get(pk=target.pk).version == 4

    services.price_tiers_replace(actor=org["manager"], book_id=target.pk, sku_code="SRV-1", tier_mode="volume",
                                 tiers=[{"min_quantity": 0, "unit_price": "990"}])
    entry = PriceBookEntry.objects.get(book=target, sku__code="SRV-1")
    assert entry.tier_mode == "volume"
    assert [(t.min_quantity, t.unit_price) for t in entry.tiers.all()] == [(Decimal(0), Decimal(990))]
    # Upsert replaces: switching to cost-plus clears the other method's fields and the tiers.
    upsert(org, target, "SRV-1", method="cost_plus", markup_percent="25")
    entry = PriceBookEntry.objects.get(book=target, sku__code="SRV-1")
    assert (entry.method, entry.markup_percent, entry.tier_mode, entry.tiers.count()) == (
        "cost_plus", Decimal(25), "none", 0)


def test_entry_for_unknown_sku_is_refused(org, catalogue):
    target = book(org)
    with pytest.raises(ValidationFailed) as caught:
        upsert(org, target, "NOPE", method="fixed", unit_price="1")
    assert field_codes(caught.value) == [("sku", "not_found")]


def test_entry_delete(org, catalogue):
    target = book(org)
    upsert(org, target, method="fixed", unit_price="1")

    services.price_entry_delete(actor=org["manager"], book_id=target.pk, sku_code="SRV-1")

    assert PriceBookEntry.objects.count() == 0
    with pytest.raises(ValidationFailed) as caught:
        services.price_entry_delete(actor=org["manager"], book_id=target.pk, sku_code="SRV-1")
    assert field_codes(caught.value) == [("sku", "not_found")]


@pytest.mark.parametrize(("data", "expected"), [
    ({"attribute": "colour", "value": "red"}, [("amount", "one_of")]),
    ({"attribute": "colour", "value": "red", "amount": "10", "percent": "5"}, [("amount", "one_of")]),
    ({"attribute": "size", "value": "red", "amount": "10"}, [("attribute", "not_found")]),
    ({"attribute": "colour", "value": "green", "amount": "10"}, [("value", "not_found")]),
    ({"attribute": "colour", "value": "red", "percent": "10", "products": ["nope"]}, [("products", "not_found")]),
    ({"attribute": "", "value": "red", "percent": "10"}, [("attribute", "required")]),
])
def test_adjustment_refusals(org, catalogue, data, expected):
    target = book(org)
    with pytest.raises(ValidationFailed) as caught:
        services.attribute_adjustment_create(actor=org["manager"], book_id=target.pk, data=data)
    assert field_codes(caught.value) == expected
    assert AttributeAdjustment.objects.count() == 0


def test_adjustment_crud(org, catalogue):
    target = book(org)

    created = services.attribute_adjustment_create(actor=org["manager"], book_id=target.pk, data={
        "attribute": "colour", "value": "red", "percent": "10", "products": ["srv"]})
    updated = services.attribute_adjustment_update(actor=org["manager"], book_id=target.pk,
                                                   adjustment_id=created.pk, data={"percent": None, "amount": "-20"})

    assert (updated.amount, updated.percent, updated.products) == (Decimal(-20), None, ["srv"])
    services.attribute_adjustment_delete(actor=org["manager"], book_id=target.pk, adjustment_id=created.pk)
    assert AttributeAdjustment.objects.count() == 0
    assert PriceBook.objects.get(pk=target.pk).version == 4


def test_copy_book_with_entries_tiers_and_adjustments(org, catalogue):
    source = book(org, "list-2026", is_base=True, status="active", scope_regions=["北京"],
                  valid_from="2026-01-01", valid_to="2026-12-31")
    upsert(org, source, "SRV-1", method="fixed", tier_mode="volume",
           tiers=[{"min_quantity": 1, "unit_price": "100"}, {"min_quantity": 10, "unit_price": "90"}])
    upsert(org, source, "SRV-2", method="fixed", unit_price="120")
    services.attribute_adjustment_create(actor=org["manager"], book_id=source.pk,
                                         data={"attribute": "colour", "value": "red", "amount": "5"})

    copy = services.price_book_copy(actor=org["manager"], book_id=source.pk, code="list-2027", name="2027 价目表",
                                    valid_from="2027-01-01", valid_to="2027-12-31")

    assert (copy.code, copy.name, copy.status, copy.is_base) == ("list-2027", "2027 价目表", "draft", True)
    assert (copy.valid_from, copy.valid_to) == (dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    assert copy.scope_regions == ["北京"]
    assert sorted(copy.entries.values_list("sku__code", "unit_price")) == [("SRV-1", Decimal(0)),
                                                                          ("SRV-2", Decimal(120))]
    tiers = PriceTier.objects.filter(entry__book=copy).order_by("min_quantity")
    assert [(t.min_quantity, t.unit_price) for t in tiers] == [(Decimal(1), Decimal(100)), (Decimal(10), Decimal(90))]
    assert list(copy.adjustments.values_list("attribute", "value", "amount")) == [("colour", "red", Decimal(5))]
    # The source is untouched.
    assert PriceTier.objects.filter(entry__book=source).count() == 2


def test_delete_book(org, catalogue):
    target = book(org)
    upsert(org, target, method="fixed", unit_price="1")
    with pytest.raises(PermissionDenied):
        services.price_book_delete(actor=org["rep1"], book_id=target.pk)
    services.price_book_delete(actor=org["manager"], book_id=target.pk)
    assert (PriceBook.objects.count(), PriceBookEntry.objects.count()) == (0, 0)
