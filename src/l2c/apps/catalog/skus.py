"""SKUs (规格): the concrete, sellable variants of a product (ADR 0006) — creation by hand or from the
cartesian product of chosen attribute values (`sku_generate`), updates, deletion.

A SKU's combination maps attribute codes to value codes of the product's axes; `attribute_key` is
its canonical "a=v;b=w" (sorted by attribute code), unique per product, so one combination is one
SKU. Writes follow `services`: one transaction, audit ("sku" events), rules-version bump; a change
of a product's SKUs also moves the product's version (its ETag) on.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_bulk, audit_record, diff, snapshot
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed

from .models import AttributeValue, CatalogStatus, Product, ProductAttribute, Sku
from .services import (
    CODE_RE,
    COST_PLACES,
    check_version,
    clean_choice,
    clean_code,
    clean_decimal,
    clean_text,
    product_for_action,
    raise_errors,
    rules_version_bump,
)

SKU_AUDITED = ["code", "name", "attribute_values", "cost_price", "cost_currency", "status"]
MAX_GENERATED = 1000  # SKUs one generation may create (a cartesian product grows fast)


def attribute_key(values: Mapping[str, str]) -> str:
    """The canonical form of a combination: "a=v;b=w", sorted by attribute code ("" for none)."""
    return ";".join(f"{code}={values[code]}" for code in sorted(values))


def parse_attribute_text(text: str) -> dict[str, str]:
    """"colour=red;voltage=220" (also "," "；" "，" and "：" / ":") → {"colour": "red", "voltage": "220"};
    raises ValueError on a part without "="."""
    values: dict[str, str] = {}
    for part in re.split(r"[;；,，]", text or ""):
        if not part.strip():
            continue
        pieces = re.split(r"[=:：]", part, maxsplit=1)
        if len(pieces) != 2 or not pieces[0].strip() or not pieces[1].strip():
            raise ValueError(part.strip())
        values[pieces[0].strip()] = pieces[1].strip()
    return values


def product_axes(product: Product) -> dict[str, dict[str, AttributeValue]]:
    """The product's axes in order: attribute code → {value code → value}."""
    rows = ProductAttribute.objects.filter(product=product).select_related("attribute").order_by("position")
    attribute_ids = [row.attribute_id for row in rows]
    values: dict[int, dict[str, AttributeValue]] = {attribute_id: {} for attribute_id in attribute_ids}
    for value in AttributeValue.objects.filter(attribute_id__in=attribute_ids).order_by("position", "code"):
        values[value.attribute_id][value.code] = value
    return {row.attribute.code: values[row.attribute_id] for row in rows}


def clean_attribute_values(raw: Any, axes: Mapping[str, Mapping[str, Any]], errors: list[FieldError],
                           field: str = "attribute_values") -> dict[str, str]:
    """A SKU's combination: every key an axis of the product, every value an existing value code."""
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = parse_attribute_text(raw)
        except ValueError as error:
            errors.append(FieldError(field, _("“%(part)s”不是“属性=值”的形式。") % {"part": str(error)[:50]},
                                     "invalid"))
            return {}
    if not isinstance(raw, Mapping):
        errors.append(FieldError(field, _("属性值必须是 {属性代码: 值代码}。"), "invalid"))
        return {}
    values: dict[str, str] = {}
    for attribute, value in raw.items():
        attribute, value = str(attribute).strip(), str(value if value is not None else "").strip()
        if not value:
            continue
        if attribute not in axes:
            errors.append(FieldError(f"{field}.{attribute}",
                                     _("“%(attribute)s”不是这个产品的规格属性（可选：%(axes)s）。")
                                     % {"attribute": attribute[:50], "axes": "、".join(axes) or "—"},
                                     "unknown_attribute"))
        elif value not in axes[attribute]:
            errors.append(FieldError(f"{field}.{attribute}",
                                     _("属性“%(attribute)s”没有值“%(value)s”（可选：%(allowed)s）。")
                                     % {"attribute": attribute, "value": value[:50],
                                        "allowed": "、".join(axes[attribute]) or "—"}, "unknown_value"))
        else:
            values[attribute] = value
    return values


