"""REST API of leads: CRUD, capture, status, transfer, conversion, and a lead from a tender notice.
Pools, assignment rules and scoring have their own routers (pool_api, assignment_api, scoring_api)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import etag_for, expected_version, idempotent
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS, DuplicateOut
from l2c.api.types import RecordId
from l2c.apps.activity.selectors import timeline_for
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, ValidationFailed

from . import conversion, selectors, services
from .models import Lead

router = Router(tags=["leads"])

CONFIRM_DUPLICATES = "save although duplicate rules warn (else 409 duplicate_unconfirmed)"


class LeadIn(Schema):
    name: str = Field("", max_length=100)
    company: str = Field("", max_length=200)
    title: str = ""
    mobile: str = ""
    phone: str = ""
    email: str = ""
    wechat: str = ""
    province: str = ""
    city: str = ""
    industry: str = ""
    size: str = ""
    source: str = ""
    description: str = ""
    campaign_id: RecordId | None = None
    tender_notice_id: RecordId | None = None
    owner_id: RecordId | None = Field(None, description="owner (default: the caller)")
    pool_id: RecordId | None = Field(None, description="put the lead unowned into this lead pool")
    assign: bool = Field(False, description="route the lead by the assignment rules instead of owning it")
    custom: dict[str, Any] = {}
    confirm_duplicates: bool = Field(False, description=CONFIRM_DUPLICATES)


class LeadCaptureIn(Schema):
    name: str = Field("", max_length=100)
    company: str = Field("", max_length=200)
    title: str = ""
    mobile: str = ""
    phone: str = ""
    email: str = ""
    wechat: str = ""
    province: str = ""
    city: str = ""
    industry: str = ""
    size: str = ""
    source: str = ""
    description: str = ""
    campaign_id: RecordId | None = None
    tender_notice_id: RecordId | None = None


class LeadPatch(Schema):
    name: str | None = None
    company: str | None = None
    title: str | None = None
    mobile: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    province: str | None = None
    city: str | None = None
    industry: str | None = None
    size: str | None = None
    source: str | None = None
    description: str | None = None
    status: Literal["new", "contacted", "qualified", "disqualified"] | None = None
    disqualified_reason: str | None = Field(None, description="required when status becomes disqualified")
    campaign_id: RecordId | None = None
    tender_notice_id: RecordId | None = None
    owner_id: RecordId | None = Field(None, description="transfer to this owner (transfer permission)")
    transfer_reason: str | None = Field(None, max_length=255)
    custom: dict[str, Any] | None = None
    confirm_duplicates: bool = Field(False, description=CONFIRM_DUPLICATES)


class LeadOut(Schema):
    id: int
    name: str
    company: str
    title: str
    mobile: str
    phone: str
    email: str
    wechat: str
    province: str
    city: str
    industry: str
    size: str
    source: str
    description: str
    status: str
    disqualified_reason: str
    campaign_id: int | None
    tender_notice_id: int | None
    owner_id: int | None
    department_id: int | None
    pool_id: int | None = Field(description="the lead pool it lies in (no owner) or is held under")
    held_since: dt.datetime | None
    reclaim_due_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    score: int = Field(description="combined score 0–100")
    score_band: str = Field(description="A ≥ 75, B ≥ 50, C ≥ 25, else D")
    behaviour_score: int
    attribute_score: int
    predicted_score: int | None
    converted_account_id: int | None
    converted_contact_id: int | None
    converted_at: dt.datetime | None
    custom: dict[str, Any]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


LEAD_OUT_FIELDS = tuple(LeadOut.model_fields)


class LeadPage(Schema):
    items: list[LeadOut]
    next_cursor: str | None
    previous_cursor: str | None
    count: int | None = None


class LeadFilters(Schema):
    q: str | None = Field(None, max_length=100)
    status: Literal["new", "contacted", "qualified", "converted", "disqualified"] | None = None
    score_band: Literal["A", "B", "C", "D"] | None = None
    owner_id: RecordId | None = None
    pool_id: RecordId | None = None
    source: str | None = Field(None, max_length=20)
    campaign_id: RecordId | None = None
    tender_notice_id: RecordId | None = None
    province: str | None = Field(None, max_length=30)
    industry: str | None = Field(None, max_length=1)
    unassigned: bool = False
    open: bool = Field(False, description="only new, contacted and qualified leads")
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    sort: Literal["-updated_at", "updated_at", "-created_at", "created_at", "-score", "score", "-id"] = "-updated_at"
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)
    with_count: bool = False


class CaptureOut(Schema):
    created: bool = Field(description="false: the same person was already a lead, whose empty fields were filled")
    filled: list[str]
    lead: LeadOut


class ConvertAccountIn(Schema):
    """Fields of the new account; each left out defaults to the lead's."""

    name: str | None = Field(None, max_length=200)
    credit_code: str | None = None
    phone: str | None = None
    province: str | None = None
    city: str | None = None
    address: str | None = None
    industry: str | None = None
    size: str | None = None
    source: str | None = None
    custom: dict[str, Any] | None = None


