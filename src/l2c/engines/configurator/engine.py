"""BOM expansion and validation of a configuration (ADR 0006, "The engine").

`expand` walks the product structure from the configured root SKU: required items always, optional
and option-group items when selected (quantities clamped to the item's min/max, with a violation),
nested to any depth with cycle protection. Then auto_add rules run to a fixed point (an added item can
trigger further rules; a set of rules that keeps changing what it adds is cut after
`MAX_AUTO_ADD_ROUNDS` rounds with an `auto_add_loop` violation). Finally every applicable rule is
checked and **all** violations are returned, each with a message key and params.

Which rules apply: the rules of every product present in the expanded tree, and the global rules
(product None) whose trigger (see `rules.CompiledRule`) is present.

Structural violation codes (kind "structure", message key ``configurator.<code>``): unknown_sku,
selection_not_a_component, invalid_quantity, component_required, component_below_min,
component_above_max, group_single_choice, group_min_choices, group_max_choices, bom_cycle;
auto_add_loop (kind auto_add) and rule_invalid (a stored rule that no longer parses).

Determinism: children in (BOM position, SKU code) order, depth first; auto-added lines after the
BOM, by rule code; rules evaluated by code. Nothing depends on the order of the inputs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from .rules import (
    AutoAdd,
    CompiledRule,
    InvalidRule,
    RuleDefinitionError,
    RuleState,
    compile_rule,
    evaluate,
    format_quantity,
    ref_key,
)
from .types import (
    BomItem,
    Configuration,
    ConfigurationResult,
    ConfiguratorCatalog,
    ConfigViolation,
    ExpandedLine,
    LineSource,
    OptionGroup,
    OptionState,
    Rule,
    SkuInfo,
    Structure,
)

MAX_AUTO_ADD_ROUNDS = 16
STRUCTURE = "structure"
MESSAGE_PREFIX = "configurator."
# Codes that make an option impossible to choose now (a "requires" is no obstacle: the user can
# choose what is required next; a minimum or a multiple is reached by choosing more).
OPTION_BLOCKING_CODES = frozenset({"excludes_conflict", "attribute_not_allowed", "quantity_above_max"})
SELECTED_BLOCKING_CODES = OPTION_BLOCKING_CODES | {
    "group_single_choice", "group_max_choices", "component_below_min", "component_above_max"}
_OPTION_RULE_KINDS = frozenset({"excludes", "attribute_constraint", "quantity_limit"})
ZERO = Decimal(0)


# --- Compilation -----------------------------------------------------------------------------------


def compile_configurator(skus: Iterable[SkuInfo], structures: Iterable[Structure],
                         rules: Iterable[Rule]) -> ConfiguratorCatalog:
    """Index the catalogue facts and parse the rules (once per rules version).

    Duplicate codes raise `ValueError`; a rule whose definition does not parse is kept aside in
    `invalid_rules` and reported as a `rule_invalid` violation where it would apply."""
    sku_map: dict[str, SkuInfo] = {}
    for sku in skus:
        if sku.code in sku_map:
            raise ValueError(f"duplicate SKU code {sku.code!r}")
        sku_map[sku.code] = sku
    structure_map: dict[str, Structure] = {}
    group_map: dict[str, Mapping[str, OptionGroup]] = {}
    for structure in structures:
        if structure.product_code in structure_map:
            raise ValueError(f"duplicate structure of product {structure.product_code!r}")
        items = tuple(sorted(structure.items, key=lambda item: (item.position, item.component_sku)))
        groups = tuple(sorted(structure.groups, key=lambda group: group.code))
        structure_map[structure.product_code] = Structure(structure.product_code, items, groups)
        group_map[structure.product_code] = {group.code: group for group in groups}
    compiled: dict[str, CompiledRule] = {}
    invalid: dict[str, InvalidRule] = {}
    for rule in rules:
        if rule.code in compiled or rule.code in invalid:
            raise ValueError(f"duplicate rule code {rule.code!r}")
        try:
            compiled[rule.code] = compile_rule(rule)
        except RuleDefinitionError as error:
            invalid[rule.code] = InvalidRule(rule, error.field, error.message_key, error.params)
    return _catalog(sku_map, structure_map, group_map, compiled, invalid)


def _catalog(skus: Mapping[str, SkuInfo], structures: Mapping[str, Structure],
             groups: Mapping[str, Mapping[str, OptionGroup]], compiled: Mapping[str, CompiledRule],
             invalid: Mapping[str, InvalidRule]) -> ConfiguratorCatalog:
    by_product: dict[str, list[CompiledRule]] = {}
    global_by_key: dict[str, list[CompiledRule]] = {}
    by_key: dict[str, list[CompiledRule]] = {}
    for code in sorted(compiled):
        rule = compiled[code]
        if rule.rule.product is not None:
            by_product.setdefault(rule.rule.product, []).append(rule)
        else:
            for key in sorted(rule.trigger_keys):
                global_by_key.setdefault(key, []).append(rule)
        for key in sorted(rule.ref_keys):
            by_key.setdefault(key, []).append(rule)
    return ConfiguratorCatalog(
        skus=dict(skus), structures=dict(structures), groups=dict(groups),
        rules={code: compiled[code] for code in sorted(compiled)},
        invalid_rules=tuple(invalid[code] for code in sorted(invalid)),
        rules_by_product={key: tuple(value) for key, value in by_product.items()},
        global_rules_by_key={key: tuple(value) for key, value in global_by_key.items()},
        rules_by_key={key: tuple(value) for key, value in by_key.items()},
    )


def catalog_with_rule(catalog: ConfiguratorCatalog, rule: Rule) -> ConfiguratorCatalog:
    """The catalog with `rule` added or replacing the rule of the same code (raises
    `RuleDefinitionError` when the definition does not parse)."""
    compiled = dict(catalog.rules)
    compiled[rule.code] = compile_rule(rule)
    invalid = {item.rule.code: item for item in catalog.invalid_rules if item.rule.code != rule.code}
    return _catalog(catalog.skus, catalog.structures, catalog.groups, compiled, invalid)


# --- Expansion -------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Node:
    key: str
    sku: SkuInfo
    per_parent: Decimal  # quantity per unit of the parent
    per_unit: Decimal  # quantity per configured root unit
    parent: _Node | None
    priced: bool
    source: LineSource
    rule: str | None
    group_keys: tuple[str, ...] = ()
    children: list[_Node] = field(default_factory=list)


@dataclass(frozen=True)
class _Slot:
    """An optional component offered under a present line."""

    parent: _Node
    item: BomItem
    sku: SkuInfo
    quantity: Decimal  # per parent unit: chosen (clamped) or the BOM default
    selected: bool
    group_full: ConfigViolation | None  # its multiple-choice group already holds max_choices


def _structure_violation(code: str, skus: Iterable[str], params: dict[str, object], *, rule: str | None = None,
                         kind: str = STRUCTURE) -> ConfigViolation:
    return ConfigViolation(code, rule, kind, tuple(sorted(set(skus))), MESSAGE_PREFIX + code, params)


def _group_keys(product: str, group: str | None) -> tuple[str, ...]:
    return () if group is None else (f"group:{group}", f"group:{product}/{group}")


class _Expander:
    """Walks structures below a node, collecting lines, violations, offered options and the
    selections it consumed."""

    def __init__(self, catalog: ConfiguratorCatalog, selections: Mapping[str, Decimal]) -> None:
        self.catalog = catalog
        self.selections = selections
        self.violations: list[ConfigViolation] = []
        self.slots: list[_Slot] = []
        self.used: set[str] = set()
        self._cycles: set[tuple[str, ...]] = set()

    def expand(self, node: _Node, path: tuple[str, ...]) -> None:
        """Expand `node`; `path` holds the products from the top of this walk down to node's own."""
        product = node.sku.product_code
        structure = self.catalog.structures.get(product)
        if structure is None:
            return
        groups = self.catalog.groups.get(product, {})
        chosen: dict[str, list[str]] = {}
        offered: list[tuple[BomItem, SkuInfo, Decimal, bool]] = []
        used_keys: dict[str, int] = {}
        for item in structure.items:
            code = item.component_sku
            selection = self.selections.get(code)
            if selection is not None:
                self.used.add(code)
            info = self.catalog.skus.get(code)
            if info is None:
                self.violations.append(
                    _structure_violation("unknown_sku", (code,), {"sku": code, "parent": node.sku.code}))
                continue
            optional = item.option_group is not None or not item.required
            source: LineSource
            if optional:
                if selection is None or selection <= 0:
                    offered.append((item, info, item.quantity, False))
                    continue
                quantity, source = selection, "selected"
            else:
                quantity, source = item.quantity, "required"
                if selection is not None and selection > 0:
                    quantity = selection
                elif selection is not None:
                    self.violations.append(_structure_violation(
                        "component_required", (code,), {"sku": code, "parent": node.sku.code}))
            quantity = self._clamp(node, item, quantity)
            if optional:
                offered.append((item, info, quantity, True))
            if item.option_group is not None:
                chosen.setdefault(item.option_group, []).append(code)
            child = self._child(node, info, quantity, source, item, used_keys)
            if info.product_code in path:
                cycle = (*path[path.index(info.product_code):], info.product_code)
                if cycle not in self._cycles:
                    self._cycles.add(cycle)
                    self.violations.append(_structure_violation("bom_cycle", (code,), {"path": list(cycle)}))
            else:
                self.expand(child, (*path, info.product_code))
        full = self._check_groups(node, groups, chosen)
        for item, info, quantity, selected in offered:
            group_full = None if selected or item.option_group is None else full.get(item.option_group)
            self.slots.append(_Slot(node, item, info, quantity, selected, group_full))

    def _clamp(self, node: _Node, item: BomItem, quantity: Decimal) -> Decimal:
        params: dict[str, object] = {"sku": item.component_sku, "parent": node.sku.code,
                                     "quantity": format_quantity(quantity)}
        if item.min_quantity is not None and quantity < item.min_quantity:
            self.violations.append(_structure_violation(
                "component_below_min", (item.component_sku,), {**params, "min": format_quantity(item.min_quantity)}))
            return item.min_quantity
        if item.max_quantity is not None and quantity > item.max_quantity:
            self.violations.append(_structure_violation(
                "component_above_max", (item.component_sku,), {**params, "max": format_quantity(item.max_quantity)}))
            return item.max_quantity
        return quantity

    def _child(self, node: _Node, info: SkuInfo, quantity: Decimal, source: LineSource, item: BomItem,
               used_keys: dict[str, int]) -> _Node:
        base = f"{node.key}/{info.code}"
        used_keys[base] = used_keys.get(base, 0) + 1
        key = base if used_keys[base] == 1 else f"{base}#{used_keys[base]}"
        child = _Node(key, info, quantity, node.per_unit * quantity, node, item.priced, source, node.rule,
                      _group_keys(node.sku.product_code, item.option_group))
        node.children.append(child)
        return child

    def _check_groups(self, node: _Node, groups: Mapping[str, OptionGroup],
                      chosen: Mapping[str, list[str]]) -> dict[str, ConfigViolation]:
        """Validate the option groups under `node`; return, per multiple-choice group that is full,
        the violation choosing one more item would raise."""
        product = node.sku.product_code
        full: dict[str, ConfigViolation] = {}
        for code in sorted(set(groups) | set(chosen)):
            group = groups.get(code) or OptionGroup(code, code, multiple=True)
            skus = chosen.get(code, [])
            count = len(skus)
            params: dict[str, object] = {"group": code, "product": product, "parent": node.sku.code, "count": count}
            if not group.multiple and count > 1:
                self.violations.append(_structure_violation("group_single_choice", skus, params))
            elif group.multiple and group.max_choices is not None:
                if count > group.max_choices:
                    self.violations.append(_structure_violation(
                        "group_max_choices", skus, {**params, "max": group.max_choices}))
                if count >= group.max_choices:
                    full[code] = _structure_violation("group_max_choices", skus,
                                                      {**params, "count": count + 1, "max": group.max_choices})
            minimum = max(1, group.min_choices) if group.required else group.min_choices
            if count < minimum and (group.required or count > 0):
                self.violations.append(_structure_violation("group_min_choices", skus, {**params, "min": minimum}))
        return full


