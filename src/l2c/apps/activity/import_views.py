"""UI of bulk imports (upload → column mapping → dry-run report → background commit with progress),
import templates, error reports, and exports of list pages."""

from __future__ import annotations

import io
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from l2c.apps.identity import access
from l2c.kernel.errors import DomainError, FieldError, NotFound, PermissionDenied, ValidationFailed
from l2c.kernel.tabular import csv_chunks, write_xlsx

from . import exports, imports
from .models import ImportJob

EDITABLE = (ImportJob.Status.UPLOADED, ImportJob.Status.VALIDATED)
ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)


WARNINGS_SHOWN = 200  # on the page; the API returns the first 1,000

def _raise_http(error: DomainError) -> None:
    """Turn access errors into Django's 404/403 (which render the standard pages)."""
    if isinstance(error, NotFound):
        raise Http404(error.detail)
    if isinstance(error, PermissionDenied):
        raise DjangoPermissionDenied(error.detail)


def _spec(object_type: str) -> imports.TabularSpec:
    try:
        return imports.spec_for(object_type)
    except NotFound as error:
        raise Http404(error.detail) from None


def _attachment(response: ResponseT, file_name: str) -> ResponseT:
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


@login_required
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    object_types = [
        {"key": spec.object_type, "label": spec.label, "can_import": access.can(user, spec.object_type, "import"),
         "can_export": access.can(user, spec.object_type, "export")}
        for spec in imports.specs()
    ]
    labels = {spec.object_type: spec.label for spec in imports.specs()}
    jobs = list(imports.import_jobs(user=user).select_related("created_by")[:200])
    for job in jobs:
        job.type_label = labels.get(job.object_type, job.object_type)  # type: ignore[attr-defined]
    return render(request, "activity/import_list.html", {"object_types": object_types, "jobs": jobs})


@login_required
@require_http_methods(["GET", "POST"])
def import_start(request: HttpRequest, object_type: str) -> HttpResponse:
    spec = _spec(object_type)
    if not imports.import_allowed(user=request.user, object_type=object_type):
        raise DjangoPermissionDenied(_("你没有导入%(label)s的权限。") % {"label": spec.label})
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = _("请选择要上传的文件。")
        else:
            try:
                content = imports.upload_read(upload, upload.size)
                job = imports.import_upload(actor=request.user, object_type=object_type,
                                            file_name=upload.name or "", content=content)
            except DomainError as failure:
                _raise_http(failure)
                error = failure.detail
            else:
                messages.success(request, _("文件已上传，请确认每一列对应的字段，然后校验。"))
                return redirect("activity:import_detail", import_id=job.pk)
    context = {
        "spec": spec, "object_type": object_type, "error": error,
        "max_megabytes": f"{settings.L2C_IMPORT_MAX_BYTES / (1024 * 1024):g}",
        "columns": [{"header": imports.header_label(column), "label": str(column.label), "key": column.key,
                     "required": column.required} for column in imports.importable_columns(spec)],
    }
    return render(request, "activity/import_start.html", context, status=400 if error else 200)


