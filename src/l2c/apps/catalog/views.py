"""Pages of the catalogue (产品目录): product list, create/edit/delete, the product page (info, axes and
SKUs with generation, the BOM tree editor with its rolled-up cost), categories and attributes.

Views parse the request, call selectors/services (which go through the access choke point) and render.
NotFound → 404, PermissionDenied → 403; validation errors and conflicts are shown on the page. A
denied or invalid request changes nothing. The BOM editor's actions answer an htmx request with the
BOM panel itself (errors, such as a refused cycle, shown inline) and a plain POST with a redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.apps.customers.view_helpers import (
    domain_errors,
    error_text,
    int_or_none,
    optional_url,
    page_urls,
    paginate,
    query_string,
    timeline,
)
from l2c.apps.identity import access
from l2c.kernel.errors import Conflict, DomainError, PreconditionFailed, ValidationFailed

from . import bom, selectors, services, skus
from .forms import ProductForm, category_choices
from .models import CatalogStatus, ChoiceMode, Product, ProductType, Sku

LIST_SORTS = [("code", gettext_lazy("编码")), ("name", gettext_lazy("名称")), ("-updated_at", gettext_lazy("最近更新")),
              ("-created_at", gettext_lazy("最近创建"))]
STALE_MESSAGE = gettext_lazy("该记录已被他人修改，请刷新页面后重试。")


def _detail_url(product_id: int, anchor: str = "") -> str:
    return reverse("catalog:product_detail", args=[product_id]) + (f"#{anchor}" if anchor else "")


def _may(request: HttpRequest, action: str) -> bool:
    return access.can(request.user, "product", action)


def _product_for(request: HttpRequest, product_id: int, action: str = "view") -> Product:
    """The product if visible (else 404) and the action allowed (else 403)."""
    return access.get_for_action(request.user, "product", product_id, action)  # type: ignore[no-any-return]


# --- list -----------------------------------------------------------------------------------------
@login_required
@domain_errors
def product_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "product", "view")
    filters: dict[str, Any] = {}
    for name in ("q", "category", "type", "status"):
        value = (request.GET.get(name) or "").strip()[:100]
        if value:
            filters[name] = value
    sort = request.GET.get("sort") or "code"
    if sort not in selectors.PRODUCT_SORTS:
        sort = "code"
    queryset = selectors.product_list(user=user, filters=filters).select_related("category")
    page = paginate(request, queryset, sort, selectors.PRODUCT_SORTS)
    export_url = reverse("activity:export")
    may_export = _may(request, "export")
    counts = dict(selectors.sku_counts([product.pk for product in page.items]))
    context = {
        "products": [{"product": product, "sku_count": counts.get(product.pk, 0),
                      "tax": services.tax_rate_text(product.tax_rate)} for product in page.items],
        "page": page_urls(request, page), "filters": filters, "sort": sort, "sorts": LIST_SORTS,
        "categories": selectors.category_flat(), "types": ProductType.choices, "statuses": CatalogStatus.choices,
        "may_create": _may(request, "create"),
        "import_url": optional_url("activity:import_start", "product") if _may(request, "import") else None,
        "sku_import_url": optional_url("activity:import_start", "sku") if access.can(user, "sku", "import") else None,
        "export_csv_url": f"{export_url}?{query_string({'object_type': 'product', 'format': 'csv', **filters})}"
        if may_export else None,
        "export_xlsx_url": f"{export_url}?{query_string({'object_type': 'product', 'format': 'xlsx', **filters})}"
        if may_export else None,
        "sku_export_url": f"{export_url}?{query_string({'object_type': 'sku', 'format': 'xlsx', **filters})}"
        if may_export and access.can(user, "sku", "export") else None,
    }
    return render(request, "catalog/product_list.html", context)


# --- create, edit, delete ---------------------------------------------------------------------------
@login_required
@domain_errors
def product_create(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "product", "create")
    form = ProductForm(request.POST or None, categories=selectors.category_flat(),
                       initial={"type": ProductType.GOODS, "status": CatalogStatus.ACTIVE, "tax_rate": "13%",
                                "unit": "台", "category": request.GET.get("category") or ""})
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(actor=request.user, data=form.to_data())
        except ValidationFailed as error:
            form.apply(error)
        else:
            messages.success(request, _("产品已创建。"))
            return redirect("catalog:product_detail", product_id=product.pk)
    return render(request, "catalog/product_form.html", {"form": form, "product": None})


@login_required
@domain_errors
def product_edit(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _product_for(request, product_id, "edit")
    form = ProductForm(request.POST or None, categories=selectors.category_flat(), instance=product)
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update(actor=request.user, product_id=product.pk, data=form.to_data(),
                                    expected_version=form.expected_version())
        except PreconditionFailed:
            form.add_error(None, STALE_MESSAGE)
        except ValidationFailed as error:
            form.apply(error)
        else:
            messages.success(request, _("产品已保存。"))
            return redirect("catalog:product_detail", product_id=product.pk)
    return render(request, "catalog/product_form.html", {"form": form, "product": product})


@login_required
@domain_errors
def product_delete(request: HttpRequest, product_id: int) -> HttpResponse:
    """GET: the confirmation page (with where the product is used); POST: delete."""
    product = _product_for(request, product_id, "delete")
    if request.method == "POST":
        try:
            services.product_delete(actor=request.user, product_id=product.pk,
                                    expected_version=int_or_none(request.POST.get("version")))
        except PreconditionFailed:
            messages.error(request, STALE_MESSAGE)
        except Conflict as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("产品已删除。"))
            return redirect("catalog:product_list")
        return redirect("catalog:product_detail", product_id=product.pk)
    return render(request, "catalog/product_delete.html", {
        "product": product, "usage": services.product_usage(product), "sku_count": product.skus.count()})


# --- detail ---------------------------------------------------------------------------------------
def _bom_context(request: HttpRequest, product: Product, *, error: DomainError | None = None,
                 values: dict[str, Any] | None = None) -> dict[str, Any]:
    tree = bom.bom_tree(product=product)
    return {
        "product": product, "tree": tree, "rolled_up_cost": bom.exact(tree.rolled_up_cost),
        "groups": list(product.option_groups.order_by("position", "code")),
        "choice_modes": ChoiceMode.choices,
        "may_edit": "edit" in access.allowed_actions(request.user, "product", product),
        "bom_error": error, "bom_values": values or {},
    }


@login_required
@domain_errors
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = selectors.product_detail(user=request.user, product_id=product_id)
    allowed = access.allowed_actions(request.user, "product", product)
    axes = skus.product_axes(product)
    attributes = list(selectors.attribute_list())
    axis_codes = list(axes)
    product_skus = list(selectors.product_skus(product))
    context = {
        **_bom_context(request, product),
        "allowed": allowed, "tax": services.tax_rate_text(product.tax_rate),
        "category_path": services.category_path(product.category_id),
        "axes": [{"code": code, "attribute": next((a for a in attributes if a.code == code), None),
                  "values": list(values.values())} for code, values in axes.items()],
        "axis_codes": axis_codes, "attributes": attributes,
        "skus": [{"sku": sku, "values": [(code, axes.get(code, {}).get(value)) for code, value in
                                         sorted((sku.attribute_values or {}).items(),
                                                key=lambda item: axis_codes.index(item[0])
                                                if item[0] in axis_codes else len(axis_codes))]}
                 for sku in product_skus],
        "statuses": CatalogStatus.choices,
        "default_code_pattern": skus.default_code_pattern(axis_codes),
        "default_name_pattern": skus.default_name_pattern(axis_codes),
        "usage": services.product_usage(product),
        # the SKUs' own changes belong to the product's history too (a deleted SKU's is noted on the product)
        "timeline": timeline("product", product, related={"sku": (Sku, [sku.pk for sku in product_skus])}),
    }
    return render(request, "catalog/product_detail.html", context)


def _back_or_error(request: HttpRequest, product_id: int, anchor: str, action: Callable[[], str]) -> HttpResponse:
    """Run a service call of a product page form; success and errors become messages."""
    try:
        message = action()
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, message)
    return redirect(_detail_url(product_id, anchor))


@login_required
@require_POST
@domain_errors
def product_axes(request: HttpRequest, product_id: int) -> HttpResponse:
    codes = [code for code in request.POST.getlist("attribute_codes") if code]

    def act() -> str:
        services.product_attributes_set(actor=request.user, product_id=product_id, attribute_codes=codes)
        return _("规格属性已保存。")

    return _back_or_error(request, product_id, "skus", act)


def _sku_values(request: HttpRequest, product: Product) -> dict[str, str]:
    return {code: request.POST.get(f"attr_{code}") or "" for code in skus.product_axes(product)}


@login_required
@require_POST
@domain_errors
def sku_create(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _product_for(request, product_id, "edit")

    def act() -> str:
        sku = skus.sku_create(actor=request.user, product_id=product.pk, data={
            "code": request.POST.get("code"), "name": request.POST.get("name"),
            "attribute_values": _sku_values(request, product), "cost_price": request.POST.get("cost_price"),
            "status": request.POST.get("status")})
        return _("已添加 SKU %(code)s。") % {"code": sku.code}

    return _back_or_error(request, product.pk, "skus", act)


@login_required
@require_POST
@domain_errors
def sku_update(request: HttpRequest, product_id: int, sku_id: int) -> HttpResponse:
    def act() -> str:
        sku = skus.sku_update(actor=request.user, product_id=product_id, sku_id=sku_id, data={
            "name": request.POST.get("name"), "cost_price": request.POST.get("cost_price"),
            "status": request.POST.get("status")}, expected_version=int_or_none(request.POST.get("version")))
        return _("SKU %(code)s 已保存。") % {"code": sku.code}

    return _back_or_error(request, product_id, "skus", act)


@login_required
@require_POST
@domain_errors
def sku_delete(request: HttpRequest, product_id: int, sku_id: int) -> HttpResponse:
    def act() -> str:
        skus.sku_delete(actor=request.user, product_id=product_id, sku_id=sku_id)
        return _("SKU 已删除。")

    return _back_or_error(request, product_id, "skus", act)


@login_required
@require_POST
@domain_errors
def sku_generate(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _product_for(request, product_id, "edit")
    values = {code: request.POST.getlist(f"values_{code}") for code in skus.product_axes(product)}

    def act() -> str:
        result = skus.sku_generate(actor=request.user, product_id=product.pk, values=values,
                                       code_pattern=request.POST.get("code_pattern") or "",
                                       name_pattern=request.POST.get("name_pattern") or "",
                                       cost_price=request.POST.get("cost_price") or "0")
        return _("已生成 %(created)s 个 SKU，跳过 %(skipped)s 个已有的组合。") % {
            "created": len(result.created), "skipped": len(result.skipped)}

    return _back_or_error(request, product.pk, "skus", act)


# --- the BOM tree editor -----------------------------------------------------------------------------
def _bom_answer(request: HttpRequest, product_id: int, action: Callable[[], str],
                values: dict[str, Any] | None = None) -> HttpResponse:
    """htmx: the BOM panel with the outcome inline (422 on a refused change); else a redirect."""
    error: DomainError | None = None
    try:
        message = action()
    except (ValidationFailed, Conflict) as failure:
        error = failure
    if not request.htmx:  # type: ignore[attr-defined]
        if error is not None:
            messages.error(request, error_text(error))
        else:
            messages.success(request, message)
        return redirect(_detail_url(product_id, "bom"))
    product = selectors.product_detail(user=request.user, product_id=product_id)
    context = _bom_context(request, product, error=error, values=values if error is not None else None)
    context["bom_message"] = None if error is not None else message
    return render(request, "catalog/_bom.html", context, status=422 if error is not None else 200)


@login_required
@domain_errors
def bom_panel(request: HttpRequest, product_id: int) -> HttpResponse:
    product = selectors.product_detail(user=request.user, product_id=product_id)
    return render(request, "catalog/_bom.html", _bom_context(request, product))


def _item_data(request: HttpRequest) -> dict[str, Any]:
    return {"quantity": request.POST.get("quantity") or "1", "required": request.POST.get("required") == "on",
            "priced": request.POST.get("priced") == "on", "min_quantity": request.POST.get("min_quantity") or None,
            "max_quantity": request.POST.get("max_quantity") or None,
            "option_group": request.POST.get("option_group") or None}


@login_required
@require_POST
@domain_errors
def bom_item_add(request: HttpRequest, product_id: int) -> HttpResponse:
    data = {**_item_data(request), "component_sku": (request.POST.get("component_sku") or "").strip()}

    def act() -> str:
        item = bom.bom_item_add(actor=request.user, product_id=product_id, data=data)
        return _("已加入组件 %(code)s。") % {"code": item.component.code}

    return _bom_answer(request, product_id, act, values=data)


@login_required
@require_POST
@domain_errors
def bom_item_update(request: HttpRequest, product_id: int, item_id: int) -> HttpResponse:
    def act() -> str:
        item = bom.bom_item_update(actor=request.user, product_id=product_id, item_id=item_id,
                                   data=_item_data(request))
        return _("组件 %(code)s 已保存。") % {"code": item.component.code}

    return _bom_answer(request, product_id, act)


@login_required
@require_POST
@domain_errors
def bom_item_move(request: HttpRequest, product_id: int, item_id: int) -> HttpResponse:
    offset = -1 if request.POST.get("direction") == "up" else 1

    def act() -> str:
        bom.bom_item_move(actor=request.user, product_id=product_id, item_id=item_id, offset=offset)
        return _("顺序已调整。")

    return _bom_answer(request, product_id, act)


@login_required
@require_POST
@domain_errors
def bom_item_remove(request: HttpRequest, product_id: int, item_id: int) -> HttpResponse:
    def act() -> str:
        bom.bom_item_remove(actor=request.user, product_id=product_id, item_id=item_id)
        return _("组件已移除。")

    return _bom_answer(request, product_id, act)


@login_required
@require_POST
@domain_errors
def bom_group_add(request: HttpRequest, product_id: int) -> HttpResponse:
    data = {"code": request.POST.get("code"), "name": request.POST.get("name"),
            "choice": request.POST.get("choice") or ChoiceMode.SINGLE, "required": request.POST.get("required") == "on",
            "min_choices": request.POST.get("min_choices") or 0, "max_choices": request.POST.get("max_choices") or None}

    def act() -> str:
        group = bom.bom_group_create(actor=request.user, product_id=product_id, data=data)
        return _("已添加选项组 %(name)s。") % {"name": group.name}

    return _bom_answer(request, product_id, act)


@login_required
@require_POST
@domain_errors
def bom_group_delete(request: HttpRequest, product_id: int, group_id: int) -> HttpResponse:
    def act() -> str:
        bom.bom_group_delete(actor=request.user, product_id=product_id, group_id=group_id)
        return _("选项组已删除，其中的组件保留为普通组件。")

    return _bom_answer(request, product_id, act)


@login_required
@domain_errors
def sku_search(request: HttpRequest) -> HttpResponse:
    """The BOM editor's component picker: <option>s of SKUs whose code or name contains q."""
    access.require(request.user, "product", "view")
    found = selectors.sku_search(user=request.user, q=(request.GET.get("component_sku") or request.GET.get("q")
                                                      or "")[:80], limit=20)
    return render(request, "catalog/_sku_options.html", {"skus": found})


