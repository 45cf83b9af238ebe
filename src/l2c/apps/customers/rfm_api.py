"""REST API of RFM: an account's RFM and transactions, the settings, segment names, on-demand recompute."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import idempotent
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS

from . import rfm
from .models import CustomerTransaction, RfmSettings

router = Router(tags=["rfm"])

SegmentCode = Literal["important_value", "important_development", "important_retention", "important_recovery",
                      "general_value", "general_development", "general_retention", "general_recovery"]


# --- schemas --------------------------------------------------------------------------------------
class RfmScoresOut(Schema):
    recency: int = Field(..., description="score 1..bins; the most recent customers score highest")
    frequency: int
    monetary: int


class AccountRfmOut(Schema):
    account_id: int
    has_score: bool = Field(..., description="false while the account has no transaction in the settings "
                                             "currency and window as of the last recompute")
    message: str = Field("", description="why there is no score, when has_score is false")
    as_of: dt.date | None = None
    computed_at: dt.datetime | None = None
    recency_days: int | None = Field(None, description="whole days from the last transaction date to as_of")
    frequency: int | None = Field(None, description="number of transactions in the window")
    monetary_minor: int | None = Field(None, description="sum of their amounts in minor units (fen)")
    monetary: Decimal | None = Field(None, description="the same sum in major units (yuan)")
    currency: str
    scores: RfmScoresOut | None = None
    segment: SegmentCode | None = None
    segment_name: str | None = None
    window_days: int | None = Field(None, description="the window of the settings; null = all history")
    bins: int
    definitions: dict[str, str]


class TransactionIn(Schema):
    occurred_on: dt.date
    amount: Decimal = Field(..., description="in major units (yuan), at most the currency's decimals")
    currency: str = Field("CNY", min_length=3, max_length=3)
    reference: str = Field("", max_length=100)
    note: str = Field("", max_length=255)


class TransactionOut(Schema):
    id: int
    account_id: int
    occurred_on: dt.date
    amount_minor: int
    amount: Decimal
    currency: str
    reference: str
    source: str
    note: str
    created_by_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_amount(obj: CustomerTransaction | dict[str, Any]) -> Decimal:
        if isinstance(obj, dict):  # an already serialised body (create, idempotent replay)
            return Decimal(str(obj["amount"]))
        return Decimal(obj.amount_minor).scaleb(-rfm.CURRENCY_EXPONENTS.get(obj.currency, 2))


class SettingsOut(Schema):
    window_days: int | None = Field(None, description="null = all history up to the as-of date")
    bins: int = Field(..., description="score bins per dimension (5 = quintiles)")
    currency: str = Field(..., description="only transactions in this currency count")
    updated_at: dt.datetime
    definitions: dict[str, str]


class SettingsPatch(Schema):
    window_days: int | None = Field(None, ge=1, le=rfm.MAX_WINDOW_DAYS, description="null = all history")
    bins: int | None = Field(None, ge=2, le=10)
    currency: str | None = Field(None, min_length=3, max_length=3)


class SegmentNameOut(Schema):
    code: SegmentCode
    name: str
    default_name: str
    is_custom: bool


class SegmentNamesIn(Schema):
    names: dict[str, str] = Field(..., description="segment code → name; an empty name restores the built-in one")


class RecomputeOut(Schema):
    job_run_id: int
    status: str


def _definitions() -> dict[str, str]:
    return {key: str(text) for key, text in rfm.DEFINITIONS.items()}


def _settings_out(settings: RfmSettings) -> dict[str, Any]:
    return {"window_days": settings.window_days, "bins": settings.bins, "currency": settings.currency,
            "updated_at": settings.updated_at, "definitions": _definitions()}


# --- an account's RFM and transactions ------------------------------------------------------------
@router.get("/accounts/{account_id}/rfm", response={200: AccountRfmOut, **READ_ERRORS},
            summary="Raw recency, frequency, monetary and the scores of an account")
def account_rfm(request: HttpRequest, account_id: int) -> Any:
    view = rfm.account_rfm(user=request.user, account_id=account_id)
    settings = view.settings
    body: dict[str, Any] = {"account_id": view.account_id, "has_score": view.rfm is not None,
                            "window_days": settings.window_days, "bins": settings.bins,
                            "currency": settings.currency, "definitions": _definitions()}
    score = view.rfm
    if score is None:
        body["message"] = rfm.no_score_message(settings)
        return body
    body.update(
        as_of=score.as_of, computed_at=score.computed_at, recency_days=score.recency_days,
        frequency=score.frequency, monetary_minor=score.monetary_minor,
        monetary=Decimal(score.monetary_minor).scaleb(-rfm.CURRENCY_EXPONENTS.get(score.currency, 2)),
        currency=score.currency, segment=score.segment, segment_name=view.segment_name,
        scores={"recency": score.recency_score, "frequency": score.frequency_score,
                "monetary": score.monetary_score},
    )
    return body


@router.get("/accounts/{account_id}/transactions", response={200: list[TransactionOut], **READ_ERRORS},
            summary="Transactions of an account, newest first")
def list_transactions(request: HttpRequest, account_id: int, limit: int = Query(100, ge=1, le=1000)) -> Any:
    return rfm.transactions_for(user=request.user, account_id=account_id, limit=limit)


@router.post("/accounts/{account_id}/transactions", response={201: TransactionOut, **WRITE_ERRORS},
             summary="Add a transaction to an account you may edit (Idempotency-Key honoured)")
def create_transaction(request: HttpRequest, account_id: int, payload: TransactionIn) -> Any:
    def produce() -> dict[str, Any]:
        record = rfm.transaction_create(actor=request.user, account_id=account_id, data=payload.model_dump())
        return TransactionOut.from_orm(record).model_dump(mode="json")

    status, body = idempotent(request, 201, produce)
    return Status(status, body)


@router.delete("/transactions/{transaction_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a transaction")
def delete_transaction(request: HttpRequest, transaction_id: int) -> Any:
    rfm.transaction_delete(actor=request.user, transaction_id=transaction_id)
    return Status(204, None)


# --- settings, segment names, recompute -------------------------------------------------------------
@router.get("/rfm/settings", response={200: SettingsOut, **READ_ERRORS}, summary="RFM settings and definitions")
def get_settings(request: HttpRequest) -> Any:
    return _settings_out(rfm.settings_get())


@router.patch("/rfm/settings", response={200: SettingsOut, **WRITE_ERRORS},
              summary="Change the RFM window, bins or currency (admins; applies at the next recompute)")
def patch_settings(request: HttpRequest, payload: SettingsPatch) -> Any:
    return _settings_out(rfm.settings_update(actor=request.user, data=payload.model_dump(exclude_unset=True)))


@router.get("/rfm/segments", response={200: list[SegmentNameOut], **READ_ERRORS}, summary="Segment names")
def get_segment_names(request: HttpRequest) -> Any:
    return rfm.segment_name_rows()


@router.put("/rfm/segments", response={200: list[SegmentNameOut], **WRITE_ERRORS},
            summary="Rename segments (admins); an empty name restores the built-in one")
def put_segment_names(request: HttpRequest, payload: SegmentNamesIn) -> Any:
    return rfm.segment_names_set(actor=request.user, names=payload.names)


@router.post("/rfm/recompute", response={202: RecomputeOut, **WRITE_ERRORS},
             summary="Queue a recompute of every account's RFM now (admins and managers); see GET /jobs/{id}")
def recompute(request: HttpRequest) -> Any:
    run = rfm.rfm_recompute_request(actor=request.user)
    return Status(202, {"job_run_id": run.pk, "status": run.status})
