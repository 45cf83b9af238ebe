"""UI pages of leads (线索): list, detail, create/edit, status, conversion, transfer, delete, and a
lead from a tender notice.

Views parse the request, call selectors/services (which go through the access choke point) and
render. NotFound → 404, PermissionDenied → 403, validation and version conflicts → errors on the
page. A denied or invalid request changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.apps.customers.forms import STALE_MESSAGE, apply_errors, assignable_users, human_message
from l2c.apps.customers.models import CompanySize, Industry
from l2c.apps.customers.view_helpers import (
    PICKER_LIMIT,
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
from l2c.kernel.errors import Conflict, DomainError, DuplicateFound, PreconditionFailed, ValidationFailed

from . import conversion, selectors, services
from .forms import DisqualifyForm, LeadForm
from .models import LeadSource, LeadStatus, ScoreBand
from .tender_leads import lead_from_tender_notice
from .validation import LEAD_FIELDS

LIST_SORTS = [("-updated_at", gettext_lazy("最近更新")), ("-created_at", gettext_lazy("最近创建")),
              ("-score", gettext_lazy("评分从高到低"))]


def _campaigns(user: User) -> list[Any]:
    if not access.can(user, "campaign", "view"):
        return []
    return list(access.visible(user, "campaign").order_by("-id")[:PICKER_LIMIT])


def _invite_campaigns(user: User) -> list[Any]:
    """Open campaigns the user may invite people to (edit on the campaign or its invite right is
    checked again by the service)."""
    if not access.can(user, "campaign", "view"):
        return []
    return list(access.visible(user, "campaign").exclude(status__in=("completed", "closed")).order_by("-id")
                [:PICKER_LIMIT])


def _duplicates(found: DuplicateFound | None) -> dict[str, Any] | None:
    """The duplicates panel of the lead form: visible candidate leads with links, hidden count."""
    if found is None:
        return None
    detail = {"lead": "leads:lead_detail", "contact": "customers:contact_detail", "account": "customers:account_detail"}
    candidates = [{**candidate, "url": reverse(detail[candidate["object"]], args=[candidate["id"]])}
                  for candidate in found.duplicates]
    return {"detail": found.detail, "candidates": candidates, "hidden": found.hidden_duplicates,
            "blocking": found.blocking, "claimable": []}


# --- list -----------------------------------------------------------------------------------------
@login_required
@domain_errors
def lead_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "lead", "view")
    filters: dict[str, Any] = {}
    for name in ("q", "status", "score_band", "source", "province", "industry"):
        value = (request.GET.get(name) or "").strip()[:100]
        if value:
            filters[name] = value
    for name in ("owner_id", "pool_id", "campaign_id"):
        value = int_or_none(request.GET.get(name))
        if value is not None:
            filters[name] = value
    if request.GET.get("unassigned"):
        filters["unassigned"] = True
    sort = request.GET.get("sort") or "-updated_at"
    if sort not in selectors.LEAD_SORTS:
        sort = "-updated_at"
    try:
        queryset = selectors.lead_list(user=user, filters=filters)
    except ValidationFailed as error:
        messages.warning(request, error_text(error))
        queryset = selectors.lead_list(user=user)
    page = paginate(request, queryset.select_related("owner", "pool", "campaign"), sort, selectors.LEAD_SORTS)
    counts = selectors.lead_counts_by_status(user=user)
    may_transfer = access.can(user, "lead", "transfer")
    may_export = access.can(user, "lead", "export")
    export_url = reverse("activity:export")
    context = {
        "leads": page.items, "page": page_urls(request, page), "filters": filters, "sort": sort,
        "sorts": LIST_SORTS,
        "statuses": [(value, label, counts.get(value, 0)) for value, label in LeadStatus.choices],
        "bands": ScoreBand.values,
        "sources": LeadSource.choices, "industries": Industry.choices, "counts": counts,
        "total": sum(counts.values()), "may_create": access.can(user, "lead", "create"),
        "may_transfer": may_transfer, "owners": assignable_users(user, "lead") if may_transfer else [],
        "invite_campaigns": _invite_campaigns(user),
        "import_url": optional_url("activity:import_start", "lead") if access.can(user, "lead", "import") else None,
        "export_csv_url": f"{export_url}?{query_string({'object_type': 'lead', 'format': 'csv', **filters})}"
        if may_export else None,
        "export_xlsx_url": f"{export_url}?{query_string({'object_type': 'lead', 'format': 'xlsx', **filters})}"
        if may_export else None,
    }
    return render(request, "leads/lead_list.html", context)


@login_required
@require_POST
@domain_errors
def lead_bulk_transfer(request: HttpRequest) -> HttpResponse:
    from .pools import leads_owner_change

    ids = [value for value in (int_or_none(raw) for raw in request.POST.getlist("ids")) if value is not None]
    to_user = User.objects.filter(pk=int_or_none(request.POST.get("to_user")) or 0, is_active=True).first()
    if not ids:
        messages.error(request, _("请先勾选线索。"))
    elif to_user is None:
        messages.error(request, _("请选择新的负责人。"))
    else:
        try:
            count = leads_owner_change(actor=request.user, lead_ids=ids, to_user=to_user, via="transfer",
                                       reason=(request.POST.get("reason") or "")[:255])
        except DomainError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("已把 %(count)s 条线索转给 %(user)s。") % {"count": count, "user": to_user})
    return back(request, reverse("leads:lead_list"))


@login_required
@require_POST
@domain_errors
def lead_bulk_invite(request: HttpRequest) -> HttpResponse:
    """Invite the ticked leads to a campaign (marketing's service checks who may invite whom)."""
    from l2c.apps.marketing.services import members_invite

    ids = [value for value in (int_or_none(raw) for raw in request.POST.getlist("ids")) if value is not None]
    campaign_id = int_or_none(request.POST.get("campaign"))
    if not ids:
        messages.error(request, _("请先勾选线索。"))
    elif campaign_id is None:
        messages.error(request, _("请选择市场活动。"))
    else:
        try:
            result = members_invite(actor=request.user, campaign_id=campaign_id, lead_ids=ids)
        except DomainError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("已邀请 %(invited)s 条线索参加活动（%(already)s 条原已是成员）。")
                             % {"invited": result.invited, "already": result.already})
    return back(request, reverse("leads:lead_list"))


