"""Bulk import of business records from CSV/XLSX files: the registry of tabular object types and
the upload → column mapping → dry run → commit services.

An app makes an object type importable and exportable by registering a `TabularSpec` in its
`AppConfig.ready()` (customers registers accounts and contacts). Active custom fields of the type
become extra columns automatically (key ``custom.<key>``, header = the field's label).

Policy
- Upload: only ``.csv`` / ``.xlsx`` up to ``settings.L2C_IMPORT_MAX_BYTES``, content sniffed (an
  XLSX must be a zip workbook, a CSV must decode as UTF-8 or GBK); needs the ``import`` permission
  on the object type. A refused upload stores nothing.
- Dry run ("validate"): every row is validated; the ImportJob keeps counts, the mapping and the
  first 1,000 errors ``{row, column, field, message}``. Nothing is written to business tables.
  ``row`` is the data row number: 1 is the first row below the header.
- Commit: runs as the background job ``activity.import_commit``. It re-reads and re-validates the
  file (data may have changed since the dry run) and creates the valid rows in chunks of
  CHUNK_ROWS, in transactions of one or more chunks (a transaction takes further chunks while it
  is younger than COMMIT_GROUP_SECONDS; each chunk is validated inside it, so its duplicate checks
  see the earlier chunks' rows). Rows with errors are skipped and reported; the valid rows of the
  file are imported. The run's progress moves chunk by chunk; the ImportJob's ``created_rows`` at most
  every few seconds and when the run ends, fails or is overtaken (an update of that row rewrites
  the stored file on SQLite), so after a killed worker it may miss the last seconds' rows.
- Speed: each pass reads the file once and validates it a chunk at a time, column-wise when the
  spec has a `validate_batch` (look-ups and cell-text → value maps computed once per import, not
  per cell). A chunk is written with a few set-based statements whatever its size: the new ids
  are allocated first (`ids_allocate`), then records, links and audit events are inserted with
  one COPY each on PostgreSQL or multi-row INSERTs on SQLite (`rows_insert`, `audit_insert`).
- Idempotent: committing moves the job validated → importing with a compare-and-set; a second
  commit of the same ImportJob is refused (409) and creates nothing. Inside the job each chunk
  claims its position with a compare-and-set on the run's progress in the chunk's transaction, so
  a task delivered twice cannot create a chunk twice. A failed import may be committed again: it
  resumes after the last committed chunk.
"""

from __future__ import annotations

import json
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, BinaryIO

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.identity import access
from l2c.apps.identity.models import OwnershipTransfer
from l2c.kernel import request_context
from l2c.kernel.errors import Conflict, DomainError, FieldError, NotFound, PermissionDenied, ValidationFailed
from l2c.kernel.gcpause import gc_paused
from l2c.kernel.tabular import Table, TabularError, file_format, open_table

from .audit import jsonable
from .custom_fields import clean_custom_values, definitions
from .jobs import job_enqueue, job_log, job_progress
from .maintenance import IMPORT_ANALYZE_ROWS, refresh_planner_statistics
from .models import AuditEvent, CustomField, ImportJob, JobRun

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

# Rows validated and committed together: bigger chunks mean fewer full-text index segments to merge
# (5,000 commits 100,000 accounts ~30 % faster than 1,000) and still a progress step every second.
CHUNK_ROWS = 5000
ROW_NUMBER_KEY = "_row"  # the data row number of a clean row, while its chunk is being checked
ROWS_PER_STATEMENT = 500  # of a multi-row INSERT on SQLite
CREATED_ROWS_EVERY = 5.0  # seconds between updates of a running import's created_rows
# A commit transaction takes further chunks until it is this old: fewer, larger transactions write
# each page of a randomly filled index (duplicate keys, names) once per transaction rather than
# once per chunk; SQLite's other writers wait at most about this long plus one chunk (timeout 20 s).
COMMIT_GROUP_SECONDS = 4.0
IMPORT_CACHE_KIB = 512 * 1024  # SQLite page cache while an import commits (see _import_page_cache)
MAX_STORED_ERRORS = 1000
SOURCE_LANGUAGE = "zh-hans"  # headers of templates and exports are the Chinese labels
CUSTOM_PREFIX = "custom."


class _ChunkTaken(Exception):
    """Another delivery of the same run already committed this chunk."""


class FileTooLarge(DomainError):
    """The uploaded file is larger than the configured import limit."""

    code = "file_too_large"
    status = 413
    title = "File too large"


# --- registry -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnSpec:
    """One column of an object type's files. `label` (Chinese msgid) is the template and export
    header; `aliases` are other headers recognised when mapping an uploaded file."""

    key: str
    label: Any
    aliases: tuple[str, ...] = ()
    required: bool = False
    importable: bool = True
    exportable: bool = True
    example: str = ""


