"""Pricing engine: a 1,000-line and a 10,000-line quote (BOM-expanded, tiered + attribute price books,
≥ 20 promotion/price rules, margin policy) priced by `l2c.engines.pricing`, versus a bare Decimal line
loop on the same lines in the same run.

The engine is pure, so this part needs no database. Data (seeded): ~2,000 SKUs in a category tree
(servers, storage, network, modules, power supplies, cables, services) with colour / capacity
attributes; a base book (fixed prices, block-priced cables, cost-plus spare parts, warranty at a
percent of the hardware), a tiered book for key accounts (volume and graduated tiers with flat fees,
floor prices), a contracted book for one account, attribute adjustments (+% and +amount), and 24
promotions of every kind with stacking groups, an exclusive one, quotas and a coupon. Lines come as
BOM expansion gives them: a configured parent line followed by its component lines (parent key set,
rolled-up unit cost passed on the parent).

Measured: compile time of the catalog; engine time per quote (median of `--runs`, timed alternately
with the bare loop so load on a shared box weighs on both; the first, memo-filling run apart; the
best run too); a one-line edit re-priced through `PricingSession.update_line` (median of 20 edits);
the bare loop (per line: price lookup, quantize(price × quantity), tax split, sums) and
`throughput_ratio` = bare / engine (medians).
"Time incl. loading rules and persistence" is `measure_with_persistence()` — filled in once the
Django side exists.

Targets (QUALITY.md): 1,000 lines ≤ 50 ms in the engine; 10,000 lines ≤ 1 s; one-line re-price
≤ 10 ms; ≥ 10 % of the bare loop's throughput.

    .venv/bin/python benchmarks/pricing.py [--n 1000] [--large 10000] [--runs 15]
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from _common import SEED, arguments, emit, log, ms
from l2c.engines.pricing import NATIVE, PricingSession, compile_catalog, price
from l2c.engines.pricing.types import (
    AttributeAdjustment,
    Coupon,
    CustomerContext,
    LineInput,
    MarginPolicy,
    MarginThreshold,
    PriceBook,
    PriceEntry,
    PricingRequest,
    Promotion,
    Quota,
    Scope,
    SkuFacts,
    Tier,
)

TARGET_MS = 50.0
TARGET_LARGE_MS = 1000.0
TARGET_REPRICE_MS = 10.0
TARGET_RATIO = 0.10
AS_OF = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CURRENCY = "CNY"
COLOURS = ("black", "white", "red", "blue", "grey")
CAPACITIES = ("1T", "2T", "4T", "8T")
# (category path, product type, tax rate, products, price range, cost share)
FAMILIES: list[tuple[tuple[str, ...], str, str, int, tuple[int, int], float]] = [
    (("hw", "server"), "goods", "0.13", 60, (8_000, 60_000), 0.62),
    (("hw", "storage"), "goods", "0.13", 50, (3_000, 30_000), 0.58),
    (("hw", "network"), "goods", "0.13", 60, (500, 12_000), 0.55),
    (("hw", "module"), "goods", "0.13", 90, (200, 4_000), 0.50),
    (("hw", "psu"), "goods", "0.13", 30, (150, 900), 0.45),
    (("hw", "cable"), "goods", "0.13", 40, (5, 60), 0.30),
    (("hw", "spare"), "goods", "0.13", 40, (50, 800), 0.70),
    (("svc", "install"), "service", "0.06", 20, (300, 3_000), 0.40),
    (("svc", "warranty"), "service", "0.06", 10, (0, 0), 0.10),
]


def make_skus(rng: random.Random) -> tuple[list[SkuFacts], dict[str, Decimal], dict[str, str]]:
    """~2,000 SKUs (products × colour/capacity variants), their base prices and their family."""
    skus: list[SkuFacts] = []
    prices: dict[str, Decimal] = {}
    family_of: dict[str, str] = {}
    for path, kind, rate, products, (low, high), cost_share in FAMILIES:
        for number in range(products):
            product = f"{path[-1].upper()}-{number:03d}"
            base = Decimal(rng.randint(low, high)) if high else Decimal(0)
            variants = [(colour, capacity) for colour in COLOURS for capacity in CAPACITIES]
            rng.shuffle(variants)
            for colour, capacity in variants[: 1 + rng.randrange(len(variants) // 2 if kind == "goods" else 1)]:
                code = f"{product}-{colour.upper()}-{capacity}"
                unit_price = (base * Decimal(1 + CAPACITIES.index(capacity) / 10)).quantize(Decimal("0.01"))
                cost = (unit_price * Decimal(str(cost_share))).quantize(Decimal("0.01"))
                skus.append(SkuFacts(code, product, path, kind, Decimal(rate), cost, name=code,
                                     attributes={"colour": colour, "capacity": capacity}))
                prices[code] = unit_price
                family_of[code] = path[-1]
    return skus, prices, family_of


def make_books(rng: random.Random, skus: list[SkuFacts], prices: dict[str, Decimal],
               family_of: dict[str, str]) -> list[PriceBook]:
    base_entries: dict[str, PriceEntry] = {}
    for sku in skus:
        family = family_of[sku.code]
        if family == "cable":
            base_entries[sku.code] = PriceEntry(sku.code, method="block", unit_price=prices[sku.code] * 10,
                                                block_size=Decimal(10))
        elif family == "spare":
            base_entries[sku.code] = PriceEntry(sku.code, method="cost_plus", markup_percent=Decimal(35))
        elif family == "warranty":
            base_entries[sku.code] = PriceEntry(sku.code, method="percent_of_total", percent=Decimal(8),
                                                percent_of=frozenset({"server", "storage"}))
        else:
            base_entries[sku.code] = PriceEntry(sku.code, unit_price=prices[sku.code],
                                                floor_price=(prices[sku.code] * Decimal("0.7")).quantize(
                                                    Decimal("0.01")))
    base = PriceBook("BASE", "基础价目表", CURRENCY, is_base=True, entries=base_entries, adjustments=(
        AttributeAdjustment("colour", "red", percent=Decimal(5), code="BASE:colour=red"),
        AttributeAdjustment("colour", "white", amount=Decimal(20), categories=frozenset({"server"}),
                            code="BASE:colour=white"),
        AttributeAdjustment("capacity", "8T", percent=Decimal(3), code="BASE:capacity=8T"),
    ))
    tiered_entries: dict[str, PriceEntry] = {}
    fixed = [sku for sku in skus if family_of[sku.code] in ("server", "storage", "network", "module", "psu")]
    for sku in rng.sample(fixed, 600):
        unit = prices[sku.code]
        mode = rng.choice(("volume", "graduated"))
        tiers = (Tier(Decimal(1), unit), Tier(Decimal(10), (unit * Decimal("0.95")).quantize(Decimal("0.01"))),
                 Tier(Decimal(50), (unit * Decimal("0.90")).quantize(Decimal("0.01")), Decimal(100)),
                 Tier(Decimal(200), (unit * Decimal("0.85")).quantize(Decimal("0.01")), Decimal(500)))
        tiered_entries[sku.code] = PriceEntry(sku.code, unit_price=unit, tier_mode=mode, tiers=tiers,
                                              floor_price=(unit * Decimal("0.75")).quantize(Decimal("0.01")))
    tiered = PriceBook("TIERED", "大客户阶梯价", CURRENCY, priority=10, entries=tiered_entries,
                       scope=Scope(groups=frozenset({"level:key"})),
                       adjustments=(AttributeAdjustment("colour", "red", percent=Decimal(4), code="TIERED:red"),))
    contract_entries = {sku.code: PriceEntry(sku.code, unit_price=(prices[sku.code] * Decimal("0.88")).quantize(
        Decimal("0.01"))) for sku in rng.sample(fixed, 150)}
    contract = PriceBook("CONTRACT-42", "客户42合同价", CURRENCY, priority=10, entries=contract_entries,
                         scope=Scope(accounts=frozenset({42})))
    regional_entries = {sku.code: PriceEntry(sku.code, unit_price=(prices[sku.code] * Decimal("0.97")).quantize(
        Decimal("0.01"))) for sku in rng.sample(fixed, 300)}
    regional = PriceBook("SOUTH", "华南渠道价", CURRENCY, priority=5, valid_from=date(2026, 1, 1),
                         valid_to=date(2026, 12, 31), scope=Scope(regions=frozenset({"广东"})),
                         entries=regional_entries)
    usd = PriceBook("BASE-USD", "USD list", "USD", is_base=True,
                    entries={sku.code: PriceEntry(sku.code, unit_price=(prices[sku.code] / 7).quantize(
                        Decimal("0.01"))) for sku in fixed[:200]})
    return [base, tiered, contract, regional, usd]


def make_promotions(skus: list[SkuFacts], family_of: dict[str, str]) -> list[Promotion]:
    by_family: dict[str, list[str]] = {}
    for sku in skus:
        by_family.setdefault(family_of[sku.code], []).append(sku.code)
    server, module, psu = by_family["server"], by_family["module"], by_family["psu"]
    network, storage, install = by_family["network"], by_family["storage"], by_family["install"]
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    return [
        Promotion("NET-10", "网络设备九折", "percent_off", {"percent": "10"}, categories=frozenset({"network"}),
                  stacking_group="line", priority=5),
        Promotion("MOD-OFF", "模块立减", "amount_off", {"amount": "15"}, categories=frozenset({"module"}),
                  stacking_group="line", priority=3),
        Promotion("PSU-FIX", "电源特价", "fixed_price", {"price": "120"}, skus=frozenset(psu[:20])),
        Promotion("FLASH-1128", "限时秒杀", "flash_price", {"price": "999"}, skus=frozenset(storage[:30]),
                  valid_from=start, valid_to=end, priority=9),
        Promotion("KEY-PRICE", "大客户会员价", "group_price", {"percent": "3"}, customers=Scope(
            groups=frozenset({"level:key"})), categories=frozenset({"server"})),
        Promotion("QTY-20", "满20件95折", "quantity_discount", {"min_quantity": 20, "percent": 5},
                  categories=frozenset({"hw"}), stacking_group="qty"),
        Promotion("B2G1", "买二送一", "buy_n_get_m", {"n": 2, "m": 1}, skus=frozenset(module[:40]),
                  stacking_group="line", priority=1),
        Promotion("SECOND-HALF", "第二件半价", "nth_item", {"n": 2, "percent": 50}, skus=frozenset(network[:40])),
        Promotion("GIFT-CABLE", "买服务器送线缆", "gift",
                  {"min_quantity": 2, "gift_sku": by_family["cable"][0], "gift_quantity": 2, "repeat": True},
                  categories=frozenset({"server"})),
        Promotion("INSTALL-FREE", "免费安装", "free_accessory",
                  {"accessory_sku": install[0], "quantity_per_unit": 1}, skus=frozenset(server[:30])),
        Promotion("BUNDLE-SRV", "服务器+电源套餐", "bundle",
                  {"items": [{"sku": server[0], "quantity": 1}, {"sku": psu[0], "quantity": 2}],
                   "price": "30000"}),
        Promotion("BUNDLE-NET", "交换机组合", "bundle",
                  {"items": [{"sku": network[0], "quantity": 1}, {"sku": network[1], "quantity": 1}],
                   "price": "5000"}),
        Promotion("SPEND-SAVE", "每满10000减300", "spend_save",
                  {"threshold": "10000", "amount": "300", "repeat": True}, stacking_group="order"),
        Promotion("SPEND-PCT", "满5万98折", "spend_percent", {"threshold": "50000", "percent": "2"},
                  stacking_group="order"),
        Promotion("TIERED-SPEND", "阶梯满减", "tiered_spend",
                  {"tiers": [{"threshold": "1000", "amount": "100"}, {"threshold": "3000", "amount": "400"},
                             {"threshold": "100000", "amount": "5000"}]}, stacking_group="order"),
        Promotion("COUPON-200", "优惠券200", "coupon", {"amount": "200", "threshold": "1000"}),
        Promotion("VIP-EXCL", "VIP 独享", "percent_off", {"percent": "20"}, exclusive=True, priority=20,
                  customers=Scope(accounts=frozenset({7}))),
        Promotion("SOUTH-5", "华南九五折", "percent_off", {"percent": "5"}, customers=Scope(
            regions=frozenset({"广东"})), categories=frozenset({"storage"})),
        Promotion("EXPIRED", "去年促销", "percent_off", {"percent": "30"}, valid_to=datetime(2025, 12, 31, tzinfo=UTC)),
        Promotion("BUDGET-OFF", "预算有限立减", "amount_off", {"amount": "50"}, categories=frozenset({"server"}),
                  stacking_group="budget"),
        Promotion("USED-UP", "已用完", "spend_save", {"threshold": "100", "amount": "10"}),
        Promotion("CHANNEL", "渠道专享", "percent_off", {"percent": "2"}, customers=Scope(
            departments=frozenset({3})), categories=frozenset({"module"})),
        Promotion("CODE-PCT", "口令折扣", "percent_off", {"percent": "1"}, requires_coupon=True,
                  categories=frozenset({"psu"})),
        Promotion("INSTALL-PCT", "安装八折", "percent_off", {"percent": "20"}, categories=frozenset({"install"})),
    ]


def make_lines(rng: random.Random, skus: list[SkuFacts], family_of: dict[str, str], count: int) -> list[LineInput]:
    """BOM-expanded lines: a configured server/storage parent, then its modules, PSUs, cables and
    services as child lines; loose hardware lines in between."""
    by_family: dict[str, list[SkuFacts]] = {}
    for sku in skus:
        by_family.setdefault(family_of[sku.code], []).append(sku)
    lines: list[LineInput] = []
    number = 0

    def add(sku: SkuFacts, quantity: int, parent: str | None = None, unit_cost: Decimal | None = None,
            attributes: dict[str, str] | None = None, manual: Decimal | None = None) -> str:
        nonlocal number
        number += 1
        key = str(number)
        lines.append(LineInput(key, sku.code, Decimal(quantity), attributes or {}, manual, unit_cost, parent))
        return key

    while len(lines) < count:
        if number and number % 250 < 5 and rng.random() < 0.2:
            # an extended warranty for the whole quote: a percent of the server and storage lines
            add(rng.choice(by_family["warranty"]), 1)
        elif rng.random() < 0.6:
            parent_sku = rng.choice(by_family[rng.choice(("server", "storage"))])
            quantity = rng.choice((1, 1, 2, 4, 10))
            components = [(rng.choice(by_family["module"]), rng.randint(1, 8)),
                          (rng.choice(by_family["psu"]), 2), (rng.choice(by_family["cable"]), rng.randint(2, 30))]
            rolled_up = parent_sku.unit_cost + sum((sku.unit_cost * per for sku, per in components), Decimal(0))
            parent = add(parent_sku, quantity, unit_cost=rolled_up,
                         attributes={"colour": rng.choice(COLOURS)} if rng.random() < 0.3 else None)
            for sku, per in components:
                add(sku, quantity * per, parent=parent)
            if rng.random() < 0.3:
                add(rng.choice(by_family["install"]), 1, parent=parent)
        else:
            family = rng.choice(("network", "module", "psu", "spare", "storage", "server"))
            add(rng.choice(by_family[family]), rng.choice((1, 2, 3, 5, 12, 25, 60, 250)),
                manual=Decimal(rng.choice((0, 5, 10))) if rng.random() < 0.2 else None)
    return lines[:count]


def make_request(lines: list[LineInput]) -> PricingRequest:
    return PricingRequest(
        currency=CURRENCY, as_of=AS_OF, lines=tuple(lines),
        customer=CustomerContext(account_id=42, groups=frozenset({"level:key", "tag:教育"}), region="广东/深圳",
                                 department_ids=frozenset({3, 1})),
        coupon_codes=("save200", "NOPE-1"),
        coupons=(Coupon("SAVE200", "COUPON-200", remaining_uses=5, customer_remaining=1),),
        quotas={"BUDGET-OFF": Quota(remaining_uses=10, remaining_budget=500_000),
                "USED-UP": Quota(remaining_uses=0)})


def bare_loop(lines: list[LineInput], prices: dict[str, Decimal], rates: dict[str, Decimal]) -> tuple[Decimal, ...]:
    """The floor any engine is compared with (QUALITY.md's "bare Decimal line-arithmetic loop"): per line
    a list-price lookup, gross = quantize(price × quantity) half-up to the fen, the tax split
    net = quantize(gross / (1 + rate)), tax = gross − net; running totals. No waterfall, no rules."""
    cent = Decimal("0.01")
    net_total = tax_total = gross_total = Decimal(0)
    for line in lines:
        gross = (prices[line.sku] * line.quantity).quantize(cent, ROUND_HALF_UP)
        net = (gross / (1 + rates[line.sku])).quantize(cent, ROUND_HALF_UP)
        net_total += net
        tax_total += gross - net
        gross_total += gross
    return net_total, tax_total, gross_total


def median_seconds(function: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    timings = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), timings


def interleaved(first: Callable[[], object], second: Callable[[], object],
                runs: int) -> tuple[list[float], list[float]]:
    """Time two functions alternately, so load on a shared box weighs on both alike."""
    one: list[float] = []
    two: list[float] = []
    for _ in range(runs):
        for function, timings in ((first, one), (second, two)):
            gc.collect()
            started = time.perf_counter()
            function()
            timings.append(time.perf_counter() - started)
    return one, two


def measure_with_persistence() -> dict[str, Any] | None:
    """Time incl. loading rules and persistence (≤ 100 ms for 1,000 lines; constant SQL queries).

    Placeholder: the coordinator fills this in once `l2c.apps.pricing` exists — compile from the
    database (cold, then cached by rules version), price a persisted 1,000-line quote, save it, and
    count the queries. Returns None until then."""
    return None


def run(n: int, large: int, runs: int) -> dict[str, Any]:
    rng = random.Random(SEED)
    skus, prices, family_of = make_skus(rng)
    books = make_books(rng, skus, prices, family_of)
    promotions = make_promotions(skus, family_of)
    policy = MarginPolicy(below_cost="approval", below_cost_level=2, below_floor="approval", below_floor_level=1,
                          thresholds=(MarginThreshold(Decimal(15), 1, "毛利低于15%"),
                                      MarginThreshold(Decimal(5), 2, "毛利低于5%")))
    rules = sum(len(book.entries) for book in books) + sum(len(book.adjustments) for book in books) + len(promotions)
    log(f"{len(skus):,} SKUs, {len(books)} books, {len(promotions)} promotions, {rules:,} rules in all")

    def compile_once() -> Any:
        return compile_catalog(version=1, skus=skus, books=books, promotions=promotions, policy=policy)

    compile_seconds, _ = median_seconds(compile_once, 3)
    catalog = compile_once()
    rates = {sku.code: sku.tax_rate for sku in skus}
    flat_prices = {sku.code: prices[sku.code] or Decimal(100) for sku in skus}
    figures: dict[str, Any] = {"skus": len(skus), "books": len(books), "promotions": len(promotions),
                               "rules": rules, "compile_ms": ms(compile_seconds)}
    checks: dict[str, bool] = {}
    for count, repeat in ((n, runs), (large, max(3, runs // 3))):
        lines = make_lines(random.Random(SEED + count), skus, family_of, count)
        request = make_request(lines)
        started = time.perf_counter()
        first = price(catalog, request)
        cold_seconds = time.perf_counter() - started  # also fills the catalog's per-SKU memos
        timings, bare_timings = interleaved(lambda request=request: price(catalog, request),
                                            lambda lines=lines: bare_loop(lines, flat_prices, rates), repeat)
        engine_seconds = statistics.median(timings)
        bare_seconds = statistics.median(bare_timings)
        identical = price(catalog, request) == first
        ratio = bare_seconds / engine_seconds
        figures[f"engine_ms_{count}"] = ms(engine_seconds)
        figures[f"engine_runs_ms_{count}"] = [ms(value) for value in timings]
        figures[f"engine_first_ms_{count}"] = ms(cold_seconds)
        figures[f"bare_loop_ms_{count}"] = ms(bare_seconds)
        figures[f"throughput_ratio_{count}"] = round(ratio, 3)
        # The box is shared: the best runs show the engine with the least interference.
        figures[f"engine_best_ms_{count}"] = ms(min(timings))
        figures[f"bare_loop_best_ms_{count}"] = ms(min(bare_timings))
        figures[f"throughput_ratio_best_{count}"] = round(min(bare_timings) / min(timings), 3)
        figures[f"result_{count}"] = {
            "total_amount": first.totals.total_amount, "discount_amount": first.totals.discount_amount,
            "margin_percent": str(first.totals.margin_percent), "applied": len(first.applied),
            "rejected": len(first.rejected), "approvals": len(first.approvals),
            "violations": len(first.violations), "lines_out": len(first.lines),
            "lines_in_tiered_book": sum(1 for line in first.lines if line.price_book == "TIERED"),
            "repeat_identical": identical}
        log(f"{count:,} lines: engine {ms(engine_seconds)} ms (median of {repeat}), bare loop {ms(bare_seconds)} ms, "
            f"ratio {ratio:.3f}; {len(first.applied)} promotions applied, {len(first.rejected)} rejected")
        checks[f"repeat_identical_{count}"] = identical
        if count == n:
            session = PricingSession(catalog, request)
            edits = [lines[index] for index in range(0, len(lines), max(1, len(lines) // 20))][:20]
            edit_timings = []
            same = True
            for index, line in enumerate(edits):
                edited = LineInput(line.key, line.sku, line.quantity + 1 + index % 3, line.attributes,
                                   line.manual_discount_percent, line.unit_cost, line.parent)
                gc.collect()
                started = time.perf_counter()
                result = session.update_line(edited)
                edit_timings.append(time.perf_counter() - started)
                if index < 3:
                    same = same and result == price(catalog, session.request)
            reprice = statistics.median(edit_timings)
            figures["reprice_one_line_ms"] = ms(reprice)
            figures["reprice_one_line_best_ms"] = ms(min(edit_timings))
            figures["reprice_runs"] = len(edit_timings)
            checks["session_equals_fresh_price"] = same
            log(f"one-line re-price via session: {ms(reprice)} ms (median of {len(edit_timings)})")
    checks["gc_enabled_after"] = gc.isenabled()  # the engine pauses the collector while it prices, never for good
    figures["with_persistence"] = measure_with_persistence()
    ratio = figures[f"throughput_ratio_{n}"]
    ok = (figures[f"engine_ms_{n}"] <= TARGET_MS and figures[f"engine_ms_{large}"] <= TARGET_LARGE_MS
          and figures["reprice_one_line_ms"] <= TARGET_REPRICE_MS and ratio >= TARGET_RATIO and all(checks.values()))
    return {"figure": figures[f"engine_ms_{n}"], "baseline": figures[f"bare_loop_ms_{n}"], "ratio": ratio,
            "throughput_ratio": ratio, "ok": ok, **figures, "checks": checks,
            "compiled_engine": NATIVE,  # mypyc build in use (ADR 0007)
            "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                        "python": sys.version.split()[0]}}


def main() -> int:
    parser = arguments(__doc__.splitlines()[0], default_n=1_000)
    parser.add_argument("--large", type=int, default=10_000, help="lines of the large quote (default 10,000)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per figure; the median counts (default 15)")
    args = parser.parse_args()
    result: dict[str, Any] = {"name": "pricing", "n": args.n, "unit": "ms",
                              "target": f"{args.n} lines ≤ {TARGET_MS:g} ms, {args.large} ≤ {TARGET_LARGE_MS:g} ms, "
                                        f"one-line re-price ≤ {TARGET_REPRICE_MS:g} ms, ratio ≥ {TARGET_RATIO}"}
    try:
        result.update(run(args.n, args.large, max(1, args.runs)))
    except Exception as error:  # the one JSON line must still be printed
        import traceback

        traceback.print_exc()
        result.update({"ok": False, "error": f"{type(error).__name__}: {error}"})
    emit(result)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
