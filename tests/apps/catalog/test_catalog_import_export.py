"""Import/export of products and SKUs: an export imports back unchanged (round trip), every bad cell
is named by row and field, and a file with any bad row writes nothing (all or nothing)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest

from l2c.apps.activity import exports, imports
from l2c.apps.activity.models import AuditEvent, ImportJob
from l2c.apps.catalog.models import Category, Product, Sku
from tests.apps.catalog.catalog_fixtures import make_attributes, make_product, make_sku
from tests.conftest import Org

pytestmark = pytest.mark.django_db


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _export(user: Any, object_type: str) -> list[list[str]]:
    export = exports.export_prepare(user=user, object_type=object_type, fmt="csv", params={})
    content = b"".join(exports.export_csv_stream(export)).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


def _run(user: Any, object_type: str, content: bytes, capture: Any) -> ImportJob:
    job = imports.import_upload(actor=user, object_type=object_type, file_name="catalogue.csv", content=content)
    job = imports.import_validate(actor=user, import_id=job.pk)
    if job.valid_rows:
        with capture(execute=True):
            imports.import_commit(actor=user, import_id=job.pk)
    return ImportJob.objects.get(pk=job.pk)


def test_products_round_trip_and_a_bad_row_is_named(org: Org, django_capture_on_commit_callbacks: Any) -> None:
    manager = org["manager"]
    Category.objects.create(code="server", name="服务器")
    make_product(manager, "SRV-R740", name="R740 服务器", category_id=Category.objects.get().pk)
    make_product(manager, "SVC-INSTALL", name="安装服务", type="service", unit="次", tax_rate="6%")

    rows = _export(manager, "product")
    assert rows == [
        ["产品编码", "产品名称", "分类", "产品类型", "单位", "税率", "状态", "说明"],
        ["SRV-R740", "R740 服务器", "server", "实物商品", "台", "13%", "在售", ""],
        ["SVC-INSTALL", "安装服务", "", "服务", "次", "6%", "在售", ""],
    ]
    # Re-importing the export changes nothing but versions; a new row and an edited row are written.
    rows[1][1] = "R740 机架式服务器"
    rows.append(["SUB-CLOUD", "云管理平台订阅", "", "订阅", "年", "6%", "在售", "按年订阅"])
    job = _run(manager, "product", csv_bytes(rows), django_capture_on_commit_callbacks)
    assert (job.status, job.total_rows, job.created_rows, job.error_count) == ("done", 3, 3, 0)
    assert list(Product.objects.order_by("code").values_list("code", "name", "type", "tax_rate")) == [
        ("SRV-R740", "R740 机架式服务器", "goods", Decimal("0.13")),
        ("SUB-CLOUD", "云管理平台订阅", "subscription", Decimal("0.06")),
        ("SVC-INSTALL", "安装服务", "service", Decimal("0.06"))]
    assert AuditEvent.objects.filter(object_type="product", action="import").count() == 3

    bad = csv_bytes([rows[0], ["NEW-1", "新产品", "", "", "", "13%", "", ""],
                     ["bad code!", "", "nope", "玩具", "台", "10%", "在售", ""]])
    failed = _run(manager, "product", bad, django_capture_on_commit_callbacks)
    assert [(error["row"], error["field"]) for error in failed.errors] == [
        (2, "code"), (2, "name"), (2, "category"), (2, "type"), (2, "tax_rate")]
    assert failed.created_rows == 0
    assert not Product.objects.filter(code="NEW-1").exists()  # all or nothing


def test_skus_round_trip_with_attribute_columns(org: Org, django_capture_on_commit_callbacks: Any) -> None:
    manager = org["manager"]
    make_attributes(manager)
    lamp = make_product(manager, "LAMP", axes=["colour", "voltage"])
    make_sku(manager, lamp, "LAMP-RED-220", "12.5", colour="red", voltage="220")

    rows = _export(manager, "sku")
    assert rows == [["产品编码", "SKU 编码", "规格名称", "属性", "成本价（不含税）", "成本币种", "状态"],
                    ["LAMP", "LAMP-RED-220", "SKU LAMP-RED-220", "colour=red;voltage=220", "12.5", "CNY", "在售"]]
    header = [*rows[0], "attr:colour", "attr:voltage"]
    content = csv_bytes([header,
                         [*rows[1][:4], "13", "CNY", "在售", "", ""],
                         ["LAMP", "LAMP-BLUE-380", "蓝色 380V", "", "14.25", "", "", "blue", "380"]])
    job = _run(manager, "sku", content, django_capture_on_commit_callbacks)
    assert (job.status, job.created_rows, job.error_count) == ("done", 2, 0)
    assert list(Sku.objects.order_by("code").values_list("code", "attribute_key", "cost_price")) == [
        ("LAMP-BLUE-380", "colour=blue;voltage=380", Decimal("14.2500")),
        ("LAMP-RED-220", "colour=red;voltage=220", Decimal("13.0000"))]

    bad = csv_bytes([header,
                     ["LAMP", "LAMP-BLACK-220", "黑色", "", "1", "", "", "black", "220"],
                     ["LAMP", "LAMP-DUP", "重复", "colour=blue;voltage=380", "1", "", "", "", ""],
                     ["NOPE", "X-1", "x", "", "-1", "", "", "green", ""]])
    failed = _run(manager, "sku", bad, django_capture_on_commit_callbacks)
    assert [(error["row"], error["field"]) for error in failed.errors] == [
        (2, "attributes"), (3, "product"), (3, "cost_price")]
    assert "LAMP-BLUE-380" in failed.errors[0]["message"]
    assert failed.created_rows == 0
    assert not Sku.objects.filter(code="LAMP-BLACK-220").exists()  # the valid row waits for a clean file


def test_a_rep_may_export_but_not_import(org: Org) -> None:
    from l2c.kernel.errors import PermissionDenied

    make_product(org["manager"], "P1")
    assert len(_export(org["rep1"], "product")) == 2
    with pytest.raises(PermissionDenied):
        imports.import_upload(actor=org["rep1"], object_type="product", file_name="p.csv",
                              content=csv_bytes([["产品编码", "产品名称"], ["P2", "x"]]))
    assert Product.objects.count() == 1