class ConvertContactIn(Schema):
    """Fields of the new contact; each left out defaults to the lead's."""

    name: str | None = Field(None, max_length=100)
    title: str | None = None
    department: str | None = None
    mobile: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    custom: dict[str, Any] | None = None


class ConvertOpportunityIn(Schema):
    """The deal to create with the conversion (issue 5); left out: no deal."""

    name: str = Field(..., max_length=200)
    amount: str = Field("0", description="in yuan (元)")
    currency: str = "CNY"
    close_date: dt.date | None = None
    process_id: RecordId | None = None
    next_step: str = Field("", max_length=300)
    contact_role: Literal["decision_maker", "technical_evaluator", "business_evaluator", "user", "influencer",
                          "gatekeeper", "champion", "coach"] = "influencer"


class ConvertIn(Schema):
    account_id: RecordId | None = Field(None, description="join this existing account instead of creating one")
    account: ConvertAccountIn = Field(default_factory=ConvertAccountIn,
                                      description="fields of the new account (default: the lead's company)")
    contact: ConvertContactIn = Field(default_factory=ConvertContactIn,
                                      description="fields of the new contact (default: the lead's person)")
    confirm_duplicates: bool = Field(False, description=CONFIRM_DUPLICATES)
    opportunity: ConvertOpportunityIn | None = Field(None, description="also create this deal at the account")


class ConvertOut(Schema):
    lead: LeadOut
    account_id: int
    contact_id: int
    account_created: bool
    opportunity_id: int | None = None


class ConversionPreviewOut(Schema):
    account: dict[str, Any]
    contact: dict[str, Any]
    account_candidates: list[DuplicateOut]
    hidden_account_candidates: int


class TransferIn(Schema):
    ids: list[RecordId] = Field(..., min_length=1, max_length=10000)
    to_user_id: RecordId
    reason: str = Field("", max_length=255)


class TransferOut(Schema):
    transferred: int


class TimelineEntryOut(Schema):
    kind: str
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    action: str
    summary: str
    changes: dict[str, Any]


def _filters(filters: LeadFilters) -> dict[str, Any]:
    return filters.model_dump(exclude={"sort", "cursor", "limit", "with_count"}, exclude_none=True)


def _out(lead: Lead) -> dict[str, Any]:
    return LeadOut.from_orm(lead).model_dump(mode="json")


@router.get("/leads", response={200: LeadPage, **READ_ERRORS}, summary="List leads the caller may see")
def list_leads(request: HttpRequest, filters: Query[LeadFilters]) -> Any:
    queryset = selectors.lead_list(user=request.user, filters=_filters(filters))
    page = keyset_page(queryset.values(*LEAD_OUT_FIELDS), sort=filters.sort, allowed_sorts=selectors.LEAD_SORTS,
                       cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor,
            "count": queryset.count() if filters.with_count else None}


@router.post("/leads", response={201: LeadOut, **WRITE_ERRORS}, summary="Create a lead (duplicate control applies)")
def create_lead(request: HttpRequest, payload: LeadIn) -> Any:
    def produce() -> dict[str, Any]:
        return _out(services.lead_create(actor=request.user, data=payload.model_dump(), via="api"))

    status, body = idempotent(request, 201, produce)
    return Status(status, body)


@router.post("/leads/capture", response={200: CaptureOut, 201: CaptureOut, **WRITE_ERRORS},
             summary="Capture a prospect: the same person (mobile, phone or e-mail) updates their lead, "
                     "else a new lead is routed by the assignment rules")
def capture_lead(request: HttpRequest, payload: LeadCaptureIn) -> Any:
    data = payload.model_dump()
    campaign_id, notice_id = data.pop("campaign_id"), data.pop("tender_notice_id")
    errors: list[FieldError] = []
    for key, object_type, value in (("campaign_id", "campaign", campaign_id),
                                    ("tender_notice_id", "tender_notice", notice_id)):
        if value is not None and not access.visible(request.user, object_type).filter(pk=value).exists():
            errors.append(FieldError(key, _("没有 ID 为 %(id)s 的记录，或你无权查看。") % {"id": value}, "not_found"))
    if errors:
        raise ValidationFailed(_("%(object)s信息填写有误。") % {"object": access.noun("lead")}, errors=errors)

    def produce() -> dict[str, Any]:
        result = services.lead_capture(actor=request.user, data=data, via="api", campaign_id=campaign_id,
                                       tender_notice_id=notice_id)
        return {"created": result.created, "filled": result.filled, "lead": _out(result.lead)}

    status, body = idempotent(request, 201, produce)
    return Status(status if body.get("created", True) else 200, body)


@router.post("/leads/transfer", response={200: TransferOut, **WRITE_ERRORS},
             summary="Transfer leads to another owner (all or nothing; pool caps apply)")