@dataclass
class ImportContext:
    """State of one validation run: the importer, the custom field definitions, and `cache` for
    look-ups a spec pre-loads in bulk per chunk and state it keeps across rows (duplicates)."""

    actor: User
    object_type: str
    custom_fields: list[CustomField]
    cache: dict[str, Any] = field(default_factory=dict)
    # True while the commit re-validates its chunks: checks that only inform (warnings) are skipped.
    committing: bool = False
    # The ImportJob being validated or committed (None outside an import job).
    import_job_id: int | None = None


@dataclass(frozen=True)
class RowBatch:
    """A chunk of data rows held column-wise: `numbers[i]` is the data row number of the i-th row
    and `columns[key][i]` its cell text in the column mapped to `key` (mapped columns only)."""

    numbers: Sequence[int]
    columns: Mapping[str, Sequence[str]]

    def __len__(self) -> int:
        return len(self.numbers)

    def row(self, index: int) -> dict[str, str]:
        return {key: cells[index] for key, cells in self.columns.items()}


RowValidator = Callable[[dict[str, str], int, ImportContext], tuple[dict[str, Any] | None, list[FieldError]]]
# (clean row or None for each row of the batch, errors by row index). A row is valid when it has a
# clean dict and no errors.
BatchValidation = tuple[list[dict[str, Any] | None], dict[int, list[FieldError]]]
BatchValidator = Callable[[ImportContext, RowBatch], BatchValidation]
# (context, valid clean rows, each with ROW_NUMBER_KEY) → {row index: (errors rejecting it, warnings)}
RowChecker = Callable[[ImportContext, list[dict[str, Any]]], dict[int, tuple[list[FieldError], list[FieldError]]]]


def _no_preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    return None


@dataclass(frozen=True)
class TabularSpec:
    """How one object type is imported and exported.

    - validate_row(row, row_number, context) → (clean dict, []) or (None, errors): `row` maps
      column keys to cell text; custom columns are validated by the machinery, not here.
    - preload(context, rows): bulk look-ups for a chunk of rows before they are validated.
    - validate_batch(context, batch) → (clean dict or None per row, errors by row index): optional
      column-wise validation of a whole chunk that replaces preload + validate_row and must give
      the same results (errors of a row in the same order).
    - commit_rows(actor, clean_rows) → number created: set-based inserts plus audit events
      (action "import"); called inside the chunk's transaction. Each clean row carries "custom".
    - export_queryset(user, filters) → the records the user may export, from the access choke
      point; export_rows(queryset) → one dict per record keyed by column key (plus "custom").
    """

    object_type: str
    label: Any
    fields: Sequence[ColumnSpec]
    validate_row: RowValidator
    commit_rows: Callable[[User, list[dict[str, Any]]], int]
    export_rows: Callable[[QuerySet[Any]], Iterator[dict[str, Any]]]
    export_queryset: Callable[[User, Mapping[str, Any]], QuerySet[Any]]
    preload: Callable[[ImportContext, list[dict[str, str]]], None] = _no_preload
    export_filters: tuple[str, ...] = ()
    validate_batch: BatchValidator | None = None
    # Checks the valid rows of a chunk against stored records (duplicate control): returns, per row
    # index, the errors that reject the row and the warnings that only report it.
    check_valid_rows: RowChecker | None = None


_REGISTRY: dict[str, TabularSpec] = {}


def register(spec: TabularSpec) -> None:
    _REGISTRY[spec.object_type] = spec


def spec_for(object_type: str) -> TabularSpec:
    spec = _REGISTRY.get(object_type)
    if spec is None:
        raise NotFound(_("不支持导入或导出的对象类型：%(type)s") % {"type": object_type})
    return spec


def specs() -> list[TabularSpec]:
    return list(_REGISTRY.values())


def header_label(column: ColumnSpec) -> str:
    """The header of a column in templates and exports: its label in the source language."""
    with translation.override(SOURCE_LANGUAGE):
        return str(column.label)


def columns_for(spec: TabularSpec, custom_fields: Iterable[CustomField] | None = None) -> list[ColumnSpec]:
    """The spec's columns followed by one column per active custom field of the type."""
    custom_fields = definitions(spec.object_type) if custom_fields is None else custom_fields
    extra = [
        ColumnSpec(key=CUSTOM_PREFIX + custom.key, label=custom.label, aliases=(custom.key,),
                   required=custom.is_required)
        for custom in custom_fields
    ]
    return [*spec.fields, *extra]


def importable_columns(spec: TabularSpec, custom_fields: Iterable[CustomField] | None = None) -> list[ColumnSpec]:
    return [column for column in columns_for(spec, custom_fields) if column.importable]


def _normal(text: str) -> str:
    """Header comparison form: NFKC (full-width → half-width), lower case, no spaces, underscores
    or required markers."""
    value = unicodedata.normalize("NFKC", str(text)).strip().lower()
    for marker in ("(必填)", "*"):
        value = value.replace(marker, "")
    return "".join(char for char in value if char not in " _-\t")


