"""Reading and writing tabular files (CSV and XLSX) for imports and exports. Pure: no Django.

Reading
- The format comes from the file name (``.csv`` / ``.xlsx``) and is confirmed by sniffing the
  content: an XLSX file must be a zip holding a workbook; a CSV file must decode as text.
- CSV encoding is detected: a BOM (UTF-8, UTF-16) wins; otherwise strict UTF-8, then GB18030 (a
  superset of GBK/GB2312, what Chinese Excel writes). The delimiter is the most frequent of
  ``,`` tab ``;`` in the header line.
- XLSX is read with openpyxl in read-only mode, first worksheet, values not formulas. Every cell is
  turned into TEXT (`cell_text`): a float that holds an integer (a phone typed as a number) gives
  its integer digits, other floats their shortest decimal text, dates ISO 8601.
- Rows are produced lazily. The first non-blank row is the header; data row numbers count from 1
  for the line right below it (so spreadsheet row = data row + header line number). Blank rows
  are skipped but keep their number.
- A leading apostrophe that `neutralise_formula` added on export is removed again, so an exported
  file can be re-imported unchanged.

Writing
- CSV is UTF-8 with a BOM (Excel opens Chinese correctly) and CRLF line ends, produced in chunks.
- XLSX uses openpyxl's write-only mode.
- Every text cell passes through `neutralise_formula`: text starting with ``= + - @``, tab or CR
  gets a leading ``'`` so a spreadsheet never evaluates it (CSV/formula injection).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

__all__ = [
    "FORMATS",
    "FORMULA_PREFIXES",
    "Table",
    "TabularError",
    "cell_text",
    "csv_chunks",
    "file_format",
    "neutralise_formula",
    "open_table",
    "restore_neutralised",
    "write_xlsx",
]

FORMATS = ("csv", "xlsx")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_COLUMNS = 500
# A workbook whose parts inflate beyond this is refused (zip bomb); real sheets compress ~5-20x.
DEFAULT_MAX_UNCOMPRESSED = 2 * 1024 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Every byte but the control characters of _CONTROL: deleting them leaves those (one fast pass).
_NOT_CONTROL_BYTES = bytes(byte for byte in range(256) if not _CONTROL.match(chr(byte)))
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SNIFF_DELIMITERS = (",", "\t", ";")


class TabularError(ValueError):
    """The file cannot be read as a table. `code` is stable; `message` says why in English; `params`
    are the values a translated message of the code needs (e.g. the duplicate header)."""

    def __init__(self, code: str, message: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params: dict[str, object] = dict(params or {})


# --- cells ----------------------------------------------------------------------------------------
def neutralise_formula(value: Any) -> Any:
    """Prefix ``'`` to text that a spreadsheet would treat as a formula; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def restore_neutralised(value: str) -> str:
    """Undo `neutralise_formula` on text read back from a file."""
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def cell_text(value: Any) -> str:
    """A spreadsheet cell value as the text a person typed (codes and phones stay digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return format(Decimal(str(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return restore_neutralised(str(value))


def _is_blank(cells: Sequence[str]) -> bool:
    return all(not cell.strip() for cell in cells)


# --- format detection -----------------------------------------------------------------------------
def file_format(file_name: str) -> str:
    """``csv`` or ``xlsx`` from the file name; anything else is refused."""
    lowered = file_name.strip().lower()
    for fmt in FORMATS:
        if lowered.endswith("." + fmt):
            return fmt
    if lowered.endswith((".xls", ".xlsm", ".xlsb", ".et", ".numbers", ".ods")):
        raise TabularError("unsupported_workbook",
                           "Only .xlsx workbooks are supported; save the file as .xlsx or .csv.")
    raise TabularError("unsupported_extension", "The file must be a .csv or .xlsx file.")


def _check_xlsx(content: bytes, max_uncompressed: int) -> None:
    if not content.startswith(b"PK\x03\x04"):
        raise TabularError("not_xlsx", "The file is named .xlsx but is not an Excel workbook (not a zip file).")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise TabularError("not_xlsx", "The file is named .xlsx but is not a readable zip file.") from None
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise TabularError("not_xlsx", "The zip file does not contain an Excel workbook.")
    if sum(info.file_size for info in infos) > max_uncompressed:
        raise TabularError("too_large", "The workbook is too large once uncompressed.")


def _encoding(content: bytes, *, verified: bool = False) -> str:
    """The encoding of CSV bytes, or TabularError when they are not text in a supported one.
    `verified`: these bytes passed this check before (a stored upload), so a BOM, which names the
    encoding, is enough; otherwise the whole content is decoded."""
    if content.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        if content.startswith(b"PK\x03\x04"):
            raise TabularError("not_csv", "The file is named .csv but is a zip file (an .xlsx workbook?).")
        candidates = ["utf-8", "gb18030"]
    if verified and len(candidates) == 1:
        return candidates[0]
    if candidates != ["utf-16"] and content.translate(None, _NOT_CONTROL_BYTES):
        # In UTF-8 and GB18030 a byte below 0x20 is always that ASCII character (every byte of a
        # multi-byte sequence is 0x30 or above), so the bytes tell without decoding.
        raise TabularError("not_csv", "The file is not a text (CSV) file in UTF-8 or GBK.")
    for encoding in candidates:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16" and _CONTROL.search(text):
            break
        return encoding
    raise TabularError("not_csv", "The file is not a text (CSV) file in UTF-8 or GBK.")


def _first_line(content: bytes, encoding: str) -> str:
    """The first non-blank line of the text, read lazily (a file may hold a million lines)."""
    stream = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, errors="replace", newline="")
    return next((line for line in stream if line.strip()), "")


def _delimiter(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in _SNIFF_DELIMITERS}
    best = max(_SNIFF_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


# --- reading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """A readable table: its header cells and a lazy, repeatable iteration over data rows."""

    fmt: str
    content: bytes
    headers: tuple[str, ...]
    header_line: int  # 1-based line/row number of the header in the file
    encoding: str = ""
    delimiter: str = ","

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(data row number, cells) for each non-blank row below the header; cells padded or cut
        to the header width."""
        width = len(self.headers)
        for line_number, cells in self._raw_rows():
            if line_number <= self.header_line:
                continue
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            elif len(cells) > width:
                cells = cells[:width]
            if _is_blank(cells):
                continue
            yield line_number - self.header_line, cells

    def _raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        if self.fmt == "csv":
            yield from _csv_rows(self.content, self.encoding, self.delimiter)
        else:
            yield from _xlsx_rows(self.content)


