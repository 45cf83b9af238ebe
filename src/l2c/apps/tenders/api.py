"""REST API of tender intelligence (招投标, ADR 0004), mounted under /api/v1: ingest notices in
batches, list and read them, manage one's subscriptions (and search existing notices with one), and
the inbox of matches with its unread count."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import WithJsonSchema

from l2c.api.concurrency import idempotent
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.identity import access

from . import selectors, services

router = Router(tags=["tenders"])

Kind = Literal["tender", "award", "change"]


def _loose(schema: dict[str, Any]) -> WithJsonSchema:
    """Any JSON value at parsing, documented as `schema` or null (see NoticeIn)."""
    return WithJsonSchema({"anyOf": [schema, {"type": "null"}]})


LooseAmount = Annotated[Any, _loose({"type": "integer", "minimum": 0})]
LooseDate = Annotated[Any, _loose({"type": "string", "format": "date"})]
LooseDatetime = Annotated[Any, _loose({"type": "string", "format": "date-time"})]


class NoticeIn(Schema):
    source: str = Field(..., description="the data provider, e.g. ccgp; with source_notice_id it identifies the notice")
    source_notice_id: str = Field(..., description="the provider's id of the notice")
    kind: str = Field("tender", description="tender, award or change (or the label 招标公告 / 中标公告 / 变更公告)")
    title: str
    buyer_name: str = ""
    province: str = Field("", description="e.g. 广东省")
    city: str = Field("", description="e.g. 深圳市")
    # Amounts and dates accept any JSON value at parsing (the schema documents the contract): a
    # wrong one is reported per item by `services.clean_notice` (422 with `items`, translated), like
    # every other problem of the batch, not as a schema error of the whole request.
    budget_amount: LooseAmount = Field(
        None, description="budget in minor units (分), an integer; null when not stated")
    currency: str = "CNY"
    published_on: LooseDate = Field(None, description="YYYY-MM-DD")
    deadline_at: LooseDatetime = Field(
        None, description="ISO 8601 date and time; without an offset it is in the site's time zone")
    categories: list[str] = Field(default_factory=list, description="procurement categories (品目)")
    content: str = Field("", description="the notice's text (plain text; at most 100,000 characters)")
    url: str = Field("", description="link to the original notice")


class NoticeBatchIn(Schema):
    items: list[NoticeIn] = Field(..., min_length=1, max_length=services.MAX_BATCH)


class IngestItemOut(Schema):
    index: int = Field(description="position of the item in the request")
    source: str
    source_notice_id: str
    status: Literal["created", "unchanged", "duplicate"] = Field(
        description="created; unchanged: stored before (left as it was); duplicate: repeats item duplicate_of")
    id: int | None
    duplicate_of: int | None = None


class IngestOut(Schema):
    batch_id: int
    created: int
    unchanged: int
    items: list[IngestItemOut]


class NoticeOut(Schema):
    id: int
    source: str
    source_notice_id: str
    kind: str
    title: str
    buyer_name: str
    province: str
    city: str
    budget_amount: int | None
    currency: str
    published_on: dt.date | None
    deadline_at: dt.datetime | None
    categories: list[str]
    url: str
    created_at: dt.datetime


class NoticeDetailOut(NoticeOut):
    content: str
    batch_id: int | None
    matched_at: dt.datetime | None


class NoticePage(Schema):
    items: list[NoticeOut]
    next_cursor: str | None
    previous_cursor: str | None


class NoticeFilters(Schema):
    q: str | None = Field(None, max_length=100, description="title or buyer contains")
    kind: Kind | None = None
    province: str | None = Field(None, max_length=30, description="province (广东 finds 广东省)")
    published_from: dt.date | None = None
    published_to: dt.date | None = None
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


@router.post("/tenders/notices/batch", response={200: IngestOut, **WRITE_ERRORS},
             summary="Ingest tender notices (batch, all or nothing; idempotent by source + source_notice_id)",
             description="Needs the import permission on tender notices. Any invalid item rejects the batch: "
                         "422 with errors at items.<index>.<field> and `items` listing index, source_notice_id, "
                         "field and message. A notice stored before is reported unchanged and not modified. New "
                         "notices are matched against subscriptions in the background. Honours Idempotency-Key.")
def ingest(request: HttpRequest, payload: NoticeBatchIn) -> Any:
    def produce() -> dict[str, Any]:
        result = services.tender_batch_ingest(actor=request.user, items=[item.model_dump() for item in payload.items])
        return {"batch_id": result.batch_id, "created": result.created, "unchanged": result.unchanged,
                "items": [item.__dict__ for item in result.items]}

    status, body = idempotent(request, 200, produce)
    return Status(status, body)


@router.get("/tenders/notices", response={200: NoticePage, **READ_ERRORS},
            summary="Tender notices, newest first (cursor pagination)")
def list_notices(request: HttpRequest, filters: Query[NoticeFilters]) -> Any:
    data = filters.model_dump(exclude={"cursor", "limit"}, exclude_none=True)
    notices = selectors.tender_notice_list(user=request.user, filters=data)
    page = keyset_page(notices, sort="-id", allowed_sorts=selectors.NOTICE_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.get("/tenders/notices/{notice_id}", response={200: NoticeDetailOut, **READ_ERRORS},
            summary="One tender notice with its content")
def get_notice(request: HttpRequest, notice_id: int) -> Any:
    return selectors.tender_notice_get(user=request.user, notice_id=notice_id)


# --- subscriptions --------------------------------------------------------------------------------
class SubscriptionIn(Schema):
    name: str = Field(..., description="at most 100 characters")
    keywords: list[str] = Field(..., description="at least one; at most 20 of 50 characters")
    match_all: bool = Field(False, description="true: every keyword must occur; false: any")
    excluded_words: list[str] = Field(default_factory=list, description="a notice containing one is not pushed")
    regions: list[str] = Field(default_factory=list, description='"广东" (any city) or "广东/深圳"; empty: all')
    budget_min: int | None = Field(None, description="inclusive, in 分; with a bound set, notices without budget "
                                                     "are not pushed")
    budget_max: int | None = Field(None, description="inclusive, in 分")
    kinds: list[Kind] = Field(default_factory=list, description="empty: every kind")
    webhook_url: str = Field("", description="optional; POSTed the new matches as JSON; allowed hosts only")
    is_active: bool = True


class SubscriptionPatch(Schema):
    name: str | None = None
    keywords: list[str] | None = None
    match_all: bool | None = None
    excluded_words: list[str] | None = None
    regions: list[str] | None = None
    budget_min: int | None = None
    budget_max: int | None = None
    kinds: list[Kind] | None = None
    webhook_url: str | None = None
    is_active: bool | None = None


class SubscriptionOut(Schema):
    id: int
    user_id: int
    name: str
    keywords: list[str]
    match_all: bool
    excluded_words: list[str]
    regions: list[str]
    budget_min: int | None
    budget_max: int | None
    kinds: list[str]
    webhook_url: str
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SearchHitOut(Schema):
    notice: NoticeOut
    matched_keywords: list[str]


class SearchOut(Schema):
    days: int
    scanned: int = Field(description="notices checked (at most 20,000 of the newest candidates)")
    items: list[SearchHitOut]


@router.get("/tenders/subscriptions", response={200: list[SubscriptionOut], **READ_ERRORS},
            summary="The caller's tender subscriptions")
def list_subscriptions(request: HttpRequest) -> Any:
    access.require(request.user, "tender_subscription", "view")
    return list(selectors.tender_subscription_list(user=request.user))


@router.post("/tenders/subscriptions", response={201: SubscriptionOut, **WRITE_ERRORS},
             summary="Create a subscription (pushed the notices arriving from now on)")
def create_subscription(request: HttpRequest, payload: SubscriptionIn) -> Any:
    return Status(201, services.tender_subscription_create(actor=request.user, data=payload.model_dump()))


@router.get("/tenders/subscriptions/{subscription_id}", response={200: SubscriptionOut, **READ_ERRORS},
            summary="One of the caller's subscriptions")
def get_subscription(request: HttpRequest, subscription_id: int) -> Any:
    return selectors.tender_subscription_get(user=request.user, subscription_id=subscription_id)


@router.patch("/tenders/subscriptions/{subscription_id}", response={200: SubscriptionOut, **WRITE_ERRORS},
              summary="Change a subscription (only the fields sent)")
def update_subscription(request: HttpRequest, subscription_id: int, payload: SubscriptionPatch) -> Any:
    return services.tender_subscription_update(actor=request.user, subscription_id=subscription_id,
                                               data=payload.model_dump(exclude_unset=True))


@router.delete("/tenders/subscriptions/{subscription_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete a subscription and its matches (the notices stay)")
def delete_subscription(request: HttpRequest, subscription_id: int) -> Any:
    services.tender_subscription_delete(actor=request.user, subscription_id=subscription_id)
    return Status(204, None)


@router.get("/tenders/subscriptions/{subscription_id}/search", response={200: SearchOut, **READ_ERRORS},
            summary="Stored notices of the last days the subscription matches (shown, never pushed)")
def search_subscription(request: HttpRequest, subscription_id: int,
                        days: int = Query(30, ge=1, le=services.SEARCH_DAYS_MAX)) -> Any:
    found, scanned = selectors.tender_subscription_search(user=request.user, subscription_id=subscription_id,
                                                          days=days)
    return {"days": days, "scanned": scanned,
            "items": [{"notice": notice, "matched_keywords": list(keywords)} for notice, keywords in found]}


# --- inbox ----------------------------------------------------------------------------------------
class InboxItemOut(Schema):
    id: int
    subscription_id: int
    subscription_name: str
    notice: NoticeOut
    matched_keywords: list[str]
    read_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_subscription_name(obj: Any) -> str:
        return str(obj.subscription.name)


class InboxPage(Schema):
    unread_count: int
    items: list[InboxItemOut]
    next_cursor: str | None
    previous_cursor: str | None


class InboxFilters(Schema):
    unread_only: bool = False
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


class ReadIn(Schema):
    ids: list[RecordId] | None = Field(None, max_length=1000, description="the matches to mark read; null: all")


class ReadOut(Schema):
    updated: int
    unread_count: int


@router.get("/tenders/inbox", response={200: InboxPage, **READ_ERRORS},
            summary="The caller's pushed notices (matches), newest first, with the unread count")
def inbox(request: HttpRequest, filters: Query[InboxFilters]) -> Any:
    access.require(request.user, "tender_notice", "view")
    matches = selectors.tender_inbox(user=request.user, unread_only=filters.unread_only).select_related(
        "subscription", "notice").defer("notice__content")
    page = keyset_page(matches, sort="-id", allowed_sorts=selectors.NOTICE_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"unread_count": selectors.tender_unread_count(user=request.user), "items": page.items,
            "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.post("/tenders/inbox/read", response={200: ReadOut, **WRITE_ERRORS},
             summary="Mark pushed notices read (the given ids, or all)")
def inbox_read(request: HttpRequest, payload: ReadIn) -> Any:
    access.require(request.user, "tender_notice", "view")
    updated = services.tender_matches_mark_read(user=request.user, ids=payload.ids)
    return {"updated": updated, "unread_count": selectors.tender_unread_count(user=request.user)}


__all__ = ["router"]
