"""Pricing reads (ADR 0006).

Two kinds of readers:
- pages and the API: `price_book_list`, `promotion_list`, … — narrowed by the access choke point;
- the compiler that turns rows into engine facts (`pricing.compiler`): the `*_rows` functions and
  the live counters below return **plain values** (dicts, lists, str, int, Decimal, date,
  datetime), never model instances, read in a constant number of queries and ordered by code, so
  the compiled catalogue never depends on ids or creation order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, Q, QuerySet, Value

from l2c.apps.identity import access
from l2c.apps.identity.models import User

from .models import (
    AttributeAdjustment,
    BookStatus,
    Coupon,
    MarginPolicy,
    PriceBook,
    PriceBookEntry,
    PriceTier,
    Promotion,
    PromotionReservation,
    PromotionStatus,
    ReservationStatus,
)

BOOK_SORTS = {"-priority": "-priority", "priority": "priority", "code": "code", "-updated_at": "-updated_at",
              "-id": "-id"}
PROMOTION_SORTS = {"-priority": "-priority", "code": "code", "-updated_at": "-updated_at", "-id": "-id"}
ENTRY_SORTS = {"id": "id", "-id": "-id"}
HELD_STATUSES = (ReservationStatus.RESERVED, ReservationStatus.CONSUMED)  # what counts against a quota
COUPON_SORTS = {"code": "code", "-id": "-id", "id": "id"}


# --- pages and API -------------------------------------------------------------------------------------
def price_book_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[PriceBook]:
    """Books the user may see, filtered by status / currency / q (code or name)."""
    filters = filters or {}
    books = access.visible(user, "price_book")
    if filters.get("status"):
        books = books.filter(status=filters["status"])
    if filters.get("currency"):
        books = books.filter(currency=str(filters["currency"]).upper())
    if filters.get("is_base") is not None:
        books = books.filter(is_base=bool(filters["is_base"]))
    if filters.get("q"):
        q = str(filters["q"]).strip()
        books = books.filter(Q(code__icontains=q) | Q(name__icontains=q))
    return books.annotate(entry_count=Count("entries", distinct=True))


def price_book_detail(*, user: User, book_id: int) -> PriceBook:
    book: PriceBook = access.get_for_action(user, "price_book", book_id, "view")
    return book


def price_entries(*, book: PriceBook, q: str | None = None) -> QuerySet[PriceBookEntry]:
    """The entries of a book with their SKU and tiers (prefetched)."""
    entries = PriceBookEntry.objects.filter(book=book).select_related("sku", "sku__product")
    if q:
        entries = entries.filter(Q(sku__code__icontains=q) | Q(sku__name__icontains=q))
    return entries.prefetch_related("tiers")


def price_entry_detail(*, book: PriceBook, sku_code: str) -> PriceBookEntry | None:
    return price_entries(book=book).filter(sku__code=sku_code).first()


def adjustments(*, book: PriceBook) -> list[AttributeAdjustment]:
    return list(AttributeAdjustment.objects.filter(book=book).order_by("position", "attribute", "value", "pk"))


def promotion_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Promotion]:
    filters = filters or {}
    promotions = access.visible(user, "promotion")
    if filters.get("status"):
        promotions = promotions.filter(status=filters["status"])
    if filters.get("kind"):
        promotions = promotions.filter(kind=filters["kind"])
    if filters.get("q"):
        q = str(filters["q"]).strip()
        promotions = promotions.filter(Q(code__icontains=q) | Q(name__icontains=q))
    return promotions


def promotion_detail(*, user: User, promotion_id: int) -> Promotion:
    promotion: Promotion = access.get_for_action(user, "promotion", promotion_id, "view")
    return promotion


def coupons_of(*, promotion: Promotion) -> QuerySet[Coupon]:
    return Coupon.objects.filter(promotion=promotion)


def reservations_of(*, reference: str) -> list[PromotionReservation]:
    return list(PromotionReservation.objects.filter(reference=reference).select_related("promotion", "coupon")
                .order_by("promotion__code"))


def margin_policy_get() -> MarginPolicy:
    """The one margin policy row (pk=1), created with the defaults on first read."""
    policy = MarginPolicy.objects.filter(pk=1).first()
    if policy is None:
        policy, _created = MarginPolicy.objects.get_or_create(pk=1)
    return policy


# --- the compiler's read API: plain values ----------------------------------------------------------------
def active_books_rows() -> list[dict[str, Any]]:
    """Every active price book (any currency, any validity: the engine decides applicability), in
    code order, 4 queries. Each book:
    {"id", "code", "name", "currency", "is_base", "priority", "valid_from" (date|None), "valid_to",
     "scope_accounts": [int], "scope_groups": [str], "scope_departments": [int], "scope_regions": [str],
     "version",
     "entries": [{"sku": code, "method", "unit_price" (Decimal), "block_size" (Decimal|None),
                  "markup_percent", "percent", "percent_of": [str], "tier_mode", "floor_price",
                  "tiers": [{"min_quantity", "unit_price", "flat_fee"}] ascending}] by SKU code,
     "adjustments": [{"id", "attribute", "value", "amount" (Decimal|None), "percent", "products": [str],
                      "categories": [str], "position"}] by position}."""
    books = list(PriceBook.objects.filter(status=BookStatus.ACTIVE).order_by("code").values(
        "id", "code", "name", "currency", "is_base", "priority", "valid_from", "valid_to", "scope_accounts",
        "scope_groups", "scope_departments", "scope_regions", "version"))
    if not books:
        return []
    book_ids = [book["id"] for book in books]
    tiers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for tier in PriceTier.objects.filter(entry__book_id__in=book_ids).order_by("entry_id", "min_quantity").values(
            "entry_id", "min_quantity", "unit_price", "flat_fee"):
        entry_id = tier.pop("entry_id")
        tiers[entry_id].append(tier)
    entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entry in PriceBookEntry.objects.filter(book_id__in=book_ids).order_by("book_id", "sku__code").values(
            "id", "book_id", "sku__code", "method", "unit_price", "block_size", "markup_percent", "percent",
            "percent_of", "tier_mode", "floor_price"):
        entry_id, book_id = entry.pop("id"), entry.pop("book_id")
        entry["sku"] = entry.pop("sku__code")
        entry["percent_of"] = sorted(entry["percent_of"] or [])
        entry["tiers"] = tiers.get(entry_id, [])
        entries[book_id].append(entry)
    adjustments_by_book: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in AttributeAdjustment.objects.filter(book_id__in=book_ids).order_by(
            "book_id", "position", "attribute", "value", "id").values(
            "id", "book_id", "attribute", "value", "amount", "percent", "products", "categories", "position"):
        adjustments_by_book[item.pop("book_id")].append(item)
    for book in books:
        book["entries"] = entries.get(book["id"], [])
        book["adjustments"] = adjustments_by_book.get(book["id"], [])
    return books


PROMOTION_ROW_FIELDS = ("id", "code", "name", "kind", "status", "valid_from", "valid_to", "params",
                        "eligible_accounts", "eligible_groups", "eligible_regions", "eligible_departments",
                        "eligible_skus", "eligible_products", "eligible_categories", "stacking_group", "exclusive",
                        "priority", "requires_coupon", "max_uses", "max_discount", "version")


def active_promotions_rows() -> list[dict[str, Any]]:
    """Every active promotion in code order (1 query): the fields of PROMOTION_ROW_FIELDS; datetimes
    aware UTC, `max_discount` in fen, `params` as stored (validated on save). Counters are not here:
    they change per quote and are read live (`promotion_quotas`)."""
    return list(Promotion.objects.filter(status=PromotionStatus.ACTIVE).order_by("code")
                .values(*PROMOTION_ROW_FIELDS))


def promotion_row(code: str) -> dict[str, Any] | None:
    """One promotion by code in any status (the simulation of a draft), shaped as an active row."""
    return Promotion.objects.filter(code=code).values(*PROMOTION_ROW_FIELDS).first()


def promotion_quotas(codes: Iterable[str]) -> dict[str, dict[str, int | None]]:
    """Live counters of the promotions `codes` that have a quota (1 query), by code:
    {"max_uses", "used_count", "reserved_count", "remaining_uses" (None = unlimited),
     "max_discount", "discount_used", "discount_reserved", "remaining_budget" (fen; None = unlimited)}.
    Promotions without max_uses and max_discount are left out (unlimited)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    result: dict[str, dict[str, int | None]] = {}
    for row in Promotion.objects.filter(code__in=wanted).filter(
            Q(max_uses__isnull=False) | Q(max_discount__isnull=False)).values(
            "code", "max_uses", "used_count", "reserved_count", "max_discount", "discount_used", "discount_reserved"):
        code = row.pop("code")
        row["remaining_uses"] = (None if row["max_uses"] is None
                                 else max(0, row["max_uses"] - row["used_count"] - row["reserved_count"]))
        row["remaining_budget"] = (None if row["max_discount"] is None
                                   else max(0, row["max_discount"] - row["discount_used"] - row["discount_reserved"]))
        result[code] = row
    return result


