"""UI of tender intelligence (招投标): the notice list and detail page (with "转为线索"), the user's
subscriptions (form, delete, "search existing notices") and the inbox of matches with its unread
count. File import and export go through the generic pages at /imports/ (object type tender_notice)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from l2c.apps.customers.view_helpers import (
    domain_errors,
    int_or_none,
    optional_url,
    page_urls,
    paginate,
    query_string,
)
from l2c.apps.identity import access
from l2c.kernel.errors import ValidationFailed

from . import selectors, services
from .models import NoticeKind, TenderMatch, TenderSubscription


def _date(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


def _filters(request: HttpRequest) -> dict[str, Any]:
    """Allow-listed filters of the notice list; bad values (and NUL characters) are dropped."""
    filters: dict[str, Any] = {}
    query = (request.GET.get("q") or "").replace("\x00", "").strip()[:100]
    if query:
        filters["q"] = query
    if request.GET.get("kind") in NoticeKind.values:
        filters["kind"] = request.GET["kind"]
    province = (request.GET.get("province") or "").replace("\x00", "").strip()[:30]
    if province:
        filters["province"] = province
    for name in ("published_from", "published_to"):
        value = _date(request.GET.get(name))
        if value:
            filters[name] = value
    return filters


def _tabs(request: HttpRequest, active: str) -> dict[str, Any]:
    return {"tab": active, "unread_count": selectors.tender_unread_count(user=request.user)}


@login_required
@require_GET
@domain_errors
def notice_list(request: HttpRequest) -> HttpResponse:
    """Notices, newest first, with filters; import/export buttons for those allowed."""
    user = request.user
    filters = _filters(request)
    notices = selectors.tender_notice_list(user=user, filters=filters)
    page = paginate(request, notices, "-id", selectors.NOTICE_SORTS)
    export_url = optional_url("activity:export") if access.can(user, "tender_notice", "export") else None
    import_url = (optional_url("activity:import_start", "tender_notice")
                  if access.can(user, "tender_notice", "import") else None)
    shown = {key: value.isoformat() if isinstance(value, dt.date) else value for key, value in filters.items()}
    context = {
        **_tabs(request, "notices"), "notices": page.items, "page": page_urls(request, page), "filters": shown,
        "kinds": NoticeKind.choices, "import_url": import_url,
        "export_csv_url": f"{export_url}?" + query_string({"object_type": "tender_notice", "format": "csv",
                                                           **shown}) if export_url else None,
        "export_xlsx_url": f"{export_url}?" + query_string({"object_type": "tender_notice", "format": "xlsx",
                                                            **shown}) if export_url else None,
    }
    return render(request, "tenders/notice_list.html", context)


@login_required
@require_GET
@domain_errors
def notice_detail(request: HttpRequest, notice_id: int) -> HttpResponse:
    """One notice (content shown as escaped text); opening it marks the user's matches of it read."""
    notice = selectors.tender_notice_get(user=request.user, notice_id=notice_id)
    matches = list(TenderMatch.objects.filter(user=request.user, notice=notice).select_related("subscription"))
    services.tender_matches_mark_read(user=request.user, notice_id=notice.pk)
    context = {
        **_tabs(request, "notices"), "notice": notice, "matches": matches,
        # The leads app serves this endpoint (it creates a lead linked to the notice); the button is
        # shown only to users who may create leads (the "lead" object type is the leads app's).
        "lead_url": f"/leads/from-notice/{notice.pk}/" if access.can(request.user, "lead", "create") else None,
        # Likewise the opportunities app serves the deal endpoint (a page to pick the buyer's account).
        "deal_url": f"/opportunities/from-notice/{notice.pk}/"
        if access.can(request.user, "opportunity", "create") else None,
    }
    return render(request, "tenders/notice_detail.html", context)


# --- subscriptions --------------------------------------------------------------------------------
@login_required
@require_GET
@domain_errors
def subscription_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "tender_subscription", "view")
    subscriptions = list(selectors.tender_subscription_list(user=request.user).select_related("user"))
    return render(request, "tenders/subscription_list.html", {
        **_tabs(request, "subscriptions"), "subscriptions": subscriptions,
        "may_create": access.can(request.user, "tender_subscription", "create"),
        "kind_labels": dict(NoticeKind.choices),
    })


def _yuan(raw: str, name: str, errors: dict[str, list[str]]) -> int | None:
    try:
        return services.amount_from_yuan(raw)
    except ValueError:
        errors.setdefault(name, []).append(_("必须是不小于 0 的数字，最多两位小数（单位：元）。"))
        return None


def _yuan_text(amount: int | None) -> str:
    return "" if amount is None else f"{Decimal(amount) / 100:.2f}"