def mapping_suggest(headers: Sequence[str], columns: Sequence[ColumnSpec]) -> dict[str, str]:
    """Map each header to the column whose key, label or alias it matches (each column once)."""
    index: dict[str, str] = {}
    for column in columns:
        names = [column.key, header_label(column), str(column.label), *column.aliases]
        for name in names:
            index.setdefault(_normal(name), column.key)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        key = index.get(_normal(header))
        if key and key not in used:
            mapping[header] = key
            used.add(key)
    return mapping


def _clean_mapping(mapping: Mapping[str, Any], headers: Sequence[str], columns: Sequence[ColumnSpec]) -> dict[str, str]:
    known = {column.key: column for column in columns}
    errors: list[FieldError] = []
    result: dict[str, str] = {}
    for header, key in mapping.items():
        if key in (None, ""):
            continue
        if header not in headers:
            errors.append(FieldError(f"mapping.{header}", _("文件中没有这一列"), "unknown_column"))
        elif not isinstance(key, str) or key not in known:
            errors.append(FieldError(f"mapping.{header}", _("未知字段：%(key)s") % {"key": key}, "unknown_field"))
        elif key in result.values():
            errors.append(FieldError(f"mapping.{header}", _("字段“%(label)s”已对应到另一列")
                                     % {"label": header_label(known[key])}, "duplicate"))
        else:
            result[header] = key
    missing = [column for column in columns if column.required and column.key not in result.values()]
    if missing:
        labels = "、".join(header_label(column) for column in missing)
        errors.append(FieldError("mapping", _("必填字段没有对应的列：%(fields)s") % {"fields": labels}, "required"))
    if errors:
        raise ValidationFailed(_("列的对应关系不完整，请检查后再校验。"), errors=errors)
    return result


# --- reading uploads ------------------------------------------------------------------------------
TABULAR_MESSAGES = {
    "unsupported_extension": gettext_lazy("只能导入 .csv 或 .xlsx 文件。"),
    "unsupported_workbook": gettext_lazy("只支持 .xlsx 格式的 Excel 文件，请另存为 .xlsx 或 .csv 后再上传。"),
    "not_xlsx": gettext_lazy("文件扩展名是 .xlsx，但内容不是有效的 Excel 工作簿。"),
    "not_csv": gettext_lazy("文件扩展名是 .csv，但内容不是 UTF-8 或 GBK 编码的文本。"),
    "empty": gettext_lazy("文件是空的：没有表头行。"),
    "duplicate_header": gettext_lazy("表头“%(header)s”出现了两次（第 %(first)s 列和第 %(second)s 列）。"),
    "too_many_columns": gettext_lazy("文件的列数超过 %(limit)s 列。"),
    "too_large": gettext_lazy("文件解压后太大。"),
    "bad_csv": gettext_lazy("CSV 文件格式有误：第 %(record)s 条记录之后无法读取（%(reason)s）。"),
}


def _tabular_failure(error: TabularError) -> ValidationFailed:
    template = TABULAR_MESSAGES.get(error.code)
    # The kernel's own message is English; the translated one is filled with the error's params.
    message = str(template) % error.params if template is not None else _("无法读取文件。")
    return ValidationFailed(message, errors=[FieldError("file", message, error.code)])


def _max_bytes() -> int:
    return int(getattr(settings, "L2C_IMPORT_MAX_BYTES", 200 * 1024 * 1024))


def _too_large() -> FileTooLarge:
    limit_mb = _max_bytes() / (1024 * 1024)
    message = _("文件太大：最大 %(size)s MB。") % {"size": f"{limit_mb:g}"}
    return FileTooLarge(message, errors=[FieldError("file", message, "too_large")])


def upload_read(file: BinaryIO, size: int | None) -> bytes:
    """The bytes of an uploaded file, refusing files above the limit before reading them."""
    limit = _max_bytes()
    if size is not None and size > limit:
        raise _too_large()
    content = file.read(limit + 1)
    if len(content) > limit:
        raise _too_large()
    return content


def _table(job: ImportJob) -> Table:
    """The stored upload as a table; its bytes passed `open_table` whole when they were uploaded."""
    try:
        return open_table(bytes(job.content), file_format(job.file_name), verified=True)
    except TabularError as error:
        raise _tabular_failure(error) from None


# --- selectors ------------------------------------------------------------------------------------

def import_jobs(*, user: User) -> QuerySet[ImportJob]:
    """Imports the user started (administrators: all), newest first, without the file content."""
    rows = ImportJob.objects.defer("content").order_by("-created_at", "-id")
    if not access.is_admin(user):
        rows = rows.filter(created_by=user)
    return rows