# --- categories -----------------------------------------------------------------------------------
def _category_data(request: HttpRequest) -> dict[str, Any]:
    return {"code": request.POST.get("code"), "name": request.POST.get("name"),
            "parent_id": request.POST.get("parent_id") or None, "position": request.POST.get("position") or 0}


def _list_action(request: HttpRequest, target: str, action: Callable[[], str]) -> HttpResponse:
    try:
        message = action()
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, message)
    return redirect(target)


@login_required
@domain_errors
def category_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "product", "view")
    nodes = selectors.category_flat()
    return render(request, "catalog/category_list.html", {
        "nodes": nodes, "parent_choices": category_choices(nodes, _("（顶级分类）")),
        "may_create": _may(request, "create"), "may_edit": _may(request, "edit"), "may_delete": _may(request, "delete"),
    })


@login_required
@require_POST
@domain_errors
def category_create(request: HttpRequest) -> HttpResponse:
    def act() -> str:
        category = services.category_create(actor=request.user, data=_category_data(request))
        return _("分类“%(name)s”已添加。") % {"name": category.name}

    return _list_action(request, reverse("catalog:category_list"), act)


@login_required
@require_POST
@domain_errors
def category_update(request: HttpRequest, category_id: int) -> HttpResponse:
    def act() -> str:
        category = services.category_update(actor=request.user, category_id=category_id, data=_category_data(request))
        return _("分类“%(name)s”已保存。") % {"name": category.name}

    return _list_action(request, reverse("catalog:category_list"), act)


