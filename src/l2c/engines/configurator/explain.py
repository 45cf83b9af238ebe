"""The rule editor's "test this rule" box: one rule, saved or not, on a sample configuration."""

from __future__ import annotations

from typing import NamedTuple

from .engine import _expand, catalog_with_rule
from .types import Configuration, ConfiguratorCatalog, ConfigViolation, ExpandedLine, Rule


class RuleTestResult(NamedTuple):
    passes: bool
    violations: tuple[ConfigViolation, ...]  # raised by the rule under test only
    auto_added: tuple[ExpandedLine, ...]  # added by the rule under test only


def validate_rule_against(catalog: ConfiguratorCatalog, rule: Rule, configuration: Configuration) -> RuleTestResult:
    """Evaluate `rule` on `configuration` with the catalog's other rules in force.

    The rule replaces a saved rule of the same code and is evaluated even where it would not apply (a
    rule of another product, a global rule whose trigger is absent), so the box always answers. A
    definition that does not parse raises `rules.RuleDefinitionError` (the editor shows the field)."""
    result = _expand(catalog_with_rule(catalog, rule), configuration, rule.code)
    violations = tuple(violation for violation in result.violations if violation.rule == rule.code)
    auto_added = tuple(line for line in result.auto_added if line.rule == rule.code)
    return RuleTestResult(not violations, violations, auto_added)
