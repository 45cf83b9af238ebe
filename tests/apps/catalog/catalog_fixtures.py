"""Small catalogue builders shared by the catalogue tests (services, API, pages, import/export)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def make_attributes(actor: Any) -> dict[str, Any]:
    """colour (red, blue, black) and voltage (220, 380)."""
    from l2c.apps.catalog import services

    colour = services.attribute_create(actor=actor, data={"code": "colour", "name": "颜色", "values": [
        {"code": "red", "label": "红色"}, {"code": "blue", "label": "蓝色"}, {"code": "black", "label": "黑色"}]})
    voltage = services.attribute_create(actor=actor, data={"code": "voltage", "name": "电压", "values": [
        {"code": "220", "label": "220V"}, {"code": "380", "label": "380V"}]})
    return {"colour": colour, "voltage": voltage}


def make_product(actor: Any, code: str, *, axes: list[str] | None = None, **fields: Any) -> Any:
    from l2c.apps.catalog import services

    data = {"code": code, "name": fields.pop("name", f"产品 {code}"), "attribute_codes": axes or [], **fields}
    return services.product_create(actor=actor, data=data)


def make_sku(actor: Any, product: Any, code: str, cost: str = "0", **values: str) -> Any:
    from l2c.apps.catalog import skus

    return skus.sku_create(actor=actor, product_id=product.pk, data={
        "code": code, "name": f"SKU {code}", "attribute_values": values, "cost_price": cost})


def server_with_bom(actor: Any) -> dict[str, Any]:
    """A server (SRV) whose BOM holds a required chassis (CHS, itself with a fan FAN × 2), a CPU group
    (single, required: CPU-A first, CPU-B) and optional memory (MEM, not in the default)."""
    from l2c.apps.catalog import bom

    server = make_product(actor, "SRV")
    chassis = make_product(actor, "CHS")
    fan = make_product(actor, "FAN")
    cpu = make_product(actor, "CPU")
    memory = make_product(actor, "MEM")
    skus = {
        "SRV-1": make_sku(actor, server, "SRV-1", "1000"),
        "CHS-1": make_sku(actor, chassis, "CHS-1", "300.5"),
        "FAN-1": make_sku(actor, fan, "FAN-1", "12.25"),
        "CPU-A": make_sku(actor, cpu, "CPU-A", "2000"),
        "CPU-B": make_sku(actor, cpu, "CPU-B", "3500"),
        "MEM-32": make_sku(actor, memory, "MEM-32", "800"),
    }
    bom.bom_replace(actor=actor, product_id=chassis.pk, items=[{"component_sku": "FAN-1", "quantity": "2"}])
    bom.bom_replace(actor=actor, product_id=server.pk, groups=[
        {"code": "cpu", "name": "处理器", "choice": "single", "required": True},
    ], items=[
        {"component_sku": "CHS-1", "quantity": "1"},
        {"component_sku": "CPU-A", "quantity": "2", "option_group": "cpu", "priced": True},
        {"component_sku": "CPU-B", "quantity": "2", "option_group": "cpu", "priced": True},
        {"component_sku": "MEM-32", "quantity": "4", "required": False, "priced": True, "max_quantity": "16"},
    ])
    return {"server": server, "chassis": chassis, "fan": fan, "cpu": cpu, "memory": memory, "skus": skus}


ZERO = Decimal(0)
