"""UI of lead scoring: the settings page (event kinds, attribute rules, model versions, weights
history, buttons that queue retrain / recalibrate / rescore jobs). Admins edit; users with the lead
import permission (marketing, managers) read it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.apps.customers.view_helpers import domain_errors, error_text
from l2c.engines.scoring import OPS
from l2c.kernel.errors import Conflict, PermissionDenied, ValidationFailed

from . import scoring
from .models import AttributeRule, ScoringEventKind, ScoringModel, ScoringWeights


class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100)
    field = forms.CharField(label=gettext_lazy("字段"), max_length=60,
                            help_text=gettext_lazy("线索字段代码，如 industry、size、source、title，"
                                                   "或 custom.<字段代码>"))
    comparison = forms.ChoiceField(label=gettext_lazy("比较"), choices=[])
    value = forms.CharField(label=gettext_lazy("值"), max_length=2000, required=False,
                            help_text=gettext_lazy("“属于/不属于”可填多个值，用逗号分隔"))
    points = forms.IntegerField(label=gettext_lazy("分值"), min_value=-100, max_value=100)
    position = forms.IntegerField(label=gettext_lazy("顺序"), min_value=0, max_value=100_000, initial=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["comparison"].choices = [(op, str(scoring.OP_LABELS[op])) for op in OPS]


class KindForm(forms.Form):
    kind = forms.SlugField(label=gettext_lazy("行为类型代码"), max_length=40)
    label = forms.CharField(label=gettext_lazy("名称"), max_length=100)
    points = forms.DecimalField(label=gettext_lazy("分值"), max_digits=6, decimal_places=2)
    half_life_days = forms.DecimalField(label=gettext_lazy("半衰期（天）"), max_digits=6, decimal_places=2,
                                        initial=30)


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    rules = list(AttributeRule.objects.order_by("position", "id"))
    counts = scoring.band_counts()
    return {
        "is_admin": scoring.may_manage(request.user),
        "kinds": list(ScoringEventKind.objects.order_by("kind")),
        "rules": [{"rule": rule, "text": scoring.rule_text(rule)} for rule in rules],
        "models": list(ScoringModel.objects.order_by("-version")[:20]),
        "weights_rows": list(ScoringWeights.objects.select_related("decided_by").order_by("-id")[:20]),
        "current_weights": scoring.weights_current().as_fractions(),
        "bands": [(band, counts.get(band, 0)) for band in "ABCD"],
        "last_runs": scoring.last_runs(),
        "rule_form": extra.pop("rule_form", None) or RuleForm(),
        "kind_form": extra.pop("kind_form", None) or KindForm(),
        "rule_fields": scoring.RULE_FIELDS,
        "errors": extra.pop("errors", []),
        **extra,
    }


@login_required
@domain_errors
def scoring_settings(request: HttpRequest) -> HttpResponse:
    """The scoring settings page; admins post the edits here (op = kind_add, kind_update, rule_add,
    rule_update, rule_delete, weights_propose)."""
    user = request.user
    if not scoring.may_view_settings(user):
        raise PermissionDenied(scoring.settings_denied_message())
    if request.method != "POST":
        return render(request, "leads/scoring_settings.html", _context(request))
    op = request.POST.get("op", "")
    errors: list[str] = []
    rule_form: RuleForm | None = None
    kind_form: KindForm | None = None
    try:
        if op == "kind_add":
            kind_form = KindForm(request.POST)
            if kind_form.is_valid():
                scoring.event_kind_create(actor=user, data=kind_form.cleaned_data)
                messages.success(request, _("行为类型已添加。"))
                return redirect("leads:scoring_settings")
        elif op == "kind_update":
            scoring.event_kind_update(actor=user, kind=request.POST.get("kind", "")[:40], data={
                "label": request.POST.get("label"), "points": request.POST.get("points"),
                "half_life_days": request.POST.get("half_life_days"),
                "is_active": request.POST.get("is_active") == "on"})
            messages.success(request, _("行为积分规则已保存。"))
            return redirect("leads:scoring_settings")
        elif op == "rule_add":
            rule_form = RuleForm(request.POST)
            if rule_form.is_valid():
                data = dict(rule_form.cleaned_data)
                data["op"] = data.pop("comparison")
                scoring.attribute_rule_create(actor=user, data=data)
                messages.success(request, _("属性评分规则已添加。"))
                return redirect("leads:scoring_settings")
        elif op == "rule_toggle":
            rule_id = _int(request.POST.get("rule_id"))
            rule = AttributeRule.objects.filter(pk=rule_id).first()
            if rule is not None:
                scoring.attribute_rule_update(actor=user, rule_id=rule.pk, data={"is_active": not rule.is_active})
                messages.success(request, _("属性评分规则已保存。"))
            return redirect("leads:scoring_settings")
        elif op == "rule_delete":
            scoring.attribute_rule_delete(actor=user, rule_id=_int(request.POST.get("rule_id")))
            messages.success(request, _("属性评分规则已删除。"))
            return redirect("leads:scoring_settings")
        elif op == "weights_propose":
            scoring.weights_propose(actor=user, data={name: request.POST.get(name, "") for name in
                                                      ("behaviour", "attribute", "predicted")})
            messages.success(request, _("已提交新的评分权重，批准后生效。"))
            return redirect("leads:scoring_settings")
        else:
            errors.append(_("未知的操作。"))
    except (ValidationFailed, Conflict) as error:
        errors.append(error_text(error))
    return render(request, "leads/scoring_settings.html",
                  _context(request, rule_form=rule_form, kind_form=kind_form, errors=errors), status=422)


def _int(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


@login_required
@require_POST
@domain_errors
def scoring_weights_decide(request: HttpRequest, weights_id: int) -> HttpResponse:
    try:
        if request.POST.get("decision") == "approve":
            scoring.weights_approve(actor=request.user, weights_id=weights_id)
            messages.success(request, _("评分权重已应用；所有线索将在后台重新评分。"))
        else:
            scoring.weights_reject(actor=request.user, weights_id=weights_id)
            messages.success(request, _("评分权重已驳回。"))
    except Conflict as error:
        messages.error(request, error.detail)
    return redirect("leads:scoring_settings")


@login_required
@require_POST
@domain_errors
def scoring_job(request: HttpRequest, job: str) -> HttpResponse:
    """Queue retrain / recalibrate / rescore (admins) and show the job run."""
    starters = {"retrain": scoring.retrain_request, "recalibrate": scoring.recalibrate_request,
                "rescore": scoring.rescore_all_request}
    starter = starters.get(job)
    if starter is None:
        raise PermissionDenied(_("未知的操作。"))
    run = starter(actor=request.user)
    messages.success(request, _("已加入后台任务队列（任务 #%(id)s）。") % {"id": run.pk})
    return redirect("activity:job_detail", job_id=run.pk)
