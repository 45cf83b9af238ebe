"""Configuration rules (配置规则, ADR 0006): create, update (version / ETag), delete, (de)activate, and
the rule editor's "test this rule" box.

A definition is validated by the configurator's parser (`engines.configurator.parse_rule`); its errors
are field errors named ``definition.<field>`` ("definition.then[1]", "definition.when.attribute").
Every SKU, product, category, option group, attribute and attribute value a definition names must
exist. Each write runs in one transaction with its audit event and a rules-version bump.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record, diff, snapshot
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines.configurator import (
    Configuration,
    Ref,
    Rule,
    RuleDefinitionError,
    catalog_with_rule,
    expand,
    parse_ref,
    parse_rule,
    validate_rule_against,
)
from l2c.kernel.errors import FieldError, NotFound, PreconditionFailed, ValidationFailed

from . import config_messages
from .configurator import (
    configuration_from_input,
    configurator_catalog,
    line_dict,
    parse_quantity,
    result_dict,
    violation_dict,
)
from .models import Attribute, AttributeValue, BomOptionGroup, Category, ConfigRule, Product, RuleKind, Sku
from .services import rules_version_bump

OBJECT_TYPE = "config_rule"
AUDITED_FIELDS = ("code", "name", "product", "kind", "definition", "message", "is_active", "position")
CODE_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
TEST_RULE_CODE = "__test__"


# --- definition checks ---------------------------------------------------------------------------


def _ref_fields(kind: str, definition: Mapping[str, Any]) -> list[tuple[str, Ref]]:
    """The references of a parsed-clean definition with the path of the field holding each."""
    found: list[tuple[str, Ref]] = []

    def one(field: str, value: Any) -> None:
        found.append((field, parse_ref(field, value)))

    def many(field: str, value: Any) -> None:
        if isinstance(value, str):
            one(field, value)
        else:
            for index, item in enumerate(value):
                one(f"{field}[{index}]", item)

    if kind == "requires":
        one("if", definition["if"])
        many("then", definition["then"])
    elif kind == "excludes":
        one("a", definition["a"])
        many("b", definition["b"])
    elif kind == "auto_add":
        one("when", definition["when"])
        one("add", definition["add"])
    elif kind == "attribute_constraint":
        when = definition["when"]
        if isinstance(when, str):
            one("when", when)
        elif when.get("sku") is not None:
            one("when.sku", when["sku"])
    elif kind == "quantity_limit":
        target = definition["target"]
        if isinstance(target, Mapping):
            name = next(iter(target))
            found.append((f"target.{name}", Ref(name, str(target[name]).strip())))
        else:
            one("target", target)
    return found


def _definition_field(field: str) -> str:
    return "kind" if field == "kind" else "definition" if field == "definition" else f"definition.{field}"


def definition_errors(kind: str, definition: Any, product_id: int | None) -> list[FieldError]:
    """Every problem of a rule definition: the parser's first error, or the references that do not
    exist (all of them)."""
    try:
        parse_rule(kind, definition)
    except RuleDefinitionError as error:
        return [FieldError(_definition_field(error.field), config_messages.render(error.message_key, error.params),
                           error.message_key.rsplit(".", 1)[-1])]
    number_errors = _number_errors(definition)
    if number_errors:
        return number_errors
    refs = _ref_fields(kind, definition)
    wanted: dict[str, set[str]] = {"sku": set(), "product": set(), "category": set(), "group": set()}
    for _field, ref in refs:
        wanted[ref.kind].add(ref.code)
    existing = {
        "sku": set(Sku.objects.filter(code__in=wanted["sku"]).values_list("code", flat=True))
        if wanted["sku"] else set(),
        "product": set(Product.objects.filter(code__in=wanted["product"]).values_list("code", flat=True))
        if wanted["product"] else set(),
        "category": set(Category.objects.filter(code__in=wanted["category"]).values_list("code", flat=True))
        if wanted["category"] else set(),
        "group": set(),
    }
    if wanted["group"]:
        groups = BomOptionGroup.objects.filter(code__in=wanted["group"])
        if product_id is not None:
            groups = groups.filter(product_id=product_id)
        existing["group"] = set(groups.values_list("code", flat=True))
    messages = {"sku": _("SKU %(code)s 不存在。"), "product": _("产品 %(code)s 不存在。"),
                "category": _("分类 %(code)s 不存在。"),
                "group": _("选项组 %(code)s 不存在（规则所属产品的选项组）。") if product_id is not None
                else _("选项组 %(code)s 不存在。")}
    errors = [FieldError(f"definition.{field}", messages[ref.kind] % {"code": ref.code}, "not_found")
              for field, ref in refs if ref.code not in existing[ref.kind]]
    if kind == "attribute_constraint":
        errors.extend(_attribute_errors(definition))
    return errors


NUMBER_FIELDS = ("per", "quantity", "factor", "min", "max", "multiple_of")


def _number_errors(definition: Mapping[str, Any]) -> list[FieldError]:
    """Numbers of a definition stay within what a configuration can hold (≤ 1,000,000, ≤ 6 places)."""
    errors: list[FieldError] = []
    for name in NUMBER_FIELDS:
        value = definition.get(name)
        if value is None:
            continue
        problems: list[FieldError] = []
        parse_quantity(value if not isinstance(value, float) else str(value), f"definition.{name}", problems,
                       allow_zero=True)
        errors.extend(problems)
    return errors


def _attribute_errors(definition: Mapping[str, Any]) -> list[FieldError]:
    when = definition["when"]
    checks: list[tuple[str, str, str | None]] = []  # (field, attribute, value)
    attribute = str(definition["attribute"]).strip()
    checks.append(("attribute", attribute, None))
    checks.extend((f"allowed[{index}]", attribute, str(value).strip())
                  for index, value in enumerate(definition["allowed"]))
    if isinstance(when, Mapping) and when.get("attribute") is not None:
        when_attribute = str(when["attribute"]).strip()
        checks.append(("when.attribute", when_attribute, None))
        checks.append(("when.value", when_attribute, str(when["value"]).strip()))
    attributes = {code for _field, code, _value in checks}
    known_attributes = set(Attribute.objects.filter(code__in=attributes).values_list("code", flat=True))
    known_values = set(AttributeValue.objects.filter(attribute__code__in=attributes).values_list(
        "attribute__code", "code"))
    errors: list[FieldError] = []
    for field, code, value in checks:
        if value is None and code not in known_attributes:
            errors.append(FieldError(f"definition.{field}", _("属性 %(code)s 不存在。") % {"code": code}, "not_found"))
        elif value is not None and code in known_attributes and (code, value) not in known_values:
            errors.append(FieldError(f"definition.{field}", _("属性 %(attribute)s 没有值 %(value)s。") % {
                "attribute": code, "value": value}, "not_found"))
    return errors


# --- services ------------------------------------------------------------------------------------------


def _clean(data: Mapping[str, Any], *, rule: ConfigRule | None, errors: list[FieldError]) -> dict[str, Any]:
    """The fields of a create (rule None: all required) or a partial update."""
    fields: dict[str, Any] = {}
    if rule is None or "code" in data:
        code = str(data.get("code") or "").strip()
        if not code or len(code) > 60 or not CODE_RE.match(code):
            errors.append(FieldError("code", _("规则代码必填：字母、数字、-、_，最多 60 个字符。"), "invalid"))
        elif ConfigRule.objects.filter(code=code).exclude(pk=rule.pk if rule else None).exists():
            errors.append(FieldError("code", _("规则代码 %(code)s 已被使用。") % {"code": code}, "duplicate"))
        fields["code"] = code
    if rule is None or "name" in data:
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 200:
            errors.append(FieldError("name", _("名称必填，最多 200 个字。"), "invalid"))
        fields["name"] = name
    if rule is None or "product_id" in data:
        product_id = data.get("product_id")
        if product_id in (None, ""):
            fields["product_id"] = None
        elif not isinstance(product_id, int) or isinstance(product_id, bool) or \
                not Product.objects.filter(pk=product_id).exists():
            errors.append(FieldError("product_id", _("没有 ID 为 %(id)s 的产品。") % {"id": product_id}, "not_found"))
        else:
            fields["product_id"] = product_id
    if rule is None or "kind" in data:
        kind = data.get("kind")
        if kind not in RuleKind.values:
            errors.append(FieldError("kind", _("规则类型只能是：%(choices)s。") % {
                "choices": "、".join(str(label) for label in RuleKind.labels)}, "invalid_choice"))
        fields["kind"] = kind
    if rule is None or "definition" in data:
        fields["definition"] = data.get("definition")
    if rule is None or "message" in data:
        message = str(data.get("message") or "").strip()
        if len(message) > 300:
            errors.append(FieldError("message", _("提示信息最多 300 个字。"), "too_long"))
        fields["message"] = message
    if rule is None or "is_active" in data:
        fields["is_active"] = bool(data.get("is_active", True))
    if rule is None or "position" in data:
        position = data.get("position", 0)
        if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 1_000_000:
            errors.append(FieldError("position", _("顺序必须是 0 到 1000000 的整数。"), "invalid"))
        fields["position"] = position
    return fields


def _check_definition(fields: Mapping[str, Any], rule: ConfigRule | None, errors: list[FieldError]) -> None:
    if any(error.field in ("kind", "product_id") for error in errors):
        return
    if rule is not None and not {"kind", "definition", "product_id"} & set(fields):
        return
    kind = fields.get("kind", rule.kind if rule else None)
    definition = fields.get("definition", rule.definition if rule else None)
    product_id = fields.get("product_id", rule.product_id if rule else None)
    errors.extend(definition_errors(str(kind), definition, product_id))


@transaction.atomic
def rule_create(*, actor: User, data: Mapping[str, Any]) -> ConfigRule:
    """Create a configuration rule (who may create products)."""
    access.require(actor, "product", "create")
    errors: list[FieldError] = []
    fields = _clean(data, rule=None, errors=errors)
    _check_definition(fields, None, errors)
    if errors:
        raise ValidationFailed(_("配置规则填写有误。"), errors=errors)
    rule = ConfigRule.objects.create(**fields)
    rules_version_bump()
    audit_record(object_type=OBJECT_TYPE, object_id=rule.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=str(rule), changes=diff({}, snapshot(rule, AUDITED_FIELDS)))
    return rule


def rule_get(rule_id: int) -> ConfigRule:
    """One rule (NotFound when absent); reading needs the product view permission, checked by callers."""
    rule = ConfigRule.objects.filter(pk=rule_id).select_related("product").first()
    if rule is None:
        raise NotFound(_("没有 ID 为 %(id)s 的配置规则。") % {"id": rule_id})
    return rule


def _stale(rule: ConfigRule, expected: int | None) -> PreconditionFailed:
    message = _("这条配置规则已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
    return PreconditionFailed(message % {"current": rule.version, "expected": expected})


def _save(actor: User, rule: ConfigRule, fields: Mapping[str, Any], expected_version: int | None) -> ConfigRule:
    if expected_version is not None and expected_version != rule.version:
        raise _stale(rule, expected_version)
    before = snapshot(rule, AUDITED_FIELDS)
    updated = ConfigRule.objects.filter(pk=rule.pk, version=rule.version).update(
        **fields, version=F("version") + 1, updated_at=timezone.now())
    if not updated:
        raise _stale(rule, expected_version if expected_version is not None else rule.version)
    rules_version_bump()
    rule.refresh_from_db()
    changes = diff(before, snapshot(rule, AUDITED_FIELDS))
    audit_record(object_type=OBJECT_TYPE, object_id=rule.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=str(rule), changes=changes)
    return rule


@transaction.atomic
def rule_update(*, actor: User, rule_id: int, data: Mapping[str, Any],
                expected_version: int | None = None) -> ConfigRule:
    """Change a rule's fields (those given); `expected_version` must match or nothing changes."""
    access.require(actor, "product", "edit")
    rule = rule_get(rule_id)
    errors: list[FieldError] = []
    fields = _clean(data, rule=rule, errors=errors)
    _check_definition(fields, rule, errors)
    if errors:
        raise ValidationFailed(_("配置规则填写有误。"), errors=errors)
    return _save(actor, rule, fields, expected_version)