@login_required
@require_POST
@domain_errors
def category_delete(request: HttpRequest, category_id: int) -> HttpResponse:
    def act() -> str:
        services.category_delete(actor=request.user, category_id=category_id)
        return _("分类已删除。")

    return _list_action(request, reverse("catalog:category_list"), act)


# --- attributes -----------------------------------------------------------------------------------
@login_required
@domain_errors
def attribute_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "product", "view")
    return render(request, "catalog/attribute_list.html", {
        "attributes": list(selectors.attribute_list()),
        "may_create": _may(request, "create"), "may_edit": _may(request, "edit"), "may_delete": _may(request, "delete"),
    })


@login_required
@require_POST
@domain_errors
def attribute_create(request: HttpRequest) -> HttpResponse:
    values = services.parse_values_text(request.POST.get("values") or "")

    def act() -> str:
        attribute = services.attribute_create(actor=request.user, data={
            "code": request.POST.get("code"), "name": request.POST.get("name"),
            "position": request.POST.get("position") or 0, "values": values})
        return _("属性“%(name)s”已添加。") % {"name": attribute.name}

    return _list_action(request, reverse("catalog:attribute_list"), act)


@login_required
@require_POST
@domain_errors
def attribute_update(request: HttpRequest, attribute_id: int) -> HttpResponse:
    def act() -> str:
        attribute = services.attribute_update(actor=request.user, attribute_id=attribute_id, data={
            "code": request.POST.get("code"), "name": request.POST.get("name"),
            "position": request.POST.get("position") or 0})
        return _("属性“%(name)s”已保存。") % {"name": attribute.name}

    return _list_action(request, reverse("catalog:attribute_list") + f"#attribute-{attribute_id}", act)


