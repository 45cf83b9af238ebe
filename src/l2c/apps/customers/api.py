"""REST API for accounts and contacts: CRUD, transfer, tags, team, timeline, export."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import TypeAdapter
from typing_extensions import TypedDict

from l2c.api.concurrency import etag_for, expected_version, idempotent
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.activity.selectors import timeline_for
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, ValidationFailed

from . import pool as pool_service
from . import selectors, services
from .models import Account

router = Router(tags=["accounts"])
contacts_router = Router(tags=["contacts"])


# --- schemas --------------------------------------------------------------------------------------
CONFIRM_DUPLICATES = "save although duplicate rules warn (else 409 duplicate_unconfirmed)"


class AccountIn(Schema):
    name: str = Field(..., max_length=200)
    short_name: str = ""
    credit_code: str = ""
    industry: str = ""
    size: str = ""
    province: str = ""
    city: str = ""
    district: str = ""
    address: str = ""
    phone: str = ""
    website: str = ""
    source: str = ""
    level: str = ""
    status: str = ""
    legal_representative: str = ""
    registered_capital: Decimal | None = None
    founded_on: dt.date | None = None
    business_status: str = ""
    owner_id: RecordId | None = None
    pool_id: RecordId | None = Field(None, description="a pool of yours: the owner holds the account under its rules")
    tags: list[str] = []
    custom: dict[str, Any] = {}
    confirm_duplicates: bool = Field(False, description=CONFIRM_DUPLICATES)


class AccountPatch(Schema):
    name: str | None = None
    short_name: str | None = None
    credit_code: str | None = None
    industry: str | None = None
    size: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    address: str | None = None
    phone: str | None = None
    website: str | None = None
    source: str | None = None
    level: str | None = None
    status: str | None = None
    legal_representative: str | None = None
    registered_capital: Decimal | None = None
    founded_on: dt.date | None = None
    business_status: str | None = None
    pool_id: RecordId | None = Field(None, description="move to another pool (null: none); admins and managers only")
    tags: list[str] | None = None
    custom: dict[str, Any] | None = None
    confirm_duplicates: bool = Field(False, description=CONFIRM_DUPLICATES)


class AccountOut(Schema):
    id: int
    name: str
    short_name: str
    credit_code: str
    industry: str
    size: str
    province: str
    city: str
    district: str
    address: str
    phone: str
    website: str
    source: str
    level: str
    status: str
    legal_representative: str
    registered_capital: Decimal | None
    founded_on: dt.date | None
    business_status: str
    owner_id: int | None
    department_id: int | None
    pool_id: int | None = Field(description="the pool the account lies in (no owner) or is held under")
    held_since: dt.datetime | None
    reclaim_due_at: dt.datetime | None = Field(description="when the pool's rules return it to the pool")
    risk_level: str | None = Field(description="risk badge: the highest severity (low, medium, high, critical) "
                                               "among the account's open risk events; null when none")
    tags: list[str]
    custom: dict[str, Any]
    last_followed_up_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_tags(obj: Account | dict[str, Any]) -> list[str]:
        if isinstance(obj, dict):  # an already serialised body (create, idempotent replay)
            return sorted(obj.get("tags") or [])
        return sorted(tag.name for tag in obj.tags.all())


ACCOUNT_OUT_FIELDS = tuple(name for name in AccountOut.model_fields if name != "tags")
# The columns of a list page, resolved once: `.values()` costs a field lookup per name, and every
# page query is a clone of this never-evaluated queryset, narrowed by the choke point and filters.
_ACCOUNT_ROWS = Account.objects.values(*ACCOUNT_OUT_FIELDS)
# The list body as typed dicts, serialised by pydantic-core without validating first: the rows come
# from the ORM with its converters applied (aware datetimes, decimals, JSON), so they already have
# the declared types, and validating 50 rows of 30 fields cost as much as serialising them. The JSON
# is AccountPage's (each row carries "tags" after the columns).
_AccountRow = TypedDict(
    "_AccountRow", {**{name: AccountOut.model_fields[name].annotation for name in ACCOUNT_OUT_FIELDS},  # type: ignore[misc]
                    "tags": list[str]})


class _AccountPageBody(TypedDict):
    items: list[_AccountRow]
    next_cursor: str | None
    previous_cursor: str | None
    count: int | None


_ACCOUNT_PAGE_JSON = TypeAdapter(_AccountPageBody)


class AccountPage(Schema):
    items: list[AccountOut]
    next_cursor: str | None
    previous_cursor: str | None
    count: int | None = None


class AccountFilters(Schema):
    q: str | None = Field(None, max_length=100)
    owner_id: RecordId | None = None
    department_id: RecordId | None = None
    pool_id: RecordId | None = Field(None, description="accounts lying in or held under this pool")
    industry: str | None = None
    province: str | None = None
    city: str | None = None
    status: str | None = None
    level: str | None = None
    size: str | None = None
    source: str | None = None
    tag: str | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    custom: list[str] = Field([], description="custom field filters as key:value", max_length=10)
    rfm_segment: Literal["important_value", "important_development", "important_retention", "important_recovery",
                         "general_value", "general_development", "general_retention", "general_recovery",
                         "none"] | None = Field(None, description="RFM segment code; none = no RFM score")
    risk_level: Literal["any", "low", "medium", "high", "critical"] | None = Field(
        None, description="accounts at this risk level; any = with any open risk event")
    sort: Literal["-updated_at", "updated_at", "name", "-name", "-created_at", "created_at", "-id"] | None = Field(
        None, description="default -updated_at; with q, -id (newest first)")
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)
    with_count: bool = False


class TransferIn(Schema):
    ids: list[RecordId] = Field(..., min_length=1, max_length=10000)
    to_user_id: int
    reason: str = Field("", max_length=255)


class TransferOut(Schema):
    transferred: int


class TagIn(Schema):
    ids: list[RecordId] = Field(..., min_length=1, max_length=10000)
    add: list[str] = []
    remove: list[str] = []


class TagOut(Schema):
    updated: int


class TeamMemberIn(Schema):
    user_id: int
    role: str = Field("", max_length=50)
    access: Literal["read", "edit"] = "read"


class TeamMemberOut(Schema):
    user_id: int
    role: str
    access: str


class TimelineEntryOut(Schema):
    kind: str
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    action: str
    summary: str
    changes: dict[str, Any]


class CountOut(Schema):
    count: int


def _account_filters(filters: AccountFilters) -> dict[str, Any]:
    data = filters.model_dump(exclude={"sort", "cursor", "limit", "with_count"}, exclude_none=True)
    if not data.get("custom"):
        data.pop("custom", None)
    return data


def _with_etag(response: HttpResponse, version: int) -> None:
    response["ETag"] = etag_for(version)


# --- accounts -------------------------------------------------------------------------------------
@router.get("", response={200: AccountPage, **READ_ERRORS}, summary="List accounts the caller may see")
def list_accounts(request: HttpRequest, filters: Query[AccountFilters]) -> Any:
    sort = filters.sort or selectors.default_sort(filters.q)
    # Rows as dicts plus one query for their tags: no model instances on the hot list path.
    rows, stream = selectors.account_page_source(user=request.user, filters=_account_filters(filters), sort=sort,
                                                 rows=_ACCOUNT_ROWS)
    page = keyset_page(rows, sort=sort, allowed_sorts=selectors.ACCOUNT_SORTS, cursor=filters.cursor,
                       limit=filters.limit, stream=stream)
    tags = selectors.account_tag_names([row["id"] for row in page.items])
    items = [{**row, "tags": tags.get(row["id"], [])} for row in page.items]
    body: Any = {"items": items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor,
                 "count": _account_count(request, filters) if filters.with_count else None}
    # Serialised by pydantic-core in one pass; ninja's per-object getter would cost more than the
    # whole SQL of the page. The shape is exactly the declared AccountPage.
    return HttpResponse(_ACCOUNT_PAGE_JSON.dump_json(body), content_type="application/json")


def _account_count(request: HttpRequest, filters: AccountFilters) -> int:
    """Visible accounts matching every filter, the search included (a streamed page's queryset leaves it out)."""
    return selectors.account_list(user=request.user, filters=_account_filters(filters)).count()


@router.get("/count", response={200: CountOut, **READ_ERRORS}, summary="Count visible accounts matching filters")
def count_accounts(request: HttpRequest, filters: Query[AccountFilters]) -> Any:
    return {"count": _account_count(request, filters)}


@router.post("", response={201: AccountOut, **WRITE_ERRORS}, summary="Create an account")
def create_account(request: HttpRequest, payload: AccountIn) -> Any:
    def produce() -> dict[str, Any]:
        account = services.account_create(actor=request.user, data=payload.model_dump())
        return AccountOut.from_orm(account).model_dump(mode="json")

    status, body = idempotent(request, 201, produce)
    return Status(status, body)


# Static paths go before "/{account_id}": Django resolves the first matching route.
@router.post("/transfer", response={200: TransferOut, **WRITE_ERRORS},
             summary="Transfer accounts to another owner (all or nothing)")
def transfer_accounts(request: HttpRequest, payload: TransferIn) -> Any:
    to_user = User.objects.filter(pk=payload.to_user_id, is_active=True).first()
    if to_user is None:
        raise ValidationFailed(_("用户不存在或已停用。"), errors=[
            FieldError("to_user_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": payload.to_user_id}, "not_found")])
    count = pool_service.accounts_transfer(actor=request.user, account_ids=payload.ids, to_user=to_user,
                                           reason=payload.reason)
    return {"transferred": count}