def import_job_get(*, user: User, import_id: int) -> ImportJob:
    job = import_jobs(user=user).filter(pk=import_id).first()
    if job is None:
        raise NotFound(_("没有编号为 %(id)s 的导入。") % {"id": import_id})
    return job


def import_allowed(*, user: User, object_type: str) -> bool:
    return object_type in _REGISTRY and access.can(user, object_type, "import")


def _require_import(user: User, spec: TabularSpec) -> None:
    if not access.can(user, spec.object_type, "import"):
        raise PermissionDenied(_("你没有导入%(label)s的权限。") % {"label": spec.label})


def import_sample_row(*, job: ImportJob) -> list[str]:
    """The first data row of the file, for showing examples next to the mapping."""
    try:
        table = open_table(bytes(job.content), file_format(job.file_name), verified=True)
        return next((cells for _number, cells in table.rows()), [""] * len(job.headers))
    except TabularError:
        return [""] * len(job.headers)


# --- validation -----------------------------------------------------------------------------------
@dataclass
class ChunkResult:
    """One chunk of validated rows: how many data rows it held, the clean rows, the errors, and
    warnings about rows that stay valid."""

    row_count: int
    valid: list[dict[str, Any]]
    errors: list[FieldError]
    warnings: list[FieldError] = field(default_factory=list)


def _validate_rows(spec: TabularSpec, context: ImportContext, batch: RowBatch) -> BatchValidation:
    """Row-by-row validation (specs without `validate_batch`)."""
    rows = [batch.row(index) for index in range(len(batch))]
    spec.preload(context, rows)
    cleans: list[dict[str, Any] | None] = []
    errors: dict[int, list[FieldError]] = {}
    for index, (number, row) in enumerate(zip(batch.numbers, rows, strict=True)):
        clean, row_errors = spec.validate_row(row, number, context)
        if row_errors:
            errors[index] = list(row_errors)
        cleans.append(clean)
    return cleans, errors


def _validate_chunk(spec: TabularSpec, context: ImportContext, batch: RowBatch) -> ChunkResult:
    base = RowBatch(batch.numbers, {key: cells for key, cells in batch.columns.items()
                                    if not key.startswith(CUSTOM_PREFIX)})
    custom_columns = {key[len(CUSTOM_PREFIX):]: cells for key, cells in batch.columns.items()
                      if key.startswith(CUSTOM_PREFIX)}
    validate = spec.validate_batch or (lambda context, rows: _validate_rows(spec, context, rows))
    cleans, errors = validate(context, base)
    # Without custom columns (and no required custom field) every row's custom values are {}.
    check_custom = bool(custom_columns) or any(custom.is_required for custom in context.custom_fields)
    result = ChunkResult(row_count=len(batch), valid=[], errors=[])
    for index, (number, clean) in enumerate(zip(batch.numbers, cleans, strict=True)):
        row_errors = errors.get(index)
        custom: dict[str, Any] = {}
        if check_custom:
            raw = {key: cells[index] for key, cells in custom_columns.items()}
            try:
                custom = clean_custom_values(spec.object_type, raw, fields=context.custom_fields, row=number)
            except ValidationFailed as failure:
                row_errors = [*(row_errors or []), *failure.errors]
        if row_errors or clean is None:
            result.errors.extend(row_errors or [])
        else:
            clean["custom"] = custom
            clean[ROW_NUMBER_KEY] = number
            result.valid.append(clean)
    if spec.check_valid_rows is not None and result.valid:
        verdicts = spec.check_valid_rows(context, result.valid)
        kept = []
        for index, clean in enumerate(result.valid):
            rejected, noted = verdicts.get(index, ([], []))
            result.warnings.extend(noted)
            if rejected:
                result.errors.extend(rejected)
            else:
                kept.append(clean)
        result.valid = kept
    for clean in result.valid:
        clean.pop(ROW_NUMBER_KEY, None)
    return result


def _row_batch(numbers: list[int], rows: list[list[str]], positions: Sequence[tuple[int, str]]) -> RowBatch:
    by_index = list(zip(*rows, strict=True))  # rows are padded to the header width
    return RowBatch(numbers, {key: by_index[index] for index, key in positions})


def validated_chunks(*, spec: TabularSpec, job: ImportJob, actor: User, mapping: Mapping[str, str],
                     committing: bool = False) -> Iterator[ChunkResult]:
    """Validate the file's rows lazily, `CHUNK_ROWS` at a time (bulk look-ups once per chunk)."""
    table = _table(job)
    positions = [(index, mapping[header]) for index, header in enumerate(table.headers) if header in mapping]
    context = ImportContext(actor=actor, object_type=spec.object_type, custom_fields=definitions(spec.object_type),
                            committing=committing, import_job_id=job.pk)
    numbers: list[int] = []
    rows: list[list[str]] = []
    try:
        for number, cells in table.rows():
            numbers.append(number)
            rows.append(cells)
            if len(rows) >= CHUNK_ROWS:
                yield _validate_chunk(spec, context, _row_batch(numbers, rows, positions))
                numbers, rows = [], []
    except TabularError as error:
        raise _tabular_failure(error) from None
    if rows:
        yield _validate_chunk(spec, context, _row_batch(numbers, rows, positions))