@transaction.atomic
def rule_activate(*, actor: User, rule_id: int, is_active: bool, expected_version: int | None = None) -> ConfigRule:
    """Switch a rule on or off (an inactive rule is kept but never applied)."""
    access.require(actor, "product", "edit")
    rule = rule_get(rule_id)
    if is_active:  # the catalogue may have changed since the rule was switched off
        errors = definition_errors(rule.kind, rule.definition, rule.product_id)
        if errors:
            raise ValidationFailed(_("这条规则引用的内容已不存在，不能启用。"), errors=errors)
    return _save(actor, rule, {"is_active": is_active}, expected_version)


@transaction.atomic
def rule_delete(*, actor: User, rule_id: int, expected_version: int | None = None) -> None:
    access.require(actor, "product", "delete")
    rule = rule_get(rule_id)
    if expected_version is not None and expected_version != rule.version:
        raise _stale(rule, expected_version)
    audit_record(object_type=OBJECT_TYPE, object_id=rule.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=str(rule), changes=diff(snapshot(rule, AUDITED_FIELDS), {}))
    if not ConfigRule.objects.filter(pk=rule.pk, version=rule.version).delete()[0]:
        raise _stale(rule, expected_version if expected_version is not None else rule.version)
    rules_version_bump()


# --- "test this rule" ---------------------------------------------------------------------------------