# --- detail ---------------------------------------------------------------------------------------
@login_required
@domain_errors
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    user = request.user
    lead = selectors.lead_detail(user=user, lead_id=lead_id)
    allowed = access.allowed_actions(user, "lead", lead)
    next_statuses = [(value, LeadStatus(value).label) for value in services.STATUS_MOVES[LeadStatus(lead.status)]
                     if value != LeadStatus.DISQUALIFIED]
    context = {
        "lead": lead, "allowed": allowed, "next_statuses": next_statuses,
        "may_disqualify": LeadStatus.DISQUALIFIED in services.STATUS_MOVES[LeadStatus(lead.status)],
        "may_convert": "edit" in allowed and lead.status == LeadStatus.QUALIFIED,
        "disqualify_form": DisqualifyForm(),
        "matches": conversion.lead_matches(actor=user, lead=lead) if lead.status != LeadStatus.CONVERTED else None,
        "custom": [{"label": field.label, "value": (lead.custom or {}).get(field.key)}
                   for field in LeadForm(user=user, instance=lead).custom_definitions],
        "industry": dict(Industry.choices).get(lead.industry, ""), "size": dict(CompanySize.choices).get(lead.size, ""),
        **activity_context(request, "lead", lead),
    }
    return render(request, "leads/lead_detail.html", context)


# --- create and edit ------------------------------------------------------------------------------
@login_required
@domain_errors
def lead_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "lead", "create")
    owners = assignable_users(user, "lead")
    form = LeadForm(request.POST or None, user=user, owners=owners, campaigns=_campaigns(user))
    found: DuplicateFound | None = None
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(actor=user, data=form.to_data())
        except ValidationFailed as error:
            apply_errors(form, error)
        except DuplicateFound as error:
            found = error
        else:
            messages.success(request, _("线索已创建。"))
            return redirect("leads:lead_detail", lead_id=lead.pk)
    return render(request, "leads/lead_form.html", {"form": form, "lead": None, "duplicates": _duplicates(found)})


@login_required
@domain_errors
def lead_edit(request: HttpRequest, lead_id: int) -> HttpResponse:
    user = request.user
    lead = selectors.lead_detail(user=user, lead_id=lead_id)
    if "edit" not in access.allowed_actions(user, "lead", lead):
        raise DjangoPermissionDenied(_("你可以查看但不能编辑这条线索。"))
    if lead.status == LeadStatus.CONVERTED:
        messages.error(request, _("线索已转化，不能再修改。"))
        return redirect("leads:lead_detail", lead_id=lead.pk)
    form = LeadForm(request.POST or None, user=user, instance=lead, campaigns=_campaigns(user))
    found: DuplicateFound | None = None
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_update(actor=user, lead_id=lead.pk, data=form.to_data(),
                                 expected_version=form.expected_version())
        except PreconditionFailed:
            form.add_error(None, STALE_MESSAGE)
        except ValidationFailed as error:
            apply_errors(form, error)
        except DuplicateFound as error:
            found = error
        else:
            messages.success(request, _("线索已保存。"))
            return redirect("leads:lead_detail", lead_id=lead.pk)
    return render(request, "leads/lead_form.html", {"form": form, "lead": lead, "duplicates": _duplicates(found)})


@login_required
@require_POST
def lead_validate(request: HttpRequest) -> HttpResponse:
    return inline_validation(request, "lead", LEAD_FIELDS)


