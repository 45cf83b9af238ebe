"""The price preview page (价格试算, /pricing/preview/) and the promotion simulation panel
(/pricing/simulate/, embedded by the promotion editor: "what would this cart get").

Both post the same cart form; htmx gets the result fragment (the waterfall per line, totals,
promotions applied and rejected with reasons, approvals, violations, the books considered and why).
The pickers (SKU search, a line's attribute selects, price books, currencies) read the compiled rules
of the current version, so they cost one query; the account search goes through the customers
selectors (visible accounts only).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from l2c.apps.customers import selectors as customer_selectors
from l2c.apps.customers.view_helpers import domain_errors
from l2c.apps.identity import access
from l2c.kernel.errors import ValidationFailed

from . import compiler, context, explain

SEARCH_LIMIT = 20
ROW_PREFIX = "row"


def _require(request: HttpRequest, key: str) -> None:
    if not access.can(request.user, key, "view"):  # type: ignore[arg-type]
        raise DjangoPermissionDenied(_("你没有查看%(object)s的权限。") % {"object": access.noun(key)})


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- form ↔ preview body ---------------------------------------------------------------------------


def _rows(post: QueryDict) -> list[dict[str, Any]]:
    """The cart rows of the form in page order: row ids from `row`, fields `sku-<id>`, `quantity-<id>`,
    `discount-<id>`, `attr-<id>-<attribute code>`. Blank rows (no SKU, no quantity) are dropped."""
    rows = []
    for row in post.getlist(ROW_PREFIX):
        if not row.isdigit():
            continue
        sku = (post.get(f"sku-{row}") or "").strip()
        quantity = (post.get(f"quantity-{row}") or "").strip()
        if not sku and not quantity:
            continue
        prefix = f"attr-{row}-"
        attributes = {name[len(prefix):]: value for name, value in post.items()
                      if name.startswith(prefix) and value}
        rows.append({"row": row, "sku": sku, "quantity": quantity, "attributes": attributes,
                     "discount": (post.get(f"discount-{row}") or "").strip()})
    return rows


def _body(post: QueryDict, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "account_id": post.get("account_id") or None,
        "price_book_id": post.get("price_book_id") or None,
        "currency": post.get("currency") or "",
        "as_of": post.get("as_of") or None,
        "coupon_codes": post.get("coupon_codes") or "",
        "promotion": post.get("promotion") or None,
        "lines": [{"sku": row["sku"], "quantity": row["quantity"], "attributes": row["attributes"],
                   "manual_discount_percent": row["discount"] or None} for row in rows],
    }


def _form_state(request: HttpRequest, rules: compiler.CompiledRules, rows: list[dict[str, Any]] | None = None,
                promotion: str = "") -> dict[str, Any]:
    """What the cart form shows: the posted values (or a first empty row), and the pickers."""
    data = request.POST if request.method == "POST" else request.GET
    if rows is None:
        rows = _rows(data) if request.method == "POST" else []
    if not rows:
        rows = [{"row": "1", "sku": "", "quantity": "1", "attributes": {}, "discount": ""}]
    facts = {item.code: item for item in rules.facts.skus}
    for row in rows:
        sku = facts.get(row["sku"])
        row["name"] = sku.name if sku else ""
        row["choices"] = _choices(rules, row["sku"], row["attributes"])
    books = sorted(rules.facts.book_info.values(), key=lambda info: (info.currency, -info.priority, info.code))
    currencies = sorted({info.currency for info in books} | {"CNY"})
    account_id = data.get("account_id") or ""
    account_name = ""
    if account_id and str(account_id).isdigit():
        account_name = customer_selectors.account_list(user=request.user).filter(  # type: ignore[arg-type]
            pk=int(account_id)).values_list("name", flat=True).first() or ""
    return {
        "rows": rows, "next_row": max(int(row["row"]) for row in rows) + 1, "books": books,
        "currencies": currencies, "currency": data.get("currency") or "CNY",
        "as_of": data.get("as_of") or timezone.localdate().isoformat(), "account_id": account_id,
        "account_name": account_name, "price_book_id": data.get("price_book_id") or "",
        "coupon_codes": data.get("coupon_codes") or "", "promotion": promotion or data.get("promotion") or "",
    }


def _choices(rules: compiler.CompiledRules, sku_code: str, chosen: dict[str, str]) -> list[dict[str, Any]]:
    """The attribute selects of a line: the SKU's product axes, preselected with the chosen value or
    the SKU's own."""
    sku = rules.catalog.skus.get(sku_code) if sku_code else None
    if sku is None:
        return []
    selects = []
    for axis in rules.facts.product_attributes.get(sku.product_code, ()):
        own = sku.attributes.get(axis.code, "")
        # A value the SKU fixes is the only one it can be priced with (another is another SKU).
        values = tuple(item for item in axis.values if item[0] == own) if own else axis.values
        selected = own or chosen.get(axis.code) or ""
        selects.append({"code": axis.code, "name": axis.name, "values": values, "selected": selected})
    return selects


