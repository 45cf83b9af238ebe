"""Catalogue and pricing rows → the pricing engine's compiled catalog, cached per rules version
(ADR 0006, "Compiled catalog").

Invariants:
- Loading reads a **fixed number of queries** (`LOAD_QUERIES`), whatever the number of SKUs, books,
  entries, tiers or promotions: every table is read whole with `values_list()`, joined in Python.
- Only books and promotions with status *active* are compiled; their dates are left to the engine
  (it checks them against the request's `as_of`). SKUs are compiled when the SKU and its product
  are active (others are listed in `unsellable`, so a line on them is explained, not just "unknown").
- Facts are keyed by **codes** and every list is sorted by code, so the compiled catalog does not
  depend on ids or on the order rows were created in.
- A rule that the engine's parsers refuse (an entry, an adjustment or a promotion saved before a
  validation existed, or written around the services) is left out and listed in `skipped`: one bad
  row never stops every preview.
- `compiled_rules()` returns the process-wide cache for the current rules version (the number of
  `catalog.selectors.rules_version()` and the time it moved, one query per call); it is rebuilt under
  a lock when the version moves. Rows are read *after* the version, so a cached catalog is never
  older than the version it is filed under (at worst newer, and then rebuilt on the next bump).
  Nothing in the cache is mutated after it is built (the engine's candidate memo aside, which is a
  pure function of the SKU).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from l2c.apps.catalog.models import (
    AttributeValue,
    CatalogStatus,
    Category,
    ProductAttribute,
    Sku,
)
from l2c.apps.catalog.selectors import rules_version_key
from l2c.engines.pricing import types as engine_types
from l2c.engines.pricing.compile import (
    CompiledCatalog,
    RuleError,
    compile_catalog,
    parse_adjustment,
    parse_entry,
    validate_promotion,
)

from .models import (
    AttributeAdjustment,
    BookStatus,
    MarginPolicy,
    MarginThreshold,
    PriceBook,
    PriceBookEntry,
    PriceTier,
    Promotion,
    PromotionStatus,
)

logger = logging.getLogger(__name__)

# Queries of one `load_rules()`: categories, SKUs (with product), product attributes, attribute values,
# books, entries, tiers, adjustments, promotions, margin policy, thresholds.
LOAD_QUERIES = 11


@dataclass(frozen=True)
class SkippedRule:
    """A stored rule the engine's parser refused: what it is, its code, the wrong field and why."""

    kind: str  # entry / adjustment / promotion
    code: str
    field: str
    error: str


@dataclass(frozen=True)
class AttributeChoice:
    """One attribute axis of a product, for the preview page's selects: (value code, label) pairs."""

    code: str
    name: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BookInfo:
    id: int
    code: str
    name: str
    currency: str
    is_base: bool
    priority: int


@dataclass(frozen=True)
class PromotionInfo:
    id: int
    code: str
    name: str
    kind: str
    status: str
    limited: bool  # has max_uses or max_discount: its live counters are read per request


@dataclass(frozen=True)
class RuleFacts:
    """The engine inputs read from the database (before compile), plus what the pages and the API
    need to name things. Immutable; shared by every request of one rules version."""

    version: int
    skus: tuple[engine_types.SkuFacts, ...]
    books: tuple[engine_types.PriceBook, ...]
    promotions: tuple[engine_types.Promotion, ...]
    policy: engine_types.MarginPolicy
    book_info: Mapping[str, BookInfo]  # by code (active books)
    book_by_id: Mapping[int, str]  # id → code (active books)
    promotion_info: Mapping[str, PromotionInfo]  # by code (active promotions)
    unsellable: Mapping[str, str]  # SKU code → status of the SKU or its product, when not both active
    product_attributes: Mapping[str, tuple[AttributeChoice, ...]]  # product code → its axes
    # attribute code → its value codes (every attribute: a configuration may choose one that is no
    # SKU axis, e.g. the voltage of a configured server)
    attribute_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: tuple[SkippedRule, ...] = ()


@dataclass(frozen=True)
class CompiledRules:
    """A compiled catalog with the facts it was built from."""

    facts: RuleFacts
    catalog: CompiledCatalog
    simulated: str | None = None  # code of a promotion compiled in as active for a simulation
    simulated_info: PromotionInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def version(self) -> int:
        return self.facts.version

    def promotion(self, code: str) -> PromotionInfo | None:
        if self.simulated_info is not None and code == self.simulated_info.code:
            return self.simulated_info
        return self.facts.promotion_info.get(code)


