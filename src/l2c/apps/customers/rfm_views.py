"""UI of RFM: the account's RFM panel with its transactions (htmx), the settings and segment names
page (admins edit; managers may start a recompute), and the helpers of the account list."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.apps.identity import access
from l2c.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

from . import rfm
from .forms import apply_errors
from .models import Account
from .view_helpers import domain_errors, error_text, optional_url

TRANSACTIONS_SHOWN = 20


# --- account list helpers -------------------------------------------------------------------------
def rfm_segment_cell() -> Callable[[Account], str]:
    """The list cell of an account's segment (accounts fetched with select_related("rfm")); the
    names are read once, on first use."""
    names: dict[str, str] = {}

    def cell(account: Account) -> str:
        score = getattr(account, "rfm", None)
        if score is None:
            return ""
        if not names:
            names.update(rfm.segment_names())
        return names.get(score.segment, score.segment)

    return cell


def rfm_segment_choices() -> list[tuple[str, str]]:
    return [*rfm.segment_names().items(), (rfm.NO_SEGMENT, _("暂无 RFM 评分"))]


# --- forms ----------------------------------------------------------------------------------------
class TransactionForm(forms.Form):
    occurred_on = forms.DateField(label=gettext_lazy("交易日期"), widget=forms.DateInput(attrs={"type": "date"}))
    amount = forms.CharField(label=gettext_lazy("金额（元）"), max_length=30,
                             widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "12800.00"}))
    currency = forms.CharField(label=gettext_lazy("币种"), max_length=3, initial="CNY")
    reference = forms.CharField(label=gettext_lazy("单据号"), max_length=100, required=False)
    note = forms.CharField(label=gettext_lazy("备注"), max_length=255, required=False)


class SettingsForm(forms.Form):
    window_days = forms.IntegerField(
        label=gettext_lazy("统计窗口（天）"), required=False, min_value=1, max_value=rfm.MAX_WINDOW_DAYS,
        help_text=gettext_lazy("留空表示全部历史；例如 365 表示计算基准日及之前的 365 天。"))
    bins = forms.IntegerField(label=gettext_lazy("分档数"), min_value=2, max_value=10,
                              help_text=gettext_lazy("每个维度的评分档数，5 即五分位（1–5 分）。"))
    currency = forms.CharField(label=gettext_lazy("币种"), max_length=3,
                               help_text=gettext_lazy("只统计这个币种的交易，不做汇率换算。"))


# --- account panel --------------------------------------------------------------------------------
def _panel(request: HttpRequest, account_id: int, form: TransactionForm | None = None,
           status: int = 200) -> HttpResponse:
    """The panel alone for htmx; the panel on a page of its own otherwise (no JavaScript)."""
    user = request.user
    view = rfm.account_rfm(user=user, account_id=account_id)
    may_add = access.can(user, "transaction", "create") and access.restrict(
        Account.objects.filter(pk=account_id), user, "account", "edit").exists()
    transactions = rfm.transactions_for(user=user, account_id=account_id, limit=TRANSACTIONS_SHOWN + 1)
    deletable = set(access.restrict(rfm.CustomerTransaction.objects.filter(
        pk__in=[record.pk for record in transactions]), user, "transaction", "delete").values_list("pk", flat=True))
    context = {
        "account_id": account_id,
        "view": view,
        "score": view.rfm,
        "no_score_message": rfm.no_score_message(view.settings) if view.rfm is None else "",
        "definitions": rfm.DEFINITIONS,
        "transactions": [{"record": record, "amount": rfm.amount_display(record.amount_minor, record.currency),
                          "may_delete": record.pk in deletable} for record in transactions[:TRANSACTIONS_SHOWN]],
        "more_transactions": len(transactions) > TRANSACTIONS_SHOWN,
        "form": form or (TransactionForm(initial={"currency": view.settings.currency}) if may_add else None),
        "may_add": may_add,
        "import_url": optional_url("activity:import_start", "transaction")
        if access.can(user, "transaction", "import") else None,
        "settings_url": reverse("customers:rfm_settings") if rfm.may_recompute(user) else None,
    }
    if getattr(request, "htmx", False):
        return render(request, "customers/_rfm_panel.html", context, status=status)
    context["account_name"] = Account.objects.filter(pk=account_id).values_list("name", flat=True).first()
    return render(request, "customers/account_rfm.html", context, status=status)


@login_required
@domain_errors
def account_rfm_panel(request: HttpRequest, account_id: int) -> HttpResponse:
    """The RFM panel of the account page (loaded by htmx; a page of its own without it)."""
    return _panel(request, account_id)


@login_required
@require_POST
@domain_errors
def account_transaction_add(request: HttpRequest, account_id: int) -> HttpResponse:
    form = TransactionForm(request.POST)
    htmx = bool(getattr(request, "htmx", False))
    if form.is_valid():
        try:
            rfm.transaction_create(actor=request.user, account_id=account_id, data=form.cleaned_data)
        except (ValidationFailed, Conflict) as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("交易记录已添加；RFM 评分将在下次计算时更新。"))
            if htmx:
                return _panel(request, account_id)
            return redirect("customers:account_rfm", account_id=account_id)
    return _panel(request, account_id, form=form, status=200 if htmx else 422)


@login_required
@require_POST
@domain_errors
def account_transaction_delete(request: HttpRequest, account_id: int, transaction_id: int) -> HttpResponse:
    # Visibility first (404 for an account the user may not see), so the answer never tells which
    # account a transaction belongs to.
    access.get_for_action(request.user, "account", account_id, "view")
    if not rfm.CustomerTransaction.objects.filter(pk=transaction_id, account_id=account_id).exists():
        raise NotFound(_("这个客户没有 ID 为 %(id)s 的交易记录。") % {"id": transaction_id})
    rfm.transaction_delete(actor=request.user, transaction_id=transaction_id)
    messages.success(request, _("交易记录已删除。"))
    if getattr(request, "htmx", False):
        return _panel(request, account_id)
    return redirect("customers:account_rfm", account_id=account_id)


# --- settings page --------------------------------------------------------------------------------
@login_required
@domain_errors
def rfm_settings(request: HttpRequest) -> HttpResponse:
    """Admins change the settings and segment names; admins and managers see them, the segment
    counts and the last run, and may start a recompute."""
    user = request.user
    is_admin = access.is_admin(user)
    if not (is_admin or rfm.may_recompute(user)):
        raise PermissionDenied(_("只有管理员和销售经理可以查看 RFM 设置。"))
    settings = rfm.settings_get()
    form = SettingsForm(request.POST if request.method == "POST" and request.POST.get("op") == "settings" else None,
                        initial={"window_days": settings.window_days, "bins": settings.bins,
                                 "currency": settings.currency})
    name_errors: list[str] = []
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied(_("只有管理员可以修改 RFM 设置和分群名称。"))
        if request.POST.get("op") == "settings":
            if form.is_valid():
                try:
                    rfm.settings_update(actor=user, data=form.cleaned_data)
                except ValidationFailed as error:
                    apply_errors(form, error)
                else:
                    messages.success(request, _("RFM 设置已保存，将在下次计算时生效。"))
                    return redirect("customers:rfm_settings")
        elif request.POST.get("op") == "names":
            names = {code: request.POST.get(f"name_{code}", "") for code in rfm.SEGMENT_CODES}
            try:
                rfm.segment_names_set(actor=user, names=names)
            except ValidationFailed as error:
                name_errors = [error_text(error)]
            else:
                messages.success(request, _("分群名称已保存。"))
                return redirect("customers:rfm_settings")
    counts = rfm.segment_counts(user=user)
    segments = [{**row, "count": counts.get(row["code"], 0),
                 "filter_url": f"{reverse('customers:account_list')}?rfm_segment={row['code']}"}
                for row in rfm.segment_name_rows()]
    context = {
        "settings": settings,
        "form": form,
        "segments": segments,
        "name_errors": name_errors,
        "definitions": rfm.DEFINITIONS,
        "is_admin": is_admin,
        "may_recompute": rfm.may_recompute(user),
        "last_run": rfm.last_recompute(),
        "import_url": optional_url("activity:import_start", "transaction")
        if access.can(user, "transaction", "import") else None,
    }
    return render(request, "customers/rfm_settings.html", context)


@login_required
@require_POST
@domain_errors
def rfm_recompute(request: HttpRequest) -> HttpResponse:
    run = rfm.rfm_recompute_request(actor=request.user)
    messages.success(request, _("已加入后台任务队列：RFM 重新计算（任务 #%(id)s）。") % {"id": run.pk})
    return redirect("activity:job_detail", job_id=run.pk)
