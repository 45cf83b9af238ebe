"""UI pages of opportunities (商机): list, detail, create/edit, delete, bulk transfer. The kanban
(board_views), the detail page's panels (panel_views) and the admin pages (admin_views) live
beside this module.

Views parse the request, call selectors/services (which go through the access choke point) and
render. NotFound → 404, PermissionDenied → 403, validation and version conflicts → errors on the
page. A denied or invalid request changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.apps.activity.custom_fields import definitions
from l2c.apps.activity.services import records_transfer
from l2c.apps.customers.forms import STALE_MESSAGE, apply_errors, assignable_users
from l2c.apps.customers.view_helpers import (
    activity_context,
    back,
    domain_errors,
    error_text,
    inline_validation,
    int_or_none,
    optional_url,
    page_urls,
    paginate,
    query_string,
)
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, DomainError, FieldError, PreconditionFailed, ValidationFailed

from . import page_helpers, selectors, services
from .forms import OPPORTUNITY_FIELDS, OpportunityForm
from .models import LostReason, Opportunity, OpportunityStatus, Stage, StageKind, TeamAccess, TeamRole

LIST_SORTS = [("-updated_at", gettext_lazy("最近更新")), ("-created_at", gettext_lazy("最近创建")),
              ("-amount", gettext_lazy("金额从高到低")), ("amount", gettext_lazy("金额从低到高")),
              ("stage_entered_at", gettext_lazy("在阶段停留最久"))]
LIST_TEXT_FILTERS = ("q", "status", "flag", "close_from", "close_to")
LIST_INT_FILTERS = ("owner_id", "process_id", "stage_id", "account_id", "health_below")
FLAG_CHOICES = [(code, page_helpers.FLAG_TITLES[code]) for code in selectors.FLAGS]
ACCOUNT_PICKER_LIMIT = 200
# Service field names that the form calls differently.
FORM_FIELDS = {"process_id": "process", "stage_id": "stage"}


def _export_registered() -> bool:
    """Whether the tabular framework has an "opportunity" spec (opportunities.exports registered)."""
    from l2c.apps.activity.imports import specs

    return any(spec.object_type == "opportunity" for spec in specs())


def list_filters(request: HttpRequest) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for name in LIST_TEXT_FILTERS:
        value = (request.GET.get(name) or "").strip()[:100]
        if value:
            filters[name] = value
    for name in LIST_INT_FILTERS:
        raw = (request.GET.get(name) or "").strip()
        if name == "health_below" and raw.isdigit() and int(raw) <= 101:
            filters[name] = int(raw)
        elif name != "health_below" and (value := int_or_none(raw)) is not None:
            filters[name] = value
    return filters


# --- list -----------------------------------------------------------------------------------------
@login_required
@domain_errors
def opportunity_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "opportunity", "view")
    filters = list_filters(request)
    sort = request.GET.get("sort") or "-updated_at"
    if sort not in selectors.OPPORTUNITY_SORTS:
        sort = "-updated_at"
    try:
        queryset = selectors.opportunity_list(user=user, filters=filters)
    except ValidationFailed as error:
        messages.warning(request, error_text(error))
        filters = {}
        queryset = selectors.opportunity_list(user=user)
    page = paginate(request, queryset.select_related("account", "owner", "stage"), sort, selectors.OPPORTUNITY_SORTS)
    # Tab counts: the same filters except the status (one grouped query).
    others = {name: value for name, value in filters.items() if name != "status"}
    counts = dict(selectors.opportunity_list(user=user, filters=others).order_by().values_list("status")
                  .annotate(n=Count("pk")).values_list("status", "n"))
    processes = page_helpers.active_processes()
    stages = page_helpers.process_stages([process.pk for process in processes])
    may_transfer = access.can(user, "opportunity", "transfer")
    may_export = access.can(user, "opportunity", "export") and _export_registered()
    export_url = reverse("activity:export")
    tab_params = {name: value for name, value in filters.items() if name != "status"}
    context = {
        "deals": [{"deal": deal, "flags": page_helpers.flags_display(deal.health_flags),
                   "health_level": page_helpers.health_level(deal.health_index)} for deal in page.items],
        "page": page_urls(request, page), "filters": filters, "sort": sort, "sorts": LIST_SORTS,
        "statuses": [(value, label, counts.get(value, 0)) for value, label in OpportunityStatus.choices],
        "total": sum(counts.values()), "tab_query": query_string(tab_params),
        "processes": processes, "stage_groups": [(process, stages.get(process.pk, [])) for process in processes],
        "flag_choices": FLAG_CHOICES, "owners": assignable_users(user, "opportunity"),
        "may_create": access.can(user, "opportunity", "create"), "may_transfer": may_transfer,
        "import_url": optional_url("activity:import_start", "opportunity")
        if access.can(user, "opportunity", "import") and _export_registered() else None,
        "export_csv_url": f"{export_url}?{query_string({'object_type': 'opportunity', 'format': 'csv', **filters})}"
        if may_export else None,
        "export_xlsx_url": f"{export_url}?{query_string({'object_type': 'opportunity', 'format': 'xlsx', **filters})}"
        if may_export else None,
    }
    return render(request, "opportunities/opportunity_list.html", context)


@login_required
@require_POST
@domain_errors
def opportunity_bulk_transfer(request: HttpRequest) -> HttpResponse:
    ids = [value for value in (int_or_none(raw) for raw in request.POST.getlist("ids")) if value is not None]
    to_user = User.objects.filter(pk=int_or_none(request.POST.get("to_user")) or 0, is_active=True).first()
    if not ids:
        messages.error(request, _("请先勾选商机。"))
    elif to_user is None:
        messages.error(request, _("请选择新的负责人。"))
    else:
        try:
            count = records_transfer(actor=request.user, object_type="opportunity", object_ids=ids, to_user=to_user,
                                     reason=(request.POST.get("reason") or "")[:255])
        except DomainError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("已把 %(count)s 个商机转给 %(user)s。") % {"count": count, "user": to_user})
    return back(request, reverse("opportunities:opportunity_list"))


# --- detail ---------------------------------------------------------------------------------------
@login_required
@domain_errors
def opportunity_detail(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    user = request.user
    deal = selectors.opportunity_detail(user=user, opportunity_id=opportunity_id)
    allowed = access.allowed_actions(user, "opportunity", deal)
    may_edit = "edit" in allowed
    stages = list(Stage.objects.filter(process_id=deal.process_id).order_by("position"))
    preview_id = int_or_none(request.GET.get("stage"))
    context = {
        "deal": deal, "allowed": allowed, "may_edit": may_edit,
        "path": page_helpers.stage_path(deal), "move_stages": [stage for stage in stages if stage.pk != deal.stage_id],
        "preview": services.gate_preview(user, deal, preview_id) if preview_id else None,
        "lost_reasons": LostReason.choices, "competitors": list(deal.competitors.order_by("name")),
        "flags": page_helpers.flags_display(deal.health_flags),
        "custom": [{"label": field.label, "value": (deal.custom or {}).get(field.key)}
                   for field in definitions("opportunity")],
        "team": list(deal.team.select_related("user").order_by("pk")),
        "team_users": list(User.objects.filter(is_active=True).exclude(pk=deal.owner_id)
                           .order_by("display_name", "username")[:500]) if may_edit else [],
        "team_roles": TeamRole.choices, "team_access": TeamAccess.choices,
        "history": page_helpers.history_rows(deal),
        "probability": None if deal.win_probability is None else deal.win_probability / 10,
        **page_helpers.chain_context(user, deal, editing=int_or_none(request.GET.get("chain_entry"))),
        **page_helpers.health_context(deal),
        **activity_context(request, "opportunity", deal),
    }
    return render(request, "opportunities/opportunity_detail.html", context)


# --- create and edit ------------------------------------------------------------------------------
def _accounts(user: User, keep: Any = None) -> list[Any]:
    """Visible accounts for the picker (newest first), plus `keep` (the deal's or the preset one)."""
    accounts = list(access.visible(user, "account").order_by("-updated_at", "-id")[:ACCOUNT_PICKER_LIMIT])
    if keep is not None and keep not in accounts:
        accounts.insert(0, keep)
    return accounts


def _apply(form: OpportunityForm, error: DomainError) -> None:
    renamed = [FieldError(FORM_FIELDS.get(item.field, item.field), item.message, item.code) for item in error.errors]
    apply_errors(form, type(error)(error.detail, errors=renamed) if isinstance(error, ValidationFailed) else error)


@login_required
@domain_errors
def opportunity_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "opportunity", "create")
    preset_id = int_or_none(request.GET.get("account"))
    preset = access.visible(user, "account").filter(pk=preset_id).first() if preset_id else None
    processes = page_helpers.active_processes()
    stages = list(Stage.objects.filter(process__in=processes, kind=StageKind.OPEN).select_related("process")
                  .order_by("process__name", "position"))
    owners = assignable_users(user, "opportunity") if access.can(user, "opportunity", "transfer") else []
    form = OpportunityForm(request.POST or None, user=user, accounts=_accounts(user, preset), processes=processes,
                           stages=stages, owners=owners,
                           initial={"account": str(preset.pk) if preset else "", "currency": "CNY"})
    if request.method == "POST" and form.is_valid():
        try:
            deal = services.opportunity_create(actor=user, data=form.to_data())
        except ValidationFailed as error:
            _apply(form, error)
        else:
            messages.success(request, _("商机已创建。"))
            return redirect("opportunities:opportunity_detail", opportunity_id=deal.pk)
    return render(request, "opportunities/opportunity_form.html", {"form": form, "deal": None})


