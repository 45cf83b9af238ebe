"""Rows → engine facts (pricing.compiler) and the per-version cache; the preview's constant SQL: the
same number of queries for 1, 10 and 200 lines, warm and on a cold cache (the compile reads a fixed
number of queries too)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.engines.pricing import types as engine_types
from tests.apps.pricing.test_preview_api import build_shop, bump, promotion


@pytest.fixture
def shop(org: Any) -> Any:
    return build_shop(org)


def test_facts_carry_codes_category_paths_scopes_and_sorted_tiers(shop):
    from l2c.apps.pricing import compiler
    from l2c.apps.pricing.models import PriceBook, PriceBookEntry, PriceTier

    tiered = PriceBook.objects.create(code="tiered", name="阶梯价", currency="CNY", status="active", priority=3,
                                      scope_groups=["level:key", "tag:重点"], scope_regions=["广东"],
                                      scope_departments=[7, "8"], valid_from=dt.date(2026, 1, 1))
    entry = PriceBookEntry.objects.create(book=tiered, sku=shop.skus["SRV-A"], unit_price=Decimal("100"),
                                          tier_mode="volume", floor_price=Decimal("80"))
    PriceTier.objects.create(entry=entry, min_quantity=Decimal("10"), unit_price=Decimal("90"))
    PriceTier.objects.create(entry=entry, min_quantity=Decimal("1"), unit_price=Decimal("100"),
                             flat_fee=Decimal("5"))
    bump()

    rules = compiler.compiled_rules()

    facts = {sku.code: sku for sku in rules.facts.skus}
    assert facts["SRV-A"] == engine_types.SkuFacts(
        code="SRV-A", product_code="srv", category_path=("hw", "servers"), product_type="goods",
        tax_rate=Decimal("0.13"), unit_cost=Decimal("60"), name="服务器 黑", attributes={"colour": "black"})
    assert facts["SVC-1"].category_path == ("svc",) and facts["SVC-1"].tax_rate == Decimal("0.06")
    book = next(item for item in rules.facts.books if item.code == "tiered")
    assert book.scope == engine_types.Scope(groups=frozenset({"level:key", "tag:重点"}),
                                            regions=frozenset({"广东"}), departments=frozenset({7, 8}))
    assert (book.priority, book.valid_from, book.is_base) == (3, dt.date(2026, 1, 1), False)
    assert book.entries["SRV-A"].tiers == (engine_types.Tier(Decimal("1"), Decimal("100"), Decimal("5")),
                                          engine_types.Tier(Decimal("10"), Decimal("90"), Decimal("0")))
    assert (book.entries["SRV-A"].tier_mode, book.entries["SRV-A"].floor_price) == ("volume", Decimal("80"))
    assert [item.code for item in rules.facts.books] == ["base-cny", "contract", "dealer", "tiered"]
    assert rules.facts.product_attributes["srv"] == (
        compiler.AttributeChoice("colour", "颜色", (("black", "黑色"), ("red", "红色"))),)


def test_only_active_books_and_promotions_and_sellable_skus_are_compiled(shop):
    from l2c.apps.catalog.models import Sku
    from l2c.apps.pricing import compiler
    from l2c.apps.pricing.models import PriceBook

    PriceBook.objects.create(code="draft-book", name="草稿", currency="CNY")
    PriceBook.objects.create(code="old-book", name="旧", currency="CNY", status="archived")
    promotion("on", "percent_off", {"percent": "5"}, eligible_categories=["hw"], eligible_accounts=[shop.account.pk],
              eligible_regions=["广东"], stacking_group="g1", exclusive=True, priority=4, requires_coupon=True)
    promotion("off", "percent_off", {"percent": "5"}, status="paused")
    promotion("soon", "percent_off", {"percent": "5"}, status="draft")
    Sku.objects.filter(code="SRV-B").update(status="retired")
    bump()

    rules = compiler.compiled_rules()

    assert sorted(rules.catalog.book_by_code) == ["base-cny", "contract", "dealer"]
    assert [item.code for item in rules.facts.promotions] == ["on"]
    assert rules.facts.promotions[0] == engine_types.Promotion(
        code="on", name="on", kind="percent_off", params={"percent": "5"}, priority=4, stacking_group="g1",
        exclusive=True, requires_coupon=True,
        customers=engine_types.Scope(accounts=frozenset({shop.account.pk}), regions=frozenset({"广东"})),
        categories=frozenset({"hw"}))
    assert sorted(rules.catalog.skus) == ["SRV-A", "SVC-1"]
    assert dict(rules.facts.unsellable) == {"SRV-B": "retired"}


def test_a_rule_the_engine_refuses_is_skipped_and_named(shop, api_client_for):
    from l2c.apps.pricing import compiler
    from l2c.apps.pricing.models import Promotion

    Promotion.objects.create(code="broken", name="坏", kind="percent_off", params={"percent": "150"},
                             status="active")
    promotion("fine", "percent_off", {"percent": "10"})

    rules = compiler.compiled_rules()

    assert [item.code for item in rules.facts.promotions] == ["fine"]
    assert rules.facts.skipped == (compiler.SkippedRule("promotion", "broken", "percent", "percent_range"),)
    body = api_client_for("rep1").post("/api/v1/pricing/preview", content_type="application/json", data={
        "currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1}]}).json()
    assert body["skipped_rules"] == [{"kind": "promotion", "code": "broken", "field": "percent",
                                      "error": "percent_range"}]


def test_the_cache_is_kept_per_version_and_rebuilt_when_it_moves(shop):
    from l2c.apps.pricing import compiler
    from l2c.apps.pricing.models import PriceBookEntry

    first = compiler.compiled_rules()
    assert compiler.compiled_rules() is first
    assert compiler.compiled_catalog() is first.catalog

    PriceBookEntry.objects.filter(book__code="base-cny", sku__code="SRV-A").update(unit_price=Decimal("120"))
    assert compiler.compiled_rules() is first  # not bumped: the change is not seen (services always bump)
    bump()

    second = compiler.compiled_rules()
    assert second is not first and second.version == first.version + 1
    assert second.facts.books[0].entries["SRV-A"].unit_price == Decimal("120")


def test_load_reads_a_fixed_number_of_queries(shop):
    from l2c.apps.pricing import compiler

    with CaptureQueriesContext(connection) as small:
        compiler.load_rules(1)
    build_more(shop, 40)
    with CaptureQueriesContext(connection) as large:
        compiler.load_rules(2)

    assert len(small) == len(large) == compiler.LOAD_QUERIES


def build_more(shop: Any, count: int) -> None:
    """`count` more SKUs with base and dealer entries, tiers and adjustments, and promotions."""
    from l2c.apps.catalog.models import Sku
    from l2c.apps.pricing.models import AttributeAdjustment, PriceBookEntry, PriceTier

    product = shop.skus["SRV-A"].product
    skus = Sku.objects.bulk_create([Sku(product=product, code=f"X-{index:03d}", name=f"扩展 {index}",
                                        cost_price=Decimal("10"), attribute_values={"colour": "red"},
                                        attribute_key=f"n={index}") for index in range(count)])
    entries = PriceBookEntry.objects.bulk_create(
        [PriceBookEntry(book=shop.books["base-cny"], sku=sku, unit_price=Decimal("50"), tier_mode="graduated")
         for sku in skus])
    PriceTier.objects.bulk_create([PriceTier(entry=entry, min_quantity=Decimal(start), unit_price=Decimal(price))
                                   for entry in entries for start, price in ((1, "50"), (10, "45"))])
    AttributeAdjustment.objects.create(book=shop.books["base-cny"], attribute="colour", value="red",
                                       percent=Decimal("10"))
    for index in range(5):
        promotion(f"p{index}", "percent_off", {"percent": str(index + 1)}, eligible_skus=[f"X-{index:03d}"],
                  max_uses=100)
    bump()


def preview_queries(user_id: int, body: dict[str, Any]) -> int:
    """Queries of one preview through the service the API calls, for a fresh user object (as a request has)."""
    from l2c.apps.identity.models import User
    from l2c.apps.pricing import context

    user = User.objects.select_related("department").get(pk=user_id)
    with CaptureQueriesContext(connection) as captured:
        context.preview_price(user=user, data=body)
    return len(captured)


@pytest.mark.parametrize("cold", [False, True])
def test_a_preview_costs_the_same_queries_for_1_10_and_200_lines(shop, org, cold):
    from l2c.apps.pricing import compiler
    from l2c.apps.pricing.models import Coupon

    build_more(shop, 200)
    coupon_rule = promotion("coupon-10", "coupon", {"percent": "10"})
    Coupon.objects.create(promotion=coupon_rule, code="TEN", per_customer_limit=3)
    bump()
    counts = []
    for size in (1, 10, 200):
        body = {"account_id": shop.account.pk, "currency": "CNY", "coupon_codes": ["ten"],
                "lines": [{"sku": f"X-{index % 200:03d}", "quantity": index % 7 + 1, "attributes": {"colour": "red"}}
                          for index in range(size)]}
        if cold:
            compiler.cache_clear()
        else:
            compiler.compiled_rules()
        counts.append(preview_queries(org["rep1"].pk, body))

    # version 1 + grants 1 + account and its tags 2 + seller's department 1 + coupons 1 + quotas 1 = 7;
    # a cold cache adds the fixed load.
    assert counts == [7 + (compiler.LOAD_QUERIES if cold else 0)] * 3
