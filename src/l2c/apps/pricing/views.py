"""Pages of price books (价目表), promotions (促销) with coupons, and the margin policy (毛利管控).

Views parse the request, call selectors/services (which go through the access choke point) and
render; NotFound → 404, PermissionDenied → 403, validation errors next to their fields (422). The
editors work without JavaScript: row buttons post the form with an `op` and re-render it unsaved;
the promotion kind select swaps its params fields through HTMX (`promotion_params`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from l2c.apps.catalog.models import Sku
from l2c.apps.customers.models import AccountLevel
from l2c.apps.customers.view_helpers import domain_errors, error_text, paginate, query_string
from l2c.apps.identity import access
from l2c.apps.identity.models import Department
from l2c.kernel.errors import DomainError, ValidationFailed
from l2c.kernel.tabular import csv_chunks

from . import forms, importers, selectors, services
from .models import (
    BookStatus,
    GuardAction,
    PriceBook,
    PriceMethod,
    Promotion,
    PromotionKind,
    PromotionStatus,
    TierMode,
)

SKU_SEARCH_LIMIT = 20


def _render(request: HttpRequest, template: str, context: dict[str, Any], failed: bool = False) -> HttpResponse:
    return render(request, f"pricing/{template}", context, status=422 if failed else 200)


def _scope_context() -> dict[str, Any]:
    return {"levels": AccountLevel.choices, "departments": Department.objects.order_by("path", "name")}


def _version(request: HttpRequest) -> int | None:
    raw = request.POST.get("version") or ""
    return int(raw) if raw.isdigit() else None


# --- price books ----------------------------------------------------------------------------------------
@login_required
@domain_errors
def book_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "price_book", "view")
    filters = {name: (request.GET.get(name) or "").strip()[:100] for name in ("q", "status", "currency")}
    filters = {name: value for name, value in filters.items() if value}
    page = paginate(request, selectors.price_book_list(user=user, filters=filters), "-priority", selectors.BOOK_SORTS)
    return _render(request, "book_list.html", {
        "books": page.items, "page": page, "filters": filters, "statuses": BookStatus.choices,
        "may_create": access.can(user, "price_book", "create"), "query": query_string(filters)})


BOOK_HEADER_DEFAULTS = {"code": "", "name": "", "currency": "CNY", "is_base": False, "priority": 0, "valid_from": "",
                        "valid_to": "", "description": "", "scope": {}}


def _book_form_context(book: PriceBook | None, header: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    header = {**BOOK_HEADER_DEFAULTS, **header}
    for name in ("valid_from", "valid_to"):
        value = header[name]
        header[name] = value.isoformat() if hasattr(value, "isoformat") else str(value or "")
    return {"book": book, "header": header, "errors": errors, **_scope_context()}


def _header_display(data: dict[str, Any]) -> dict[str, Any]:
    """Posted header values back into the form's shape."""
    groups = data.get("scope_groups") or []
    return {**data, "scope": {"accounts": ", ".join(str(item) for item in data.get("scope_accounts") or []),
                              "levels": [g.removeprefix("level:") for g in groups if g.startswith("level:")],
                              "tags": ", ".join(g.removeprefix("tag:") for g in groups if g.startswith("tag:")),
                              "departments": [int(pk) for pk in data.get("scope_departments") or []
                                              if str(pk).isdigit()],
                              "regions": ", ".join(data.get("scope_regions") or [])}}


@login_required
@domain_errors
def book_create(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "price_book", "create")
    header: dict[str, Any] = {"currency": "CNY", "priority": 0, "scope": {}}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = forms.book_from_post(request.POST)
        try:
            book = services.price_book_create(actor=request.user, data=data)
        except ValidationFailed as error:
            errors = forms.errors_by_field(error.errors) or {"general": [error.detail]}
            header = _header_display(data)
        except DomainError as error:
            errors, header = {"general": [error_text(error)]}, _header_display(data)
        else:
            messages.success(request, _("价目表“%(name)s”已创建。") % {"name": book.name})
            return redirect("pricing:book_detail", book_id=book.pk)
    return _render(request, "book_form.html", _book_form_context(None, header, errors), bool(errors))


