"""Configuration rules: parsing of the stored JSON definitions and evaluation on a configuration.

**References.** A rule refers to what is chosen with a *ref* string:

- ``"sku:CODE"`` — that SKU;
- ``"product:CODE"`` — any SKU of that product;
- ``"category:CODE"`` — any SKU whose product lies in that category or below it;
- a bare ``"CODE"`` is a SKU code (``"SKU-MOD"`` = ``"sku:SKU-MOD"``).

The quantity of a ref is the sum of the quantities of the expanded lines matching it, **per configured
root unit** (the configured quantity multiplies every line alike, so rules hold per unit; "1 power
supply per 2 modules" is per chassis). A ref is *chosen* when its quantity is > 0.

**Kinds and definitions.**

- ``requires`` ``{"if": ref, "then": [ref, …], "mode": "all" | "any"}`` (mode defaults to all).
- ``excludes`` ``{"a": ref, "b": [ref, …]}``: a and any of b cannot both be chosen.
- ``auto_add`` ``{"when": ref, "add": sku, …formula, "priced"?: bool}``: formula ``"per": n`` →
  ``ceil(qty(when) / n) × quantity`` (quantity defaults to 1); ``"factor": f`` → ``ceil(qty(when) × f)``;
  only ``"quantity": q`` → q (fixed). The line tops up what the configuration already holds of the SKU
  (lines not added by an auto_add rule), so a user who chose the power supplies gets none extra.
- ``attribute_constraint`` ``{"when": {"attribute": a, "value": v} | {"sku": ref}, "attribute": b,
  "allowed": [value, …]}``: if the condition holds, every value of attribute b in the configuration
  (the chosen value or the root SKU's, and the values of the component SKUs carrying b) is allowed,
  and there is one.
- ``quantity_limit`` ``{"target": ref | {"category": code} | {"group": code}, "min"?, "max"?,
  "multiple_of"?}``; a group target sums the lines chosen in that option group (of the rule's product,
  or of any product for a global rule).

A bad definition raises `RuleDefinitionError(field, message_key, params)`; `field` is the path of the
offending field ("then[1]", "when.attribute"). Message keys: ``configurator.rule.<error>`` with
error one of unknown_kind, not_an_object, unknown_field, required, invalid_ref, not_a_sku, not_a_list,
empty_list, not_a_string, invalid_choice, not_a_number, not_positive, negative, not_a_boolean,
conflicting_fields, min_above_max, no_limit.

Violation codes (message key ``configurator.<code>``): requires_missing, excludes_conflict,
attribute_required, attribute_not_allowed, quantity_below_min, quantity_above_max,
quantity_not_multiple.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Literal

from .types import ConfigViolation, Rule

RULE_KINDS = ("requires", "excludes", "auto_add", "attribute_constraint", "quantity_limit")
REF_KINDS = ("sku", "product", "category")
RULE_MESSAGE_PREFIX = "configurator.rule."
VIOLATION_MESSAGE_PREFIX = "configurator."

RefKind = Literal["sku", "product", "category", "group"]


class RuleDefinitionError(ValueError):
    """A rule definition that cannot be used; `field` names the offending field."""

    def __init__(self, field: str, message_key: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(f"{field}: {message_key}")
        self.field = field
        self.message_key = message_key
        self.params: dict[str, object] = dict(params or {})


# --- Parsed definitions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    kind: RefKind
    code: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.code}"


@dataclass(frozen=True)
class Requires:
    if_ref: Ref
    then: tuple[Ref, ...]
    mode: Literal["all", "any"]


@dataclass(frozen=True)
class Excludes:
    a: Ref
    b: tuple[Ref, ...]


@dataclass(frozen=True)
class AutoAdd:
    when: Ref
    add: str  # SKU code
    quantity: Decimal  # fixed quantity, or the multiplier of `per`
    per: Decimal | None = None
    factor: Decimal | None = None
    priced: bool = True

    def target(self, when_quantity: Decimal) -> Decimal:
        """The quantity of `add` the configuration must hold (per root unit)."""
        if when_quantity <= 0:
            return Decimal(0)
        if self.per is not None:
            return (when_quantity / self.per).to_integral_value(rounding=ROUND_CEILING) * self.quantity
        if self.factor is not None:
            return (when_quantity * self.factor).to_integral_value(rounding=ROUND_CEILING)
        return self.quantity


@dataclass(frozen=True)
class AttributeConstraint:
    attribute: str
    allowed: tuple[str, ...]  # sorted, distinct
    when_ref: Ref | None = None
    when_attribute: str | None = None
    when_value: str | None = None

    @property
    def condition(self) -> str:
        """The condition as shown in params: a ref key or "attribute=value"."""
        if self.when_ref is not None:
            return self.when_ref.key
        return f"{self.when_attribute}={self.when_value}"


@dataclass(frozen=True)
class QuantityLimit:
    target: Ref
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    multiple_of: Decimal | None = None


ParsedRule = Requires | Excludes | AutoAdd | AttributeConstraint | QuantityLimit


@dataclass(frozen=True)
class CompiledRule:
    """A stored rule with its parsed definition and the keys it is indexed by.

    Keys are ``"sku:X"``, ``"product:X"``, ``"category:X"``, ``"group:G"`` / ``"group:P/G"`` (an option
    group G of product P) and ``"attribute:A=v"``. `trigger_keys`: a global rule applies to a
    configuration holding one of them (for every kind but quantity_limit this is exact: without its
    trigger a rule cannot fail; a global quantity limit therefore only checks configurations that hold
    its target). `ref_keys` / `attributes`: everything the rule refers to (the guided configurator's
    "which rules concern this option")."""

    rule: Rule
    parsed: ParsedRule
    trigger_keys: frozenset[str]
    ref_keys: frozenset[str]
    attributes: frozenset[str]

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def kind(self) -> str:
        return self.rule.kind


@dataclass(frozen=True)
class InvalidRule:
    """A stored rule whose definition no longer parses (the app validates on save; this is a guard)."""

    rule: Rule
    field: str
    message_key: str
    params: Mapping[str, object]


# --- Parsing ---------------------------------------------------------------------------------------

_FIELDS: Mapping[str, frozenset[str]] = {
    "requires": frozenset({"if", "then", "mode"}),
    "excludes": frozenset({"a", "b"}),
    "auto_add": frozenset({"when", "add", "per", "quantity", "factor", "priced"}),
    "attribute_constraint": frozenset({"when", "attribute", "allowed"}),
    "quantity_limit": frozenset({"target", "min", "max", "multiple_of"}),
}


def _error(field: str, error: str, **params: object) -> RuleDefinitionError:
    return RuleDefinitionError(field, RULE_MESSAGE_PREFIX + error, params)


def parse_ref(field: str, value: object) -> Ref:
    """Parse ``"sku:X"``, ``"product:X"``, ``"category:X"`` or a bare SKU code."""
    if not isinstance(value, str):
        raise _error(field, "not_a_string")
    text = value.strip()
    kind, separator, code = text.partition(":")
    if separator and kind in REF_KINDS:
        code = code.strip()
        if not code:
            raise _error(field, "invalid_ref", value=value)
        return Ref(kind, code)  # type: ignore[arg-type]  # kind checked against REF_KINDS
    if not text:
        raise _error(field, "invalid_ref", value=value)
    return Ref("sku", text)


def _ref_list(field: str, value: object) -> tuple[Ref, ...]:
    if isinstance(value, str):
        return (parse_ref(field, value),)
    if not isinstance(value, list | tuple):
        raise _error(field, "not_a_list")
    if not value:
        raise _error(field, "empty_list")
    refs: list[Ref] = []
    for index, item in enumerate(value):
        ref = parse_ref(f"{field}[{index}]", item)
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def _number(field: str, value: object, *, positive: bool) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _error(field, "not_a_number")
    try:
        number = Decimal(str(value)) if isinstance(value, float | str) else Decimal(value)
    except InvalidOperation:
        raise _error(field, "not_a_number") from None
    if not number.is_finite():
        raise _error(field, "not_a_number")
    if positive and number <= 0:
        raise _error(field, "not_positive")
    if number < 0:
        raise _error(field, "negative")
    return number


def _string(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _error(field, "not_a_string")
    return value.strip()


def _require(definition: Mapping[str, object], field: str) -> object:
    if definition.get(field) is None:
        raise _error(field, "required")
    return definition[field]


def parse_rule(kind: str, definition: object) -> ParsedRule:
    """Parse and validate a rule definition; raise `RuleDefinitionError` naming the bad field."""
    if kind not in RULE_KINDS:
        raise _error("kind", "unknown_kind", kind=kind, choices=list(RULE_KINDS))
    if not isinstance(definition, Mapping):
        raise _error("definition", "not_an_object")
    for name in sorted(str(key) for key in definition):
        if name not in _FIELDS[kind]:
            raise _error(name, "unknown_field", allowed=sorted(_FIELDS[kind]))
    if kind == "requires":
        mode = definition.get("mode", "all")
        if mode not in ("all", "any"):
            raise _error("mode", "invalid_choice", choices=["all", "any"])
        return Requires(parse_ref("if", _require(definition, "if")), _ref_list("then", _require(definition, "then")),
                        "all" if mode == "all" else "any")
    if kind == "excludes":
        return Excludes(parse_ref("a", _require(definition, "a")), _ref_list("b", _require(definition, "b")))
    if kind == "auto_add":
        return _parse_auto_add(definition)
    if kind == "attribute_constraint":
        return _parse_attribute_constraint(definition)
    return _parse_quantity_limit(definition)


def _parse_auto_add(definition: Mapping[str, object]) -> AutoAdd:
    when = parse_ref("when", _require(definition, "when"))
    add = parse_ref("add", _require(definition, "add"))
    if add.kind != "sku":
        raise _error("add", "not_a_sku", value=definition["add"])
    if definition.get("per") is not None and definition.get("factor") is not None:
        raise _error("factor", "conflicting_fields", fields=["per", "factor"])
    priced = definition.get("priced", True)
    if not isinstance(priced, bool):
        raise _error("priced", "not_a_boolean")
    if definition.get("per") is not None:
        per = _number("per", definition["per"], positive=True)
        quantity = _number("quantity", definition.get("quantity", 1), positive=True)
        return AutoAdd(when, add.code, quantity, per=per, priced=priced)
    if definition.get("factor") is not None:
        if definition.get("quantity") is not None:
            raise _error("quantity", "conflicting_fields", fields=["factor", "quantity"])
        factor = _number("factor", definition["factor"], positive=True)
        return AutoAdd(when, add.code, Decimal(0), factor=factor, priced=priced)
    quantity = _number("quantity", _require(definition, "quantity"), positive=True)
    return AutoAdd(when, add.code, quantity, priced=priced)


def _parse_attribute_constraint(definition: Mapping[str, object]) -> AttributeConstraint:
    when = _require(definition, "when")
    attribute = _string("attribute", _require(definition, "attribute"))
    allowed_value = _require(definition, "allowed")
    if not isinstance(allowed_value, list | tuple):
        raise _error("allowed", "not_a_list")
    if not allowed_value:
        raise _error("allowed", "empty_list")
    allowed = tuple(sorted({_string(f"allowed[{index}]", value) for index, value in enumerate(allowed_value)}))
    if isinstance(when, str):
        return AttributeConstraint(attribute, allowed, when_ref=parse_ref("when", when))
    if not isinstance(when, Mapping):
        raise _error("when", "not_an_object")
    for name in sorted(str(key) for key in when):
        if name not in ("attribute", "value", "sku"):
            raise _error(f"when.{name}", "unknown_field", allowed=["attribute", "sku", "value"])
    if when.get("sku") is not None:
        if when.get("attribute") is not None or when.get("value") is not None:
            raise _error("when.sku", "conflicting_fields", fields=["attribute", "sku"])
        return AttributeConstraint(attribute, allowed, when_ref=parse_ref("when.sku", when["sku"]))
    if when.get("attribute") is None:
        raise _error("when.attribute", "required")
    if when.get("value") is None:
        raise _error("when.value", "required")
    return AttributeConstraint(attribute, allowed, when_attribute=_string("when.attribute", when["attribute"]),
                               when_value=_string("when.value", when["value"]))


def _parse_quantity_limit(definition: Mapping[str, object]) -> QuantityLimit:
    raw_target = _require(definition, "target")
    target: Ref
    if isinstance(raw_target, Mapping):
        names = sorted(str(key) for key in raw_target)
        if len(names) != 1 or names[0] not in ("category", "group", "product", "sku"):
            raise _error("target", "invalid_ref", value=dict(raw_target))
        name = names[0]
        code = _string(f"target.{name}", raw_target[name])
        target = Ref(name, code)  # type: ignore[arg-type]  # name checked above
    else:
        target = parse_ref("target", raw_target)
    minimum = _number("min", definition["min"], positive=False) if definition.get("min") is not None else None
    maximum = _number("max", definition["max"], positive=False) if definition.get("max") is not None else None
    multiple = definition.get("multiple_of")
    multiple_of = _number("multiple_of", multiple, positive=True) if multiple is not None else None
    if minimum is None and maximum is None and multiple_of is None:
        raise _error("max", "no_limit", fields=["max", "min", "multiple_of"])
    if minimum is not None and maximum is not None and minimum > maximum:
        raise _error("max", "min_above_max", min=format_quantity(minimum), max=format_quantity(maximum))
    return QuantityLimit(target, minimum, maximum, multiple_of)


def ref_key(ref: Ref, product: str | None) -> str:
    """The lookup key of a ref in a rule of `product`: an option group is a group of that product."""
    if ref.kind == "group" and product is not None:
        return f"group:{product}/{ref.code}"
    return ref.key


def compile_rule(rule: Rule) -> CompiledRule:
    """Parse a stored rule and compute its index keys; raise `RuleDefinitionError`."""
    parsed = parse_rule(rule.kind, rule.definition)
    refs: list[Ref]
    triggers: list[str]
    attributes: frozenset[str] = frozenset()
    if isinstance(parsed, Requires):
        refs, triggers = [parsed.if_ref, *parsed.then], [parsed.if_ref.key]
    elif isinstance(parsed, Excludes):
        refs, triggers = [parsed.a, *parsed.b], [parsed.a.key]
    elif isinstance(parsed, AutoAdd):
        refs, triggers = [parsed.when, Ref("sku", parsed.add)], [parsed.when.key]
    elif isinstance(parsed, AttributeConstraint):
        if parsed.when_ref is not None:
            refs, triggers = [parsed.when_ref], [parsed.when_ref.key]
            attributes = frozenset({parsed.attribute})
        else:
            refs, triggers = [], [f"attribute:{parsed.when_attribute}={parsed.when_value}"]
            attributes = frozenset({parsed.attribute, str(parsed.when_attribute)})
    else:
        refs, triggers = [parsed.target], [parsed.target.key]
    ref_keys = frozenset(ref_key(ref, rule.product) for ref in refs) | frozenset(
        key for key in triggers if key.startswith("attribute:"))
    return CompiledRule(rule, parsed, frozenset(triggers), ref_keys, attributes)


# --- Evaluation ------------------------------------------------------------------------------------


def format_quantity(value: Decimal) -> str:
    """A quantity as shown in params: no exponent, no trailing zeros ("2", "0.5", "300")."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


