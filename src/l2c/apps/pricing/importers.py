"""Import/export of price-book entries (价目表条目), tiers as columns.

Columns: sku (SKU code); method (fixed / block / cost_plus / percent_of_total, or their Chinese
labels); unit_price; block_size; markup_percent; percent; percent_of ("type:goods;hardware" — category
codes and/or product types, separated by ; , 、); tier_mode (none / volume / graduated); floor_price;
tier1_min, tier1_price, tier1_fee … tier5_*. Each cell is checked by the same cleaner the services use
(`services.clean_entry`) and every bad cell is reported with its row and column.

Two ways in:
- the book page (`price_book_entries_import`): one book, **all or nothing** — any bad row and nothing is
  written; the export of the book (`book_entries_table`) has exactly the import's shape;
- the generic import/export pages (`TabularSpec` of object type "price_book", registered in
  `PricingConfig.ready`), with an extra `book` column (the book code); they follow the generic policy
  (valid rows are imported, bad rows reported).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max, QuerySet
from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.audit import audit_bulk
from l2c.apps.activity.imports import SOURCE_LANGUAGE, ColumnSpec, ImportContext, TabularSpec, mapping_suggest, register
from l2c.apps.activity.models import AuditEvent
from l2c.apps.catalog.models import Sku
from l2c.apps.catalog.services import rules_version_bump
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, ValidationFailed
from l2c.kernel.tabular import TabularError, file_format, open_table

from . import services
from .models import PriceBook, PriceBookEntry, PriceMethod, TierMode

TIER_COLUMNS = services.MAX_TIERS  # an import reads every tier an entry may hold
EXPORT_TIER_COLUMNS = 5  # an export writes this many tier columns, more when an entry has more
MAX_ROWS = 50_000
LABELS: dict[str, Any] = {
    "sku": gettext_lazy("SKU 编码"), "method": gettext_lazy("计价方式"), "unit_price": gettext_lazy("单价"),
    "block_size": gettext_lazy("每块数量"), "markup_percent": gettext_lazy("加成 %"),
    "percent": gettext_lazy("百分比 %"), "percent_of": gettext_lazy("百分比基数"),
    "tier_mode": gettext_lazy("阶梯方式"), "floor_price": gettext_lazy("底价"),
}
for _number in range(1, TIER_COLUMNS + 1):
    LABELS[f"tier{_number}_min"] = format_lazy(gettext_lazy("第{n}档起始数量"), n=_number)
    LABELS[f"tier{_number}_price"] = format_lazy(gettext_lazy("第{n}档单价"), n=_number)
    LABELS[f"tier{_number}_fee"] = format_lazy(gettext_lazy("第{n}档固定费用"), n=_number)
KEYS = list(LABELS)
EXAMPLE = {"sku": "SRV-1", "method": "fixed", "unit_price": "12800.00", "tier_mode": "volume", "tier1_min": "1",
           "tier1_price": "12800", "tier2_min": "10", "tier2_price": "12000"}


def _keys(tiers: int = EXPORT_TIER_COLUMNS) -> list[str]:
    """The columns of a file with `tiers` tier column groups."""
    return [key for key in KEYS if not key.startswith("tier") or key == "tier_mode"
            or int(key[4:].split("_")[0]) <= tiers]


def header_labels(tiers: int = EXPORT_TIER_COLUMNS) -> list[str]:
    with translation.override(SOURCE_LANGUAGE):
        return [str(LABELS[key]) for key in _keys(tiers)]


def _choice_lookup(choices: list[tuple[str, Any]]) -> dict[str, str]:
    with translation.override(SOURCE_LANGUAGE):
        lookup = {str(label): value for value, label in choices}
    return {**lookup, **{value: value for value, _label in choices}}


def _column_of(field: str) -> str:
    """The import column of a service field ("tiers.1.unit_price" → "tier2_price")."""
    parts = field.split(".")
    if parts[0] == "tiers" and len(parts) == 3 and parts[1].isdigit():
        suffix = {"min_quantity": "min", "unit_price": "price", "flat_fee": "fee"}.get(parts[2], parts[2])
        return f"tier{int(parts[1]) + 1}_{suffix}"
    return field


def clean_row(row: Mapping[str, str], number: int) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """(entry data for `services.clean_entry` + "sku", []) or (None, errors of this row)."""
    errors: list[FieldError] = []
    methods = _choice_lookup(PriceMethod.choices)
    modes = _choice_lookup(TierMode.choices)
    method_cell = (row.get("method") or "").strip() or PriceMethod.FIXED
    mode_cell = (row.get("tier_mode") or "").strip() or TierMode.NONE
    data: dict[str, Any] = {
        "method": methods.get(method_cell, method_cell), "tier_mode": modes.get(mode_cell, mode_cell),
        **{key: (row.get(key) or "").strip() or None for key in ("unit_price", "block_size", "markup_percent",
                                                                "percent", "floor_price")},
        "percent_of": [part.strip() for part in (row.get("percent_of") or "").replace("、", ";").replace(",", ";")
                       .split(";") if part.strip()],
        "tiers": []}
    for index in range(1, TIER_COLUMNS + 1):
        cells = [(row.get(f"tier{index}_{suffix}") or "").strip() for suffix in ("min", "price", "fee")]
        if any(cells):
            data["tiers"].append({"min_quantity": cells[0], "unit_price": cells[1], "flat_fee": cells[2] or "0"})
    cleaned_errors: list[FieldError] = []
    services.clean_entry(data, cleaned_errors)
    errors += [FieldError(_column_of(error.field), error.message, error.code, number) for error in cleaned_errors]
    sku = (row.get("sku") or "").strip()
    if not sku:
        errors.append(FieldError("sku", _("必填：SKU 编码。"), "required", number))
    data["sku"] = sku
    return (None, errors) if errors else (data, [])


def _skus(codes: list[str]) -> dict[str, Sku]:
    return {sku.code: sku for sku in Sku.objects.filter(code__in=codes)}


def _write(actor: User, book: PriceBook, rows: list[tuple[Sku, dict[str, Any]]]) -> int:
    for sku, data in rows:
        cleaned = services.clean_entry(data, [])
        services.entry_write(book, sku, cleaned)
    PriceBook.objects.filter(pk=book.pk).update(version=F("version") + 1)
    audit_bulk(actor_id=actor.pk, events=[{
        "object_type": "price_book", "object_id": book.pk, "action": AuditEvent.Kind.IMPORT, "object_repr": str(book),
        "changes": {"entries": [None, len(rows)]}, "summary": _("导入 %(count)s 条价格") % {"count": len(rows)}}])
    rules_version_bump()
    return len(rows)


def price_book_entries_import(*, actor: User, book_id: int, file_name: str, content: bytes) -> int:
    """Import the entries of one book from a CSV/XLSX file, all or nothing: every row is checked and
    any error (with its row number and column) refuses the whole file. Existing SKUs are replaced."""
    book = access.get_for_action(actor, "price_book", book_id, "edit")
    access.require(actor, "price_book", "import")
    try:
        table = open_table(content, file_format(file_name))
    except TabularError as error:
        message = _("无法读取文件：只支持 UTF-8/GBK 编码的 .csv 或 .xlsx 文件。")
        raise ValidationFailed(message, errors=[FieldError("file", message, error.code)]) from None
    columns = [ColumnSpec(key=key, label=LABELS[key], aliases=(key,)) for key in KEYS]
    mapping = mapping_suggest(list(table.headers), columns)
    if "sku" not in mapping.values():
        message = _("文件缺少“SKU 编码”列。")
        raise ValidationFailed(message, errors=[FieldError("file", message, "required")])
    positions = [(index, mapping[header]) for index, header in enumerate(table.headers) if header in mapping]
    errors: list[FieldError] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for number, cells in table.rows():
        if number > MAX_ROWS:
            errors.append(FieldError("file", _("最多 %(limit)s 行。") % {"limit": MAX_ROWS}, "too_many_rows", number))
            break
        row = {key: cells[index] if index < len(cells) else "" for index, key in positions}
        data, row_errors = clean_row(row, number)
        errors += row_errors
        if data is not None:
            if data["sku"] in seen:
                errors.append(FieldError("sku", _("SKU“%(sku)s”与第 %(row)s 行重复。") % {"sku": data["sku"],
                                                                                   "row": seen[data["sku"]]},
                                         "duplicate", number))
            seen.setdefault(data["sku"], number)
            parsed.append((number, data))
    skus = _skus([data["sku"] for _number, data in parsed])
    for number, data in parsed:
        if data["sku"] not in skus:
            errors.append(FieldError("sku", _("没有编码为“%(code)s”的 SKU。") % {"code": data["sku"][:80]}, "not_found",
                                     number))
    if not parsed and not errors:
        errors.append(FieldError("file", _("文件没有数据行。"), "empty"))
    if errors:
        errors.sort(key=lambda error: (error.row or 0, KEYS.index(error.field) if error.field in KEYS else 99))
        raise ValidationFailed(_("文件有 %(count)s 处错误，没有导入任何数据。") % {"count": len(errors)}, errors=errors)
    with transaction.atomic():
        return _write(actor, PriceBook.objects.select_for_update().get(pk=book.pk),
                      [(skus[data["sku"]], data) for _number, data in parsed])


def _number_text(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def _entry_cells(entry: PriceBookEntry) -> dict[str, str]:
    cells = {"sku": entry.sku.code, "method": entry.method, "unit_price": _number_text(entry.unit_price),
             "block_size": _number_text(entry.block_size), "markup_percent": _number_text(entry.markup_percent),
             "percent": _number_text(entry.percent), "percent_of": ";".join(entry.percent_of or []),
             "tier_mode": entry.tier_mode, "floor_price": _number_text(entry.floor_price)}
    for index, tier in enumerate(entry.tiers.all(), 1):
        cells[f"tier{index}_min"] = _number_text(tier.min_quantity)
        cells[f"tier{index}_price"] = _number_text(tier.unit_price)
        cells[f"tier{index}_fee"] = _number_text(tier.flat_fee)
    return cells


def book_entries_table(book: PriceBook) -> tuple[list[str], Iterator[list[str]]]:
    """Headers and rows of a book's entries in the import's shape (SKU code order)."""
    entries = PriceBookEntry.objects.filter(book=book).select_related("sku").prefetch_related("tiers").order_by(
        "sku__code")
    # Every tier goes out (the import replaces an entry's tiers: a cut column would lose them).
    most = entries.annotate(count=Count("tiers")).aggregate(most=Max("count"))["most"] or 0
    tiers = max(EXPORT_TIER_COLUMNS, most)
    keys = _keys(tiers)

    def rows() -> Iterator[list[str]]:
        for entry in entries.iterator(chunk_size=1000):
            cells = _entry_cells(entry)
            yield [cells.get(key, "") for key in keys]

    return header_labels(tiers), rows()


# --- the generic import/export pages ---------------------------------------------------------------------
def _columns() -> list[ColumnSpec]:
    return [ColumnSpec(key="book", label=gettext_lazy("价目表代码"), aliases=("book", "价目表", "price book"),
                       required=True, example="list-cny"),
            *(ColumnSpec(key=key, label=LABELS[key], aliases=(key,), required=key == "sku",
                         example=EXAMPLE.get(key, "")) for key in KEYS)]


def _preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    codes = {(row.get("book") or "").strip() for row in rows} - set(context.cache.setdefault("books", {}))
    editable = access.restrict(PriceBook.objects.filter(code__in=codes), context.actor, "price_book", "edit")
    for book in editable:
        context.cache["books"][book.code] = book
    context.cache["skus"] = _skus([(row.get("sku") or "").strip() for row in rows])


def _validate(row: dict[str, str], number: int,
              context: ImportContext) -> tuple[dict[str, Any] | None, list[FieldError]]:
    data, errors = clean_row(row, number)
    code = (row.get("book") or "").strip()
    book = context.cache["books"].get(code)
    if book is None:
        errors.append(FieldError("book", _("没有代码为“%(code)s”且你可以编辑的价目表。") % {"code": code[:60]},
                                 "not_found", number))
    sku = context.cache["skus"].get((row.get("sku") or "").strip())
    if data is not None and sku is None:
        errors.append(FieldError("sku", _("没有编码为“%(code)s”的 SKU。") % {"code": data["sku"][:80]}, "not_found",
                                 number))
    if errors or data is None:
        return None, errors
    return {**data, "book": book, "sku_record": sku}, []


def _commit(actor: User, rows: list[dict[str, Any]]) -> int:
    by_book: dict[int, tuple[PriceBook, list[tuple[Sku, dict[str, Any]]]]] = {}
    for row in rows:
        by_book.setdefault(row["book"].pk, (row["book"], []))[1].append((row["sku_record"], row))
    return sum(_write(actor, book, items) for book, items in by_book.values())


def _export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[PriceBookEntry]:
    books = access.restrict(PriceBook.objects.all(), user, "price_book", "export")
    entries = PriceBookEntry.objects.filter(book__in=books)
    if filters.get("book_id"):
        entries = entries.filter(book_id=int(filters["book_id"]))
    return entries.order_by("book__code", "sku__code")


def _export_rows(queryset: QuerySet[PriceBookEntry]) -> Iterator[dict[str, Any]]:
    for entry in queryset.select_related("book", "sku").prefetch_related("tiers").iterator(chunk_size=1000):
        yield {"book": entry.book.code, **_entry_cells(entry), "custom": {}}


def register_price_book_entries() -> None:
    """Register the entries importer/exporter with the activity import machinery (object type "price_book")."""
    register(TabularSpec(
        object_type="price_book", label=gettext_lazy("价目表条目"), fields=tuple(_columns()),
        validate_row=_validate, preload=_preload, commit_rows=_commit, export_rows=_export_rows,
        export_queryset=_export_queryset, export_filters=("book_id",)))
