"""Exports of accounts and contacts: visible rows only, list filters, formula neutralisation."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from l2c.apps.activity import imports
from l2c.apps.activity.models import CustomField
from tests.conftest import make_account, make_contact

FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2", "@a"]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _xlsx_rows(response) -> list[list[object]]:
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_export_as_rep1_contains_only_rep1s_rows_and_honours_a_filter(org):
    first = make_account(org["rep1"], "北京甲公司", industry="I", tags=["重点", "华北"], phone="010-62345678")
    make_account(org["rep1"], "上海乙公司", industry="C")
    make_account(org["rep2"], "北京丙公司", industry="I")
    client = _client(org["rep1"])

    response = client.get("/export/", {"object_type": "account", "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="account-')
    rows = _csv_rows(response)
    header = rows[0]
    assert header[:4] == ["编号", "客户名称", "简称", "统一社会信用代码"]
    assert header[-7:] == ["负责人", "标签", "公海", "所属部门", "创建时间", "更新时间", "RFM 分群"]
    assert [row[1] for row in rows[1:]] == ["北京甲公司", "上海乙公司"]
    record = dict(zip(header, rows[1], strict=True))
    assert {key: record[key] for key in ("编号", "行业", "电话", "客户状态", "负责人", "标签", "所属部门")} == {
        "编号": str(first.pk), "行业": "信息传输、软件和信息技术服务业", "电话": "010-62345678", "客户状态": "潜在",
        "负责人": "rep1", "标签": "华北,重点", "所属部门": "华北销售部",
    }

    filtered = _csv_rows(client.get("/export/", {"object_type": "account", "format": "csv", "industry": "I"}))
    assert [row[1] for row in filtered[1:]] == ["北京甲公司"]
    searched = _csv_rows(client.get("/export/", {"object_type": "account", "format": "csv", "q": "shanghai"}))
    assert [row[1] for row in searched[1:]] == ["上海乙公司"]


def test_xlsx_export_has_the_same_rows(org):
    make_account(org["rep1"], "北京甲公司", registered_capital="1000.50", founded_on="2015-06-01")
    make_account(org["rep2"], "北京丙公司")

    response = _client(org["rep1"]).get("/export/", {"object_type": "account", "format": "xlsx"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = _xlsx_rows(response)
    record = dict(zip(rows[0], rows[1], strict=True))
    assert (len(rows), record["客户名称"], record["注册资本（万元）"], record["成立日期"].date().isoformat()) == (
        2, "北京甲公司", 1000.5, "2015-06-01")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_cells_are_neutralised(org, fmt):
    for name in FORMULAS:
        make_account(org["rep1"], name, address="@SUM(A1)")

    response = _client(org["rep1"]).get("/export/", {"object_type": "account", "format": fmt})

    rows = _csv_rows(response) if fmt == "csv" else _xlsx_rows(response)
    header = rows[0]
    names = [row[header.index("客户名称")] for row in rows[1:]]
    addresses = {row[header.index("地址")] for row in rows[1:]}
    assert names == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@a"]
    assert addresses == {"'@SUM(A1)"}


def test_custom_fields_are_extra_columns(org):
    CustomField.objects.create(object_type="account", key="regions", label="覆盖区域",
                               kind=CustomField.Kind.MULTI_CHOICE, choices=["华北", "华东"])
    CustomField.objects.create(object_type="account", key="listed", label="上市公司", kind=CustomField.Kind.BOOLEAN)
    make_account(org["rep1"], "北京甲公司", custom={"regions": ["华北", "华东"], "listed": True})

    rows = _csv_rows(_client(org["rep1"]).get("/export/", {"object_type": "account"}))

    record = dict(zip(rows[0], rows[1], strict=True))
    assert (record["覆盖区域"], record["上市公司"]) == ("华北;华东", "是")


def test_contacts_export_follows_the_account(org):
    own = make_account(org["rep1"], "北京甲公司", credit_code="91110108551385082Q")
    other = make_account(org["rep2"], "北京丙公司")
    make_contact(org["rep1"], own, "王强", mobile="13800138000", is_primary=True)
    make_contact(org["rep2"], other, "李娜")

    rows = _csv_rows(_client(org["rep1"]).get("/export/", {"object_type": "contact", "format": "csv"}))

    record = dict(zip(rows[0], rows[1], strict=True))
    assert len(rows) == 2
    assert {key: record[key] for key in ("姓名", "客户", "手机", "主要联系人", "客户统一社会信用代码")} == {
        "姓名": "王强", "客户": "北京甲公司", "手机": "13800138000", "主要联系人": "是",
        "客户统一社会信用代码": "91110108551385082Q",
    }


def test_export_needs_the_export_permission(org):
    make_account(org["presales"], "北京甲公司")

    response = _client(org["presales"]).get("/export/", {"object_type": "account", "format": "csv"})

    assert response.status_code == 403


@pytest.mark.parametrize(("params", "status"), [
    ({"object_type": "spaceship"}, 404),
    ({"object_type": "account", "format": "pdf"}, 400),
    ({"object_type": "account", "owner_id": "abc"}, 400),
    ({"object_type": "account", "created_from": "yesterday"}, 400),
])
def test_bad_export_requests(org, params, status):
    response = _client(org["rep1"]).get("/export/", params)

    assert response.status_code == status


def test_an_export_maps_back_on_import_and_its_rows_are_caught_as_duplicates(org):
    make_account(org["rep1"], "北京甲公司", industry="I", size="medium", tags=["重点"], website="www.example.com",
                 credit_code="91110108551385082Q")
    response = _client(org["manager"]).get("/export/", {"object_type": "account", "format": "xlsx"})
    content = b"".join(response.streaming_content)

    job = imports.import_upload(actor=org["manager"], object_type="account", file_name="again.xlsx", content=content)
    job = imports.import_validate(actor=org["manager"], import_id=job.pk)

    assert "编号" not in job.mapping
    assert sorted(job.mapping.values()) == sorted(["name", "short_name", "credit_code", "industry", "size",
                                                    "province", "city", "district", "address", "phone", "website",
                                                    "source", "level", "status", "legal_representative",
                                                    "registered_capital", "founded_on", "business_status", "owner",
                                                    "tags", "pool"])
    assert (job.valid_rows, job.errors) == (0, [{
        "row": 1, "column": "统一社会信用代码", "field": "credit_code",
        "message": "与已有记录重复，不能导入：北京甲公司（统一社会信用代码相同：91110108551385082Q）"}])


@pytest.mark.urls("tests.apps.activity.test_imports")
def test_api_export_as_rep1(org, api_client_for):
    make_account(org["rep1"], "-2", industry="I")
    make_account(org["rep1"], "上海乙公司", industry="C")
    make_account(org["rep2"], "北京丙公司", industry="I")
    client = api_client_for("rep1")

    response = client.get("/api/imports-test/exports/account", {"format": "csv", "industry": "I"})

    assert response.status_code == 200
    assert [row[1] for row in _csv_rows(response)[1:]] == ["'-2"]
    assert client.get("/api/imports-test/exports/account", {"format": "xlsx"}).status_code == 200
    assert api_client_for("presales").get("/api/imports-test/exports/account").status_code == 403
    assert client.get("/api/imports-test/exports/spaceship").status_code == 404
    assert client.get("/api/imports-test/exports/account", {"owner_id": "x"}).status_code == 422
