"""The catalogue pages: list, product page (SKUs, generation, BOM editor), create/edit/delete,
categories and attributes — as a manager and a rep see them; denied without the view permission."""

from __future__ import annotations

from typing import Any

import pytest

from l2c.apps.catalog.models import BomItem, Category, Product, Sku
from tests.apps.catalog.catalog_fixtures import make_attributes, make_product, make_sku, server_with_bom
from tests.conftest import Org

pytestmark = pytest.mark.django_db


def _client(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def test_every_page_renders_for_a_manager(org: Org, client: Any) -> None:
    built = server_with_bom(org["manager"])
    make_attributes(org["manager"])
    client = _client(client, org["manager"])
    server = built["server"]
    pages = {
        "/catalog/": ["SRV", "新建产品", "导出 CSV", "导入产品"],
        "/catalog/products/new/": ["产品编码", "税率"],
        f"/catalog/products/{server.pk}/": ["BOM 结构", "CHS-1", "FAN-1", "¥4,325.00", "添加组件", "添加 SKU"],
        f"/catalog/products/{server.pk}/edit/": ["产品 SRV"],
        f"/catalog/products/{built['fan'].pk}/delete/": ["正在使用中", "CHS"],
        f"/catalog/products/{server.pk}/delete/": ["确认删除"],
        "/catalog/categories/": ["添加分类"],
        "/catalog/attributes/": ["颜色", "红色", "添加属性"],
        f"/catalog/products/{server.pk}/bom/": ["CPU-A"],
    }
    for url, texts in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        for text in texts:
            assert text in content, (url, text)


def test_a_rep_sees_the_catalogue_read_only_and_a_role_without_view_is_denied(org: Org, client: Any) -> None:
    from l2c.apps.identity.models import RolePermission

    built = server_with_bom(org["manager"])
    rep = _client(client, org["rep1"])
    page = rep.get(f"/catalog/products/{built['server'].pk}/")
    assert page.status_code == 200
    assert "添加组件" not in page.content.decode()
    assert "新建产品" not in rep.get("/catalog/").content.decode()
    assert rep.get("/catalog/products/new/").status_code == 403
    assert rep.get(f"/catalog/products/{built['server'].pk}/edit/").status_code == 403
    assert rep.post(f"/catalog/products/{built['server'].pk}/bom/items/new/",
                    {"component_sku": "MEM-32"}).status_code == 403
    RolePermission.objects.filter(role__code="sales_rep", object_type="product").update(can_view=False)
    from django.test import Client

    blocked = _client(Client(), org["rep2"])
    for url in ("/catalog/", f"/catalog/products/{built['server'].pk}/", "/catalog/categories/",
                "/catalog/attributes/"):
        assert blocked.get(url).status_code in (403, 404), url
    assert blocked.get(f"/catalog/products/{built['server'].pk}/").status_code == 404


def test_create_edit_and_delete_a_product_through_the_pages(org: Org, client: Any) -> None:
    client = _client(client, org["manager"])
    category = Category.objects.create(code="svc", name="服务")
    response = client.post("/catalog/products/new/", {"code": "SVC-INSTALL", "name": "安装服务",
                                                      "category": category.pk, "type": "service", "unit": "次",
                                                      "tax_rate": "6%", "status": "active"})
    product = Product.objects.get(code="SVC-INSTALL")
    assert response.status_code == 302
    assert (product.type, str(product.tax_rate), product.category_id) == ("service", "0.06", category.pk)
    refused = client.post("/catalog/products/new/", {"code": "SVC-INSTALL", "name": "重复", "type": "goods",
                                                     "unit": "台", "tax_rate": "13%", "status": "active"})
    assert refused.status_code == 200
    assert "已有编码为“SVC-INSTALL”的产品。" in refused.content.decode()
    stale = client.post(f"/catalog/products/{product.pk}/edit/", {
        "code": "SVC-INSTALL", "name": "新名称", "type": "service", "unit": "次", "tax_rate": "6%",
        "status": "active", "version": 99})
    assert "该记录已被他人修改" in stale.content.decode()
    saved = client.post(f"/catalog/products/{product.pk}/edit/", {
        "code": "SVC-INSTALL", "name": "上门安装服务", "type": "service", "unit": "次", "tax_rate": "6%",
        "status": "active", "version": 1})
    assert saved.status_code == 302
    assert Product.objects.get(pk=product.pk).name == "上门安装服务"
    assert client.post(f"/catalog/products/{product.pk}/delete/", {"version": 2}).status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()


def test_skus_are_added_and_generated_on_the_product_page(org: Org, client: Any) -> None:
    make_attributes(org["manager"])
    product = make_product(org["manager"], "LAMP", axes=["colour", "voltage"])
    client = _client(client, org["manager"])
    client.post(f"/catalog/products/{product.pk}/skus/new/", {"code": "LAMP-RED-220", "attr_colour": "red",
                                                              "attr_voltage": "220", "cost_price": "10"})
    response = client.post(f"/catalog/products/{product.pk}/skus/generate/", {
        "values_colour": ["red", "blue"], "values_voltage": ["220", "380"], "cost_price": "11"}, follow=True)
    assert "已生成 3 个 SKU，跳过 1 个已有的组合。" in response.content.decode()
    assert sorted(Sku.objects.filter(product=product).values_list("code", flat=True)) == [
        "LAMP-BLUE-220", "LAMP-BLUE-380", "LAMP-RED-220", "LAMP-RED-380"]
    duplicate = client.post(f"/catalog/products/{product.pk}/skus/new/", {
        "code": "LAMP-X", "attr_colour": "red", "attr_voltage": "220"}, follow=True)
    assert "LAMP-RED-220" in duplicate.content.decode()
    assert Sku.objects.filter(product=product).count() == 4


def test_the_bom_editor_adds_a_component_and_shows_a_cycle_inline(org: Org, client: Any) -> None:
    built = server_with_bom(org["manager"])
    client = _client(client, org["manager"])
    fan = built["fan"]
    added = client.post(f"/catalog/products/{built['memory'].pk}/bom/items/new/",
                        {"component_sku": "FAN-1", "quantity": "3", "required": "on"}, HTTP_HX_REQUEST="true")
    assert added.status_code == 200
    assert "已加入组件 FAN-1。" in added.content.decode()
    assert BomItem.objects.get(parent=built["memory"]).quantity == 3
    refused = client.post(f"/catalog/products/{fan.pk}/bom/items/new/", {"component_sku": "SRV-1", "quantity": "1"},
                          HTTP_HX_REQUEST="true")
    assert refused.status_code == 422
    assert "FAN → SRV → CHS → FAN" in refused.content.decode()
    assert not BomItem.objects.filter(parent=fan).exists()
    item = BomItem.objects.get(parent=built["server"], component__code="MEM-32")
    moved = client.post(f"/catalog/products/{built['server'].pk}/bom/items/{item.pk}/move/", {"direction": "up"},
                        HTTP_HX_REQUEST="true")
    assert moved.status_code == 200
    assert BomItem.objects.get(pk=item.pk).position == 2
    options = client.get("/catalog/products/sku-search/?component_sku=CPU")
    assert "CPU-A" in options.content.decode() and "MEM-32" not in options.content.decode()


def test_categories_and_attributes_pages_write_through_the_services(org: Org, client: Any) -> None:
    client = _client(client, org["manager"])
    client.post("/catalog/categories/new/", {"code": "hw", "name": "硬件"})
    root = Category.objects.get(code="hw")
    client.post("/catalog/categories/new/", {"code": "srv", "name": "服务器", "parent_id": root.pk})
    child = Category.objects.get(code="srv")
    refused = client.post(f"/catalog/categories/{root.pk}/", {"code": "hw", "name": "硬件", "parent_id": child.pk},
                          follow=True)
    assert "硬件 → 服务器 → 硬件" in refused.content.decode()
    assert Category.objects.get(pk=root.pk).parent_id is None
    client.post("/catalog/attributes/new/", {"code": "colour", "name": "颜色", "values": "red=红色, blue=蓝色"})
    page = client.get("/catalog/attributes/").content.decode()
    assert "红色" in page and "蓝色" in page


def test_the_product_history_shows_its_skus_and_bom_in_words(org: Org, client: Any) -> None:
    from l2c.apps.catalog import skus

    manager = org["manager"]
    built = server_with_bom(manager)
    server = built["server"]
    kept = make_sku(manager, server, "SRV-2", "1100")
    skus.sku_update(actor=manager, product_id=server.pk, sku_id=kept.pk, data={"cost_price": "1150"})
    gone = make_sku(manager, server, "SRV-3", "900")
    skus.sku_delete(actor=manager, product_id=server.pk, sku_id=gone.pk)
    other = make_sku(manager, built["cpu"], "CPU-C", "10")  # another product's SKU stays off this history

    page = _client(client, manager).get(f"/catalog/products/{server.pk}/")
    timeline = page.content.decode().split('class="timeline', 1)[1]
    assert "SRV-2" in timeline and "1150" in timeline  # the SKU's own update, named
    assert "删除 SKU SRV-3" in timeline  # noted on the product although the SKU is gone
    assert "BOM 组件" in timeline and "bom_items" not in timeline  # the BOM's change keys in words
    assert other.code not in timeline
