"""Assignment rule API (线索分配规则): ordered rules with conditions and an action; reorder; preview
"which rule would take this lead?". Admins and marketing edit; a bad condition is a 422 naming the
condition (`conditions.<i>`, `.field`, `.op` or `.value`; 0-based), the field and why (code
unknown_field, bad_op or bad_value)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status
from pydantic import FiniteFloat

from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.kernel.errors import FieldError, NotFound, PermissionDenied, ValidationFailed

from . import assignment as service
from .models import AssignmentRule
from .pools import may_manage_routing

router = Router(tags=["lead assignment"])

# Input floats are finite (NaN / Infinity are refused before the service sees them); the service also
# bounds every number to ±1e15 and names the condition (`conditions.<i>.value`).
ConditionValue = str | int | FiniteFloat | list[str | int | FiniteFloat] | None
ConditionValueOut = str | int | float | list[str | int | float] | None
CONDITION_HELP = ("all must hold. field: " + ", ".join(service.CONDITION_FIELDS) + " or custom.<key>; op: "
                  + ", ".join(service.OPERATOR_LABELS) + "; value: a list for in/not_in, none for is_empty/"
                  "is_not_empty, a number for gt/gte/lt/lte")


class ConditionIn(Schema):
    field: str = Field(..., max_length=60)
    op: str = Field(..., max_length=20)
    value: ConditionValue = None


class RuleIn(Schema):
    name: str = Field(..., max_length=100)
    is_active: bool = True
    position: int | None = Field(None, ge=0, le=1_000_000, description="order (ascending); default: last")
    conditions: list[ConditionIn] = Field([], max_length=50, description=CONDITION_HELP)
    action: Literal["round_robin", "least_loaded", "user", "pool"]
    user_ids: list[RecordId] = Field([], max_length=500, description="candidates of round_robin / least_loaded")
    target_user_id: RecordId | None = Field(None, description="the user of action user")
    target_pool_id: RecordId | None = Field(None, description="action pool: the pool; other actions: hold the "
                                                              "lead under this pool's reclaim rules (optional)")


class RulePatch(Schema):
    name: str | None = Field(None, max_length=100)
    is_active: bool | None = None
    position: int | None = Field(None, ge=0, le=1_000_000)
    conditions: list[ConditionIn] | None = Field(None, max_length=50, description=CONDITION_HELP)
    action: Literal["round_robin", "least_loaded", "user", "pool"] | None = None
    user_ids: list[RecordId] | None = Field(None, max_length=500)
    target_user_id: RecordId | None = None
    target_pool_id: RecordId | None = None
    version: int | None = Field(None, description="the version you read (412 when it changed)")


class ConditionOut(Schema):
    field: str
    op: str
    value: ConditionValueOut = None


class RuleOut(Schema):
    id: int
    name: str
    position: int
    is_active: bool
    conditions: list[ConditionOut]
    action: str
    user_ids: list[int]
    target_user_id: int | None
    target_pool_id: int | None
    cursor: int
    version: int
    updated_at: dt.datetime

    @staticmethod
    def resolve_user_ids(obj: AssignmentRule) -> list[int]:
        return sorted(user.pk for user in obj.users.all())


class ReorderIn(Schema):
    rule_ids: list[RecordId] = Field(..., max_length=1000, description="every rule id once, in the new order")


class PreviewIn(Schema):
    lead_id: RecordId | None = Field(None, description="a lead you may see")
    lead: dict[str, ConditionValue | bool] | None = Field(
        None, description="or a sample lead: field → value (custom fields as custom.<key>)")


class ConditionCheckOut(Schema):
    field: str
    op: str
    value: ConditionValueOut = None
    holds: bool


class RulePreviewOut(Schema):
    rule_id: int
    name: str
    matches: bool
    invalid: bool
    conditions: list[ConditionCheckOut]


class PreviewOut(Schema):
    matched_rule_id: int | None
    rules: list[RulePreviewOut]


def _require(request: HttpRequest) -> None:
    if not may_manage_routing(request.user):
        raise PermissionDenied(_("只有管理员或市场人员可以管理分配规则。"))


def _out(rule: AssignmentRule) -> AssignmentRule:
    return AssignmentRule.objects.prefetch_related("users").get(pk=rule.pk)


@router.get("", response={200: list[RuleOut], **READ_ERRORS}, summary="Assignment rules in order")
def list_rules(request: HttpRequest) -> Any:
    _require(request)
    return list(AssignmentRule.objects.prefetch_related("users").order_by("position", "id"))


@router.post("", response={201: RuleOut, **WRITE_ERRORS}, summary="Create an assignment rule")
def create_rule(request: HttpRequest, payload: RuleIn) -> Any:
    data = payload.model_dump()
    return Status(201, _out(service.assignment_rule_save(actor=request.user, data=data)))


@router.post("/reorder", response={200: list[RuleOut], **WRITE_ERRORS}, summary="Put the rules in a new order")
def reorder(request: HttpRequest, payload: ReorderIn) -> Any:
    service.assignment_rules_reorder(actor=request.user, rule_ids=payload.rule_ids)
    return list(AssignmentRule.objects.prefetch_related("users").order_by("position", "id"))


@router.post("/preview", response={200: PreviewOut, **WRITE_ERRORS},
             summary="Which rule would take this lead? (nothing is written)")
def preview(request: HttpRequest, payload: PreviewIn) -> Any:
    if (payload.lead_id is None) == (payload.lead is None):
        _require(request)
        raise ValidationFailed(_("请指定 lead_id 或 lead 之一。"),
                               errors=[FieldError("lead_id", _("请指定 lead_id 或 lead 之一。"), "required")])
    return service.assignment_preview(actor=request.user, lead_id=payload.lead_id, sample=payload.lead)


@router.get("/{rule_id}", response={200: RuleOut, **READ_ERRORS}, summary="One assignment rule")
def get_rule(request: HttpRequest, rule_id: RecordId) -> Any:
    _require(request)
    rule = AssignmentRule.objects.prefetch_related("users").filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("没有 ID 为 %(id)s 的分配规则。") % {"id": rule_id})
    return rule


@router.patch("/{rule_id}", response={200: RuleOut, **WRITE_ERRORS}, summary="Change an assignment rule")
def update_rule(request: HttpRequest, rule_id: RecordId, payload: RulePatch) -> Any:
    data = payload.model_dump(exclude_unset=True)
    version = data.pop("version", None)
    return _out(service.assignment_rule_save(actor=request.user, data=data, rule_id=rule_id,
                                             expected_version=version))


@router.delete("/{rule_id}", response={204: None, **WRITE_ERRORS}, summary="Delete an assignment rule")
def delete_rule(request: HttpRequest, rule_id: RecordId) -> Any:
    service.assignment_rule_delete(actor=request.user, rule_id=rule_id)
    return Status(204, None)
