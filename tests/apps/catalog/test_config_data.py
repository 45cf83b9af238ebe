"""A configurable server built with the ORM for the configuration-rule and configurator tests.

SRV-X (model X, cost 1000) includes a chassis (200, included in its price). Options:
- cpu: single choice, required — CPU-A (300), CPU-B (500); priced lines.
- memory: multiple choice (at most 2 kinds) — MEM-16 (50), MEM-32 (90); priced lines.
- optional items: GPU-1 (800), PSU-1200W (120); priced lines.
Rules (product SRV):
- gpu-needs-psu  requires    GPU-1 → PSU-1200W
- cpua-no-mem32  excludes    CPU-A ✕ MEM-32
- psu-per-2-mem  auto_add    one PMOD-1 (30) per 2 memory modules (product MEM)
- x-voltage      attribute   model X → voltage ∈ {220, 380}
- mem-max-8      quantity    memory group ≤ 8 modules
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

D = Decimal


@dataclass
class Server:
    product: Any
    rules: dict[str, Any]


def build_catalogue() -> dict[str, Any]:
    from l2c.apps.catalog.models import (
        Attribute,
        AttributeValue,
        BomItem,
        BomOptionGroup,
        Category,
        ChoiceMode,
        Product,
        Sku,
    )

    hardware = Category.objects.create(code="hw", name="硬件")
    servers = Category.objects.create(code="server", name="服务器", parent=hardware)
    parts = Category.objects.create(code="parts", name="配件", parent=hardware)
    model = Attribute.objects.create(code="model", name="型号")
    voltage = Attribute.objects.create(code="voltage", name="电压")
    for code in ("X", "Y"):
        AttributeValue.objects.create(attribute=model, code=code, label=f"{code} 型")
    for code in ("110", "220", "380"):
        AttributeValue.objects.create(attribute=voltage, code=code, label=f"{code} V")

    def product(code: str, name: str, category: Any) -> Any:
        return Product.objects.create(code=code, name=name, category=category)

    srv = product("SRV", "机架服务器", servers)
    products = {code: product(code, name, parts) for code, name in (
        ("CHASSIS", "机箱"), ("CPU", "处理器"), ("MEM", "内存"), ("GPU", "显卡"), ("PSU", "电源"),
        ("PMOD", "电源模块"))}
    skus = {"SRV-X": Sku.objects.create(product=srv, code="SRV-X", name="服务器 X 型", cost_price=D("1000"),
                                        attribute_values={"model": "X"}, attribute_key="model=X")}
    for code, product_code, name, cost in (
            ("CHASSIS-1", "CHASSIS", "2U 机箱", "200"), ("CPU-A", "CPU", "处理器 A", "300"),
            ("CPU-B", "CPU", "处理器 B", "500"), ("MEM-16", "MEM", "16G 内存", "50"),
            ("MEM-32", "MEM", "32G 内存", "90"), ("GPU-1", "GPU", "显卡", "800"),
            ("PSU-1200W", "PSU", "1200W 电源", "120"), ("PMOD-1", "PMOD", "电源模块", "30")):
        skus[code] = Sku.objects.create(product=products[product_code], code=code, name=name, cost_price=D(cost))
    cpu = BomOptionGroup.objects.create(product=srv, code="cpu", name="处理器", choice=ChoiceMode.SINGLE,
                                        required=True, position=1)
    memory = BomOptionGroup.objects.create(product=srv, code="memory", name="内存", choice=ChoiceMode.MULTIPLE,
                                           max_choices=2, position=2)
    BomItem.objects.create(parent=srv, component=skus["CHASSIS-1"], position=1)
    BomItem.objects.create(parent=srv, component=skus["CPU-A"], option_group=cpu, priced=True, position=2)
    BomItem.objects.create(parent=srv, component=skus["CPU-B"], option_group=cpu, priced=True, position=3)
    BomItem.objects.create(parent=srv, component=skus["MEM-16"], option_group=memory, priced=True, position=4)
    BomItem.objects.create(parent=srv, component=skus["MEM-32"], option_group=memory, priced=True, position=5)
    BomItem.objects.create(parent=srv, component=skus["GPU-1"], required=False, priced=True, position=6)
    BomItem.objects.create(parent=srv, component=skus["PSU-1200W"], required=False, priced=True, position=7)
    return {"product": srv, "skus": skus, "products": products}


SERVER_RULES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("gpu-needs-psu", "显卡需要大功率电源", "requires", {"if": "GPU-1", "then": ["PSU-1200W"]}),
    ("cpua-no-mem32", "处理器 A 不支持 32G 内存", "excludes", {"a": "CPU-A", "b": ["MEM-32"]}),
    ("psu-per-2-mem", "每 2 条内存配 1 个电源模块", "auto_add",
     {"when": "product:MEM", "add": "PMOD-1", "per": 2, "quantity": 1}),
    ("x-voltage", "X 型只支持 220/380 V", "attribute_constraint",
     {"when": {"attribute": "model", "value": "X"}, "attribute": "voltage", "allowed": ["220", "380"]}),
    ("mem-max-8", "内存最多 8 条", "quantity_limit", {"target": {"group": "memory"}, "max": 8}),
]


@pytest.fixture
def server(org: Any) -> Server:
    from l2c.apps.catalog.rules import rule_create

    built = build_catalogue()
    product = built["product"]
    rules = {code: rule_create(actor=org["admin"], data={
        "code": code, "name": name, "kind": kind, "definition": definition, "product_id": product.pk})
        for code, name, kind, definition in SERVER_RULES}
    return Server(product, rules)


@pytest.fixture(autouse=True)
def _fresh_configurator_cache() -> Any:
    """Each test's database starts from the same rules version: never reuse another test's catalogue."""
    from l2c.apps.catalog.configurator import configurator_cache_clear

    configurator_cache_clear()
    yield
    configurator_cache_clear()