# --- loading ---------------------------------------------------------------------------------------


def _codes(values: Any) -> frozenset[str]:
    if not isinstance(values, (list, tuple)):
        return frozenset()
    return frozenset(str(value).strip() for value in values if str(value).strip())


def _ids(values: Any) -> frozenset[int]:
    found: set[int] = set()
    if isinstance(values, (list, tuple)):
        for value in values:
            try:
                found.add(int(value))
            except (TypeError, ValueError):
                continue
    return frozenset(found)


def _scope(accounts: Any, groups: Any, regions: Any, departments: Any) -> engine_types.Scope:
    return engine_types.Scope(accounts=_ids(accounts), groups=_codes(groups), regions=_codes(regions),
                              departments=_ids(departments))


def _category_paths(rows: Iterable[tuple[int, str, int | None]]) -> dict[int, tuple[str, ...]]:
    """Category id → codes from the root to the category itself (a cycle stops the walk)."""
    code_of: dict[int, str] = {}
    parent_of: dict[int, int | None] = {}
    for pk, code, parent_id in rows:
        code_of[pk] = code
        parent_of[pk] = parent_id
    paths: dict[int, tuple[str, ...]] = {}
    for pk in code_of:
        chain: list[str] = []
        seen: set[int] = set()
        current: int | None = pk
        while current is not None and current in code_of and current not in seen:
            seen.add(current)
            chain.append(code_of[current])
            current = parent_of[current]
        paths[pk] = tuple(reversed(chain))
    return paths


def _promotion_facts(row: Mapping[str, Any]) -> engine_types.Promotion:
    return engine_types.Promotion(
        code=row["code"], name=row["name"], kind=row["kind"],
        params=row["params"] if isinstance(row["params"], dict) else {},
        priority=row["priority"], stacking_group=row["stacking_group"] or "", exclusive=row["exclusive"],
        requires_coupon=row["requires_coupon"], valid_from=row["valid_from"], valid_to=row["valid_to"],
        customers=_scope(row["eligible_accounts"], row["eligible_groups"], row["eligible_regions"],
                         row["eligible_departments"]),
        skus=_codes(row["eligible_skus"]), products=_codes(row["eligible_products"]),
        categories=_codes(row["eligible_categories"]))


PROMOTION_COLUMNS = ("id", "code", "name", "kind", "status", "params", "priority", "stacking_group", "exclusive",
                     "requires_coupon", "valid_from", "valid_to", "eligible_accounts", "eligible_groups",
                     "eligible_regions", "eligible_departments", "eligible_skus", "eligible_products",
                     "eligible_categories", "max_uses", "max_discount")


def _promotion_info(row: Mapping[str, Any]) -> PromotionInfo:
    return PromotionInfo(id=row["id"], code=row["code"], name=row["name"], kind=row["kind"], status=row["status"],
                         limited=row["max_uses"] is not None or row["max_discount"] is not None)


def promotion_facts(code: str) -> tuple[engine_types.Promotion, PromotionInfo] | None:
    """One promotion of any status, as engine facts (one query): what a simulation compiles in."""
    row = Promotion.objects.filter(code=code).values(*PROMOTION_COLUMNS).first()
    if row is None:
        return None
    return _promotion_facts(row), _promotion_info(row)


