"""Export of business records as CSV (streamed, UTF-8 with BOM) or XLSX.

Rows come from the object type's `export_queryset`, i.e. from the access choke point with the
``export`` action: the user needs the export permission and gets only the records they may see,
narrowed by the same filters as the list page. Headers are the Chinese column labels (the same as
the import template, so an export can be edited and imported again). Every text cell is
neutralised against formula injection by `l2c.kernel.tabular`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.kernel.errors import FieldError, PermissionDenied, ValidationFailed
from l2c.kernel.tabular import csv_chunks, write_xlsx

from .custom_fields import definitions
from .imports import CUSTOM_PREFIX, SOURCE_LANGUAGE, ColumnSpec, TabularSpec, columns_for, header_label, spec_for

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass
class Export:
    """A prepared export: headers, lazily produced rows, and how to name the file."""

    object_type: str
    fmt: str
    headers: list[str]
    rows: Iterator[list[Any]]
    file_name: str
    sheet_title: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]


def _custom_text(value: Any, yes: str, no: str) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes if value else no
    if isinstance(value, list | tuple):
        return ";".join(str(item) for item in value)
    return value


def _rows(spec: TabularSpec, queryset: Any, columns: Sequence[ColumnSpec]) -> Iterator[list[Any]]:
    with translation.override(SOURCE_LANGUAGE):
        yes, no = _("是"), _("否")
    for record in spec.export_rows(queryset):
        custom = record.get("custom") or {}
        row = []
        for column in columns:
            if column.key.startswith(CUSTOM_PREFIX):
                row.append(_custom_text(custom.get(column.key[len(CUSTOM_PREFIX):]), yes, no))
            else:
                value = record.get(column.key)
                row.append("" if value is None else value)
        yield row


def export_prepare(*, user: User, object_type: str, fmt: str, params: Mapping[str, Any]) -> Export:
    """Check the export permission and build the export of the records `user` may see matching the
    allow-listed filters in `params`."""
    spec = spec_for(object_type)
    if fmt not in CONTENT_TYPES:
        raise ValidationFailed(_("导出格式只能是 csv 或 xlsx。"),
                               errors=[FieldError("format", _("导出格式只能是 csv 或 xlsx。"), "invalid")])
    if not access.can(user, object_type, "export"):
        raise PermissionDenied(_("你没有导出%(label)s的权限。") % {"label": spec.label})
    filters = {name: params.get(name) for name in spec.export_filters if params.get(name) not in (None, "")}
    try:
        queryset = spec.export_queryset(user, filters)
    except (TypeError, ValueError):
        message = _("筛选条件无效。")
        raise ValidationFailed(message, errors=[FieldError("filters", message, "invalid")]) from None
    columns = [column for column in columns_for(spec, definitions(object_type)) if column.exportable]
    with translation.override(SOURCE_LANGUAGE):
        sheet_title = str(spec.label)
    return Export(
        object_type=object_type, fmt=fmt, headers=[header_label(column) for column in columns],
        rows=_rows(spec, queryset, columns), file_name=f"{object_type}-{timezone.localdate():%Y%m%d}.{fmt}",
        sheet_title=sheet_title,
    )


def export_csv_stream(export: Export) -> Iterator[bytes]:
    """The CSV file in chunks, for a StreamingHttpResponse."""
    return csv_chunks(export.headers, export.rows)


def export_xlsx_file(export: Export) -> IO[bytes]:
    """The XLSX file written to a temporary file (rewound), for a FileResponse."""
    target = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it
    write_xlsx(target, export.headers, export.rows, sheet_title=export.sheet_title)
    target.seek(0)
    return target
