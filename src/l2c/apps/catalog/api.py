"""REST API of the catalogue (/api/v1/catalog): categories, attributes with values, products (ETag),
SKUs and their generation, and product structures (BOM). Permissions go through the choke point
(object type "product"); business rules live in `services` and `bom`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.concurrency import etag_for, expected_version, idempotent
from l2c.api.pagination import DEFAULT_PAGE_SIZE, keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.identity import access
from l2c.kernel.errors import NotFound

from . import bom, selectors, services, skus
from .models import Attribute, Category, Product, ProductAttribute, Sku

router = Router(tags=["catalog"])


# --- schemas ----------------------------------------------------------------------------------------
class CatalogCategoryIn(Schema):
    code: str = Field(..., max_length=50)
    name: str = Field(..., max_length=100)
    parent_id: RecordId | None = None
    position: int = Field(0, ge=0)


class CatalogCategoryPatch(Schema):
    code: str | None = Field(None, max_length=50)
    name: str | None = Field(None, max_length=100)
    parent_id: RecordId | None = Field(None, description="null: make it a root category")
    position: int | None = Field(None, ge=0)


class CatalogCategoryOut(Schema):
    id: int
    code: str
    name: str
    parent_id: int | None
    position: int


class CatalogAttributeValueIn(Schema):
    code: str = Field(..., max_length=50)
    label: str = Field("", max_length=100)
    position: int | None = Field(None, ge=0)


class CatalogAttributeValuePatch(Schema):
    code: str | None = Field(None, max_length=50)
    label: str | None = Field(None, max_length=100)
    position: int | None = Field(None, ge=0)


class CatalogAttributeValueOut(Schema):
    id: int
    code: str
    label: str
    position: int


class CatalogAttributeIn(Schema):
    code: str = Field(..., max_length=50)
    name: str = Field(..., max_length=100)
    position: int = Field(0, ge=0)
    values: list[CatalogAttributeValueIn] = Field([], max_length=500)


class CatalogAttributePatch(Schema):
    code: str | None = Field(None, max_length=50)
    name: str | None = Field(None, max_length=100)
    position: int | None = Field(None, ge=0)


class CatalogAttributeOut(Schema):
    id: int
    code: str
    name: str
    position: int
    values: list[CatalogAttributeValueOut]

    @staticmethod
    def resolve_values(obj: Attribute) -> list[Any]:
        return list(obj.values.all())


ProductTypeLiteral = Literal["goods", "service", "subscription", "usage", "project"]
StatusLiteral = Literal["draft", "active", "retired"]


class CatalogProductIn(Schema):
    code: str = Field(..., max_length=60)
    name: str = Field(..., max_length=200)
    category_id: RecordId | None = None
    type: ProductTypeLiteral = "goods"
    unit: str = Field("台", max_length=20)
    tax_rate: str = Field("13%", description='13%, 9%, 6%, 3% or 0% ("0.13" and "13" are read as 13 %)')
    status: StatusLiteral = "active"
    description: str = Field("", max_length=5000)
    attribute_codes: list[str] = Field([], description="the SKU axes in order (attribute codes)", max_length=20)


class CatalogProductPatch(Schema):
    code: str | None = Field(None, max_length=60)
    name: str | None = Field(None, max_length=200)
    category_id: RecordId | None = None
    type: ProductTypeLiteral | None = None
    unit: str | None = Field(None, max_length=20)
    tax_rate: str | None = None
    status: StatusLiteral | None = None
    description: str | None = Field(None, max_length=5000)


class CatalogProductOut(Schema):
    id: int
    code: str
    name: str
    category_id: int | None
    category_code: str | None
    type: str
    unit: str
    tax_rate: str = Field(description='"13%"')
    status: str
    description: str
    attribute_codes: list[str]
    sku_count: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    # Each resolver also takes an already serialised body (create, idempotent replay).
    @staticmethod
    def resolve_category_code(obj: Product | dict[str, Any]) -> str | None:
        if isinstance(obj, dict):
            return obj["category_code"]  # type: ignore[no-any-return]
        return obj.category.code if obj.category_id else None

    @staticmethod
    def resolve_tax_rate(obj: Product | dict[str, Any]) -> str:
        return obj["tax_rate"] if isinstance(obj, dict) else services.tax_rate_text(obj.tax_rate)  # type: ignore[no-any-return]

    @staticmethod
    def resolve_attribute_codes(obj: Product | dict[str, Any]) -> list[str]:
        if isinstance(obj, dict):
            return obj["attribute_codes"]  # type: ignore[no-any-return]
        prefetched = getattr(obj, "_prefetched_objects_cache", {}).get("product_attributes")
        if prefetched is not None:  # a list page: loaded for the whole page at once
            return [row.attribute.code for row in prefetched]
        return selectors.product_attribute_codes(obj)

    @staticmethod
    def resolve_sku_count(obj: Product | dict[str, Any]) -> int:
        if isinstance(obj, dict):
            return obj["sku_count"]  # type: ignore[no-any-return]
        counted = getattr(obj, "sku_total", None)
        return counted if counted is not None else obj.skus.count()


class CatalogProductPage(Schema):
    items: list[CatalogProductOut]
    next_cursor: str | None
    previous_cursor: str | None


class CatalogProductFilters(Schema):
    q: str | None = Field(None, max_length=100)
    category: str | None = Field(None, max_length=50, description="category id or code (sub-categories included)")
    type: ProductTypeLiteral | None = None
    status: StatusLiteral | None = None
    sort: Literal["code", "-code", "name", "-updated_at", "-created_at", "-id"] = "code"
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


class CatalogAxesIn(Schema):
    attribute_codes: list[str] = Field(..., max_length=20)


class CatalogSkuIn(Schema):
    code: str = Field(..., max_length=80)
    name: str = Field("", max_length=200)
    attribute_values: dict[str, str] = Field({}, description='{"colour": "red"} (attribute code → value code)')
    cost_price: Decimal = Field(Decimal(0), ge=0, description="tax-exclusive unit cost")
    cost_currency: str = Field("CNY", max_length=3)
    status: StatusLiteral = "active"


class CatalogSkuPatch(Schema):
    code: str | None = Field(None, max_length=80)
    name: str | None = Field(None, max_length=200)
    attribute_values: dict[str, str] | None = None
    cost_price: Decimal | None = Field(None, ge=0)
    cost_currency: str | None = Field(None, max_length=3)
    status: StatusLiteral | None = None


class CatalogSkuOut(Schema):
    id: int
    product_id: int
    code: str
    name: str
    attribute_values: dict[str, str]
    attribute_key: str
    cost_price: Decimal
    cost_currency: str
    status: str
    version: int


class CatalogSkuPage(Schema):
    items: list[CatalogSkuOut]
    next_cursor: str | None
    previous_cursor: str | None


class CatalogSkuGenerateIn(Schema):
    values: dict[str, list[str]] = Field(..., description='{"colour": ["red", "blue"], "voltage": ["220"]}')
    code_pattern: str = Field("", max_length=200, description='default "{product}-{colour}-{voltage}"')
    name_pattern: str = Field("", max_length=200, description='default "{product} {colour} {voltage}" (labels)')
    cost_price: Decimal = Field(Decimal(0), ge=0)


class CatalogSkuGenerateOut(Schema):
    created: list[CatalogSkuOut]
    skipped: list[str] = Field(description="attribute keys of combinations that already had a SKU")


class CatalogBomGroupIO(Schema):
    code: str = Field(..., max_length=50)
    name: str = Field("", max_length=100)
    choice: Literal["single", "multiple"] = "single"
    required: bool = False
    min_choices: int = Field(0, ge=0)
    max_choices: int | None = Field(None, ge=1)
    position: int = Field(0, ge=0)


class CatalogBomItemIn(Schema):
    component_sku: str = Field(..., max_length=80, description="the component SKU's code")
    quantity: Decimal = Field(Decimal(1), gt=0, description="per unit of the parent")
    required: bool = True
    priced: bool = False
    min_quantity: Decimal | None = Field(None, ge=0)
    max_quantity: Decimal | None = Field(None, gt=0)
    option_group: str | None = Field(None, max_length=50, description="an option group code")
    position: int | None = Field(None, ge=0)


class CatalogBomItemOut(Schema):
    id: int
    component_id: int
    component_sku: str
    component_name: str
    component_product_id: int
    quantity: Decimal
    required: bool
    priced: bool
    min_quantity: Decimal | None
    max_quantity: Decimal | None
    option_group: str | None
    position: int


class CatalogBomItemPatch(Schema):
    quantity: Decimal | None = Field(None, gt=0)
    required: bool | None = None
    priced: bool | None = None
    min_quantity: Decimal | None = Field(None, ge=0)
    max_quantity: Decimal | None = Field(None, gt=0)
    option_group: str | None = Field(None, max_length=50, description='an option group code; "" clears it')
    position: int | None = Field(None, ge=0)


class CatalogBomGroupPatch(Schema):
    code: str | None = Field(None, max_length=50)
    name: str | None = Field(None, max_length=100)
    choice: Literal["single", "multiple"] | None = None
    required: bool | None = None
    min_choices: int | None = Field(None, ge=0)
    max_choices: int | None = Field(None, ge=1)
    position: int | None = Field(None, ge=0)


class CatalogBomGroupOut(CatalogBomGroupIO):
    id: int


class CatalogBomIn(Schema):
    items: list[CatalogBomItemIn] = Field(..., max_length=500)
    groups: list[CatalogBomGroupIO] | None = Field(None, max_length=100,
                                                   description="when given, the option groups are replaced too")


class CatalogBomOut(Schema):
    product_id: int
    items: list[CatalogBomItemOut]
    groups: list[CatalogBomGroupIO]
    version: int


class CatalogBomNodeOut(Schema):
    item_id: int
    sku: str
    name: str
    product_id: int
    product_code: str
    quantity: Decimal
    required: bool
    priced: bool
    option_group: str | None
    min_quantity: Decimal | None
    max_quantity: Decimal | None
    in_default: bool
    cost_price: Decimal
    unit_cost: Decimal = Field(description="the SKU's cost plus its own BOM's rolled-up cost")
    line_cost: Decimal = Field(description="quantity × unit_cost")
    cycle: bool
    children: list[CatalogBomNodeOut]


class CatalogBomTreeOut(Schema):
    product_id: int
    product_code: str
    rolled_up_cost: Decimal = Field(description="cost of one unit of the default configuration")
    children: list[CatalogBomNodeOut]


def _product_body(product: Product) -> dict[str, Any]:
    return CatalogProductOut.from_orm(product).model_dump(mode="json")


def _with_etag(response: HttpResponse, version: int) -> None:
    response["ETag"] = etag_for(version)


# --- categories -------------------------------------------------------------------------------------
def _require_view(request: HttpRequest) -> None:
    access.require(request.user, "product", "view")


@router.get("/categories", response={200: list[CatalogCategoryOut], **READ_ERRORS}, summary="Product categories")
def list_categories(request: HttpRequest) -> Any:
    _require_view(request)
    return [node.category for node in selectors.category_flat()]


@router.post("/categories", response={201: CatalogCategoryOut, **WRITE_ERRORS}, summary="Create a category")
def create_category(request: HttpRequest, payload: CatalogCategoryIn) -> Any:
    return Status(201, services.category_create(actor=request.user, data=payload.model_dump()))


def _category(category_id: int) -> Category:
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise NotFound(_("没有 ID 为 %(id)s 的分类。") % {"id": category_id})
    return category


@router.get("/categories/{category_id}", response={200: CatalogCategoryOut, **READ_ERRORS}, summary="One category")
def get_category(request: HttpRequest, category_id: int) -> Any:
    _require_view(request)
    return _category(category_id)


@router.patch("/categories/{category_id}", response={200: CatalogCategoryOut, **WRITE_ERRORS},
              summary="Update or move a category (moving under itself or a descendant is refused)")
def update_category(request: HttpRequest, category_id: int, payload: CatalogCategoryPatch) -> Any:
    return services.category_update(actor=request.user, category_id=category_id,
                                    data=payload.model_dump(exclude_unset=True))


@router.delete("/categories/{category_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete a category (refused while it has products or sub-categories)")
def delete_category(request: HttpRequest, category_id: int) -> Any:
    services.category_delete(actor=request.user, category_id=category_id)
    return Status(204, None)


# --- attributes -------------------------------------------------------------------------------------
@router.get("/attributes", response={200: list[CatalogAttributeOut], **READ_ERRORS},
            summary="Attributes with their values")
def list_attributes(request: HttpRequest) -> Any:
    _require_view(request)
    return list(selectors.attribute_list())


@router.post("/attributes", response={201: CatalogAttributeOut, **WRITE_ERRORS}, summary="Create an attribute")
def create_attribute(request: HttpRequest, payload: CatalogAttributeIn) -> Any:
    attribute = services.attribute_create(actor=request.user, data=payload.model_dump())
    return Status(201, selectors.attribute_list().get(pk=attribute.pk))


@router.get("/attributes/{attribute_id}", response={200: CatalogAttributeOut, **READ_ERRORS}, summary="One attribute")
def get_attribute(request: HttpRequest, attribute_id: int) -> Any:
    _require_view(request)
    attribute = selectors.attribute_list().filter(pk=attribute_id).first()
    if attribute is None:
        raise NotFound(_("没有 ID 为 %(id)s 的属性。") % {"id": attribute_id})
    return attribute


@router.patch("/attributes/{attribute_id}", response={200: CatalogAttributeOut, **WRITE_ERRORS},
              summary="Update an attribute")
def update_attribute(request: HttpRequest, attribute_id: int, payload: CatalogAttributePatch) -> Any:
    services.attribute_update(actor=request.user, attribute_id=attribute_id,
                              data=payload.model_dump(exclude_unset=True))
    return selectors.attribute_list().get(pk=attribute_id)


@router.delete("/attributes/{attribute_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete an attribute (refused while products or SKUs use it)")
def delete_attribute(request: HttpRequest, attribute_id: int) -> Any:
    services.attribute_delete(actor=request.user, attribute_id=attribute_id)
    return Status(204, None)


@router.post("/attributes/{attribute_id}/values", response={201: CatalogAttributeValueOut, **WRITE_ERRORS},
             summary="Add a value to an attribute")
def create_attribute_value(request: HttpRequest, attribute_id: int, payload: CatalogAttributeValueIn) -> Any:
    data = payload.model_dump(exclude_none=True)
    return Status(201, services.attribute_value_create(actor=request.user, attribute_id=attribute_id, data=data))


@router.patch("/attributes/{attribute_id}/values/{value_id}", response={200: CatalogAttributeValueOut, **WRITE_ERRORS},
              summary="Update an attribute value")
def update_attribute_value(request: HttpRequest, attribute_id: int, value_id: int,
                           payload: CatalogAttributeValuePatch) -> Any:
    return services.attribute_value_update(actor=request.user, attribute_id=attribute_id, value_id=value_id,
                                           data=payload.model_dump(exclude_unset=True))


@router.delete("/attributes/{attribute_id}/values/{value_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete an attribute value (refused while a SKU uses it)")
def delete_attribute_value(request: HttpRequest, attribute_id: int, value_id: int) -> Any:
    services.attribute_value_delete(actor=request.user, attribute_id=attribute_id, value_id=value_id)
    return Status(204, None)


# --- products ---------------------------------------------------------------------------------------
@router.get("/products", response={200: CatalogProductPage, **READ_ERRORS}, summary="List products")
def list_products(request: HttpRequest, filters: Query[CatalogProductFilters]) -> Any:
    _require_view(request)
    queryset = selectors.product_list(user=request.user, filters=filters.model_dump(
        include={"q", "category", "type", "status"}, exclude_none=True)).select_related("category").annotate(
        sku_total=Count("skus")).prefetch_related(Prefetch(
            "product_attributes", queryset=ProductAttribute.objects.select_related("attribute").order_by("position")))
    page = keyset_page(queryset, sort=filters.sort, allowed_sorts=selectors.PRODUCT_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.post("/products", response={201: CatalogProductOut, **WRITE_ERRORS}, summary="Create a product")
def create_product(request: HttpRequest, response: HttpResponse, payload: CatalogProductIn) -> Any:
    def produce() -> dict[str, Any]:
        return _product_body(services.product_create(actor=request.user, data=payload.model_dump()))

    status, body = idempotent(request, 201, produce)
    _with_etag(response, int(body["version"]))
    return Status(status, body)


@router.get("/products/{product_id}", response={200: CatalogProductOut, **READ_ERRORS}, summary="One product")
def get_product(request: HttpRequest, response: HttpResponse, product_id: int) -> Any:
    product = selectors.product_detail(user=request.user, product_id=product_id)
    _with_etag(response, product.version)
    return product


@router.patch("/products/{product_id}", response={200: CatalogProductOut, **WRITE_ERRORS},
              summary="Update a product (send If-Match with the ETag to avoid lost updates)")
def update_product(request: HttpRequest, response: HttpResponse, product_id: int, payload: CatalogProductPatch) -> Any:
    product = services.product_update(actor=request.user, product_id=product_id,
                                      data=payload.model_dump(exclude_unset=True),
                                      expected_version=expected_version(request))
    _with_etag(response, product.version)
    return product


@router.put("/products/{product_id}", response={200: CatalogProductOut, **WRITE_ERRORS},
            summary="Replace a product's fields (If-Match honoured; axes via PUT …/attributes)")
def replace_product(request: HttpRequest, response: HttpResponse, product_id: int, payload: CatalogProductIn) -> Any:
    data = payload.model_dump(exclude={"attribute_codes"})
    product = services.product_update(actor=request.user, product_id=product_id, data=data,
                                      expected_version=expected_version(request))
    _with_etag(response, product.version)
    return product


@router.delete("/products/{product_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete a product (refused while its SKUs are BOM components or in price books)")
def delete_product(request: HttpRequest, product_id: int) -> Any:
    services.product_delete(actor=request.user, product_id=product_id, expected_version=expected_version(request))
    return Status(204, None)


@router.put("/products/{product_id}/attributes", response={200: CatalogProductOut, **WRITE_ERRORS},
            summary="Set the SKU axes of a product, in order")
def set_product_attributes(request: HttpRequest, response: HttpResponse, product_id: int,
                           payload: CatalogAxesIn) -> Any:
    services.product_attributes_set(actor=request.user, product_id=product_id,
                                    attribute_codes=payload.attribute_codes)
    product = selectors.product_detail(user=request.user, product_id=product_id)
    _with_etag(response, product.version)
    return product


# --- SKUs -------------------------------------------------------------------------------------------
class CatalogSkuFilters(Schema):
    q: str | None = Field(None, max_length=100)
    sort: Literal["code", "-code", "-id"] = "code"
    cursor: str | None = Field(None, max_length=2048)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=200)


@router.get("/skus", response={200: CatalogSkuPage, **READ_ERRORS},
            summary="Search SKUs of every visible product by code or name")
def list_all_skus(request: HttpRequest, filters: Query[CatalogSkuFilters]) -> Any:
    _require_view(request)
    products = access.restrict(Product.objects.all(), request.user, "product", "view")
    found = Sku.objects.filter(product__in=products.values("pk"))
    if filters.q:
        found = found.filter(code__icontains=filters.q) | found.filter(name__icontains=filters.q)
    page = keyset_page(found, sort=filters.sort, allowed_sorts=selectors.SKU_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.get("/products/{product_id}/skus", response={200: CatalogSkuPage, **READ_ERRORS}, summary="SKUs of a product")
def list_skus(request: HttpRequest, product_id: int, filters: Query[CatalogSkuFilters]) -> Any:
    product = selectors.product_detail(user=request.user, product_id=product_id)
    found = product.skus.all()
    if filters.q:
        found = found.filter(code__icontains=filters.q) | found.filter(name__icontains=filters.q)
    page = keyset_page(found, sort=filters.sort, allowed_sorts=selectors.SKU_SORTS, cursor=filters.cursor,
                       limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.post("/products/{product_id}/skus", response={201: CatalogSkuOut, **WRITE_ERRORS}, summary="Create a SKU")
def create_sku(request: HttpRequest, product_id: int, payload: CatalogSkuIn) -> Any:
    return Status(201, skus.sku_create(actor=request.user, product_id=product_id, data=payload.model_dump()))


@router.post("/products/{product_id}/skus/generate", response={201: CatalogSkuGenerateOut, **WRITE_ERRORS},
             summary="Generate SKUs from the cartesian product of chosen values (all or nothing)")
def generate_skus(request: HttpRequest, product_id: int, payload: CatalogSkuGenerateIn) -> Any:
    result = skus.sku_generate(actor=request.user, product_id=product_id, values=payload.values,
                                   code_pattern=payload.code_pattern, name_pattern=payload.name_pattern,
                                   cost_price=payload.cost_price)
    return Status(201, {"created": result.created, "skipped": result.skipped})


@router.get("/products/{product_id}/skus/{sku_id}", response={200: CatalogSkuOut, **READ_ERRORS}, summary="One SKU")
def get_sku(request: HttpRequest, response: HttpResponse, product_id: int, sku_id: int) -> Any:
    product = selectors.product_detail(user=request.user, product_id=product_id)
    sku = product.skus.filter(pk=sku_id).first()
    if sku is None:
        raise NotFound(_("产品 %(product)s 没有 ID 为 %(id)s 的 SKU。") % {"product": product.code, "id": sku_id})
    _with_etag(response, sku.version)
    return sku


@router.patch("/products/{product_id}/skus/{sku_id}", response={200: CatalogSkuOut, **WRITE_ERRORS},
              summary="Update a SKU (If-Match honoured)")
def update_sku(request: HttpRequest, response: HttpResponse, product_id: int, sku_id: int,
               payload: CatalogSkuPatch) -> Any:
    sku = skus.sku_update(actor=request.user, product_id=product_id, sku_id=sku_id,
                              data=payload.model_dump(exclude_unset=True), expected_version=expected_version(request))
    _with_etag(response, sku.version)
    return sku


@router.delete("/products/{product_id}/skus/{sku_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete a SKU (refused while it is a BOM component or in price books)")
def delete_sku(request: HttpRequest, product_id: int, sku_id: int) -> Any:
    skus.sku_delete(actor=request.user, product_id=product_id, sku_id=sku_id)
    return Status(204, None)


# --- BOM ----------------------------------------------------------------------------------------------
def _bom_body(product: Product) -> dict[str, Any]:
    items = [{"id": item.pk, "component_id": item.component_id, "component_sku": item.component.code,
              "component_name": item.component.name, "component_product_id": item.component.product_id,
              "quantity": item.quantity, "required": item.required, "priced": item.priced,
              "min_quantity": item.min_quantity, "max_quantity": item.max_quantity,
              "option_group": item.option_group.code if item.option_group_id else None, "position": item.position}
             for item in product.bom_items.select_related("component", "option_group").order_by("position", "id")]
    groups = [{"code": group.code, "name": group.name, "choice": group.choice, "required": group.required,
               "min_choices": group.min_choices, "max_choices": group.max_choices, "position": group.position}
              for group in product.option_groups.order_by("position", "code")]
    return {"product_id": product.pk, "items": items, "groups": groups, "version": product.version}


@router.get("/products/{product_id}/bom", response={200: CatalogBomOut, **READ_ERRORS},
            summary="A product's direct components and option groups")
def get_bom(request: HttpRequest, product_id: int) -> Any:
    return _bom_body(selectors.product_detail(user=request.user, product_id=product_id))


@router.put("/products/{product_id}/bom", response={200: CatalogBomOut, **WRITE_ERRORS},
            summary="Replace a product's components (and option groups when given); all or nothing, cycles refused")
def replace_bom(request: HttpRequest, product_id: int, payload: CatalogBomIn) -> Any:
    groups = None if payload.groups is None else [group.model_dump() for group in payload.groups]
    product = bom.bom_replace(actor=request.user, product_id=product_id,
                              items=[item.model_dump(exclude_none=True) for item in payload.items], groups=groups)
    return _bom_body(product)


def _node(node: bom.BomNode) -> dict[str, Any]:
    return {"item_id": node.item_id, "sku": node.sku_code, "name": node.sku_name, "product_id": node.product_id,
            "product_code": node.product_code, "quantity": node.quantity, "required": node.required,
            "priced": node.priced, "option_group": node.option_group, "min_quantity": node.min_quantity,
            "max_quantity": node.max_quantity, "in_default": node.in_default, "cost_price": node.cost_price,
            "unit_cost": bom.exact(node.unit_cost), "line_cost": bom.exact(node.line_cost), "cycle": node.cycle,
            "children": [_node(child) for child in node.children]}


@router.get("/products/{product_id}/bom/tree", response={200: CatalogBomTreeOut, **READ_ERRORS},
            summary="The product's structure nested to every depth, with the rolled-up cost")
def get_bom_tree(request: HttpRequest, product_id: int) -> Any:
    product = selectors.product_detail(user=request.user, product_id=product_id)
    tree = bom.bom_tree(product=product)
    return {"product_id": product.pk, "product_code": product.code, "rolled_up_cost": bom.exact(tree.rolled_up_cost),
            "children": [_node(node) for node in tree.children]}


@router.post("/products/{product_id}/bom/items", response={201: CatalogBomOut, **WRITE_ERRORS},
             summary="Add one component (cycles refused with the path)")
def add_bom_item(request: HttpRequest, product_id: int, payload: CatalogBomItemIn) -> Any:
    bom.bom_item_add(actor=request.user, product_id=product_id, data=payload.model_dump(exclude_none=True))
    return Status(201, _bom_body(selectors.product_detail(user=request.user, product_id=product_id)))


@router.patch("/products/{product_id}/bom/items/{item_id}", response={200: CatalogBomOut, **WRITE_ERRORS},
              summary="Change one component's quantity, flags, limits, option group or position")
def update_bom_item(request: HttpRequest, product_id: int, item_id: int, payload: CatalogBomItemPatch) -> Any:
    bom.bom_item_update(actor=request.user, product_id=product_id, item_id=item_id,
                        data=payload.model_dump(exclude_unset=True))
    return _bom_body(selectors.product_detail(user=request.user, product_id=product_id))


@router.delete("/products/{product_id}/bom/items/{item_id}", response={204: None, **WRITE_ERRORS},
               summary="Remove one component")
def remove_bom_item(request: HttpRequest, product_id: int, item_id: int) -> Any:
    bom.bom_item_remove(actor=request.user, product_id=product_id, item_id=item_id)
    return Status(204, None)


@router.post("/products/{product_id}/bom/groups", response={201: CatalogBomGroupOut, **WRITE_ERRORS},
             summary="Add an option group")
def add_bom_group(request: HttpRequest, product_id: int, payload: CatalogBomGroupIO) -> Any:
    return Status(201, bom.bom_group_create(actor=request.user, product_id=product_id, data=payload.model_dump()))


@router.patch("/products/{product_id}/bom/groups/{group_id}", response={200: CatalogBomGroupOut, **WRITE_ERRORS},
              summary="Update an option group")
def update_bom_group(request: HttpRequest, product_id: int, group_id: int, payload: CatalogBomGroupPatch) -> Any:
    return bom.bom_group_update(actor=request.user, product_id=product_id, group_id=group_id,
                                data=payload.model_dump(exclude_unset=True))


@router.delete("/products/{product_id}/bom/groups/{group_id}", response={204: None, **WRITE_ERRORS},
               summary="Delete an option group (its components stay, without a group)")
def delete_bom_group(request: HttpRequest, product_id: int, group_id: int) -> Any:
    bom.bom_group_delete(actor=request.user, product_id=product_id, group_id=group_id)
    return Status(204, None)