@login_required
@domain_errors
def book_detail(request: HttpRequest, book_id: int) -> HttpResponse:
    """The book editor: header and scope (POST saves), entries with search, adjustments, actions."""
    user = request.user
    book = selectors.price_book_detail(user=user, book_id=book_id)
    may_edit = "edit" in access.allowed_actions(user, "price_book", book)
    errors: dict[str, list[str]] = {}
    header = {"code": book.code, "name": book.name, "currency": book.currency, "is_base": book.is_base,
              "priority": book.priority, "valid_from": book.valid_from, "valid_to": book.valid_to,
              "description": book.description, "scope": forms.scope_display(book, "scope_")}
    if request.method == "POST":
        data = forms.book_from_post(request.POST)
        try:
            book = services.price_book_update(actor=user, book_id=book.pk, data=data,
                                              expected_version=_version(request))
        except ValidationFailed as error:
            errors, header = forms.errors_by_field(error.errors) or {"general": [error.detail]}, _header_display(data)
        except DomainError as error:
            errors, header = {"general": [error_text(error)]}, _header_display(data)
        else:
            messages.success(request, _("价目表已保存。"))
            return redirect("pricing:book_detail", book_id=book.pk)
    q = (request.GET.get("q") or "").strip()[:100]
    entries = paginate(request, selectors.price_entries(book=book, q=q or None), "id", selectors.ENTRY_SORTS)
    return _render(request, "book_detail.html", {
        **_book_form_context(book, header, errors), "entries": entries.items, "page": entries, "q": q,
        "adjustments": selectors.adjustments(book=book), "may_edit": may_edit,
        "may_delete": "delete" in access.allowed_actions(user, "price_book", book),
        "may_create": access.can(user, "price_book", "create"),
        "may_export": access.can(user, "price_book", "export"),
        "may_import": access.can(user, "price_book", "import")}, bool(errors))


@login_required
@domain_errors
@require_POST
def book_action(request: HttpRequest, book_id: int, action: str) -> HttpResponse:
    """activate / archive / delete / copy from the editor's buttons."""
    user = request.user
    try:
        if action == "activate":
            services.price_book_activate(actor=user, book_id=book_id, expected_version=_version(request))
            messages.success(request, _("价目表已生效。"))
        elif action == "archive":
            services.price_book_archive(actor=user, book_id=book_id, expected_version=_version(request))
            messages.success(request, _("价目表已归档。"))
        elif action == "delete":
            services.price_book_delete(actor=user, book_id=book_id, expected_version=_version(request))
            messages.success(request, _("价目表已删除。"))
            return redirect("pricing:book_list")
        elif action == "copy":
            copy = services.price_book_copy(actor=user, book_id=book_id, code=request.POST.get("code") or "",
                                            name=request.POST.get("name") or "",
                                            valid_from=request.POST.get("valid_from") or None,
                                            valid_to=request.POST.get("valid_to") or None)
            messages.success(request, _("已复制为价目表“%(code)s”。") % {"code": copy.code})
            return redirect("pricing:book_detail", book_id=copy.pk)
    except (ValidationFailed, DomainError) as error:
        if isinstance(error, (ValidationFailed,)) or error.status in (409, 412):
            messages.error(request, error_text(error))
        else:
            raise
    return redirect("pricing:book_detail", book_id=book_id)