def _mapping_rows(job: ImportJob, mapping: dict[str, str]) -> list[dict[str, Any]]:
    sample = imports.import_sample_row(job=job)
    return [
        {"index": index, "header": header, "sample": sample[index] if index < len(sample) else "",
         "selected": mapping.get(header, "")}
        for index, header in enumerate(job.headers)
    ]


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    try:
        job = imports.import_job_get(user=request.user, import_id=import_id)
    except NotFound as error:
        raise Http404(error.detail) from None
    spec = _spec(job.object_type)
    if not imports.import_allowed(user=request.user, object_type=job.object_type):
        raise DjangoPermissionDenied(_("你没有导入%(label)s的权限。") % {"label": spec.label})
    posted_mapping: dict[str, str] | None = None
    mapping_errors: list[FieldError] = []
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "validate":
            posted_mapping = {header: request.POST.get(f"column_{index}", "")
                              for index, header in enumerate(job.headers)}
            try:
                job = imports.import_validate(actor=request.user, import_id=job.pk, mapping=posted_mapping)
            except ValidationFailed as failure:
                messages.error(request, failure.detail)
                mapping_errors = failure.errors
                status = 400
            except DomainError as failure:
                _raise_http(failure)
                messages.error(request, failure.detail)
                return redirect("activity:import_detail", import_id=job.pk)
            else:
                messages.success(request, _("校验完成：没有写入任何数据。"))
                return redirect("activity:import_detail", import_id=job.pk)
        elif action == "commit":
            try:
                imports.import_commit(actor=request.user, import_id=job.pk)
            except DomainError as failure:
                _raise_http(failure)
                messages.error(request, failure.detail)
            else:
                messages.success(request, _("导入已在后台开始。"))
            return redirect("activity:import_detail", import_id=job.pk)
        else:
            return HttpResponseBadRequest(_("未知操作。"))
    columns = imports.importable_columns(spec)
    labels = {column.key: str(column.label) for column in columns}
    context = {
        "job": job, "spec": spec, "editable": job.status in EDITABLE,
        "fields": [{"key": column.key, "label": labels[column.key], "required": column.required}
                   for column in columns],
        "mapping_rows": _mapping_rows(job, posted_mapping if posted_mapping is not None else job.mapping)
        if job.status in EDITABLE else [],
        "mapping_errors": mapping_errors,
        "errors": [{**entry, "field_label": labels.get(entry.get("field", ""), entry.get("field", ""))}
                   for entry in job.errors],
        "warnings": [{**entry, "field_label": labels.get(entry.get("field", ""), entry.get("field", ""))}
                     for entry in job.warnings[:WARNINGS_SHOWN]],
        "skipped": max(0, job.total_rows - job.valid_rows),
        "run": job.job_run,
    }
    return render(request, "activity/import_detail.html", context, status=status)


@login_required
@require_GET
def import_template(request: HttpRequest, object_type: str, fmt: str) -> HttpResponse:
    spec = _spec(object_type)
    if fmt not in exports.CONTENT_TYPES:
        raise Http404(_("模板格式只能是 csv 或 xlsx。"))
    try:
        headers, rows = imports.import_template(user=request.user, object_type=spec.object_type)
    except DomainError as failure:
        _raise_http(failure)
        raise
    file_name = f"{object_type}-import-template.{fmt}"
    if fmt == "csv":
        response = HttpResponse(b"".join(csv_chunks(headers, rows)), content_type=exports.CONTENT_TYPES["csv"])
        return _attachment(response, file_name)
    buffer = io.BytesIO()
    write_xlsx(buffer, headers, rows, sheet_title=str(spec.label), text_columns=True)
    response = HttpResponse(buffer.getvalue(), content_type=exports.CONTENT_TYPES["xlsx"])
    return _attachment(response, file_name)


@login_required
@require_GET
def import_errors(request: HttpRequest, import_id: int) -> StreamingHttpResponse:
    try:
        job, rows = imports.import_error_rows(user=request.user, import_id=import_id)
    except DomainError as failure:
        _raise_http(failure)
        raise
    spec = _spec(job.object_type)
    labels = {column.key: str(column.label) for column in imports.importable_columns(spec)}
    headers = [_("行号"), _("列"), _("字段"), _("错误信息")]
    labelled = ([row, column, labels.get(field, field), message] for row, column, field, message in rows)
    response = StreamingHttpResponse(csv_chunks(headers, labelled), content_type=exports.CONTENT_TYPES["csv"])
    return _attachment(response, f"import-{job.pk}-errors.csv")


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """GET ?object_type=account&format=csv|xlsx&<list filters>: the visible, filtered records."""
    try:
        prepared = exports.export_prepare(user=request.user, object_type=request.GET.get("object_type", ""),
                                          fmt=request.GET.get("format", "csv"), params=request.GET)
    except DomainError as failure:
        _raise_http(failure)
        return HttpResponseBadRequest(failure.detail)
    if prepared.fmt == "csv":
        response = StreamingHttpResponse(exports.export_csv_stream(prepared), content_type=prepared.content_type)
        return _attachment(response, prepared.file_name)
    return FileResponse(exports.export_xlsx_file(prepared), as_attachment=True, filename=prepared.file_name,
                        content_type=prepared.content_type)
