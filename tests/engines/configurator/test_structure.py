"""Cycles (during expansion and before saving a BOM item), determinism under shuffled inputs, and the
rolled-up cost invariants (hypothesis)."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from l2c.engines.configurator import (
    Configuration,
    ConfiguratorCatalog,
    ConfigViolation,
    Structure,
    compile_configurator,
    expand,
    find_cycle,
    priced_lines,
    product_graph,
)

from .factories import (
    PSU_PER_TWO_MODULES,
    SERVER_SKUS,
    SERVER_STRUCTURES,
    SWITCH_SKUS,
    SWITCH_STRUCTURES,
    D,
    catalog,
    item,
    rule,
    sku,
)

# --- Cycles ----------------------------------------------------------------------------------------

CYCLE_SKUS = (sku("A-1", "A", "1"), sku("A-2", "A", "2"), sku("B-1", "B", "10"), sku("C-1", "C", "100"),
              sku("R-1", "R", "1000"))


def test_direct_cycle_is_reported_and_cut() -> None:
    catalogue = catalog(skus=CYCLE_SKUS, structures=(Structure("A", (item("A-2"),)),))

    result = expand(catalogue, Configuration("A-1"))

    assert result.violations == (ConfigViolation("bom_cycle", None, "structure", ("A-2",), "configurator.bom_cycle",
                                                 {"path": ["A", "A"]}),)
    assert [line.key for line in result.lines] == ["A-1", "A-1/A-2"]
    assert result.unit_cost == D(3)


def test_indirect_cycle_below_the_root_reports_its_path_once() -> None:
    structures = (Structure("R", (item("A-1", position=1), item("A-1", "2", position=2))),
                  Structure("A", (item("B-1"),)), Structure("B", (item("C-1"),)), Structure("C", (item("A-2"),)))
    catalogue = catalog(skus=CYCLE_SKUS, structures=structures)

    result = expand(catalogue, Configuration("R-1"))

    assert result.violations == (ConfigViolation("bom_cycle", None, "structure", ("A-2",), "configurator.bom_cycle",
                                                 {"path": ["A", "B", "C", "A"]}),)
    assert [(line.key, line.quantity) for line in result.lines] == [
        ("R-1", D(1)),
        ("R-1/A-1", D(1)), ("R-1/A-1/B-1", D(1)), ("R-1/A-1/B-1/C-1", D(1)), ("R-1/A-1/B-1/C-1/A-2", D(1)),
        ("R-1/A-1#2", D(2)), ("R-1/A-1#2/B-1", D(2)), ("R-1/A-1#2/B-1/C-1", D(2)), ("R-1/A-1#2/B-1/C-1/A-2", D(2)),
    ]


def test_find_cycle_before_saving_a_bom_item() -> None:
    graph = product_graph(CYCLE_SKUS, (Structure("A", (item("B-1"),)), Structure("B", (item("C-1"),)),
                                       Structure("R", (item("A-1"), item("A-2")))))
    assert graph == {"A": ("B",), "B": ("C",), "R": ("A",)}

    assert find_cycle(graph, "C", "A") == ["C", "A", "B", "C"]  # C ⊃ A would close A → B → C → A
    assert find_cycle(graph, "C", "B") == ["C", "B", "C"]
    assert find_cycle(graph, "A", "A") == ["A", "A"]
    assert find_cycle(graph, "A", "C") is None
    assert find_cycle(graph, "R", "C") is None
    assert find_cycle(graph, "NEW", "R") is None


def test_find_cycle_returns_the_shortest_path_ties_by_code() -> None:
    graph = {"A": ("X", "B"), "B": ("D",), "X": ("D",), "D": ("E",), "E": ("F",), "F": ()}
    graph_with_shortcut = {**graph, "A": ("X", "B", "F")}

    assert find_cycle(graph, "F", "A") == ["F", "A", "B", "D", "E", "F"]
    assert find_cycle(graph_with_shortcut, "F", "A") == ["F", "A", "F"]


# --- Determinism -----------------------------------------------------------------------------------

RULES = (
    PSU_PER_TWO_MODULES,
    rule("R-CORD", "auto_add", {"when": "sku:PSU-1", "add": "CORD-1", "factor": 1}),
    rule("R-MODS", "quantity_limit", {"target": "sku:MOD-1", "max": 3, "multiple_of": 2}, product="SW"),
    rule("R-EXCL", "excludes", {"a": "sku:CPU-A", "b": ["sku:DISK-2"]}, product="SRV"),
    rule("R-REQ", "requires", {"if": "sku:CPU-B", "then": ["category:storage"]}, product="SRV"),
    rule("R-VOLT", "attribute_constraint", {"when": {"attribute": "model", "value": "X"}, "attribute": "voltage",
                                            "allowed": ["220"]}),
)
CONFIGURATIONS = (
    Configuration("SW-1", D(2), {"MOD-1": D(5)}),
    Configuration("SRV-1", D(3), {"CPU-A": D(1), "CPU-B": D(1), "DISK-2": D(1), "DISK-1": D(1), "MEM-16": D(3),
                                  "PSU-110": D(1)}, {"voltage": "380"}),
)


def _shuffled_catalog(seed: int) -> ConfiguratorCatalog:
    generator = random.Random(seed)
    skus = list(SERVER_SKUS + SWITCH_SKUS)
    structures = [Structure(structure.product_code, tuple(generator.sample(structure.items, len(structure.items))),
                            tuple(generator.sample(structure.groups, len(structure.groups))))
                  for structure in SERVER_STRUCTURES + SWITCH_STRUCTURES]
    rules = list(RULES)
    for values in (skus, structures, rules):
        generator.shuffle(values)
    return compile_configurator(skus, structures, rules)


def test_shuffling_structures_and_rules_changes_nothing() -> None:
    reference = compile_configurator(SERVER_SKUS + SWITCH_SKUS, SERVER_STRUCTURES + SWITCH_STRUCTURES, RULES)
    for configuration in CONFIGURATIONS:
        expected = expand(reference, configuration)
        assert len(expected.violations) >= 2  # the sample configurations exercise rules
        for seed in range(20):
            shuffled = _shuffled_catalog(seed)
            assert expand(shuffled, configuration) == expected


def test_expanding_twice_gives_identical_results() -> None:
    catalogue = catalog(RULES)
    for configuration in CONFIGURATIONS:
        assert expand(catalogue, configuration) == expand(catalogue, configuration)


# --- Rolled-up cost (property) ---------------------------------------------------------------------

COSTS = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
QUANTITIES = st.sampled_from([D(1), D(2), D(3), D("0.5"), D("1.25"), D(10)])


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[Decimal], list[list[tuple[int, Decimal, bool]]]]:
    """A product DAG: product k has components among products after it (no cycle by construction)."""
    size = draw(st.integers(min_value=1, max_value=6))
    costs = [draw(COSTS) for _ in range(size)]
    components = [
        draw(st.lists(st.tuples(st.integers(min_value=index + 1, max_value=size - 1), QUANTITIES, st.booleans()),
                      max_size=3)) if index < size - 1 else []
        for index in range(size)
    ]
    return costs, components


@settings(max_examples=150, deadline=None)
@given(tree=trees(), quantity=QUANTITIES)
def test_rolled_up_cost_equals_the_sum_over_the_expanded_tree(
        tree: tuple[list[Decimal], list[list[tuple[int, Decimal, bool]]]], quantity: Decimal) -> None:
    costs, components = tree
    skus = [sku(f"S{index}", f"P{index}", str(cost)) for index, cost in enumerate(costs)]
    structures = [Structure(f"P{index}", tuple(item(f"S{child}", str(per), priced=priced, position=position)
                                               for position, (child, per, priced) in enumerate(parts)))
                  for index, parts in enumerate(components) if parts]
    catalogue = compile_configurator(skus, structures, ())

    result = expand(catalogue, Configuration("S0", quantity))

    def rolled(index: int) -> Decimal:
        return costs[index] + sum((per * rolled(child) for child, per, priced in components[index] if not priced),
                                  Decimal(0))

    def total(index: int, multiplier: Decimal) -> Decimal:
        return costs[index] * multiplier + sum((total(child, multiplier * per) for child, per, _ in components[index]),
                                               Decimal(0))

    def count(index: int) -> int:
        return 1 + sum(count(child) for child, _, _ in components[index])

    assert result.violations == ()
    assert len(result.lines) == count(0)
    assert result.unit_cost == rolled(0)
    assert result.total_cost == total(0, quantity)
    own = {info.code: info.unit_cost for info in skus}
    assert sum((own[line.sku] * line.quantity for line in result.lines), Decimal(0)) == result.total_cost
    # the priced lines carry every cost exactly once: what the pricing engine sees sums to the tree
    assert sum((line.unit_cost * line.quantity for line in priced_lines(result)), Decimal(0)) == result.total_cost