def _form_values(subscription: TenderSubscription | None) -> dict[str, Any]:
    if subscription is None:
        return {"name": "", "keywords": "", "excluded_words": "", "regions": "", "budget_min": "", "budget_max": "",
                "kinds": [], "match_all": False, "is_active": True, "webhook_url": ""}
    return {"name": subscription.name, "keywords": "\n".join(subscription.keywords),
            "excluded_words": "\n".join(subscription.excluded_words), "regions": "\n".join(subscription.regions),
            "budget_min": _yuan_text(subscription.budget_min), "budget_max": _yuan_text(subscription.budget_max),
            "kinds": list(subscription.kinds), "match_all": subscription.match_all,
            "is_active": subscription.is_active, "webhook_url": subscription.webhook_url}


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def subscription_form(request: HttpRequest, subscription_id: int | None = None) -> HttpResponse:
    """Create or edit one of the user's subscriptions. Keywords, excluded words and regions are
    separated by commas or new lines; budgets in 元."""
    user = request.user
    subscription = None
    if subscription_id is not None:
        subscription = access.get_for_action(user, "tender_subscription", subscription_id, "edit")
    else:
        access.require(user, "tender_subscription", "create")
    values = _form_values(subscription)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        post = request.POST
        values = {"name": post.get("name", ""), "keywords": post.get("keywords", ""),
                  "excluded_words": post.get("excluded_words", ""), "regions": post.get("regions", ""),
                  "budget_min": post.get("budget_min", ""), "budget_max": post.get("budget_max", ""),
                  "kinds": [kind for kind in post.getlist("kinds") if kind in NoticeKind.values],
                  "match_all": post.get("match_all") == "on", "is_active": post.get("is_active") == "on",
                  "webhook_url": post.get("webhook_url", "")}
        data = {**values, "budget_min": _yuan(values["budget_min"], "budget_min", errors),
                "budget_max": _yuan(values["budget_max"], "budget_max", errors)}
        if errors:  # show the other fields' problems too
            try:
                services.clean_subscription(data, current=subscription)
            except ValidationFailed as failure:
                for error in failure.errors:
                    errors.setdefault(error.field, []).append(error.message)
        else:
            try:
                if subscription is None:
                    saved = services.tender_subscription_create(actor=user, data=data)
                    messages.success(request, _("已创建订阅“%(name)s”：之后收到的公告会推送给你。")
                                     % {"name": saved.name})
                else:
                    saved = services.tender_subscription_update(actor=user, subscription_id=subscription.pk, data=data)
                    messages.success(request, _("已保存订阅“%(name)s”。") % {"name": saved.name})
                return redirect("tenders:subscription_list")
            except ValidationFailed as failure:
                for error in failure.errors:
                    errors.setdefault(error.field, []).append(error.message)
    return render(request, "tenders/subscription_form.html", {
        **_tabs(request, "subscriptions"), "subscription": subscription, "values": values, "errors": errors,
        "kinds": NoticeKind.choices,
    }, status=422 if errors else 200)


@login_required
@require_POST
@domain_errors
def subscription_delete(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = selectors.tender_subscription_get(user=request.user, subscription_id=subscription_id)
    services.tender_subscription_delete(actor=request.user, subscription_id=subscription.pk)
    messages.success(request, _("已删除订阅“%(name)s”。") % {"name": subscription.name})
    return redirect("tenders:subscription_list")


@login_required
@require_GET
@domain_errors
def subscription_search(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Stored notices of the last N days the subscription matches: shown here, never pushed."""
    days = int_or_none(request.GET.get("days")) or 30
    days = max(1, min(days, services.SEARCH_DAYS_MAX))
    subscription = selectors.tender_subscription_get(user=request.user, subscription_id=subscription_id)
    found, scanned = selectors.tender_subscription_search(user=request.user, subscription_id=subscription.pk,
                                                          days=days)
    return render(request, "tenders/subscription_search.html", {
        **_tabs(request, "subscriptions"), "subscription": subscription, "rows": found, "scanned": scanned,
        "days": days, "day_choices": (7, 30, 90), "limit": services.SEARCH_RESULTS_MAX,
    })


# --- inbox ----------------------------------------------------------------------------------------
@login_required
@require_GET
@domain_errors
def inbox(request: HttpRequest) -> HttpResponse:
    """The user's matches, newest first (unread ones marked); ?unread=1 shows only the unread."""
    access.require(request.user, "tender_notice", "view")
    unread_only = request.GET.get("unread") == "1"
    matches = selectors.tender_inbox(user=request.user, unread_only=unread_only).select_related(
        "subscription").prefetch_related(None)
    page = paginate(request, matches.select_related("notice").defer("notice__content"), "-id",
                    selectors.NOTICE_SORTS)
    return render(request, "tenders/inbox.html", {
        **_tabs(request, "inbox"), "matches": page.items, "page": page_urls(request, page),
        "unread_only": unread_only,
    })


@login_required
@require_POST
@domain_errors
def inbox_read(request: HttpRequest) -> HttpResponse:
    """Mark one match (`id`) or all of the user's matches read."""
    match_id = int_or_none(request.POST.get("id"))
    count = services.tender_matches_mark_read(user=request.user, ids=[match_id] if match_id else None)
    if not match_id:
        messages.success(request, _("已将 %(count)s 条推送标为已读。") % {"count": count})
    return redirect("tenders:inbox")
