"""REST API of configuration rules and the configurator (ADR 0006), mounted at /api/v1/catalog before
the catalogue router: rules CRUD (ETag / If-Match), `POST /catalog/rules/test` (the "test this rule"
box) and `POST /catalog/configurations/validate` (expand + validate a configuration).

Quantities and costs are decimal strings (costs tax-exclusive, in the SKUs' cost currency)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import etag_for, expected_version
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.identity import access

from . import configurator, rules
from .models import ConfigRule

router = Router(tags=["configuration"])

RULE_SORTS = {"code": "code", "-code": "-code", "position": "position", "-updated_at": "-updated_at"}
RuleKindName = Literal["requires", "excludes", "auto_add", "attribute_constraint", "quantity_limit"]
Quantity = str | int


class RuleIn(Schema):
    code: str = Field(..., max_length=60)
    name: str = Field(..., max_length=200)
    product_id: RecordId | None = Field(None, description="the configured product the rule belongs to; null = global")
    kind: RuleKindName
    definition: dict[str, Any] = Field(..., description="per kind, see ADR 0006 and engines.configurator.rules")
    message: str = Field("", max_length=300, description="optional human text shown instead of the generated one")
    is_active: bool = True
    position: int = Field(0, ge=0, le=1_000_000)


class RulePatch(Schema):
    code: str | None = Field(None, max_length=60)
    name: str | None = Field(None, max_length=200)
    product_id: RecordId | None = None
    kind: RuleKindName | None = None
    definition: dict[str, Any] | None = None
    message: str | None = Field(None, max_length=300)
    is_active: bool | None = None
    position: int | None = Field(None, ge=0, le=1_000_000)


class RuleOut(Schema):
    id: int
    code: str
    name: str
    product_id: int | None
    product_code: str | None
    kind: str
    definition: dict[str, Any]
    message: str
    is_active: bool
    position: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class RulePage(Schema):
    items: list[RuleOut]
    next_cursor: str | None
    previous_cursor: str | None


class RuleFilters(Schema):
    q: str | None = Field(None, max_length=100)
    product_id: RecordId | None = None
    kind: RuleKindName | None = None
    is_active: bool | None = None
    sort: Literal["code", "-code", "position", "-updated_at"] = "code"
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


class SelectionIn(Schema):
    sku: str = Field(..., max_length=80)
    quantity: Quantity = Field(1, description="per unit of the parent the component sits in; 0 = not chosen")


class ConfigurationIn(Schema):
    product: str | None = Field(None, max_length=60, description="product code (its SKU matching `attributes`)")
    sku: str | None = Field(None, max_length=80, description="root SKU code (instead of product)")
    quantity: Quantity = Field(1, description="configured units, decimal string or integer")
    selections: list[SelectionIn] = Field(default_factory=list, max_length=configurator.MAX_SELECTIONS)
    attributes: dict[str, str] = Field(default_factory=dict, description="{attribute code: value code}")


class RuleTestRuleIn(Schema):
    kind: RuleKindName | None = None
    definition: dict[str, Any] | None = None
    product_id: RecordId | None = None
    message: str = Field("", max_length=300)


class RuleTestIn(Schema):
    rule_id: RecordId | None = Field(None, description="a saved rule (its unsaved changes in `rule`)")
    rule: RuleTestRuleIn | None = None
    configuration: ConfigurationIn


class ViolationOut(Schema):
    code: str = Field(description="requires_missing, excludes_conflict, …, or a structure code")
    rule: str | None = Field(description="code of the rule that raised it (null: the BOM structure)")
    kind: str = Field(description="the rule kind, or structure")
    skus: list[str]
    message_key: str
    params: dict[str, Any]
    message: str = Field(description="human text: the rule's own message, else the explanation")
    explanation: str


class LineOut(Schema):
    key: str
    sku: str
    name: str
    product: str
    quantity: str
    parent: str | None
    priced: bool = Field(description="its own quote line (true) or included in its parent's price")
    source: str = Field(description="root, required, selected or auto_add")
    rule: str | None
    unit_cost: str = Field(description="rolled up: own cost + included components, per unit")
    depth: int


class OptionOut(Schema):
    group: str | None
    group_name: str
    sku: str
    name: str
    allowed: bool
    selected: bool
    quantity: str
    parent: str | None
    parent_sku: str | None
    reasons: list[ViolationOut]


class ConfigurationOut(Schema):
    valid: bool
    rules_version: int
    product: str
    sku: str
    quantity: str
    lines: list[LineOut]
    auto_added: list[LineOut]
    priced_lines: list[LineOut] = Field(description="the lines a quote would hold (parent = nearest priced line)")
    violations: list[ViolationOut]
    unit_cost: str
    total_cost: str
    options: list[OptionOut]


class RuleTestOut(Schema):
    rule: str
    passes: bool
    violations: list[ViolationOut]
    auto_added: list[LineOut]
    result: ConfigurationOut


def _rule_out(rule: ConfigRule) -> dict[str, Any]:
    return {"id": rule.pk, "code": rule.code, "name": rule.name, "product_id": rule.product_id,
            "product_code": rule.product.code if rule.product_id else None, "kind": rule.kind,
            "definition": rule.definition, "message": rule.message, "is_active": rule.is_active,
            "position": rule.position, "version": rule.version, "created_at": rule.created_at,
            "updated_at": rule.updated_at}


@router.post("/configurations/validate", response={200: ConfigurationOut, **READ_ERRORS},
             summary="Expand and validate a configuration: lines, auto-added items, every violation, cost")
def validate_configuration(request: HttpRequest, payload: ConfigurationIn) -> Any:
    compiled, configuration, result = configurator.configuration_validate(
        user=request.user, data=payload.model_dump())
    return configurator.result_dict(compiled, configuration, result)


@router.post("/rules/test", response={200: RuleTestOut, **READ_ERRORS},
             summary="Test a rule (saved, or unsaved kind + definition) against a sample configuration")
def test_rule(request: HttpRequest, payload: RuleTestIn) -> Any:
    rule = payload.rule
    return rules.rule_test(user=request.user, configuration=payload.configuration.model_dump(),
                           rule_id=payload.rule_id, kind=rule.kind if rule else None,
                           definition=rule.definition if rule else None,
                           product_id=rule.product_id if rule else None, message=rule.message if rule else "")


@router.get("/rules", response={200: RulePage, **READ_ERRORS}, summary="List configuration rules")
def list_rules(request: HttpRequest, filters: Query[RuleFilters]) -> Any:
    access.require(request.user, "product", "view")
    queryset = ConfigRule.objects.select_related("product")
    if filters.q:
        queryset = queryset.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    if filters.product_id is not None:
        queryset = queryset.filter(product_id=filters.product_id)
    if filters.kind is not None:
        queryset = queryset.filter(kind=filters.kind)
    if filters.is_active is not None:
        queryset = queryset.filter(is_active=filters.is_active)
    page = keyset_page(queryset, sort=filters.sort, allowed_sorts=RULE_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"items": [_rule_out(rule) for rule in page.items], "next_cursor": page.next_cursor,
            "previous_cursor": page.previous_cursor}


@router.post("/rules", response={201: RuleOut, **WRITE_ERRORS}, summary="Create a configuration rule")
def create_rule(request: HttpRequest, response: HttpResponse, payload: RuleIn) -> Any:
    rule = rules.rule_create(actor=request.user, data=payload.model_dump())
    response["ETag"] = etag_for(rule.version)
    return Status(201, _rule_out(rule))


@router.get("/rules/{rule_id}", response={200: RuleOut, **READ_ERRORS}, summary="One configuration rule")
def get_rule(request: HttpRequest, response: HttpResponse, rule_id: RecordId) -> Any:
    access.require(request.user, "product", "view")
    rule = rules.rule_get(rule_id)
    response["ETag"] = etag_for(rule.version)
    return _rule_out(rule)


@router.patch("/rules/{rule_id}", response={200: RuleOut, **WRITE_ERRORS},
              summary="Update a configuration rule (fields given); If-Match")
def update_rule(request: HttpRequest, response: HttpResponse, rule_id: RecordId, payload: RulePatch) -> Any:
    rule = rules.rule_update(actor=request.user, rule_id=rule_id, data=payload.model_dump(exclude_unset=True),
                             expected_version=expected_version(request))
    response["ETag"] = etag_for(rule.version)
    return _rule_out(rule)


@router.post("/rules/{rule_id}/activate", response={200: RuleOut, **WRITE_ERRORS}, summary="Switch a rule on")
def activate_rule(request: HttpRequest, response: HttpResponse, rule_id: RecordId) -> Any:
    rule = rules.rule_activate(actor=request.user, rule_id=rule_id, is_active=True,
                               expected_version=expected_version(request))
    response["ETag"] = etag_for(rule.version)
    return _rule_out(rule)


@router.post("/rules/{rule_id}/deactivate", response={200: RuleOut, **WRITE_ERRORS}, summary="Switch a rule off")
def deactivate_rule(request: HttpRequest, response: HttpResponse, rule_id: RecordId) -> Any:
    rule = rules.rule_activate(actor=request.user, rule_id=rule_id, is_active=False,
                               expected_version=expected_version(request))
    response["ETag"] = etag_for(rule.version)
    return _rule_out(rule)


@router.delete("/rules/{rule_id}", response={204: None, **WRITE_ERRORS}, summary="Delete a configuration rule")
def delete_rule(request: HttpRequest, rule_id: RecordId) -> Any:
    rules.rule_delete(actor=request.user, rule_id=rule_id, expected_version=expected_version(request))
    return Status(204, None)
