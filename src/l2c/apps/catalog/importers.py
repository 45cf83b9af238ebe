"""Import/export of products and SKUs, registered with the activity import machinery as object types
"product" and "sku" (the generic import pages, /api/v1/imports and the export endpoint serve them).

Products — columns: code, name, category (code), type (code or its name: 实物商品/服务/订阅/按量计费/
项目), unit, tax rate ("13%"), status (code or name), description. A row whose code exists updates
that product; others create one.

SKUs — columns: product (code), SKU code, name, attributes ("colour=red;voltage=220") and/or one
column per attribute headed "attr:<code>" (e.g. "attr:colour"), cost price (tax-exclusive),
cost currency, status. A row whose SKU code exists updates that SKU (of the same product).
Values must be the product's axes and existing value codes; one combination is one SKU (also within
the file).

Every bad cell is reported on its own with its row and field. The commit is all or nothing: when
any row of the file has an error, no row is written (a file is committed in chunks of 5,000 rows;
a chunk with an error, and every chunk after it, writes nothing). Writes are set-based with their
audit events ("import") and one rules-version bump per chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.audit import audit_bulk
from l2c.apps.activity.imports import (
    SOURCE_LANGUAGE,
    BatchValidation,
    ColumnSpec,
    ImportContext,
    RowBatch,
    TabularSpec,
    register,
)
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError

from . import selectors
from .models import Attribute, CatalogStatus, Category, Product, ProductType, Sku
from .services import clean_code, clean_decimal, clean_tax_rate, clean_text, rules_version_bump, tax_rate_text
from .skus import attribute_key, clean_attribute_values, parse_attribute_text, product_axes

ATTRIBUTE_PREFIX = "attr:"
FAILED_KEY = "catalog_import_failed"


def _labels(choices: Any) -> dict[str, str]:
    """Code → code and (source-language) label → code of a TextChoices."""
    with translation.override(SOURCE_LANGUAGE):
        found = {str(label): value for value, label in choices.choices}
    found.update({value: value for value in choices.values})
    return found


def _choice(cell: str, choices: Any, field: str, number: int, errors: list[FieldError], default: str) -> str:
    text = (cell or "").strip()
    if not text:
        return default
    value = _labels(choices).get(text) or _labels(choices).get(text.lower())
    if value is None:
        with translation.override(SOURCE_LANGUAGE):
            allowed = "、".join(str(label) for _value, label in choices.choices)
        errors.append(FieldError(field, _("“%(value)s”无效，可选：%(allowed)s。")
                                 % {"value": text[:30], "allowed": allowed},
                                 "invalid_choice", number))
        return default
    return value


def _with_row(errors: list[FieldError], number: int) -> list[FieldError]:
    return [FieldError(error.field.split(".")[0] if error.field.startswith("attribute_values") else error.field,
                       error.message, error.code, number) for error in errors]


def _all_or_nothing(validate: Any) -> Any:
    """A batch validator that, while the import commits, writes nothing of a chunk holding an error
    (or coming after one): every clean row is withheld, the errors stay as they are."""

    def run(context: ImportContext, batch: RowBatch) -> BatchValidation:
        cleans, errors = validate(context, batch)
        if context.committing and (errors or context.cache.get(FAILED_KEY)):
            context.cache[FAILED_KEY] = True
            return [None] * len(cleans), errors
        return cleans, errors

    return run


# --- products ---------------------------------------------------------------------------------------
PRODUCT_LABELS = {
    "code": gettext_lazy("产品编码"), "name": gettext_lazy("产品名称"), "category": gettext_lazy("分类"),
    "type": gettext_lazy("产品类型"), "unit": gettext_lazy("单位"), "tax_rate": gettext_lazy("税率"),
    "status": gettext_lazy("状态"), "description": gettext_lazy("说明"),
}
PRODUCT_ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("编码", "产品代码", "product code"), "name": ("名称", "product name", "product"),
    "category": ("分类代码", "产品分类", "category code"), "type": ("类型", "product type"),
    "unit": ("计量单位",), "tax_rate": ("税率%", "增值税率", "tax rate", "vat"), "status": ("产品状态",),
    "description": ("描述", "备注"),
}
PRODUCT_EXAMPLE = {"code": "SRV-R740", "name": "R740 机架式服务器", "category": "server", "type": "实物商品",
                   "unit": "台", "tax_rate": "13%", "status": "在售", "description": ""}


def _product_columns() -> list[ColumnSpec]:
    return [ColumnSpec(key=key, label=label, aliases=(key, *PRODUCT_ALIASES[key]), required=key in ("code", "name"),
                       example=PRODUCT_EXAMPLE[key]) for key, label in PRODUCT_LABELS.items()]


def _product_rows(context: ImportContext, batch: RowBatch) -> BatchValidation:
    rows = [batch.row(index) for index in range(len(batch))]
    if "categories" not in context.cache:
        context.cache["categories"] = dict(Category.objects.values_list("code", "pk"))
        context.cache["seen"] = {}
    codes = {(row.get("code") or "").strip() for row in rows}
    existing = dict(Product.objects.filter(code__in=codes).values_list("code", "pk"))
    cleans: list[dict[str, Any] | None] = []
    all_errors: dict[int, list[FieldError]] = {}
    for index, (number, row) in enumerate(zip(batch.numbers, rows, strict=True)):
        errors: list[FieldError] = []
        code = clean_code(row.get("code"), "code", errors, max_length=60)
        if code and code in context.cache["seen"]:
            errors.append(FieldError("code", _("产品编码“%(code)s”在第 %(row)s 行已出现。")
                                     % {"code": code, "row": context.cache["seen"][code]}, "duplicate"))
        elif code:
            context.cache["seen"][code] = number
        clean: dict[str, Any] = {"code": code, "id": existing.get(code)}
        clean["name"] = clean_text(row.get("name"), "name", errors, max_length=200, required=True)
        category_code = (row.get("category") or "").strip()
        clean["category_id"] = None
        if category_code:
            clean["category_id"] = context.cache["categories"].get(category_code)
            if clean["category_id"] is None:
                errors.append(FieldError("category", _("没有代码为“%(code)s”的分类。") % {"code": category_code[:50]},
                                         "not_found"))
        clean["type"] = _choice(row.get("type", ""), ProductType, "type", number, errors, ProductType.GOODS)
        clean["unit"] = clean_text(row.get("unit") or "台", "unit", errors, max_length=20, required=True)
        clean["tax_rate"] = clean_tax_rate(row.get("tax_rate") or "13%", "tax_rate", errors)
        clean["status"] = _choice(row.get("status", ""), CatalogStatus, "status", number, errors, CatalogStatus.ACTIVE)
        clean["description"] = clean_text(row.get("description"), "description", errors, max_length=5000)
        if errors:
            all_errors[index] = _with_row(errors, number)
            cleans.append(None)
        else:
            cleans.append(clean)
    return cleans, all_errors


PRODUCT_FIELDS = ("name", "category_id", "type", "unit", "tax_rate", "status", "description")


@transaction.atomic
def _product_commit(actor: User, rows: list[dict[str, Any]]) -> int:
    new = [Product(code=row["code"], created_by=actor, **{name: row[name] for name in PRODUCT_FIELDS})
           for row in rows if row["id"] is None]
    Product.objects.bulk_create(new, batch_size=500)
    if new and new[0].pk is None:
        by_code = dict(Product.objects.filter(code__in=[product.code for product in new]).values_list("code", "pk"))
        for product in new:
            product.pk = by_code[product.code]
    changed = [Product(pk=row["id"], code=row["code"], **{name: row[name] for name in PRODUCT_FIELDS})
               for row in rows if row["id"] is not None]
    now = timezone.now()
    for product in changed:
        product.updated_at = now
    Product.objects.bulk_update(changed, [*PRODUCT_FIELDS, "updated_at"], batch_size=500)
    if changed:
        Product.objects.filter(pk__in=[product.pk for product in changed]).update(version=F("version") + 1)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "product", "object_id": product.pk, "action": AuditEvent.Kind.IMPORT,
         "object_repr": f"{product.code} {product.name}",
         "changes": {"code": [None, product.code], "name": [None, product.name]}} for product in [*new, *changed]])
    rules_version_bump()
    return len(rows)


def _product_export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[Product]:
    return selectors.product_list(user=user, filters=filters, action="export").order_by("code")


def _product_export_rows(queryset: QuerySet[Product]) -> Iterator[dict[str, Any]]:
    with translation.override(SOURCE_LANGUAGE):
        types = {value: str(label) for value, label in ProductType.choices}
        statuses = {value: str(label) for value, label in CatalogStatus.choices}
    for product in queryset.select_related("category").iterator(chunk_size=1000):
        yield {"code": product.code, "name": product.name,
               "category": product.category.code if product.category_id else "",
               "type": types.get(product.type, product.type), "unit": product.unit,
               "tax_rate": tax_rate_text(product.tax_rate), "status": statuses.get(product.status, product.status),
               "description": product.description}


# --- SKUs ---------------------------------------------------------------------------------------------
SKU_LABELS = {
    "product": gettext_lazy("产品编码"), "code": gettext_lazy("SKU 编码"), "name": gettext_lazy("规格名称"),
    "attributes": gettext_lazy("属性"), "cost_price": gettext_lazy("成本价（不含税）"),
    "cost_currency": gettext_lazy("成本币种"), "status": gettext_lazy("状态"),
}
SKU_ALIASES: dict[str, tuple[str, ...]] = {
    "product": ("产品", "product code"), "code": ("SKU", "sku code", "规格编码"), "name": ("名称", "sku name"),
    "attributes": ("属性值", "规格属性"), "cost_price": ("成本价", "成本", "cost"),
    "cost_currency": ("币种", "currency"),
    "status": ("SKU 状态",),
}
SKU_EXAMPLE = {"product": "SRV-R740", "code": "SRV-R740-2U", "name": "R740 2U 机架式", "attributes": "model=2u",
               "cost_price": "18500.00", "cost_currency": "CNY", "status": "在售"}


class _SkuColumns(Sequence[ColumnSpec]):
    """The SKU columns plus one importable "attr:<code>" column per attribute, read when used (the
    attributes live in the database; the spec is registered before it can be read)."""

    def _columns(self) -> list[ColumnSpec]:
        columns = [ColumnSpec(key=key, label=label, aliases=(key, *SKU_ALIASES[key]),
                              required=key in ("product", "code"), example=SKU_EXAMPLE[key])
                   for key, label in SKU_LABELS.items()]
        try:
            attributes = list(Attribute.objects.order_by("position", "code").values_list("code", "name"))
        except Exception:  # no table yet (before migrate)
            attributes = []
        columns += [ColumnSpec(key=f"{ATTRIBUTE_PREFIX}{code}", label=f"{ATTRIBUTE_PREFIX}{code}",
                               aliases=(f"{ATTRIBUTE_PREFIX}{name}",), exportable=False) for code, name in attributes]
        return columns

    def __len__(self) -> int:
        return len(self._columns())

    def __getitem__(self, index: Any) -> Any:
        return self._columns()[index]

    def __iter__(self) -> Iterator[ColumnSpec]:
        return iter(self._columns())


def _sku_rows(context: ImportContext, batch: RowBatch) -> BatchValidation:
    rows = [batch.row(index) for index in range(len(batch))]
    cache = context.cache
    if "products" not in cache:
        cache.update(products={}, axes={}, keys={}, seen_codes={}, seen_keys={})
    product_codes = {(row.get("product") or "").strip() for row in rows} - set(cache["products"])
    visible = access.restrict(Product.objects.filter(code__in=product_codes), context.actor, "product", "edit")
    for product in visible:
        cache["products"][product.code] = product
        cache["axes"][product.pk] = product_axes(product)
        cache["keys"][product.pk] = dict(Sku.objects.filter(product=product).exclude(attribute_key="")
                                         .values_list("attribute_key", "code"))
    sku_codes = {(row.get("code") or "").strip() for row in rows}
    existing = {code: (pk, product_id) for code, pk, product_id in
                Sku.objects.filter(code__in=sku_codes).values_list("code", "pk", "product_id")}
    cleans: list[dict[str, Any] | None] = []
    all_errors: dict[int, list[FieldError]] = {}
    for index, (number, row) in enumerate(zip(batch.numbers, rows, strict=True)):
        errors: list[FieldError] = []
        product_code = (row.get("product") or "").strip()
        product = cache["products"].get(product_code)
        if product is None:
            errors.append(FieldError("product", _("没有编码为“%(code)s”的产品，或你不能编辑它。")
                                     % {"code": product_code[:60]}
                                     if product_code else _("必填：产品编码。"),
                                     "not_found" if product_code else "required", number))
        code = clean_code(row.get("code"), "code", errors, max_length=80)
        if code and code in cache["seen_codes"]:
            errors.append(FieldError("code", _("SKU 编码“%(code)s”在第 %(row)s 行已出现。")
                                     % {"code": code, "row": cache["seen_codes"][code]}, "duplicate", number))
        elif code:
            cache["seen_codes"][code] = number
        sku_id, sku_product = existing.get(code, (None, None))
        if product is not None and sku_id is not None and sku_product != product.pk:
            errors.append(FieldError("code", _("SKU 编码“%(code)s”已属于另一个产品。") % {"code": code}, "duplicate",
                                     number))
        clean: dict[str, Any] = {"id": sku_id, "code": code, "product": product}
        clean["name"] = clean_text(row.get("name") or (product.name if product else ""), "name", errors,
                                   max_length=200, required=True)
        raw_values: dict[str, str] = {}
        attribute_errors: list[FieldError] = []
        text = (row.get("attributes") or "").strip()
        if text:
            try:
                raw_values.update(parse_attribute_text(text))
            except ValueError as error:
                attribute_errors.append(FieldError("attributes", _("“%(part)s”不是“属性=值”的形式。")
                                                   % {"part": str(error)[:50]}, "invalid"))
        for key, cell in row.items():
            if key.startswith(ATTRIBUTE_PREFIX) and (cell or "").strip():
                raw_values[key[len(ATTRIBUTE_PREFIX):]] = cell.strip()
        values: dict[str, str] = {}
        if product is not None:
            values = clean_attribute_values(raw_values, cache["axes"][product.pk], attribute_errors, field="attributes")
        errors.extend(FieldError("attributes", error.message, error.code) for error in attribute_errors)
        key = attribute_key(values)
        if product is not None and key:
            holder = cache["keys"][product.pk].get(key)
            if holder is not None and holder != code:
                errors.append(FieldError("attributes", _("这个属性组合（%(key)s）已是 SKU %(sku)s。")
                                         % {"key": key, "sku": holder}, "duplicate_combination"))
            seen_row = cache["seen_keys"].get((product.pk, key))
            if seen_row is not None:
                errors.append(FieldError("attributes", _("这个属性组合（%(key)s）在第 %(row)s 行已出现。")
                                         % {"key": key, "row": seen_row}, "duplicate_combination"))
            cache["seen_keys"][(product.pk, key)] = number
        clean.update(attribute_values=values, attribute_key=key)
        cost = clean_decimal((row.get("cost_price") or "0"), "cost_price", errors)
        clean["cost_price"] = cost
        currency = (row.get("cost_currency") or "CNY").strip().upper()
        if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
            errors.append(FieldError("cost_currency", _("币种必须是 3 个字母的代码，如 CNY。"), "invalid"))
        clean["cost_currency"] = currency
        clean["status"] = _choice(row.get("status", ""), CatalogStatus, "status", number, errors, CatalogStatus.ACTIVE)
        if errors:
            all_errors[index] = _with_row(errors, number)
            cleans.append(None)
        else:
            cleans.append(clean)
    return cleans, all_errors


SKU_FIELDS = ("name", "attribute_values", "attribute_key", "cost_price", "cost_currency", "status")


@transaction.atomic
def _sku_commit(actor: User, rows: list[dict[str, Any]]) -> int:
    new = [Sku(product=row["product"], code=row["code"], **{name: row[name] for name in SKU_FIELDS})
           for row in rows if row["id"] is None]
    changed = [Sku(pk=row["id"], product=row["product"], code=row["code"], **{name: row[name] for name in SKU_FIELDS})
               for row in rows if row["id"] is not None]
    now = timezone.now()
    # Updated rows first: a combination moving from one SKU to another frees its key before it is taken.
    for sku in changed:
        sku.updated_at = now
    Sku.objects.bulk_update(changed, [*SKU_FIELDS, "updated_at"], batch_size=500)
    if changed:
        Sku.objects.filter(pk__in=[sku.pk for sku in changed]).update(version=F("version") + 1)
    Sku.objects.bulk_create(new, batch_size=500)
    if new and new[0].pk is None:
        by_code = dict(Sku.objects.filter(code__in=[sku.code for sku in new]).values_list("code", "pk"))
        for sku in new:
            sku.pk = by_code[sku.code]
    Product.objects.filter(pk__in={row["product"].pk for row in rows}).update(version=F("version") + 1,
                                                                              updated_at=now)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "sku", "object_id": sku.pk, "action": AuditEvent.Kind.IMPORT,
         "object_repr": f"{sku.code} {sku.name}",
         "changes": {"code": [None, sku.code], "attribute_values": [None, sku.attribute_values],
                     "cost_price": [None, str(sku.cost_price)]}} for sku in [*new, *changed]])
    rules_version_bump()
    return len(rows)


def _sku_export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[Sku]:
    products = selectors.product_list(user=user, filters=filters, action="export")
    return Sku.objects.filter(product__in=products.values("pk")).order_by("product__code", "code")


def _sku_export_rows(queryset: QuerySet[Sku]) -> Iterator[dict[str, Any]]:
    with translation.override(SOURCE_LANGUAGE):
        statuses = {value: str(label) for value, label in CatalogStatus.choices}
    for sku in queryset.select_related("product").iterator(chunk_size=1000):
        yield {"product": sku.product.code, "code": sku.code, "name": sku.name,
               "attributes": attribute_key(sku.attribute_values or {}),
               "cost_price": format(Decimal(sku.cost_price).normalize(), "f") if sku.cost_price else "0",
               "cost_currency": sku.cost_currency, "status": statuses.get(sku.status, sku.status)}


def _unused_row_validator(row: dict[str, str], number: int, context: ImportContext) -> Any:
    raise NotImplementedError("catalogue specs validate by batch")


def register_catalog() -> None:
    """Register the product and SKU importers/exporters with the activity import machinery."""
    register(TabularSpec(
        object_type="product", label=gettext_lazy("产品"), fields=tuple(_product_columns()),
        validate_row=_unused_row_validator, validate_batch=_all_or_nothing(_product_rows),
        commit_rows=_product_commit, export_rows=_product_export_rows, export_queryset=_product_export_queryset,
        export_filters=("q", "category", "type", "status"),
    ))
    register(TabularSpec(
        object_type="sku", label=gettext_lazy("SKU"), fields=_SkuColumns(),
        validate_row=_unused_row_validator, validate_batch=_all_or_nothing(_sku_rows),
        commit_rows=_sku_commit, export_rows=_sku_export_rows, export_queryset=_sku_export_queryset,
        export_filters=("q", "category", "type", "status"),
    ))
