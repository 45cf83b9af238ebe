"""Input and output types of the configurator engine (ADR 0006).

Everything is referred to by **codes** (SKU, product, category, option group, rule), never by database
ids, so the result does not depend on the order in which rows were created. Quantities are `Decimal`;
costs are tax-exclusive `Decimal` unit costs, never rounded here (rounding is the pricing engine's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .rules import CompiledRule, InvalidRule

LineSource = Literal["root", "required", "selected", "auto_add"]

# --- Catalogue facts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkuInfo:
    """A sellable variant: its product, the product's category path (root first) and its unit cost."""

    code: str
    product_code: str
    category_path: tuple[str, ...]
    unit_cost: Decimal  # tax-exclusive, per unit
    attributes: Mapping[str, str] = field(default_factory=dict)  # {attribute code: value code}
    name: str = ""


@dataclass(frozen=True)
class OptionGroup:
    """A set of alternative components of one product: single choice (at most one) or multiple.

    A required group needs at least `max(1, min_choices)` chosen items; an optional group with
    `min_choices` needs that many once anything in it is chosen."""

    code: str
    name: str = ""
    multiple: bool = False
    required: bool = False
    min_choices: int = 0
    max_choices: int | None = None


@dataclass(frozen=True)
class BomItem:
    """One component line of a product's structure.

    `quantity` is per unit of the parent. `priced`: the component becomes its own priced line (True)
    or is included in the parent's price and only adds cost (False). An item with an `option_group`
    is a choice of that group whatever `required` says."""

    component_sku: str
    quantity: Decimal
    required: bool = True
    priced: bool = False
    min_quantity: Decimal | None = None  # per parent unit
    max_quantity: Decimal | None = None
    option_group: str | None = None
    position: int = 0


@dataclass(frozen=True)
class Structure:
    """The BOM of a product: every SKU of the product shares it."""

    product_code: str
    items: tuple[BomItem, ...]
    groups: tuple[OptionGroup, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A configuration rule as stored: `definition` is parsed by `rules.parse_rule`.

    `product` is the product the rule belongs to (it applies whenever that product is part of the
    configuration); None = a global rule, which applies to a configuration that contains what the rule
    is triggered by (see `rules.CompiledRule.trigger_keys`)."""

    code: str
    kind: str
    definition: Mapping[str, object]
    product: str | None = None
    message: str = ""  # optional human text written by an admin; the app may show it


@dataclass(frozen=True)
class ConfiguratorCatalog:
    """Catalogue facts and parsed rules indexed for expansion; built by `compile_configurator`."""

    skus: Mapping[str, SkuInfo]
    structures: Mapping[str, Structure]  # by product code; items sorted by (position, component SKU)
    groups: Mapping[str, Mapping[str, OptionGroup]]  # product code → group code → group
    rules: Mapping[str, CompiledRule]  # valid rules by code
    invalid_rules: tuple[InvalidRule, ...]  # rules whose definition does not parse, by code
    rules_by_product: Mapping[str, tuple[CompiledRule, ...]]  # rules that belong to a product, by code
    global_rules_by_key: Mapping[str, tuple[CompiledRule, ...]]  # global rules by trigger key, by code
    rules_by_key: Mapping[str, tuple[CompiledRule, ...]]  # every rule by each key it refers to, by code


# --- Request ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Configuration:
    """What the user chose for `quantity` units of `root_sku`.

    `selections` maps a component SKU to its quantity **per unit of the parent it sits in** (for a
    top-level component: per configured root unit; never multiplied by `quantity`). A selection
    applies wherever that SKU is a component in the expanded tree: it chooses an optional or
    option-group item, or changes the quantity of a required one; 0 = not chosen.
    `attributes` are chosen attribute values ({"voltage": "380"}); they override the root SKU's own."""

    root_sku: str
    quantity: Decimal = Decimal(1)
    selections: Mapping[str, Decimal] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    key_prefix: str = ""


# --- Result ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpandedLine:
    """One node of the expanded tree.

    `quantity` is absolute (multiplied down the tree and by the configured quantity). `unit_cost` is
    the SKU's own cost plus, per unit, the cost of its included (non-priced) components, recursively;
    a priced line maps to the pricing engine's `LineInput(key, sku, quantity, unit_cost=…, parent=…)`
    (see `engine.priced_lines` for the parent as the nearest priced ancestor)."""

    key: str
    sku: str
    quantity: Decimal
    parent: str | None
    priced: bool
    source: LineSource
    rule: str | None  # the auto_add rule that added the line (or the subtree it belongs to)
    unit_cost: Decimal


@dataclass(frozen=True)
class ConfigViolation:
    """Why a configuration is not valid. `message` is a message key ("configurator.requires_missing")
    that the app renders with `params` in the user's language; `kind` is the rule kind or
    "structure" for BOM problems."""

    code: str
    rule: str | None
    kind: str
    skus: tuple[str, ...]
    message: str
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class OptionState:
    """An optional component offered under a line of the configuration (the guided configurator):
    whether choosing it now (or keeping it, when selected) is valid, and if not, why.

    `quantity` is per unit of the parent: the chosen quantity, else the BOM default."""

    group: str | None
    sku: str
    allowed: bool
    reasons: tuple[ConfigViolation, ...]
    selected: bool
    quantity: Decimal
    parent: str | None = None  # key of the line the option sits under


@dataclass(frozen=True)
class ConfigurationResult:
    """The expanded configuration.

    `unit_cost`: rolled-up cost of one configured root unit (its own cost plus every included
    component's cost × quantity, recursively); `total_cost`: the cost of every line (priced ones
    included) for the whole configured quantity."""

    lines: tuple[ExpandedLine, ...]
    violations: tuple[ConfigViolation, ...]
    auto_added: tuple[ExpandedLine, ...]
    unit_cost: Decimal
    total_cost: Decimal
    options: tuple[OptionState, ...]

    @property
    def is_valid(self) -> bool:
        return not self.violations