def _preorder(nodes: Iterable[_Node]) -> list[_Node]:
    ordered: list[_Node] = []
    stack = list(reversed(list(nodes)))
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(reversed(node.children))
    return ordered


def _keys(info: SkuInfo, group_keys: tuple[str, ...] = ()) -> tuple[str, ...]:
    return (f"sku:{info.code}", f"product:{info.product_code}",
            *(f"category:{category}" for category in info.category_path), *group_keys)


def _state(nodes: Iterable[_Node], root: _Node,
           root_attributes: Mapping[str, str]) -> tuple[RuleState, set[str], set[str]]:
    """The rule state of `nodes`, the products present and every key present."""
    quantities: dict[str, Decimal] = {}
    skus: dict[str, set[str]] = {}
    values: dict[str, dict[str, set[str]]] = {}
    products: set[str] = set()
    for node in nodes:
        info = node.sku
        products.add(info.product_code)
        for key in _keys(info, node.group_keys):
            quantities[key] = quantities.get(key, ZERO) + node.per_unit
            skus.setdefault(key, set()).add(info.code)
        attributes = root_attributes if node is root else info.attributes
        for attribute, value in attributes.items():
            values.setdefault(attribute, {}).setdefault(value, set()).add(info.code)
    keys = set(quantities)
    keys.update(f"attribute:{attribute}={value}" for attribute, found in values.items() for value in found)
    return RuleState(quantities, skus, values), products, keys