def load_rules(version: int) -> RuleFacts:
    """Read every active rule and the sellable catalogue in `LOAD_QUERIES` queries."""
    skipped: list[SkippedRule] = []
    paths = _category_paths(Category.objects.values_list("id", "code", "parent_id"))
    skus: list[engine_types.SkuFacts] = []
    unsellable: dict[str, str] = {}
    for (code, name, values, cost, cost_currency, status, product_code, product_type, tax_rate, category_id,
         product_status) in Sku.objects.values_list(
            "code", "name", "attribute_values", "cost_price", "cost_currency", "status", "product__code",
            "product__type", "product__tax_rate", "product__category_id", "product__status").order_by("code"):
        if status != CatalogStatus.ACTIVE or product_status != CatalogStatus.ACTIVE:
            unsellable[code] = status if status != CatalogStatus.ACTIVE else product_status
            continue
        attributes = {str(key): str(value) for key, value in values.items()} if isinstance(values, dict) else {}
        skus.append(engine_types.SkuFacts(
            code=code, product_code=product_code, category_path=paths.get(category_id, ()) if category_id else (),
            product_type=product_type, tax_rate=Decimal(tax_rate), unit_cost=Decimal(cost), name=name,
            attributes=attributes, cost_currency=(cost_currency or "CNY").upper()))

    labels: dict[int, list[tuple[str, str]]] = {}
    attribute_values: dict[str, list[str]] = {}
    for attribute_id, attribute_code, value_code, label in AttributeValue.objects.values_list(
            "attribute_id", "attribute__code", "code", "label").order_by("attribute_id", "position", "code"):
        labels.setdefault(attribute_id, []).append((value_code, label))
        attribute_values.setdefault(attribute_code, []).append(value_code)
    product_attributes: dict[str, list[AttributeChoice]] = {}
    for product_code, attribute_id, attribute_code, attribute_name in ProductAttribute.objects.values_list(
            "product__code", "attribute_id", "attribute__code", "attribute__name").order_by(
            "product__code", "position", "attribute__code"):
        product_attributes.setdefault(product_code, []).append(
            AttributeChoice(attribute_code, attribute_name, tuple(labels.get(attribute_id, ()))))

    active = BookStatus.ACTIVE
    book_rows = list(PriceBook.objects.filter(status=active).values(
        "id", "code", "name", "currency", "is_base", "priority", "valid_from", "valid_to", "scope_accounts",
        "scope_groups", "scope_departments", "scope_regions").order_by("code"))
    tiers: dict[int, list[engine_types.Tier]] = {}
    for entry_id, min_quantity, unit_price, flat_fee in PriceTier.objects.filter(
            entry__book__status=active).values_list("entry_id", "min_quantity", "unit_price", "flat_fee").order_by(
            "entry_id", "min_quantity"):
        tiers.setdefault(entry_id, []).append(engine_types.Tier(min_quantity, unit_price, flat_fee))
    entries: dict[int, dict[str, engine_types.PriceEntry]] = {}
    for row in PriceBookEntry.objects.filter(book__status=active).values(
            "id", "book_id", "book__code", "sku__code", "method", "unit_price", "block_size", "markup_percent",
            "percent", "percent_of", "tier_mode", "floor_price").order_by("book_id", "sku__code"):
        entry = engine_types.PriceEntry(
            sku=row["sku__code"], method=row["method"], unit_price=row["unit_price"], block_size=row["block_size"],
            markup_percent=row["markup_percent"], percent=row["percent"], percent_of=_codes(row["percent_of"]),
            tier_mode=row["tier_mode"], tiers=tuple(sorted(tiers.get(row["id"], ()), key=lambda t: t.min_quantity)),
            floor_price=row["floor_price"])
        try:
            parse_entry(entry)
        except RuleError as error:
            skipped.append(SkippedRule("entry", f"{row['book__code']}:{entry.sku}", error.field, error.code))
            continue
        entries.setdefault(row["book_id"], {})[entry.sku] = entry
    adjustments: dict[int, list[engine_types.AttributeAdjustment]] = {}
    for book_id, book_code, attribute, value, amount, percent, products, categories, _position in (
            AttributeAdjustment.objects.filter(book__status=active).values_list(
                "book_id", "book__code", "attribute", "value", "amount", "percent", "products", "categories",
                "position").order_by("book_id", "position", "attribute", "value", "id")):
        adjustment = engine_types.AttributeAdjustment(
            attribute=attribute, value=value, amount=amount, percent=percent, products=_codes(products),
            categories=_codes(categories), code=f"{book_code}:{attribute}={value}")
        try:
            parse_adjustment(adjustment)
        except RuleError as error:
            skipped.append(SkippedRule("adjustment", adjustment.code, error.field, error.code))
            continue
        adjustments.setdefault(book_id, []).append(adjustment)
    books: list[engine_types.PriceBook] = []
    book_info: dict[str, BookInfo] = {}
    for row in book_rows:
        books.append(engine_types.PriceBook(
            code=row["code"], name=row["name"], currency=row["currency"], priority=row["priority"],
            is_base=row["is_base"], valid_from=row["valid_from"], valid_to=row["valid_to"],
            scope=_scope(row["scope_accounts"], row["scope_groups"], row["scope_regions"], row["scope_departments"]),
            entries=entries.get(row["id"], {}), adjustments=tuple(adjustments.get(row["id"], ()))))
        book_info[row["code"]] = BookInfo(row["id"], row["code"], row["name"], row["currency"], row["is_base"],
                                          row["priority"])

    promotions: list[engine_types.Promotion] = []
    promotion_info: dict[str, PromotionInfo] = {}
    for row in Promotion.objects.filter(status=PromotionStatus.ACTIVE).values(*PROMOTION_COLUMNS).order_by("code"):
        promotion = _promotion_facts(row)
        try:
            validate_promotion(promotion)
        except RuleError as error:
            skipped.append(SkippedRule("promotion", promotion.code, error.field, error.code))
            continue
        promotions.append(promotion)
        promotion_info[promotion.code] = _promotion_info(row)

    policy = _policy()
    for rule in skipped:
        logger.warning("pricing rule skipped: %s %s (%s: %s)", rule.kind, rule.code, rule.field, rule.error)
    return RuleFacts(
        version=version, skus=tuple(skus), books=tuple(books), promotions=tuple(promotions), policy=policy,
        book_info=book_info, book_by_id={info.id: info.code for info in book_info.values()},
        promotion_info=promotion_info, unsellable=unsellable,
        product_attributes={code: tuple(axes) for code, axes in product_attributes.items()},
        attribute_values={code: tuple(values) for code, values in attribute_values.items()}, skipped=tuple(skipped))


