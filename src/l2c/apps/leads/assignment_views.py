"""Assignment rule pages (分配规则): the ordered list with move up/down and delete, the rule form with
its condition editor (field / operator / value rows), and "which rule would take this lead?"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.apps.customers.view_helpers import domain_errors, error_text, int_or_none
from l2c.apps.identity.models import User
from l2c.engines import routing
from l2c.kernel.errors import DomainError, NotFound

from . import assignment as service
from .models import AssignmentAction, AssignmentRule, LeadPool
from .pools import may_manage_routing

BLANK_CONDITION_ROWS = 3
MAX_CONDITION_ROWS = routing.MAX_CONDITIONS


def _require(request: HttpRequest) -> None:
    if not may_manage_routing(request.user):
        raise DjangoPermissionDenied(_("只有管理员或市场人员可以管理分配规则。"))


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def conditions_from_post(data: Any) -> list[dict[str, Any]]:
    """Condition rows of the editor → the JSON the service validates. A value is split on commas for
    in / not_in; numbers are read as numbers for number fields and order operators; text stays text
    (the service then says exactly what is wrong)."""
    rows = []
    for field, op, raw in list(zip(data.getlist("cond_field"), data.getlist("cond_op"), data.getlist("cond_value"),
                                   strict=False))[:MAX_CONDITION_ROWS + 1]:
        field, op, raw = field.strip()[:60], op.strip()[:20], raw.strip()[:2000]
        if not field and not raw:
            continue
        spec = routing.field_spec(field, service.CATALOGUE)
        numeric = spec is not None and spec.kind == "number"

        def convert(text: str, numeric: bool = numeric, op: str = op) -> Any:
            if numeric or op in routing.ORDER_OPERATORS:
                number = _number(text)
                return text if number is None else number
            return text

        value: Any
        if op in routing.EMPTINESS_OPERATORS:
            value = None
        elif op in routing.LIST_OPERATORS:
            value = [convert(part.strip()) for part in raw.replace("，", ",").split(",") if part.strip()]
        else:
            value = convert(raw)
        rows.append({"field": field, "op": op, "value": value})
    return rows


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(part) for part in value)
    return str(value)


class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100)
    is_active = forms.BooleanField(label=gettext_lazy("启用"), required=False, initial=True)
    action = forms.ChoiceField(label=gettext_lazy("分配方式"), choices=AssignmentAction.choices)
    user_ids = forms.MultipleChoiceField(label=gettext_lazy("候选人员"), required=False,
                                         help_text=gettext_lazy("轮流分配、分给待跟进最少者时使用。"))
    target_user_id = forms.ChoiceField(label=gettext_lazy("指定人员"), required=False)
    target_pool_id = forms.ChoiceField(label=gettext_lazy("线索池"), required=False, help_text=gettext_lazy(
        "放入线索池时为目标池；分给人员时可选：线索挂在该池下，按其规则未跟进回收。"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = [(str(u.pk), str(u)) for u in User.objects.filter(is_active=True).order_by("username")]
        self.fields["user_ids"].choices = users
        self.fields["target_user_id"].choices = [("", "—"), *users]
        self.fields["target_pool_id"].choices = [("", "—"), *[
            (str(p.pk), p.name) for p in LeadPool.objects.filter(is_active=True).order_by("name")]]


@login_required
def assignment_rules(request: HttpRequest) -> HttpResponse:
    """The ordered rules, and the preview of which rule would take a lead (by id or sample values)."""
    _require(request)
    rules = list(AssignmentRule.objects.select_related("target_user", "target_pool").prefetch_related("users")
                 .order_by("position", "id"))
    labels = {name: label for name, (label, _spec) in service.CONDITION_FIELDS.items()}
    for rule in rules:
        rule.condition_rows = [  # type: ignore[attr-defined]
            {"field": labels.get(c.get("field"), c.get("field")), "op": service.OPERATOR_LABELS.get(c.get("op"), ""),
             "value": _value_text(c.get("value"))} for c in rule.conditions if isinstance(c, dict)]
    preview = None
    preview_error = ""
    sample = {name: request.GET.get(name, "").strip()[:100] for name in ("score_band", "source", "province",
                                                                          "industry", "score")}
    lead_id = int_or_none(request.GET.get("lead_id"))
    if request.GET.get("preview"):
        values: dict[str, Any] = {name: value for name, value in sample.items() if value}
        if "score" in values:
            values["score"] = _number(values["score"]) if _number(values["score"]) is not None else values["score"]
        try:
            preview = service.assignment_preview(actor=request.user, lead_id=lead_id,
                                                 sample=None if lead_id else values)
        except DomainError as error:
            preview_error = error_text(error)
    names = {rule.pk: rule.name for rule in rules}
    return render(request, "leads/assignment_rules.html", {
        "rules": rules, "preview": preview, "preview_error": preview_error, "sample": sample,
        "lead_id": lead_id or "", "matched_name": names.get(preview["matched_rule_id"]) if preview else None,
    })


@login_required
@domain_errors
def assignment_rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    _require(request)
    rule = AssignmentRule.objects.filter(pk=rule_id).first() if rule_id else None
    if rule_id and rule is None:
        raise NotFound(_("没有 ID 为 %(id)s 的分配规则。") % {"id": rule_id})
    condition_rows: list[dict[str, Any]]
    if request.method == "POST":
        form = RuleForm(request.POST)
        conditions = conditions_from_post(request.POST)
        condition_rows = [{"field": c["field"], "op": c["op"], "value": _value_text(c["value"])} for c in conditions]
        condition_errors: dict[int, str] = {}
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["user_ids"] = [int(pk) for pk in data["user_ids"]]
            data["target_user_id"] = int_or_none(data["target_user_id"])
            data["target_pool_id"] = int_or_none(data["target_pool_id"])
            data["conditions"] = conditions
            try:
                saved = service.assignment_rule_save(actor=request.user, data=data, rule_id=rule.pk if rule else None,
                                                     expected_version=int_or_none(request.POST.get("version")))
            except DomainError as error:
                for problem in error.errors:
                    index_text = problem.field.split(".")[1] if problem.field.startswith("conditions.") else ""
                    if index_text.isdigit():
                        condition_errors[int(index_text)] = problem.message
                    else:
                        form.add_error(problem.field if problem.field in form.fields else None, problem.message)
                if not error.errors:
                    form.add_error(None, error.detail)
            else:
                messages.success(request, _("分配规则“%(name)s”已保存。") % {"name": saved.name})
                return redirect("leads:assignment_rules")
        for index, row in enumerate(condition_rows):
            row["error"] = condition_errors.get(index, "")
    elif rule is not None:
        form = RuleForm(initial={
            "name": rule.name, "is_active": rule.is_active, "action": rule.action,
            "user_ids": [str(pk) for pk in rule.users.values_list("pk", flat=True)],
            "target_user_id": str(rule.target_user_id or ""), "target_pool_id": str(rule.target_pool_id or "")})
        condition_rows = [{"field": c.get("field", ""), "op": c.get("op", ""), "value": _value_text(c.get("value"))}
                          for c in rule.conditions if isinstance(c, dict)]
    else:
        form = RuleForm()
        condition_rows = []
    condition_rows += [{"field": "", "op": "eq", "value": ""} for _ in range(BLANK_CONDITION_ROWS)]
    return render(request, "leads/assignment_form.html", {
        "form": form, "rule": rule, "condition_rows": condition_rows,
        "fields": [(name, label) for name, (label, _spec) in service.CONDITION_FIELDS.items()],
        "operators": list(service.OPERATOR_LABELS.items()),
    })


@login_required
@require_POST
def assignment_rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Move a rule one place up or down (POST direction=up|down)."""
    _require(request)
    ids = list(AssignmentRule.objects.order_by("position", "id").values_list("pk", flat=True))
    if rule_id in ids:
        index = ids.index(rule_id)
        other = index - 1 if request.POST.get("direction") == "up" else index + 1
        if 0 <= other < len(ids):
            ids[index], ids[other] = ids[other], ids[index]
            try:
                service.assignment_rules_reorder(actor=request.user, rule_ids=ids)
            except DomainError as error:
                messages.error(request, error_text(error))
    return redirect("leads:assignment_rules")


@login_required
@require_POST
def assignment_rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    _require(request)
    try:
        service.assignment_rule_delete(actor=request.user, rule_id=rule_id)
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("分配规则已删除。"))
    return redirect("leads:assignment_rules")