def transfer_leads(request: HttpRequest, payload: TransferIn) -> Any:
    from .pools import leads_owner_change

    to_user = User.objects.filter(pk=payload.to_user_id, is_active=True).first()
    if to_user is None:
        raise ValidationFailed(_("用户不存在或已停用。"), errors=[
            FieldError("to_user_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": payload.to_user_id}, "not_found")])
    count = leads_owner_change(actor=request.user, lead_ids=payload.ids, to_user=to_user, via="transfer",
                               reason=payload.reason)
    return {"transferred": count}


@router.get("/leads/{lead_id}", response={200: LeadOut, **READ_ERRORS}, summary="One lead")
def get_lead(request: HttpRequest, response: HttpResponse, lead_id: RecordId) -> Any:
    lead = selectors.lead_detail(user=request.user, lead_id=lead_id)
    response["ETag"] = etag_for(lead.version)
    return lead


@router.patch("/leads/{lead_id}", response={200: LeadOut, **WRITE_ERRORS},
              summary="Update a lead: fields, status (disqualify needs a reason), owner (a transfer); If-Match")
def update_lead(request: HttpRequest, response: HttpResponse, lead_id: RecordId, payload: LeadPatch) -> Any:
    lead = services.lead_update(actor=request.user, lead_id=lead_id, data=payload.model_dump(exclude_unset=True),
                                expected_version=expected_version(request))
    response["ETag"] = etag_for(lead.version)
    return lead


@router.delete("/leads/{lead_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a lead")
def delete_lead(request: HttpRequest, lead_id: RecordId) -> Any:
    services.lead_delete(actor=request.user, lead_id=lead_id, expected_version=expected_version(request))
    return Status(204, None)


@router.get("/leads/{lead_id}/conversion", response={200: ConversionPreviewOut, **READ_ERRORS},
            summary="What converting the lead proposes, with the existing accounts its company may be")
def conversion_preview(request: HttpRequest, lead_id: RecordId) -> Any:
    lead = selectors.lead_detail(user=request.user, lead_id=lead_id)
    account, contact = conversion.conversion_defaults(lead)
    candidates = conversion.account_candidates(actor=request.user, lead=lead)
    return {"account": account, "contact": contact, "account_candidates": candidates["visible"],
            "hidden_account_candidates": candidates["hidden"]}


@router.post("/leads/{lead_id}/convert", response={200: ConvertOut, **WRITE_ERRORS},
             summary="Convert a qualified lead into an account (new or existing) and a contact; exactly once")
def convert_lead(request: HttpRequest, lead_id: RecordId, payload: ConvertIn) -> Any:
    result = conversion.lead_convert(actor=request.user, lead_id=lead_id, account_id=payload.account_id,
                                     account=payload.account.model_dump(exclude_none=True),
                                     contact=payload.contact.model_dump(exclude_none=True),
                                     confirm_duplicates=payload.confirm_duplicates,
                                     opportunity=payload.opportunity.model_dump(exclude_none=True)
                                     if payload.opportunity else None)
    return {"lead": _out(result.lead), "account_id": result.account_id, "contact_id": result.contact_id,
            "account_created": result.account_created, "opportunity_id": result.opportunity_id}


class MatchesOut(Schema):
    contacts: list[DuplicateOut] = Field(description="contacts with the lead's mobile, phone or e-mail")
    hidden_contacts: int = Field(description="such contacts the caller may not see")
    accounts: list[DuplicateOut] = Field(description="accounts like the lead's company")
    hidden_accounts: int


@router.get("/leads/{lead_id}/matches", response={200: MatchesOut, **READ_ERRORS},
            summary="Who the lead already is among contacts and accounts (duplicate control)")
def lead_matches(request: HttpRequest, lead_id: RecordId) -> Any:
    lead = selectors.lead_detail(user=request.user, lead_id=lead_id)
    return conversion.lead_matches(actor=request.user, lead=lead)


@router.get("/leads/{lead_id}/timeline", response={200: list[TimelineEntryOut], **READ_ERRORS},
            summary="Audit trail and follow-ups of a lead, newest first")
def lead_timeline(request: HttpRequest, lead_id: RecordId) -> Any:
    lead = selectors.lead_detail(user=request.user, lead_id=lead_id)
    return timeline_for(object_type="lead", object_id=lead.pk)


@router.post("/tenders/notices/{notice_id}/lead", response={200: CaptureOut, 201: CaptureOut, **WRITE_ERRORS},
             summary="Create (or find) the lead of a tender notice's buyer, linked to the notice")
def lead_from_notice(request: HttpRequest, notice_id: RecordId) -> Any:
    from .tender_leads import lead_from_tender_notice

    result = lead_from_tender_notice(actor=request.user, notice_id=notice_id)
    body = {"created": result.created, "filled": result.filled, "lead": _out(result.lead)}
    return Status(201 if result.created else 200, body)