class RuleState:
    """What a configuration holds, as rules see it (per root unit), with an optional hypothetical
    addition (the guided configurator asks "what if this option were chosen too")."""

    def __init__(self, quantities: Mapping[str, Decimal], skus: Mapping[str, Iterable[str]],
                 attribute_values: Mapping[str, Mapping[str, Iterable[str]]]) -> None:
        self._quantities = quantities
        self._skus = skus
        self._attribute_values = attribute_values
        self._extra_keys: frozenset[str] = frozenset()
        self._extra_quantity = Decimal(0)
        self._extra_sku = ""
        self._extra_attributes: Mapping[str, str] = {}

    def with_addition(self, keys: Iterable[str], quantity: Decimal, sku: str,
                      attributes: Mapping[str, str]) -> RuleState:
        state = RuleState(self._quantities, self._skus, self._attribute_values)
        state._extra_keys = frozenset(keys)
        state._extra_quantity = quantity
        state._extra_sku = sku
        state._extra_attributes = attributes
        return state

    def quantity(self, key: str) -> Decimal:
        value = self._quantities.get(key, Decimal(0))
        if key in self._extra_keys:
            value += self._extra_quantity
        return value

    def skus(self, key: str) -> set[str]:
        found = set(self._skus.get(key, ()))
        if key in self._extra_keys:
            found.add(self._extra_sku)
        return found

    def values(self, attribute: str) -> dict[str, set[str]]:
        """Values of `attribute` present in the configuration → the SKUs carrying each."""
        found = {value: set(skus) for value, skus in self._attribute_values.get(attribute, {}).items()}
        extra = self._extra_attributes.get(attribute)
        if extra is not None:
            found.setdefault(extra, set()).add(self._extra_sku)
        return found


