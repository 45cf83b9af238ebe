"""Duplicate control over the API: check a record before saving it (ADR 0003)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from l2c.api.problems import READ_ERRORS, WRITE_ERRORS, DuplicateOut
from l2c.apps.identity import access
from l2c.kernel.errors import Conflict, PermissionDenied

from . import duplicates
from .models import DuplicateRule

router = Router(tags=["duplicates"])


class DuplicateCheckIn(Schema):
    object: Literal["account", "contact", "lead"]
    record: dict[str, Any] = Field(..., description="the record's fields as for create, e.g. name, credit_code, "
                                                    "phone, address (contacts: mobile, phone, email; "
                                                    "leads: company, mobile, phone, email)")
    id: int | None = Field(None, description="the record being edited, left out of its own candidates")


class DuplicateCheckOut(Schema):
    matches: list[DuplicateOut] = Field(description="candidates the caller may see among the strongest 50, "
                                                    "strongest first")
    hidden_matches: int = Field(description="candidates the caller may not see: counted, never named")
    total_matches: int = Field(description="every candidate: named, hidden, and visible ones beyond the "
                                           "strongest 50 (counted only)")
    blocking: bool = Field(description="a block rule matched: the record cannot be saved")
    needs_confirmation: bool = Field(description="a warn rule matched: save with confirm_duplicates=true")


@router.post("/check", response={200: DuplicateCheckOut, **READ_ERRORS},
             summary="Duplicate candidates of a record, among records the caller may see")
def check(request: HttpRequest, payload: DuplicateCheckIn) -> Any:
    access.require(request.user, payload.object, "view")
    record = {key: value for key, value in payload.record.items() if isinstance(value, str)}
    result = duplicates.duplicates_find(actor=request.user, object_type=payload.object, values=record,
                                        record_id=payload.id)
    return {
        "matches": [duplicates.candidate_dict(candidate, payload.object) for candidate in result.visible],
        "hidden_matches": result.hidden_count, "total_matches": result.match_count,
        "blocking": result.blocks, "needs_confirmation": result.warns,
    }


class DuplicateRuleOut(Schema):
    id: int
    object_type: str
    key: str
    label: str
    kind: str
    field: str
    threshold: int
    action: str
    is_active: bool
    position: int


class DuplicateRuleIn(Schema):
    object_type: Literal["account", "contact", "lead"]
    key: str = Field(..., pattern=r"^[a-z0-9_-]{1,40}$")
    label: str = Field(..., min_length=1, max_length=100)
    kind: Literal["exact", "fuzzy"]
    field: Literal["credit_code", "phone", "email", "name", "address"]
    threshold: int = Field(100, ge=1, le=100)
    action: Literal["block", "warn", "report"]
    is_active: bool = True
    position: int = Field(0, ge=0, le=1000)


class DuplicateRulePatch(Schema):
    label: str | None = Field(None, min_length=1, max_length=100)
    kind: Literal["exact", "fuzzy"] | None = None
    field: Literal["credit_code", "phone", "email", "name", "address"] | None = None
    threshold: int | None = Field(None, ge=1, le=100)
    action: Literal["block", "warn", "report"] | None = None
    is_active: bool | None = None
    position: int | None = Field(None, ge=0, le=1000)


@router.get("/rules", response={200: list[DuplicateRuleOut], **READ_ERRORS}, summary="Duplicate rules")
def rules(request: HttpRequest) -> Any:
    if not access.is_admin(request.user):
        raise PermissionDenied(_("只有管理员可以查看查重规则。"))
    return list(DuplicateRule.objects.order_by("object_type", "position", "id"))


@router.post("/rules", response={201: DuplicateRuleOut, **WRITE_ERRORS}, summary="Add a duplicate rule")
def rule_create(request: HttpRequest, payload: DuplicateRuleIn) -> Any:
    if DuplicateRule.objects.filter(object_type=payload.object_type, key=payload.key).exists():
        raise Conflict(_("已有代码为 %(key)s 的查重规则。") % {"key": payload.key})
    return Status(201, duplicates.duplicate_rule_save(actor=request.user, data=payload.model_dump()))


@router.patch("/rules/{rule_id}", response={200: DuplicateRuleOut, **WRITE_ERRORS},
              summary="Change a duplicate rule")
def rule_update(request: HttpRequest, rule_id: int, payload: DuplicateRulePatch) -> Any:
    return duplicates.duplicate_rule_save(actor=request.user, rule_id=rule_id,
                                          data=payload.model_dump(exclude_unset=True))
