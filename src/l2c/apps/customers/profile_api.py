"""Customer 360 profile API: every dimension of one account, and the registration-data refresh."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId

from . import profile
from .registration import registration_refresh

router = Router(tags=["accounts"])


class DimensionOut(Schema):
    key: str
    label: str
    data: dict[str, Any]


class ProfileOut(Schema):
    id: int
    name: str
    dimensions: list[DimensionOut] = Field(description="in display order; later modules add theirs")
    upcoming: list[str] = Field(description="modules whose dimensions are not available yet")


class RefreshOut(Schema):
    found: bool = Field(description="whether the provider knows the company")
    provider: str
    changes: dict[str, list[Any]] = Field(description="field → [before, after]; empty when nothing changed")
    version: int


@router.get("/accounts/{account_id}/profile", response={200: ProfileOut, **READ_ERRORS},
            summary="The customer 360 profile of a visible account")
def account_profile(request: HttpRequest, account_id: RecordId) -> Any:
    account, built = profile.account_profile(user=request.user, account_id=account_id)
    return {"id": account.pk, "name": account.name,
            "dimensions": [{"key": dimension.key, "label": str(dimension.label), "data": data}
                           for dimension, data in built],
            "upcoming": [str(label) for label in profile.upcoming_modules()]}


@router.post("/accounts/{account_id}/registration/refresh", response={200: RefreshOut, **WRITE_ERRORS},
             summary="Refresh business-registration fields from the configured provider")
def refresh_registration(request: HttpRequest, account_id: RecordId) -> Any:
    result = registration_refresh(actor=request.user, account_id=account_id)
    return {"found": result.found, "provider": result.provider, "changes": result.changes,
            "version": result.account.version}
