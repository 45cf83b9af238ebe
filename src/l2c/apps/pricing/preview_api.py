"""Price preview API (ADR 0006 "API", issue 6 §6), mounted at /api/v1/pricing before the admin router:

- `POST /pricing/preview` — price a cart: every line's waterfall, totals, promotions applied and
  rejected (with why), approvals needed, violations, and which price book priced it and why.
- `POST /pricing/promotions/simulate` — the same cart with one promotion compiled in as active
  (draft or paused too): "what would this cart get", with a focused `promotion` section.

Nothing is written. Amounts are decimal strings in currency units ("1234.50"), unit prices keep up to
four places. Field errors are a 422 problem+json naming the field (`lines[3].quantity`); an unknown
SKU is not an error but a violation of the answer (the engine reports it).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from typing_extensions import TypedDict

from l2c.api.problems import errors

from . import context, explain

router = Router(tags=["pricing"])

PREVIEW_ERRORS = errors(401, 403, 404, 422)
NUMBER: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "string"}]}


# --- input -----------------------------------------------------------------------------------------
# A TypedDict, not a model: ten times faster to validate on 10,000 lines. The values are checked one by one
# by `pricing.context.parse_input`, which names a wrong one `lines[3].quantity`.
class PricingPreviewLineIn(TypedDict, total=False):
    """One cart line: the SKU code, the quantity, chosen attribute values and a manual discount."""

    sku: Annotated[Any, Field(description="SKU code", json_schema_extra={"type": "string"})]
    quantity: Annotated[Any, Field(description="> 0; a number or a decimal string", json_schema_extra=NUMBER)]
    attributes: Annotated[Any, Field(
        description="chosen attribute values {attribute code: value code}; they override the SKU's own values "
        "for attribute adjustments", json_schema_extra={"type": "object", "additionalProperties": {"type": "string"}})]
    manual_discount_percent: Annotated[Any, Field(description="0–100, applied after promotions",
                                                  json_schema_extra=NUMBER)]
    unit_cost: Annotated[Any, Field(description="≥ 0, tax-exclusive; overrides the SKU's cost (a configured line's "
                                    "rolled-up cost from the configurator)", json_schema_extra=NUMBER)]


class PricingPreviewIn(Schema):
    account_id: int | None = Field(None, description="the customer (must be visible to the caller): scope of "
                                   "books and promotions, coupon per-customer limits")
    price_book_id: int | None = Field(None, description="force an active book; the currency's base book stays "
                                      "the fallback")
    currency: Any = Field(None, description="ISO 4217 code, e.g. CNY", json_schema_extra={"type": "string"})
    as_of: Any = Field(None, description="ISO date-time or date (local time); default now",
                       json_schema_extra={"type": "string"})
    lines: list[PricingPreviewLineIn] = Field(default_factory=list, description="at most 10,000 lines")
    coupon_codes: list[Any] = Field(default_factory=list, description="coupon codes as typed (case-insensitive)",
                                    json_schema_extra={"items": {"type": "string"}})


class PricingPreviewSimulateIn(PricingPreviewIn):
    promotion: Any = Field(None, description="code of the promotion to explain (any status)",
                           json_schema_extra={"type": "string"})


# --- output ----------------------------------------------------------------------------------------
class PricingPreviewStepOut(Schema):
    kind: str = Field(description="list_price, price_book, tier, block, cost_plus, percent_of_total, attribute, "
                      "promotion, order_promotion, manual_discount")
    rule: str = Field(description="code of the source: book, promotion, adjustment (book:attribute=value); "
                      "empty for a manual discount")
    description: str
    amount: str = Field(description="change of the line amount; list_price: the list amount itself")
    message: str = Field(description="the engine's message key of the description")


class PricingPreviewLineOut(Schema):
    key: str = Field(description="1-based position of the request line; gift lines: '<parent>+gift:<promotion>'")
    sku: str
    name: str
    quantity: str
    list_price: str | None = Field(description="unit, tax-inclusive, from the base book when it has the SKU")
    unit_price: str | None = Field(description="total_amount / quantity, 4 places at most")
    net_amount: str = Field(description="tax-exclusive")
    tax_amount: str
    total_amount: str = Field(description="tax-inclusive")
    cost_amount: str
    margin_percent: str | None = Field(description="(net − cost) / net × 100; null when net is 0")
    price_book: str | None
    is_gift: bool
    parent: str | None
    promotions: list[str]
    steps: list[PricingPreviewStepOut]


class PricingPreviewTotalsOut(Schema):
    list_amount: str
    net_amount: str
    tax_amount: str
    total_amount: str
    cost_amount: str
    margin_percent: str | None
    discount_amount: str = Field(description="every reduction of the list amounts: price books below list, "
                                 "promotions, gifts at list price, manual discounts (never negative)")
    surcharge_amount: str = Field(description="every increase of the list amounts: attribute surcharges, tier fees, "
                                  "books above list; list + surcharge − discount = total")


class PricingPreviewPromotionOut(Schema):
    code: str
    name: str
    kind: str
    kind_label: str
    status: str = Field(description="applied or rejected")
    discount: str
    lines: list[str]
    coupon: str | None
    capped: bool = Field(description="the remaining budget cut the discount")
    reason: str | None = Field(description="rejected: not_eligible, customer, outside_validity, coupon_required, "
                               "coupon_used_up, coupon_customer_limit, quota_used_up, budget_used_up, "
                               "below_threshold, stacking_group, exclusive, no_saving")
    params: dict[str, Any]
    description: str


class PricingPreviewApprovalOut(Schema):
    level: int
    code: str = Field(description="below_cost, below_floor or margin")
    line: str | None = Field(description="line key; null: the whole quote")
    sku: str | None
    description: str
    params: dict[str, Any]


class PricingPreviewViolationOut(Schema):
    code: str
    line: str | None
    sku: str | None
    blocking: bool
    description: str
    params: dict[str, Any]


class PricingPreviewBookOut(Schema):
    code: str
    name: str
    priority: int
    applicable: bool
    reason: str = Field(description="applicable, forced, not_forced, other_currency, not_yet_valid, expired, "
                        "scope_account, scope_group, scope_department, scope_region")
    description: str
    used: bool = Field(description="the book priced at least one line")


class PricingPreviewAccountOut(Schema):
    id: int
    name: str
    level: str
    tags: list[str]
    region: str


class PricingPreviewSkippedRuleOut(Schema):
    kind: str
    code: str
    field: str
    error: str


class PricingPreviewOut(Schema):
    currency: str
    as_of: str
    rules_version: int
    account: PricingPreviewAccountOut | None
    lines: list[PricingPreviewLineOut]
    totals: PricingPreviewTotalsOut
    promotions: list[PricingPreviewPromotionOut]
    approvals: list[PricingPreviewApprovalOut]
    violations: list[PricingPreviewViolationOut]
    price_books: list[PricingPreviewBookOut] = Field(description="every book considered, in selection order")
    skipped_rules: list[PricingPreviewSkippedRuleOut] = Field(
        description="stored rules the engine refused and left out (fix them in the editors)")


class PricingPreviewFocusLineOut(Schema):
    key: str
    sku: str
    is_gift: bool
    discount: str


class PricingPreviewFocusOut(Schema):
    code: str
    name: str
    kind: str
    stored_status: str = Field(description="the promotion's own status (draft, active, paused, ended)")
    applied: bool
    discount: str
    lines: list[PricingPreviewFocusLineOut]
    reason: str | None
    description: str


class PricingPreviewSimulationOut(PricingPreviewOut):
    promotion: PricingPreviewFocusOut


# --- endpoints -------------------------------------------------------------------------------------
def _body(payload: PricingPreviewIn) -> dict[str, Any]:
    return payload.model_dump()


def _json(body: dict[str, Any]) -> HttpResponse:
    """The answer as JSON, written directly: it is built field by field to the declared schema (the
    tests hold the shape), and re-validating thousands of lines and steps through pydantic would cost
    ten times the pricing itself."""
    return HttpResponse(json.dumps(body, ensure_ascii=False, separators=(",", ":")), content_type="application/json")


@router.post("/preview", response={200: PricingPreviewOut, **PREVIEW_ERRORS}, summary="Price a cart (preview)")
def pricing_preview(request: HttpRequest, payload: PricingPreviewIn) -> Any:
    """Price the cart as a quote would: needs view on price books; nothing is written."""
    preview = context.preview_price(user=request.user, data=_body(payload))  # type: ignore[arg-type]
    return _json(explain.answer(preview))


@router.post("/promotions/simulate", response={200: PricingPreviewSimulationOut, **PREVIEW_ERRORS},
             summary="What would this cart get from a promotion")
def pricing_promotion_simulate(request: HttpRequest, payload: PricingPreviewSimulateIn) -> Any:
    """The preview with `promotion` compiled in as active whatever its status; needs view on promotions."""
    preview = context.preview_price(user=request.user, data=_body(payload), simulate=True)  # type: ignore[arg-type]
    body = explain.answer(preview)
    body["promotion"] = explain.focus(preview, body)
    return _json(body)
