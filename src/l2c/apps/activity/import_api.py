"""REST API for bulk imports (upload → validate → commit) and exports. Mount with
``api.add_router("/", router)``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from ninja import Field, File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from l2c.api.problems import READ_ERRORS, WRITE_ERRORS, errors

from . import exports, imports
from .models import ImportJob

router = Router(tags=["imports"])

EXPORT_OPENAPI = {
    "responses": {
        "200": {
            "description": "The export file (CSV UTF-8 with BOM, or XLSX); formula cells are neutralised.",
            "content": {content_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                        for content_type in exports.CONTENT_TYPES.values()},
        }
    }
}


class ImportErrorOut(Schema):
    row: int | None = None
    column: str = ""
    field: str
    message: str


class ImportJobOut(Schema):
    id: int
    object_type: str
    file_name: str
    status: str
    headers: list[str]
    mapping: dict[str, str]
    total_rows: int
    valid_rows: int
    created_rows: int
    error_count: int
    errors: list[ImportErrorOut]
    warning_count: int = Field(description="rows imported that deserve a look, e.g. possible duplicates")
    warnings: list[ImportErrorOut] = Field(description="the first 1,000 warnings")
    job_run_id: int | None
    created_at: dt.datetime


class ValidateIn(Schema):
    """Column header → field key (``custom.<key>`` for custom fields); "" or absent = not imported.
    Without a mapping the stored (suggested) one is used."""

    mapping: dict[str, str] | None = Field(None, max_length=500)


class CommitOut(Schema):
    import_job_id: int
    job_run_id: int
    status: str


@router.post("/imports", response={201: ImportJobOut, **WRITE_ERRORS, **errors(400, 413)},
             summary="Upload a CSV or XLSX file to import (needs the import permission)")
def upload_import(request: HttpRequest, object_type: Form[str], file: File[UploadedFile]) -> Any:
    content = imports.upload_read(file, file.size)
    job = imports.import_upload(actor=request.user, object_type=object_type, file_name=file.name or "",
                                content=content)
    return Status(201, imports.import_job_get(user=request.user, import_id=job.pk))


@router.get("/imports/{import_id}", response={200: ImportJobOut, **READ_ERRORS}, summary="One import")
def get_import(request: HttpRequest, import_id: int) -> Any:
    return imports.import_job_get(user=request.user, import_id=import_id)


@router.post("/imports/{import_id}/validate", response={200: ImportJobOut, **WRITE_ERRORS, **errors(400)},
             summary="Dry run: check the mapping and validate every row; writes no records")
def validate_import(request: HttpRequest, import_id: int, payload: ValidateIn | None = None) -> Any:
    mapping = payload.mapping if payload is not None else None
    return imports.import_validate(actor=request.user, import_id=import_id, mapping=mapping)


@router.post("/imports/{import_id}/commit", response={202: CommitOut, **WRITE_ERRORS},
             summary="Import the valid rows in the background (once per import)")
def commit_import(request: HttpRequest, import_id: int) -> Any:
    job: ImportJob = imports.import_commit(actor=request.user, import_id=import_id)
    return Status(202, {"import_job_id": job.pk, "job_run_id": job.job_run_id, "status": job.status})


@router.get("/exports/{object_type}", response={200: None, **READ_ERRORS}, openapi_extra=EXPORT_OPENAPI,
            summary="Export the records the caller may see, filtered like the list (q, owner_id, …)")
def export_records(request: HttpRequest, object_type: str, format: Literal["csv", "xlsx"] = "csv") -> Any:
    prepared = exports.export_prepare(user=request.user, object_type=object_type, fmt=format, params=request.GET)
    if prepared.fmt == "csv":
        response = StreamingHttpResponse(exports.export_csv_stream(prepared), content_type=prepared.content_type)
        response["Content-Disposition"] = f'attachment; filename="{prepared.file_name}"'
        return response
    return FileResponse(exports.export_xlsx_file(prepared), as_attachment=True, filename=prepared.file_name,
                        content_type=prepared.content_type)
