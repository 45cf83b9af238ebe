"""Catalogue services: every refusal names its field and code and changes nothing; SKU generation;
BOM replace with cycle refusal; the rolled-up cost to the exact Decimal; audit and rules version."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from l2c.apps.activity.models import AuditEvent
from l2c.apps.catalog import bom, selectors, services, skus
from l2c.apps.catalog.models import BomItem, BomOptionGroup, Category, Product, Sku
from l2c.kernel.errors import Conflict, PermissionDenied, ValidationFailed
from tests.apps.catalog.catalog_fixtures import make_attributes, make_product, make_sku, server_with_bom
from tests.conftest import Org

pytestmark = pytest.mark.django_db


def _fields(error: ValidationFailed | Conflict) -> list[tuple[str, str]]:
    return [(item.field, item.code) for item in error.errors]


# --- categories -------------------------------------------------------------------------------------
def test_category_tree_move_under_a_descendant_is_refused_with_the_path(org: Org) -> None:
    manager = org["manager"]
    root = services.category_create(actor=manager, data={"code": "hw", "name": "硬件"})
    child = services.category_create(actor=manager, data={"code": "srv", "name": "服务器", "parent_id": root.pk})
    grandchild = services.category_create(actor=manager, data={"code": "rack", "name": "机架式", "parent_id": child.pk})

    with pytest.raises(ValidationFailed) as caught:
        services.category_update(actor=manager, category_id=root.pk, data={"parent_id": grandchild.pk})

    assert _fields(caught.value) == [("parent_id", "cycle")]
    assert "硬件 → 服务器 → 机架式 → 硬件" in caught.value.errors[0].message
    assert Category.objects.get(pk=root.pk).parent_id is None
    with pytest.raises(ValidationFailed) as itself:
        services.category_update(actor=manager, category_id=root.pk, data={"parent_id": root.pk})
    assert _fields(itself.value) == [("parent_id", "cycle")]
    moved = services.category_update(actor=manager, category_id=grandchild.pk, data={"parent_id": root.pk})
    assert moved.parent_id == root.pk
    assert [(node.category.code, node.depth) for node in selectors.category_flat()] == [
        ("hw", 0), ("rack", 1), ("srv", 1)]


def test_category_delete_is_refused_while_it_has_children_or_products(org: Org) -> None:
    manager = org["manager"]
    root = services.category_create(actor=manager, data={"code": "hw", "name": "硬件"})
    child = services.category_create(actor=manager, data={"code": "srv", "name": "服务器", "parent_id": root.pk})
    make_product(manager, "P1", category_id=child.pk)

    for category in (root, child):
        with pytest.raises(Conflict) as caught:
            services.category_delete(actor=manager, category_id=category.pk)
        assert _fields(caught.value) == [("category", "in_use")]
    assert Category.objects.count() == 2
    with pytest.raises(ValidationFailed) as duplicate:
        services.category_create(actor=manager, data={"code": "hw", "name": "重复"})
    assert _fields(duplicate.value) == [("code", "duplicate")]


# --- attributes -------------------------------------------------------------------------------------
def test_an_attribute_value_used_by_a_sku_cannot_be_deleted(org: Org) -> None:
    manager = org["manager"]
    attributes = make_attributes(manager)
    product = make_product(manager, "LAMP", axes=["colour"])
    make_sku(manager, product, "LAMP-RED", colour="red")
    red = attributes["colour"].values.get(code="red")
    blue = attributes["colour"].values.get(code="blue")

    with pytest.raises(Conflict) as caught:
        services.attribute_value_delete(actor=manager, attribute_id=attributes["colour"].pk, value_id=red.pk)
    assert _fields(caught.value) == [("value", "in_use")]
    assert "LAMP-RED" in caught.value.detail
    services.attribute_value_delete(actor=manager, attribute_id=attributes["colour"].pk, value_id=blue.pk)
    assert sorted(attributes["colour"].values.values_list("code", flat=True)) == ["black", "red"]
    with pytest.raises(Conflict) as attribute_in_use:
        services.attribute_delete(actor=manager, attribute_id=attributes["colour"].pk)
    assert _fields(attribute_in_use.value) == [("attribute", "in_use")]
    with pytest.raises(ValidationFailed) as recode:
        services.attribute_value_update(actor=manager, attribute_id=attributes["colour"].pk, value_id=red.pk,
                                        data={"code": "crimson"})
    assert _fields(recode.value) == [("code", "in_use")]


# --- products ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [("13%", Decimal("0.13")), ("9", Decimal("0.09")),
                                               ("0.06", Decimal("0.06")), ("3％", Decimal("0.03")),
                                               ("0%", Decimal("0.00"))])
def test_tax_rates_are_read_in_every_spelling(org: Org, raw: str, expected: Decimal) -> None:
    product = make_product(org["manager"], "P-TAX", tax_rate=raw)
    assert Product.objects.get(pk=product.pk).tax_rate == expected


def test_product_create_reports_every_bad_field_at_once_and_saves_nothing(org: Org) -> None:
    make_product(org["manager"], "TAKEN")
    with pytest.raises(ValidationFailed) as caught:
        services.product_create(actor=org["manager"], data={
            "code": "TAKEN", "name": "", "type": "goodz", "tax_rate": "10%", "status": "gone", "category_id": 999999})
    assert _fields(caught.value) == [("code", "duplicate"), ("name", "required"), ("category_id", "not_found"),
                                     ("type", "invalid_choice"), ("tax_rate", "invalid_choice"),
                                     ("status", "invalid_choice")]
    assert Product.objects.count() == 1


def test_product_update_is_compare_and_set_on_the_version(org: Org) -> None:
    from l2c.kernel.errors import PreconditionFailed

    manager = org["manager"]
    product = make_product(manager, "P1", name="旧名称")
    updated = services.product_update(actor=manager, product_id=product.pk, data={"name": "新名称"},
                                      expected_version=1)
    assert (updated.name, updated.version) == ("新名称", 2)
    with pytest.raises(PreconditionFailed):
        services.product_update(actor=manager, product_id=product.pk, data={"name": "过期"}, expected_version=1)
    assert Product.objects.get(pk=product.pk).name == "新名称"
    assert list(AuditEvent.objects.filter(object_type="product", object_id=product.pk)
                .order_by("id").values_list("action", flat=True)) == ["create", "update"]


def test_a_sales_rep_may_not_write_the_catalogue(org: Org) -> None:
    with pytest.raises(PermissionDenied):
        services.product_create(actor=org["rep1"], data={"code": "X", "name": "X"})
    with pytest.raises(PermissionDenied):
        services.category_create(actor=org["rep1"], data={"code": "x", "name": "X"})
    assert Product.objects.count() == Category.objects.count() == 0


def test_product_delete_is_refused_while_used_in_a_bom_or_a_price_book(org: Org) -> None:
    manager = org["manager"]
    built = server_with_bom(manager)
    with pytest.raises(Conflict) as caught:
        services.product_delete(actor=manager, product_id=built["chassis"].pk)
    assert _fields(caught.value) == [("bom", "in_use")]
    assert "SRV" in caught.value.errors[0].message

    from l2c.apps.pricing.models import PriceBook, PriceBookEntry

    book = PriceBook.objects.create(code="base-cny", name="基础价目表", currency="CNY")
    PriceBookEntry.objects.create(book=book, sku=built["skus"]["SRV-1"], unit_price=Decimal("9999"))
    with pytest.raises(Conflict) as priced:
        services.product_delete(actor=manager, product_id=built["server"].pk)
    assert _fields(priced.value) == [("price_books", "in_use")]
    assert "base-cny" in priced.value.errors[0].message
    assert Product.objects.filter(code="SRV").exists()
    # A product used nowhere goes, with its own BOM rows and SKUs.
    PriceBookEntry.objects.all().delete()
    services.product_delete(actor=manager, product_id=built["server"].pk)
    assert not Product.objects.filter(code="SRV").exists()
    assert not Sku.objects.filter(code="SRV-1").exists()
    assert BomItem.objects.filter(parent__code="SRV").count() == 0


# --- SKUs -------------------------------------------------------------------------------------------
def test_sku_attribute_values_must_use_the_axes_and_existing_values(org: Org) -> None:
    manager = org["manager"]
    make_attributes(manager)
    product = make_product(manager, "LAMP", axes=["colour"])
    with pytest.raises(ValidationFailed) as caught:
        skus.sku_create(actor=manager, product_id=product.pk, data={
            "code": "LAMP-X", "name": "x", "attribute_values": {"colour": "green", "voltage": "220"}})
    assert _fields(caught.value) == [("attribute_values.colour", "unknown_value"),
                                     ("attribute_values.voltage", "unknown_attribute")]
    assert Sku.objects.count() == 0


def test_a_duplicate_combination_is_refused_naming_the_existing_sku(org: Org) -> None:
    manager = org["manager"]
    make_attributes(manager)
    product = make_product(manager, "LAMP", axes=["voltage", "colour"])
    first = make_sku(manager, product, "LAMP-RED-220", colour="red", voltage="220")
    assert first.attribute_key == "colour=red;voltage=220"
    with pytest.raises(ValidationFailed) as caught:
        make_sku(manager, product, "LAMP-OTHER", voltage="220", colour="red")
    assert _fields(caught.value) == [("attribute_values", "duplicate_combination")]
    assert "LAMP-RED-220" in caught.value.errors[0].message
    with pytest.raises(ValidationFailed) as code_taken:
        make_sku(manager, product, "LAMP-RED-220", colour="blue", voltage="220")
    assert _fields(code_taken.value) == [("code", "duplicate")]
    assert Sku.objects.count() == 1


def test_sku_generate_creates_the_cartesian_product_and_skips_existing_combinations(org: Org) -> None:
    manager = org["manager"]
    make_attributes(manager)
    product = make_product(manager, "LAMP", axes=["colour", "voltage"])
    make_sku(manager, product, "LAMP-MINE", colour="red", voltage="220")
    version_before = selectors.rules_version()

    result = skus.sku_generate(actor=manager, product_id=product.pk,
                                   values={"colour": ["red", "blue", "black"], "voltage": ["220", "380"]},
                                   cost_price="12.50")

    assert result.skipped == ["colour=red;voltage=220"]
    assert sorted(sku.code for sku in result.created) == [
        "LAMP-BLACK-220", "LAMP-BLACK-380", "LAMP-BLUE-220", "LAMP-BLUE-380", "LAMP-RED-380"]
    assert Sku.objects.filter(product=product).count() == 6
    blue = Sku.objects.get(code="LAMP-BLUE-380")
    assert (blue.name, blue.attribute_values, blue.cost_price) == (
        "产品 LAMP 蓝色 380V", {"colour": "blue", "voltage": "380"}, Decimal("12.5000"))
    assert selectors.rules_version() == version_before + 1
    assert AuditEvent.objects.filter(object_type="sku", action="create").count() == 6
    again = skus.sku_generate(actor=manager, product_id=product.pk, values={"colour": ["red"], "voltage": ["380"]})
    assert (again.created, again.skipped) == ([], ["colour=red;voltage=380"])


def test_sku_generate_is_all_or_nothing(org: Org) -> None:
    manager = org["manager"]
    make_attributes(manager)
    product = make_product(manager, "LAMP", axes=["colour", "voltage"])
    other = make_product(manager, "OTHER")
    make_sku(manager, other, "LAMP-BLUE-380")  # a code the generation would produce

    with pytest.raises(ValidationFailed) as taken:
        skus.sku_generate(actor=manager, product_id=product.pk,
                              values={"colour": ["red", "blue"], "voltage": ["220", "380"]})
    assert _fields(taken.value) == [("code_pattern", "duplicate")]
    assert "LAMP-BLUE-380" in taken.value.errors[0].message
    with pytest.raises(ValidationFailed) as bad:
        skus.sku_generate(actor=manager, product_id=product.pk, values={"colour": ["red", "pink"]},
                              code_pattern="{product}-{size}")
    assert _fields(bad.value) == [("values.colour", "unknown_value"), ("values.voltage", "required"),
                                  ("code_pattern", "unknown_placeholder")]
    assert Sku.objects.filter(product=product).count() == 0


# --- BOM --------------------------------------------------------------------------------------------
def test_bom_replace_saves_items_and_groups_all_at_once(org: Org) -> None:
    manager = org["manager"]
    built = server_with_bom(manager)
    server = Product.objects.get(pk=built["server"].pk)
    rows = list(server.bom_items.order_by("position").values_list(
        "component__code", "quantity", "required", "priced", "option_group__code", "position"))
    assert rows == [("CHS-1", Decimal("1"), True, False, None, 0), ("CPU-A", Decimal("2"), True, True, "cpu", 1),
                    ("CPU-B", Decimal("2"), True, True, "cpu", 2), ("MEM-32", Decimal("4"), False, True, None, 3)]
    assert list(BomOptionGroup.objects.filter(product=server).values_list("code", "choice", "required")) == [
        ("cpu", "single", True)]

    with pytest.raises(ValidationFailed) as caught:
        bom.bom_replace(actor=manager, product_id=server.pk, items=[
            {"component_sku": "CHS-1", "quantity": "0"},
            {"component_sku": "NOPE"},
            {"component_sku": "CPU-A", "option_group": "gpu", "min_quantity": "3", "max_quantity": "2"},
        ])
    assert _fields(caught.value) == [("items[0].quantity", "not_positive"), ("items[1].component", "not_found"),
                                     ("items[2].max_quantity", "invalid"), ("items[2].option_group", "not_found")]
    assert server.bom_items.count() == 4  # nothing changed


def test_a_cycle_is_refused_with_its_path(org: Org) -> None:
    manager = org["manager"]
    built = server_with_bom(manager)
    # FAN's BOM may not hold the server: SRV → CHS → FAN → SRV.
    with pytest.raises(ValidationFailed) as caught:
        bom.bom_item_add(actor=manager, product_id=built["fan"].pk, data={"component_sku": "SRV-1"})
    assert _fields(caught.value) == [("component", "cycle")]
    assert "FAN → SRV → CHS → FAN" in caught.value.errors[0].message
    with pytest.raises(ValidationFailed) as replace:
        bom.bom_replace(actor=manager, product_id=built["fan"].pk, items=[{"component_sku": "CHS-1"}])
    assert _fields(replace.value) == [("items[0].component", "cycle")]
    assert "FAN → CHS → FAN" in replace.value.errors[0].message
    with pytest.raises(ValidationFailed) as itself:
        bom.bom_item_add(actor=manager, product_id=built["server"].pk, data={"component_sku": "SRV-1"})
    assert _fields(itself.value) == [("component", "cycle")]
    assert "SRV → SRV" in itself.value.errors[0].message
    assert BomItem.objects.filter(parent=built["fan"]).count() == 0


def test_rolled_up_cost_is_exact(org: Org) -> None:
    manager = org["manager"]
    built = server_with_bom(manager)
    # chassis 1 × (300.5 + 2 × 12.25) + the CPU group's default CPU-A 2 × 2000; memory is optional.
    assert bom.bom_rolled_up_cost(product=built["server"]) == Decimal("4325.0000")
    assert bom.bom_rolled_up_cost(product=built["chassis"]) == Decimal("24.5000")
    tree = bom.bom_tree(product=built["server"])
    assert [(node.sku_code, node.in_default, node.line_cost) for node in tree.children] == [
        ("CHS-1", True, Decimal("325.00000000")), ("CPU-A", True, Decimal("4000.00000000")),
        ("CPU-B", False, Decimal("7000.00000000")), ("MEM-32", False, Decimal("3200.00000000"))]
    assert [(child.sku_code, child.line_cost) for child in tree.children[0].children] == [
        ("FAN-1", Decimal("24.50000000"))]


def test_bom_item_row_actions_update_move_and_remove(org: Org) -> None:
    manager = org["manager"]
    built = server_with_bom(manager)
    server = built["server"]
    memory = server.bom_items.get(component__code="MEM-32")
    bom.bom_item_update(actor=manager, product_id=server.pk, item_id=memory.pk, data={"quantity": "8"})
    bom.bom_item_move(actor=manager, product_id=server.pk, item_id=memory.pk, offset=-1)
    assert list(server.bom_items.order_by("position").values_list("component__code", "quantity")) == [
        ("CHS-1", Decimal("1")), ("CPU-A", Decimal("2")), ("MEM-32", Decimal("8")), ("CPU-B", Decimal("2"))]
    bom.bom_item_remove(actor=manager, product_id=server.pk, item_id=memory.pk)
    assert server.bom_items.count() == 3
    with pytest.raises(ValidationFailed) as duplicate:
        bom.bom_item_add(actor=manager, product_id=server.pk, data={"component_sku": "CHS-1"})
    assert _fields(duplicate.value) == [("component", "duplicate")]


def test_every_catalogue_write_bumps_the_rules_version(org: Org) -> None:
    manager = org["manager"]
    steps: list[Any] = [
        lambda: services.category_create(actor=manager, data={"code": "c", "name": "C"}),
        lambda: make_attributes(manager),
        lambda: make_product(manager, "P", axes=["colour"]),
        lambda: make_sku(manager, Product.objects.get(code="P"), "P-RED", colour="red"),
        lambda: bom.bom_group_create(actor=manager, product_id=Product.objects.get(code="P").pk,
                                     data={"code": "g", "name": "G"}),
    ]
    for step in steps:
        before = selectors.rules_version()
        step()
        assert selectors.rules_version() > before


def test_the_demo_catalogue_is_idempotent_and_its_server_bom_has_three_levels(org: Org) -> None:
    from l2c.apps.catalog.demo import catalog_demo

    assert catalog_demo() == 20
    assert catalog_demo() == 0
    assert set(Product.objects.values_list("type", flat=True)) == {"goods", "service", "subscription", "usage",
                                                                   "project"}
    server = Product.objects.get(code="SRV-R740")
    tree = bom.bom_tree(product=server)
    chassis = next(node for node in tree.children if node.sku_code == "CHS-R740-2U")
    assert [child.sku_code for child in chassis.children] == ["FAN-6038", "BKP-8SFF"]
    # chassis 2600 + 6 × 45 + 380; CPU-4310 × 2; MEM-32G × 4; PSU-800W × 2; rail 160.
    assert bom.bom_rolled_up_cost(product=server) == Decimal("2600") + 6 * Decimal("45") + Decimal("380") \
        + 2 * Decimal("4200") + 4 * Decimal("780") + 2 * Decimal("520") + Decimal("160")
    storage = Product.objects.get(code="STO-S5000")
    assert bom.bom_rolled_up_cost(product=storage) == 12 * Decimal("1180")