def _applicable(catalog: ConfiguratorCatalog, products: Iterable[str], keys: Iterable[str],
                forced: str | None) -> list[CompiledRule]:
    found: dict[str, CompiledRule] = {}
    for product in products:
        found.update((rule.code, rule) for rule in catalog.rules_by_product.get(product, ()))
    for key in keys:
        found.update((rule.code, rule) for rule in catalog.global_rules_by_key.get(key, ()))
    if forced is not None and forced in catalog.rules:
        found[forced] = catalog.rules[forced]
    return [found[code] for code in sorted(found)]


def expand(catalog: ConfiguratorCatalog, configuration: Configuration) -> ConfigurationResult:
    """Expand and validate a configuration; see the module docstring."""
    return _expand(catalog, configuration, None)


def _expand(catalog: ConfiguratorCatalog, configuration: Configuration, forced: str | None) -> ConfigurationResult:
    root_code = configuration.root_sku
    leading: list[ConfigViolation] = []
    if configuration.quantity <= 0:
        leading.append(_structure_violation("invalid_quantity", (root_code,),
                                            {"sku": root_code, "quantity": format_quantity(configuration.quantity)}))
    for code, selected in sorted(configuration.selections.items()):
        if selected < 0:
            leading.append(_structure_violation(
                "invalid_quantity", (code,), {"sku": code, "quantity": format_quantity(selected)}))
    root_info = catalog.skus.get(root_code)
    if root_info is None:
        leading.append(_structure_violation("unknown_sku", (root_code,), {"sku": root_code}))
        return ConfigurationResult((), tuple(leading), (), ZERO, ZERO, ())
    selections = {code: quantity for code, quantity in configuration.selections.items() if quantity >= 0}
    root = _Node(configuration.key_prefix + root_code, root_info, Decimal(1), Decimal(1), None, True, "root", None)
    base = _Expander(catalog, selections)
    base.expand(root, (root_info.product_code,))
    base_nodes = _preorder([root])
    root_attributes = {**root_info.attributes, **configuration.attributes}

    # Auto-add to a fixed point: each round derives what the rules want from the lines of the round
    # before; it stops when that equals what the current lines were built from.
    auto_nodes: list[_Node] = []
    auto = _Expander(catalog, selections)
    built: tuple[tuple[str, Decimal], ...] = ()
    tail: list[ConfigViolation] = []
    for round_number in range(MAX_AUTO_ADD_ROUNDS + 1):
        nodes = base_nodes + _preorder(auto_nodes)
        state, products, keys = _state(nodes, root, root_attributes)
        rules = _applicable(catalog, products, keys, forced)
        wanted = _auto_wanted(rules, state, nodes)
        signature = tuple((rule.code, amount) for rule, _parsed, amount in wanted)
        if signature == built:
            break
        if round_number == MAX_AUTO_ADD_ROUNDS:
            changed = sorted(set(built) ^ set(signature))
            codes = sorted({code for code, _ in changed})
            tail.append(_structure_violation("auto_add_loop", (), {"rounds": MAX_AUTO_ADD_ROUNDS, "rules": codes},
                                             rule=codes[0], kind="auto_add"))
            break
        built = signature
        auto = _Expander(catalog, selections)
        auto_nodes = []
        for rule, parsed, amount in wanted:
            info = catalog.skus.get(parsed.add)
            if info is None:
                continue
            node = _Node(f"{root.key}/+{rule.code}", info, amount, amount, root, parsed.priced, "auto_add", rule.code)
            auto.expand(node, (info.product_code,))
            auto_nodes.append(node)
    for rule, parsed, _amount in wanted:
        if parsed.add not in catalog.skus:
            tail.append(_structure_violation("unknown_sku", (parsed.add,), {"sku": parsed.add},
                                             rule=rule.code, kind="auto_add"))
    root.children.extend(auto_nodes)
    nodes = _preorder([root])

    used = base.used | auto.used
    for code in sorted(selections):
        if selections[code] > 0 and code not in used:
            missing = "selection_not_a_component" if code in catalog.skus else "unknown_sku"
            tail.append(_structure_violation(missing, (code,), {"sku": code}))

    ruled: list[ConfigViolation] = []
    for invalid in catalog.invalid_rules:
        if invalid.rule.product is None or invalid.rule.product in products:
            ruled.append(ConfigViolation("rule_invalid", invalid.rule.code, invalid.rule.kind, (),
                                         MESSAGE_PREFIX + "rule_invalid",
                                         {"field": invalid.field, "error": invalid.message_key}))
    for rule in rules:
        ruled.extend(evaluate(rule, state))
    ruled.sort(key=lambda violation: violation.rule or "")
    violations = leading + base.violations + auto.violations + tail + ruled

    options = _options(catalog, base.slots + auto.slots, _Context(state, nodes, root, root_attributes), rules,
                       violations)
    return _result(configuration, root, nodes, auto_nodes, violations, options)