def _tier_rows(rows: list[dict[str, str]], errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [{**row, "errors": errors.get(f"tiers.{index}", [])} for index, row in enumerate(rows)]


@login_required
@domain_errors
def entry_edit(request: HttpRequest, book_id: int) -> HttpResponse:
    """Add or change the price of one SKU (`?sku=`): method fields and tier rows (add/remove rows
    re-render unsaved)."""
    user = request.user
    book = access.get_for_action(user, "price_book", book_id, "edit")
    sku_code = (request.GET.get("sku") or request.POST.get("sku") or "").strip()[:80]
    entry = selectors.price_entry_detail(book=book, sku_code=sku_code) if sku_code else None
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = forms.entry_from_post(request.POST)
        rows = forms.tier_rows_from_post(request.POST)
        op = request.POST.get("op") or "save"
        if op == "add_tier":
            rows.append({"min_quantity": "", "unit_price": "", "flat_fee": ""})
        elif op == "save":
            try:
                services.price_entry_upsert(actor=user, book_id=book.pk, sku_code=sku_code, data=data)
            except ValidationFailed as error:
                errors = forms.errors_by_field(error.errors)
            else:
                messages.success(request, _("SKU %(sku)s 的价格已保存。") % {"sku": sku_code})
                return redirect("pricing:book_detail", book_id=book.pk)
        form = {**data, "percent_of": ", ".join(data["percent_of"])}
    elif entry is not None:
        form = {"method": entry.method, "unit_price": entry.unit_price, "block_size": entry.block_size or "",
                "markup_percent": entry.markup_percent if entry.markup_percent is not None else "",
                "percent": entry.percent if entry.percent is not None else "",
                "percent_of": ", ".join(entry.percent_of or []), "tier_mode": entry.tier_mode,
                "floor_price": entry.floor_price if entry.floor_price is not None else ""}
        rows = [{"min_quantity": str(tier.min_quantity.normalize()), "unit_price": str(tier.unit_price),
                 "flat_fee": str(tier.flat_fee)} for tier in entry.tiers.all()]
    else:
        form = {"method": PriceMethod.FIXED, "tier_mode": TierMode.NONE}
        rows = []
    return _render(request, "entry_form.html", {
        "book": book, "entry": entry, "sku": sku_code, "form": form, "tier_rows": _tier_rows(rows, errors),
        "errors": errors, "methods": PriceMethod.choices, "tier_modes": TierMode.choices,
        "max_tiers": forms.MAX_TIER_ROWS}, bool(errors))


@login_required
@domain_errors
@require_POST
def entry_delete(request: HttpRequest, book_id: int) -> HttpResponse:
    try:
        services.price_entry_delete(actor=request.user, book_id=book_id, sku_code=request.POST.get("sku") or "")
        messages.success(request, _("已删除。"))
    except ValidationFailed as error:
        messages.error(request, error_text(error))
    return redirect("pricing:book_detail", book_id=book_id)


@login_required
@domain_errors
@require_POST
def adjustment_save(request: HttpRequest, book_id: int, adjustment_id: int | None = None) -> HttpResponse:
    post = request.POST
    if adjustment_id is not None and post.get("op") == "delete":
        services.attribute_adjustment_delete(actor=request.user, book_id=book_id, adjustment_id=adjustment_id)
        messages.success(request, _("属性加价已删除。"))
        return redirect("pricing:book_detail", book_id=book_id)
    data = {"attribute": post.get("attribute") or "", "value": post.get("value") or "",
            "amount": post.get("amount") or None, "percent": post.get("percent") or None,
            "products": forms.split_list(post.get("products")), "categories": forms.split_list(post.get("categories")),
            "position": post.get("position") or 0}
    try:
        if adjustment_id is None:
            services.attribute_adjustment_create(actor=request.user, book_id=book_id, data=data)
        else:
            services.attribute_adjustment_update(actor=request.user, book_id=book_id, adjustment_id=adjustment_id,
                                                 data=data)
        messages.success(request, _("属性加价已保存。"))
    except ValidationFailed as error:
        messages.error(request, "；".join(f"{item.message}" for item in error.errors) or error.detail)
    return redirect("pricing:book_detail", book_id=book_id)


@login_required
@domain_errors
def sku_search(request: HttpRequest) -> HttpResponse:
    """HTMX: <option>s of SKUs whose code or name contains `q`, for the entry editor's datalist."""
    if not (access.can(request.user, "price_book", "view") or access.can(request.user, "promotion", "view")):
        raise DjangoPermissionDenied
    q = (request.GET.get("q") or request.GET.get("sku") or "").strip()[:80]
    skus = Sku.objects.filter(code__icontains=q) | Sku.objects.filter(name__icontains=q) if q else Sku.objects.all()
    return render(request, "pricing/_sku_options.html", {"skus": skus.order_by("code")[:SKU_SEARCH_LIMIT]})


@login_required
@domain_errors
def book_export(request: HttpRequest, book_id: int) -> StreamingHttpResponse:
    """The book's entries as CSV in the import's shape (tiers as columns)."""
    book = access.get_for_action(request.user, "price_book", book_id, "view")
    access.require(request.user, "price_book", "export")
    headers, rows = importers.book_entries_table(book)
    response = StreamingHttpResponse(csv_chunks(headers, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="price-book-{book.code}-{timezone.localdate():%Y%m%d}.csv"'
    return response


@login_required
@domain_errors
def book_import(request: HttpRequest, book_id: int) -> HttpResponse:
    """Upload a CSV/XLSX of entries for this book: every row is checked; any error → nothing saved."""
    book = access.get_for_action(request.user, "price_book", book_id, "edit")
    access.require(request.user, "price_book", "import")
    errors: list[Any] = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            errors = [{"row": None, "field": "file", "message": _("请选择文件。")}]
        else:
            try:
                count = importers.price_book_entries_import(actor=request.user, book_id=book.pk,
                                                            file_name=upload.name or "", content=upload.read())
            except ValidationFailed as error:
                errors = [{"row": item.row, "field": item.field, "message": item.message} for item in error.errors]
            else:
                messages.success(request, _("已导入 %(count)s 条价格。") % {"count": count})
                return redirect("pricing:book_detail", book_id=book.pk)
    return _render(request, "book_import.html", {"book": book, "import_errors": errors,
                                                 "columns": importers.header_labels()}, bool(errors))


# --- promotions --------------------------------------------------------------------------------------------
@login_required
@domain_errors
def promotion_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "promotion", "view")
    filters = {name: (request.GET.get(name) or "").strip()[:100] for name in ("q", "status", "kind")}
    filters = {name: value for name, value in filters.items() if value}
    page = paginate(request, selectors.promotion_list(user=user, filters=filters), "-priority",
                    selectors.PROMOTION_SORTS)
    rows = [{"promotion": promotion, "budget_used": _yuan(promotion.discount_used + promotion.discount_reserved),
             "budget": _yuan(promotion.max_discount) if promotion.max_discount else None,
             "uses": promotion.used_count + promotion.reserved_count} for promotion in page.items]
    return _render(request, "promotion_list.html", {
        "rows": rows, "page": page, "filters": filters, "statuses": PromotionStatus.choices,
        "kinds": PromotionKind.choices, "may_create": access.can(user, "promotion", "create"),
        "query": query_string(filters)})


def _yuan(fen: int | None) -> str:
    """Fen as a 元 amount with two decimals and thousands separators."""
    return f"{Decimal(fen or 0) / 100:,.2f}"


def _param_rows(kind: str, values: dict[str, str], errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [{"spec": spec, "value": values.get(spec.name, ""), "errors": errors.get(f"params.{spec.name}", [])}
            for spec in forms.PARAM_FIELDS.get(kind, [])]


def _promotion_from_post(post: Any) -> dict[str, Any]:
    kind = post.get("kind") or ""
    data: dict[str, Any] = {
        "code": (post.get("code") or "").strip(), "name": (post.get("name") or "").strip(), "kind": kind,
        "description": post.get("description") or "", "valid_from": post.get("valid_from") or None,
        "valid_to": post.get("valid_to") or None, "params": forms.params_from_post(kind, post),
        **forms.scope_from_post(post, "eligible_"),
        "eligible_skus": forms.split_list(post.get("eligible_skus")),
        "eligible_products": forms.split_list(post.get("eligible_products")),
        "eligible_categories": forms.split_list(post.get("eligible_categories")),
        "stacking_group": (post.get("stacking_group") or "").strip(), "exclusive": bool(post.get("exclusive")),
        "priority": post.get("priority") or 0, "requires_coupon": bool(post.get("requires_coupon")),
        "max_uses": post.get("max_uses") or None, "max_discount": None}
    budget = (post.get("max_discount_yuan") or "").strip()
    if budget:
        try:
            data["max_discount"] = int((Decimal(budget.replace(",", "")) * 100).to_integral_value())
        except InvalidOperation:
            data["max_discount"] = budget  # the service reports it
    return data


def _budget_text(fen: Any) -> str:
    return f"{Decimal(int(fen)) / 100:.2f}" if str(fen or "").lstrip("-").isdigit() else ""


def _local_input(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _promotion_form(promotion: Promotion | None, data: dict[str, Any] | None) -> dict[str, Any]:
    if data is not None:  # re-shown after an error
        groups = data.get("eligible_groups") or []
        return {**data, "valid_from": data.get("valid_from") or "", "valid_to": data.get("valid_to") or "",
                "eligible": {"accounts": ", ".join(str(i) for i in data.get("eligible_accounts") or []),
                             "levels": [g.removeprefix("level:") for g in groups if g.startswith("level:")],
                             "tags": ", ".join(g.removeprefix("tag:") for g in groups if g.startswith("tag:")),
                             "departments": [int(pk) for pk in data.get("eligible_departments") or []
                                             if str(pk).isdigit()],
                             "regions": ", ".join(data.get("eligible_regions") or [])},
                "eligible_skus": ", ".join(data.get("eligible_skus") or []),
                "eligible_products": ", ".join(data.get("eligible_products") or []),
                "eligible_categories": ", ".join(data.get("eligible_categories") or []),
                "max_discount_yuan": _budget_text(data.get("max_discount"))}
    if promotion is None:
        return {"kind": PromotionKind.PERCENT_OFF, "priority": 0, "eligible": {}}
    return {"code": promotion.code, "name": promotion.name, "kind": promotion.kind,
            "description": promotion.description, "valid_from": _local_input(promotion.valid_from),
            "valid_to": _local_input(promotion.valid_to), "eligible": forms.scope_display(promotion, "eligible_"),
            "eligible_skus": ", ".join(promotion.eligible_skus), "eligible_products": ", ".join(
                promotion.eligible_products), "eligible_categories": ", ".join(promotion.eligible_categories),
            "stacking_group": promotion.stacking_group, "exclusive": promotion.exclusive,
            "priority": promotion.priority, "requires_coupon": promotion.requires_coupon,
            "max_uses": promotion.max_uses or "",
            "max_discount_yuan": f"{Decimal(promotion.max_discount) / 100:.2f}" if promotion.max_discount else ""}


def _simulate_url() -> str | None:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("pricing:simulate")
    except NoReverseMatch:
        return None


@login_required
@domain_errors
def promotion_edit(request: HttpRequest, promotion_id: int | None = None) -> HttpResponse:
    """Create (no id) or edit a promotion; the coupons section and the simulation panel below."""
    user = request.user
    promotion = selectors.promotion_detail(user=user, promotion_id=promotion_id) if promotion_id else None
    if promotion is None:
        access.require(user, "promotion", "create")
    may_edit = promotion is None or "edit" in access.allowed_actions(user, "promotion", promotion)
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] | None = None
    if request.method == "POST":
        if not may_edit:
            raise DjangoPermissionDenied
        data = _promotion_from_post(request.POST)
        try:
            if promotion is None:
                saved = services.promotion_create(actor=user, data=data)
            else:
                saved = services.promotion_update(actor=user, promotion_id=promotion.pk, data=data,
                                                  expected_version=_version(request))
        except ValidationFailed as error:
            errors = forms.errors_by_field(error.errors) or {"general": [error.detail]}
        except DomainError as error:
            if error.status not in (409, 412):
                raise
            errors = {"general": [error_text(error)]}
        else:
            messages.success(request, _("促销“%(name)s”已保存。") % {"name": saved.name})
            return redirect("pricing:promotion_edit", promotion_id=saved.pk)
    form = _promotion_form(promotion, data)
    kind = form.get("kind") or PromotionKind.PERCENT_OFF
    values = (forms.params_display(kind, {key: value for key, value in data["params"].items()}) if data
              else forms.params_display(kind, promotion.params if promotion else {}))
    coupons = selectors.coupons_of(promotion=promotion).order_by("code")[:200] if promotion else []
    return _render(request, "promotion_form.html", {
        "promotion": promotion, "form": form, "errors": errors, "kinds": PromotionKind.choices,
        "param_rows": _param_rows(kind, values, errors), "may_edit": may_edit, "coupons": coupons,
        "coupon_count": selectors.coupons_of(promotion=promotion).count() if promotion else 0,
        "may_delete": promotion is not None and "delete" in access.allowed_actions(user, "promotion", promotion),
        "simulate_url": _simulate_url(), **_scope_context()}, bool(errors))


@login_required
@domain_errors
def promotion_params(request: HttpRequest) -> HttpResponse:
    """HTMX: the params fields of the kind chosen in the editor."""
    access.require(request.user, "promotion", "view")
    kind = request.GET.get("kind") or ""
    return render(request, "pricing/_promotion_params.html", {"param_rows": _param_rows(kind, {}, {})})


@login_required
@domain_errors
@require_POST
def promotion_action(request: HttpRequest, promotion_id: int, action: str) -> HttpResponse:
    user = request.user
    try:
        if action == "delete":
            services.promotion_delete(actor=user, promotion_id=promotion_id)
            messages.success(request, _("促销已删除。"))
            return redirect("pricing:promotion_list")
        service = {"activate": services.promotion_activate, "pause": services.promotion_pause,
                   "end": services.promotion_end}[action]
        service(actor=user, promotion_id=promotion_id)
        messages.success(request, _("促销状态已更新。"))
    except DomainError as error:
        if error.status not in (409, 412, 422):
            raise
        messages.error(request, error_text(error))
    return redirect("pricing:promotion_edit", promotion_id=promotion_id)


@login_required
@domain_errors
@require_POST
def coupon_action(request: HttpRequest, promotion_id: int, action: str) -> HttpResponse:
    """create (one code) / generate (many) / deactivate (coupon_id)."""
    user, post = request.user, request.POST
    max_uses = post.get("max_uses") or None if not post.get("unlimited") else None
    try:
        if action == "create":
            services.coupon_create(actor=user, promotion_id=promotion_id, code=post.get("code") or "",
                                   max_uses=max_uses, per_customer_limit=post.get("per_customer_limit") or None)
            messages.success(request, _("优惠券已创建。"))
        elif action == "generate":
            coupons = services.coupons_generate(actor=user, promotion_id=promotion_id, count=post.get("count") or 0,
                                                prefix=post.get("prefix") or "", max_uses=max_uses,
                                                per_customer_limit=post.get("per_customer_limit") or None)
            messages.success(request, _("已生成 %(count)s 张优惠券。") % {"count": len(coupons)})
        elif action == "deactivate":
            coupon_id = post.get("coupon_id") or ""
            if not coupon_id.isdigit() or not selectors.coupons_of(
                    promotion=selectors.promotion_detail(user=user, promotion_id=promotion_id)).filter(
                    pk=int(coupon_id)).exists():
                raise ValidationFailed(_("优惠券不存在。"))
            services.coupon_deactivate(actor=user, coupon_id=int(coupon_id))
            messages.success(request, _("优惠券已停用。"))
    except ValidationFailed as error:
        messages.error(request, "；".join(item.message for item in error.errors) or error.detail)
    return redirect("pricing:promotion_edit", promotion_id=promotion_id)


@login_required
@domain_errors
def coupon_export(request: HttpRequest, promotion_id: int) -> StreamingHttpResponse:
    """The promotion's coupon codes as CSV (code, max uses, per customer, used, reserved, active)."""
    promotion = selectors.promotion_detail(user=request.user, promotion_id=promotion_id)
    access.require(request.user, "promotion", "export")
    headers = [_("券码"), _("最多使用次数"), _("每客户限用"), _("已使用"), _("已预占"), _("有效")]
    rows = ([coupon.code, coupon.max_uses or "", coupon.per_customer_limit or "", coupon.used_count,
             coupon.reserved_count, _("是") if coupon.is_active else _("否")]
            for coupon in selectors.coupons_of(promotion=promotion).order_by("code").iterator(chunk_size=2000))
    response = StreamingHttpResponse(csv_chunks(headers, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="coupons-{promotion.code}.csv"'
    return response


# --- margin policy -------------------------------------------------------------------------------------------
@login_required
@domain_errors
def margin_policy(request: HttpRequest) -> HttpResponse:
    if not access.is_admin(request.user):
        raise DjangoPermissionDenied(_("只有管理员可以打开这个页面。"))
    policy = selectors.margin_policy_get()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        post = request.POST
        rows = []
        count = int(post.get("threshold_count") or 0) if str(post.get("threshold_count") or "").isdigit() else 0
        for index in range(min(count, 20)):
            if post.get(f"t-{index}-remove"):
                continue
            row = {name: (post.get(f"t-{index}-{name}") or "").strip() for name in
                   ("name", "min_margin_percent", "level")}
            if any(row.values()):
                rows.append(row)
        if post.get("op") == "add_threshold":
            rows.append({"name": "", "min_margin_percent": "", "level": ""})
        else:
            try:
                services.margin_policy_save(actor=request.user, expected_version=_version(request), data={
                    "below_cost": post.get("below_cost"), "below_cost_level": post.get("below_cost_level"),
                    "below_floor": post.get("below_floor"), "below_floor_level": post.get("below_floor_level"),
                    "thresholds": rows})
            except (ValidationFailed, DomainError) as error:
                if error.status not in (412, 422):
                    raise
                errors = forms.errors_by_field(error.errors) or {"general": [error_text(error)]}
            else:
                messages.success(request, _("毛利管控策略已保存。"))
                return redirect("pricing:margin_policy")
        form = {name: post.get(name) for name in ("below_cost", "below_cost_level", "below_floor",
                                                   "below_floor_level")}
    else:
        form = {"below_cost": policy.below_cost, "below_cost_level": policy.below_cost_level,
                "below_floor": policy.below_floor, "below_floor_level": policy.below_floor_level}
        rows = [{"name": t.name, "min_margin_percent": str(t.min_margin_percent), "level": str(t.level)}
                for t in policy.thresholds.order_by("-min_margin_percent")]
    return _render(request, "margin_policy.html", {
        "policy": policy, "form": form, "errors": errors, "actions": GuardAction.choices,
        "rows": [{**row, "errors": errors.get(f"thresholds.{index}", [])} for index, row in enumerate(rows)],
        "levels": range(1, 10)}, bool(errors))


urlpatterns: list[URLPattern | URLResolver] = [
    path("pricing/books/", book_list, name="book_list"),
    path("pricing/books/new/", book_create, name="book_create"),
    path("pricing/books/<int:book_id>/", book_detail, name="book_detail"),
    path("pricing/books/<int:book_id>/entry/", entry_edit, name="entry_edit"),
    path("pricing/books/<int:book_id>/entry/delete/", entry_delete, name="entry_delete"),
    path("pricing/books/<int:book_id>/adjustments/", adjustment_save, name="adjustment_create"),
    path("pricing/books/<int:book_id>/adjustments/<int:adjustment_id>/", adjustment_save, name="adjustment_save"),
    path("pricing/books/<int:book_id>/export.csv", book_export, name="book_export"),
    path("pricing/books/<int:book_id>/import/", book_import, name="book_import"),
    path("pricing/books/<int:book_id>/<str:action>/", book_action, name="book_action"),
    path("pricing/skus/search/", sku_search, name="sku_search"),
    path("pricing/promotions/", promotion_list, name="promotion_list"),
    path("pricing/promotions/new/", promotion_edit, name="promotion_create"),
    path("pricing/promotions/params/", promotion_params, name="promotion_params"),
    path("pricing/promotions/<int:promotion_id>/", promotion_edit, name="promotion_edit"),
    path("pricing/promotions/<int:promotion_id>/coupons.csv", coupon_export, name="coupon_export"),
    path("pricing/promotions/<int:promotion_id>/coupons/<str:action>/", coupon_action, name="coupon_action"),
    path("pricing/promotions/<int:promotion_id>/<str:action>/", promotion_action, name="promotion_action"),
    path("pricing/margin-policy/", margin_policy, name="margin_policy"),
]
