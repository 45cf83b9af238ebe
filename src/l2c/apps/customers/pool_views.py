"""Public pool pages (公海): my pools and held accounts, browse and claim, assign, release, and the
admins' pool settings."""

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

from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.kernel.errors import DomainError, NotFound, ValidationFailed

from . import pool as pool_service
from .forms import assignable_users
from .models import (
    Account,
    AccountLevel,
    AccountSource,
    AccountStatus,
    BusinessStatus,
    CompanySize,
    Industry,
    Pool,
)
from .view_helpers import back, domain_errors, error_text, int_or_none, page_urls, paginate

BROWSE_SORTS = {"-id": "-id"}
FIELD_LABELS = {name: Account._meta.get_field(name).verbose_name for name in pool_service.POOL_SHOWABLE_FIELDS}


def _display(row: dict[str, Any], name: str) -> Any:
    value = row.get(name)
    choices = {"industry": Industry, "size": CompanySize, "level": AccountLevel, "source": AccountSource,
               "status": AccountStatus, "business_status": BusinessStatus}.get(name)
    if choices is not None and value:
        return dict(choices.choices).get(value, value)
    return value if value not in (None, "") else "—"


@login_required
def pool_list(request: HttpRequest) -> HttpResponse:
    """My pools (with counts and today's claims) and the accounts I hold, the ones due soonest first."""
    held = list(pool_service.held_accounts(request.user)[:500])
    for account in held:
        account.days_left = pool_service.days_left(account)  # type: ignore[attr-defined]
    return render(request, "customers/pool_list.html", {
        "summaries": pool_service.pool_summaries(request.user),
        "held": held,
        "is_admin": access.is_admin(request.user),
    })


@login_required
@domain_errors
def pool_browse(request: HttpRequest, pool_id: int) -> HttpResponse:
    """Accounts lying in one pool, with the fields the pool shows before a claim."""
    user = request.user
    pool = pool_service.pool_for_member(user, pool_id)
    filters = {name: request.GET.get(name, "").strip()[:50] for name in ("industry", "province", "city", "level")}
    q = request.GET.get("q", "").strip()[:100]
    fields = pool_service.visible_fields(pool)
    accounts = pool_service.pool_accounts(user=user, pool=pool, q=q, filters=filters).order_by()
    page = paginate(request, accounts.values(*fields), "-id", BROWSE_SORTS)
    shown = [name for name in fields if name not in ("id", "name")]
    rows = [{"id": row["id"], "name": row.get("name") or f"#{row['id']}",
             "cells": [_display(row, name) for name in shown]} for row in page.items]
    may_assign = access.can(user, "account", "transfer")
    return render(request, "customers/pool_browse.html", {
        "pool": pool, "rows": rows, "columns": [FIELD_LABELS[name] for name in shown], "q": q,
        "filters": filters, "industries": Industry.choices, "levels": AccountLevel.choices,
        "page": page_urls(request, page), "may_assign": may_assign,
        "assign_users": assignable_users(user, "account") if may_assign else [],
        "here": request.get_full_path(),
    })


@login_required
@require_POST
def pool_claim(request: HttpRequest, pool_id: int, account_id: int) -> HttpResponse:
    try:
        pool_service.pool_for_member(request.user, pool_id)
        account = pool_service.pool_claim(actor=request.user, account_id=account_id)
    except DomainError as error:
        messages.error(request, error_text(error))
        return back(request, "customers:pool_list")
    messages.success(request, _("已领取客户“%(name)s”。") % {"name": account.name})
    return redirect("customers:account_detail", account.pk)


@login_required
@require_POST
def pool_assign(request: HttpRequest, pool_id: int) -> HttpResponse:
    ids = [value for value in (int_or_none(raw) for raw in request.POST.getlist("ids")) if value]
    to_user = User.objects.filter(pk=int_or_none(request.POST.get("to_user_id")) or 0, is_active=True).first()
    try:
        pool_service.pool_for_member(request.user, pool_id)
        if not ids:
            raise ValidationFailed(_("请先勾选客户。"))
        if to_user is None:
            raise ValidationFailed(_("请选择分配给谁。"))
        count = pool_service.pool_assign(actor=request.user, account_ids=ids, to_user=to_user)
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        text = ngettext("已把 %(count)s 个客户分配给“%(user)s”。", "已把 %(count)s 个客户分配给“%(user)s”。", count)
        messages.success(request, text % {"count": count, "user": to_user})
    return back(request, "customers:pool_list")