def _errors(error: ValidationFailed, rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """General messages and per-row field messages (`lines[2].quantity` → row of position 2)."""
    general: list[str] = []
    by_row: dict[str, dict[str, str]] = {}
    for item in error.errors:
        if item.field.startswith("lines[") and "]." in item.field:
            position, _sep, name = item.field[len("lines["):].partition("].")
            if position.isdigit() and int(position) < len(rows):
                by_row.setdefault(rows[int(position)]["row"], {})[name.split(".")[0]] = item.message
                general.append(_("第 %(line)s 行：%(message)s") % {"line": int(position) + 1, "message": item.message})
                continue
        general.append(item.message)
    return general, by_row


# --- pages -----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def preview(request: HttpRequest) -> HttpResponse:
    """GET: the page with the cart form. POST: price it (htmx: the result fragment only)."""
    _require(request, "price_book")
    rules = compiler.compiled_rules()
    state = _form_state(request, rules)
    result: dict[str, Any] | None = None
    general: list[str] = []
    status = 200
    if request.method == "POST":
        rows = _rows(request.POST)
        try:
            outcome = context.preview_price(user=request.user, data=_body(request.POST, rows))  # type: ignore[arg-type]
            result = explain.label_steps(explain.answer(outcome))
        except ValidationFailed as error:
            general, by_row = _errors(error, rows)
            for row in state["rows"]:
                row["errors"] = by_row.get(row["row"], {})
            status = 200 if _is_htmx(request) else 422
        if _is_htmx(request):
            return render(request, "pricing/preview_result.html", {"result": result, "errors": general},
                          status=status)
    return render(request, "pricing/preview.html", {**state, "result": result, "errors": general,
                                                    "action": "pricing:preview", "target": "preview-result"},
                  status=status)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def simulate(request: HttpRequest) -> HttpResponse:
    """The promotion editor's simulation panel. GET `?promotion=<code>`: the cart form (htmx: the
    panel alone; otherwise a page around it). POST: the preview with that promotion compiled in as
    active, and what it did or why it did not apply."""
    _require(request, "promotion")
    rules = compiler.compiled_rules()
    code = (request.POST.get("promotion") if request.method == "POST" else request.GET.get("promotion")) or ""
    state = _form_state(request, rules, promotion=code.strip())
    if request.method == "POST":
        rows = _rows(request.POST)
        result: dict[str, Any] | None = None
        general: list[str] = []
        try:
            outcome = context.preview_price(user=request.user, data=_body(request.POST, rows),  # type: ignore[arg-type]
                                            simulate=True)
            result = explain.label_steps(explain.answer(outcome))
            result["promotion"] = explain.focus(outcome, result)
        except ValidationFailed as error:
            general, _by_row = _errors(error, rows)
        return render(request, "pricing/simulate_result.html", {"result": result, "errors": general},
                      status=200 if _is_htmx(request) or result is not None else 422)
    template = "pricing/simulate_panel.html" if _is_htmx(request) else "pricing/simulate.html"
    return render(request, template, {**state, "action": "pricing:simulate", "target": "simulate-result"})


@login_required
@require_GET
def sku_options(request: HttpRequest) -> HttpResponse:
    """<option>s of the SKUs whose code or name contains `q` (the SKU search of a line)."""
    _require(request, "price_book")
    rules = compiler.compiled_rules()
    query = (request.GET.get("q") or "").strip().lower()
    found = []
    if query:
        for facts in rules.facts.skus:
            if query in facts.code.lower() or query in facts.name.lower():
                found.append(facts)
                if len(found) >= SEARCH_LIMIT:
                    break
    return render(request, "pricing/preview_sku_options.html", {"skus": found})


@login_required
@require_GET
def line_attributes(request: HttpRequest) -> HttpResponse:
    """The attribute selects of one cart row (`row`) for the SKU typed in it (`sku-<row>`)."""
    _require(request, "price_book")
    rules = compiler.compiled_rules()
    row = request.GET.get("row") or ""
    if not row.isdigit():
        row = "0"
    sku = (request.GET.get(f"sku-{row}") or request.GET.get("sku") or "").strip()
    name = next((facts.name for facts in rules.facts.skus if facts.code == sku), "")
    return render(request, "pricing/preview_attributes.html", {
        "row": {"row": row, "sku": sku, "name": name, "choices": _choices(rules, sku, {})}})


@login_required
@require_GET
def account_options(request: HttpRequest) -> HttpResponse:
    """<option>s of the visible accounts matching `account_q` (the page's customer picker)."""
    _require(request, "price_book")
    query = (request.GET.get("account_q") or request.GET.get("q") or "").strip()
    accounts: list[tuple[int, str]] = []
    if query:
        accounts = list(customer_selectors.account_list(
            user=request.user, filters={"q": query},  # type: ignore[arg-type]
        ).order_by("name").values_list("pk", "name")[:SEARCH_LIMIT])
    return render(request, "pricing/preview_account_options.html", {"accounts": accounts, "query": query})


urlpatterns: list[URLPattern | URLResolver] = [
    path("pricing/preview/", preview, name="preview"),
    path("pricing/preview/skus/", sku_options, name="preview_skus"),
    path("pricing/preview/attributes/", line_attributes, name="preview_attributes"),
    path("pricing/preview/accounts/", account_options, name="preview_accounts"),
    path("pricing/simulate/", simulate, name="simulate"),
]