def _auto_wanted(rules: Iterable[CompiledRule], state: RuleState,
                 nodes: Iterable[_Node]) -> list[tuple[CompiledRule, AutoAdd, Decimal]]:
    """What each triggered auto_add rule adds: its target less what lines not added by a rule hold."""
    held: dict[str, Decimal] = {}
    for node in nodes:
        if node.source != "auto_add":
            held[node.sku.code] = held.get(node.sku.code, ZERO) + node.per_unit
    wanted: list[tuple[CompiledRule, AutoAdd, Decimal]] = []
    for rule in rules:
        parsed = rule.parsed
        if isinstance(parsed, AutoAdd):
            amount = parsed.target(state.quantity(ref_key(parsed.when, rule.rule.product))) - held.get(parsed.add, ZERO)
            if amount > 0:
                wanted.append((rule, parsed, amount))
    return wanted


@dataclass(frozen=True)
class _Context:
    """The final configuration, for hypothetical states."""

    state: RuleState
    nodes: list[_Node]
    root: _Node
    root_attributes: Mapping[str, str]


def _hypothetical(catalog: ConfiguratorCatalog, slot: _Slot, keys: tuple[str, ...], context: _Context) -> RuleState:
    """The configuration as it would be with the option chosen. In a single-choice group choosing
    replaces the chosen sibling (a radio button), so the siblings' subtrees are left out."""
    group = slot.item.option_group
    parent = slot.parent
    definition = catalog.groups.get(parent.sku.product_code, {}).get(group or "")
    replaced = [child for child in parent.children if f"group:{group}" in child.group_keys] if (
        definition is not None and not definition.multiple) else []
    amount = slot.quantity * parent.per_unit
    if not replaced:
        return context.state.with_addition(keys, amount, slot.sku.code, slot.sku.attributes)
    removed = {id(node) for node in _preorder(replaced)}
    option = _Node(f"{parent.key}/?{slot.sku.code}", slot.sku, slot.quantity, amount, parent, slot.item.priced,
                   "selected", parent.rule, _group_keys(parent.sku.product_code, group))
    kept = [node for node in context.nodes if id(node) not in removed]
    state, _products, _keys = _state([*kept, option], context.root, context.root_attributes)
    return state


