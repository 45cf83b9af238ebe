"""Demo price books, promotions, coupons and margin policy (ADR 0006), built over the demo catalogue.

Data-driven: prices derive from each SKU's cost and product type, so the demo follows the catalogue
whatever its codes. Every kind the engine knows appears at least once: a base book (fixed prices,
floors, volume tiers on accessories, graduated tiers on usage, block pricing, cost-plus on projects,
percent-of-total maintenance), attribute adjustments, a contracted book for key accounts and a
channel book for one sales department; one promotion of each of the fifteen kinds; coupons; and a
margin policy with two thresholds. Written with bulk inserts in the demo's transaction, audited in
bulk, and the rules version moved once.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from l2c.apps.activity.audit import audit_bulk
from l2c.apps.activity.models import AuditEvent
from l2c.apps.catalog.models import Attribute, Sku
from l2c.apps.catalog.services import rules_version_bump
from l2c.apps.identity.models import Department, User

from .models import (
    AttributeAdjustment,
    BookStatus,
    Coupon,
    MarginPolicy,
    MarginThreshold,
    PriceBook,
    PriceBookEntry,
    PriceMethod,
    PriceTier,
    Promotion,
    PromotionStatus,
    TierMode,
)

MARKUP = {"goods": Decimal("1.45"), "service": Decimal("1.9"), "subscription": Decimal("2.2"),
          "usage": Decimal("2.5"), "project": Decimal("1.35")}


def _price(cost: Decimal, factor: Decimal, step: Decimal = Decimal(10)) -> Decimal:
    """A list price: cost × factor, tax-inclusive (×1.13), rounded up to a tidy step."""
    raw = cost * factor * Decimal("1.13")
    if raw < step:
        return raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return ((raw / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step).quantize(Decimal("0.01"))


ADJUSTED_ATTRIBUTES = frozenset({"colour"})


def _skus() -> list[dict[str, Any]]:
    return list(Sku.objects.filter(status="active", product__status="active").order_by("code").values(
        "pk", "code", "cost_price", "attribute_values", "product__code", "product__type", "product__name",
        "product__category__code", "product__category__parent__code"))


def _pick(skus: list[dict[str, Any]], kind: str, skip: set[str] | None = None) -> dict[str, Any] | None:
    """The first SKU of a product type (by code), other than those in `skip`."""
    return next((sku for sku in skus if sku["product__type"] == kind and sku["code"] not in (skip or set())), None)


def _base_book(skus: list[dict[str, Any]], valid_from: dt.date) -> PriceBook:
    book = PriceBook.objects.create(code="base-cny", name="标准价目表（人民币）", currency="CNY", is_base=True,
                                    priority=0, valid_from=valid_from, status=BookStatus.ACTIVE,
                                    description="全部在售 SKU 的标准含税价。")
    entries: list[PriceBookEntry] = []
    tiers: list[tuple[int, list[tuple[str, str, str]]]] = []
    maintenance_done = False
    # Variants that differ only in an adjusted attribute (colour) share the first variant's price: the
    # attribute adjustment makes the difference, so a variant is never charged for its colour twice.
    shared: dict[str, Decimal] = {}
    for sku in skus:
        values = sku["attribute_values"] or {}
        if values and set(values) <= ADJUSTED_ATTRIBUTES:
            shared.setdefault(sku["product__code"], _price(Decimal(sku["cost_price"]), MARKUP[sku["product__type"]]))
    for sku in skus:
        kind, cost = sku["product__type"], Decimal(sku["cost_price"])
        price = shared.get(sku["product__code"]) or _price(cost, MARKUP[kind])
        entry = PriceBookEntry(book=book, sku_id=sku["pk"], unit_price=price)
        if kind == "goods":
            entry.floor_price = _price(cost, Decimal("1.08"), Decimal(1))
            if (sku["product__category__code"] or "").startswith(("acc", "mem", "part")) or "配件" in sku[
                    "product__name"]:
                entry.tier_mode = TierMode.VOLUME  # accessories: all units at the tier reached
                tiers.append((len(entries), [("1", str(price), "0"), ("10", str(price * Decimal("0.95")), "0"),
                                             ("50", str(price * Decimal("0.9")), "0")]))
        elif kind == "usage":
            entry.tier_mode = TierMode.GRADUATED  # metered: each band at its own price, a set-up fee
            tiers.append((len(entries), [("0", str(price), "200"), ("1000", str(price * Decimal("0.8")), "0"),
                                         ("10000", str(price * Decimal("0.6")), "0")]))
        elif kind == "project":
            entry.method, entry.markup_percent = PriceMethod.COST_PLUS, Decimal(35)
        elif kind == "subscription":
            entry.method, entry.block_size = PriceMethod.BLOCK, Decimal(10)  # sold per pack of 10 seats/years
            entry.unit_price = price * 9
        elif kind == "service" and not maintenance_done and ("维保" in sku["product__name"] or "保修" in sku[
                "product__name"]):
            entry.method, entry.percent, entry.percent_of = PriceMethod.PERCENT_OF_TOTAL, Decimal(12), ["type:goods"]
            entry.unit_price = Decimal(0)
            maintenance_done = True
        entries.append(entry)
    PriceBookEntry.objects.bulk_create(entries)
    PriceTier.objects.bulk_create([
        PriceTier(entry=entries[index], min_quantity=Decimal(minimum),
                  unit_price=Decimal(price).quantize(Decimal("0.01")), flat_fee=Decimal(fee))
        for index, rows in tiers for minimum, price, fee in rows])
    # Attribute adjustments: the second and later colours cost a little more (the other axes — model,
    # capacity, voltage — are separate SKUs with their own prices).
    adjustments = []
    for attribute in Attribute.objects.filter(code__in=ADJUSTED_ATTRIBUTES).prefetch_related("values").order_by("code"):
        for position, value in enumerate(attribute.values.all()):
            if position == 0:
                continue
            adjustments.append(AttributeAdjustment(book=book, attribute=attribute.code, value=value.code,
                                                   percent=Decimal(3 * position), position=len(adjustments)))
    AttributeAdjustment.objects.bulk_create(adjustments)
    return book


def _derived_book(base: PriceBook, *, code: str, name: str, factor: Decimal, priority: int,
                  skus: list[dict[str, Any]], valid_from: dt.date, valid_to: dt.date | None = None,
                  **scope: Any) -> PriceBook:
    book = PriceBook.objects.create(code=code, name=name, currency="CNY", priority=priority, valid_from=valid_from,
                                    valid_to=valid_to, status=BookStatus.ACTIVE, **scope)
    prices = dict(PriceBookEntry.objects.filter(book=base, method=PriceMethod.FIXED, tier_mode=TierMode.NONE)
                  .values_list("sku_id", "unit_price"))
    PriceBookEntry.objects.bulk_create([
        PriceBookEntry(book=book, sku_id=sku["pk"], unit_price=(prices[sku["pk"]] * factor).quantize(Decimal("0.01")))
        for sku in skus if sku["pk"] in prices and sku["product__type"] == "goods"])
    return book


def _promotions(skus: list[dict[str, Any]], *, start: dt.datetime, now: dt.datetime, actor: User) -> list[Promotion]:
    goods = [sku for sku in skus if sku["product__type"] == "goods"]
    if len(goods) < 6:
        return []
    by_cost = sorted(goods, key=lambda sku: (Decimal(sku["cost_price"]), sku["code"]))
    cheap, cheaper = by_cost[0], by_cost[1]  # accessories: the gift and the buy-3-get-1
    big = by_cost[-4:]  # the big-ticket items, cheapest first
    first, second, third, fourth = (sku["code"] for sku in big)
    top_products = sorted({sku["product__code"] for sku in by_cost[-6:]})
    services = [sku for sku in skus if sku["product__type"] == "service"]
    install = next((sku for sku in services if "安装" in sku["product__name"]), services[0] if services else cheap)
    end = start + dt.timedelta(days=120)
    bundle_cost = Decimal(big[0]["cost_price"]) + Decimal(big[3]["cost_price"])
    specs: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
        ("percent_off", "promo-percent", "新品九折", {"percent": "10"}, {"eligible_skus": [first]}),
        ("amount_off", "promo-amount", "单品立减 200 元", {"amount": "200"}, {"eligible_skus": [second]}),
        ("fixed_price", "promo-fixed", "年终特价",
         {"price": str(_price(Decimal(big[2]["cost_price"]), Decimal("1.3")))}, {"eligible_skus": [third]}),
        ("flash_price", "promo-flash", "限时秒杀",
         {"price": str(_price(Decimal(big[3]["cost_price"]), Decimal("1.2")))},
         {"eligible_skus": [fourth], "valid_from": now - dt.timedelta(days=2), "valid_to": now + dt.timedelta(days=5)}),
        ("group_price", "promo-member", "重点客户会员价", {"percent": "6"},
         {"eligible_groups": ["level:key"], "eligible_products": top_products, "stacking_group": "member"}),
        ("quantity_discount", "promo-qty", "批量采购满 20 台 95 折", {"min_quantity": "20", "percent": "5"},
         {"eligible_products": top_products}),
        ("buy_n_get_m", "promo-b3g1", "配件买三送一", {"n": 3, "m": 1}, {"eligible_skus": [cheaper["code"]]}),
        ("nth_item", "promo-second-half", "第二件半价", {"n": 2, "percent": "50"}, {"eligible_skus": [second]}),
        ("gift", "promo-gift", "买两台送配件", {"min_quantity": "2", "gift_sku": cheap["code"],
                                             "gift_quantity": "1", "repeat": True}, {"eligible_skus": [first]}),
        ("free_accessory", "promo-free-install", "购机免费安装",
         {"accessory_sku": install["code"], "quantity_per_unit": "1"}, {"eligible_skus": [third]}),
        ("bundle", "promo-bundle", "组合优惠",
         {"items": [{"sku": first, "quantity": "1"}, {"sku": fourth, "quantity": "1"}],
          "price": str(_price(bundle_cost, Decimal("1.15")))}, {}),
        ("spend_save", "promo-manjian", "每满 10000 减 500", {"threshold": "10000", "amount": "500", "repeat": True},
         {"stacking_group": "order"}),
        ("spend_percent", "promo-manzhe", "满 50000 享 97 折", {"threshold": "50000", "percent": "3"},
         {"stacking_group": "order-percent"}),
        ("tiered_spend", "promo-tiered", "阶梯满减", {"tiers": [{"threshold": "1000", "amount": "100"},
                                                            {"threshold": "3000", "amount": "400"}]},
         {"stacking_group": "order", "priority": 5}),
        ("coupon", "promo-coupon", "新客优惠券 300 元", {"amount": "300", "threshold": "2000"},
         {"requires_coupon": True}),
    ]
    promotions = []
    for kind, code, name, params, extra in specs:
        fields: dict[str, Any] = {"valid_from": start, "valid_to": end, "priority": 0, **extra}
        promotions.append(Promotion(code=code, name=name, kind=kind, params=params, status=PromotionStatus.ACTIVE,
                                    created_by=actor, **fields))
    promotions[11].max_uses, promotions[11].max_discount = 200, 5_000_000  # 满减: 200 uses, ¥50,000 budget
    Promotion.objects.bulk_create(promotions)
    coupon_promotion = promotions[-1]
    Coupon.objects.bulk_create([Coupon(promotion=coupon_promotion, code="WELCOME2026", max_uses=None,
                                       per_customer_limit=1)]
                               + [Coupon(promotion=coupon_promotion, code=f"VIP-{number:04d}", max_uses=1)
                                  for number in range(1, 6)])
    return promotions


def pricing_demo(*, users: dict[str, User], departments: dict[str, Department], anchor: dt.datetime) -> dict[str, int]:
    """Books, promotions, coupons and the margin policy over the demo catalogue; counts by kind."""
    skus = _skus()
    if not skus or PriceBook.objects.exists():
        return {"price books": 0, "promotions": 0}
    year_start = anchor.date().replace(month=1, day=1)
    base = _base_book(skus, year_start)
    books = [base,
             _derived_book(base, code="contract-key", name="重点客户协议价", factor=Decimal("0.92"), priority=20,
                           skus=skus, valid_from=year_start, scope_groups=["level:key"]),
             _derived_book(base, code="channel-east", name="华东渠道价", factor=Decimal("0.96"), priority=10,
                           skus=skus, valid_from=year_start, valid_to=year_start.replace(month=12, day=31),
                           scope_departments=[departments["east"].pk])]
    promotions = _promotions(skus, start=anchor - dt.timedelta(days=30), now=anchor, actor=users["admin"])
    policy, _created = MarginPolicy.objects.get_or_create(pk=1)
    MarginThreshold.objects.bulk_create([
        MarginThreshold(policy=policy, name="毛利率低于 15%", min_margin_percent=Decimal(15), level=1),
        MarginThreshold(policy=policy, name="毛利率低于 8%", min_margin_percent=Decimal(8), level=2),
    ])
    audit_bulk(events=[{"object_type": "price_book", "object_id": book.pk, "action": AuditEvent.Kind.CREATE,
                        "object_repr": book.name} for book in books]
               + [{"object_type": "promotion", "object_id": promotion.pk, "action": AuditEvent.Kind.CREATE,
                   "object_repr": promotion.name} for promotion in promotions],
               actor_id=users["admin"].pk)
    rules_version_bump()
    return {"price books": len(books), "promotions": len(promotions)}
