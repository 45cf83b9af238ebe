"""The page that turns a tender notice into a deal (招投标 → 商机): pick the buyer's account among the
duplicate candidates (or let a new one be made from the buyer), then create."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _

from l2c.apps.customers.forms import human_message
from l2c.apps.customers.view_helpers import domain_errors, int_or_none
from l2c.apps.identity import access
from l2c.kernel.errors import Conflict, DuplicateFound, ValidationFailed

from .tender_deals import buyer_accounts, opportunity_from_tender_notice


@login_required
@domain_errors
def opportunity_from_notice(request: HttpRequest, notice_id: int) -> HttpResponse:
    notice = access.get_for_action(request.user, "tender_notice", notice_id, "view")
    access.require(request.user, "opportunity", "create")
    candidates = buyer_accounts(actor=request.user, notice_id=notice.pk)
    exact = [row for row in candidates if row["score"] == 100]
    choice = str(exact[0]["id"]) if len(exact) == 1 else "new"
    errors: list[str] = []
    duplicates = None
    if request.method == "POST":
        choice = (request.POST.get("account_choice") or "new").strip()
        account_id = int_or_none(choice) if choice != "new" else None
        if choice != "new" and account_id not in {row["id"] for row in candidates}:
            errors.append(_("请选择列表中的客户，或新建客户。"))
        else:
            try:
                result = opportunity_from_tender_notice(
                    actor=request.user, notice_id=notice.pk, account_id=account_id,
                    confirm_duplicates=bool(request.POST.get("confirm_duplicates")))
            except DuplicateFound as error:
                duplicates = {"detail": error.detail, "candidates": error.duplicates,
                              "hidden": error.hidden_duplicates, "blocking": error.blocking}
            except (ValidationFailed, Conflict) as error:
                errors.extend([human_message(item) for item in error.errors] or [error.detail])
            else:
                if result.created:
                    messages.success(request, _("已根据公告创建商机。"))
                else:
                    messages.info(request, _("这条公告已有你的商机。"))
                return redirect("opportunities:opportunity_detail", opportunity_id=result.opportunity.pk)
    return render(request, "opportunities/from_notice.html", {
        "notice": notice, "candidates": candidates, "choice": choice, "errors": errors, "duplicates": duplicates})


urlpatterns: list[URLPattern] = [
    path("opportunities/from-notice/<int:notice_id>/", opportunity_from_notice, name="opportunity_from_notice"),
]