@router.post("/tags", response={200: TagOut, **WRITE_ERRORS}, summary="Add/remove tags on many accounts")
def tag_accounts(request: HttpRequest, payload: TagIn) -> Any:
    return {"updated": services.accounts_tag(actor=request.user, account_ids=payload.ids, add=payload.add,
                                             remove=payload.remove)}


@router.get("/{account_id}", response={200: AccountOut, **READ_ERRORS}, summary="One account")
def get_account(request: HttpRequest, response: HttpResponse, account_id: int) -> Any:
    account = selectors.account_detail(user=request.user, account_id=account_id)
    _with_etag(response, account.version)
    return account


@router.patch("/{account_id}", response={200: AccountOut, **WRITE_ERRORS},
              summary="Update an account (send If-Match with the ETag to avoid lost updates)")
def update_account(request: HttpRequest, response: HttpResponse, account_id: int, payload: AccountPatch) -> Any:
    data = payload.model_dump(exclude_unset=True)
    account = services.account_update(actor=request.user, account_id=account_id, data=data,
                                      expected_version=expected_version(request))
    _with_etag(response, account.version)
    return account


@router.delete("/{account_id}", response={204: None, **WRITE_ERRORS}, summary="Delete an account")
def delete_account(request: HttpRequest, account_id: int) -> Any:
    services.account_delete(actor=request.user, account_id=account_id, expected_version=expected_version(request))
    return Status(204, None)


