"""Campaign pages (市场活动): the tree list, the form, the detail page (info, status, costs, members,
invitations, check-in search, registration settings with the public link and its QR code, the ROI
report with charts) and the staff check-in page of a member's link."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from l2c.apps.customers.rfm import amount_display
from l2c.apps.customers.view_helpers import domain_errors, error_text, int_or_none
from l2c.apps.identity import access
from l2c.engines.attribution import MODELS
from l2c.kernel.errors import DomainError, PermissionDenied

from . import selectors, services
from .models import AttributionModel, Campaign, CampaignCost, CampaignKind, CampaignStatus, MemberStatus
from .roi import Figures, campaign_tree_roi

MEMBER_ROWS = 50
SEARCH_ROWS = 20


# --- forms ----------------------------------------------------------------------------------------------
class CampaignForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("活动名称"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("活动类型"), choices=CampaignKind.choices)
    is_online = forms.BooleanField(label=gettext_lazy("线上活动"), required=False)
    parent_id = forms.ChoiceField(label=gettext_lazy("上级活动"), required=False)
    starts_on = forms.DateField(label=gettext_lazy("开始日期"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=gettext_lazy("结束日期"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))
    location = forms.CharField(label=gettext_lazy("地点"), max_length=200, required=False)
    budget = forms.DecimalField(label=gettext_lazy("预算（元）"), required=False, min_value=Decimal(0),
                                max_digits=15, decimal_places=2)
    description = forms.CharField(label=gettext_lazy("说明"), max_length=5000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any, exclude_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rows = selectors.campaign_tree(user=user)
        self.fields["parent_id"].choices = [("", _("（无，顶层活动）"))] + [
            (str(row.campaign.pk), "— " * row.depth + row.campaign.name) for row in rows
            if not (exclude_path and row.campaign.path.startswith(exclude_path))]


class CostForm(forms.Form):
    category = forms.CharField(label=gettext_lazy("费用类别"), max_length=50)
    description = forms.CharField(label=gettext_lazy("说明"), max_length=200, required=False)
    planned = forms.DecimalField(label=gettext_lazy("计划金额（元）"), min_value=Decimal(0), max_digits=15,
                                 decimal_places=2, initial=Decimal(0))
    actual = forms.DecimalField(label=gettext_lazy("实际金额（元）"), required=False, min_value=Decimal(0),
                                max_digits=15, decimal_places=2)
    incurred_on = forms.DateField(label=gettext_lazy("发生日期"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))


def _may(user: Any, campaign: Campaign, action: str) -> bool:
    return access.restrict(Campaign.objects.filter(pk=campaign.pk), user, "campaign", action).exists()


def _form_errors(form: forms.Form, error: DomainError) -> None:
    for problem in error.errors:
        form.add_error(problem.field if problem.field in form.fields else None, problem.message)
    if not error.errors:
        form.add_error(None, error.detail)


# --- list and form ------------------------------------------------------------------------------------
@login_required
@domain_errors
def campaign_list(request: HttpRequest) -> HttpResponse:
    """The campaign tree (parents before children, indented), or a flat list when filtered."""
    user = request.user
    access.require(user, "campaign", "view")
    filters = {name: request.GET.get(name, "").strip()[:100] for name in ("q", "status", "kind")}
    if filters["status"] not in CampaignStatus.values:
        filters["status"] = ""
    if filters["kind"] not in CampaignKind.values:
        filters["kind"] = ""
    if any(filters.values()):
        campaigns = selectors.campaign_list(user=user, filters=filters).select_related("owner").order_by("-id")[:500]
        rows = [selectors.TreeRow(campaign, 0) for campaign in campaigns]
    else:
        rows = selectors.campaign_tree(user=user)
    return render(request, "marketing/campaign_list.html", {
        "rows": rows, "filters": filters, "statuses": CampaignStatus.choices, "kinds": CampaignKind.choices,
        "may_create": access.can(user, "campaign", "create"),
        "may_export": access.can(user, "campaign", "export"),
        "may_import": access.can(user, "campaign", "import"),
    })


@login_required
@domain_errors
def campaign_create(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "campaign", "create")
    initial = {"kind": CampaignKind.CONFERENCE, "parent_id": request.GET.get("parent", "")}
    form = CampaignForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(actor=request.user, data=_form_data(form))
        except DomainError as error:
            _form_errors(form, error)
        else:
            messages.success(request, _("市场活动“%(name)s”已创建。") % {"name": campaign.name})
            return redirect("marketing:campaign_detail", campaign.pk)
    return render(request, "marketing/campaign_form.html", {"form": form, "campaign": None},
                  status=400 if form.errors else 200)


def _form_data(form: forms.Form) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["budget"] = str(data.get("budget") or "0")
    data["parent_id"] = int_or_none(data.get("parent_id"))
    return data


@login_required
@domain_errors
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id, action="edit")
    initial = {name: getattr(campaign, name) for name in ("name", "kind", "is_online", "starts_on", "ends_on",
                                                         "location", "description")}
    initial.update(parent_id=str(campaign.parent_id or ""),
                   budget=Decimal(campaign.budget_amount).scaleb(-2))
    form = CampaignForm(request.POST or None, user=request.user, initial=initial, exclude_path=campaign.path)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(actor=request.user, campaign_id=campaign.pk, data=_form_data(form),
                                     expected_version=int_or_none(request.POST.get("version")))
        except DomainError as error:
            _form_errors(form, error)
        else:
            messages.success(request, _("市场活动已保存。"))
            return redirect("marketing:campaign_detail", campaign.pk)
    return render(request, "marketing/campaign_form.html", {"form": form, "campaign": campaign},
                  status=400 if form.errors else 200)


# --- detail ----------------------------------------------------------------------------------------------
def _money(amount: int | None, currency: str) -> str:
    return "—" if amount is None else amount_display(amount, currency)


def _percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{(value * 100).quantize(Decimal('0.1'))}%"


def _figures_view(figures: Figures, currency: str) -> dict[str, Any]:
    return {
        "cost": _money(figures.cost, currency), "planned_cost": _money(figures.planned_cost, currency),
        "actual_cost": _money(figures.actual_cost, currency),
        "won": {model: _money(figures.won.get(model, 0), currency) for model in MODELS},
        "roi": {model: _percent(figures.roi(model)) for model in MODELS},
        "cost_per_lead": _money(figures.cost_per_lead, currency), "raw": figures,
    }


def _chart_data(roi: Any, figures: Figures) -> dict[str, Any]:
    """What the ROI charts draw (yuan as numbers for the axes; exact amounts are in the tables)."""
    def yuan(fen: int) -> float:
        return float(Decimal(fen).scaleb(-2))

    labels = {model: str(AttributionModel(model).label) for model in MODELS}
    bars = [roi.root, *roi.children] if roi.children else [roi.root]
    return {
        "labels": {"cost": _("成本"), "won": _("成交（线性）"), "yuan": _("元"), "funnel": _("转化漏斗"),
                   "models": _("归因模型对比"), "cost_vs_won": _("成本与成交")},
        "cost_vs_won": {"names": [node.name for node in bars],
                        "cost": [yuan(node.rollup.cost) for node in bars],
                        "won": [yuan(node.rollup.won.get("linear", 0)) for node in bars]},
        "funnel": [{"name": _("活动成员"), "value": figures.member_total},
                   {"name": _("报名"), "value": figures.registered_total},
                   {"name": _("签到"), "value": figures.members.get(MemberStatus.CHECKED_IN, 0)},
                   {"name": _("线索"), "value": figures.counts.leads},
                   {"name": _("合格线索"), "value": figures.counts.qualified_leads},
                   {"name": _("成交"), "value": figures.won_deals}],
        "models": {"names": [labels[model] for model in MODELS],
                   "won": [yuan(figures.won.get(model, 0)) for model in MODELS]},
    }


@login_required
@domain_errors
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    user = request.user
    campaign = selectors.campaign_get(user=user, campaign_id=campaign_id)
    may_edit = _may(user, campaign, "edit")
    may_invite = access.can(user, "campaign_member", "create") and campaign.status != CampaignStatus.CLOSED
    roi = campaign_tree_roi(campaign)
    rolled = roi.root.rollup
    members = list(selectors.campaign_members(user=user, campaign=campaign).order_by("-id")[:MEMBER_ROWS])
    public_url = request.build_absolute_uri(reverse("leads:public_registration", args=[campaign.public_token]))
    fields = {item["field"]: item["required"] for item in services.registration_fields_of(campaign)}
    context = {
        "campaign": campaign, "may_edit": may_edit, "may_invite": may_invite,
        "budget_text": _money(campaign.budget_amount, campaign.currency),
        "may_export": access.can(user, "campaign_member", "export"),
        "may_import": access.can(user, "campaign_member", "import") and may_edit,
        "next_statuses": [(value, CampaignStatus(value).label) for value in
                          services.allowed_next_statuses(campaign.status)] if may_edit else [],
        "children": selectors.campaign_tree(user=user, root=campaign)[1:],
        "costs": list(CampaignCost.objects.filter(campaign=campaign).order_by("pk")),
        "cost_form": CostForm() if may_edit else None,
        "members": [{"member": member, "person": selectors.member_person(member)} for member in members],
        "member_counts": selectors.member_status_counts([campaign.pk]),
        "member_statuses": MemberStatus.choices,
        "registration_open": services.registration_is_open(campaign),
        "capacity_left": services.capacity_left(campaign),
        "public_url": public_url,
        "public_qr": segno.make(public_url, error="m").svg_data_uri(scale=4, border=2),
        "registration_choices": [{"field": name, "label": str(label), "asked": name in fields,
                                  "required": fields.get(name, False)}
                                 for name, label in _registration_labels().items()],
        "own": _figures_view(roi.root.own, campaign.currency), "rollup": _figures_view(rolled, campaign.currency),
        "has_children": bool(roi.children), "people": roi.people,
        "child_rows": [{"node": node, "view": _figures_view(node.rollup, campaign.currency)} for node in roi.children],
        "models": [(model, AttributionModel(model).label) for model in MODELS],
        "chart": _chart_data(roi, rolled),
        "lead_filter_fields": [("status", _("线索状态")), ("city", _("城市")), ("province", _("省份")),
                               ("source", _("来源")), ("q", _("关键字"))],
    }
    return render(request, "marketing/campaign_detail.html", context)


def _registration_labels() -> dict[str, Any]:
    return {"company": _("公司"), "title": _("职务"), "mobile": _("手机"), "phone": _("电话"), "email": _("邮箱"),
            "wechat": _("微信"), "province": _("省份"), "city": _("城市"), "industry": _("行业"), "size": _("规模"),
            "description": _("留言")}


def _back(campaign_id: int, anchor: str = "") -> HttpResponse:
    return redirect(reverse("marketing:campaign_detail", args=[campaign_id]) + (f"#{anchor}" if anchor else ""))


@login_required
@require_POST
@domain_errors
def campaign_status(request: HttpRequest, campaign_id: int) -> HttpResponse:
    try:
        campaign = services.campaign_status_set(actor=request.user, campaign_id=campaign_id,
                                                status=request.POST.get("status", ""),
                                                expected_version=int_or_none(request.POST.get("version")))
    except DomainError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error.detail)
    else:
        messages.success(request, _("活动状态已变更为“%(status)s”。") % {"status": campaign.get_status_display()})
    return _back(campaign_id)


@login_required
@require_POST
@domain_errors
def campaign_registration(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Registration settings: on/off, which fields are asked and required, the capacity."""
    asked = request.POST.getlist("asked")
    required = set(request.POST.getlist("required"))
    fields = [{"field": name, "required": name in required} for name in asked]
    data = {"registration_enabled": request.POST.get("registration_enabled") == "on",
            "registration_fields": fields, "registration_capacity": request.POST.get("registration_capacity", "")}
    try:
        services.campaign_update(actor=request.user, campaign_id=campaign_id, data=data,
                                 expected_version=int_or_none(request.POST.get("version")))
    except DomainError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("报名设置已保存。"))
    return _back(campaign_id, "registration")


