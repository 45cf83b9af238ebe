"""Admin pages of opportunities: the sales process editor (销售流程) and the health settings
(商机健康度设置). Saving goes through processes.process_save and health.health_config_save; every
field error is shown next to its row.

The editor's row buttons (add / remove / move a stage, add a task) post the whole form with an
`op` and re-render it without saving, so it works without JavaScript."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from l2c.apps.customers.view_helpers import domain_errors
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines import health as health_engine
from l2c.kernel.errors import ValidationFailed

from . import health, page_helpers, processes
from .models import Dimension, ForecastCategory, SalesProcess, StageKind


def _require_admin(user: User) -> None:
    if not access.is_admin(user):
        raise DjangoPermissionDenied(_("只有管理员可以打开这个页面。"))


@login_required
@domain_errors
def process_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request.user)
    rows = SalesProcess.objects.annotate(stage_count=Count("stages", distinct=True),
                                         deal_count=Count("opportunities", distinct=True)).order_by("-is_default",
                                                                                                    "name")
    return render(request, "opportunities/process_list.html", {"processes": rows})


def _header_from_post(post: Any) -> dict[str, Any]:
    return {"name": (post.get("name") or "").strip(), "code": (post.get("code") or "").strip(),
            "description": (post.get("description") or "").strip(), "is_default": bool(post.get("is_default")),
            "is_active": bool(post.get("is_active"))}


@login_required
@domain_errors
def process_edit(request: HttpRequest, process_id: int | None = None) -> HttpResponse:
    """GET: the process with its stages and tasks (a new process starts with the two closing
    stages). POST: a row button (`op`) re-renders, "save" calls process_save."""
    _require_admin(request.user)
    process = get_object_or_404(SalesProcess, pk=process_id) if process_id is not None else None
    general: list[str] = []
    if request.method == "POST":
        header = _header_from_post(request.POST)
        rows = page_helpers.process_rows_from_post(request.POST)
        op = request.POST.get("op") or ""
        if op and op != "save":
            rows = page_helpers.apply_row_op(rows, op)
        else:
            version = request.POST.get("version") or ""
            try:
                saved = processes.process_save(actor=request.user, data={**header, "stages": rows},
                                               process_id=process.pk if process else None,
                                               expected_version=int(version) if version.isdigit() else None)
            except ValidationFailed as error:
                general = page_helpers.attach_errors(rows, error.errors)
                if not general and not any(row["errors"] or any(task["errors"] for task in row["tasks"])
                                           for row in rows):
                    general = [error.detail]
                header_errors = {item.field: item.message for item in error.errors if item.field in header}
                return _render(request, process, header, rows, general, header_errors)
            messages.success(request, _("销售流程“%(name)s”已保存。") % {"name": saved.name})
            return redirect("opportunities:process_edit", process_id=saved.pk)
    elif process is not None:
        header = {"name": process.name, "code": process.code, "description": process.description,
                  "is_default": process.is_default, "is_active": process.is_active}
        rows = page_helpers.process_rows_from_model(process)
    else:
        header = {"name": "", "code": "", "description": "", "is_default": False, "is_active": True}
        rows = page_helpers.apply_row_op([
            {"id": None, "name": processes.WON_NAME, "kind": StageKind.WON, "probability": 100,
             "forecast_category": ForecastCategory.CLOSED, "norm_days": None, "entry_fields": [],
             "exit_fields": [], "description": "", "tasks": []},
            {"id": None, "name": processes.LOST_NAME, "kind": StageKind.LOST, "probability": 0,
             "forecast_category": ForecastCategory.OMITTED, "norm_days": None, "entry_fields": [],
             "exit_fields": [], "description": "", "tasks": []}], "add_stage")
    page_helpers.attach_errors(rows, [])
    return _render(request, process, header, rows, general, {})


def _render(request: HttpRequest, process: SalesProcess | None, header: dict[str, Any], rows: list[dict[str, Any]],
            general: list[str], header_errors: dict[str, str]) -> HttpResponse:
    for row in rows:
        row.setdefault("errors", [])
        for task in row["tasks"]:
            task.setdefault("errors", [])
    context = {"process": process, "header": header, "rows": rows, "general_errors": general,
               "header_errors": header_errors, "field_choices": page_helpers.field_choices(),
               "kinds": StageKind.choices, "categories": ForecastCategory.choices,
               "version": process.version if process else ""}
    return render(request, "opportunities/process_edit.html", context, status=422 if general or header_errors
                  or any(row["errors"] or any(task["errors"] for task in row["tasks"]) for row in rows) else 200)


@login_required
@domain_errors
def health_settings(request: HttpRequest) -> HttpResponse:
    _require_admin(request.user)
    current = health.health_settings()
    weights = {dimension: str(current.weights.get(dimension, 0)) for dimension in health_engine.DIMENSIONS}
    days = str(current.no_activity_days)
    errors: dict[str, str] = {}
    general: list[str] = []
    if request.method == "POST":
        weights = {dimension: (request.POST.get(f"weight_{dimension}") or "").strip()[:6]
                   for dimension in health_engine.DIMENSIONS}
        days = (request.POST.get("no_activity_days") or "").strip()[:6]
        try:
            health.health_config_save(actor=request.user, weights=weights, no_activity_days=days)
        except ValidationFailed as error:
            for item in error.errors:
                key = item.field.removeprefix("weights.")
                if key in weights or key == "no_activity_days":
                    errors[key] = item.message
                else:
                    general.append(item.message)
        else:
            messages.success(request, _("健康度设置已保存，所有进行中的商机会重新评分。"))
            return redirect("opportunities:health_settings")
    labels = dict(Dimension.choices)
    rows = [{"dimension": dimension, "label": labels.get(dimension, dimension), "value": weights[dimension],
             "error": errors.get(dimension)} for dimension in health_engine.DIMENSIONS]
    return render(request, "opportunities/health_settings.html", {
        "rows": rows, "no_activity_days": days, "days_error": errors.get("no_activity_days"),
        "general_errors": general}, status=422 if errors or general else 200)