def _error_entry(error: FieldError, columns_by_key: Mapping[str, str]) -> dict[str, Any]:
    return {"row": error.row, "column": columns_by_key.get(error.field, ""), "field": error.field,
            "message": error.message}


@dataclass
class _Tally:
    columns_by_key: dict[str, str]
    total: int = 0
    valid: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warning_count: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def add(self, chunk: ChunkResult) -> None:
        self.total += chunk.row_count
        self.valid += len(chunk.valid)
        self.error_count += len(chunk.errors)
        room = MAX_STORED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(_error_entry(error, self.columns_by_key) for error in chunk.errors[:room])
        self.warning_count += len(chunk.warnings)
        room = MAX_STORED_ERRORS - len(self.warnings)
        if room > 0:
            self.warnings.extend(_error_entry(warning, self.columns_by_key) for warning in chunk.warnings[:room])


def _columns_by_key(mapping: Mapping[str, str]) -> dict[str, str]:
    return {key: header for header, key in mapping.items()}


# --- set-based writing ----------------------------------------------------------------------------
AUDIT_COLUMNS = ("object_type", "object_id", "object_repr", "action", "changes", "summary", "actor",
                 "request_id", "client_ip", "source", "created_at")


def ids_allocate(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys of `model`, ascending, for rows inserted with explicit ids.

    PostgreSQL: taken from the column's sequence, so concurrent writers never get the same id.
    SQLite: the ids after the largest ever used (AUTOINCREMENT's sqlite_sequence, or the largest
    id). Call it inside the transaction that inserts them: SQLite has one writer at a time and the
    chunk's transaction holds that lock (BEGIN IMMEDIATE, and the chunk's claim has written
    already); were it not held, the insert would fail on the primary key, never mix rows up."""
    if count <= 0:
        return []
    meta = model._meta
    table, pk_column = meta.db_table, meta.pk.column
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(s.sequence) FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass AS sequence) s "
                "CROSS JOIN generate_series(1, %s)", [quote(table), pk_column, count])
            return sorted(row[0] for row in cursor.fetchall())
        if connection.vendor != "sqlite":
            raise NotImplementedError(f"ids_allocate does not support {connection.vendor}")
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
            f"COALESCE((SELECT MAX({quote(pk_column)}) FROM {quote(table)}), 0))", [table])
        last = int(cursor.fetchone()[0])
    return list(range(last + 1, last + 1 + count))


def _statement_rows(width: int) -> int:
    """Rows per multi-row INSERT: at most ROWS_PER_STATEMENT and within the bound-variable limit."""
    getlimit = getattr(connection.connection, "getlimit", None)  # sqlite3.Connection, Python ≥ 3.11
    limit = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit else connection.features.max_query_params
    return max(1, min(ROWS_PER_STATEMENT, (limit or 999) // width))


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert `rows` into `model`'s table set-based: one COPY on PostgreSQL; on SQLite multi-row
    ``INSERT … VALUES (…), (…)`` statements of up to ROWS_PER_STATEMENT rows (with the search
    index's per-statement trigger work, several times faster than executemany's statement per
    row). `columns` are database column names; values are already in database form (JSON as text,
    datetimes through `connection.ops.adapt_datetimefield_value`). `rows` may be a generator: it is
    consumed as the data is sent, so PostgreSQL works on the first rows while later ones are made."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
            return
        per_statement = _statement_rows(len(columns))
        # The statements are written with sqlite3's own placeholders and run on its cursor: Django's
        # wrapper would rewrite every "%s" of a statement of thousands with a regular expression on
        # each execution (~1.5 ms a statement). Errors and the query log stay as through Django.
        one = "(" + ", ".join(["?"] * len(columns)) + ")"
        statements: dict[int, str] = {}  # by number of rows
        remaining = iter(rows)
        raw, logged = cursor.cursor, connection.queries_logged
        while batch := list(islice(remaining, per_statement)):
            sql = statements.get(len(batch))
            if sql is None:
                values = ", ".join([one] * len(batch))
                sql = statements[len(batch)] = f"INSERT INTO {table} ({names}) VALUES {values}"  # noqa: S608
            with connection.wrap_database_errors:
                sqlite3.Cursor.execute(raw, sql, list(chain.from_iterable(batch)))
            if logged:
                connection.queries_log.append({"sql": sql, "time": "0.000"})


def audit_insert(*, actor_id: int | None,
                 events: Iterable[tuple[str, int, str, str, Mapping[str, Any] | str]], summary: str = "") -> int:
    """Write the audit events of one chunk with one statement, as `audit.audit_bulk` would:
    (object_type, object_id, object_repr, action, changes) each, one time stamp, `summary` and the
    bound request context for all. `changes` is JSON-ready (see `audit.jsonable`) or JSON text."""
    context = request_context.current()
    ops = connection.ops
    stamp = ops.adapt_datetimefield_value(timezone.now())
    client_ip = ops.adapt_ipaddressfield_value(context.client_ip)
    request_id, source, dumps = context.request_id, context.source, json.dumps
    rows = [(object_type, object_id, object_repr[:255], action,
             changes if isinstance(changes, str) else dumps(changes), summary[:500], actor_id, request_id, client_ip,
             source, stamp)
            for object_type, object_id, object_repr, action, changes in events]
    meta = AuditEvent._meta
    rows_insert(AuditEvent, [meta.get_field(name).column for name in AUDIT_COLUMNS], rows)
    return len(rows)


TRANSFER_COLUMNS = ("object_type", "object_id", "from_user", "to_user", "via", "reason", "actor", "created_at")


def transfers_insert(*, actor_id: int | None, transfers: Iterable[tuple[str, int, int | None, int | None, str, str]]
                     ) -> int:
    """Write ownership history rows with one statement, as `OwnershipTransfer.objects.bulk_create`
    would: (object_type, object_id, from user id, to user id, via, reason) each, one time stamp."""
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [(object_type, object_id, from_id, to_id, via[:20], reason[:255], actor_id, stamp)
            for object_type, object_id, from_id, to_id, via, reason in transfers]
    meta = OwnershipTransfer._meta
    rows_insert(OwnershipTransfer, [meta.get_field(name).column for name in TRANSFER_COLUMNS], rows)
    return len(rows)


def _change_fragment(head: str, value: Any) -> str | None:
    if type(value) is int:
        return f"{head}{value}]"
    value = jsonable(value)
    if value is None or value == "" or value == {} or value == []:
        return None
    return head + json.dumps(value) + "]"


def created_changes_json(rows: Sequence[Mapping[str, Any]], fields: Sequence[tuple[str, str]]) -> list[str]:
    """The audit `changes` of records created from `rows`, as JSON text: ``{name: [null, value]}``
    for each audited (name, row key) pair whose value — as `audit.jsonable` renders it — is not
    empty (None, "", {}, []); a missing key is no value. The text equals `json.dumps` of that dict;
    it is built column by column, most values being text."""
    encode = encode_basestring_ascii  # what json.dumps does to a str
    columns: list[list[str | None]] = []
    for name, key in fields:
        head = json.dumps(name) + ": [null, "
        columns.append([
            None if value is None or value == "" else
            (head + encode(value) + "]" if type(value) is str else _change_fragment(head, value))
            for value in [row.get(key) for row in rows]
        ])
    return ["{" + ", ".join(filter(None, parts)) + "}" for parts in zip(*columns, strict=True)]


# --- services -------------------------------------------------------------------------------------
def import_upload(*, actor: User, object_type: str, file_name: str, content: bytes) -> ImportJob:
    """Store an uploaded file as an ImportJob (status uploaded) with its headers and a suggested
    mapping. Refused (nothing stored) without the import permission or for unreadable files."""
    spec = spec_for(object_type)
    _require_import(actor, spec)
    if len(content) > _max_bytes():
        raise _too_large()
    name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
    try:
        table = open_table(content, file_format(name))
    except TabularError as error:
        raise _tabular_failure(error) from None
    headers = list(table.headers)
    mapping = mapping_suggest(headers, importable_columns(spec))
    return ImportJob.objects.create(
        object_type=object_type, file_name=name, content=content, headers=headers, mapping=mapping,
        status=ImportJob.Status.UPLOADED, created_by=actor,
    )


def import_validate(*, actor: User, import_id: int, mapping: Mapping[str, Any] | None = None) -> ImportJob:
    """Dry run: check the mapping, validate every row, store counts and the first errors.
    Writes only the ImportJob."""
    job = import_job_get(user=actor, import_id=import_id)
    spec = spec_for(job.object_type)
    _require_import(actor, spec)
    if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.VALIDATED):
        raise Conflict(_("这个导入已经提交，不能再修改或重新校验（状态：%(status)s）。")
                       % {"status": job.get_status_display()})
    job = ImportJob.objects.get(pk=job.pk)  # with the file content
    clean_mapping = _clean_mapping(job.mapping if mapping is None else mapping, job.headers,
                                   importable_columns(spec))
    tally = _Tally(columns_by_key=_columns_by_key(clean_mapping))
    chunks = iter(validated_chunks(spec=spec, job=job, actor=actor, mapping=clean_mapping))
    while True:
        with gc_paused():  # a chunk's rows are acyclic and short-lived (see `_commit_group`)
            chunk = next(chunks, None)
        if chunk is None:
            break
        tally.add(chunk)
    updated = ImportJob.objects.filter(
        pk=job.pk, status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.VALIDATED]
    ).update(mapping=clean_mapping, status=ImportJob.Status.VALIDATED, total_rows=tally.total,
             valid_rows=tally.valid, error_count=tally.error_count, errors=tally.errors, created_rows=0,
             warning_count=tally.warning_count, warnings=tally.warnings)
    if not updated:
        raise Conflict(_("这个导入已经提交，不能再重新校验。"))
    return import_job_get(user=actor, import_id=job.pk)


@transaction.atomic
def import_commit(*, actor: User, import_id: int) -> ImportJob:
    """Start the background import of a validated (or failed) ImportJob; exactly once."""
    from .tasks import import_commit as import_commit_task

    job = import_job_get(user=actor, import_id=import_id)
    spec = spec_for(job.object_type)
    _require_import(actor, spec)
    if job.status == ImportJob.Status.UPLOADED:
        raise Conflict(_("请先校验文件（试运行），再开始导入。"))
    if job.status == ImportJob.Status.VALIDATED and job.valid_rows == 0:
        raise ValidationFailed(_("没有可以导入的有效行。"),
                               errors=[FieldError("file", _("没有可以导入的有效行。"), "nothing_valid")])
    resume_from = 0
    if job.status == ImportJob.Status.FAILED and job.job_run_id:
        resume_from = JobRun.objects.filter(pk=job.job_run_id).values_list("progress", flat=True).first() or 0
    claimed = ImportJob.objects.filter(
        pk=job.pk, status__in=[ImportJob.Status.VALIDATED, ImportJob.Status.FAILED]
    ).update(status=ImportJob.Status.IMPORTING)
    if not claimed:
        raise Conflict(_("这个导入已经提交过了（状态：%(status)s）。") % {"status": job.get_status_display()})
    run = job_enqueue(task=import_commit_task, name="activity.import_commit",
                      arguments={"import_job_id": job.pk}, actor=actor)
    assert run is not None  # no unique key: always created
    job_progress(run.pk, resume_from, total=job.total_rows)
    ImportJob.objects.filter(pk=job.pk).update(job_run=run)
    return import_job_get(user=actor, import_id=job.pk)


def _created_add(job_id: int, count: int, **updates: Any) -> None:
    """Add `count` to the job's created rows, with `updates` while the job is still importing."""
    if updates and ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.IMPORTING).update(
            created_rows=F("created_rows") + count, **updates):
        return
    if count:
        ImportJob.objects.filter(pk=job_id).update(created_rows=F("created_rows") + count)


