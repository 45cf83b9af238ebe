"""Catalogue writes (ADR 0006). Every write runs in one transaction, records an audit event and bumps
the rules version (`rules_version_bump`) so compiled engine catalogues are rebuilt.

Permissions: the catalogue is one object type, "product" (company-wide, no owner). Creating a
category, attribute or product needs `create`; changing one, its SKUs, axes or BOM needs `edit`;
removing one needs `delete`. SKU writes live in `skus.py`, BOM writes in `bom.py`.

Attribute values, axes and SKU combinations are referred to by **codes**; a SKU's `attribute_key`
is the canonical "a=v;b=w" (sorted by attribute code), unique per product.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps as django_apps
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record, diff, snapshot
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed

from .models import (
    TAX_RATE_CHOICES,
    Attribute,
    AttributeValue,
    CatalogStatus,
    Category,
    Product,
    ProductAttribute,
    ProductType,
    RulesVersion,
    Sku,
)

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\Z")
TAX_RATES = tuple(rate for rate, _label in TAX_RATE_CHOICES)
PRODUCT_AUDITED = ["code", "name", "category", "type", "unit", "tax_rate", "status", "description"]
COST_LIMIT = Decimal("99999999999999")  # 14 integer digits of cost_price (18, 4)
COST_PLACES = Decimal("0.0001")


def rules_version_bump() -> None:
    """Move the rules version on; call inside the transaction of any catalogue or pricing change
    (price books, entries, promotions, coupons' existence, margin policy, SKUs, BOM, rules).
    Counters that change per quote (uses, reservations) do not bump it: they are read live."""
    assert transaction.get_connection().in_atomic_block, "bump the rules version inside the change's transaction"
    if not RulesVersion.objects.filter(pk=1).update(number=F("number") + 1):
        RulesVersion.objects.get_or_create(pk=1, defaults={"number": 2})


# --- field cleaning ---------------------------------------------------------------------------------
def raise_errors(errors: list[FieldError], detail: str | None = None) -> None:
    if errors:
        raise ValidationFailed(detail or _("产品目录信息填写有误。"), errors=errors)


def clean_code(value: Any, field: str, errors: list[FieldError], *, max_length: int = 50) -> str:
    """A code: letters, digits, "-" and "_", starting with a letter or digit."""
    text = str(value or "").strip()
    if not text:
        errors.append(FieldError(field, _("必填：代码。"), "required"))
    elif len(text) > max_length:
        errors.append(FieldError(field, _("代码最多 %(limit)s 个字符。") % {"limit": max_length}, "too_long"))
    elif not CODE_RE.match(text):
        errors.append(FieldError(field, _("代码只能包含字母、数字、“-”和“_”，并以字母或数字开头。"), "invalid"))
    return text


def clean_text(value: Any, field: str, errors: list[FieldError], *, max_length: int, required: bool = False) -> str:
    text = " ".join(str(value or "").split()) if max_length <= 300 else str(value or "").strip()
    if required and not text:
        errors.append(FieldError(field, _("此项为必填项。"), "required"))
    elif len(text) > max_length:
        errors.append(FieldError(field, _("最多 %(limit)s 个字。") % {"limit": max_length}, "too_long"))
    return text


def clean_position(value: Any, field: str, errors: list[FieldError]) -> int:
    try:
        number = int(value if value not in (None, "") else 0)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or number > 1_000_000:
        errors.append(FieldError(field, _("顺序必须是 0 到 1000000 之间的整数。"), "invalid"))
        return 0
    return number


def clean_decimal(value: Any, field: str, errors: list[FieldError], *, places: int = 4, positive: bool = False,
                  limit: Decimal = COST_LIMIT) -> Decimal | None:
    """A non-negative (or positive) decimal with at most `places` decimals; never a float's digits."""
    if isinstance(value, float):
        value = repr(value)
    text = str(value if value is not None else "").strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        errors.append(FieldError(field, _("“%(value)s”不是有效的数字。") % {"value": text[:30]}, "invalid"))
        return None
    if not number.is_finite():
        errors.append(FieldError(field, _("“%(value)s”不是有效的数字。") % {"value": text[:30]}, "invalid"))
        return None
    if positive and number <= 0:
        errors.append(FieldError(field, _("必须大于 0。"), "not_positive"))
        return None
    if number < 0:
        errors.append(FieldError(field, _("不能为负数。"), "negative"))
        return None
    if number.as_tuple().exponent < -places:  # type: ignore[operator]
        errors.append(FieldError(field, _("最多 %(places)s 位小数。") % {"places": places}, "too_many_decimals"))
        return None
    if number > limit:
        errors.append(FieldError(field, _("数值太大。"), "too_large"))
        return None
    return number


def clean_tax_rate(value: Any, field: str, errors: list[FieldError]) -> Decimal | None:
    """"13%", "13", 13, "0.13" and Decimal("0.13") all mean 13 %; only 13/9/6/3/0 % are VAT rates."""
    text = str(value if value is not None else "").strip().replace("％", "%")
    percent = text.endswith("%")
    try:
        number = Decimal(text.rstrip("%").strip())
    except InvalidOperation:
        number = None
    if number is not None and number.is_finite() and (percent or number > 1):
        number = number / 100
    rate = number.quantize(Decimal("0.01")) if number is not None and number.is_finite() else None
    if rate is None or rate != number or rate not in TAX_RATES:
        errors.append(FieldError(field, _("税率只能是 13%、9%、6%、3% 或 0%。"), "invalid_choice"))
        return None
    return rate


def tax_rate_text(rate: Decimal) -> str:
    return f"{int(rate * 100)}%"


def clean_choice(value: Any, field: str, choices: Any, errors: list[FieldError], default: str) -> str:
    text = str(value or "").strip() or default
    if text not in choices.values:
        errors.append(FieldError(field, _("无效的选项“%(value)s”，可选：%(allowed)s。")
                                 % {"value": text[:30], "allowed": "、".join(choices.values)}, "invalid_choice"))
    return text


def check_version(current: int, expected: int | None, noun: str) -> None:
    if expected is not None and expected != current:
        raise PreconditionFailed(
            _("这个%(object)s已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
            % {"object": noun, "current": current, "expected": expected})


def _int(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


# --- categories -------------------------------------------------------------------------------------
def category_path(category_id: int | None) -> list[Category]:
    """The category and its ancestors, root first (cycle-safe)."""
    path: list[Category] = []
    seen: set[int] = set()
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    names = {row.pk: row for row in Category.objects.all()}
    current = category_id
    while current is not None and current not in seen and current in names:
        seen.add(current)
        path.append(names[current])
        current = parents.get(current)
    return list(reversed(path))


def _category_fields(data: Mapping[str, Any], *, partial: bool, category: Category | None,
                     errors: list[FieldError]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if not partial or "code" in data:
        code = clean_code(data.get("code"), "code", errors)
        if code and Category.objects.filter(code=code).exclude(pk=category.pk if category else None).exists():
            errors.append(FieldError("code", _("已有代码为“%(code)s”的分类。") % {"code": code}, "duplicate"))
        cleaned["code"] = code
    if not partial or "name" in data:
        cleaned["name"] = clean_text(data.get("name"), "name", errors, max_length=100, required=True)
    if not partial or "position" in data:
        cleaned["position"] = clean_position(data.get("position"), "position", errors)
    if not partial or "parent_id" in data:
        raw = data.get("parent_id")
        parent = None
        if raw not in (None, ""):
            parent = Category.objects.filter(pk=_int(raw) or 0).first()
            if parent is None:
                errors.append(FieldError("parent_id", _("没有 ID 为 %(id)s 的分类。") % {"id": raw}, "not_found"))
            elif category is not None:
                path = category_path(parent.pk)
                if any(item.pk == category.pk for item in path):
                    # The new parent is the category itself or one of its descendants: a cycle.
                    names = " → ".join(item.name for item in path[[item.pk for item in path].index(category.pk):])
                    errors.append(FieldError("parent_id", _("不能把分类移到它自己或它的下级分类之下（%(path)s）。")
                                             % {"path": f"{names} → {category.name}" if parent.pk != category.pk
                                                else category.name}, "cycle"))
        cleaned["parent"] = parent
    return cleaned


@transaction.atomic
def category_create(*, actor: User, data: Mapping[str, Any]) -> Category:
    access.require(actor, "product", "create")
    errors: list[FieldError] = []
    cleaned = _category_fields(data, partial=False, category=None, errors=errors)
    raise_errors(errors, _("分类信息填写有误。"))
    category = Category.objects.create(**cleaned)
    audit_record(object_type="category", object_id=category.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=category.name,
                 changes=diff({}, snapshot(category, ["code", "name", "parent", "position"])))
    rules_version_bump()
    return category


@transaction.atomic
def category_update(*, actor: User, category_id: int, data: Mapping[str, Any]) -> Category:
    """Rename, re-code, reorder or move a category; moving it under itself or a descendant is refused
    with the path."""
    access.require(actor, "product", "edit")
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise NotFound(_("没有 ID 为 %(id)s 的分类。") % {"id": category_id})
    errors: list[FieldError] = []
    cleaned = _category_fields(data, partial=True, category=category, errors=errors)
    raise_errors(errors, _("分类信息填写有误。"))
    fields = ["code", "name", "parent", "position"]
    before = snapshot(category, fields)
    for name, value in cleaned.items():
        setattr(category, name, value)
    changes = diff(before, snapshot(category, fields))
    if changes:
        category.save()
        audit_record(object_type="category", object_id=category.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk, object_repr=category.name, changes=changes)
        rules_version_bump()
    return category


@transaction.atomic
def category_delete(*, actor: User, category_id: int) -> None:
    """Refused while the category has sub-categories or products."""
    access.require(actor, "product", "delete")
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise NotFound(_("没有 ID 为 %(id)s 的分类。") % {"id": category_id})
    children = category.children.count()
    products = category.products.count()
    if children or products:
        message = _("分类“%(name)s”下还有 %(children)s 个下级分类和 %(products)s 个产品，不能删除。") % {
            "name": category.name, "children": children, "products": products}
        raise Conflict(message, errors=[FieldError("category", message, "in_use")])
    audit_record(object_type="category", object_id=category.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=category.name, changes=diff(snapshot(category, ["code", "name"]), {}))
    category.delete()
    rules_version_bump()


# --- attributes and values --------------------------------------------------------------------------
def _attribute(attribute_id: int) -> Attribute:
    attribute = Attribute.objects.filter(pk=attribute_id).first()
    if attribute is None:
        raise NotFound(_("没有 ID 为 %(id)s 的属性。") % {"id": attribute_id})
    return attribute


def _value_rows(raw: Any, errors: list[FieldError], prefix: str = "values") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if raw is None:
        return rows
    if not isinstance(raw, list | tuple):
        errors.append(FieldError(prefix, _("属性值必须是列表。"), "invalid"))
        return rows
    seen: set[str] = set()
    for index, item in enumerate(raw):
        item = item if isinstance(item, Mapping) else {"code": item, "label": item}
        code = clean_code(item.get("code"), f"{prefix}[{index}].code", errors)
        if code in seen:
            errors.append(FieldError(f"{prefix}[{index}].code", _("属性值代码“%(code)s”重复。") % {"code": code},
                                     "duplicate"))
        seen.add(code)
        label = clean_text(item.get("label") or code, f"{prefix}[{index}].label", errors, max_length=100,
                           required=True)
        raw_position = item.get("position")
        position = clean_position(index if raw_position in (None, "") else raw_position, f"{prefix}[{index}].position",
                                  errors)
        rows.append({"code": code, "label": label, "position": position})
    return rows


def parse_values_text(text: str) -> list[dict[str, str]]:
    """Values typed in one box: "red=红色, blue=蓝色" or one per line; a part without "=" is its own
    label ("220V" → code "220V")."""
    values = []
    for part in re.split(r"[\n,，、;；]", text or ""):
        if not part.strip():
            continue
        code, _sep, label = part.partition("=")
        values.append({"code": code.strip(), "label": (label or code).strip()})
    return values


@transaction.atomic
def attribute_create(*, actor: User, data: Mapping[str, Any]) -> Attribute:
    """An attribute with its values (`values`: [{code, label, position}])."""
    access.require(actor, "product", "create")
    errors: list[FieldError] = []
    code = clean_code(data.get("code"), "code", errors)
    if code and Attribute.objects.filter(code=code).exists():
        errors.append(FieldError("code", _("已有代码为“%(code)s”的属性。") % {"code": code}, "duplicate"))
    name = clean_text(data.get("name"), "name", errors, max_length=100, required=True)
    position = clean_position(data.get("position"), "position", errors)
    values = _value_rows(data.get("values"), errors)
    raise_errors(errors, _("属性信息填写有误。"))
    attribute = Attribute.objects.create(code=code, name=name, position=position)
    AttributeValue.objects.bulk_create([AttributeValue(attribute=attribute, **row) for row in values])
    audit_record(object_type="attribute", object_id=attribute.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=attribute.name, changes={"code": [None, code], "name": [None, name],
                                                      "values": [None, [row["code"] for row in values]]})
    rules_version_bump()
    return attribute


def _skus_using(attribute_code: str, value_code: str | None = None) -> list[str]:
    """Codes of SKUs whose combination uses the attribute (or one of its values), first 10."""
    codes = []
    for code, values in Sku.objects.filter(attribute_key__contains=f"{attribute_code}=").values_list(
            "code", "attribute_values").order_by("code"):
        if attribute_code in (values or {}) and (value_code is None or values[attribute_code] == value_code):
            codes.append(code)
            if len(codes) >= 10:
                break
    return codes


@transaction.atomic
def attribute_update(*, actor: User, attribute_id: int, data: Mapping[str, Any]) -> Attribute:
    """Rename or reorder an attribute. Its code cannot change while SKUs use it (they store codes)."""
    access.require(actor, "product", "edit")
    attribute = _attribute(attribute_id)
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    if "code" in data:
        code = clean_code(data.get("code"), "code", errors)
        if code != attribute.code:
            if Attribute.objects.filter(code=code).exclude(pk=attribute.pk).exists():
                errors.append(FieldError("code", _("已有代码为“%(code)s”的属性。") % {"code": code}, "duplicate"))
            elif used := _skus_using(attribute.code):
                errors.append(FieldError("code", _("SKU %(skus)s 使用了这个属性，不能修改它的代码。")
                                         % {"skus": "、".join(used)}, "in_use"))
        cleaned["code"] = code
    if "name" in data:
        cleaned["name"] = clean_text(data.get("name"), "name", errors, max_length=100, required=True)
    if "position" in data:
        cleaned["position"] = clean_position(data.get("position"), "position", errors)
    raise_errors(errors, _("属性信息填写有误。"))
    before = snapshot(attribute, ["code", "name", "position"])
    for name, value in cleaned.items():
        setattr(attribute, name, value)
    changes = diff(before, snapshot(attribute, ["code", "name", "position"]))
    if changes:
        attribute.save()
        audit_record(object_type="attribute", object_id=attribute.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk, object_repr=attribute.name, changes=changes)
        rules_version_bump()
    return attribute


@transaction.atomic
def attribute_delete(*, actor: User, attribute_id: int) -> None:
    """Refused while a product uses the attribute as an axis or a SKU has one of its values."""
    access.require(actor, "product", "delete")
    attribute = _attribute(attribute_id)
    products = list(Product.objects.filter(product_attributes__attribute=attribute).order_by("code")
                    .values_list("code", flat=True)[:10])
    used = _skus_using(attribute.code)
    if products or used:
        message = _("属性“%(name)s”正被产品 %(products)s 或 SKU %(skus)s 使用，不能删除。") % {
            "name": attribute.name, "products": "、".join(products) or "—", "skus": "、".join(used) or "—"}
        raise Conflict(message, errors=[FieldError("attribute", message, "in_use")])
    audit_record(object_type="attribute", object_id=attribute.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=attribute.name, changes={"code": [attribute.code, None]})
    attribute.delete()
    rules_version_bump()


@transaction.atomic
def attribute_value_create(*, actor: User, attribute_id: int, data: Mapping[str, Any]) -> AttributeValue:
    access.require(actor, "product", "edit")
    attribute = _attribute(attribute_id)
    errors: list[FieldError] = []
    code = clean_code(data.get("code"), "code", errors)
    if code and attribute.values.filter(code=code).exists():
        errors.append(FieldError("code", _("属性“%(attribute)s”已有代码为“%(code)s”的值。")
                                 % {"attribute": attribute.name, "code": code}, "duplicate"))
    label = clean_text(data.get("label") or code, "label", errors, max_length=100, required=True)
    default_position = (attribute.values.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    position = clean_position(data.get("position", default_position), "position", errors)
    raise_errors(errors, _("属性值填写有误。"))
    value = AttributeValue.objects.create(attribute=attribute, code=code, label=label, position=position)
    audit_record(object_type="attribute", object_id=attribute.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=attribute.name, changes={"values": [None, code]})
    rules_version_bump()
    return value


def _value(attribute_id: int, value_id: int) -> AttributeValue:
    value = AttributeValue.objects.select_related("attribute").filter(pk=value_id, attribute_id=attribute_id).first()
    if value is None:
        raise NotFound(_("没有 ID 为 %(id)s 的属性值。") % {"id": value_id})
    return value


@transaction.atomic
def attribute_value_update(*, actor: User, attribute_id: int, value_id: int,
                           data: Mapping[str, Any]) -> AttributeValue:
    """Relabel or reorder a value; its code cannot change while a SKU uses it."""
    access.require(actor, "product", "edit")
    value = _value(attribute_id, value_id)
    errors: list[FieldError] = []
    if "code" in data:
        code = clean_code(data.get("code"), "code", errors)
        if code != value.code:
            if AttributeValue.objects.filter(attribute_id=attribute_id, code=code).exists():
                errors.append(FieldError("code", _("属性“%(attribute)s”已有代码为“%(code)s”的值。")
                                         % {"attribute": value.attribute.name, "code": code}, "duplicate"))
            elif used := _skus_using(value.attribute.code, value.code):
                errors.append(FieldError("code", _("SKU %(skus)s 使用了这个属性值，不能修改它的代码。")
                                         % {"skus": "、".join(used)}, "in_use"))
        value.code = code
    if "label" in data:
        value.label = clean_text(data.get("label"), "label", errors, max_length=100, required=True)
    if "position" in data:
        value.position = clean_position(data.get("position"), "position", errors)
    raise_errors(errors, _("属性值填写有误。"))
    value.save()
    audit_record(object_type="attribute", object_id=value.attribute_id, action=AuditEvent.Kind.UPDATE,
                 actor_id=actor.pk, object_repr=value.attribute.name,
                 changes={"value": [None, {"code": value.code, "label": value.label}]})
    rules_version_bump()
    return value


@transaction.atomic
def attribute_value_delete(*, actor: User, attribute_id: int, value_id: int) -> None:
    """Refused while a SKU's combination uses the value (the message names the SKUs)."""
    access.require(actor, "product", "edit")
    value = _value(attribute_id, value_id)
    used = _skus_using(value.attribute.code, value.code)
    if used:
        message = _("SKU %(skus)s 使用了属性值“%(value)s”，不能删除。") % {"skus": "、".join(used),
                                                                          "value": value.label}
        raise Conflict(message, errors=[FieldError("value", message, "in_use")])
    audit_record(object_type="attribute", object_id=value.attribute_id, action=AuditEvent.Kind.UPDATE,
                 actor_id=actor.pk, object_repr=value.attribute.name, changes={"values": [value.code, None]})
    value.delete()
    rules_version_bump()


# --- products ---------------------------------------------------------------------------------------
def product_fields(data: Mapping[str, Any], *, partial: bool, product: Product | None,
                   errors: list[FieldError]) -> dict[str, Any]:
    """The product model fields named in `data`, cleaned; problems appended to `errors`."""
    cleaned: dict[str, Any] = {}
    if not partial or "code" in data:
        code = clean_code(data.get("code"), "code", errors, max_length=60)
        if code and Product.objects.filter(code=code).exclude(pk=product.pk if product else None).exists():
            errors.append(FieldError("code", _("已有编码为“%(code)s”的产品。") % {"code": code}, "duplicate"))
        cleaned["code"] = code
    if not partial or "name" in data:
        cleaned["name"] = clean_text(data.get("name"), "name", errors, max_length=200, required=True)
    if not partial or "category_id" in data:
        raw = data.get("category_id")
        category = None
        if raw not in (None, ""):
            category = Category.objects.filter(pk=_int(raw) or 0).first()
            if category is None:
                errors.append(FieldError("category_id", _("没有 ID 为 %(id)s 的分类。") % {"id": raw}, "not_found"))
        cleaned["category"] = category
    if not partial or "type" in data:
        cleaned["type"] = clean_choice(data.get("type"), "type", ProductType, errors, ProductType.GOODS)
    if not partial or "unit" in data:
        cleaned["unit"] = clean_text(data.get("unit") or "台", "unit", errors, max_length=20, required=True)
    if not partial or "tax_rate" in data:
        raw_rate = data.get("tax_rate")
        rate = clean_tax_rate("13%" if raw_rate in (None, "") else raw_rate, "tax_rate", errors)
        if rate is not None:
            cleaned["tax_rate"] = rate
    if not partial or "status" in data:
        cleaned["status"] = clean_choice(data.get("status"), "status", CatalogStatus, errors, CatalogStatus.ACTIVE)
    if not partial or "description" in data:
        cleaned["description"] = clean_text(data.get("description"), "description", errors, max_length=5000)
    return cleaned


def product_for_action(actor: User, product_id: int, action: str) -> Product:
    """The product if the actor may see it (else NotFound) and perform `action` (else PermissionDenied)."""
    return access.get_for_action(actor, "product", product_id, action)  # type: ignore[no-any-return]


@transaction.atomic
def product_create(*, actor: User, data: Mapping[str, Any]) -> Product:
    """Create a product; `attribute_codes` (optional) sets its SKU axes in order."""
    access.require(actor, "product", "create")
    errors: list[FieldError] = []
    cleaned = product_fields(data, partial=False, product=None, errors=errors)
    axes = _axes(data.get("attribute_codes"), errors) if data.get("attribute_codes") is not None else []
    raise_errors(errors, _("产品信息填写有误。"))
    product = Product.objects.create(**cleaned, created_by=actor)
    ProductAttribute.objects.bulk_create([ProductAttribute(product=product, attribute=attribute, position=index)
                                          for index, attribute in enumerate(axes)])
    changes = diff({}, snapshot(product, PRODUCT_AUDITED))
    if axes:
        changes["attributes"] = [None, [attribute.code for attribute in axes]]
    audit_record(object_type="product", object_id=product.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=str(product), changes=changes)
    rules_version_bump()
    return product


@transaction.atomic
def product_update(*, actor: User, product_id: int, data: Mapping[str, Any],
                   expected_version: int | None = None) -> Product:
    """Partial update (PATCH; PUT passes every field). `expected_version` (If-Match or the form's
    hidden version) must match, and the write is a compare-and-set on `version`."""
    product = product_for_action(actor, product_id, "edit")
    noun = access.noun("product")
    check_version(product.version, expected_version, noun)
    errors: list[FieldError] = []
    cleaned = product_fields(data, partial=True, product=product, errors=errors)
    raise_errors(errors, _("产品信息填写有误。"))
    before = snapshot(product, PRODUCT_AUDITED)
    for name, value in cleaned.items():
        setattr(product, name, value)
    changes = diff(before, snapshot(product, PRODUCT_AUDITED))
    if not changes:
        return product
    updated = Product.objects.filter(pk=product.pk, version=product.version).update(
        **cleaned, version=F("version") + 1, updated_at=timezone.now())
    if not updated:
        raise PreconditionFailed(_("这个%(object)s已被其他人修改，请刷新后重试。") % {"object": noun})
    audit_record(object_type="product", object_id=product.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=str(product), changes=changes)
    rules_version_bump()
    product.refresh_from_db()
    return product


def product_usage(product: Product) -> dict[str, list[str]]:
    """Where a product's SKUs are used: BOMs of other products and price book entries (codes)."""
    boms = sorted(set(Product.objects.filter(bom_items__component__product=product).exclude(pk=product.pk)
                      .values_list("code", flat=True)))
    books: list[str] = []
    try:
        entry_model = django_apps.get_model("pricing", "PriceBookEntry")
    except LookupError:  # the pricing app is not installed
        entry_model = None
    if entry_model is not None:
        books = sorted(set(entry_model._default_manager.filter(sku__product=product)
                           .values_list("book__code", flat=True)))
    return {"boms": boms, "price_books": books}


@transaction.atomic
def product_delete(*, actor: User, product_id: int, expected_version: int | None = None) -> None:
    """Delete a product with its SKUs, axes and BOM. Refused while one of its SKUs is a component of
    another product's BOM or has price book entries (the message names them)."""
    product = product_for_action(actor, product_id, "delete")
    check_version(product.version, expected_version, access.noun("product"))
    usage = product_usage(product)
    errors = []
    if usage["boms"]:
        errors.append(FieldError("bom", _("产品的 SKU 是这些产品的 BOM 组件：%(codes)s。")
                                 % {"codes": "、".join(usage["boms"][:10])}, "in_use"))
    if usage["price_books"]:
        errors.append(FieldError("price_books", _("产品的 SKU 在这些价目表中有价格：%(codes)s。")
                                 % {"codes": "、".join(usage["price_books"][:10])}, "in_use"))
    if errors:
        raise Conflict(_("产品“%(name)s”正在使用中，不能删除。") % {"name": product.name}, errors=errors)
    audit_record(object_type="product", object_id=product.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=str(product), changes=diff(snapshot(product, PRODUCT_AUDITED), {}))
    # Its own BOM rows point at other SKUs (PROTECT on component): remove them first.
    product.bom_items.all().delete()
    product.delete()
    rules_version_bump()


def _axes(raw: Any, errors: list[FieldError], field: str = "attribute_codes") -> list[Attribute]:
    if not isinstance(raw, list | tuple):
        errors.append(FieldError(field, _("规格属性必须是属性代码的列表。"), "invalid"))
        return []
    codes = [str(code).strip() for code in raw if str(code).strip()]
    found = {attribute.code: attribute for attribute in Attribute.objects.filter(code__in=codes)}
    axes: list[Attribute] = []
    for code in codes:
        if code not in found:
            errors.append(FieldError(field, _("没有代码为“%(code)s”的属性。") % {"code": code}, "unknown_attribute"))
        elif found[code] in axes:
            errors.append(FieldError(field, _("属性“%(code)s”重复。") % {"code": code}, "duplicate"))
        else:
            axes.append(found[code])
    return axes


@transaction.atomic
def product_attributes_set(*, actor: User, product_id: int, attribute_codes: Sequence[str]) -> list[Attribute]:
    """Set the SKU-defining axes of a product, in order. An axis cannot be removed while a SKU of the
    product has a value for it."""
    product = product_for_action(actor, product_id, "edit")
    errors: list[FieldError] = []
    axes = _axes(list(attribute_codes), errors)
    old_codes = [row.attribute.code for row in
                 ProductAttribute.objects.filter(product=product).select_related("attribute").order_by("position")]
    removed = set(old_codes) - {attribute.code for attribute in axes}
    for code in sorted(removed):
        used = [sku.code for sku in product.skus.order_by("code") if code in (sku.attribute_values or {})][:10]
        if used:
            errors.append(FieldError("attribute_codes", _("SKU %(skus)s 有属性“%(code)s”的值，不能移除这个规格属性。")
                                     % {"skus": "、".join(used), "code": code}, "in_use"))
    raise_errors(errors, _("规格属性设置有误。"))
    new_codes = [attribute.code for attribute in axes]
    if new_codes == old_codes:
        return axes
    ProductAttribute.objects.filter(product=product).delete()
    ProductAttribute.objects.bulk_create([ProductAttribute(product=product, attribute=attribute, position=index)
                                          for index, attribute in enumerate(axes)])
    Product.objects.filter(pk=product.pk).update(version=F("version") + 1, updated_at=timezone.now())
    audit_record(object_type="product", object_id=product.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=str(product), changes={"attributes": [old_codes, new_codes]})
    rules_version_bump()
    return axes