@login_required
@domain_errors
def opportunity_edit(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    user = request.user
    deal = selectors.opportunity_detail(user=user, opportunity_id=opportunity_id)
    if "edit" not in access.allowed_actions(user, "opportunity", deal):
        raise DjangoPermissionDenied(_("你可以查看但不能编辑这个商机。"))
    form = OpportunityForm(request.POST or None, user=user, instance=deal, accounts=_accounts(user, deal.account))
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_update(actor=user, opportunity_id=deal.pk, data=form.to_data(),
                                        expected_version=form.expected_version())
        except PreconditionFailed:
            form.add_error(None, STALE_MESSAGE)
        except ValidationFailed as error:
            _apply(form, error)
        else:
            messages.success(request, _("商机已保存。"))
            return redirect("opportunities:opportunity_detail", opportunity_id=deal.pk)
    return render(request, "opportunities/opportunity_form.html", {"form": form, "deal": deal})


@login_required
@require_POST
def opportunity_validate(request: HttpRequest) -> HttpResponse:
    return inline_validation(request, "opportunity", OPPORTUNITY_FIELDS)


@login_required
@domain_errors
def opportunity_delete(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    """GET: the confirmation page; POST: delete (with the version the page showed)."""
    user = request.user
    deal = selectors.opportunity_detail(user=user, opportunity_id=opportunity_id)
    if "delete" not in access.allowed_actions(user, "opportunity", deal):
        raise DjangoPermissionDenied(_("你不能删除这个商机。"))
    if request.method == "POST":
        try:
            services.opportunity_delete(actor=user, opportunity_id=deal.pk,
                                        expected_version=int_or_none(request.POST.get("version")))
        except PreconditionFailed:
            messages.error(request, STALE_MESSAGE)
        except Conflict as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, _("商机已删除。"))
            return redirect("opportunities:opportunity_list")
        return redirect("opportunities:opportunity_detail", opportunity_id=deal.pk)
    return render(request, "opportunities/opportunity_delete.html", {"deal": deal})


def deal_for_edit(user: User, opportunity_id: int) -> Opportunity:
    """The deal if the user may see it (else NotFound → 404) and edit it (else 403)."""
    deal = selectors.opportunity_detail(user=user, opportunity_id=opportunity_id)
    if "edit" not in access.allowed_actions(user, "opportunity", deal):
        raise DjangoPermissionDenied(_("你可以查看但不能编辑这个商机。"))
    return deal


# --- the account page's deals panel ----------------------------------------------------------------
ACCOUNT_PANEL_LIMIT = 20


@login_required
@domain_errors
def account_deals(request: HttpRequest, account_id: int) -> HttpResponse:
    """The "商机" panel of an account page (an htmx fragment the account page may load lazily, as it
    loads its RFM and merge panels): the visible deals of the account, newest first, and a link to
    create one for it. Empty for a user who may not see deals."""
    user = request.user
    account = access.get_for_action(user, "account", account_id, "view")  # NotFound → 404
    if not access.can(user, "opportunity", "view"):
        return HttpResponse("")
    deals = selectors.opportunity_list(user=user, filters={"account_id": account.pk})
    rows = list(deals.select_related("stage", "owner").order_by("-updated_at", "-id")[:ACCOUNT_PANEL_LIMIT])
    return render(request, "opportunities/_account_deals.html", {
        "account": account, "total": deals.count(),
        "deals": [{"deal": deal, "flags": page_helpers.flags_display(deal.health_flags),
                   "health_level": page_helpers.health_level(deal.health_index)} for deal in rows],
        "may_create": access.can(user, "opportunity", "create")})