@login_required
@require_POST
@domain_errors
def cost_add(request: HttpRequest, campaign_id: int) -> HttpResponse:
    form = CostForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{form.fields[name].label}: {' '.join(errors)}"
                                          for name, errors in form.errors.items() if name in form.fields))
        return _back(campaign_id, "costs")
    data = {key: (str(value) if isinstance(value, Decimal) else value) for key, value in form.cleaned_data.items()}
    if form.cleaned_data.get("actual") is None:
        data.pop("actual")
    try:
        services.cost_create(actor=request.user, campaign_id=campaign_id, data=data)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("活动费用已添加。"))
    return _back(campaign_id, "costs")


@login_required
@require_POST
@domain_errors
def cost_delete(request: HttpRequest, campaign_id: int, cost_id: int) -> HttpResponse:
    services.cost_delete(actor=request.user, campaign_id=campaign_id, cost_id=cost_id)
    messages.success(request, _("活动费用已删除。"))
    return _back(campaign_id, "costs")


# --- members -------------------------------------------------------------------------------------------
@login_required
@require_GET
@domain_errors
def people_search(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """HTMX: leads and contacts the user may see matching the search, to tick and invite."""
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    text = request.GET.get("q", "").strip()[:100]
    leads: list[Any] = []
    contacts: list[Any] = []
    if text:
        leads = list(access.visible(request.user, "lead").filter(
            Q(name__icontains=text) | Q(company__icontains=text) | Q(mobile__icontains=text)
            | Q(email__icontains=text)).order_by("-id")[:SEARCH_ROWS])
        contacts = list(access.visible(request.user, "contact").select_related("account").filter(
            Q(name__icontains=text) | Q(mobile__icontains=text) | Q(email__icontains=text)
            | Q(account__name__icontains=text)).order_by("-id")[:SEARCH_ROWS])
    return render(request, "marketing/_people_results.html", {"campaign": campaign, "leads": leads,
                                                                "contacts": contacts, "q": text})


@login_required
@require_POST
@domain_errors
def members_invite(request: HttpRequest, campaign_id: int) -> HttpResponse:
    lead_ids = [pk for pk in (int_or_none(raw) for raw in request.POST.getlist("lead_ids")) if pk]
    contact_ids = [pk for pk in (int_or_none(raw) for raw in request.POST.getlist("contact_ids")) if pk]
    try:
        if request.POST.get("matching"):
            filters = {name: request.POST.get(name, "").strip()[:100]
                       for name in ("status", "city", "province", "source", "q") if request.POST.get(name, "").strip()}
            result = services.members_invite_matching(actor=request.user, campaign_id=campaign_id, filters=filters)
        else:
            if not lead_ids and not contact_ids:
                messages.error(request, _("请先勾选要邀约的线索或联系人。"))
                return _back(campaign_id, "members")
            result = services.members_invite(actor=request.user, campaign_id=campaign_id, lead_ids=lead_ids,
                                             contact_ids=contact_ids)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error_text(error))
    else:
        messages.success(request, ngettext("已邀约 %(count)s 人", "已邀约 %(count)s 人", result.invited)
                         % {"count": result.invited}
                         + (_("（%(already)s 人已在活动中）") % {"already": result.already} if result.already else ""))
    return _back(campaign_id, "members")