@login_required
@require_POST
@domain_errors
def attribute_delete(request: HttpRequest, attribute_id: int) -> HttpResponse:
    def act() -> str:
        services.attribute_delete(actor=request.user, attribute_id=attribute_id)
        return _("属性已删除。")

    return _list_action(request, reverse("catalog:attribute_list"), act)


@login_required
@require_POST
@domain_errors
def attribute_value_create(request: HttpRequest, attribute_id: int) -> HttpResponse:
    def act() -> str:
        value = services.attribute_value_create(actor=request.user, attribute_id=attribute_id, data={
            "code": request.POST.get("code"), "label": request.POST.get("label")})
        return _("属性值“%(label)s”已添加。") % {"label": value.label}

    return _list_action(request, reverse("catalog:attribute_list") + f"#attribute-{attribute_id}", act)


@login_required
@require_POST
@domain_errors
def attribute_value_delete(request: HttpRequest, attribute_id: int, value_id: int) -> HttpResponse:
    def act() -> str:
        services.attribute_value_delete(actor=request.user, attribute_id=attribute_id, value_id=value_id)
        return _("属性值已删除。")

    return _list_action(request, reverse("catalog:attribute_list") + f"#attribute-{attribute_id}", act)


PRODUCT = "catalog/products/<int:product_id>/"
urlpatterns: list[URLPattern | URLResolver] = [
    path("catalog/", product_list, name="product_list"),
    path("catalog/products/new/", product_create, name="product_create"),
    path(PRODUCT, product_detail, name="product_detail"),
    path(f"{PRODUCT}edit/", product_edit, name="product_edit"),
    path(f"{PRODUCT}delete/", product_delete, name="product_delete"),
    path(f"{PRODUCT}axes/", product_axes, name="product_axes"),
    path(f"{PRODUCT}skus/new/", sku_create, name="sku_create"),
    path(f"{PRODUCT}skus/generate/", sku_generate, name="sku_generate"),
    path(f"{PRODUCT}skus/<int:sku_id>/", sku_update, name="sku_update"),
    path(f"{PRODUCT}skus/<int:sku_id>/delete/", sku_delete, name="sku_delete"),
    path(f"{PRODUCT}bom/", bom_panel, name="bom_panel"),
    path(f"{PRODUCT}bom/items/new/", bom_item_add, name="bom_item_add"),
    path(f"{PRODUCT}bom/items/<int:item_id>/", bom_item_update, name="bom_item_update"),
    path(f"{PRODUCT}bom/items/<int:item_id>/move/", bom_item_move, name="bom_item_move"),
    path(f"{PRODUCT}bom/items/<int:item_id>/remove/", bom_item_remove, name="bom_item_remove"),
    path(f"{PRODUCT}bom/groups/new/", bom_group_add, name="bom_group_add"),
    path(f"{PRODUCT}bom/groups/<int:group_id>/delete/", bom_group_delete, name="bom_group_delete"),
    path("catalog/products/sku-search/", sku_search, name="sku_search"),
    path("catalog/categories/", category_list, name="category_list"),
    path("catalog/categories/new/", category_create, name="category_create"),
    path("catalog/categories/<int:category_id>/", category_update, name="category_update"),
    path("catalog/categories/<int:category_id>/delete/", category_delete, name="category_delete"),
    path("catalog/attributes/", attribute_list, name="attribute_list"),
    path("catalog/attributes/new/", attribute_create, name="attribute_create"),
    path("catalog/attributes/<int:attribute_id>/", attribute_update, name="attribute_update"),
    path("catalog/attributes/<int:attribute_id>/delete/", attribute_delete, name="attribute_delete"),
    path("catalog/attributes/<int:attribute_id>/values/new/", attribute_value_create, name="attribute_value_create"),
    path("catalog/attributes/<int:attribute_id>/values/<int:value_id>/delete/", attribute_value_delete,
         name="attribute_value_delete"),
]
