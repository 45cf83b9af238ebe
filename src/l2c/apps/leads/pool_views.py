"""Lead pool pages (线索池): my pools and held leads, browse (filter, claim, bulk claim, assign), claim
and release of one lead, and the pool settings of admins and marketing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from l2c.apps.customers.forms import assignable_users
from l2c.apps.customers.models import Industry
from l2c.apps.customers.view_helpers import back, domain_errors, error_text, int_or_none, page_urls, paginate
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.kernel.errors import DomainError, NotFound, ValidationFailed

from . import pools as pool_service
from .models import LeadPool, LeadSource, LeadStatus, ScoreBand

BROWSE_SORTS = {"-id": "-id"}
BROWSE_COLUMNS = ("id", "name", "company", "title", "province", "city", "industry", "source", "status", "score",
                  "score_band", "pool_entered_at")


@login_required
def lead_pool_list(request: HttpRequest) -> HttpResponse:
    """My lead pools (with counts and today's claims) and the leads I hold, the ones due soonest first."""
    user = request.user
    held = list(pool_service.held_leads(user)[:500])
    for lead in held:
        lead.days_left = pool_service.days_left(lead)  # type: ignore[attr-defined]
    return render(request, "leads/pool_list.html", {
        "summaries": pool_service.lead_pool_summaries(user) if access.can(user, "lead", "view") else [],
        "held": held, "may_manage": pool_service.may_manage_routing(user),
    })


@login_required
@domain_errors
def lead_pool_browse(request: HttpRequest, pool_id: int) -> HttpResponse:
    """Unowned leads lying in one pool: filter by band, source, province, industry; claim one or
    several; managers assign."""
    user = request.user
    pool = pool_service.lead_pool_for_member(user, pool_id)
    filters = {name: request.GET.get(name, "").strip()[:30] for name in pool_service.BROWSE_FILTERS}
    q = request.GET.get("q", "").strip()[:100]
    leads = pool_service.pool_leads(pool=pool, q=q, filters=filters).order_by()
    page = paginate(request, leads.values(*BROWSE_COLUMNS), "-id", BROWSE_SORTS)
    labels = {"source": dict(LeadSource.choices), "status": dict(LeadStatus.choices),
              "industry": dict(Industry.choices)}
    rows = [{**row, "label": row["name"] or row["company"] or f"#{row['id']}",
             **{f"{name}_display": labels[name].get(row[name], row[name]) for name in labels}}
            for row in page.items]
    may_assign = access.can(user, "lead", "transfer")
    return render(request, "leads/pool_browse.html", {
        "pool": pool, "rows": rows, "q": q, "filters": filters, "bands": ScoreBand.choices,
        "sources": LeadSource.choices, "industries": Industry.choices, "statuses": LeadStatus.choices,
        "page": page_urls(request, page), "may_assign": may_assign,
        "assign_users": assignable_users(user, "lead") if may_assign else [], "here": request.get_full_path(),
    })


@login_required
@require_POST
def lead_pool_claim(request: HttpRequest, pool_id: int) -> HttpResponse:
    """Bulk claim of the ticked leads of one pool; each claim stands alone."""
    ids = [value for value in (int_or_none(raw) for raw in request.POST.getlist("ids")) if value]
    try:
        pool = pool_service.lead_pool_for_member(request.user, pool_id)
        if not ids:
            raise ValidationFailed(_("请先勾选线索。"))
        inside = set(pool.leads.filter(pk__in=ids).values_list("pk", flat=True))
        outcomes = pool_service.leads_claim(actor=request.user, lead_ids=sorted(inside))
    except DomainError as error:
        messages.error(request, error_text(error))
        return back(request, "leads:pool_list")
    claimed = sum(1 for outcome in outcomes.values() if outcome == "ok")
    refused = len(set(ids)) - claimed
    if claimed:
        messages.success(request, ngettext("已领取 %(count)s 条线索。", "已领取 %(count)s 条线索。", claimed)
                         % {"count": claimed})
    if refused:
        reasons = sorted({outcome for outcome in outcomes.values() if outcome != "ok"} | (
            {"not_found"} if len(inside) < len(set(ids)) else set()))
        messages.warning(request, ngettext("%(count)s 条线索未能领取（%(reasons)s）。",
                                           "%(count)s 条线索未能领取（%(reasons)s）。", refused)
                         % {"count": refused, "reasons": ", ".join(_refusal_text(code) for code in reasons)})
    return back(request, "leads:pool_list")


def _refusal_text(code: str) -> str:
    return {"already_claimed": _("已被领取"), "claim_quota_reached": _("已达今日领取上限"),
            "held_cap_reached": _("已达持有上限"), "claim_cooldown": _("冷却期内不能重新领取"),
            "not_found": _("不在线索池中")}.get(code, code)


@login_required
@require_POST
def lead_claim(request: HttpRequest, lead_id: int) -> HttpResponse:
    try:
        lead = pool_service.lead_claim(actor=request.user, lead_id=lead_id)
    except DomainError as error:
        messages.error(request, error_text(error))
        return back(request, "leads:pool_list")
    messages.success(request, _("已领取线索“%(name)s”。") % {"name": lead})
    return redirect("leads:lead_detail", lead.pk)


@login_required
@require_POST
def lead_pool_assign(request: HttpRequest, pool_id: int) -> HttpResponse:
    ids = [value for value in (int_or_none(raw) for raw in request.POST.getlist("ids")) if value]
    to_user = User.objects.filter(pk=int_or_none(request.POST.get("to_user_id")) or 0, is_active=True).first()
    try:
        if not ids:
            raise ValidationFailed(_("请先勾选线索。"))
        if to_user is None:
            raise ValidationFailed(_("请选择分配给谁。"))
        count = pool_service.leads_pool_assign(actor=request.user, pool_id=pool_id, lead_ids=ids, to_user=to_user)
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, ngettext("已把 %(count)s 条线索分配给“%(user)s”。",
                                           "已把 %(count)s 条线索分配给“%(user)s”。", count)
                         % {"count": count, "user": to_user})
    return back(request, "leads:pool_list")


