"""The customer 360 profile page (客户画像) and the registration-data refresh button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from l2c.apps.identity import access
from l2c.kernel.errors import DomainError

from . import profile
from .registration import provider, registration_refresh
from .view_helpers import domain_errors, error_text


@login_required
@domain_errors
def account_profile(request: HttpRequest, account_id: int) -> HttpResponse:
    account, built = profile.account_profile(user=request.user, account_id=account_id)
    return render(request, "customers/account_profile.html", {
        "account": account,
        "dimensions": {dimension.key: data for dimension, data in built},
        "labels": {dimension.key: dimension.label for dimension, _data in built},
        "extra": [(dimension, data) for dimension, data in built if dimension.key not in profile.BUILT_IN],
        "upcoming": profile.upcoming_modules(),
        "may_refresh": provider() is not None and "edit" in access.allowed_actions(request.user, "account", account),
    })


@login_required
@require_POST
def registration_refresh_view(request: HttpRequest, account_id: int) -> HttpResponse:
    try:
        result = registration_refresh(actor=request.user, account_id=account_id)
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        if not result.found:
            messages.warning(request, _("工商信息数据源中没有找到这家公司。"))
        elif result.changes:
            messages.success(request, _("已更新工商信息：%(fields)s。") % {
                "fields": "、".join(str(result.account._meta.get_field(name).verbose_name) for name in result.changes)})
        else:
            messages.info(request, _("工商信息没有变化。"))
    return redirect("customers:account_profile", account_id)
