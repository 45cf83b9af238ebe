"""REST API of lead scoring (线索评分): behaviour event ingest, a lead's score with its explanation,
and the admin configuration (event kinds, attribute rules, models, weights, jobs). Mounted with
``api.add_router("/", router)`` before the leads router."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import idempotent
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import InputDatetime
from l2c.kernel.errors import PermissionDenied

from . import scoring
from .models import AttributeRule, ScoringEventKind, ScoringModel, ScoringWeights

router = Router(tags=["lead scoring"])


# --- schemas ----------------------------------------------------------------------------------------
class LeadEventIn(Schema):
    event_id: str = Field(..., min_length=1, max_length=100, description="the sender's unique id of the event")
    lead_id: int = Field(..., ge=1, le=2**63 - 1)
    kind: str = Field(..., max_length=40, description="a behaviour kind of the scoring settings, e.g. form_fill")
    occurred_at: InputDatetime = Field(..., description="at most 5 minutes in the future")
    properties: dict[str, Any] = Field(default_factory=dict, description="free JSON, at most 4 KB")


class LeadEventsIn(Schema):
    events: list[LeadEventIn] = Field(..., min_length=1, max_length=scoring.MAX_BATCH)


class EventItemOut(Schema):
    index: int = Field(description="position of the item in the request")
    event_id: str
    status: Literal["created", "unchanged", "duplicate"] = Field(
        description="created; unchanged: stored before (nothing changed); duplicate: repeats item duplicate_of")
    lead_id: int
    duplicate_of: int | None = None


class EventsOut(Schema):
    created: int
    unchanged: int
    rescored: int = Field(description="leads rescored because of the new events")
    items: list[EventItemOut]


class ScoreItemOut(Schema):
    code: str = Field(description="kind, r<rule id>, model feature, baseline or other")
    label: str
    points: int = Field(description="contribution to the combined score (integer; all items add up to it)")


class ScorePartOut(Schema):
    part: Literal["behaviour", "attribute", "predicted"]
    label: str
    score: int | None = Field(description="the part's own 0–100 score")
    weight: float = Field(description="its weight in the combined score (re-normalised without a model)")
    points: int = Field(description="what the part contributes to the combined score")
    items: list[ScoreItemOut]


class LeadScoreOut(Schema):
    lead_id: int
    score: int
    band: str
    behaviour_score: int
    attribute_score: int
    predicted_score: int | None
    scored_at: dt.datetime | None
    model_version: int | None
    parts: list[ScorePartOut]


class EventKindOut(Schema):
    kind: str
    label: str
    points: float
    half_life_days: float
    is_active: bool


class EventKindIn(Schema):
    kind: str = Field(..., max_length=40)
    label: str = Field(..., max_length=100)
    points: float = Field(..., ge=-1000, le=1000)
    half_life_days: float = Field(30, gt=0, le=3650)
    is_active: bool = True


class EventKindPatch(Schema):
    label: str | None = Field(None, max_length=100)
    points: float | None = Field(None, ge=-1000, le=1000)
    half_life_days: float | None = Field(None, gt=0, le=3650)
    is_active: bool | None = None


RuleValue = str | float | list[str] | None


class AttributeRuleOut(Schema):
    id: int
    name: str
    field: str
    op: str
    value: Any
    points: int
    is_active: bool
    position: int


class AttributeRuleIn(Schema):
    name: str = Field(..., max_length=100)
    field: str = Field(..., max_length=60, description="a lead field or custom.<key>")
    op: Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_empty", "is_not_empty"]
    value: RuleValue = Field(None, description="text; a list for in/not_in; a number for gt/gte/lt/lte")
    points: int = Field(..., ge=-100, le=100)
    is_active: bool = True
    position: int = Field(0, ge=0, le=100_000)


class AttributeRulePatch(Schema):
    name: str | None = Field(None, max_length=100)
    field: str | None = Field(None, max_length=60)
    op: Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_empty",
                "is_not_empty"] | None = None
    value: RuleValue = None
    points: int | None = Field(None, ge=-100, le=100)
    is_active: bool | None = None
    position: int | None = Field(None, ge=0, le=100_000)


class ScoringModelOut(Schema):
    version: int
    algorithm: str
    trained_at: dt.datetime
    sample_count: int
    positive_count: int
    auc: float | None
    baseline_auc: float | None
    top_decile_lift: float | None
    is_active: bool
    reason: str = Field(description="why the model is (not) used")
    feature_count: int

    @staticmethod
    def resolve_reason(obj: ScoringModel) -> str:
        return str(obj.parameters.get("reason", ""))

    @staticmethod
    def resolve_feature_count(obj: ScoringModel) -> int:
        return len(obj.parameters.get("features", []))


class WeightsOut(Schema):
    id: int
    behaviour: float
    attribute: float
    predicted: float
    status: str
    quality_before: float | None = Field(description="AUC of the combined score with the weights before")
    quality_after: float | None = Field(description="AUC with these weights")
    sample_count: int
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by_id: int | None


class WeightsIn(Schema):
    behaviour: float = Field(..., ge=0, le=1)
    attribute: float = Field(..., ge=0, le=1)
    predicted: float = Field(..., ge=0, le=1)


class CurrentWeightsOut(Schema):
    behaviour: float
    attribute: float
    predicted: float


class JobOut(Schema):
    job_run_id: int
    status: str


def _require_settings(request: HttpRequest) -> None:
    if not scoring.may_view_settings(request.user):
        raise PermissionDenied(scoring.settings_denied_message())


# --- events and scores ----------------------------------------------------------------------------------
@router.post("/leads/events", response={200: EventsOut, **WRITE_ERRORS},
             summary="Ingest behaviour events of leads (batch ≤ 1,000, all or nothing, idempotent by event_id)",
             description="Needs the import permission on leads, and every lead visible to the caller. Any "
                         "invalid item (unknown lead, unknown kind, time > 5 minutes ahead, event id used for "
                         "another lead) rejects the whole batch: 422 with errors at events.<index>.<field>. An "
                         "event id stored before is reported unchanged and stored once. The leads of new events "
                         "are rescored before the response. Honours Idempotency-Key.")
def ingest_events(request: HttpRequest, payload: LeadEventsIn) -> Any:
    def produce() -> dict[str, Any]:
        result = scoring.lead_events_ingest(actor=request.user, events=[item.model_dump() for item in payload.events])
        return {"created": result.created, "unchanged": result.unchanged, "rescored": result.rescored,
                "items": [item.__dict__ for item in result.items]}

    status, body = idempotent(request, 200, produce)
    return Status(status, body)


@router.get("/leads/{lead_id}/score", response={200: LeadScoreOut, **READ_ERRORS},
            summary="A lead's score, band, parts and the contributions that add up to the score")
def lead_score(request: HttpRequest, lead_id: int) -> Any:
    return scoring.lead_score_get(user=request.user, lead_id=lead_id).__dict__


# --- configuration -----------------------------------------------------------------------------------------
@router.get("/leads/scoring/event-kinds", response={200: list[EventKindOut], **READ_ERRORS},
            summary="Behaviour kinds with their points and half-lives")
def list_event_kinds(request: HttpRequest) -> Any:
    _require_settings(request)
    return list(ScoringEventKind.objects.order_by("kind"))


@router.post("/leads/scoring/event-kinds", response={201: EventKindOut, **WRITE_ERRORS},
             summary="Add a behaviour kind (admins)")
def create_event_kind(request: HttpRequest, payload: EventKindIn) -> Any:
    return Status(201, scoring.event_kind_create(actor=request.user, data=payload.model_dump()))


@router.patch("/leads/scoring/event-kinds/{kind}", response={200: EventKindOut, **WRITE_ERRORS},
              summary="Change a behaviour kind's label, points, half-life or switch it off (admins)")
def update_event_kind(request: HttpRequest, kind: str, payload: EventKindPatch) -> Any:
    return scoring.event_kind_update(actor=request.user, kind=kind[:40], data=payload.model_dump(exclude_unset=True))


@router.get("/leads/scoring/rules", response={200: list[AttributeRuleOut], **READ_ERRORS},
            summary="Attribute-fit rules, in order")
def list_rules(request: HttpRequest) -> Any:
    _require_settings(request)
    return list(AttributeRule.objects.order_by("position", "id"))


@router.post("/leads/scoring/rules", response={201: AttributeRuleOut, **WRITE_ERRORS},
             summary="Add an attribute-fit rule (admins)")
def create_rule(request: HttpRequest, payload: AttributeRuleIn) -> Any:
    return Status(201, scoring.attribute_rule_create(actor=request.user, data=payload.model_dump()))


@router.patch("/leads/scoring/rules/{rule_id}", response={200: AttributeRuleOut, **WRITE_ERRORS},
              summary="Change an attribute-fit rule (admins)")
def update_rule(request: HttpRequest, rule_id: int, payload: AttributeRulePatch) -> Any:
    return scoring.attribute_rule_update(actor=request.user, rule_id=rule_id,
                                         data=payload.model_dump(exclude_unset=True))


@router.delete("/leads/scoring/rules/{rule_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete an attribute-fit rule (admins)")
def delete_rule(request: HttpRequest, rule_id: int) -> Any:
    scoring.attribute_rule_delete(actor=request.user, rule_id=rule_id)
    return Status(204, None)


@router.get("/leads/scoring/models", response={200: list[ScoringModelOut], **READ_ERRORS},
            summary="Model versions with their quality (AUC, top-decile lift, baseline) and whether used")
def list_models(request: HttpRequest) -> Any:
    _require_settings(request)
    return list(ScoringModel.objects.order_by("-version")[:100])


@router.get("/leads/scoring/weights", response={200: list[WeightsOut], **READ_ERRORS},
            summary="Weights history, newest first")
def list_weights(request: HttpRequest) -> Any:
    _require_settings(request)
    return list(ScoringWeights.objects.order_by("-id")[:100])


@router.get("/leads/scoring/weights/current", response={200: CurrentWeightsOut, **READ_ERRORS},
            summary="The weights in use")
def current_weights(request: HttpRequest) -> Any:
    _require_settings(request)
    behaviour, attribute, predicted = scoring.weights_current().as_fractions()
    return {"behaviour": behaviour, "attribute": attribute, "predicted": predicted}


@router.post("/leads/scoring/weights", response={201: WeightsOut, **WRITE_ERRORS},
             summary="Propose weights (admins); they apply once approved")
def propose_weights(request: HttpRequest, payload: WeightsIn) -> Any:
    data = {name: f"{value:.4f}" for name, value in payload.model_dump().items()}
    return Status(201, scoring.weights_propose(actor=request.user, data=data))


@router.post("/leads/scoring/weights/{weights_id}/approve", response={200: WeightsOut, **WRITE_ERRORS},
             summary="Apply proposed weights (admins); every lead is then rescored by a job")
def approve_weights(request: HttpRequest, weights_id: int) -> Any:
    return scoring.weights_approve(actor=request.user, weights_id=weights_id)


@router.post("/leads/scoring/weights/{weights_id}/reject", response={200: WeightsOut, **WRITE_ERRORS},
             summary="Reject proposed weights (admins)")
def reject_weights(request: HttpRequest, weights_id: int) -> Any:
    return scoring.weights_reject(actor=request.user, weights_id=weights_id)


@router.post("/leads/scoring/retrain", response={202: JobOut, **WRITE_ERRORS},
             summary="Queue a retrain of the predicted model now (admins); see GET /jobs/{id}")
def retrain(request: HttpRequest) -> Any:
    run = scoring.retrain_request(actor=request.user)
    return Status(202, {"job_run_id": run.pk, "status": run.status})


@router.post("/leads/scoring/recalibrate", response={202: JobOut, **WRITE_ERRORS},
             summary="Queue a recalibration of the weights now (admins)")
def recalibrate(request: HttpRequest) -> Any:
    run = scoring.recalibrate_request(actor=request.user)
    return Status(202, {"job_run_id": run.pk, "status": run.status})


@router.post("/leads/scoring/rescore", response={202: JobOut, **WRITE_ERRORS},
             summary="Queue a rescore of every lead now (admins)")
def rescore_all(request: HttpRequest) -> Any:
    run = scoring.rescore_all_request(actor=request.user)
    return Status(202, {"job_run_id": run.pk, "status": run.status})