@login_required
@require_POST
def account_release(request: HttpRequest, account_id: int) -> HttpResponse:
    try:
        account = pool_service.pool_release(
            actor=request.user, account_id=account_id, reason=request.POST.get("reason", ""),
            pool_id=int_or_none(request.POST.get("pool_id")),
            expected_version=int_or_none(request.POST.get("version")),
        )
    except DomainError as error:
        messages.error(request, " ".join(problem.message for problem in error.errors) or error.detail)
        return redirect("customers:account_detail", account_id)
    messages.success(request, _("客户“%(name)s”已退回公海。") % {"name": account.name})
    if access.visible(request.user, "account").filter(pk=account.pk).exists():
        return redirect("customers:account_detail", account.pk)
    return redirect("customers:pool_list")


# --- administration -------------------------------------------------------------------------------
class PoolForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100)
    description = forms.CharField(label=gettext_lazy("说明"), max_length=500, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    is_active = forms.BooleanField(label=gettext_lazy("启用"), required=False, initial=True)
    member_department_ids = forms.MultipleChoiceField(label=gettext_lazy("成员部门"), required=False)
    include_subdepartments = forms.BooleanField(label=gettext_lazy("包含下级部门"), required=False, initial=True)
    member_user_ids = forms.MultipleChoiceField(label=gettext_lazy("成员用户"), required=False)
    reclaim_no_followup_days = forms.IntegerField(label=gettext_lazy("未跟进回收天数"), required=False, min_value=0,
                                                  help_text=gettext_lazy("超过这么多天没有跟进就回收；留空表示不按跟进回收。"))
    protection_days = forms.IntegerField(label=gettext_lazy("保护期（天）"), required=False, min_value=0,
                                         help_text=gettext_lazy("领取后这么多天内没有成交就回收；留空表示不限。"))
    protection_extension_days = forms.IntegerField(label=gettext_lazy("每次跟进延长（天）"), min_value=0, initial=0)
    protection_max_days = forms.IntegerField(label=gettext_lazy("保护期上限（天）"), required=False, min_value=0)
    max_held_per_rep = forms.IntegerField(label=gettext_lazy("每人持有上限"), required=False, min_value=0)
    daily_claim_quota = forms.IntegerField(label=gettext_lazy("每日领取上限"), required=False, min_value=0)
    reclaim_cooldown_days = forms.IntegerField(label=gettext_lazy("原负责人重新领取冷却期（天）"), min_value=0,
                                               initial=7)
    reminder_days = forms.IntegerField(label=gettext_lazy("回收前提醒（天）"), min_value=0, initial=3)
    visible_fields = forms.MultipleChoiceField(label=gettext_lazy("领取前可见字段"), required=False,
                                               widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member_department_ids"].choices = [(d.pk, d.name) for d in Department.objects.order_by("path")]
        self.fields["member_user_ids"].choices = [
            (u.pk, str(u)) for u in User.objects.filter(is_active=True).order_by("username")]
        self.fields["visible_fields"].choices = [(name, label) for name, label in FIELD_LABELS.items()]


def _require_admin(request: HttpRequest) -> None:
    if not access.is_admin(request.user):
        raise DjangoPermissionDenied(_("只有管理员可以管理公海。"))


@login_required
def pool_manage(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    pools = Pool.objects.prefetch_related("member_departments", "member_users").order_by("name")
    return render(request, "customers/pool_manage.html", {"pools": pools})


@login_required
@domain_errors
def pool_edit(request: HttpRequest, pool_id: int | None = None) -> HttpResponse:
    _require_admin(request)
    pool = Pool.objects.filter(pk=pool_id).first() if pool_id else None
    if pool_id and pool is None:
        raise NotFound(_("没有 ID 为 %(id)s 的公海。") % {"id": pool_id})
    if request.method == "POST":
        form = PoolForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["visible_fields"] = list(data["visible_fields"])
            try:
                saved = pool_service.pool_save(actor=request.user, data=data, pool_id=pool.pk if pool else None)
            except DomainError as error:
                for problem in error.errors:
                    form.add_error(problem.field if problem.field in form.fields else None, problem.message)
                if not error.errors:
                    form.add_error(None, error.detail)
            else:
                messages.success(request, _("公海“%(name)s”已保存。") % {"name": saved.name})
                return redirect("customers:pool_manage")
    elif pool is not None:
        initial = {name: getattr(pool, name) for name in PoolForm.base_fields if hasattr(pool, name)}
        initial["member_department_ids"] = [str(pk) for pk in pool.member_departments.values_list("pk", flat=True)]
        initial["member_user_ids"] = [str(pk) for pk in pool.member_users.values_list("pk", flat=True)]
        form = PoolForm(initial=initial)
    else:
        form = PoolForm(initial={"visible_fields": pool_service.POOL_DEFAULT_VISIBLE_FIELDS})
    return render(request, "customers/pool_form.html", {"form": form, "pool": pool})