@contextmanager
def _import_page_cache() -> Iterator[None]:
    """SQLite: a page cache of IMPORT_CACHE_KIB on the importing connection while it commits, the
    configured size again after. The default (64 MiB) holds a fraction of the indexes an import of a
    million records writes to (the duplicate keys alone are ~0.5 GB), so every chunk would re-read
    most of their pages; the cache is allocated as it fills, so a small import costs no memory."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        configured = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        if connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {configured}")


@dataclass
class _Run:
    """What one commit run has done so far: rows created in committed transactions, how many of
    them the ImportJob's created_rows already holds, and when it is brought up to date next."""

    job_id: int
    created: int = 0
    counted: int = 0
    count_at: float = field(default_factory=lambda: time.monotonic() + CREATED_ROWS_EVERY)


def import_execute(*, run: JobRun) -> None:
    """Body of the `import_commit` task: re-validate and create the valid rows chunk by chunk.

    Chunks are committed in transactions of COMMIT_GROUP_SECONDS (one chunk at least): each chunk
    is validated inside the open transaction, so its duplicate checks see the rows of the chunks
    before it, and claims its position on the run's progress there. A failure rolls back the open
    transaction's chunks only; a retry resumes after the last committed chunk. The ImportJob's
    `created_rows` is brought up to date in a transaction at most every CREATED_ROWS_EVERY seconds
    (the row holds the uploaded file, which SQLite rewrites on every update of the row) and when the
    run stops: done, failed or overtaken."""
    import_job_id = int(run.arguments.get("import_job_id", 0))
    job = ImportJob.objects.select_related("created_by").filter(pk=import_job_id).first()
    if job is None or job.status != ImportJob.Status.IMPORTING or job.job_run_id != run.pk:
        status = job.status if job else "missing"
        job_log(run.pk, f"import #{import_job_id} is {status}, not importing with this run: nothing to do")
        return
    actor = job.created_by
    spec = spec_for(job.object_type)
    state = _Run(job_id=job.pk)
    tally = _Tally(columns_by_key=_columns_by_key(job.mapping))
    try:
        _require_import(actor, spec)
        chunks = iter(validated_chunks(spec=spec, job=job, actor=actor, mapping=job.mapping, committing=True))
        position = _Position(start=run.progress)
        with _import_page_cache():
            while _commit_group(spec, actor, run.pk, chunks, tally, position, state):
                pass
    except _ChunkTaken as taken:
        _created_add(job.pk, state.created - state.counted)
        job_log(run.pk, f"{taken} were already committed by another delivery of this run: stopping")
        return
    except Exception as error:
        _created_add(job.pk, state.created - state.counted, status=ImportJob.Status.FAILED)
        job_log(run.pk, f"import failed: {error.__class__.__name__}: {error}")
        raise
    created = state.created
    _created_add(job.pk, created - state.counted, status=ImportJob.Status.DONE, total_rows=tally.total,
                 valid_rows=tally.valid, error_count=tally.error_count, errors=tally.errors)
    job_progress(run.pk, position.processed, total=tally.total)
    job_log(run.pk, f"done: {created} {spec.object_type} records created, {tally.error_count} errors")
    if created >= IMPORT_ANALYZE_ROWS and refresh_planner_statistics(
            access.object_type(spec.object_type).model._meta.db_table):
        job_log(run.pk, "refreshed the query planner's statistics of the table (ANALYZE)")


