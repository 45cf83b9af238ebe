"""Configurator engine (选配, ADR 0006): expands a product's BOM for a configuration, applies and checks
the configuration rules (requires, excludes, auto_add, attribute_constraint, quantity_limit), rolls up
the cost and detects structure cycles. Pure: frozen dataclasses in and out, codes instead of ids,
message keys + params instead of text."""

from .engine import (
    MAX_AUTO_ADD_ROUNDS,
    catalog_with_rule,
    compile_configurator,
    expand,
    find_cycle,
    priced_lines,
    product_graph,
    rolled_up_cost,
)
from .explain import RuleTestResult, validate_rule_against
from .rules import RULE_KINDS, CompiledRule, InvalidRule, Ref, RuleDefinitionError, parse_ref, parse_rule
from .types import (
    BomItem,
    Configuration,
    ConfigurationResult,
    ConfiguratorCatalog,
    ConfigViolation,
    ExpandedLine,
    OptionGroup,
    OptionState,
    Rule,
    SkuInfo,
    Structure,
)

__all__ = [
    "MAX_AUTO_ADD_ROUNDS", "RULE_KINDS", "BomItem", "CompiledRule", "ConfigViolation", "Configuration",
    "ConfigurationResult", "ConfiguratorCatalog", "ExpandedLine", "InvalidRule", "OptionGroup", "OptionState",
    "Ref", "Rule", "RuleDefinitionError", "RuleTestResult", "SkuInfo", "Structure", "catalog_with_rule",
    "compile_configurator", "expand", "find_cycle", "parse_ref", "parse_rule", "priced_lines", "product_graph",
    "rolled_up_cost", "validate_rule_against",
]