# --- status, delete -------------------------------------------------------------------------------
@login_required
@require_POST
@domain_errors
def lead_status(request: HttpRequest, lead_id: int) -> HttpResponse:
    data = {"status": request.POST.get("status") or "", "disqualified_reason": request.POST.get("reason") or ""}
    try:
        lead = services.lead_update(actor=request.user, lead_id=lead_id, data=data,
                                    expected_version=int_or_none(request.POST.get("version")))
    except PreconditionFailed:
        messages.error(request, STALE_MESSAGE)
    except (ValidationFailed, Conflict) as error:
        messages.error(request, "；".join(human_message(e) for e in error.errors) or error.detail)
    else:
        messages.success(request, _("线索状态已改为“%(status)s”。") % {"status": lead.get_status_display()})
    return redirect("leads:lead_detail", lead_id=lead_id)


@login_required
@require_POST
@domain_errors
def lead_delete(request: HttpRequest, lead_id: int) -> HttpResponse:
    try:
        services.lead_delete(actor=request.user, lead_id=lead_id,
                             expected_version=int_or_none(request.POST.get("version")))
    except PreconditionFailed:
        messages.error(request, STALE_MESSAGE)
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("线索已删除。"))
        return redirect("leads:lead_list")
    return redirect("leads:lead_detail", lead_id=lead_id)


# --- conversion -----------------------------------------------------------------------------------
@login_required
@domain_errors
def lead_convert(request: HttpRequest, lead_id: int) -> HttpResponse:
    """GET: the proposed account and contact, with the existing accounts the company may be.
    POST: convert — into the chosen existing account or a new one."""
    user = request.user
    lead = selectors.lead_detail(user=user, lead_id=lead_id)
    if "edit" not in access.allowed_actions(user, "lead", lead):
        raise DjangoPermissionDenied(_("你可以查看但不能转化这条线索。"))
    account_defaults, contact_defaults = conversion.conversion_defaults(lead)
    candidates = conversion.account_candidates(actor=user, lead=lead)
    errors: list[str] = []
    duplicates = None
    values = {"account_name": account_defaults["name"], "contact_name": contact_defaults["name"],
              "contact_title": contact_defaults["title"], "target": "", "create_deal": "",
              "deal_name": f"{lead.company or lead.name} {_('商机')}".strip(), "deal_amount": "",
              "deal_close_date": "",
              # Only an exact match (score 100: same credit code or name) is proposed; a merely similar
              # company must be picked on purpose.
              "account_choice": next((str(candidate["id"]) for candidate in candidates["visible"]
                                      if candidate["score"] == 100), "new")}
    if request.method == "POST":
        values.update({key: (request.POST.get(key) or "").strip() for key in
                       ("account_name", "contact_name", "contact_title", "account_choice", "create_deal",
                        "deal_name", "deal_amount", "deal_close_date")})
        deal = ({"name": values["deal_name"], "amount": values["deal_amount"] or "0",
                 "close_date": values["deal_close_date"] or None} if values["create_deal"] else None)
        choice = values["account_choice"]
        account_id = int_or_none(choice) if choice != "new" else None
        if choice != "new" and account_id is None:
            errors.append(_("请选择已有客户，或新建客户。"))
        else:
            try:
                result = conversion.lead_convert(
                    actor=user, lead_id=lead.pk, account_id=account_id,
                    account={"name": values["account_name"]} if account_id is None else None,
                    contact={"name": values["contact_name"], "title": values["contact_title"]},
                    confirm_duplicates=bool(request.POST.get("confirm_duplicates")), opportunity=deal)
            except DuplicateFound as error:
                duplicates = {"detail": error.detail, "candidates": error.duplicates,
                              "hidden": error.hidden_duplicates, "blocking": error.blocking}
            except (ValidationFailed, Conflict) as error:
                errors.extend([human_message(e) for e in error.errors] or [error.detail])
            else:
                if result.opportunity_id is not None:
                    messages.success(request, _("线索已转化为客户、联系人和商机。"))
                    return redirect("opportunities:opportunity_detail", opportunity_id=result.opportunity_id)
                messages.success(request, _("线索已转化为客户和联系人。"))
                return redirect("customers:account_detail", account_id=result.account_id)
    context = {"lead": lead, "account": account_defaults, "contact": contact_defaults, "candidates": candidates,
               "values": values, "errors": errors, "duplicates": duplicates}
    return render(request, "leads/lead_convert.html", context)


# --- from a tender notice -------------------------------------------------------------------------
@login_required
@require_POST
@domain_errors
def lead_from_notice(request: HttpRequest, notice_id: int) -> HttpResponse:
    try:
        result = lead_from_tender_notice(actor=request.user, notice_id=notice_id)
    except (ValidationFailed, Conflict) as error:  # DuplicateFound is a Conflict
        messages.error(request, error_text(error))
        return back(request, reverse("tenders:notice_detail", args=[notice_id]))
    if result.created:
        messages.success(request, _("已从招投标公告创建线索。"))
    else:
        messages.info(request, _("这条公告已有线索，已为你打开。"))
    return redirect("leads:lead_detail", lead_id=result.lead.pk)