@dataclass
class _Position:
    """Data rows read so far, and the rows an earlier attempt of the run committed (skipped)."""

    start: int
    processed: int = 0


def _commit_group(spec: TabularSpec, actor: User, run_id: int, chunks: Iterator[ChunkResult], tally: _Tally,
                  position: _Position, state: _Run) -> bool:
    """Commit chunks in one transaction until it is COMMIT_GROUP_SECONDS old; False once the file
    is done. `state` counts the transaction's rows only after it committed."""
    more = False
    group_created = 0
    counted_to = None  # created_rows brought up to this count inside the transaction
    # The cyclic collector is paused for the group (a few seconds of work): the rows, keys and audit
    # texts it makes are acyclic and freed by reference counting, and each full collection would
    # rescan the whole process for nothing (a tenth of an import's time, measured).
    with gc_paused(), transaction.atomic():
        opened = time.monotonic()
        for chunk in chunks:  # validated here, inside the transaction
            tally.add(chunk)
            before = position.processed
            position.processed += chunk.row_count
            if position.processed > position.start:  # else committed by an earlier attempt
                # The chunk claims its position in the transaction that writes it: a second delivery
                # of this task (or a concurrent worker) finds the progress moved on and creates nothing.
                claimed = JobRun.objects.filter(pk=run_id, progress=before).update(progress=position.processed)
                if not claimed:
                    raise _ChunkTaken(f"rows {before + 1}-{position.processed}")
                chunk_created = spec.commit_rows(actor, chunk.valid) if chunk.valid else 0
                group_created += chunk_created
                if time.monotonic() >= state.count_at:
                    counted_to = state.created + group_created
                    _created_add(state.job_id, counted_to - state.counted)
                    state.count_at = time.monotonic() + CREATED_ROWS_EVERY
                job_log(run_id, f"rows {before + 1}-{position.processed}: {chunk_created} created, "
                                f"{len(chunk.errors)} errors skipped")
            if time.monotonic() - opened >= COMMIT_GROUP_SECONDS:
                more = True
                break
    state.created += group_created
    if counted_to is not None:
        state.counted = counted_to
    return more


