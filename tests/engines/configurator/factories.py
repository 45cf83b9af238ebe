"""Small catalogue builders for the configurator tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from l2c.engines.configurator import (
    BomItem,
    Configuration,
    ConfigurationResult,
    ConfiguratorCatalog,
    OptionGroup,
    Rule,
    SkuInfo,
    Structure,
    compile_configurator,
    expand,
)

D = Decimal


def sku(code: str, product: str, cost: str, categories: tuple[str, ...] = (), **attributes: str) -> SkuInfo:
    return SkuInfo(code, product, categories, D(cost), dict(attributes), name=code)


def item(component: str, quantity: str = "1", *, required: bool = True, priced: bool = False,
         minimum: str | None = None, maximum: str | None = None, group: str | None = None,
         position: int = 0) -> BomItem:
    return BomItem(component, D(quantity), required, priced, D(minimum) if minimum is not None else None,
                   D(maximum) if maximum is not None else None, group, position)


def rule(code: str, kind: str, definition: Mapping[str, object], product: str | None = None,
         message: str = "") -> Rule:
    return Rule(code, kind, definition, product, message)


# The server: SRV-1 (1000) includes a chassis (200) with 4 fans (5) of 4 screws (0.10) each; a CPU is a
# required single choice (priced lines); memory is optional (2 per server by default, 2..8); disks
# are a multiple-choice group (at most 2); a rail kit is an optional included item.
SERVER_SKUS = (
    sku("SRV-1", "SRV", "1000", ("hw", "server"), model="X"),
    sku("CHASSIS-1", "CHASSIS", "200", ("hw", "parts")),
    sku("FAN-1", "FAN", "5", ("hw", "parts")),
    sku("SCREW-1", "SCREW", "0.10", ("hw", "parts")),
    sku("CPU-A", "CPU", "300", ("hw", "cpu")),
    sku("CPU-B", "CPU", "500", ("hw", "cpu"), voltage="380"),
    sku("MEM-16", "MEM", "50", ("hw", "memory")),
    sku("DISK-1", "DISK", "80", ("hw", "storage")),
    sku("DISK-2", "DISK", "120", ("hw", "storage")),
    sku("DISK-3", "DISK", "150", ("hw", "storage")),
    sku("RAIL-1", "RAIL", "10", ("hw", "parts")),
    sku("PSU-110", "PSU", "40", ("hw", "power"), voltage="110"),
)
SERVER_STRUCTURES = (
    Structure("SRV", (
        item("CHASSIS-1", position=1),
        item("CPU-A", priced=True, group="cpu", position=2),
        item("CPU-B", priced=True, group="cpu", position=3),
        item("MEM-16", "2", required=False, priced=True, minimum="2", maximum="8", position=4),
        item("DISK-1", priced=True, group="disk", position=5),
        item("DISK-2", priced=True, group="disk", position=5),
        item("DISK-3", priced=True, group="disk", position=5),
        item("RAIL-1", required=False, position=6),
        item("PSU-110", required=False, priced=True, position=7),
    ), (
        OptionGroup("cpu", "处理器", multiple=False, required=True),
        OptionGroup("disk", "硬盘", multiple=True, required=False, min_choices=0, max_choices=2),
    )),
    Structure("CHASSIS", (item("FAN-1", "4"),)),
    Structure("FAN", (item("SCREW-1", "4"),)),
)

# The switch: modules are chosen freely; power supplies are optional too (a user may pick them).
SWITCH_SKUS = (
    sku("SW-1", "SW", "800", ("net", "switch")),
    sku("MOD-1", "MOD", "100", ("net", "module")),
    sku("PSU-1", "PSU", "60", ("net", "power")),
    sku("CORD-1", "CORD", "3", ("net", "cable")),
    sku("CABLE-1", "CABLE", "2", ("net", "cable")),
    sku("BRACKET-1", "BRACKET", "7", ("net", "parts")),
)
SWITCH_STRUCTURES = (
    Structure("SW", (item("MOD-1", required=False, priced=True, position=1),
                     item("PSU-1", required=False, priced=True, position=2))),
    Structure("PSU", (item("BRACKET-1", "2"),)),
)

PSU_PER_TWO_MODULES = rule("R-PSU", "auto_add", {"when": "sku:MOD-1", "add": "sku:PSU-1", "per": 2, "quantity": 1},
                           product="SW")


def catalog(rules: Iterable[Rule] = (), skus: Iterable[SkuInfo] = SERVER_SKUS + SWITCH_SKUS,
            structures: Iterable[Structure] = SERVER_STRUCTURES + SWITCH_STRUCTURES) -> ConfiguratorCatalog:
    return compile_configurator(skus, structures, rules)


def configure(catalogue: ConfiguratorCatalog, root: str, quantity: str = "1",
              attributes: Mapping[str, str] | None = None, **selections: str) -> ConfigurationResult:
    chosen = {code.replace("_", "-"): D(value) for code, value in selections.items()}
    return expand(catalogue, Configuration(root, D(quantity), chosen, dict(attributes or {})))


def codes(result: ConfigurationResult) -> list[str]:
    return [violation.code for violation in result.violations]


def quantities(result: ConfigurationResult) -> dict[str, Decimal]:
    return {line.key: line.quantity for line in result.lines}


def configure_map(catalogue: ConfiguratorCatalog, root: str, selections: Mapping[str, str],
                  quantity: str = "1") -> ConfigurationResult:
    chosen = {code.replace("_", "-"): D(value) for code, value in selections.items()}
    return expand(catalogue, Configuration(root, D(quantity), chosen))