def _sku_fields(data: Mapping[str, Any], *, partial: bool, sku: Sku | None, product: Product,
                axes: Mapping[str, Mapping[str, Any]], errors: list[FieldError]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if not partial or "code" in data:
        code = clean_code(data.get("code"), "code", errors, max_length=80)
        if code and Sku.objects.filter(code=code).exclude(pk=sku.pk if sku else None).exists():
            errors.append(FieldError("code", _("已有编码为“%(code)s”的 SKU。") % {"code": code}, "duplicate"))
        cleaned["code"] = code
    if not partial or "name" in data:
        cleaned["name"] = clean_text(data.get("name") or (product.name if not partial else ""), "name", errors,
                                     max_length=200, required=True)
    if not partial or "attribute_values" in data:
        values = clean_attribute_values(data.get("attribute_values"), axes, errors)
        key = attribute_key(values)
        if key:
            existing = Sku.objects.filter(product=product, attribute_key=key).exclude(
                pk=sku.pk if sku else None).values_list("code", flat=True).first()
            if existing:
                errors.append(FieldError("attribute_values", _("这个属性组合（%(key)s）已是 SKU %(sku)s。")
                                         % {"key": key, "sku": existing}, "duplicate_combination"))
        cleaned["attribute_values"] = values
        cleaned["attribute_key"] = key
    if not partial or "cost_price" in data:
        raw = data.get("cost_price")
        cost = clean_decimal("0" if raw in (None, "") else raw, "cost_price", errors)
        if cost is not None:
            cleaned["cost_price"] = cost.quantize(COST_PLACES)  # as the column stores it
    if not partial or "cost_currency" in data:
        currency = str(data.get("cost_currency") or "CNY").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            errors.append(FieldError("cost_currency", _("币种必须是 3 个字母的代码，如 CNY。"), "invalid"))
        cleaned["cost_currency"] = currency
    if not partial or "status" in data:
        cleaned["status"] = clean_choice(data.get("status"), "status", CatalogStatus, errors, CatalogStatus.ACTIVE)
    return cleaned


def _sku_of(product: Product, sku_id: int) -> Sku:
    sku = Sku.objects.filter(pk=sku_id, product=product).first()
    if sku is None:
        raise NotFound(_("产品 %(product)s 没有 ID 为 %(id)s 的 SKU。") % {"product": product.code, "id": sku_id})
    return sku


def _touch(product: Product) -> None:
    """A change of a product's SKUs or BOM moves the product's version (its ETag) on."""
    Product.objects.filter(pk=product.pk).update(version=F("version") + 1, updated_at=timezone.now())


@transaction.atomic
def sku_create(*, actor: User, product_id: int, data: Mapping[str, Any]) -> Sku:
    product = product_for_action(actor, product_id, "edit")
    errors: list[FieldError] = []
    cleaned = _sku_fields(data, partial=False, sku=None, product=product, axes=product_axes(product), errors=errors)
    raise_errors(errors, _("SKU 信息填写有误。"))
    sku = Sku.objects.create(product=product, **cleaned)
    _touch(product)
    audit_record(object_type="sku", object_id=sku.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=str(sku), changes=diff({}, snapshot(sku, SKU_AUDITED)))
    rules_version_bump()
    return sku


@transaction.atomic
def sku_update(*, actor: User, product_id: int, sku_id: int, data: Mapping[str, Any],
               expected_version: int | None = None) -> Sku:
    product = product_for_action(actor, product_id, "edit")
    sku = _sku_of(product, sku_id)
    check_version(sku.version, expected_version, "SKU")
    errors: list[FieldError] = []
    cleaned = _sku_fields(data, partial=True, sku=sku, product=product, axes=product_axes(product), errors=errors)
    raise_errors(errors, _("SKU 信息填写有误。"))
    before = snapshot(sku, SKU_AUDITED)
    for name, value in cleaned.items():
        setattr(sku, name, value)
    changes = diff(before, snapshot(sku, SKU_AUDITED))
    if not changes:
        return sku
    updated = Sku.objects.filter(pk=sku.pk, version=sku.version).update(
        **cleaned, version=F("version") + 1, updated_at=timezone.now())
    if not updated:
        raise PreconditionFailed(_("这个 SKU 已被其他人修改，请刷新后重试。"))
    _touch(product)
    audit_record(object_type="sku", object_id=sku.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=str(sku), changes=changes)
    rules_version_bump()
    sku.refresh_from_db()
    return sku


def sku_usage(sku: Sku) -> dict[str, list[str]]:
    boms = sorted(set(Product.objects.filter(bom_items__component=sku).values_list("code", flat=True)))
    books: list[str] = []
    try:
        entry_model = django_apps.get_model("pricing", "PriceBookEntry")
    except LookupError:
        entry_model = None
    if entry_model is not None:
        books = sorted(set(entry_model._default_manager.filter(sku=sku).values_list("book__code", flat=True)))
    return {"boms": boms, "price_books": books}


@transaction.atomic
def sku_delete(*, actor: User, product_id: int, sku_id: int) -> None:
    """Refused while the SKU is a BOM component or has price book entries."""
    product = product_for_action(actor, product_id, "edit")
    sku = _sku_of(product, sku_id)
    usage = sku_usage(sku)
    errors = []
    if usage["boms"]:
        errors.append(FieldError("bom", _("SKU 是这些产品的 BOM 组件：%(codes)s。")
                                 % {"codes": "、".join(usage["boms"][:10])}, "in_use"))
    if usage["price_books"]:
        errors.append(FieldError("price_books", _("SKU 在这些价目表中有价格：%(codes)s。")
                                 % {"codes": "、".join(usage["price_books"][:10])}, "in_use"))
    if errors:
        raise Conflict(_("SKU %(code)s 正在使用中，不能删除。") % {"code": sku.code}, errors=errors)
    audit_record(object_type="sku", object_id=sku.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=str(sku), changes=diff(snapshot(sku, SKU_AUDITED), {}))
    # The product's history keeps the deletion: its timeline shows the events of its current SKUs only.
    audit_record(object_type="product", object_id=product.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=str(product), summary=_("删除 SKU %(code)s") % {"code": sku.code},
                 changes={"skus": [sku.code, None]})
    sku.delete()
    _touch(product)
    rules_version_bump()


@dataclass(frozen=True)
class GenerateResult:
    """SKUs created by `sku_generate`, and the combinations skipped because a SKU already has them."""

    created: list[Sku]
    skipped: list[str]


def _pattern_fields(pattern: str, field: str, allowed: set[str], errors: list[FieldError]) -> None:
    try:
        names = {name for _text, name, _spec, _conversion in string.Formatter().parse(pattern) if name is not None}
    except ValueError:
        errors.append(FieldError(field, _("模板中的花括号不成对。"), "invalid"))
        return
    unknown = sorted(names - allowed)
    if unknown:
        errors.append(FieldError(field, _("模板中有未知的占位符：%(names)s（可用：%(allowed)s）。")
                                 % {"names": "、".join("{" + name + "}" for name in unknown),
                                    "allowed": "、".join("{" + name + "}" for name in sorted(allowed))},
                                 "unknown_placeholder"))


def default_code_pattern(axes: Sequence[str]) -> str:
    return "-".join(["{product}", *("{" + code + "}" for code in axes)])


def default_name_pattern(axes: Sequence[str]) -> str:
    return " ".join(["{product}", *("{" + code + "}" for code in axes)])


@transaction.atomic
def sku_generate(*, actor: User, product_id: int, values: Mapping[str, Sequence[str]], code_pattern: str = "",
                 name_pattern: str = "", cost_price: Any = "0") -> GenerateResult:
    """Create one SKU per combination of the chosen values of every axis (the cartesian product),
    skipping combinations a SKU already has. All or nothing: any bad value, bad pattern or code
    collision refuses the whole generation. Patterns: code `{product}` = product code and
    `{<attribute>}` = value code (default "{product}-{a}-{b}"); name `{product}` = product name and
    `{<attribute>}` = value label (default "{product} {a} {b}"). Codes are upper-cased."""
    product = product_for_action(actor, product_id, "edit")
    axes = product_axes(product)
    errors: list[FieldError] = []
    if not axes:
        errors.append(FieldError("values", _("产品还没有规格属性，请先设置规格属性。"), "no_axes"))
    chosen: dict[str, list[str]] = {}
    for attribute in values:
        if attribute not in axes:
            errors.append(FieldError(f"values.{attribute}", _("“%(attribute)s”不是这个产品的规格属性。")
                                     % {"attribute": str(attribute)[:50]}, "unknown_attribute"))
    for attribute, known in axes.items():
        picked = [str(code).strip() for code in (values.get(attribute) or []) if str(code).strip()]
        if not picked:
            errors.append(FieldError(f"values.{attribute}", _("请为属性“%(attribute)s”至少选择一个值。")
                                     % {"attribute": attribute}, "required"))
        for code in picked:
            if code not in known:
                errors.append(FieldError(f"values.{attribute}", _("属性“%(attribute)s”没有值“%(value)s”。")
                                         % {"attribute": attribute, "value": code[:50]}, "unknown_value"))
        chosen[attribute] = list(dict.fromkeys(code for code in picked if code in known))
    code_pattern = (code_pattern or "").strip() or default_code_pattern(list(axes))
    name_pattern = (name_pattern or "").strip() or default_name_pattern(list(axes))
    allowed = {"product", *axes}
    _pattern_fields(code_pattern, "code_pattern", allowed, errors)
    _pattern_fields(name_pattern, "name_pattern", allowed, errors)
    cost = clean_decimal("0" if cost_price in (None, "") else cost_price, "cost_price", errors)
    raise_errors(errors, _("SKU 生成条件有误。"))
    combinations = list(itertools.product(*(chosen[attribute] for attribute in axes)))
    if len(combinations) > MAX_GENERATED:
        raise ValidationFailed.for_field("values", _("一次最多生成 %(limit)s 个 SKU，这次会生成 %(count)s 个。")
                                         % {"limit": MAX_GENERATED, "count": len(combinations)}, "too_many")
    existing = set(Sku.objects.filter(product=product).values_list("attribute_key", flat=True))
    planned: list[Sku] = []
    skipped: list[str] = []
    codes: dict[str, str] = {}
    for combination in combinations:
        combo = dict(zip(axes, combination, strict=True))
        key = attribute_key(combo)
        if key in existing:
            skipped.append(key)
            continue
        code = code_pattern.format(product=product.code, **combo).upper()
        labels = {attribute: axes[attribute][value].label for attribute, value in combo.items()}
        name = " ".join(name_pattern.format(product=product.name, **labels).split())[:200]
        if not CODE_RE.match(code) or len(code) > 80:
            errors.append(FieldError("code_pattern", _("生成的 SKU 编码“%(code)s”无效。") % {"code": code[:90]},
                                     "invalid"))
        elif code in codes:
            errors.append(FieldError("code_pattern", _("组合 %(a)s 和 %(b)s 会生成相同的编码“%(code)s”。")
                                     % {"a": codes[code], "b": key, "code": code}, "duplicate"))
        codes[code] = key
        planned.append(Sku(product=product, code=code, name=name, attribute_values=combo, attribute_key=key,
                           cost_price=cost.quantize(COST_PLACES) if cost is not None else Decimal(0),
                           cost_currency="CNY", status=CatalogStatus.ACTIVE))
    taken = sorted(Sku.objects.filter(code__in=list(codes)).values_list("code", flat=True))
    if taken:
        errors.append(FieldError("code_pattern",
                                 _("这些 SKU 编码已被使用：%(codes)s。") % {"codes": "、".join(taken[:10])},
                                 "duplicate"))
    raise_errors(errors, _("SKU 生成条件有误，没有生成任何 SKU。"))
    created = Sku.objects.bulk_create(planned, batch_size=500)
    if created and created[0].pk is None:  # backends without RETURNING ids
        by_code = dict(Sku.objects.filter(code__in=list(codes)).values_list("code", "pk"))
        for sku in created:
            sku.pk = by_code[sku.code]
    if created:
        _touch(product)
        audit_bulk(actor_id=actor.pk, events=[
            {"object_type": "sku", "object_id": sku.pk, "action": AuditEvent.Kind.CREATE, "object_repr": str(sku),
             "changes": {"code": [None, sku.code], "attribute_values": [None, sku.attribute_values],
                         "cost_price": [None, str(sku.cost_price)]}, "summary": "generated"} for sku in created])
        rules_version_bump()
    return GenerateResult(created=created, skipped=skipped)