def coupons_by_codes(codes: Iterable[str], account_id: int | None = None) -> dict[str, dict[str, Any]]:
    """The coupons among `codes` (matched case-insensitively; keys upper-case), 1 query: {"code",
    "promotion" (code), "is_active", "max_uses", "used_count", "reserved_count", "remaining_uses"
    (None = unlimited), "per_customer_limit", "customer_uses" (held — reserved or consumed — by
    `account_id`), "customer_remaining" (None = unlimited or no account)}. Unknown codes are absent."""
    wanted = sorted({str(code).strip().upper() for code in codes if str(code).strip()})
    if not wanted:
        return {}
    uses: Any = Value(0)
    if account_id is not None:
        uses = Count("reservations", filter=Q(reservations__status__in=HELD_STATUSES,
                                               reservations__account_id=account_id))
    result: dict[str, dict[str, Any]] = {}
    for row in Coupon.objects.filter(code__in=wanted).annotate(customer_uses=uses).values(
            "code", "promotion__code", "is_active", "max_uses", "used_count", "reserved_count",
            "per_customer_limit", "customer_uses"):
        row["code"] = row["code"].upper()
        row["promotion"] = row.pop("promotion__code")
        row["remaining_uses"] = (None if row["max_uses"] is None
                                 else max(0, row["max_uses"] - row["used_count"] - row["reserved_count"]))
        limit = row["per_customer_limit"]
        row["customer_remaining"] = (None if limit is None or account_id is None
                                     else max(0, limit - row["customer_uses"]))
        result[row["code"]] = row
    return result


def margin_policy_row() -> dict[str, Any]:
    """The margin policy as plain values (2 queries): {"below_cost", "below_cost_level", "below_floor",
    "below_floor_level", "version", "thresholds": [{"name", "min_margin_percent" (Decimal), "level"}]
    highest margin first}."""
    policy = margin_policy_get()
    return {"below_cost": policy.below_cost, "below_cost_level": policy.below_cost_level,
            "below_floor": policy.below_floor, "below_floor_level": policy.below_floor_level,
            "version": policy.version,
            "thresholds": list(policy.thresholds.order_by("-min_margin_percent").values(
                "name", "min_margin_percent", "level"))}
