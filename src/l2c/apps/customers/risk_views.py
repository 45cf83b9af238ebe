"""UI of risk alerts (风险预警): the risk panel of an account (HTMX resolve/reopen), the list of risk
events across the visible accounts, and the risk rules page (administrators change them)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from l2c.apps.identity import access
from l2c.kernel.errors import DomainError

from . import risk
from .models import Account, RiskCategory, RiskEventStatus, RiskKind, RiskSeverity
from .view_helpers import domain_errors, error_text, int_or_none, optional_url, page_urls, paginate, query_string

PANEL_EVENTS = 100


def risk_panel_context(request: HttpRequest, account: Account) -> dict[str, Any]:
    """What customers/_risk_panel.html needs for one account (the panel and its HTMX refresh)."""
    user = request.user
    account, events = risk.account_risk_events(user=user, account_id=account.pk)
    may_change = access.can(user, "risk_event", "edit") and "edit" in access.allowed_actions(user, "account", account)
    rows = [{"event": event, "category": RiskCategory(risk.category_of(event.kind)).label} for event in events]
    return {"account": account, "rows": rows[:PANEL_EVENTS], "more": max(0, len(rows) - PANEL_EVENTS),
            "open_count": sum(1 for event in events if event.status == RiskEventStatus.OPEN),
            "may_change": may_change, "may_view": access.can(user, "risk_event", "view")}


def _panel(request: HttpRequest, account_id: int) -> HttpResponse:
    account = access.get_for_action(request.user, "account", account_id, "view")
    return render(request, "customers/_risk_panel.html", {"request": request, **risk_panel_context(request, account)})


@login_required
@require_GET
@domain_errors
def account_risk_panel(request: HttpRequest, account_id: int) -> HttpResponse:
    """The panel alone (HTMX refresh; the 360 page may load it lazily)."""
    return _panel(request, account_id)


def _status_change(request: HttpRequest, event_id: int, *, resolve: bool) -> HttpResponse:
    event = risk.risk_event_get(user=request.user, event_id=event_id)  # 404 when invisible
    note = (request.POST.get("note") or "").strip()[:300]
    try:
        if resolve:
            risk.risk_event_resolve(actor=request.user, event_id=event.pk, note=note)
            messages.success(request, _("已解除风险事件“%(title)s”。") % {"title": event.title})
        else:
            risk.risk_event_reopen(actor=request.user, event_id=event.pk, note=note)
            messages.success(request, _("已重新打开风险事件“%(title)s”。") % {"title": event.title})
    except DomainError as error:
        if not request.htmx and error.status in (403, 404):
            raise
        messages.error(request, error_text(error))
    if request.htmx:
        return _panel(request, event.account_id)
    return redirect(reverse("customers:account_detail", args=[event.account_id]) + "#risk")


@login_required
@require_POST
@domain_errors
def risk_event_resolve(request: HttpRequest, event_id: int) -> HttpResponse:
    return _status_change(request, event_id, resolve=True)


@login_required
@require_POST
@domain_errors
def risk_event_reopen(request: HttpRequest, event_id: int) -> HttpResponse:
    return _status_change(request, event_id, resolve=False)


def _filters(request: HttpRequest) -> dict[str, Any]:
    """Allow-listed filters of the risk event list; bad values are dropped. Default: open events."""
    filters: dict[str, Any] = {}
    status = request.GET.get("status", RiskEventStatus.OPEN)
    if status in RiskEventStatus.values:
        filters["status"] = status
    for name, allowed in (("severity", RiskSeverity.values), ("kind", RiskKind.values),
                          ("category", RiskCategory.values)):
        value = request.GET.get(name) or ""
        if value in allowed:
            filters[name] = value
    account_id = int_or_none(request.GET.get("account"))
    if account_id is not None:
        filters["account_id"] = account_id
    return filters


@login_required
@require_GET
@domain_errors
def risk_event_list(request: HttpRequest) -> HttpResponse:
    """Recent risk events of the visible accounts (open ones by default), newest first."""
    user = request.user
    access.require(user, "risk_event", "view")
    filters = _filters(request)
    events = risk.risk_event_list(user=user, filters=filters).select_related("account")
    page = paginate(request, events, "-id", risk.RISK_EVENT_SORTS)
    rows = [{"event": event, "category": RiskCategory(risk.category_of(event.kind)).label} for event in page.items]
    export_url = optional_url("activity:export") if access.can(user, "risk_event", "export") else None
    import_url = optional_url("activity:import_start", "risk_event") if access.can(user, "risk_event", "import") \
        else None
    context = {
        "rows": rows, "page": page_urls(request, page), "filters": filters,
        "statuses": RiskEventStatus.choices, "severities": RiskSeverity.choices, "kinds": RiskKind.choices,
        "categories": RiskCategory.choices, "import_url": import_url,
        "export_csv_url": f"{export_url}?" + query_string({"object_type": "risk_event", "format": "csv",
                                                           **filters}) if export_url else None,
        "export_xlsx_url": f"{export_url}?" + query_string({"object_type": "risk_event", "format": "xlsx",
                                                            **filters}) if export_url else None,
        "is_admin": access.is_admin(user),
    }
    return render(request, "customers/risk_event_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def risk_rules_page(request: HttpRequest) -> HttpResponse:
    """The rules: everybody who sees risk events reads them; administrators change them."""
    user = request.user
    access.require(user, "risk_event", "view")
    may_edit = access.is_admin(user)
    rules = risk.risk_rules()
    if request.method == "POST":
        if not may_edit:
            from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

            raise DjangoPermissionDenied(_("只有管理员可以修改风险规则。"))
        changes = []
        for rule in rules:
            severity = request.POST.get(f"severity_{rule.kind}")
            changes.append({"kind": rule.kind, "severity": severity or None,
                            "notify": request.POST.get(f"notify_{rule.kind}") == "on"})
        try:
            risk.risk_rules_update(actor=user, changes=changes)
        except DomainError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("风险规则已保存；新的严重程度只用于之后收到的风险事件。"))
            return redirect("customers:risk_rules")
        rules = risk.risk_rules()
    rows = [{"rule": rule, "kind_label": RiskKind(rule.kind).label,
             "category": RiskCategory(risk.category_of(rule.kind)).label} for rule in rules]
    return render(request, "customers/risk_rules.html",
                  {"rows": rows, "may_edit": may_edit, "severities": RiskSeverity.choices})