def _policy() -> engine_types.MarginPolicy:
    """The margin policy row (pk=1; defaults when absent) and its thresholds: two queries."""
    row = MarginPolicy.objects.filter(pk=1).values(
        "below_cost", "below_cost_level", "below_floor", "below_floor_level").first()
    thresholds = tuple(
        engine_types.MarginThreshold(min_margin_percent=percent, level=level, name=name)
        for percent, level, name in MarginThreshold.objects.filter(policy_id=1).values_list(
            "min_margin_percent", "level", "name").order_by("-min_margin_percent"))
    if row is None:
        return engine_types.MarginPolicy(thresholds=thresholds)
    return engine_types.MarginPolicy(below_cost=row["below_cost"], below_cost_level=row["below_cost_level"],
                                     below_floor=row["below_floor"], below_floor_level=row["below_floor_level"],
                                     thresholds=thresholds)


def compile_rules(facts: RuleFacts) -> CompiledRules:
    """Compile loaded facts (pure; no query)."""
    catalog = compile_catalog(version=facts.version, skus=facts.skus, books=facts.books,
                              promotions=facts.promotions, policy=facts.policy)
    return CompiledRules(facts=facts, catalog=catalog)


# --- the process cache -----------------------------------------------------------------------------

_lock = threading.Lock()
_cached: CompiledRules | None = None
_cached_key: tuple[int, Any] | None = None
_SIMULATIONS_KEPT = 8
_simulations: OrderedDict[tuple[int, str], CompiledRules] = OrderedDict()


def compiled_rules() -> CompiledRules:
    """The compiled rules of the current rules version: one query when cached, `1 + LOAD_QUERIES`
    when the version moved (the first caller rebuilds; concurrent callers wait for it)."""
    global _cached, _cached_key
    key = rules_version_key()
    cached = _cached
    if cached is not None and _cached_key == key:
        return cached
    with _lock:
        cached = _cached
        if cached is not None and _cached_key == key:
            return cached
        rules = compile_rules(load_rules(key[0]))
        _cached, _cached_key = rules, key
        _simulations.clear()
        return rules


def compiled_catalog() -> CompiledCatalog:
    """The engine's `CompiledCatalog` for the current rules version (process-cached)."""
    return compiled_rules().catalog


def simulated_rules(rules: CompiledRules, code: str) -> CompiledRules | None:
    """`rules` with promotion `code` compiled in as active whatever its status (one query on a miss;
    kept per (version, code) since any change of the promotion moves the version). None: no such
    promotion. `RuleError` when the promotion's own rules are invalid."""
    key = (rules.version, code)
    with _lock:
        found = _simulations.get(key)
        if found is not None:
            _simulations.move_to_end(key)
            return found
    loaded = promotion_facts(code)
    if loaded is None:
        return None
    promotion, info = loaded
    validate_promotion(promotion)
    others = tuple(item for item in rules.facts.promotions if item.code != code)
    facts = replace(rules.facts, promotions=(*others, promotion))
    catalog = compile_catalog(version=f"{rules.version}+{code}", skus=facts.skus, books=facts.books,
                              promotions=facts.promotions, policy=facts.policy)
    simulated = CompiledRules(facts=facts, catalog=catalog, simulated=code, simulated_info=info)
    with _lock:
        _simulations[key] = simulated
        while len(_simulations) > _SIMULATIONS_KEPT:
            _simulations.popitem(last=False)
    return simulated


def cache_clear() -> None:
    """Forget the compiled rules (tests; the version check makes this unnecessary in production)."""
    global _cached, _cached_key
    with _lock:
        _cached = _cached_key = None
        _simulations.clear()
