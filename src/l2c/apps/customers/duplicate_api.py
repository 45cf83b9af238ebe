"""Duplicate control over the API: check a record before saving it (ADR 0003)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from l2c.api.problems import READ_ERRORS, DuplicateOut
from l2c.apps.identity import access

from . import duplicates

router = Router(tags=["duplicates"])


class DuplicateCheckIn(Schema):
    object: Literal["account", "contact"]
    record: dict[str, Any] = Field(..., description="the record's fields as for create, e.g. name, credit_code, "
                                                    "phone, address (contacts: mobile, phone, email)")
    id: int | None = Field(None, description="the record being edited, left out of its own candidates")


class DuplicateCheckOut(Schema):
    matches: list[DuplicateOut] = Field(description="candidates the caller may see, strongest first")
    hidden_matches: int = Field(description="candidates the caller may not see: counted, never named")
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
        "hidden_matches": result.hidden_count, "blocking": result.blocks, "needs_confirmation": result.warns,
    }