def _csv_rows(content: bytes, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    stream = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, newline="")
    reader = csv.reader(stream, delimiter=delimiter)
    index = 0
    try:
        for index, row in enumerate(reader, start=1):
            # Only a cell starting with an apostrophe can be a neutralised formula: most rows have none.
            if "'" in "".join(row):
                row = [restore_neutralised(cell) for cell in row[:MAX_COLUMNS]]
            yield index, row[:MAX_COLUMNS]
    except csv.Error as error:
        raise TabularError("bad_csv", f"The CSV file cannot be read after record {index}: {error}.",
                           {"record": index, "reason": str(error)}) from None
    except UnicodeDecodeError:  # only bytes not checked whole (see open_table's `verified`)
        raise TabularError("not_csv", "The file is not a text (CSV) file in UTF-8 or GBK.") from None


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for damaged files
        raise TabularError("not_xlsx", f"The workbook cannot be read: {error.__class__.__name__}.") from None
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield index, [cell_text(value) for value in values[:MAX_COLUMNS]]
    finally:
        workbook.close()


def _headers(rows: Iterator[tuple[int, list[str]]]) -> tuple[int, tuple[str, ...]]:
    for line_number, cells in rows:
        if _is_blank(cells):
            continue
        cleaned = [cell.strip().lstrip("\ufeff").strip() for cell in cells]
        while cleaned and not cleaned[-1]:
            cleaned.pop()
        if len(cleaned) > MAX_COLUMNS:
            raise TabularError("too_many_columns", f"The file has more than {MAX_COLUMNS} columns.",
                               {"limit": MAX_COLUMNS})
        headers = [cell or f"#{position}" for position, cell in enumerate(cleaned, start=1)]
        seen: dict[str, int] = {}
        for position, header in enumerate(headers, start=1):
            if header in seen:
                raise TabularError("duplicate_header",
                                   f"Column header {header!r} appears twice (columns {seen[header]} and {position}).",
                                   {"header": header, "first": seen[header], "second": position})
            seen[header] = position
        return line_number, tuple(headers)
    raise TabularError("empty", "The file has no header row (it is empty).")


def open_table(content: bytes, fmt: str, *, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
               verified: bool = False) -> Table:
    """Sniff `content` as `fmt` (``csv``/``xlsx``) and read its header row. `verified`: the same
    bytes were opened before (a stored upload read again), so a CSV with a byte-order mark is not
    decoded whole again before its first rows are read."""
    if not content:
        raise TabularError("empty", "The file is empty.")
    if fmt == "xlsx":
        _check_xlsx(content, max_uncompressed)
        header_line, headers = _headers(_xlsx_rows(content))
        return Table(fmt="xlsx", content=content, headers=headers, header_line=header_line)
    if fmt == "csv":
        encoding = _encoding(content, verified=verified)
        delimiter = _delimiter(_first_line(content, encoding))
        header_line, headers = _headers(_csv_rows(content, encoding, delimiter))
        return Table(fmt="csv", content=content, headers=headers, header_line=header_line,
                     encoding=encoding, delimiter=delimiter)
    raise TabularError("unsupported_extension", "The file must be a .csv or .xlsx file.")


# --- writing --------------------------------------------------------------------------------------
def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return str(neutralise_formula(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(neutralise_formula(str(value)))


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """UTF-8 (with BOM) CSV bytes in chunks of about `rows_per_chunk` rows, for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_csv_cell(header) for header in headers])
    yield codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


def _xlsx_cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return _XLSX_ILLEGAL.sub("", str(neutralise_formula(value)))
    if isinstance(value, bool | int | Decimal):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is None else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value
    return _XLSX_ILLEGAL.sub("", str(neutralise_formula(str(value))))


def write_xlsx(target: IO[bytes], headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
               sheet_title: str = "Sheet1", text_columns: bool = False) -> None:
    """Write one worksheet (header row + rows) to `target` with openpyxl's write-only mode.

    `text_columns` formats every column as text (``@``) so values typed later into the file, such
    as phone numbers with a leading 0, stay text: used for import templates.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_XLSX_ILLEGAL.sub("", sheet_title)[:31] or "Sheet1")
    for position, header in enumerate(headers, start=1):
        dimension = sheet.column_dimensions[get_column_letter(position)]
        dimension.width = min(60, max(10, len(str(header)) * 2 + 2))
        if text_columns:
            dimension.number_format = "@"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=_xlsx_cell(str(header)))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        if text_columns:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=_xlsx_cell(value))
                cell.number_format = "@"
                cells.append(cell)
            sheet.append(cells)
        else:
            sheet.append([_xlsx_cell(value) for value in row])
    workbook.save(target)
