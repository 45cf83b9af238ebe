"""Reading CSV/XLSX as text tables and writing neutralised CSV/XLSX (no Django)."""

from __future__ import annotations

import codecs
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from l2c.kernel.tabular import (
    TabularError,
    cell_text,
    csv_chunks,
    file_format,
    neutralise_formula,
    open_table,
    restore_neutralised,
    write_xlsx,
)

HEADER_AND_ROWS = "客户名称,统一社会信用代码,电话\r\n北京星河科技有限公司,91110108551385082Q,010-62345678\r\n"


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("encoding", "expected"), [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-16", "utf-16"),
])
def test_csv_with_chinese_headers_decodes_in_every_supported_encoding(encoding, expected):
    table = open_table(HEADER_AND_ROWS.encode(encoding), "csv")

    assert table.encoding == expected
    assert table.headers == ("客户名称", "统一社会信用代码", "电话")
    assert list(table.rows()) == [(1, ["北京星河科技有限公司", "91110108551385082Q", "010-62345678"])]


def test_csv_delimiter_is_sniffed_from_the_header_line():
    table = open_table("名称;电话\n甲;010\n".encode(), "csv")

    assert table.delimiter == ";"
    assert list(table.rows()) == [(1, ["甲", "010"])]


def test_csv_rows_are_padded_cut_and_blank_rows_skipped_keeping_their_numbers():
    content = "\n名称,电话\n甲\n,\n乙,020,extra\n".encode()

    table = open_table(content, "csv")

    assert table.header_line == 2
    assert list(table.rows()) == [(1, ["甲", ""]), (3, ["乙", "020"])]


def test_rows_are_lazy_and_repeatable():
    table = open_table(HEADER_AND_ROWS.encode(), "csv")

    first = next(table.rows())

    assert first[0] == 1
    assert len(list(table.rows())) == 1


def test_xlsx_keeps_credit_codes_and_phone_numbers_as_text():
    content = _xlsx([
        ["客户名称", "统一社会信用代码", "电话", "注册资本", "成立日期"],
        ["甲", "91110108551385082Q", 13800138000, 1234.5, dt.datetime(2015, 6, 1)],
        ["乙", "914403001922038216", 13800138001.0, Decimal("10"), None],
    ])

    table = open_table(content, "xlsx")

    assert table.headers == ("客户名称", "统一社会信用代码", "电话", "注册资本", "成立日期")
    assert list(table.rows()) == [
        (1, ["甲", "91110108551385082Q", "13800138000", "1234.5", "2015-06-01"]),
        (2, ["乙", "914403001922038216", "13800138001", "10", ""]),
    ]


@pytest.mark.parametrize(("value", "expected"), [
    (None, ""), (True, "true"), (42, "42"), (13800138000.0, "13800138000"), (0.1, "0.1"), (1e-7, "0.0000001"),
    (Decimal("1.50"), "1.50"), (dt.date(2026, 1, 31), "2026-01-31"),
    (dt.datetime(2026, 1, 31, 8, 30), "2026-01-31 08:30:00"),
    ("'=A1", "=A1"), ("'abc", "'abc"), ("text", "text"),
])
def test_cell_text(value, expected):
    assert cell_text(value) == expected


def test_duplicate_headers_are_refused_and_blank_headers_get_a_position_name():
    with pytest.raises(TabularError) as error:
        open_table("名称,电话,名称\n".encode(), "csv")
    assert error.value.code == "duplicate_header"
    assert error.value.message == "Column header '名称' appears twice (columns 1 and 3)."
    assert error.value.params == {"header": "名称", "first": 1, "second": 3}

    assert open_table("名称,,电话\n".encode(), "csv").headers == ("名称", "#2", "电话")


@pytest.mark.parametrize(("file_name", "expected"), [("a.csv", "csv"), ("A.XLSX", "xlsx")])
def test_file_format_from_extension(file_name, expected):
    assert file_format(file_name) == expected


@pytest.mark.parametrize(("file_name", "code"), [
    ("a.pdf", "unsupported_extension"), ("a.xls", "unsupported_workbook"), ("noextension", "unsupported_extension"),
])
def test_other_extensions_are_refused(file_name, code):
    with pytest.raises(TabularError) as error:
        file_format(file_name)
    assert error.value.code == code


@pytest.mark.parametrize(("content", "fmt", "code"), [
    (b"", "csv", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "csv", "not_csv"),
    (b"%PDF-1.7\n\xff\xfe\x00\x01", "csv", "not_csv"),
    (b"name,phone\n", "xlsx", "not_xlsx"),
    (b"PK\x03\x04garbage", "xlsx", "not_xlsx"),
    (_xlsx([["名称"]]), "csv", "not_csv"),
], ids=["empty", "png-as-csv", "pdf-as-csv", "text-as-xlsx", "broken-zip", "xlsx-as-csv"])
def test_content_is_sniffed(content, fmt, code):
    with pytest.raises(TabularError) as error:
        open_table(content, fmt)
    assert error.value.code == code