def rule_test(*, user: User, configuration: Mapping[str, Any], rule_id: int | None = None,
              kind: str | None = None, definition: Any = None, product_id: int | None = None,
              message: str = "") -> dict[str, Any]:
    """A rule — saved (`rule_id`), saved with unsaved changes (`rule_id` + kind/definition), or
    unsaved (kind + definition) — against a sample configuration, with the catalogue's other active
    rules in force. Answers whether it passes, the violations it raises, the items it adds."""
    access.require(user, "product", "view")
    saved = rule_get(rule_id) if rule_id is not None else None
    if saved is None and (kind is None or definition is None):
        message_text = _("请选择一条已保存的规则，或填写规则类型和定义。")
        raise ValidationFailed(message_text, errors=[FieldError("definition", message_text, "required")])
    kind = kind if kind is not None else saved.kind if saved else None
    definition = definition if definition is not None else saved.definition if saved else None
    if product_id is None and saved is not None:
        product_id = saved.product_id
    errors: list[FieldError] = []
    if kind not in RuleKind.values:
        errors.append(FieldError("kind", _("规则类型只能是：%(choices)s。") % {
            "choices": "、".join(str(label) for label in RuleKind.labels)}, "invalid_choice"))
    product_code: str | None = None
    if product_id is not None:
        product_code = Product.objects.filter(pk=product_id).values_list("code", flat=True).first()
        if product_code is None:
            errors.append(FieldError("product_id", _("没有 ID 为 %(id)s 的产品。") % {"id": product_id}, "not_found"))
    if not errors:
        errors.extend(definition_errors(str(kind), definition, product_id))
    compiled = configurator_catalog()
    try:
        sample = configuration_from_input(compiled, configuration, prefix="configuration.")
    except ValidationFailed as error:
        errors.extend(error.errors)
        sample = None
    if errors or sample is None:
        raise ValidationFailed(_("规则或样例配置填写有误。"), errors=errors)
    rule = Rule(saved.code if saved else TEST_RULE_CODE, str(kind), definition, product_code,
                message or (saved.message if saved else ""))
    return _test_answer(compiled, rule, sample)


def _test_answer(compiled: Any, rule: Rule, sample: Configuration) -> dict[str, Any]:
    tested = validate_rule_against(compiled.catalog, rule, sample)
    # The whole expansion with the rule in force, for context (the rule's own effects are above).
    context = expand(catalog_with_rule(compiled.catalog, rule), sample)
    labels = compiled.labels()
    return {"rule": rule.code, "passes": tested.passes,
            "violations": [violation_dict(violation, labels) for violation in tested.violations],
            "auto_added": [line_dict(compiled, line) for line in tested.auto_added],
            "result": result_dict(compiled, sample, context)}
