"""REST API of price books, promotions, coupons, quota reservations and the margin policy
(mounted at /api/v1/pricing; the preview and simulation endpoints are in `preview_api`).

Books and promotions return an ETag (`"v<version>"`); PATCH and DELETE honour If-Match (412 when
stale). Unit prices, percentages and quantities are decimal strings; budgets and discounts are
integer minor units (fen). Schema names start with `Pricing` (unique across the API).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import etag_for, expected_version
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import InputDatetime, RecordId
from l2c.apps.identity import access
from l2c.kernel.errors import NotFound, PermissionDenied

from . import reservations, selectors, services
from .models import Coupon, PriceBook, PriceBookEntry, PromotionReservation

router = Router(tags=["pricing"])


# --- schemas: price books ------------------------------------------------------------------------------
class PricingTierIn(Schema):
    min_quantity: Decimal
    unit_price: Decimal
    flat_fee: Decimal = Decimal(0)


class PricingTierOut(Schema):
    min_quantity: Decimal
    unit_price: Decimal
    flat_fee: Decimal


class PricingEntryIn(Schema):
    method: Literal["fixed", "block", "cost_plus", "percent_of_total"] = "fixed"
    unit_price: Decimal | None = Field(None, description="fixed: per unit; block: per block (tax-inclusive)")
    block_size: Decimal | None = Field(None, description="block: units per block (> 0)")
    markup_percent: Decimal | None = Field(None, description="cost_plus: cost × (1 + markup %)")
    percent: Decimal | None = Field(None, description="percent_of_total: the percentage")
    percent_of: list[str] = Field([], description='percent_of_total: category codes and/or "type:<product type>"')
    tier_mode: Literal["none", "volume", "graduated"] = "none"
    floor_price: Decimal | None = None
    tiers: list[PricingTierIn] = Field([], max_length=services.MAX_TIERS)


class PricingTiersIn(Schema):
    tier_mode: Literal["none", "volume", "graduated"]
    tiers: list[PricingTierIn] = Field([], max_length=services.MAX_TIERS)


class PricingEntryOut(Schema):
    id: int
    sku: str
    sku_name: str
    method: str
    unit_price: Decimal
    block_size: Decimal | None
    markup_percent: Decimal | None
    percent: Decimal | None
    percent_of: list[str]
    tier_mode: str
    floor_price: Decimal | None
    tiers: list[PricingTierOut]

    @staticmethod
    def resolve_sku(obj: PriceBookEntry) -> str:
        return obj.sku.code

    @staticmethod
    def resolve_sku_name(obj: PriceBookEntry) -> str:
        return obj.sku.name

    @staticmethod
    def resolve_tiers(obj: PriceBookEntry) -> list[Any]:
        return list(obj.tiers.all())


class PricingEntryPage(Schema):
    items: list[PricingEntryOut]
    next_cursor: str | None
    previous_cursor: str | None


class PricingEntryFilters(Schema):
    q: str | None = Field(None, max_length=100, description="SKU code or name contains")
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


SCOPE_DESCRIPTION = ('scope: empty = any; groups "level:key|important|normal" or "tag:<name>"; '
                     'regions "省" or "省/市"; accounts and departments by id')


class PricingBookIn(Schema):
    code: str = Field(..., max_length=60)
    name: str = Field(..., max_length=200)
    currency: str = "CNY"
    is_base: bool = False
    priority: int = 0
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    status: Literal["draft", "active"] = "draft"
    description: str = ""
    scope_accounts: list[RecordId] = Field([], description=SCOPE_DESCRIPTION)
    scope_groups: list[str] = []
    scope_departments: list[RecordId] = []
    scope_regions: list[str] = []


class PricingBookPatch(Schema):
    code: str | None = Field(None, max_length=60)
    name: str | None = Field(None, max_length=200)
    currency: str | None = None
    is_base: bool | None = None
    priority: int | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    description: str | None = None
    scope_accounts: list[RecordId] | None = None
    scope_groups: list[str] | None = None
    scope_departments: list[RecordId] | None = None
    scope_regions: list[str] | None = None


class PricingBookOut(Schema):
    id: int
    code: str
    name: str
    currency: str
    is_base: bool
    priority: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    status: str
    description: str
    scope_accounts: list[int]
    scope_groups: list[str]
    scope_departments: list[int]
    scope_regions: list[str]
    entry_count: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_entry_count(obj: PriceBook) -> int:
        count = getattr(obj, "entry_count", None)
        return int(count) if count is not None else obj.entries.count()


class PricingBookPage(Schema):
    items: list[PricingBookOut]
    next_cursor: str | None
    previous_cursor: str | None


class PricingBookFilters(Schema):
    q: str | None = Field(None, max_length=100)
    status: Literal["draft", "active", "archived"] | None = None
    currency: str | None = Field(None, max_length=3)
    is_base: bool | None = None
    sort: Literal["-priority", "priority", "code", "-updated_at", "-id"] = "-priority"
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


class PricingBookCopyIn(Schema):
    code: str = Field(..., max_length=60)
    name: str = Field("", max_length=200)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class PricingAdjustmentIn(Schema):
    attribute: str = Field(..., max_length=50, description="attribute code")
    value: str = Field(..., max_length=50, description="attribute value code")
    amount: Decimal | None = Field(None, description="+/− per unit (exactly one of amount / percent)")
    percent: Decimal | None = Field(None, description="+/− % of the book price")
    products: list[str] = Field([], description="product codes the adjustment is limited to (empty = any)")
    categories: list[str] = Field([], description="category codes (empty = any)")
    position: int = Field(0, ge=0)


class PricingAdjustmentPatch(Schema):
    attribute: str | None = None
    value: str | None = None
    amount: Decimal | None = None
    percent: Decimal | None = None
    products: list[str] | None = None
    categories: list[str] | None = None
    position: int | None = Field(None, ge=0)


class PricingAdjustmentOut(Schema):
    id: int
    attribute: str
    value: str
    amount: Decimal | None
    percent: Decimal | None
    products: list[str]
    categories: list[str]
    position: int


# --- schemas: promotions -------------------------------------------------------------------------------
PARAMS_DESCRIPTION = ("per kind (ADR 0006): percent_off {percent}; amount_off {amount}; fixed_price / flash_price "
                      "{price}; group_price {price | percent}; quantity_discount {min_quantity, percent}; "
                      "buy_n_get_m {n, m}; nth_item {n, percent}; gift {min_quantity, gift_sku, gift_quantity?, "
                      "repeat?}; free_accessory {accessory_sku, quantity_per_unit?}; bundle {items: [{sku, quantity}], "
                      "price}; spend_save {threshold, amount, repeat?}; spend_percent {threshold, percent}; "
                      "tiered_spend {tiers: [{threshold, amount}]}; coupon {amount | percent, threshold?}. "
                      "Money in currency units (元), percentages in percent.")
PromotionKindName = Literal["percent_off", "amount_off", "fixed_price", "flash_price", "group_price",
                            "quantity_discount", "buy_n_get_m", "nth_item", "gift", "free_accessory", "bundle",
                            "spend_save", "spend_percent", "tiered_spend", "coupon"]


class PricingPromotionIn(Schema):
    code: str = Field(..., max_length=60)
    name: str = Field(..., max_length=200)
    kind: PromotionKindName
    description: str = ""
    valid_from: InputDatetime | None = None
    valid_to: InputDatetime | None = None
    params: dict[str, Any] = Field({}, description=PARAMS_DESCRIPTION)
    eligible_accounts: list[RecordId] = []
    eligible_groups: list[str] = []
    eligible_regions: list[str] = []
    eligible_departments: list[RecordId] = []
    eligible_skus: list[str] = []
    eligible_products: list[str] = []
    eligible_categories: list[str] = []
    stacking_group: str = Field("", max_length=50)
    exclusive: bool = False
    priority: int = 0
    requires_coupon: bool = False
    max_uses: int | None = Field(None, ge=1)
    max_discount: int | None = Field(None, ge=1, description="discount budget in minor units (fen)")


class PricingPromotionPatch(Schema):
    code: str | None = Field(None, max_length=60)
    name: str | None = Field(None, max_length=200)
    kind: PromotionKindName | None = None
    description: str | None = None
    valid_from: InputDatetime | None = None
    valid_to: InputDatetime | None = None
    params: dict[str, Any] | None = None
    eligible_accounts: list[RecordId] | None = None
    eligible_groups: list[str] | None = None
    eligible_regions: list[str] | None = None
    eligible_departments: list[RecordId] | None = None
    eligible_skus: list[str] | None = None
    eligible_products: list[str] | None = None
    eligible_categories: list[str] | None = None
    stacking_group: str | None = Field(None, max_length=50)
    exclusive: bool | None = None
    priority: int | None = None
    requires_coupon: bool | None = None
    max_uses: int | None = Field(None, ge=1)
    max_discount: int | None = Field(None, ge=1)


class PricingPromotionOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    status: str
    description: str
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    params: dict[str, Any]
    eligible_accounts: list[int]
    eligible_groups: list[str]
    eligible_regions: list[str]
    eligible_departments: list[int]
    eligible_skus: list[str]
    eligible_products: list[str]
    eligible_categories: list[str]
    stacking_group: str
    exclusive: bool
    priority: int
    requires_coupon: bool
    max_uses: int | None
    max_discount: int | None
    used_count: int
    reserved_count: int
    discount_used: int
    discount_reserved: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class PricingPromotionPage(Schema):
    items: list[PricingPromotionOut]
    next_cursor: str | None
    previous_cursor: str | None


class PricingPromotionFilters(Schema):
    q: str | None = Field(None, max_length=100)
    status: Literal["draft", "active", "paused", "ended"] | None = None
    kind: PromotionKindName | None = None
    sort: Literal["-priority", "code", "-updated_at", "-id"] = "-priority"
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


class PricingCouponIn(Schema):
    code: str = Field(..., max_length=40)
    max_uses: int | None = Field(1, ge=1, description="1 = single use; null = unlimited")
    per_customer_limit: int | None = Field(None, ge=1)


class PricingCouponGenerateIn(Schema):
    count: int = Field(..., ge=1, le=services.MAX_COUPONS_GENERATED)
    prefix: str = Field("", max_length=16)
    max_uses: int | None = Field(1, ge=1)
    per_customer_limit: int | None = Field(None, ge=1)
    length: int = Field(10, ge=6, le=24, description="random characters after the prefix")


class PricingCouponOut(Schema):
    id: int
    code: str
    promotion_id: int
    max_uses: int | None
    per_customer_limit: int | None
    used_count: int
    reserved_count: int
    is_active: bool
    created_at: dt.datetime


class PricingCouponPage(Schema):
    items: list[PricingCouponOut]
    next_cursor: str | None
    previous_cursor: str | None


class PricingCouponGenerateOut(Schema):
    count: int
    codes: list[str]


# --- schemas: reservations and margin policy ------------------------------------------------------------
class PricingAppliedIn(Schema):
    promotion: str = Field(..., max_length=60, description="promotion code")
    coupon: str | None = Field(None, max_length=40, description="the coupon code that unlocked it")
    discount: int = Field(0, ge=0, description="the discount it gives, minor units (fen)")


class PricingReserveIn(Schema):
    reference: str = Field(..., max_length=80, description="the quote key; re-reserving replaces")
    account_id: RecordId | None = None
    currency: str = Field("CNY", max_length=3)
    applied: list[PricingAppliedIn] = Field(..., max_length=100)


class PricingReservationOut(Schema):
    id: int
    reference: str
    promotion: str
    coupon: str | None
    account_id: int | None
    discount: int
    currency: str
    status: str
    created_at: dt.datetime
    settled_at: dt.datetime | None

    @staticmethod
    def resolve_promotion(obj: PromotionReservation) -> str:
        return obj.promotion.code

    @staticmethod
    def resolve_coupon(obj: PromotionReservation) -> str | None:
        return obj.coupon.code if obj.coupon else None


class PricingSettleOut(Schema):
    settled: int


class PricingThresholdIn(Schema):
    name: str = Field("", max_length=100)
    min_margin_percent: Decimal
    level: int = Field(..., ge=1, le=9)


class PricingThresholdOut(Schema):
    name: str
    min_margin_percent: Decimal
    level: int


class PricingMarginPolicyIn(Schema):
    below_cost: Literal["block", "approval"] | None = None
    below_cost_level: int | None = Field(None, ge=1, le=9)
    below_floor: Literal["block", "approval"] | None = None
    below_floor_level: int | None = Field(None, ge=1, le=9)
    thresholds: list[PricingThresholdIn] | None = Field(None, description="replaces all thresholds when given")


class PricingMarginPolicyOut(Schema):
    below_cost: str
    below_cost_level: int
    below_floor: str
    below_floor_level: int
    thresholds: list[PricingThresholdOut]
    version: int


def _etag(response: HttpResponse, version: int) -> None:
    response["ETag"] = etag_for(version)


def _page(page: Any) -> dict[str, Any]:
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


# --- price books -----------------------------------------------------------------------------------------
@router.get("/price-books", response={200: PricingBookPage, **READ_ERRORS}, summary="List price books")
def list_books(request: HttpRequest, filters: Query[PricingBookFilters]) -> Any:
    access.require(request.user, "price_book", "view")
    books = selectors.price_book_list(user=request.user, filters=filters.model_dump(
        include={"q", "status", "currency", "is_base"}, exclude_none=True))
    return _page(keyset_page(books, sort=filters.sort, allowed_sorts=selectors.BOOK_SORTS, cursor=filters.cursor,
                             limit=filters.limit))


@router.post("/price-books", response={201: PricingBookOut, **WRITE_ERRORS}, summary="Create a price book")
def create_book(request: HttpRequest, response: HttpResponse, payload: PricingBookIn) -> Any:
    book = services.price_book_create(actor=request.user, data=payload.model_dump())
    _etag(response, book.version)
    return Status(201, book)


@router.get("/price-books/{book_id}", response={200: PricingBookOut, **READ_ERRORS}, summary="One price book")
def get_book(request: HttpRequest, response: HttpResponse, book_id: int) -> Any:
    book = selectors.price_book_detail(user=request.user, book_id=book_id)
    _etag(response, book.version)
    return book


@router.patch("/price-books/{book_id}", response={200: PricingBookOut, **WRITE_ERRORS},
              summary="Update a price book's header or scope (If-Match with the ETag)")
def update_book(request: HttpRequest, response: HttpResponse, book_id: int, payload: PricingBookPatch) -> Any:
    book = services.price_book_update(actor=request.user, book_id=book_id, data=payload.model_dump(exclude_unset=True),
                                      expected_version=expected_version(request))
    _etag(response, book.version)
    return book


@router.delete("/price-books/{book_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a price book")
def delete_book(request: HttpRequest, book_id: int) -> Any:
    services.price_book_delete(actor=request.user, book_id=book_id, expected_version=expected_version(request))
    return Status(204, None)


@router.post("/price-books/{book_id}/activate", response={200: PricingBookOut, **WRITE_ERRORS},
             summary="Activate a price book (one active base book per currency)")
def activate_book(request: HttpRequest, response: HttpResponse, book_id: int) -> Any:
    book = services.price_book_activate(actor=request.user, book_id=book_id, expected_version=expected_version(request))
    _etag(response, book.version)
    return book


@router.post("/price-books/{book_id}/archive", response={200: PricingBookOut, **WRITE_ERRORS},
             summary="Archive a price book")
def archive_book(request: HttpRequest, response: HttpResponse, book_id: int) -> Any:
    book = services.price_book_archive(actor=request.user, book_id=book_id, expected_version=expected_version(request))
    _etag(response, book.version)
    return book


@router.post("/price-books/{book_id}/copy", response={201: PricingBookOut, **WRITE_ERRORS},
             summary="Copy a price book with its entries, tiers and adjustments (a draft)")
def copy_book(request: HttpRequest, book_id: int, payload: PricingBookCopyIn) -> Any:
    book = services.price_book_copy(actor=request.user, book_id=book_id, code=payload.code, name=payload.name,
                                    valid_from=payload.valid_from, valid_to=payload.valid_to)
    return Status(201, book)


@router.get("/price-books/{book_id}/entries", response={200: PricingEntryPage, **READ_ERRORS},
            summary="Entries of a price book (cursor pages by id)")
def list_entries(request: HttpRequest, book_id: int, filters: Query[PricingEntryFilters]) -> Any:
    book = selectors.price_book_detail(user=request.user, book_id=book_id)
    entries = selectors.price_entries(book=book, q=filters.q)
    return _page(keyset_page(entries, sort="id", allowed_sorts=selectors.ENTRY_SORTS, cursor=filters.cursor,
                             limit=filters.limit))


def _entry(book: PriceBook, sku_code: str) -> PriceBookEntry:
    entry = selectors.price_entry_detail(book=book, sku_code=sku_code)
    if entry is None:
        raise NotFound(_("价目表中没有 SKU“%(code)s”。") % {"code": sku_code[:80]})
    return entry


@router.get("/price-books/{book_id}/entries/{sku_code}", response={200: PricingEntryOut, **READ_ERRORS},
            summary="The entry of one SKU")
def get_entry(request: HttpRequest, book_id: int, sku_code: str) -> Any:
    return _entry(selectors.price_book_detail(user=request.user, book_id=book_id), sku_code)


@router.put("/price-books/{book_id}/entries/{sku_code}", response={200: PricingEntryOut, **WRITE_ERRORS},
            summary="Set the price of one SKU (tiers included; replaces the entry)")
def put_entry(request: HttpRequest, book_id: int, sku_code: str, payload: PricingEntryIn) -> Any:
    services.price_entry_upsert(actor=request.user, book_id=book_id, sku_code=sku_code,
                                data=payload.model_dump())
    return _entry(PriceBook.objects.get(pk=book_id), sku_code)


@router.put("/price-books/{book_id}/entries/{sku_code}/tiers", response={200: PricingEntryOut, **WRITE_ERRORS},
            summary="Replace the tiers of one entry")
def put_tiers(request: HttpRequest, book_id: int, sku_code: str, payload: PricingTiersIn) -> Any:
    services.price_tiers_replace(actor=request.user, book_id=book_id, sku_code=sku_code, tier_mode=payload.tier_mode,
                                 tiers=[tier.model_dump() for tier in payload.tiers])
    return _entry(PriceBook.objects.get(pk=book_id), sku_code)


@router.delete("/price-books/{book_id}/entries/{sku_code}", response={204: None, **WRITE_ERRORS},
               summary="Remove one SKU from a price book")
def delete_entry(request: HttpRequest, book_id: int, sku_code: str) -> Any:
    services.price_entry_delete(actor=request.user, book_id=book_id, sku_code=sku_code)
    return Status(204, None)


@router.get("/price-books/{book_id}/adjustments", response={200: list[PricingAdjustmentOut], **READ_ERRORS},
            summary="Attribute adjustments of a price book")
def list_adjustments(request: HttpRequest, book_id: int) -> Any:
    return selectors.adjustments(book=selectors.price_book_detail(user=request.user, book_id=book_id))


@router.post("/price-books/{book_id}/adjustments", response={201: PricingAdjustmentOut, **WRITE_ERRORS},
             summary="Add an attribute adjustment")
def create_adjustment(request: HttpRequest, book_id: int, payload: PricingAdjustmentIn) -> Any:
    return Status(201, services.attribute_adjustment_create(actor=request.user, book_id=book_id,
                                                            data=payload.model_dump()))


@router.patch("/price-books/{book_id}/adjustments/{adjustment_id}",
              response={200: PricingAdjustmentOut, **WRITE_ERRORS}, summary="Change an attribute adjustment")
def update_adjustment(request: HttpRequest, book_id: int, adjustment_id: int, payload: PricingAdjustmentPatch) -> Any:
    return services.attribute_adjustment_update(actor=request.user, book_id=book_id, adjustment_id=adjustment_id,
                                                data=payload.model_dump(exclude_unset=True))


@router.delete("/price-books/{book_id}/adjustments/{adjustment_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete an attribute adjustment")
def delete_adjustment(request: HttpRequest, book_id: int, adjustment_id: int) -> Any:
    services.attribute_adjustment_delete(actor=request.user, book_id=book_id, adjustment_id=adjustment_id)
    return Status(204, None)


# --- promotions --------------------------------------------------------------------------------------------
@router.get("/promotions", response={200: PricingPromotionPage, **READ_ERRORS}, summary="List promotions")
def list_promotions(request: HttpRequest, filters: Query[PricingPromotionFilters]) -> Any:
    access.require(request.user, "promotion", "view")
    promotions = selectors.promotion_list(user=request.user, filters=filters.model_dump(
        include={"q", "status", "kind"}, exclude_none=True))
    return _page(keyset_page(promotions, sort=filters.sort, allowed_sorts=selectors.PROMOTION_SORTS,
                             cursor=filters.cursor, limit=filters.limit))


@router.post("/promotions", response={201: PricingPromotionOut, **WRITE_ERRORS}, summary="Create a promotion")
def create_promotion(request: HttpRequest, response: HttpResponse, payload: PricingPromotionIn) -> Any:
    promotion = services.promotion_create(actor=request.user, data=payload.model_dump())
    _etag(response, promotion.version)
    return Status(201, promotion)


@router.get("/promotions/{promotion_id}", response={200: PricingPromotionOut, **READ_ERRORS}, summary="One promotion")
def get_promotion(request: HttpRequest, response: HttpResponse, promotion_id: int) -> Any:
    promotion = selectors.promotion_detail(user=request.user, promotion_id=promotion_id)
    _etag(response, promotion.version)
    return promotion


@router.patch("/promotions/{promotion_id}", response={200: PricingPromotionOut, **WRITE_ERRORS},
              summary="Update a promotion (If-Match with the ETag)")
def update_promotion(request: HttpRequest, response: HttpResponse, promotion_id: int,
                     payload: PricingPromotionPatch) -> Any:
    promotion = services.promotion_update(actor=request.user, promotion_id=promotion_id,
                                          data=payload.model_dump(exclude_unset=True),
                                          expected_version=expected_version(request))
    _etag(response, promotion.version)
    return promotion


@router.delete("/promotions/{promotion_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete an unused promotion")
def delete_promotion(request: HttpRequest, promotion_id: int) -> Any:
    services.promotion_delete(actor=request.user, promotion_id=promotion_id,
                              expected_version=expected_version(request))
    return Status(204, None)


def _transition(name: str) -> Any:
    service = {"activate": services.promotion_activate, "pause": services.promotion_pause,
               "end": services.promotion_end}[name]

    def handler(request: HttpRequest, response: HttpResponse, promotion_id: int) -> Any:
        promotion = service(actor=request.user, promotion_id=promotion_id)
        _etag(response, promotion.version)
        return promotion

    handler.__name__ = f"{name}_promotion"
    return handler


for _name, _summary in (("activate", "Activate a promotion (draft or paused)"), ("pause", "Pause an active promotion"),
                        ("end", "End a promotion")):
    router.post(f"/promotions/{{promotion_id}}/{_name}", response={200: PricingPromotionOut, **WRITE_ERRORS},
                summary=_summary)(_transition(_name))


@router.get("/promotions/{promotion_id}/coupons", response={200: PricingCouponPage, **READ_ERRORS},
            summary="Coupons of a promotion (cursor pages by code)")
def list_coupons(request: HttpRequest, promotion_id: int, cursor: str | None = Query(None, max_length=2048),
                 limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200)) -> Any:
    promotion = selectors.promotion_detail(user=request.user, promotion_id=promotion_id)
    return _page(keyset_page(selectors.coupons_of(promotion=promotion), sort="code",
                             allowed_sorts=selectors.COUPON_SORTS, cursor=cursor, limit=limit))


@router.post("/promotions/{promotion_id}/coupons", response={201: PricingCouponOut, **WRITE_ERRORS},
             summary="Create one coupon code")
def create_coupon(request: HttpRequest, promotion_id: int, payload: PricingCouponIn) -> Any:
    return Status(201, services.coupon_create(actor=request.user, promotion_id=promotion_id, code=payload.code,
                                              max_uses=payload.max_uses,
                                              per_customer_limit=payload.per_customer_limit))


@router.post("/promotions/{promotion_id}/coupons/generate", response={201: PricingCouponGenerateOut, **WRITE_ERRORS},
             summary="Generate unique random coupon codes")
def generate_coupons(request: HttpRequest, promotion_id: int, payload: PricingCouponGenerateIn) -> Any:
    coupons = services.coupons_generate(actor=request.user, promotion_id=promotion_id, **payload.model_dump())
    return Status(201, {"count": len(coupons), "codes": [coupon.code for coupon in coupons]})


@router.post("/promotions/{promotion_id}/coupons/{coupon_id}/deactivate",
             response={200: PricingCouponOut, **WRITE_ERRORS}, summary="Deactivate a coupon")
def deactivate_coupon(request: HttpRequest, promotion_id: int, coupon_id: int) -> Any:
    if not Coupon.objects.filter(pk=coupon_id, promotion_id=promotion_id).exists():
        selectors.promotion_detail(user=request.user, promotion_id=promotion_id)
        raise NotFound(_("这个促销没有 ID 为 %(id)s 的优惠券。") % {"id": coupon_id})
    return services.coupon_deactivate(actor=request.user, coupon_id=coupon_id)


# --- reservations ------------------------------------------------------------------------------------------
def _require_reserve(request: HttpRequest) -> None:
    # Quotes (a later issue) will reserve with their own permission; until then: edit on promotions.
    access.require(request.user, "promotion", "edit")


@router.post("/reservations", response={200: list[PricingReservationOut], **WRITE_ERRORS},
             summary="Reserve promotion and coupon uses for a quote (all or nothing)")
def reserve(request: HttpRequest, payload: PricingReserveIn) -> Any:
    _require_reserve(request)
    rows = reservations.promotion_reserve(
        reference=payload.reference, account_id=payload.account_id, currency=payload.currency, actor=request.user,
        applied=[reservations.Applied(item.promotion, item.coupon, item.discount) for item in payload.applied])
    return selectors.reservations_of(reference=rows[0].reference if rows else payload.reference.strip())


@router.get("/reservations/{reference}", response={200: list[PricingReservationOut], **READ_ERRORS},
            summary="Reservations of a quote")
def get_reservations(request: HttpRequest, reference: str) -> Any:
    access.require(request.user, "promotion", "view")
    return selectors.reservations_of(reference=reference)


@router.post("/reservations/{reference}/consume", response={200: PricingSettleOut, **WRITE_ERRORS},
             summary="The quote was accepted: reserved uses become used (idempotent)")
def consume(request: HttpRequest, reference: str) -> Any:
    _require_reserve(request)
    return {"settled": reservations.promotion_consume(reference=reference, actor=request.user)}


@router.post("/reservations/{reference}/release", response={200: PricingSettleOut, **WRITE_ERRORS},
             summary="Free the reserved uses of a quote (idempotent)")
def release(request: HttpRequest, reference: str) -> Any:
    _require_reserve(request)
    return {"settled": reservations.promotion_release(reference=reference, actor=request.user)}


# --- margin policy -----------------------------------------------------------------------------------------
def _policy_body(response: HttpResponse) -> dict[str, Any]:
    row = selectors.margin_policy_row()
    _etag(response, row["version"])
    return row


@router.get("/margin-policy", response={200: PricingMarginPolicyOut, **READ_ERRORS}, summary="The margin policy")
def get_margin_policy(request: HttpRequest, response: HttpResponse) -> Any:
    user = request.user
    if not (access.can(user, "price_book", "view") or access.is_admin(user)):
        raise PermissionDenied(_("你没有查看毛利管控策略的权限。"))
    return _policy_body(response)


@router.put("/margin-policy", response={200: PricingMarginPolicyOut, **WRITE_ERRORS},
            summary="Change the margin policy (admins; thresholds replaced when given)")
def put_margin_policy(request: HttpRequest, response: HttpResponse, payload: PricingMarginPolicyIn) -> Any:
    data = payload.model_dump(exclude_none=True)
    services.margin_policy_save(actor=request.user, data=data, expected_version=expected_version(request))
    return _policy_body(response)


__all__ = ["router"]