def _options(catalog: ConfiguratorCatalog, slots: Iterable[_Slot], context: _Context, rules: list[CompiledRule],
             violations: list[ConfigViolation]) -> tuple[OptionState, ...]:
    options: list[OptionState] = []
    for slot in slots:
        code = slot.sku.code
        reasons: list[ConfigViolation]
        if slot.selected:
            reasons = [violation for violation in violations
                       if violation.code in SELECTED_BLOCKING_CODES and code in violation.skus]
        else:
            reasons = [slot.group_full] if slot.group_full is not None else []
            keys = _keys(slot.sku, _group_keys(slot.parent.sku.product_code, slot.item.option_group))
            attribute_keys = [f"attribute:{attribute}={value}" for attribute, value in slot.sku.attributes.items()]
            candidates = {rule.code: rule for rule in rules}
            for key in (*keys, *attribute_keys):
                candidates.update((rule.code, rule) for rule in catalog.global_rules_by_key.get(key, ()))
            hypothetical: RuleState | None = None
            for rule_code in sorted(candidates):
                rule = candidates[rule_code]
                if rule.kind not in _OPTION_RULE_KINDS or not (
                        rule.ref_keys.intersection(keys) or rule.attributes.intersection(slot.sku.attributes)):
                    continue
                if hypothetical is None:
                    hypothetical = _hypothetical(catalog, slot, keys, context)
                reasons.extend(violation for violation in evaluate(rule, hypothetical)
                               if violation.code in OPTION_BLOCKING_CODES and violation not in violations)
        options.append(OptionState(slot.item.option_group, code, not reasons, tuple(reasons), slot.selected,
                                   slot.quantity, slot.parent.key))
    return tuple(options)


