"""REST API of opportunities: CRUD, stage moves through the gate, team, decision chain, health,
stage tasks, stage history, the kanban board, sales processes and health settings. Forecast and
pipeline analytics have their own routers (forecast_api, pipeline_api)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import etag_for, expected_version, idempotent
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.activity.services import records_transfer
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, ValidationFailed

from . import chain, health, processes, selectors, services
from .board import board_page
from .models import Competitor, Opportunity, SalesProcess, Stage, StageHistory, StageTask

router = Router(tags=["opportunities"])


class OpportunityIn(Schema):
    name: str = Field(..., max_length=200)
    account_id: RecordId
    amount: str = Field("0", description="in yuan (元), e.g. \"128000.50\"")
    currency: str = "CNY"
    close_date: dt.date | None = None
    process_id: RecordId | None = Field(None, description="default: the default process")
    stage_id: RecordId | None = Field(None, description="an open stage of the process (default: the first)")
    owner_id: RecordId | None = Field(None, description="default: the caller")
    source: Literal["manual", "lead", "campaign", "tender", "import"] | None = None
    lead_id: RecordId | None = None
    campaign_id: RecordId | None = None
    tender_notice_id: RecordId | None = None
    competitors: list[str | int] = Field(default_factory=list, description="competitor ids or names")
    next_step: str = Field("", max_length=300)
    description: str = ""
    custom: dict[str, Any] = {}


class OpportunityPatch(Schema):
    name: str | None = Field(None, max_length=200)
    account_id: RecordId | None = None
    amount: str | None = None
    currency: str | None = None
    close_date: dt.date | None = None
    campaign_id: RecordId | None = None
    tender_notice_id: RecordId | None = None
    competitors: list[str | int] | None = None
    next_step: str | None = Field(None, max_length=300)
    description: str | None = None
    custom: dict[str, Any] | None = None


class OpportunityOut(Schema):
    id: int
    name: str
    account_id: int
    owner_id: int
    department_id: int | None
    amount: int = Field(description="in fen (分) of `currency`")
    currency: str
    close_date: dt.date | None
    process_id: int
    stage_id: int
    status: str
    stage_entered_at: dt.datetime
    source: str
    lead_id: int | None
    campaign_id: int | None
    tender_notice_id: int | None
    next_step: str
    description: str
    lost_reason: str
    lost_note: str
    lost_to_id: int | None
    closed_at: dt.datetime | None
    win_probability: int | None = Field(description="per-mille (‰)")
    probability_source: str = Field(description="model or stage")
    health_index: int | None
    health_flags: list[str]
    last_followed_up_at: dt.datetime | None
    custom: dict[str, Any]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


OUT_FIELDS = tuple(OpportunityOut.model_fields)


class OpportunityPage(Schema):
    items: list[OpportunityOut]
    next_cursor: str | None
    previous_cursor: str | None
    count: int | None = None


class OpportunityFilters(Schema):
    q: str | None = Field(None, max_length=100)
    status: Literal["open", "won", "lost"] | None = None
    owner_id: RecordId | None = None
    account_id: RecordId | None = None
    process_id: RecordId | None = None
    stage_id: RecordId | None = None
    department_id: RecordId | None = None
    campaign_id: RecordId | None = None
    lead_id: RecordId | None = None
    tender_notice_id: RecordId | None = None
    source: str | None = Field(None, max_length=20)
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    health_below: int | None = Field(None, ge=0, le=101)
    flag: str | None = Field(None, max_length=30)
    sort: Literal["-updated_at", "updated_at", "-created_at", "created_at", "-amount", "amount",
                  "stage_entered_at", "-stage_entered_at", "-id"] = "-updated_at"
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)
    with_count: bool = False


class DealMoveIn(Schema):
    stage_id: RecordId
    override_reason: str = Field("", max_length=500, description="a manager lets a blocked move through")
    lost_reason: Literal["", "price", "product_fit", "relationship", "timing", "no_decision", "competitor",
                         "other"] = ""
    lost_note: str = Field("", max_length=500)
    lost_to: str | int | None = Field(None, description="the competitor who won (id or name)")


class DealMissingOut(Schema):
    kind: str
    key: str
    stage_id: int
    stage: str
    when: str
    label: str
    message: str


class DealGatePreviewOut(Schema):
    stage_id: int
    missing: list[DealMissingOut]
    can_override: bool


class DealTeamIn(Schema):
    user_id: RecordId
    role: Literal["sales", "presales", "manager", "service", "other"] = "sales"
    access: Literal["read", "edit"] = "read"


class DealTeamMemberOut(Schema):
    user_id: int
    name: str
    role: str
    access: str


class DealChainIn(Schema):
    contact_id: RecordId
    role: Literal["decision_maker", "technical_evaluator", "business_evaluator", "user", "influencer",
                  "gatekeeper", "champion", "coach"]
    attitude: Literal["supporter", "neutral", "opponent"] = "neutral"
    influence: Literal["high", "medium", "low"] = "medium"
    reports_to_id: RecordId | None = None
    note: str = Field("", max_length=300)


class DealChainNodeOut(Schema):
    id: int
    contact_id: int
    name: str
    title: str
    role: str
    role_label: str
    attitude: str
    influence: str
    note: str
    reports_to_id: int | None


class DealChainGapOut(Schema):
    code: str
    message: str


class DealChainOut(Schema):
    nodes: list[DealChainNodeOut]
    links: list[dict[str, int]]
    gaps: list[DealChainGapOut]
    score: int = Field(description="decision-chain coverage 0–100")


class DealHealthDimensionOut(Schema):
    dimension: str
    score: int
    source: str = Field(description="answer, derived, both or none")
    answer_score: int | None
    derived_score: int | None
    weight: int
    contribution: float


class DealHealthOut(Schema):
    index: int
    dimensions: list[DealHealthDimensionOut]
    flags: list[DealChainGapOut]


class DealHealthAnswerIn(Schema):
    level: int = Field(..., ge=0, le=4, description="0 unknown, 1 weak, 2 partial, 3 good, 4 strong")
    evidence: str = Field("", max_length=500)


class DealTaskIn(Schema):
    done: bool


class DealTaskOut(Schema):
    id: int
    stage_id: int
    title: str
    required: bool
    done: bool


class DealHistoryOut(Schema):
    stage_id: int
    stage: str
    entered_at: dt.datetime
    exited_at: dt.datetime | None
    moved_by_id: int | None
    override_reason: str
    skipped: list[dict[str, Any]]


class DealTransferIn(Schema):
    ids: list[RecordId] = Field(..., min_length=1, max_length=10000)
    to_user_id: RecordId
    reason: str = Field("", max_length=255)


class DealTransferOut(Schema):
    transferred: int


class DealStageTaskIn(Schema):
    id: RecordId | None = None
    title: str = Field(..., max_length=200)
    required: bool = True


class DealStageIn(Schema):
    id: RecordId | None = None
    name: str = Field(..., max_length=60)
    kind: Literal["open", "won", "lost"] = "open"
    probability: int | None = Field(None, ge=0, le=100)
    forecast_category: Literal["pipeline", "best_case", "commit", "closed", "omitted"] = "pipeline"
    norm_days: int | None = Field(None, ge=1, le=3650)
    entry_fields: list[str] = []
    exit_fields: list[str] = []
    description: str = Field("", max_length=300)
    tasks: list[DealStageTaskIn] = []


class DealProcessIn(Schema):
    name: str = Field(..., max_length=100)
    code: str = Field(..., max_length=50)
    description: str = ""
    is_default: bool = False
    is_active: bool = True
    stages: list[DealStageIn] = Field(..., min_length=1)


class DealStageTaskOut(Schema):
    id: int
    title: str
    required: bool
    position: int


class DealStageOut(Schema):
    id: int
    name: str
    position: int
    kind: str
    probability: int
    forecast_category: str
    norm_days: int | None
    entry_fields: list[str]
    exit_fields: list[str]
    description: str
    tasks: list[DealStageTaskOut]


class DealProcessOut(Schema):
    id: int
    name: str
    code: str
    description: str
    is_default: bool
    is_active: bool
    version: int
    stages: list[DealStageOut]


class BoardCardOut(Schema):
    id: int
    name: str
    account_id: int
    account_name: str
    owner_id: int
    amount: int
    currency: str
    close_date: dt.date | None
    health_index: int | None
    health_flags: list[str]
    version: int
    updated_at: dt.datetime


class BoardColumnOut(Schema):
    stage_id: int
    name: str
    kind: str
    count: int
    amount: int
    items: list[BoardCardOut]
    next_cursor: str | None


class DealHealthSettingsIn(Schema):
    weights: dict[str, int]
    no_activity_days: int


class DealHealthSettingsOut(Schema):
    weights: dict[str, int]
    no_activity_days: int


def _filters(filters: OpportunityFilters) -> dict[str, Any]:
    return filters.model_dump(exclude={"sort", "cursor", "limit", "with_count"}, exclude_none=True)


def _process_out(process: SalesProcess) -> dict[str, Any]:
    stages = list(process.stages.order_by("position").prefetch_related("tasks"))
    return {"id": process.pk, "name": process.name, "code": process.code, "description": process.description,
            "is_default": process.is_default, "is_active": process.is_active, "version": process.version,
            "stages": [{"id": stage.pk, "name": stage.name, "position": stage.position, "kind": stage.kind,
                        "probability": stage.probability, "forecast_category": stage.forecast_category,
                        "norm_days": stage.norm_days, "entry_fields": stage.entry_fields,
                        "exit_fields": stage.exit_fields, "description": stage.description,
                        "tasks": [{"id": task.pk, "title": task.title, "required": task.required,
                                   "position": task.position} for task in stage.tasks.all()]}
                       for stage in stages]}


# --- deals ---------------------------------------------------------------------------------------------
@router.get("/opportunities", response={200: OpportunityPage, **READ_ERRORS},
            summary="List opportunities the caller may see")
def list_opportunities(request: HttpRequest, filters: Query[OpportunityFilters]) -> Any:
    queryset = selectors.opportunity_list(user=request.user, filters=_filters(filters))
    page = keyset_page(queryset.values(*OUT_FIELDS), sort=filters.sort, allowed_sorts=selectors.OPPORTUNITY_SORTS,
                       cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor,
            "count": queryset.count() if filters.with_count else None}


@router.post("/opportunities", response={201: OpportunityOut, **WRITE_ERRORS}, summary="Create an opportunity")
def create_opportunity(request: HttpRequest, payload: OpportunityIn) -> Any:
    def produce() -> dict[str, Any]:
        deal = services.opportunity_create(actor=request.user, data=payload.model_dump(exclude_none=True))
        return OpportunityOut.from_orm(deal).model_dump(mode="json")

    status, body = idempotent(request, 201, produce)
    return Status(status, body)


@router.post("/opportunities/transfer", response={200: DealTransferOut, **WRITE_ERRORS},
             summary="Transfer opportunities to another owner (all or nothing)")
def transfer_opportunities(request: HttpRequest, payload: DealTransferIn) -> Any:
    to_user = User.objects.filter(pk=payload.to_user_id, is_active=True).first()
    if to_user is None:
        raise ValidationFailed(_("用户不存在或已停用。"), errors=[
            FieldError("to_user_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": payload.to_user_id}, "not_found")])
    count = records_transfer(actor=request.user, object_type="opportunity", object_ids=payload.ids, to_user=to_user,
                             reason=payload.reason)
    return {"transferred": count}


@router.get("/opportunities/board", response={200: list[BoardColumnOut], **READ_ERRORS},
            summary="Kanban: every stage of a process with its totals and the first cards (keyset per column)")
def board(request: HttpRequest, process_id: RecordId, owner_id: RecordId | None = None,
          limit: int = Query(20, ge=1, le=100)) -> Any:
    filters = {"owner_id": owner_id} if owner_id else {}
    columns = selectors.board_columns(user=request.user, process_id=process_id, filters=filters)
    out = []
    for column in columns:
        page = board_page(request.user, column["stage"].pk, filters, cursor=None, limit=limit)
        out.append({"stage_id": column["stage"].pk, "name": column["stage"].name, "kind": column["stage"].kind,
                    "count": column["count"], "amount": column["amount"], "items": page.items,
                    "next_cursor": page.next_cursor})
    return out


@router.get("/opportunities/board/{stage_id}", response={200: BoardColumnOut, **READ_ERRORS},
            summary="More cards of one kanban column")
def board_column(request: HttpRequest, stage_id: RecordId, cursor: str | None = None,
                 owner_id: RecordId | None = None, limit: int = Query(20, ge=1, le=100)) -> Any:
    stage = Stage.objects.filter(pk=stage_id).first()
    if stage is None:
        raise ValidationFailed.for_field("stage_id", _("没有 ID 为 %(id)s 的阶段。") % {"id": stage_id}, "not_found")
    filters = {"owner_id": owner_id} if owner_id else {}
    page = board_page(request.user, stage.pk, filters, cursor=cursor, limit=limit)
    totals = selectors.stage_totals(user=request.user, stage_id=stage.pk, filters=filters)
    return {"stage_id": stage.pk, "name": stage.name, "kind": stage.kind, "count": totals["count"],
            "amount": totals["amount"], "items": page.items, "next_cursor": page.next_cursor}


@router.get("/opportunities/{opportunity_id}", response={200: OpportunityOut, **READ_ERRORS},
            summary="One opportunity")
def get_opportunity(request: HttpRequest, response: HttpResponse, opportunity_id: RecordId) -> Any:
    deal = selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id)
    response["ETag"] = etag_for(deal.version)
    return deal


@router.patch("/opportunities/{opportunity_id}", response={200: OpportunityOut, **WRITE_ERRORS},
              summary="Update an opportunity's fields (not stage or owner); If-Match")
def update_opportunity(request: HttpRequest, response: HttpResponse, opportunity_id: RecordId,
                       payload: OpportunityPatch) -> Any:
    deal = services.opportunity_update(actor=request.user, opportunity_id=opportunity_id,
                                       data=payload.model_dump(exclude_unset=True),
                                       expected_version=expected_version(request))
    response["ETag"] = etag_for(deal.version)
    return deal


@router.delete("/opportunities/{opportunity_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete an opportunity")
def delete_opportunity(request: HttpRequest, opportunity_id: RecordId) -> Any:
    services.opportunity_delete(actor=request.user, opportunity_id=opportunity_id,
                                expected_version=expected_version(request))
    return Status(204, None)


@router.post("/opportunities/{opportunity_id}/move", response={200: OpportunityOut, **WRITE_ERRORS},
             summary="Move to another stage through the gate (409 stage_gate lists every missing item); If-Match")
def move_opportunity(request: HttpRequest, response: HttpResponse, opportunity_id: RecordId,
                     payload: DealMoveIn) -> Any:
    deal = services.opportunity_move(actor=request.user, opportunity_id=opportunity_id, stage_id=payload.stage_id,
                                     expected_version=expected_version(request),
                                     override_reason=payload.override_reason, lost_reason=payload.lost_reason,
                                     lost_note=payload.lost_note, lost_to=payload.lost_to)
    response["ETag"] = etag_for(deal.version)
    return deal


@router.get("/opportunities/{opportunity_id}/gate", response={200: DealGatePreviewOut, **READ_ERRORS},
            summary="What a move to `stage_id` still misses (nothing is changed)")
def gate_preview(request: HttpRequest, opportunity_id: RecordId, stage_id: RecordId) -> Any:
    deal = selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id)
    preview = services.gate_preview(request.user, deal, stage_id)
    if preview is None:
        raise ValidationFailed.for_field("stage_id", _("阶段 %(id)s 不是这个商机可以推进到的阶段。") % {"id": stage_id})
    return {"stage_id": stage_id, "missing": preview["missing"], "can_override": preview["can_override"]}


@router.get("/opportunities/{opportunity_id}/history", response={200: list[DealHistoryOut], **READ_ERRORS},
            summary="Stage history: entry and exit times, overrides")
def stage_history(request: HttpRequest, opportunity_id: RecordId) -> Any:
    deal = selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id)
    return [{"stage_id": row.stage_id, "stage": row.stage.name, "entered_at": row.entered_at,
             "exited_at": row.exited_at, "moved_by_id": row.moved_by_id, "override_reason": row.override_reason,
             "skipped": row.skipped}
            for row in StageHistory.objects.filter(opportunity=deal).select_related("stage").order_by("entered_at",
                                                                                                        "pk")]


@router.get("/opportunities/{opportunity_id}/team", response={200: list[DealTeamMemberOut], **READ_ERRORS},
            summary="The deal team")
def team(request: HttpRequest, opportunity_id: RecordId) -> Any:
    deal = selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id)
    return [{"user_id": member.user_id, "name": str(member.user), "role": member.role, "access": member.access}
            for member in deal.team.select_related("user").order_by("pk")]


@router.post("/opportunities/{opportunity_id}/team", response={200: DealTeamMemberOut, **WRITE_ERRORS},
             summary="Add a team member or change their role/access (members gain visibility)")
def team_set(request: HttpRequest, opportunity_id: RecordId, payload: DealTeamIn) -> Any:
    member = services.team_member_set(actor=request.user, opportunity_id=opportunity_id, user_id=payload.user_id,
                                      role=payload.role, access_level=payload.access)
    return {"user_id": member.user_id, "name": str(member.user), "role": member.role, "access": member.access}


@router.delete("/opportunities/{opportunity_id}/team/{user_id}", response={204: None, **WRITE_ERRORS},
               summary="Remove a team member")
def team_remove(request: HttpRequest, opportunity_id: RecordId, user_id: RecordId) -> Any:
    services.team_member_remove(actor=request.user, opportunity_id=opportunity_id, user_id=user_id)
    return Status(204, None)


@router.get("/opportunities/{opportunity_id}/chain", response={200: DealChainOut, **READ_ERRORS},
            summary="Decision chain: contacts, roles, reports-to lines, coverage gaps")
def chain_get(request: HttpRequest, opportunity_id: RecordId) -> Any:
    deal = selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id)
    return chain.chain_graph(deal)


@router.post("/opportunities/{opportunity_id}/chain", response={200: DealChainOut, **WRITE_ERRORS},
             summary="Add a contact to the decision chain or update their entry")
def chain_save(request: HttpRequest, opportunity_id: RecordId, payload: DealChainIn) -> Any:
    chain.chain_member_save(actor=request.user, opportunity_id=opportunity_id, data=payload.model_dump())
    return chain.chain_graph(selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id))


@router.delete("/opportunities/{opportunity_id}/chain/{entry_id}", response={204: None, **WRITE_ERRORS},
               summary="Remove an entry of the decision chain")
def chain_remove(request: HttpRequest, opportunity_id: RecordId, entry_id: RecordId) -> Any:
    chain.chain_member_remove(actor=request.user, opportunity_id=opportunity_id, entry_id=entry_id)
    return Status(204, None)


def _health_out(deal: Opportunity) -> dict[str, Any]:
    result = health.health_of(deal)
    return {"index": result.index, "flags": health.flag_messages(result.flags),
            "dimensions": [item.__dict__ for item in result.dimensions]}


@router.get("/opportunities/{opportunity_id}/health", response={200: DealHealthOut, **READ_ERRORS},
            summary="Health: nine dimensions explained, the index and red flags")
def health_get(request: HttpRequest, opportunity_id: RecordId) -> Any:
    return _health_out(selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id))


@router.put("/opportunities/{opportunity_id}/health/{dimension}", response={200: DealHealthOut, **WRITE_ERRORS},
            summary="The rep's answer on one health dimension, with evidence")
def health_answer(request: HttpRequest, opportunity_id: RecordId, dimension: str, payload: DealHealthAnswerIn) -> Any:
    health.health_answer_save(actor=request.user, opportunity_id=opportunity_id, dimension=dimension,
                              level=payload.level, evidence=payload.evidence)
    return _health_out(selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id))


@router.get("/opportunities/{opportunity_id}/tasks", response={200: list[DealTaskOut], **READ_ERRORS},
            summary="The stage tasks of the deal's process and which are done")
def tasks(request: HttpRequest, opportunity_id: RecordId) -> Any:
    deal = selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id)
    done = set(deal.tasks_done.values_list("task_id", flat=True))
    return [{"id": task.pk, "stage_id": task.stage_id, "title": task.title, "required": task.required,
             "done": task.pk in done}
            for task in StageTask.objects.filter(stage__process_id=deal.process_id).order_by("stage__position",
                                                                                           "position", "pk")]


@router.put("/opportunities/{opportunity_id}/tasks/{task_id}", response={200: DealTaskOut, **WRITE_ERRORS},
            summary="Check or uncheck a stage task")
def task_set(request: HttpRequest, opportunity_id: RecordId, task_id: RecordId, payload: DealTaskIn) -> Any:
    services.task_set(actor=request.user, opportunity_id=opportunity_id, task_id=task_id, done=payload.done)
    task = StageTask.objects.get(pk=task_id)
    return {"id": task.pk, "stage_id": task.stage_id, "title": task.title, "required": task.required,
            "done": payload.done}


# --- from a tender notice -------------------------------------------------------------------------------
class NoticeDealIn(Schema):
    account_id: RecordId | None = Field(None, description="the buyer's account (default: the one exact "
                                                          "visible match, else a new account from the buyer)")
    confirm_duplicates: bool = False


class NoticeDealOut(Schema):
    created: bool
    account_created: bool
    opportunity: OpportunityOut


@router.post("/tenders/notices/{notice_id}/opportunity", response={200: NoticeDealOut, 201: NoticeDealOut,
                                                                   **WRITE_ERRORS},
             summary="A deal from a tender notice: one per notice (a second call returns it); the buyer is "
                     "matched to accounts by duplicate control")
def deal_from_notice(request: HttpRequest, notice_id: RecordId, payload: NoticeDealIn) -> Any:
    from .tender_deals import opportunity_from_tender_notice

    result = opportunity_from_tender_notice(actor=request.user, notice_id=notice_id, account_id=payload.account_id,
                                            confirm_duplicates=payload.confirm_duplicates)
    body = {"created": result.created, "account_created": result.account_created,
            "opportunity": OpportunityOut.from_orm(result.opportunity).model_dump(mode="json")}
    return Status(201 if result.created else 200, body)


# --- processes, competitors, health settings ----------------------------------------------------------------
@router.get("/sales-processes", response={200: list[DealProcessOut], **READ_ERRORS},
            summary="Sales processes with their stages and tasks")
def list_processes(request: HttpRequest) -> Any:
    return [_process_out(process) for process in SalesProcess.objects.order_by("-is_default", "name")]


@router.post("/sales-processes", response={201: DealProcessOut, **WRITE_ERRORS},
             summary="Create a sales process (admins)")
def create_process(request: HttpRequest, payload: DealProcessIn) -> Any:
    process = processes.process_save(actor=request.user, data=payload.model_dump())
    return Status(201, _process_out(process))


@router.put("/sales-processes/{process_id}", response={200: DealProcessOut, **WRITE_ERRORS},
            summary="Replace a sales process with its stages (admins; stage ids keep deals in place); If-Match")
def replace_process(request: HttpRequest, response: HttpResponse, process_id: RecordId, payload: DealProcessIn) -> Any:
    process = processes.process_save(actor=request.user, data=payload.model_dump(), process_id=process_id,
                                     expected_version=expected_version(request))
    response["ETag"] = etag_for(process.version)
    return _process_out(process)


@router.get("/competitors", response={200: list[dict[str, Any]], **READ_ERRORS}, summary="Competitor catalogue")
def competitors(request: HttpRequest) -> Any:
    access.require(request.user, "opportunity", "view")
    return list(Competitor.objects.filter(is_active=True).order_by("name").values("id", "name", "website"))


@router.get("/opportunity-health-settings", response={200: DealHealthSettingsOut, **READ_ERRORS},
            summary="Weights of the nine health dimensions and the no-activity threshold")
def health_settings_get(request: HttpRequest) -> Any:
    settings = health.health_settings()
    return {"weights": dict(settings.weights), "no_activity_days": settings.no_activity_days}


@router.put("/opportunity-health-settings", response={200: DealHealthSettingsOut, **WRITE_ERRORS},
            summary="Set the health weights (admins); every open deal is re-scored")
def health_settings_put(request: HttpRequest, payload: DealHealthSettingsIn) -> Any:
    settings = health.health_config_save(actor=request.user, weights=payload.weights,
                                         no_activity_days=payload.no_activity_days)
    return {"weights": dict(settings.weights), "no_activity_days": settings.no_activity_days}
