"""The writes of the deal page's panels: stage tasks (htmx checkboxes), the gate preview of the
"move to stage" control, the deal team, the decision chain and the health answers. Each calls its
service and comes back to its panel of the detail page (htmx callers get the fragment)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from l2c.apps.customers.view_helpers import domain_errors, error_text, int_or_none
from l2c.apps.identity import access
from l2c.kernel.errors import DomainError

from . import chain, health, page_helpers, selectors, services
from .models import Dimension, LostReason
from .views import deal_for_edit


def _detail(opportunity_id: int, anchor: str) -> HttpResponse:
    return redirect(f"{reverse('opportunities:opportunity_detail', args=[opportunity_id])}#{anchor}")


@login_required
@require_POST
@domain_errors
def task_toggle(request: HttpRequest, opportunity_id: int, task_id: int) -> HttpResponse:
    """Check or uncheck one stage task; htmx gets the stage path panel back."""
    done = request.POST.get("done") in ("1", "on", "true")
    error = None
    try:
        services.task_set(actor=request.user, opportunity_id=opportunity_id, task_id=task_id, done=done)
    except DomainError as failure:
        error = error_text(failure)
    deal = selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id)
    if request.headers.get("HX-Request") == "true":
        may_edit = "edit" in access.allowed_actions(request.user, "opportunity", deal)
        return render(request, "opportunities/_stage_path.html", {
            "deal": deal, "path": page_helpers.stage_path(deal), "may_edit": may_edit, "path_error": error})
    if error:
        messages.error(request, error)
    return _detail(opportunity_id, "path")


@login_required
@require_GET
@domain_errors
def gate_preview(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    """What a move to `?stage=` still misses (nothing changes): the detail page's move control."""
    deal = selectors.opportunity_detail(user=request.user, opportunity_id=opportunity_id)
    stage_id = int_or_none(request.GET.get("stage_id") or request.GET.get("stage"))
    preview = services.gate_preview(request.user, deal, stage_id) if stage_id else None
    return render(request, "opportunities/_gate_preview.html", {
        "deal": deal, "preview": preview, "lost_reasons": LostReason.choices})


@login_required
@require_POST
@domain_errors
def team_change(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    deal = deal_for_edit(request.user, opportunity_id)
    user_id = int_or_none(request.POST.get("user_id"))
    try:
        if request.POST.get("op") == "remove":
            services.team_member_remove(actor=request.user, opportunity_id=deal.pk, user_id=user_id or 0)
            messages.success(request, _("已移除团队成员。"))
        else:
            services.team_member_set(actor=request.user, opportunity_id=deal.pk, user_id=user_id or 0,
                                     role=request.POST.get("role") or "sales",
                                     access_level=request.POST.get("access") or "read")
            messages.success(request, _("团队成员已保存。"))
    except DomainError as error:
        messages.error(request, error_text(error))
    return _detail(deal.pk, "team")


@login_required
@require_POST
@domain_errors
def chain_change(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    deal = deal_for_edit(request.user, opportunity_id)
    try:
        if request.POST.get("op") == "remove":
            chain.chain_member_remove(actor=request.user, opportunity_id=deal.pk,
                                      entry_id=int_or_none(request.POST.get("entry_id")) or 0)
            messages.success(request, _("已移出决策链。"))
        else:
            chain.chain_member_save(actor=request.user, opportunity_id=deal.pk, data={
                "contact_id": request.POST.get("contact_id"), "role": request.POST.get("role"),
                "attitude": request.POST.get("attitude"), "influence": request.POST.get("influence"),
                "reports_to_id": request.POST.get("reports_to_id") or None,
                "note": (request.POST.get("note") or "")[:400]})
            messages.success(request, _("决策链已保存。"))
    except DomainError as error:
        messages.error(request, error_text(error))
    return _detail(deal.pk, "chain")


@login_required
@require_POST
@domain_errors
def health_answer(request: HttpRequest, opportunity_id: int, dimension: str) -> HttpResponse:
    deal = deal_for_edit(request.user, opportunity_id)
    try:
        health.health_answer_save(actor=request.user, opportunity_id=deal.pk, dimension=dimension,
                                  level=request.POST.get("level"), evidence=(request.POST.get("evidence") or "")[:600])
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        label = Dimension(dimension).label if dimension in Dimension.values else dimension
        messages.success(request, _("已保存“%(dimension)s”的评估。") % {"dimension": label})
    return _detail(deal.pk, "health")