@login_required
@require_POST
def lead_release(request: HttpRequest, lead_id: int) -> HttpResponse:
    try:
        lead = pool_service.lead_release(
            actor=request.user, lead_id=lead_id, reason=request.POST.get("reason", "")[:1000],
            pool_id=int_or_none(request.POST.get("pool_id")),
            expected_version=int_or_none(request.POST.get("version")))
    except DomainError as error:
        messages.error(request, " ".join(problem.message for problem in error.errors) or error.detail)
        return redirect("leads:lead_detail", lead_id)
    messages.success(request, _("线索“%(name)s”已退回线索池。") % {"name": lead})
    if access.visible(request.user, "lead").filter(pk=lead.pk).exists():
        return redirect("leads:lead_detail", lead.pk)
    return redirect("leads:pool_list")


# --- administration -------------------------------------------------------------------------------------
class LeadPoolForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100)
    description = forms.CharField(label=gettext_lazy("说明"), max_length=500, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    is_active = forms.BooleanField(label=gettext_lazy("启用"), required=False, initial=True)
    member_department_ids = forms.MultipleChoiceField(label=gettext_lazy("成员部门"), required=False)
    include_subdepartments = forms.BooleanField(label=gettext_lazy("包含下级部门"), required=False, initial=True)
    member_user_ids = forms.MultipleChoiceField(label=gettext_lazy("成员用户"), required=False)
    reclaim_after_days = forms.IntegerField(
        label=gettext_lazy("未跟进回收天数"), required=False, min_value=1,
        help_text=gettext_lazy("持有的线索超过这么多天没有跟进就回收到本池；留空表示不回收。"))
    reminder_days = forms.IntegerField(label=gettext_lazy("回收前提醒（天）"), min_value=0, initial=1)
    max_held_per_rep = forms.IntegerField(label=gettext_lazy("每人持有上限"), required=False, min_value=1)
    daily_claim_quota = forms.IntegerField(label=gettext_lazy("每日领取上限"), required=False, min_value=1)
    reclaim_cooldown_days = forms.IntegerField(label=gettext_lazy("原负责人重新领取冷却期（天）"), min_value=0,
                                               initial=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member_department_ids"].choices = [(d.pk, d.name) for d in Department.objects.order_by("path")]
        self.fields["member_user_ids"].choices = [
            (u.pk, str(u)) for u in User.objects.filter(is_active=True).order_by("username")]


def _require_manager(request: HttpRequest) -> None:
    if not pool_service.may_manage_routing(request.user):
        raise DjangoPermissionDenied(_("只有管理员或市场人员可以管理线索池。"))


@login_required
def lead_pool_manage(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    pools = LeadPool.objects.prefetch_related("member_departments", "member_users").order_by("name")
    return render(request, "leads/pool_manage.html", {"pools": pools})


@login_required
@domain_errors
def lead_pool_edit(request: HttpRequest, pool_id: int | None = None) -> HttpResponse:
    _require_manager(request)
    pool = LeadPool.objects.filter(pk=pool_id).first() if pool_id else None
    if pool_id and pool is None:
        raise NotFound(_("没有 ID 为 %(id)s 的线索池。") % {"id": pool_id})
    if request.method == "POST":
        form = LeadPoolForm(request.POST)
        if form.is_valid():
            try:
                saved = pool_service.lead_pool_save(actor=request.user, data=dict(form.cleaned_data),
                                                    pool_id=pool.pk if pool else None)
            except DomainError as error:
                for problem in error.errors:
                    form.add_error(problem.field if problem.field in form.fields else None, problem.message)
                if not error.errors:
                    form.add_error(None, error.detail)
            else:
                messages.success(request, _("线索池“%(name)s”已保存。") % {"name": saved.name})
                return redirect("leads:pool_manage")
    elif pool is not None:
        initial = {name: getattr(pool, name) for name in LeadPoolForm.base_fields if hasattr(pool, name)}
        initial["member_department_ids"] = [str(pk) for pk in pool.member_departments.values_list("pk", flat=True)]
        initial["member_user_ids"] = [str(pk) for pk in pool.member_users.values_list("pk", flat=True)]
        form = LeadPoolForm(initial=initial)
    else:
        form = LeadPoolForm()
    return render(request, "leads/pool_form.html", {"form": form, "pool": pool})