@login_required
@require_GET
@domain_errors
def member_search(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """HTMX: the check-in desk's search over members by name, mobile, e-mail or company."""
    campaign = selectors.campaign_get(user=request.user, campaign_id=campaign_id)
    text = request.GET.get("q", "").strip()[:100]
    members = list(selectors.campaign_members(user=request.user, campaign=campaign, q=text)
                   .order_by("-id")[:SEARCH_ROWS]) if text else []
    return render(request, "marketing/_member_results.html", {
        "campaign": campaign, "q": text, "may_edit": _may(request.user, campaign, "edit"),
        "rows": [{"member": member, "person": selectors.member_person(member)} for member in members]})


@login_required
@require_POST
@domain_errors
def member_check_in_inline(request: HttpRequest, campaign_id: int, member_id: int) -> HttpResponse:
    """One-click check-in from the search (HTMX: the row comes back checked in)."""
    try:
        result = services.member_check_in(actor=request.user, member_id=member_id, campaign_id=campaign_id)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error.detail)
        return _back(campaign_id, "checkin")
    member = result.member
    if request.htmx:  # type: ignore[attr-defined]
        campaign = member.campaign
        return render(request, "marketing/_member_row.html", {
            "campaign": campaign, "row": {"member": member, "person": selectors.member_person(member)},
            "may_edit": True, "just_checked_in": not result.already})
    messages.success(request, _("已签到。"))
    return _back(campaign_id, "checkin")