@router.get("/{account_id}/team", response={200: list[TeamMemberOut], **READ_ERRORS}, summary="Account team")
def list_team(request: HttpRequest, account_id: int) -> Any:
    account = selectors.account_detail(user=request.user, account_id=account_id)
    return [{"user_id": m.user_id, "role": m.role, "access": m.access} for m in account.team.all()]


@router.put("/{account_id}/team", response={200: TeamMemberOut, **WRITE_ERRORS}, summary="Add or change a member")
def set_team_member(request: HttpRequest, account_id: int, payload: TeamMemberIn) -> Any:
    member = services.account_team_set(actor=request.user, account_id=account_id, user_id=payload.user_id,
                                       role=payload.role, access_level=payload.access)
    return {"user_id": member.user_id, "role": member.role, "access": member.access}


@router.delete("/{account_id}/team/{user_id}", response={204: None, **WRITE_ERRORS}, summary="Remove a member")
def remove_team_member(request: HttpRequest, account_id: int, user_id: int) -> Any:
    services.account_team_remove(actor=request.user, account_id=account_id, user_id=user_id)
    return Status(204, None)


@router.get("/{account_id}/timeline", response={200: list[TimelineEntryOut], **READ_ERRORS},
            summary="Audit events, follow-ups and notes of an account, newest first")
def account_timeline(request: HttpRequest, account_id: int, limit: int = Query(100, ge=1, le=500)) -> Any:
    account = selectors.account_detail(user=request.user, account_id=account_id)
    return timeline_for(object_type="account", object_id=account.pk, limit=limit)


