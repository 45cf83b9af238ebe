"""The kanban (看板) of one sales process and the move endpoint it posts to.

Columns and their first cards come from the API's own readers (selectors.board_columns for the
counts and amounts, api.board_page for the keyset page of a column), so the page and the API
page the same way. A move is `services.opportunity_move` with the card's version: the drag script
(static opportunities/board.js), the card's "move to…" select (htmx) and the detail page's form
(a plain POST) all post to `opportunity_move`. htmx callers get the card back — moved, or in place
with what the gate misses and, where allowed, the override / lost forms; plain posts are
redirected with a message.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from l2c.apps.customers.forms import STALE_MESSAGE, assignable_users, human_message
from l2c.apps.customers.view_helpers import back, domain_errors, int_or_none, query_string
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import PermissionDenied, PreconditionFailed, ValidationFailed

from . import page_helpers, selectors, services
from .board import board_page
from .models import Competitor, LostReason, Opportunity, Stage, StageKind


def _board_filters(request: HttpRequest) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    owner_id = int_or_none(request.GET.get("owner_id"))
    if owner_id is not None:
        filters["owner_id"] = owner_id
    q = (request.GET.get("q") or "").strip()[:100]
    if q:
        filters["q"] = q
    return filters


def _more_url(stage_id: int, filters: dict[str, Any], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return f"{reverse('opportunities:opportunity_board_more', args=[stage_id])}?" \
           f"{query_string({**filters, 'cursor': cursor})}"


@login_required
@domain_errors
def opportunity_board(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "opportunity", "view")
    processes = page_helpers.active_processes()
    chosen = int_or_none(request.GET.get("process"))
    process = next((item for item in processes if item.pk == chosen), processes[0] if processes else None)
    filters = _board_filters(request)
    columns = []
    if process is not None:
        for column in selectors.board_columns(user=user, process_id=process.pk, filters=filters):
            stage = column["stage"]
            page = board_page(user, stage.pk, filters, cursor=None, limit=page_helpers.BOARD_PAGE_SIZE)
            columns.append({**column, "cards": [page_helpers.card(row, stage.pk) for row in page.items],
                            "more_url": _more_url(stage.pk, filters, page.next_cursor)})
    stages = [column["stage"] for column in columns]
    context = {"processes": processes, "process": process, "columns": columns, "stages": stages,
               "filters": filters, "owners": assignable_users(user, "opportunity"),
               "may_create": access.can(user, "opportunity", "create"), "here": request.get_full_path()}
    return render(request, "opportunities/opportunity_board.html", context)


@login_required
@require_GET
@domain_errors
def opportunity_board_more(request: HttpRequest, stage_id: int) -> HttpResponse:
    """The next cards of one column and the next "more" button (htmx swaps the old button)."""
    access.require(request.user, "opportunity", "view")
    stage = Stage.objects.filter(pk=stage_id).first()
    if stage is None:
        return HttpResponse(status=404)
    filters = _board_filters(request)
    try:
        page = board_page(request.user, stage.pk, filters, cursor=request.GET.get("cursor") or None,
                          limit=page_helpers.BOARD_PAGE_SIZE)
    except ValidationFailed:  # a bad cursor: nothing more to show
        return HttpResponse("")
    stages = list(Stage.objects.filter(process_id=stage.process_id).order_by("position"))
    return render(request, "opportunities/_board_more.html", {
        "cards": [page_helpers.card(row, stage.pk) for row in page.items], "stages": stages,
        "more_url": _more_url(stage.pk, filters, page.next_cursor), "here": request.GET.get("here") or ""})


def _lost_to(text: str) -> int | str | None:
    """The competitor typed in a lost form, for the service: the id of a catalogue entry of that
    name, else the name (the service adds it). An id is passed for a known name so that a name of
    digits only (e.g. "360") is never read as an id."""
    name = " ".join(text.split())[:100]
    if not name:
        return None
    known = Competitor.objects.filter(name=name).values_list("pk", flat=True).first()
    return known if known is not None else name


def _card_response(request: HttpRequest, deal: Opportunity, status: int = 200, **extra: Any) -> HttpResponse:
    stages = list(Stage.objects.filter(process_id=deal.process_id).order_by("position"))
    context = {"c": page_helpers.card(deal), "stages": stages, "lost_reasons": LostReason.choices,
               "here": request.POST.get("next") or "", **extra}
    return render(request, "opportunities/_card.html", context, status=status)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_required
@require_POST
@domain_errors
def opportunity_move(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    """Move a deal through the stage gate with the version the page showed."""
    user: User = request.user
    deal = selectors.opportunity_detail(user=user, opportunity_id=opportunity_id)  # NotFound → 404
    stage_id = int_or_none(request.POST.get("stage_id"))
    fallback = reverse("opportunities:opportunity_detail", args=[deal.pk])
    try:
        moved = services.opportunity_move(
            actor=user, opportunity_id=deal.pk, stage_id=stage_id or 0,
            expected_version=int_or_none(request.POST.get("version")),
            override_reason=(request.POST.get("override_reason") or "")[:500],
            lost_reason=request.POST.get("lost_reason") or "", lost_note=(request.POST.get("lost_note") or "")[:500],
            lost_to=_lost_to(request.POST.get("lost_to") or ""))
    except services.StageGateBlocked as blocked:
        target = Stage.objects.get(pk=stage_id)
        refusal = {"stage": target, "missing": blocked.missing, "can_override": blocked.can_override,
                   "lost": target.kind == StageKind.LOST}
        if _is_htmx(request):
            return _card_response(request, deal, 409, refusal=refusal)
        messages.error(request, blocked.detail)
        return back(request, f"{fallback}?stage={target.pk}#move")
    except PreconditionFailed:
        if _is_htmx(request):
            return _card_response(request, deal, 412, error=STALE_MESSAGE)
        messages.error(request, STALE_MESSAGE)
        return back(request, fallback)
    except ValidationFailed as error:
        text = "；".join(human_message(item) for item in error.errors) or error.detail
        if _is_htmx(request):
            return _card_response(request, deal, 400, error=text)
        messages.error(request, text)
        return back(request, fallback)
    except PermissionDenied as error:
        if not _is_htmx(request):
            raise DjangoPermissionDenied(error.detail) from None
        return _card_response(request, deal, 403, error=error.detail)
    message = _("已推进到阶段“%(stage)s”。") % {"stage": moved.stage.name}
    if _is_htmx(request):
        return _card_response(request, moved, moved_message=message)
    messages.success(request, message)
    return back(request, fallback)
