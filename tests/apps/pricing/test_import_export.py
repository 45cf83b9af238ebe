"""Price-book entries import/export: the export's shape re-imports unchanged; a bad row refuses the whole
file with the row, column and code of every problem; the generic TabularSpec exports the same cells."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from l2c.apps.pricing import importers, services
from l2c.apps.pricing.models import PriceBook, PriceBookEntry, PriceTier
from l2c.kernel.errors import PermissionDenied, ValidationFailed
from l2c.kernel.tabular import csv_chunks


@pytest.fixture
def source(org, catalogue):
    book = services.price_book_create(actor=org["manager"], data={"code": "list", "name": "标准价目表"})
    manager = org["manager"]
    services.price_entry_upsert(actor=manager, book_id=book.pk, sku_code="SRV-1", data={
        "method": "fixed", "floor_price": "80", "tier_mode": "graduated",
        "tiers": [{"min_quantity": 1, "unit_price": "100"}, {"min_quantity": 10, "unit_price": "90", "flat_fee": "5"}]})
    services.price_entry_upsert(actor=manager, book_id=book.pk, sku_code="SRV-2",
                                data={"method": "block", "unit_price": "500", "block_size": "10"})
    services.price_entry_upsert(actor=manager, book_id=book.pk, sku_code="INST-1", data={
        "method": "percent_of_total", "percent": "15", "percent_of": ["type:goods", "hardware"]})
    return book


def csv_bytes(headers, rows):
    return b"".join(csv_chunks(headers, rows))


def snapshot(book):
    entries = PriceBookEntry.objects.filter(book=book).select_related("sku").prefetch_related("tiers")
    return sorted((entry.sku.code, entry.method, entry.unit_price, entry.block_size, entry.markup_percent,
                   entry.percent, tuple(entry.percent_of), entry.tier_mode, entry.floor_price,
                   tuple((t.min_quantity, t.unit_price, t.flat_fee) for t in entry.tiers.all())) for entry in entries)


def test_export_shape(source):
    headers, rows = importers.book_entries_table(source)
    rows = list(rows)

    assert headers[:9] == ["SKU 编码", "计价方式", "单价", "每块数量", "加成 %", "百分比 %", "百分比基数",
                           "阶梯方式", "底价"]
    assert len(headers) == 9 + 3 * importers.EXPORT_TIER_COLUMNS
    by_sku = {row[0]: row for row in rows}
    assert by_sku["SRV-1"][:15] == ["SRV-1", "fixed", "0", "", "", "", "", "graduated", "80", "1", "100", "0", "10",
                                    "90", "5"]
    assert by_sku["SRV-2"][:4] == ["SRV-2", "block", "500", "10"]
    assert by_sku["INST-1"][5:7] == ["15", "hardware;type:goods"]


def test_round_trip_into_another_book(org, source):
    headers, rows = importers.book_entries_table(source)
    target = services.price_book_create(actor=org["manager"], data={"code": "copy", "name": "副本"})

    count = importers.price_book_entries_import(actor=org["manager"], book_id=target.pk, file_name="entries.csv",
                                                content=csv_bytes(headers, rows))

    assert count == 3
    assert snapshot(target) == snapshot(source)
    assert PriceBook.objects.get(pk=target.pk).version == 2


def test_an_entry_with_more_tiers_than_the_usual_columns_round_trips_whole(org, source):
    tiers = [{"min_quantity": 1 + 10 * index, "unit_price": str(100 - index), "flat_fee": str(index)}
             for index in range(services.MAX_TIERS)]
    services.price_entry_upsert(actor=org["manager"], book_id=source.pk, sku_code="SRV-1",
                                data={"method": "fixed", "tier_mode": "volume", "tiers": tiers})
    headers, rows = importers.book_entries_table(source)
    assert len(headers) == 9 + 3 * services.MAX_TIERS
    assert headers[-3:] == ["第20档起始数量", "第20档单价", "第20档固定费用"]
    target = services.price_book_create(actor=org["manager"], data={"code": "copy", "name": "副本"})

    importers.price_book_entries_import(actor=org["manager"], book_id=target.pk, file_name="entries.csv",
                                        content=csv_bytes(headers, rows))

    assert snapshot(target) == snapshot(source)
    assert len(snapshot(target)[[entry[0] for entry in snapshot(target)].index("SRV-1")][-1]) == services.MAX_TIERS


def test_a_bad_row_refuses_the_whole_file(org, source):
    headers, rows = importers.book_entries_table(source)
    rows = list(rows)
    rows.append(["SRV-2", "block", "500", "", "", "", "", "none", ""] + [""] * 15)  # block without block_size
    rows.append(["NOPE", "fixed", "1"] + [""] * 21)
    rows.append(["SRV-1", "fixed", "1"] + [""] * 21)  # duplicate of row 1
    bad_tiers = ["SRV-2", "fixed", "", "", "", "", "", "volume", "", "5", "10", "", "1", "9", ""] + [""] * 9
    rows.append(bad_tiers)
    target = services.price_book_create(actor=org["manager"], data={"code": "copy", "name": "副本"})

    with pytest.raises(ValidationFailed) as caught:
        importers.price_book_entries_import(actor=org["manager"], book_id=target.pk, file_name="entries.csv",
                                            content=csv_bytes(headers, rows))

    assert [(e.row, e.field, e.code) for e in caught.value.errors] == [
        (4, "block_size", "required"),
        (5, "sku", "not_found"),
        (6, "sku", "duplicate"),
        (7, "tier1_min", "first_tier_start"),
        (7, "tier2_min", "not_ascending"),
    ]
    assert PriceBookEntry.objects.filter(book=target).count() == 0
    assert PriceTier.objects.filter(entry__book=target).count() == 0


def test_import_accepts_chinese_labels_of_method_and_mode(org, catalogue):
    target = services.price_book_create(actor=org["manager"], data={"code": "cn", "name": "中文"})
    content = "SKU 编码,计价方式,单价,阶梯方式,第1档起始数量,第1档单价\nSRV-1,固定单价,,总量阶梯,0,99.5\n".encode()

    importers.price_book_entries_import(actor=org["manager"], book_id=target.pk, file_name="x.csv", content=content)

    entry = PriceBookEntry.objects.get(book=target)
    assert (entry.method, entry.tier_mode) == ("fixed", "volume")
    assert [(t.min_quantity, t.unit_price) for t in entry.tiers.all()] == [(Decimal(0), Decimal("99.5"))]


def test_import_needs_edit_and_import_permission(org, source):
    headers, rows = importers.book_entries_table(source)
    with pytest.raises(PermissionDenied):
        importers.price_book_entries_import(actor=org["rep1"], book_id=source.pk, file_name="x.csv",
                                            content=csv_bytes(headers, rows))


def test_import_page_shows_row_errors(org, source):
    client = Client()
    client.force_login(org["manager"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("bad.csv", "SKU 编码,计价方式,单价\nSRV-1,fixed,-1\n".encode())
    response = client.post(f"/pricing/books/{source.pk}/import/", {"file": upload})

    assert response.status_code == 422
    assert "不能为负数" in response.content.decode()
    assert PriceBookEntry.objects.get(book=source, sku__code="SRV-1").tier_mode == "graduated"

    export = client.get(f"/pricing/books/{source.pk}/export.csv")
    lines = b"".join(export.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("SKU 编码,计价方式,单价")
    assert len(lines) == 4


def test_generic_spec_exports_entries_with_the_book_code(org, source):
    from l2c.apps.activity.imports import spec_for

    spec = spec_for("price_book")
    rows = list(spec.export_rows(spec.export_queryset(org["finance"], {"book_id": source.pk})))

    assert [(row["book"], row["sku"], row["method"]) for row in rows] == [
        ("list", "INST-1", "percent_of_total"), ("list", "SRV-1", "fixed"), ("list", "SRV-2", "block")]
    assert list(spec.export_queryset(org["marketing"], {})) == []


def test_generic_spec_validates_and_commits_rows(org, source):
    from django.db import transaction

    from l2c.apps.activity.imports import ImportContext, spec_for

    spec = spec_for("price_book")
    context = ImportContext(actor=org["manager"], object_type="price_book", custom_fields=[])
    rows = [{"book": "list", "sku": "SRV-2", "method": "fixed", "unit_price": "130"},
            {"book": "nope", "sku": "SRV-2", "method": "fixed", "unit_price": "1"},
            {"book": "list", "sku": "SRV-1", "method": "block", "unit_price": "1"}]
    spec.preload(context, rows)

    results = [spec.validate_row(row, number, context) for number, row in enumerate(rows, 1)]

    assert [[(e.field, e.code) for e in errors] for _clean, errors in results] == [
        [], [("book", "not_found")], [("block_size", "required")]]
    with transaction.atomic():
        assert spec.commit_rows(org["manager"], [results[0][0]]) == 1
    entry = PriceBookEntry.objects.get(book=source, sku__code="SRV-2")
    assert (entry.method, entry.unit_price, entry.block_size) == ("fixed", Decimal(130), None)
    # A rep may not edit the book: its code is "not found" for them.
    rep_context = ImportContext(actor=org["rep1"], object_type="price_book", custom_fields=[])
    spec.preload(rep_context, rows[:1])
    assert [(e.field, e.code) for e in spec.validate_row(rows[0], 1, rep_context)[1]] == [("book", "not_found")]