def test_a_zip_without_a_workbook_is_not_xlsx():
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")

    with pytest.raises(TabularError) as error:
        open_table(buffer.getvalue(), "xlsx")
    assert error.value.message == "The zip file does not contain an Excel workbook."


def test_a_workbook_inflating_beyond_the_limit_is_refused():
    with pytest.raises(TabularError) as error:
        open_table(_xlsx([["名称"], ["甲"]]), "xlsx", max_uncompressed=100)
    assert error.value.code == "too_large"


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"), ("@a", "'@a"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("safe", "safe"), ("", ""), (-2, -2), (None, None),
])
def test_neutralise_formula(value, expected):
    assert neutralise_formula(value) == expected


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@a", "plain", "'quoted"])
def test_restore_undoes_neutralise(value):
    assert restore_neutralised(neutralise_formula(value)) == value


def test_csv_is_utf8_with_bom_and_neutralised():
    chunks = list(csv_chunks(["名称", "资本"], [["=cmd|' /C calc'!A0", Decimal("1.50")], ["北京", None]],
                             rows_per_chunk=1))

    content = b"".join(chunks)
    assert content.startswith(codecs.BOM_UTF8)
    assert content.decode("utf-8-sig") == "名称,资本\r\n'=cmd|' /C calc'!A0,1.50\r\n北京,\r\n"
    assert len(chunks) == 3


def test_written_csv_reads_back_unchanged():
    rows = [["+86 10 6234 5678", "北京"], ["-2", "@a"]]

    table = open_table(b"".join(csv_chunks(["电话", "城市"], rows)), "csv")

    assert [cells for _, cells in table.rows()] == rows


def test_xlsx_text_cells_are_neutralised_and_numbers_kept():
    buffer = io.BytesIO()

    write_xlsx(buffer, ["名称", "资本", "成立"], [["=HYPERLINK(\"http://x\")", Decimal("10.5"), dt.date(2020, 1, 2)],
                                                 ["+1", 3, None], ["ok\x01", -2, None]], sheet_title="客户")

    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert sheet.title == "客户"
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values == [
        ["名称", "资本", "成立"],
        ["'=HYPERLINK(\"http://x\")", 10.5, dt.datetime(2020, 1, 2)],
        ["'+1", 3, None],
        ["ok", -2, None],
    ]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_template_xlsx_formats_columns_as_text():
    buffer = io.BytesIO()

    write_xlsx(buffer, ["电话"], [["010"]], text_columns=True)

    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert sheet.column_dimensions["A"].number_format == "@"
    assert sheet["A2"].value == "010"


@pytest.mark.parametrize(("content", "encoding"), [
    ("名称,电话\r\n甲\x07公司,1\r\n".encode(), "utf-8"),
    ("名称,电话\r\n甲\x1b公司,1\r\n".encode("gbk"), "gbk"),
    (codecs.BOM_UTF8 + "名称,电话\r\n甲\x00公司,1\r\n".encode(), "utf-8-sig"),
], ids=["utf-8", "gbk", "utf-8-bom"])
def test_control_characters_make_a_file_not_csv_in_every_encoding(content, encoding):
    with pytest.raises(TabularError) as error:
        open_table(content, "csv")
    assert error.value.code == "not_csv"


def test_the_delimiter_comes_from_the_first_non_blank_line():
    table = open_table("\r\n\r\n名称;电话\r\n北京星河;010-62345678\r\n".encode(), "csv")

    assert (table.headers, table.delimiter) == (("名称", "电话"), ";")
    assert list(table.rows()) == [(1, ["北京星河", "010-62345678"])]


def test_a_verified_file_with_a_byte_order_mark_is_not_decoded_whole_again():
    # Bytes that passed open_table at upload are re-opened without decoding them all; were they
    # damaged after all, reading stops with the same error where the damage is.
    good = codecs.BOM_UTF8 + (HEADER_AND_ROWS + "北京星河科技有限公司,,010-62345678\r\n" * 5000).encode()
    damaged = good + b"\xff\xfe,2\r\n"  # beyond the first blocks the header is read from
    with pytest.raises(TabularError):
        open_table(damaged, "csv")

    table = open_table(damaged, "csv", verified=True)

    assert table.headers == ("客户名称", "统一社会信用代码", "电话")
    with pytest.raises(TabularError) as error:
        list(table.rows())
    assert error.value.code == "not_csv"
    assert len(list(open_table(good, "csv", verified=True).rows())) == 5001


def test_an_apostrophe_added_on_export_is_removed_only_before_a_formula_character():
    table = open_table("名称,备注\r\n'=SUM(A1),'普通\r\n".encode(), "csv")

    assert list(table.rows()) == [(1, ["=SUM(A1)", "'普通"])]