def _result(configuration: Configuration, root: _Node, nodes: list[_Node], auto_nodes: list[_Node],
            violations: list[ConfigViolation], options: tuple[OptionState, ...]) -> ConfigurationResult:
    rolled: dict[str, Decimal] = {}
    for node in reversed(nodes):  # children before parents
        rolled[node.key] = node.sku.unit_cost + sum(
            (child.per_parent * rolled[child.key] for child in node.children if not child.priced), ZERO)
    quantity = configuration.quantity
    lines: list[ExpandedLine] = []
    total_cost = ZERO
    for node in nodes:
        lines.append(ExpandedLine(node.key, node.sku.code, node.per_unit * quantity,
                                  node.parent.key if node.parent is not None else None, node.priced, node.source,
                                  node.rule, rolled[node.key]))
        total_cost += node.sku.unit_cost * node.per_unit * quantity
    auto_keys = {node.key for node in auto_nodes}
    return ConfigurationResult(tuple(lines), tuple(violations), tuple(line for line in lines if line.key in auto_keys),
                               rolled[root.key], total_cost, options)


# --- Helpers for the app ---------------------------------------------------------------------------


def priced_lines(result: ConfigurationResult) -> tuple[ExpandedLine, ...]:
    """The priced lines, each with `parent` = its nearest priced ancestor (what the pricing engine's
    `LineInput.parent` wants); included components are already in their unit_cost."""
    by_key = {line.key: line for line in result.lines}
    found: list[ExpandedLine] = []
    for line in result.lines:
        if not line.priced:
            continue
        parent = line.parent
        while parent is not None and not by_key[parent].priced:
            parent = by_key[parent].parent
        found.append(line if parent == line.parent else replace(line, parent=parent))
    return tuple(found)


def rolled_up_cost(catalog: ConfiguratorCatalog, root_sku: str,
                   selections: Mapping[str, Decimal] | None = None) -> Decimal:
    """The rolled-up cost of one unit of `root_sku` configured with `selections`."""
    return expand(catalog, Configuration(root_sku, Decimal(1), dict(selections or {}))).unit_cost


def product_graph(skus: Iterable[SkuInfo], structures: Iterable[Structure]) -> dict[str, tuple[str, ...]]:
    """Product code → the products of its components (sorted, distinct); input for `find_cycle`."""
    product_of = {sku.code: sku.product_code for sku in skus}
    return {structure.product_code: tuple(sorted({product_of[item.component_sku] for item in structure.items
                                                  if item.component_sku in product_of}))
            for structure in structures}


def find_cycle(structures: Mapping[str, Collection[str]], product_code: str,
               new_component_product: str) -> list[str] | None:
    """The path that adding a component of `new_component_product` to `product_code`'s BOM would
    close, e.g. ``["A", "B", "C", "A"]``; None when the addition is safe.

    `structures` maps a product code to the products of its components (`product_graph`). The path
    is the shortest one, ties broken by product code."""
    if new_component_product == product_code:
        return [product_code, product_code]
    previous: dict[str, str] = {}
    queue = deque([new_component_product])
    seen = {new_component_product}
    while queue:
        current = queue.popleft()
        for following in sorted(structures.get(current, ())):
            if following in seen:
                continue
            previous[following] = current
            if following == product_code:
                path = [product_code]
                while path[-1] != new_component_product:
                    path.append(previous[path[-1]])
                return [product_code, *reversed(path)]
            seen.add(following)
            queue.append(following)
    return None
