"""Price preview with loading: cold compile of the rules and a 1,000-line preview through the API's service.

A catalogue of ~2,000 SKUs (200 products × 10 variants on two attribute axes, a three-level category tree),
a base book of every SKU, a tiered book (volume and graduated tiers with flat fees, block and cost-plus
entries) open to everybody, a contracted book for one account, attribute adjustments (+% and +amount),
24 promotions of 13 kinds with stacking groups, quotas and a coupon, and a margin policy — all made with
bulk_create in a throwaway database (benchmarks/_common.py). Measured in-process:

* cold compile: `compiler.load_rules` (the fixed queries) + `compile_rules`, from an empty cache;
* a 1,000-line preview, warm: `context.preview_price` (version check, grants, account and tags, seller's
  department, coupon and quota counters, the engine) + `explain.answer` (the answer as the API returns
  it), and the same through the HTTP API (`POST /api/v1/pricing/preview`, Bearer token);
* the SQL queries of one preview (must not depend on the line count: 1, 10 and 1,000 lines).

Target (issue 6 / QUALITY.md): a 1,000-line quote priced ≤ 100 ms with loading (p50, warm cache).

    .venv/bin/python benchmarks/pricing_persistence.py [--n 1000] [--repeat 30]
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
from decimal import Decimal
from typing import Any

from _common import (
    SEED,
    AccountFaker,
    account_row,
    arguments,
    bench_database,
    emit,
    insert_accounts,
    log,
    machine,
    ms,
    organisation,
    percentile,
)

TARGET_MS = 100.0
PRODUCTS = 200
COLOURS = ("black", "white", "red", "blue", "green")
CAPACITIES = ("s", "l")


def build() -> dict[str, Any]:
    from django.db import transaction
    from django.utils import timezone

    from l2c.apps.catalog.models import Attribute, AttributeValue, Category, Product, ProductAttribute, Sku
    from l2c.apps.catalog.services import rules_version_bump
    from l2c.apps.customers.models import Account
    from l2c.apps.pricing.models import (
        AttributeAdjustment,
        Coupon,
        MarginPolicy,
        MarginThreshold,
        PriceBook,
        PriceBookEntry,
        PriceTier,
        Promotion,
    )

    rng = random.Random(SEED)
    org = organisation()
    rep = org.reps[0]
    insert_accounts((account_row(fake, owner=rep, created_by=org.admin) for fake in AccountFaker(SEED).accounts(50)),
                    total=50, drop_indexes=False)
    account = Account.objects.filter(owner=rep).order_by("pk").first()
    assert account is not None
    Account.objects.filter(pk=account.pk).update(level="key", province="广东省", city="深圳市")

    roots = [Category.objects.create(code=f"c{index}", name=f"大类 {index}") for index in range(3)]
    middles = [Category.objects.create(code=f"c{root.pk}-{index}", name=f"中类 {index}", parent=root)
               for root in roots for index in range(3)]
    leaves = [Category.objects.create(code=f"{middle.code}-{index}", name=f"小类 {index}", parent=middle)
              for middle in middles for index in range(3)]
    colour = Attribute.objects.create(code="colour", name="颜色")
    capacity = Attribute.objects.create(code="capacity", name="容量")
    AttributeValue.objects.bulk_create([AttributeValue(attribute=colour, code=code, label=code, position=index)
                                        for index, code in enumerate(COLOURS)]
                                       + [AttributeValue(attribute=capacity, code=code, label=code, position=index)
                                          for index, code in enumerate(CAPACITIES)])
    products = Product.objects.bulk_create([
        Product(code=f"p{index:03d}", name=f"产品 {index}", category=leaves[index % len(leaves)],
                type="service" if index % 10 == 9 else "goods",
                tax_rate=Decimal("0.06") if index % 10 == 9 else Decimal("0.13")) for index in range(PRODUCTS)])
    ProductAttribute.objects.bulk_create([ProductAttribute(product=product, attribute=axis, position=position)
                                          for product in products for position, axis in enumerate((colour, capacity))])
    skus = Sku.objects.bulk_create([
        Sku(product=product, code=f"{product.code}-{colour_code}-{capacity_code}", name=f"{product.name} {colour_code}",
            attribute_values={"colour": colour_code, "capacity": capacity_code},
            attribute_key=f"capacity={capacity_code};colour={colour_code}",
            cost_price=Decimal(rng.randrange(2_000, 60_000)) / 100)
        for product in products for colour_code in COLOURS for capacity_code in CAPACITIES])
    log(f"catalogue: {len(leaves)} leaf categories, {len(products)} products, {len(skus)} SKUs")

    base = PriceBook.objects.create(code="base-cny", name="标准价", currency="CNY", is_base=True, status="active")
    tiered = PriceBook.objects.create(code="tiered", name="阶梯价", currency="CNY", priority=5, status="active")
    contract = PriceBook.objects.create(code="contract", name="合同价", currency="CNY", priority=10, status="active",
                                        scope_accounts=[account.pk])
    PriceBook.objects.create(code="usd", name="USD", currency="USD", is_base=True, status="active")
    PriceBook.objects.create(code="north", name="华北价", currency="CNY", priority=8, status="active",
                             scope_regions=["北京市"])
    list_prices = {sku.pk: (sku.cost_price * Decimal("1.6")).quantize(Decimal("0.01")) for sku in skus}
    entries = [PriceBookEntry(book=base, sku=sku, unit_price=list_prices[sku.pk],
                              floor_price=(sku.cost_price * Decimal("1.1")).quantize(Decimal("0.01")))
               for sku in skus]
    tier_entries = []
    for index, sku in enumerate(skus[::4]):
        method = ("fixed", "fixed", "block", "cost_plus")[index % 4]
        entry = PriceBookEntry(book=tiered, sku=sku, method=method, unit_price=list_prices[sku.pk])
        if method == "fixed":
            entry.tier_mode = "volume" if index % 2 else "graduated"
        elif method == "block":
            entry.block_size = Decimal(5)
            entry.unit_price = list_prices[sku.pk] * 5 * Decimal("0.9")
        else:
            entry.markup_percent = Decimal(35)
        tier_entries.append(entry)
    entries += tier_entries
    entries += [PriceBookEntry(book=contract, sku=sku, unit_price=list_prices[sku.pk] * Decimal("0.92"))
                for sku in skus[1::10]]
    PriceBookEntry.objects.bulk_create(entries, batch_size=2_000)
    tier_ids = PriceBookEntry.objects.filter(book=tiered, tier_mode__in=("volume", "graduated")).values_list(
        "pk", "unit_price")
    PriceTier.objects.bulk_create([
        PriceTier(entry_id=pk, min_quantity=Decimal(start), unit_price=(price * Decimal(factor)).quantize(
            Decimal("0.01")), flat_fee=Decimal(fee))
        for pk, price in tier_ids for start, factor, fee in ((1, "1", 0), (10, "0.95", 0), (50, "0.9", 20))],
        batch_size=2_000)
    AttributeAdjustment.objects.bulk_create([
        AttributeAdjustment(book=book, attribute="colour", value="red", percent=Decimal(5), position=1)
        for book in (base, tiered, contract)] + [
        AttributeAdjustment(book=book, attribute="capacity", value="l", amount=Decimal(20), position=2)
        for book in (base, tiered, contract)])

    def promotion(code: str, kind: str, params: dict[str, Any], **fields: Any) -> Promotion:
        return Promotion(code=code, name=code, kind=kind, params=params, status="active", **fields)

    leaf_codes = [leaf.code for leaf in leaves]
    now = timezone.now()
    promotions = [
        promotion("pct-a", "percent_off", {"percent": "8"}, eligible_categories=leaf_codes[0:3], stacking_group="line"),
        promotion("pct-b", "percent_off", {"percent": "5"}, eligible_categories=leaf_codes[3:9], stacking_group="line",
                  max_discount=50_000_000),
        promotion("pct-key", "percent_off", {"percent": "3"}, eligible_groups=["level:key"], priority=1),
        promotion("amt", "amount_off", {"amount": "2"}, eligible_categories=leaf_codes[9:12], stacking_group="line"),
        promotion("fixed", "fixed_price", {"price": "9.90"}, eligible_skus=[skus[5].code, skus[6].code]),
        promotion("group", "group_price", {"percent": "4"}, eligible_groups=["level:key", "level:important"],
                  eligible_categories=leaf_codes[12:15]),
        promotion("qty", "quantity_discount", {"min_quantity": "10", "percent": "6"},
                  eligible_categories=leaf_codes[15:18]),
        promotion("b2g1", "buy_n_get_m", {"n": 2, "m": 1}, eligible_skus=[sku.code for sku in skus[100:140]],
                  stacking_group="line"),
        promotion("second", "nth_item", {"n": 2, "percent": "50"}, eligible_skus=[sku.code for sku in skus[200:260]]),
        promotion("gift", "gift", {"min_quantity": "5", "gift_sku": skus[0].code, "gift_quantity": "1",
                                   "repeat": True}, eligible_skus=[sku.code for sku in skus[300:320]], max_uses=10_000),
        promotion("gift-2", "gift", {"min_quantity": "3", "gift_sku": skus[1].code},
                  eligible_categories=leaf_codes[20:21]),
        promotion("accessory", "free_accessory", {"accessory_sku": skus[2].code, "quantity_per_unit": "1"},
                  eligible_skus=[sku.code for sku in skus[400:405]]),
        promotion("bundle-1", "bundle", {"items": [{"sku": skus[10].code, "quantity": 1},
                                                   {"sku": skus[11].code, "quantity": 1}], "price": "100"}),
        promotion("bundle-2", "bundle", {"items": [{"sku": skus[20].code, "quantity": 2},
                                                   {"sku": skus[21].code, "quantity": 1}], "price": "300"}),
        promotion("spend-save", "spend_save", {"threshold": "1000", "amount": "50", "repeat": True},
                  stacking_group="order"),
        promotion("spend-pct", "spend_percent", {"threshold": "50000", "percent": "2"}, stacking_group="order2"),
        promotion("tiered", "tiered_spend", {"tiers": [{"threshold": "10000", "amount": "500"},
                                                       {"threshold": "100000", "amount": "6000"}]},
                  stacking_group="order", priority=5),
        promotion("coupon", "coupon", {"percent": "1", "threshold": "100"}, max_uses=1_000, max_discount=900_000_00),
        promotion("flash", "flash_price", {"price": "1.00"}, eligible_skus=[skus[30].code],
                  valid_from=now - dt.timedelta(days=1), valid_to=now + dt.timedelta(days=1)),
        promotion("exclusive", "percent_off", {"percent": "30"}, eligible_skus=[sku.code for sku in skus[500:510]],
                  exclusive=True, priority=9),
        promotion("region", "percent_off", {"percent": "2"}, eligible_regions=["广东省"], stacking_group="region"),
        promotion("dept", "amount_off", {"amount": "1"}, eligible_departments=[org.root_id], stacking_group="dept"),
        promotion("needs-code", "spend_save", {"threshold": "10", "amount": "1"}, requires_coupon=True),
        promotion("other-account", "percent_off", {"percent": "50"}, eligible_accounts=[account.pk + 1]),
    ]
    Promotion.objects.bulk_create(promotions)
    coupon_promotion = Promotion.objects.get(code="coupon")
    Coupon.objects.create(promotion=coupon_promotion, code="BENCH1", max_uses=None, per_customer_limit=100)
    policy, _ = MarginPolicy.objects.get_or_create(pk=1)
    MarginThreshold.objects.bulk_create([MarginThreshold(policy=policy, name="低毛利", min_margin_percent=Decimal(15),
                                                         level=1),
                                         MarginThreshold(policy=policy, name="极低毛利", min_margin_percent=Decimal(5),
                                                         level=2)])
    with transaction.atomic():
        rules_version_bump()
    log(f"books: 5 ({len(entries):,} entries, {len(tier_ids) * 3:,} tiers), promotions: {len(promotions)}")
    return {"rep": rep, "account": account, "skus": [sku.code for sku in skus], "promotions": len(promotions),
            "entries": len(entries)}


def cart(world: dict[str, Any], size: int) -> dict[str, Any]:
    rng = random.Random(SEED + size)
    codes = world["skus"]
    lines = []
    for index in range(size):
        code = codes[rng.randrange(len(codes))]
        line: dict[str, Any] = {"sku": code, "quantity": rng.choice((1, 2, 3, 5, 12, 60))}
        if index % 5 == 0:  # the chosen colour, as a configurator sends it (the SKU's own: another is a 422)
            line["attributes"] = {"colour": code.split("-")[1]}
        if index % 17 == 0:
            line["manual_discount_percent"] = "3"
        lines.append(line)
    return {"account_id": world["account"].pk, "currency": "CNY", "coupon_codes": ["bench1"], "lines": lines}


def run(n: int, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from l2c.apps.identity.models import User
    from l2c.apps.identity.services import api_token_create
    from l2c.apps.pricing import compiler, context, explain
    from l2c.engines.pricing import engine

    world = build()
    rep_id = world["rep"].pk

    # Cold compile: load (fixed queries) + compile, from an empty cache.
    loads, compiles, colds = [], [], []
    for _ in range(5):
        compiler.cache_clear()
        started = time.perf_counter()
        facts = compiler.load_rules(1)
        loaded = time.perf_counter()
        compiler.compile_rules(facts)
        compiled = time.perf_counter()
        loads.append(loaded - started)
        compiles.append(compiled - loaded)
        compiler.cache_clear()
        started = time.perf_counter()
        compiler.compiled_rules()
        colds.append(time.perf_counter() - started)
    log(f"cold compile p50 {ms(percentile(colds, 0.5))} ms (load {ms(percentile(loads, 0.5))} ms, "
        f"compile {ms(percentile(compiles, 0.5))} ms)")

    body = cart(world, n)

    def preview() -> dict[str, Any]:
        user = User.objects.select_related("department").get(pk=rep_id)
        return explain.answer(context.preview_price(user=user, data=body))

    answer = preview()  # warm the cache
    assert len(answer["lines"]) >= n, len(answer["lines"])
    samples, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        preview()
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    p50 = ms(percentile(samples, 0.5))
    cpu_p50 = ms(percentile(cpu, 0.5))
    log(f"{n:,}-line preview (service + answer) p50 {p50} ms (CPU {cpu_p50} ms)")

    # The engine alone on the same request, for the share of loading and persistence.
    user = User.objects.select_related("department").get(pk=rep_id)
    outcome = context.preview_price(user=user, data=body)
    engine_samples, engine_cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        engine.price(outcome.rules.catalog, outcome.request)
        engine_samples.append(time.perf_counter() - started)
        engine_cpu.append(time.process_time() - started_cpu)
    engine_p50 = ms(percentile(engine_samples, 0.5))

    # Through HTTP: auth, JSON parsing, schema validation and serialisation too.
    _token, secret = api_token_create(user=world["rep"], name="bench")
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
    payload = json.dumps(body)
    http, http_cpu = [], []
    for attempt in range(repeat + 3):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.post("/api/v1/pricing/preview", data=payload, content_type="application/json")
        elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        assert response.status_code == 200, response.content[:300]
        if attempt >= 3:
            http.append(elapsed)
            http_cpu.append(elapsed_cpu)
    http_p50 = ms(percentile(http, 0.5))
    log(f"{n:,}-line preview via HTTP p50 {http_p50} ms; engine alone {engine_p50} ms")

    queries = {}
    for size in (1, 10, n):
        sized = cart(world, size)
        user = User.objects.select_related("department").get(pk=rep_id)
        with CaptureQueriesContext(connection) as captured:
            context.preview_price(user=user, data=sized)
        queries[str(size)] = len(captured)
    compiler.cache_clear()
    user = User.objects.select_related("department").get(pk=rep_id)
    with CaptureQueriesContext(connection) as captured:
        context.preview_price(user=user, data=body)
    cold_queries = len(captured)
    log(f"queries per preview: {queries} (cold cache: {cold_queries})")

    applied = [item["code"] for item in answer["promotions"] if item["status"] == "applied"]
    return {
        "figure": p50, "baseline": engine_p50, "ratio": round(p50 / engine_p50, 2) if engine_p50 else None,
        "ok": p50 <= TARGET_MS and len(set(queries.values())) == 1,
        "preview_p95_ms": ms(percentile(samples, 0.95)), "preview_cpu_p50_ms": cpu_p50,
        "engine_cpu_p50_ms": ms(percentile(engine_cpu, 0.5)), "http_p50_ms": http_p50,
        "http_cpu_p50_ms": ms(percentile(http_cpu, 0.5)), "answer_bytes": len(response.content),
        "cold_compile_p50_ms": ms(percentile(colds, 0.5)), "load_p50_ms": ms(percentile(loads, 0.5)),
        "compile_p50_ms": ms(percentile(compiles, 0.5)), "queries_per_preview": queries,
        "queries_cold_cache": cold_queries, "load_queries": compiler.LOAD_QUERIES, "skus": len(world["skus"]),
        "entries": world["entries"], "promotions": world["promotions"], "result_lines": len(answer["lines"]),
        "promotions_applied": len(applied), "total_amount": answer["totals"]["total_amount"],
    }


def main() -> int:
    parser = arguments(__doc__.splitlines()[0], default_n=1_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    result: dict[str, Any] = {"name": "pricing_preview_with_loading", "n": args.n, "unit": "ms",
                              "target": f"{args.n:,}-line preview incl. loading ≤ {TARGET_MS:.0f} ms (p50, warm); "
                              "baseline = the engine alone on the same request; *_cpu_* = process CPU time "
                              "(less skewed by other work on the box)"}
    database = bench_database("pricing_persistence", keep=args.keep)
    result["database"] = database.vendor
    result.update(run(args.n, args.repeat))
    result["machine"] = machine()
    from l2c.engines.pricing import NATIVE

    result["compiled_engine"] = NATIVE  # mypyc build in use (ADR 0007)
    emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
