"""REST API of risk alerts (风险预警, ADR 0003): ingest risk events in batches, list them per account
and across the visible accounts, resolve/reopen them, read and change the rules. Mount with
``api.add_router("/", router)``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import idempotent
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.identity import access

from . import risk
from .models import RiskEvent, RiskKind, RiskRule

router = Router(tags=["risk"])

KINDS = ", ".join(RiskKind.values)
Severity = Literal["low", "medium", "high", "critical"]


class RiskEventIn(Schema):
    source: str = Field(..., description="the data provider, e.g. qcc, tianyancha, finance; with event_id it "
                                         "identifies the event", max_length=50)
    event_id: str = Field(..., description="the provider's id of the event", max_length=100)
    account_id: RecordId | None = Field(None, description="the account's id; or give credit_code")
    credit_code: str | None = Field(None, description="the account's unified social credit code", max_length=40)
    kind: str = Field(..., description=f"one of {KINDS}", max_length=50)
    title: str = Field(..., max_length=200)
    detail: str = Field("", max_length=5000)
    occurred_on: dt.date | None = None
    amount_minor: int | None = Field(None, ge=0, le=2**62, description="amount involved in minor units (分)")
    currency: str = Field("CNY", max_length=3)
    url: str = Field("", max_length=500)


class RiskEventsIn(Schema):
    events: list[RiskEventIn] = Field(..., min_length=1, max_length=risk.MAX_BATCH)


class IngestItemOut(Schema):
    index: int = Field(description="position of the item in the request")
    status: Literal["created", "unchanged", "duplicate"] = Field(
        description="created; unchanged: already stored (nothing changed); duplicate: repeats item duplicate_of")
    id: int | None
    account_id: int
    severity: str
    duplicate_of: int | None = None


class IngestOut(Schema):
    created: int
    unchanged: int
    items: list[IngestItemOut]


class RiskEventOut(Schema):
    id: int
    account_id: int
    source: str
    event_id: str
    kind: str
    category: str
    severity: str
    title: str
    detail: str
    occurred_on: dt.date | None
    amount_minor: int | None
    currency: str
    url: str
    status: str
    resolved_at: dt.datetime | None
    resolved_by_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_category(obj: RiskEvent) -> str:
        return risk.category_of(obj.kind)


class AccountRiskOut(Schema):
    account_id: int
    risk_level: str | None = Field(description="highest severity among the open events; null when none")
    items: list[RiskEventOut]


class RiskEventPage(Schema):
    items: list[RiskEventOut]
    next_cursor: str | None
    previous_cursor: str | None


class RiskEventFilters(Schema):
    status: Literal["open", "resolved"] | None = None
    severity: Severity | None = None
    kind: Literal["lawsuit", "enforcement", "dishonest_debtor", "overdue_payment", "abnormal_operation",
                  "registration_change", "other"] | None = None
    category: Literal["judicial", "financial", "registration", "other"] | None = None
    account_id: RecordId | None = None
    source: str | None = Field(None, max_length=50)
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


# Resolve / reopen take no body (a bare POST works); the optional reason is a query parameter.
NOTE = Query("", max_length=300, description="why (kept in the account's audit trail)")


class RiskRuleOut(Schema):
    kind: str
    category: str
    severity: str
    notify: bool = Field(description="alert the account owner and their manager in the app")
    updated_at: dt.datetime

    @staticmethod
    def resolve_category(obj: RiskRule) -> str:
        return risk.category_of(obj.kind)


class RiskRulePatch(Schema):
    severity: Severity | None = None
    notify: bool | None = None


@router.post("/risk-events", response={200: IngestOut, **WRITE_ERRORS},
             summary="Ingest risk events (batch, all or nothing; idempotent by source + event_id)",
             description="Needs the import permission on risk events. Each event names its account by "
                         "account_id or credit_code (an account the caller may see). Any invalid item "
                         "rejects the batch (422, errors at events.<index>.<field>). An event already "
                         "stored is reported as unchanged. Honours Idempotency-Key.")
def ingest(request: HttpRequest, payload: RiskEventsIn) -> Any:
    def produce() -> dict[str, Any]:
        result = risk.risk_events_ingest(actor=request.user,
                                         events=[event.model_dump() for event in payload.events])
        return {"created": result.created, "unchanged": result.unchanged,
                "items": [item.__dict__ for item in result.items]}

    status, body = idempotent(request, 200, produce)
    return Status(status, body)


@router.get("/risk-events", response={200: RiskEventPage, **READ_ERRORS},
            summary="Risk events of the accounts the caller may see, newest first")
def list_events(request: HttpRequest, filters: Query[RiskEventFilters]) -> Any:
    data = filters.model_dump(exclude={"cursor", "limit"}, exclude_none=True)
    events = risk.risk_event_list(user=request.user, filters=data)
    page = keyset_page(events, sort="-id", allowed_sorts=risk.RISK_EVENT_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.get("/risk-events/{event_id}", response={200: RiskEventOut, **READ_ERRORS}, summary="One risk event")
def get_event(request: HttpRequest, event_id: int) -> Any:
    return risk.risk_event_get(user=request.user, event_id=event_id)


@router.post("/risk-events/{event_id}/resolve", response={200: RiskEventOut, **WRITE_ERRORS},
             summary="Resolve an open risk event (needs edit access to its account)")
def resolve(request: HttpRequest, event_id: int, note: str = NOTE) -> Any:
    return risk.risk_event_resolve(actor=request.user, event_id=event_id, note=note)


@router.post("/risk-events/{event_id}/reopen", response={200: RiskEventOut, **WRITE_ERRORS},
             summary="Reopen a resolved risk event (needs edit access to its account)")
def reopen(request: HttpRequest, event_id: int, note: str = NOTE) -> Any:
    return risk.risk_event_reopen(actor=request.user, event_id=event_id, note=note)


@router.get("/accounts/{account_id}/risk-events", response={200: AccountRiskOut, **READ_ERRORS},
            summary="An account's risk level and events: open first, most severe first")
def account_events(request: HttpRequest, account_id: int, status: Literal["open", "resolved"] | None = None) -> Any:
    account, events = risk.account_risk_events(user=request.user, account_id=account_id, status=status)
    return {"account_id": account.pk, "risk_level": account.risk_level, "items": events}


@router.get("/risk-rules", response={200: list[RiskRuleOut], **READ_ERRORS},
            summary="Risk rules: the severity of each event kind and whether it alerts")
def rules(request: HttpRequest) -> Any:
    access.require(request.user, "risk_event", "view")
    return risk.risk_rules()


class RiskRuleChangeIn(RiskRulePatch):
    kind: Literal["lawsuit", "enforcement", "dishonest_debtor", "overdue_payment", "abnormal_operation",
                  "registration_change", "other"]


class RiskRulesPatch(Schema):
    rules: list[RiskRuleChangeIn] = Field(..., min_length=1, max_length=20)


@router.patch("/risk-rules", response={200: list[RiskRuleOut], **WRITE_ERRORS},
              summary="Change several risk rules at once (administrators only; all or nothing)")
def rules_update(request: HttpRequest, payload: RiskRulesPatch) -> Any:
    risk.risk_rules_update(actor=request.user, changes=[change.model_dump() for change in payload.rules])
    return risk.risk_rules()


@router.patch("/risk-rules/{kind}", response={200: RiskRuleOut, **WRITE_ERRORS},
              summary="Change a risk rule (administrators only; applies to events ingested afterwards)")
def rule_update(request: HttpRequest, kind: str, payload: RiskRulePatch) -> Any:
    return risk.risk_rule_update(actor=request.user, kind=kind, severity=payload.severity, notify=payload.notify)


__all__ = ["router"]