def _violation(compiled: CompiledRule, code: str, skus: Iterable[str], params: dict[str, object]) -> ConfigViolation:
    if compiled.rule.message:
        params["rule_message"] = compiled.rule.message
    return ConfigViolation(code, compiled.code, compiled.kind, tuple(sorted(set(skus))),
                           VIOLATION_MESSAGE_PREFIX + code, params)


def evaluate(compiled: CompiledRule, state: RuleState) -> list[ConfigViolation]:
    """The violations of one rule on a configuration (auto_add rules never fail here)."""
    parsed = compiled.parsed
    product = compiled.rule.product
    if isinstance(parsed, Requires):
        if_key = ref_key(parsed.if_ref, product)
        if state.quantity(if_key) <= 0:
            return []
        missing = [ref for ref in parsed.then if state.quantity(ref_key(ref, product)) <= 0]
        if not missing or (parsed.mode == "any" and len(missing) < len(parsed.then)):
            return []
        return [_violation(compiled, "requires_missing", state.skus(if_key),
                           {"if": parsed.if_ref.key, "then": [ref.key for ref in parsed.then], "mode": parsed.mode,
                            "missing": [ref.key for ref in missing]})]
    if isinstance(parsed, Excludes):
        a_key = ref_key(parsed.a, product)
        if state.quantity(a_key) <= 0:
            return []
        conflicts = [ref for ref in parsed.b if state.quantity(ref_key(ref, product)) > 0]
        if not conflicts:
            return []
        skus = state.skus(a_key).union(*(state.skus(ref_key(ref, product)) for ref in conflicts))
        return [_violation(compiled, "excludes_conflict", skus,
                           {"a": parsed.a.key, "b": [ref.key for ref in conflicts]})]
    if isinstance(parsed, AttributeConstraint):
        return _evaluate_attribute_constraint(compiled, parsed, state)
    if isinstance(parsed, QuantityLimit):
        key = ref_key(parsed.target, product)
        quantity = state.quantity(key)
        skus = state.skus(key)
        base: dict[str, object] = {"target": parsed.target.key, "quantity": format_quantity(quantity)}
        violations: list[ConfigViolation] = []
        if parsed.minimum is not None and quantity < parsed.minimum:
            violations.append(_violation(compiled, "quantity_below_min", skus,
                                         {**base, "min": format_quantity(parsed.minimum)}))
        if parsed.maximum is not None and quantity > parsed.maximum:
            violations.append(_violation(compiled, "quantity_above_max", skus,
                                         {**base, "max": format_quantity(parsed.maximum)}))
        if parsed.multiple_of is not None and quantity % parsed.multiple_of != 0:
            violations.append(_violation(compiled, "quantity_not_multiple", skus,
                                         {**base, "multiple_of": format_quantity(parsed.multiple_of)}))
        return violations
    return []


def _evaluate_attribute_constraint(compiled: CompiledRule, parsed: AttributeConstraint,
                                   state: RuleState) -> list[ConfigViolation]:
    trigger_skus: set[str]
    if parsed.when_ref is not None:
        when_key = ref_key(parsed.when_ref, compiled.rule.product)
        if state.quantity(when_key) <= 0:
            return []
        trigger_skus = state.skus(when_key)
    else:
        carriers = state.values(str(parsed.when_attribute)).get(str(parsed.when_value))
        if not carriers:
            return []
        trigger_skus = carriers
    values = state.values(parsed.attribute)
    allowed = list(parsed.allowed)
    if not values:
        return [_violation(compiled, "attribute_required", trigger_skus,
                           {"attribute": parsed.attribute, "allowed": allowed, "when": parsed.condition})]
    return [_violation(compiled, "attribute_not_allowed", values[value],
                       {"attribute": parsed.attribute, "value": value, "allowed": allowed, "when": parsed.condition})
            for value in sorted(values) if value not in parsed.allowed]

