"""The catalogue API (/api/v1/catalog): CRUD, ETag/If-Match, problem+json errors, permissions per role."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from l2c.apps.catalog.models import Category, Product, Sku
from tests.apps.catalog.catalog_fixtures import make_attributes, make_product, server_with_bom
from tests.conftest import Org

pytestmark = pytest.mark.django_db
BASE = "/api/v1/catalog"


def _json(client: Any, method: str, url: str, body: Any = None, **headers: Any) -> Any:
    return getattr(client, method)(url, body, content_type="application/json", **headers)


def test_product_crud_with_etag_and_412_on_a_stale_version(org: Org, api_client_for: Any) -> None:
    manager = api_client_for("manager")
    category = _json(manager, "post", f"{BASE}/categories", {"code": "server", "name": "服务器"}).json()
    created = _json(manager, "post", f"{BASE}/products", {
        "code": "SRV-R740", "name": "R740 服务器", "category_id": category["id"], "tax_rate": "13%"})
    assert created.status_code == 201
    body = created.json()
    assert (body["code"], body["category_code"], body["tax_rate"], body["type"], body["version"]) == (
        "SRV-R740", "server", "13%", "goods", 1)
    url = f"{BASE}/products/{body['id']}"
    detail = manager.get(url)
    assert (detail.status_code, detail["ETag"]) == (200, '"v1"')

    patched = _json(manager, "patch", url, {"name": "R740 机架式服务器", "tax_rate": "9%"}, HTTP_IF_MATCH='"v1"')
    assert (patched.status_code, patched["ETag"], patched.json()["tax_rate"]) == (200, '"v2"', "9%")
    stale = _json(manager, "patch", url, {"name": "过期的修改"}, HTTP_IF_MATCH='"v1"')
    assert (stale.status_code, stale["Content-Type"], stale.json()["code"]) == (
        412, "application/problem+json", "precondition_failed")
    put = _json(manager, "put", url, {"code": "SRV-R740", "name": "R740", "type": "goods", "unit": "台",
                                      "tax_rate": "13%", "status": "draft"}, HTTP_IF_MATCH='"v2"')
    assert (put.status_code, put.json()["status"], put.json()["category_id"]) == (200, "draft", None)
    assert Product.objects.get(pk=body["id"]).name == "R740"

    invalid = _json(manager, "post", f"{BASE}/products", {"code": "SRV-R740", "name": "重复", "tax_rate": "10%"})
    assert invalid.status_code == 422
    assert [(error["field"], error["code"]) for error in invalid.json()["errors"]] == [
        ("code", "duplicate"), ("tax_rate", "invalid_choice")]

    stale_delete = manager.delete(url, HTTP_IF_MATCH='"v1"')
    assert stale_delete.status_code == 412
    assert manager.delete(url).status_code == 204
    assert not Product.objects.filter(pk=body["id"]).exists()


def test_product_list_filters_and_cursor_pages(org: Org, api_client_for: Any) -> None:
    actor = org["manager"]
    from l2c.apps.catalog import services

    hardware = services.category_create(actor=actor, data={"code": "hw", "name": "硬件"})
    servers = services.category_create(actor=actor, data={"code": "srv", "name": "服务器", "parent_id": hardware.pk})
    for index in range(5):
        make_product(actor, f"SRV-{index}", name=f"服务器 {index}", category_id=servers.pk)
    make_product(actor, "SVC-INSTALL", name="安装服务", type="service", tax_rate="6%")
    client = api_client_for("rep1")

    first = client.get(f"{BASE}/products?category=hw&limit=3").json()
    assert [item["code"] for item in first["items"]] == ["SRV-0", "SRV-1", "SRV-2"]
    second = client.get(f"{BASE}/products?category=hw&limit=3&cursor={first['next_cursor']}").json()
    assert [item["code"] for item in second["items"]] == ["SRV-3", "SRV-4"]
    assert second["next_cursor"] is None
    services_only = client.get(f"{BASE}/products?type=service").json()
    assert [(item["code"], item["tax_rate"]) for item in services_only["items"]] == [("SVC-INSTALL", "6%")]
    assert [item["code"] for item in client.get(f"{BASE}/products?q=安装").json()["items"]] == ["SVC-INSTALL"]


def test_a_sales_rep_may_view_but_not_create_and_anonymous_gets_401(org: Org, api_client_for: Any) -> None:
    product = make_product(org["manager"], "P1")
    rep = api_client_for("rep1")
    assert rep.get(f"{BASE}/products/{product.pk}").status_code == 200
    assert rep.get(f"{BASE}/categories").status_code == 200
    denied = _json(rep, "post", f"{BASE}/products", {"code": "P2", "name": "x"})
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    assert _json(rep, "patch", f"{BASE}/products/{product.pk}", {"name": "x"}).status_code == 403
    assert rep.delete(f"{BASE}/products/{product.pk}").status_code == 403
    assert _json(rep, "post", f"{BASE}/categories", {"code": "c", "name": "c"}).status_code == 403
    assert api_client_for(None).get(f"{BASE}/products").status_code == 401
    assert api_client_for(None).get(f"{BASE}/categories").status_code == 401
    assert list(Product.objects.values_list("code", "name")) == [("P1", "产品 P1")]
    assert Category.objects.count() == 0


def test_attributes_skus_and_generation(org: Org, api_client_for: Any) -> None:
    client = api_client_for("manager")
    attribute = _json(client, "post", f"{BASE}/attributes", {"code": "colour", "name": "颜色", "values": [
        {"code": "red", "label": "红色"}, {"code": "blue", "label": "蓝色"}]})
    assert attribute.status_code == 201
    assert [value["code"] for value in attribute.json()["values"]] == ["red", "blue"]
    value = _json(client, "post", f"{BASE}/attributes/{attribute.json()['id']}/values",
                  {"code": "black", "label": "黑色"})
    assert value.status_code == 201
    product = _json(client, "post", f"{BASE}/products", {"code": "LAMP", "name": "台灯",
                                                         "attribute_codes": ["colour"]}).json()
    assert product["attribute_codes"] == ["colour"]
    skus_url = f"{BASE}/products/{product['id']}/skus"
    sku = _json(client, "post", skus_url, {"code": "LAMP-RED", "name": "红色台灯",
                                           "attribute_values": {"colour": "red"},
                                           "cost_price": "35.5"})
    assert (sku.status_code, sku.json()["attribute_key"], sku.json()["cost_price"]) == (201, "colour=red", "35.5000")
    duplicate = _json(client, "post", skus_url, {"code": "LAMP-2", "attribute_values": {"colour": "red"}})
    assert [(error["field"], error["code"]) for error in duplicate.json()["errors"]] == [
        ("attribute_values", "duplicate_combination")]
    generated = _json(client, "post", f"{skus_url}/generate", {"values": {"colour": ["red", "blue", "black"]},
                                                                "cost_price": "30"})
    assert generated.status_code == 201
    assert [item["code"] for item in generated.json()["created"]] == ["LAMP-BLUE", "LAMP-BLACK"]
    assert generated.json()["skipped"] == ["colour=red"]
    listed = client.get(skus_url).json()
    assert [item["code"] for item in listed["items"]] == ["LAMP-BLACK", "LAMP-BLUE", "LAMP-RED"]
    sku_url = f"{skus_url}/{sku.json()['id']}"
    updated = _json(client, "patch", sku_url, {"cost_price": "36"}, HTTP_IF_MATCH='"v1"')
    assert (updated.status_code, updated.json()["cost_price"], updated["ETag"]) == (200, "36.0000", '"v2"')
    assert _json(client, "patch", sku_url, {"cost_price": "1"}, HTTP_IF_MATCH='"v1"').status_code == 412
    in_use = client.delete(f"{BASE}/attributes/{attribute.json()['id']}/values/{attribute.json()['values'][0]['id']}")
    assert (in_use.status_code, in_use.json()["errors"][0]["code"]) == (409, "in_use")
    assert client.delete(sku_url).status_code == 204
    assert Sku.objects.filter(product_id=product["id"]).count() == 2


def test_bom_put_get_and_tree(org: Org, api_client_for: Any) -> None:
    built = server_with_bom(org["manager"])
    client = api_client_for("manager")
    url = f"{BASE}/products/{built['server'].pk}/bom"
    current = client.get(url).json()
    assert [(item["component_sku"], item["option_group"]) for item in current["items"]] == [
        ("CHS-1", None), ("CPU-A", "cpu"), ("CPU-B", "cpu"), ("MEM-32", None)]
    tree = client.get(f"{url}/tree").json()
    assert tree["rolled_up_cost"] == "4325.0000"
    assert tree["children"][0]["children"][0]["sku"] == "FAN-1"

    replaced = _json(client, "put", url, {"items": [
        {"component_sku": "CHS-1", "quantity": "1"},
        {"component_sku": "MEM-32", "quantity": "2", "option_group": "mem", "priced": True}],
        "groups": [{"code": "mem", "name": "内存", "choice": "multiple", "required": True, "min_choices": 1}]})
    assert replaced.status_code == 200
    assert [(group["code"], group["choice"]) for group in replaced.json()["groups"]] == [("mem", "multiple")]
    assert client.get(f"{url}/tree").json()["rolled_up_cost"] == "1925.0000"  # 325 + 2 × 800

    cycle = _json(client, "put", f"{BASE}/products/{built['fan'].pk}/bom", {"items": [{"component_sku": "SRV-1"}]})
    assert cycle.status_code == 422
    assert [(error["field"], error["code"]) for error in cycle.json()["errors"]] == [("items[0].component", "cycle")]
    assert "FAN → SRV → CHS → FAN" in cycle.json()["errors"][0]["message"]
    rep = api_client_for("rep1")
    assert rep.get(f"{url}/tree").status_code == 200
    assert _json(rep, "put", url, {"items": []}).status_code == 403
    assert built["server"].bom_items.count() == 2
    assert Decimal(tree["children"][1]["line_cost"]) == Decimal("4000")


def test_make_attributes_fixture_matches_the_api_listing(org: Org, api_client_for: Any) -> None:
    make_attributes(org["manager"])
    listed = api_client_for("finance").get(f"{BASE}/attributes").json()
    assert [(row["code"], [value["code"] for value in row["values"]]) for row in listed] == [
        ("colour", ["red", "blue", "black"]), ("voltage", ["220", "380"])]


def test_the_product_list_costs_the_same_queries_for_3_and_30_products(org: Org, api_client_for: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_attributes(org["manager"])
    client = api_client_for("rep1")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{BASE}/products?limit=50").status_code == 200
        return len(captured)

    for index in range(3):
        make_product(org["manager"], f"P-{index:02}", axes=["colour"])
    count()  # the first request of a token also records its use
    few = count()
    for index in range(3, 30):
        make_product(org["manager"], f"P-{index:02}", axes=["colour", "voltage"])
    assert count() == few


def test_bom_items_and_groups_one_at_a_time(org: Org, api_client_for: Any) -> None:
    built = server_with_bom(org["manager"])
    client = api_client_for("manager")
    url = f"{BASE}/products/{built['memory'].pk}/bom"
    group = _json(client, "post", f"{url}/groups", {"code": "cooling", "name": "散热", "choice": "multiple"})
    assert (group.status_code, group.json()["code"], group.json()["choice"]) == (201, "cooling", "multiple")
    added = _json(client, "post", f"{url}/items", {"component_sku": "FAN-1", "quantity": "2",
                                                   "option_group": "cooling"})
    assert added.status_code == 201
    item = added.json()["items"][0]
    assert (item["component_sku"], item["quantity"], item["option_group"]) == ("FAN-1", "2.0000", "cooling")
    patched = _json(client, "patch", f"{url}/items/{item['id']}", {"quantity": "3", "option_group": ""})
    assert [(row["quantity"], row["option_group"]) for row in patched.json()["items"]] == [("3.0000", None)]
    renamed = _json(client, "patch", f"{url}/groups/{group.json()['id']}", {"name": "风扇", "max_choices": 2})
    assert (renamed.json()["name"], renamed.json()["max_choices"]) == ("风扇", 2)
    cycle = _json(client, "post", f"{BASE}/products/{built['fan'].pk}/bom/items", {"component_sku": "SRV-1"})
    assert [(error["field"], error["code"]) for error in cycle.json()["errors"]] == [("component", "cycle")]
    assert client.delete(f"{url}/groups/{group.json()['id']}").status_code == 204
    assert client.delete(f"{url}/items/{item['id']}").status_code == 204
    assert client.get(url).json()["items"] == []
