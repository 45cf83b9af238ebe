"""REST API of the marketing app (mounted under /api/v1): campaigns, their tree, cost items, members,
check-in, ROI and attribution."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import etag_for, expected_version, idempotent
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.identity import access
from l2c.engines.attribution import MODELS

from . import selectors, services
from .models import Campaign, CampaignAttribution, CampaignCost, CampaignMember
from .roi import Figures, campaign_tree_roi

router = Router(tags=["campaigns"])

Kind = Literal["conference", "exhibition", "seminar", "webinar", "email", "advertising", "content", "other"]
Status_ = Literal["planned", "inviting", "registration_open", "in_progress", "completed", "closed"]
MemberStatusLiteral = Literal["invited", "registered", "checked_in", "no_show"]
MONEY_HELP = "yuan as a decimal string (\"12800.00\"); stored in fen"


class RegistrationFieldIn(Schema):
    field: Literal[tuple(services.REGISTRATION_FIELD_LENGTHS)]  # type: ignore[valid-type]
    required: bool = False


class CampaignIn(Schema):
    name: str = Field(..., max_length=200)
    kind: Kind = "other"
    is_online: bool = False
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    location: str = Field("", max_length=200)
    description: str = Field("", max_length=5000)
    budget: Decimal = Field(Decimal(0), description=MONEY_HELP, ge=0, max_digits=15, decimal_places=2)
    currency: str | None = Field(None, max_length=3,
                                 description="ISO 4217; default the parent's (a child must share it), else CNY")
    parent_id: RecordId | None = None
    owner_id: RecordId | None = None
    registration_enabled: bool = False
    registration_fields: list[RegistrationFieldIn] = Field([], max_length=20)
    registration_capacity: int | None = Field(None, ge=1, le=1_000_000)


class CampaignPatch(Schema):
    name: str | None = Field(None, max_length=200)
    kind: Kind | None = None
    is_online: bool | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    location: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)
    budget: Decimal | None = Field(None, description=MONEY_HELP, ge=0, max_digits=15, decimal_places=2)
    parent_id: RecordId | None = Field(None, description="null: a top-level campaign")
    owner_id: RecordId | None = Field(None, description="needs the transfer permission")
    registration_enabled: bool | None = None
    registration_fields: list[RegistrationFieldIn] | None = Field(None, max_length=20)
    registration_capacity: int | None = Field(None, ge=1, le=1_000_000)


class CampaignOut(Schema):
    id: int
    name: str
    kind: str
    is_online: bool
    status: str
    allowed_next_statuses: list[str]
    parent_id: int | None
    path: str
    depth: int
    starts_on: dt.date | None
    ends_on: dt.date | None
    location: str
    description: str
    budget_amount: int = Field(description="fen")
    currency: str
    owner_id: int | None
    department_id: int | None
    registration_enabled: bool
    registration_fields: list[dict[str, Any]]
    registration_capacity: int | None
    public_path: str = Field(description="the public registration page (no login)")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    # An already serialised body (create, idempotent replay) is a dict and keeps its values.
    @staticmethod
    def resolve_allowed_next_statuses(obj: Campaign | dict[str, Any]) -> list[str]:
        if isinstance(obj, dict):
            return list(obj["allowed_next_statuses"])
        return services.allowed_next_statuses(obj.status)

    @staticmethod
    def resolve_depth(obj: Campaign | dict[str, Any]) -> int:
        return int(obj["depth"]) if isinstance(obj, dict) else selectors.depth_of(obj.path)

    @staticmethod
    def resolve_public_path(obj: Campaign | dict[str, Any]) -> str:
        return str(obj["public_path"]) if isinstance(obj, dict) else f"/r/{obj.public_token}/"

    @staticmethod
    def resolve_registration_fields(obj: Campaign | dict[str, Any]) -> list[dict[str, Any]]:
        if isinstance(obj, dict):
            return list(obj["registration_fields"])
        return services.registration_fields_of(obj)


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_cursor: str | None
    previous_cursor: str | None


class CampaignFilters(Schema):
    q: str | None = Field(None, max_length=100)
    status: Status_ | None = None
    kind: Kind | None = None
    parent_id: RecordId | None = None
    root: bool = Field(False, description="top-level campaigns only")
    owner_id: RecordId | None = None
    sort: Literal["-id", "-updated_at", "name"] = "-id"
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


class TreeNodeOut(Schema):
    id: int
    name: str
    status: str
    kind: str
    parent_id: int | None
    depth: int
    starts_on: dt.date | None


class StatusIn(Schema):
    status: Status_


class CostIn(Schema):
    category: str = Field(..., max_length=50)
    description: str = Field("", max_length=200)
    planned: Decimal = Field(Decimal(0), description=MONEY_HELP, ge=0, max_digits=15, decimal_places=2)
    actual: Decimal | None = Field(None, description=MONEY_HELP + "; null: not incurred yet", ge=0, max_digits=15,
                                   decimal_places=2)
    incurred_on: dt.date | None = None


class CostPatch(Schema):
    category: str | None = Field(None, max_length=50)
    description: str | None = Field(None, max_length=200)
    planned: Decimal | None = Field(None, ge=0, max_digits=15, decimal_places=2)
    actual: Decimal | None = Field(None, ge=0, max_digits=15, decimal_places=2)
    incurred_on: dt.date | None = None


class CostOut(Schema):
    id: int
    category: str
    description: str
    planned_amount: int = Field(description="fen")
    actual_amount: int | None = Field(description="fen; null: not incurred yet")
    incurred_on: dt.date | None
    created_at: dt.datetime


class PersonOut(Schema):
    kind: str = Field(description="lead or contact")
    id: int
    name: str
    company: str
    mobile: str
    email: str


class MemberOut(Schema):
    id: int
    lead_id: int | None
    contact_id: int | None
    person: PersonOut
    status: str
    source: str
    invited_at: dt.datetime | None
    registered_at: dt.datetime | None
    checked_in_at: dt.datetime | None
    no_show_at: dt.datetime | None
    checkin_path: str = Field(description="staff check-in link (what the member's QR code encodes)")

    @staticmethod
    def resolve_person(obj: CampaignMember) -> dict[str, Any]:
        return selectors.member_person(obj)

    @staticmethod
    def resolve_checkin_path(obj: CampaignMember) -> str:
        return f"/campaigns/checkin/{obj.checkin_token}/"


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None
    previous_cursor: str | None
    counts: dict[str, int] = Field(description="members by status (all members of the campaign)")


class MemberFilters(Schema):
    status: MemberStatusLiteral | None = None
    q: str | None = Field(None, max_length=100, description="name, mobile, e-mail or company")
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


class InviteIn(Schema):
    lead_ids: list[RecordId] = Field([], max_length=services.MAX_BULK_MEMBERS)
    contact_ids: list[RecordId] = Field([], max_length=services.MAX_BULK_MEMBERS)


class LeadFilterIn(Schema):
    filters: dict[str, str] = Field(..., description="lead filters: " + ", ".join(
        (*services.LEAD_FILTERS, "q", "created_from", "created_to")))


class InviteOut(Schema):
    invited: int = Field(description="new members")
    already: int = Field(description="already members (unchanged)")


class MemberStatusIn(Schema):
    member_ids: list[RecordId] = Field(..., min_length=1, max_length=services.MAX_BULK_MEMBERS)
    status: Literal["registered", "checked_in", "no_show"]


class ChangedOut(Schema):
    changed: int


class CheckInOut(Schema):
    member: MemberOut
    already: bool = Field(description="was checked in before")


class FiguresOut(Schema):
    cost: int = Field(description="fen: per cost item the actual amount, else the planned one")
    planned_cost: int
    actual_cost: int
    members: dict[str, int]
    member_total: int
    registered_total: int
    leads: int
    qualified_leads: int
    opportunities: int
    pipeline_amount: int
    won: dict[str, int] = Field(description="fen per attribution model: " + ", ".join(MODELS))
    won_deals: int
    roi: dict[str, Decimal | None] = Field(description="(won − cost) / cost per model; null when the cost is 0")
    cost_per_lead: int | None = Field(description="fen; null without leads")


class RoiChildOut(Schema):
    id: int
    name: str
    figures: FiguresOut


class RoiOut(Schema):
    campaign_id: int
    currency: str
    rollup: bool
    figures: FiguresOut
    people: int | None = Field(description="distinct persons over the subtree (roll-up only)")
    children: list[RoiChildOut] = Field(description="direct children, each rolled up (roll-up only)")


class AttributionOut(Schema):
    id: int
    campaign_id: int
    model: str
    source: str
    source_id: int
    account_id: int | None
    amount: int
    currency: str
    won_at: dt.datetime


class AttributionPage(Schema):
    items: list[AttributionOut]
    next_cursor: str | None
    previous_cursor: str | None


def _with_etag(response: HttpResponse, version: int) -> None:
    response["ETag"] = etag_for(version)


def _campaign_data(payload: Schema, *, partial: bool) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=partial)
    if "registration_fields" in data and data["registration_fields"] is not None:
        data["registration_fields"] = [dict(item) for item in data["registration_fields"]]
    if "budget" in data and data["budget"] is not None:
        data["budget"] = str(data["budget"])
    return data


# --- campaigns ----------------------------------------------------------------------------------------
@router.get("/campaigns", response={200: CampaignPage, **READ_ERRORS}, summary="List campaigns the caller may see")
def list_campaigns(request: HttpRequest, filters: Query[CampaignFilters]) -> Any:
    queryset = selectors.campaign_list(user=request.user, filters=filters.model_dump(
        include={"q", "status", "kind", "parent_id", "root", "owner_id"}, exclude_none=True))
    page = keyset_page(queryset, sort=filters.sort, allowed_sorts=selectors.CAMPAIGN_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.post("/campaigns", response={201: CampaignOut, **WRITE_ERRORS}, summary="Create a campaign (planned)")
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Any:
    def produce() -> dict[str, Any]:
        campaign = services.campaign_create(actor=request.user, data=_campaign_data(payload, partial=False))
        return CampaignOut.from_orm(campaign).model_dump(mode="json")

    status, body = idempotent(request, 201, produce)
    return Status(status, body)


@router.get("/campaigns/tree", response={200: list[TreeNodeOut], **READ_ERRORS},
            summary="Visible campaigns in tree order (parents before children), optionally below root_id")
def campaign_tree(request: HttpRequest, root_id: RecordId | None = None) -> Any:
    root = selectors.campaign_get(user=request.user, campaign_id=root_id) if root_id else None
    return [{"id": row.campaign.pk, "name": row.campaign.name, "status": row.campaign.status,
             "kind": row.campaign.kind, "parent_id": row.campaign.parent_id, "depth": row.depth,
             "starts_on": row.campaign.starts_on} for row in selectors.campaign_tree(user=request.user, root=root)]


@router.post("/campaigns/checkin/{token}", response={200: CheckInOut, **WRITE_ERRORS},
             summary="Check a member in by the token of their check-in link (staff; edit on the campaign)")
def check_in_by_token(request: HttpRequest, token: str) -> Any:
    result = services.member_check_in(actor=request.user, token=token)
    return {"member": result.member, "already": result.already}


@router.get("/campaigns/{campaign_id}", response={200: CampaignOut, **READ_ERRORS}, summary="One campaign")
def get_campaign(request: HttpRequest, response: HttpResponse, campaign_id: int) -> Any:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    _with_etag(response, campaign.version)
    return campaign


@router.patch("/campaigns/{campaign_id}", response={200: CampaignOut, **WRITE_ERRORS},
              summary="Update a campaign (send If-Match with the ETag to avoid lost updates)")
def update_campaign(request: HttpRequest, response: HttpResponse, campaign_id: int, payload: CampaignPatch) -> Any:
    campaign = services.campaign_update(actor=request.user, campaign_id=campaign_id,
                                        data=_campaign_data(payload, partial=True),
                                        expected_version=expected_version(request))
    _with_etag(response, campaign.version)
    return campaign


@router.post("/campaigns/{campaign_id}/status", response={200: CampaignOut, **WRITE_ERRORS},
             summary="Move the campaign forward along planned → inviting → registration_open → in_progress → "
                     "completed → closed (closed is final)")
def set_campaign_status(request: HttpRequest, response: HttpResponse, campaign_id: int, payload: StatusIn) -> Any:
    campaign = services.campaign_status_set(actor=request.user, campaign_id=campaign_id, status=payload.status,
                                            expected_version=expected_version(request))
    _with_etag(response, campaign.version)
    return campaign


# --- costs ----------------------------------------------------------------------------------------------
@router.get("/campaigns/{campaign_id}/costs", response={200: list[CostOut], **READ_ERRORS}, summary="Cost items")
def list_costs(request: HttpRequest, campaign_id: int) -> Any:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    return list(CampaignCost.objects.filter(campaign=campaign).order_by("pk"))


@router.post("/campaigns/{campaign_id}/costs", response={201: CostOut, **WRITE_ERRORS}, summary="Add a cost item")
def create_cost(request: HttpRequest, campaign_id: int, payload: CostIn) -> Any:
    data = {key: (str(value) if isinstance(value, Decimal) else value) for key, value in payload.model_dump().items()}
    return Status(201, services.cost_create(actor=request.user, campaign_id=campaign_id, data=data))


@router.patch("/campaigns/{campaign_id}/costs/{cost_id}", response={200: CostOut, **WRITE_ERRORS},
              summary="Change a cost item")
def update_cost(request: HttpRequest, campaign_id: int, cost_id: int, payload: CostPatch) -> Any:
    data = {key: (str(value) if isinstance(value, Decimal) else value)
            for key, value in payload.model_dump(exclude_unset=True).items()}
    return services.cost_update(actor=request.user, campaign_id=campaign_id, cost_id=cost_id, data=data)


@router.delete("/campaigns/{campaign_id}/costs/{cost_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete a cost item")
def delete_cost(request: HttpRequest, campaign_id: int, cost_id: int) -> Any:
    services.cost_delete(actor=request.user, campaign_id=campaign_id, cost_id=cost_id)
    return Status(204, None)


# --- members --------------------------------------------------------------------------------------------
@router.get("/campaigns/{campaign_id}/members", response={200: MemberPage, **READ_ERRORS},
            summary="Members (people the caller may see, unless they run the campaign), newest first")
def list_members(request: HttpRequest, filters: Query[MemberFilters], campaign_id: int) -> Any:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    members = selectors.campaign_members(user=request.user, campaign=campaign, status=filters.status,
                                         q=filters.q or "")
    page = keyset_page(members, sort="-id", allowed_sorts=selectors.MEMBER_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor,
            "counts": selectors.member_status_counts([campaign.pk])}


@router.post("/campaigns/{campaign_id}/members", response={200: InviteOut, **WRITE_ERRORS},
             summary="Invite leads and contacts (bulk, idempotent, all or nothing)")
def invite_members(request: HttpRequest, campaign_id: int, payload: InviteIn) -> Any:
    result = services.members_invite(actor=request.user, campaign_id=campaign_id, lead_ids=payload.lead_ids,
                                     contact_ids=payload.contact_ids)
    return {"invited": result.invited, "already": result.already}


@router.post("/campaigns/{campaign_id}/members/invite-matching", response={200: InviteOut, **WRITE_ERRORS},
             summary="Invite every visible lead matching a filter")
def invite_matching(request: HttpRequest, campaign_id: int, payload: LeadFilterIn) -> Any:
    result = services.members_invite_matching(actor=request.user, campaign_id=campaign_id, filters=payload.filters)
    return {"invited": result.invited, "already": result.already}


@router.post("/campaigns/{campaign_id}/members/status", response={200: ChangedOut, **WRITE_ERRORS},
             summary="Set members' status: registered (from invited), checked_in, no_show (from registered)")
def set_member_status(request: HttpRequest, campaign_id: int, payload: MemberStatusIn) -> Any:
    return {"changed": services.members_status_set(actor=request.user, campaign_id=campaign_id,
                                                   member_ids=payload.member_ids, status=payload.status)}


@router.post("/campaigns/{campaign_id}/members/no-show", response={200: ChangedOut, **WRITE_ERRORS},
             summary="After the event: every registered member who did not check in becomes no-show")
def mark_no_show(request: HttpRequest, campaign_id: int) -> Any:
    return {"changed": services.members_mark_no_show(actor=request.user, campaign_id=campaign_id)}


@router.post("/campaigns/{campaign_id}/members/{member_id}/checkin", response={200: CheckInOut, **WRITE_ERRORS},
             summary="Check one member in (staff)")
def check_in_member(request: HttpRequest, campaign_id: int, member_id: int) -> Any:
    result = services.member_check_in(actor=request.user, member_id=member_id, campaign_id=campaign_id)
    return {"member": result.member, "already": result.already}


# --- ROI and attribution ----------------------------------------------------------------------------------
def figures_out(figures: Figures) -> dict[str, Any]:
    return figures.as_dict()


@router.get("/campaigns/{campaign_id}/roi", response={200: RoiOut, **READ_ERRORS},
            summary="ROI of the campaign; rollup=true sums its whole subtree")
def campaign_roi(request: HttpRequest, campaign_id: int, rollup: bool = False) -> Any:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    roi = campaign_tree_roi(campaign)
    figures = roi.root.rollup if rollup else roi.root.own
    return {"campaign_id": campaign.pk, "currency": roi.currency, "rollup": rollup, "figures": figures_out(figures),
            "people": roi.people if rollup else None,
            "children": [{"id": node.campaign_id, "name": node.name, "figures": figures_out(node.rollup)}
                         for node in roi.children] if rollup else []}


@router.get("/campaigns/{campaign_id}/attributions", response={200: AttributionPage, **READ_ERRORS},
            summary="Won revenue credited to the campaign, per model, newest first (rows of accounts the caller "
                    "may see; the ROI carries the totals)")
def list_attributions(request: HttpRequest, campaign_id: int, model: Literal["first_touch", "last_touch", "linear"]
                      | None = None, cursor: str | None = Query(None, max_length=2048),
                      limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200)) -> Any:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    # Each row tells one account's revenue: only rows of accounts the caller may see (a row whose account
    # was deleted belongs to nobody's view). The campaign's totals stay in the ROI.
    rows = CampaignAttribution.objects.filter(campaign=campaign,
                                              account_id__in=access.visible(request.user, "account").values("pk"))
    if model:
        rows = rows.filter(model=model)
    page = keyset_page(rows, sort="-id", allowed_sorts={"-id": "-id"}, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}