# --- contacts -------------------------------------------------------------------------------------
class ContactIn(Schema):
    name: str = Field(..., max_length=100)
    account_id: int
    title: str = ""
    department: str = ""
    mobile: str = ""
    phone: str = ""
    email: str = ""
    wechat: str = ""
    is_primary: bool = False
    reports_to_id: int | None = None
    custom: dict[str, Any] = {}
    confirm_duplicates: bool = Field(False, description=CONFIRM_DUPLICATES)


class ContactPatch(Schema):
    name: str | None = None
    account_id: int | None = None
    title: str | None = None
    department: str | None = None
    mobile: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    is_primary: bool | None = None
    reports_to_id: int | None = None
    custom: dict[str, Any] | None = None
    confirm_duplicates: bool = Field(False, description=CONFIRM_DUPLICATES)


class ContactOut(Schema):
    id: int
    name: str
    account_id: int
    title: str
    department: str
    mobile: str
    phone: str
    email: str
    wechat: str
    is_primary: bool
    reports_to_id: int | None
    custom: dict[str, Any]
    last_followed_up_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None
    previous_cursor: str | None
    count: int | None = None


class ContactFilters(Schema):
    q: str | None = Field(None, max_length=100)
    account_id: int | None = None
    sort: Literal["-updated_at", "name", "-name", "-created_at", "-id"] | None = Field(
        None, description="default -updated_at; with q, -id (newest first)")
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)
    with_count: bool = False


@contacts_router.get("", response={200: ContactPage, **READ_ERRORS}, summary="List contacts the caller may see")
def list_contacts(request: HttpRequest, filters: Query[ContactFilters]) -> Any:
    sort = filters.sort or selectors.default_sort(filters.q)
    searched = filters.model_dump(include={"q", "account_id"})
    queryset, stream = selectors.contact_page_source(user=request.user, filters=searched, sort=sort)
    page = keyset_page(queryset, sort=sort, allowed_sorts=selectors.CONTACT_SORTS, cursor=filters.cursor,
                       limit=filters.limit, stream=stream)
    # The count honours every filter, the search included (a streamed page's queryset leaves it out).
    count = selectors.contact_list(user=request.user, filters=searched).count() if filters.with_count else None
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor,
            "count": count}


@contacts_router.post("", response={201: ContactOut, **WRITE_ERRORS}, summary="Create a contact")
def create_contact(request: HttpRequest, payload: ContactIn) -> Any:
    def produce() -> dict[str, Any]:
        contact = services.contact_create(actor=request.user, data=payload.model_dump())
        return ContactOut.from_orm(contact).model_dump(mode="json")

    status, body = idempotent(request, 201, produce)
    return Status(status, body)


@contacts_router.get("/{contact_id}", response={200: ContactOut, **READ_ERRORS}, summary="One contact")
def get_contact(request: HttpRequest, response: HttpResponse, contact_id: int) -> Any:
    contact = selectors.contact_detail(user=request.user, contact_id=contact_id)
    _with_etag(response, contact.version)
    return contact


@contacts_router.patch("/{contact_id}", response={200: ContactOut, **WRITE_ERRORS}, summary="Update a contact")
def update_contact(request: HttpRequest, response: HttpResponse, contact_id: int, payload: ContactPatch) -> Any:
    contact = services.contact_update(actor=request.user, contact_id=contact_id,
                                      data=payload.model_dump(exclude_unset=True),
                                      expected_version=expected_version(request))
    _with_etag(response, contact.version)
    return contact


@contacts_router.delete("/{contact_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a contact")
def delete_contact(request: HttpRequest, contact_id: int) -> Any:
    services.contact_delete(actor=request.user, contact_id=contact_id, expected_version=expected_version(request))
    return Status(204, None)


@contacts_router.get("/{contact_id}/timeline", response={200: list[TimelineEntryOut], **READ_ERRORS},
                     summary="Audit events, follow-ups and notes of a contact")
def contact_timeline(request: HttpRequest, contact_id: int, limit: int = Query(100, ge=1, le=500)) -> Any:
    contact = selectors.contact_detail(user=request.user, contact_id=contact_id)
    return timeline_for(object_type="contact", object_id=contact.pk, limit=limit)


