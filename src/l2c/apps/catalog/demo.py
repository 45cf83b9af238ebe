"""Demo catalogue (ADR 0006): a realistic Chinese B2B catalogue — servers, storage, network, parts,
services, a subscription, a usage product and a project — with SKUs, costs and multi-level BOMs.

`catalog_demo()` is idempotent: it does nothing when any product exists. Written in one transaction
with one rules-version bump. The SKU codes are stable (the pricing demo refers to them):

- configurable server SRV-R740 (SKU SRV-R740-2U), BOM:
  chassis CHS-R740-2U (required, included; its own BOM: FAN-6038 × 6, BKP-8SFF × 1 — 3 levels),
  CPU group `cpu` (single, required): CPU-4310 / CPU-6330 × 2, priced;
  memory group `memory` (multiple, required): MEM-32G / MEM-64G × 4, priced, 2–24 per server;
  power group `psu` (single, required): PSU-800W / PSU-1100W × 2, priced;
  disk group `disk` (multiple, optional): SSD-960G / SSD-1920G / HDD-4T / HDD-8T × 2, priced, ≤ 12;
  RAIL-KIT (required, included); SVC-INSTALL-STD (optional, priced).
- storage array STO-S5000 (SKU STO-S5000-CTRL), BOM: disk shelves SHELF-2U25 (optional, priced,
  ≤ 8; each with PSU-800W × 2 included), HDD-8T × 12 (required, priced), SSD-1920G × 2 (optional).
- network NET-SW-24P / NET-SW-48P; cabinets CAB-42U-BLACK / CAB-42U-WHITE; PDU-220V / PDU-380V.
- services SVC-INSTALL-STD (安装服务, 次), SVC-CARE-3Y (三年维保, 台);
  subscription SUB-CLOUD-MGMT-Y (云管理平台订阅, 年); usage USG-TRAFFIC-GB (流量包, GB);
  project PRJ-IMPL-STD (实施项目, 项).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from .models import (
    Attribute,
    AttributeValue,
    BomItem,
    BomOptionGroup,
    CatalogStatus,
    Category,
    ChoiceMode,
    ConfigRule,
    Product,
    ProductAttribute,
    ProductType,
    Sku,
)
from .services import rules_version_bump
from .skus import attribute_key

CATEGORIES = [  # code, name, parent code
    ("hardware", "硬件", None), ("server", "服务器", "hardware"), ("storage", "存储", "hardware"),
    ("network", "网络设备", "hardware"), ("accessory", "配件", "hardware"), ("server-parts", "服务器部件", "accessory"),
    ("infrastructure", "机房基础设施", "accessory"), ("service", "服务", None), ("software", "软件订阅", None),
    ("cloud-usage", "云资源（按量）", None), ("project", "项目", None),
]
ATTRIBUTES = [  # code, name, [(value code, label)]
    ("model", "型号", [("2u", "2U 机架式"), ("24p", "24 口"), ("48p", "48 口"), ("silver-4310", "Silver 4310"),
                       ("gold-6330", "Gold 6330")]),
    ("colour", "颜色", [("black", "黑色"), ("white", "白色"), ("silver", "银色")]),
    ("capacity", "容量", [("960g", "960GB"), ("1920g", "1.92TB"), ("4t", "4TB"), ("8t", "8TB")]),
    ("voltage", "电压", [("220", "220V"), ("380", "380V")]),
    ("memory", "内存", [("32g", "32GB"), ("64g", "64GB")]),
]
G, S, SUB, U, P = (ProductType.GOODS, ProductType.SERVICE, ProductType.SUBSCRIPTION, ProductType.USAGE,
                   ProductType.PROJECT)
# code, name, category, type, unit, tax, axes, [(sku code, sku name, {axis: value}, cost)], description
PRODUCTS: list[tuple[Any, ...]] = [
    ("SRV-R740", "R740 机架式服务器", "server", G, "台", "0.13", ["model"],
     [("SRV-R740-2U", "R740 2U 机架式服务器（准系统）", {"model": "2u"}, "6800")],
     "双路 2U 机架式服务器，可选处理器、内存、电源与硬盘。"),
    ("CHS-R740", "R740 机箱", "server-parts", G, "套", "0.13", [],
     [("CHS-R740-2U", "R740 2U 机箱（含主板）", {}, "2600")], ""),
    ("FAN", "系统风扇", "server-parts", G, "个", "0.13", [], [("FAN-6038", "6038 高速风扇", {}, "45")], ""),
    ("BKP", "硬盘背板", "server-parts", G, "块", "0.13", [], [("BKP-8SFF", "8 盘位 2.5 寸背板", {}, "380")], ""),
    ("CPU-XEON", "至强处理器", "server-parts", G, "颗", "0.13", ["model"],
     [("CPU-4310", "Xeon Silver 4310 12 核", {"model": "silver-4310"}, "4200"),
      ("CPU-6330", "Xeon Gold 6330 28 核", {"model": "gold-6330"}, "9800")], ""),
    ("MEM-DDR4", "DDR4 服务器内存", "server-parts", G, "条", "0.13", ["memory"],
     [("MEM-32G", "32GB DDR4 3200 RDIMM", {"memory": "32g"}, "780"),
      ("MEM-64G", "64GB DDR4 3200 RDIMM", {"memory": "64g"}, "1480")], ""),
    ("SSD", "企业级 SSD", "server-parts", G, "块", "0.13", ["capacity"],
     [("SSD-960G", "960GB SATA SSD", {"capacity": "960g"}, "650"),
      ("SSD-1920G", "1.92TB SATA SSD", {"capacity": "1920g"}, "1150")], ""),
    ("HDD", "企业级机械硬盘", "server-parts", G, "块", "0.13", ["capacity"],
     [("HDD-4T", "4TB 7.2K SAS", {"capacity": "4t"}, "720"), ("HDD-8T", "8TB 7.2K SAS", {"capacity": "8t"}, "1180")],
     ""),
    ("PSU", "服务器电源", "server-parts", G, "个", "0.13", [],
     [("PSU-800W", "800W 铂金电源", {}, "520"), ("PSU-1100W", "1100W 铂金电源", {}, "690")], ""),
    ("RAIL-KIT", "机架导轨套件", "server-parts", G, "套", "0.13", [], [("RAIL-KIT", "滑动导轨套件", {}, "160")], ""),
    ("STO-S5000", "S5000 统一存储阵列", "storage", G, "台", "0.13", [],
     [("STO-S5000-CTRL", "S5000 双控制器框", {}, "68000")], "双控统一存储，可扩展硬盘框。"),
    ("SHELF", "硬盘扩展框", "storage", G, "台", "0.13", [], [("SHELF-2U25", "2U 25 盘位扩展框", {}, "12000")], ""),
    ("NET-SW", "千兆接入交换机", "network", G, "台", "0.13", ["model"],
     [("NET-SW-24P", "24 口千兆交换机", {"model": "24p"}, "2100"),
      ("NET-SW-48P", "48 口千兆交换机", {"model": "48p"}, "3600")], ""),
    ("CAB-42U", "42U 服务器机柜", "infrastructure", G, "台", "0.13", ["colour"],
     [("CAB-42U-BLACK", "42U 机柜 黑色", {"colour": "black"}, "2300"),
      ("CAB-42U-WHITE", "42U 机柜 白色", {"colour": "white"}, "2350")], ""),
    ("PDU", "机柜 PDU", "infrastructure", G, "条", "0.13", ["voltage"],
     [("PDU-220V", "PDU 220V 16A", {"voltage": "220"}, "420"), ("PDU-380V", "PDU 380V 32A", {"voltage": "380"}, "980")],
     ""),
    ("SVC-INSTALL", "安装服务", "service", S, "次", "0.06", [],
     [("SVC-INSTALL-STD", "上门安装调试（标准）", {}, "800")], "工程师上门安装、上架与基础调试。"),
    ("SVC-CARE-3Y", "三年维保", "service", S, "台", "0.06", [],
     [("SVC-CARE-3Y", "三年 7×24 原厂维保", {}, "2400")], "三年备件先行、7×24 电话支持。"),
    ("SUB-CLOUD-MGMT", "云管理平台订阅", "software", SUB, "年", "0.06", [],
     [("SUB-CLOUD-MGMT-Y", "云管理平台订阅（每年）", {}, "3000")], "按年订阅，按节点授权。"),
    ("USG-TRAFFIC", "流量包", "cloud-usage", U, "GB", "0.06", [],
     [("USG-TRAFFIC-GB", "公网流量（每 GB）", {}, "0.35")], "按实际用量计费。"),
    ("PRJ-IMPL", "实施项目", "project", P, "项", "0.06", [],
     [("PRJ-IMPL-STD", "数据中心实施项目（标准）", {}, "50000")], "按里程碑交付与验收。"),
]
GROUPS = {  # product code → [(code, name, choice, required, min, max)]
    "SRV-R740": [("cpu", "处理器", ChoiceMode.SINGLE, True, 1, 1), ("memory", "内存", ChoiceMode.MULTIPLE, True, 1, 2),
                 ("psu", "电源", ChoiceMode.SINGLE, True, 1, 1), ("disk", "硬盘", ChoiceMode.MULTIPLE, False, 0, 4)],
}
BOMS = {  # product code → [(component SKU, quantity, required, priced, min, max, group)]
    "SRV-R740": [
        ("CHS-R740-2U", "1", True, False, None, None, None),
        ("CPU-4310", "2", True, True, "1", "2", "cpu"), ("CPU-6330", "2", True, True, "1", "2", "cpu"),
        ("MEM-32G", "4", True, True, "2", "24", "memory"), ("MEM-64G", "4", True, True, "2", "24", "memory"),
        ("PSU-800W", "2", True, True, "1", "2", "psu"), ("PSU-1100W", "2", True, True, "1", "2", "psu"),
        ("SSD-960G", "2", True, True, "1", "12", "disk"), ("SSD-1920G", "2", True, True, "1", "12", "disk"),
        ("HDD-4T", "2", True, True, "1", "12", "disk"), ("HDD-8T", "2", True, True, "1", "12", "disk"),
        ("RAIL-KIT", "1", True, False, None, None, None),
        ("SVC-INSTALL-STD", "1", False, True, None, "1", None),
    ],
    "CHS-R740": [("FAN-6038", "6", True, False, None, None, None), ("BKP-8SFF", "1", True, False, None, None, None)],
    "STO-S5000": [("HDD-8T", "12", True, True, "4", "25", None), ("SHELF-2U25", "1", False, True, "1", "8", None),
                  ("SSD-1920G", "2", False, True, None, "4", None)],
    "SHELF": [("PSU-800W", "2", True, False, None, None, None)],
}

# code, product, kind, name, definition, message — the configurator shows them at work on the server.
RULES: list[tuple[str, str | None, str, str, dict[str, Any], str]] = [
    ("gold-needs-1100w", "SRV-R740", "requires", "金牌处理器需要 1100W 电源",
     {"if": "sku:CPU-6330", "then": ["sku:PSU-1100W"], "mode": "all"}, "Gold 6330 功耗高，请选择 1100W 电源。"),
    ("gold-excludes-800w", "SRV-R740", "excludes", "金牌处理器不能配 800W 电源",
     {"a": "sku:CPU-6330", "b": ["sku:PSU-800W"]}, ""),
    ("cache-ssd-per-4-hdd", "SRV-R740", "auto_add", "每 4 块 8TB 硬盘配 1 块缓存 SSD",
     {"when": "sku:HDD-8T", "add": "SSD-960G", "per": 4, "quantity": 1}, "大容量机械盘需要 SSD 缓存。"),
    ("disks-in-pairs", "SRV-R740", "quantity_limit", "硬盘成对配置",
     {"target": {"group": "disk"}, "max": 12, "multiple_of": 2}, "硬盘需成对配置以组 RAID 1，最多 12 块。"),
]


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@transaction.atomic
def catalog_demo() -> int:
    """Create the demo catalogue; returns the number of products created (0 when products exist)."""
    if Product.objects.exists():
        return 0
    categories: dict[str, Category] = {}
    for position, (code, name, parent) in enumerate(CATEGORIES):
        categories[code] = Category.objects.create(code=code, name=name, position=position,
                                                   parent=categories[parent] if parent else None)
    attributes: dict[str, Attribute] = {}
    for position, (code, name, values) in enumerate(ATTRIBUTES):
        attribute = attributes[code] = Attribute.objects.get_or_create(
            code=code, defaults={"name": name, "position": position})[0]
        for value_position, (value_code, label) in enumerate(values):
            AttributeValue.objects.get_or_create(attribute=attribute, code=value_code,
                                                 defaults={"label": label, "position": value_position})
    products: dict[str, Product] = {}
    skus: dict[str, Sku] = {}
    for code, name, category, kind, unit, tax, axes, sku_rows, description in PRODUCTS:
        product = products[code] = Product.objects.create(
            code=code, name=name, category=categories[category], type=kind, unit=unit, tax_rate=Decimal(tax),
            status=CatalogStatus.ACTIVE, description=description)
        ProductAttribute.objects.bulk_create([ProductAttribute(product=product, attribute=attributes[axis], position=i)
                                              for i, axis in enumerate(axes)])
        for sku_code, sku_name, values, cost in sku_rows:
            skus[sku_code] = Sku.objects.create(product=product, code=sku_code, name=sku_name, attribute_values=values,
                                                attribute_key=attribute_key(values), cost_price=Decimal(cost))
    for product_code, groups in GROUPS.items():
        for position, (code, name, choice, required, minimum, maximum) in enumerate(groups):
            BomOptionGroup.objects.create(product=products[product_code], code=code, name=name, choice=choice,
                                          required=required, min_choices=minimum, max_choices=maximum,
                                          position=position)
    group_of = {(group.product_id, group.code): group for group in BomOptionGroup.objects.all()}
    for product_code, items in BOMS.items():
        product = products[product_code]
        BomItem.objects.bulk_create([
            BomItem(parent=product, component=skus[sku], quantity=Decimal(quantity), required=required, priced=priced,
                    min_quantity=_decimal(minimum), max_quantity=_decimal(maximum),
                    option_group=group_of[(product.pk, group)] if group else None, position=position)
            for position, (sku, quantity, required, priced, minimum, maximum, group) in enumerate(items)])
    ConfigRule.objects.bulk_create([
        ConfigRule(code=code, name=name, product=products[product] if product else None, kind=kind,
                   definition=definition, message=message, position=position)
        for position, (code, product, kind, name, definition, message) in enumerate(RULES)])
    rules_version_bump()
    return len(products)