def import_error_rows(*, user: User, import_id: int) -> tuple[ImportJob, Iterator[list[Any]]]:
    """Rows of the downloadable error report (row, column, field, message). All errors when the
    file is still validated (re-validated now); otherwise the stored first 1,000."""
    job = import_job_get(user=user, import_id=import_id)
    spec = spec_for(job.object_type)
    _require_import(user, spec)

    def stored() -> Iterator[list[Any]]:
        for entry in job.errors:
            yield [entry.get("row"), entry.get("column", ""), entry.get("field", ""), entry.get("message", "")]

    if job.status != ImportJob.Status.VALIDATED or job.error_count <= len(job.errors):
        return job, stored()
    full = ImportJob.objects.get(pk=job.pk)
    by_key = _columns_by_key(full.mapping)

    def revalidated() -> Iterator[list[Any]]:
        for chunk in validated_chunks(spec=spec, job=full, actor=user, mapping=full.mapping):
            for error in chunk.errors:
                entry = _error_entry(error, by_key)
                yield [entry["row"], entry["column"], entry["field"], entry["message"]]

    return job, revalidated()


def import_template(*, user: User, object_type: str) -> tuple[list[str], list[list[str]]]:
    """Headers (Chinese labels of the importable columns) and one example row."""
    spec = spec_for(object_type)
    _require_import(user, spec)
    columns = importable_columns(spec)
    return [header_label(column) for column in columns], [[column.example for column in columns]]