@login_required
@require_POST
@domain_errors
def members_status(request: HttpRequest, campaign_id: int) -> HttpResponse:
    ids = [pk for pk in (int_or_none(raw) for raw in request.POST.getlist("member_ids")) if pk]
    try:
        if request.POST.get("all_no_show"):
            count = services.members_mark_no_show(actor=request.user, campaign_id=campaign_id)
        else:
            if not ids:
                messages.error(request, _("请先勾选成员。"))
                return _back(campaign_id, "members")
            count = services.members_status_set(actor=request.user, campaign_id=campaign_id, member_ids=ids,
                                                status=request.POST.get("status", ""))
    except DomainError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, error_text(error))
    else:
        messages.success(request, ngettext("%(count)s 名成员状态已更新。", "%(count)s 名成员状态已更新。", count)
                         % {"count": count})
    return _back(campaign_id, "members")


@login_required
@domain_errors
def member_checkin(request: HttpRequest, token: str) -> HttpResponse:
    """The check-in link of a member (the QR code): staff see who it is and check them in (POST)."""
    if not services.is_token(token):
        from django.http import Http404

        raise Http404(_("签到链接无效。"))
    member = selectors.member_by_checkin_token(user=request.user, token=token)
    campaign = member.campaign
    # The person (name, mobile) is shown only to staff who may check them in.
    if not _may(request.user, campaign, "edit"):
        raise PermissionDenied(_("你可以查看这个活动，但没有为成员签到的权限。"))
    may_edit = True
    checkin_open = campaign.status in services.CHECKIN_STATUSES
    status = 200
    if request.method == "POST":
        try:
            result = services.member_check_in(actor=request.user, token=token)
        except DomainError as error:
            if error.status in (403, 404):
                raise
            if checkin_open:  # else the page says why already
                messages.error(request, error.detail)
            status = 409
        else:
            member = result.member
            if result.already:
                messages.info(request, _("这位成员已经签到过了。"))
            else:
                messages.success(request, _("签到成功。"))
    return render(request, "marketing/member_checkin.html", {
        "member": member, "campaign": campaign, "person": selectors.member_person(member), "may_edit": may_edit,
        "checkin_open": checkin_open,
        "checkin_closed": "" if checkin_open else services.checkin_closed_message(campaign)}, status=status)
