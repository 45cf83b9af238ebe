"""BOM expansion: quantities down the tree, rolled-up cost, required/optional items, min/max, option
groups, unknown SKUs and selections, the guided configurator's option states."""

from __future__ import annotations

from decimal import Decimal

import pytest

from l2c.engines.configurator import (
    Configuration,
    ConfigViolation,
    ExpandedLine,
    OptionGroup,
    OptionState,
    Structure,
    expand,
    priced_lines,
    rolled_up_cost,
)

from .factories import (
    SERVER_SKUS,
    SERVER_STRUCTURES,
    D,
    catalog,
    codes,
    configure,
    configure_map,
    item,
    quantities,
    rule,
)


def test_three_level_bom_expands_with_absolute_quantities_and_rolled_up_cost() -> None:
    # Given two servers with CPU-A and 4 memory modules per server
    result = configure(catalog(), "SRV-1", "2", CPU_A="1", MEM_16="4")

    # Then every level is multiplied down the tree, in BOM position order
    assert result.lines == (
        ExpandedLine("SRV-1", "SRV-1", D(2), None, True, "root", None, D("1221.60")),
        ExpandedLine("SRV-1/CHASSIS-1", "CHASSIS-1", D(2), "SRV-1", False, "required", None, D("221.60")),
        ExpandedLine("SRV-1/CHASSIS-1/FAN-1", "FAN-1", D(8), "SRV-1/CHASSIS-1", False, "required", None, D("5.40")),
        ExpandedLine("SRV-1/CHASSIS-1/FAN-1/SCREW-1", "SCREW-1", D(32), "SRV-1/CHASSIS-1/FAN-1", False, "required",
                     None, D("0.10")),
        ExpandedLine("SRV-1/CPU-A", "CPU-A", D(2), "SRV-1", True, "selected", None, D(300)),
        ExpandedLine("SRV-1/MEM-16", "MEM-16", D(8), "SRV-1", True, "selected", None, D(50)),
    )
    # 1000 + 200 + 4 × 5 + 16 × 0.10 = 1221.60 per server; priced CPU and memory are their own lines
    assert result.unit_cost == D("1221.60")
    # 2 × (1221.60 + 300 + 4 × 50)
    assert result.total_cost == D("3443.20")
    assert result.violations == ()
    assert result.auto_added == ()
    assert result.is_valid is True


def test_rolled_up_cost_counts_included_optional_items_only() -> None:
    catalogue = catalog()
    assert rolled_up_cost(catalogue, "SRV-1", {"CPU-A": D(1)}) == D("1221.60")
    assert rolled_up_cost(catalogue, "SRV-1", {"CPU-A": D(1), "RAIL-1": D(2)}) == D("1241.60")  # + 2 × 10 included
    assert rolled_up_cost(catalogue, "CHASSIS-1") == D("221.60")
    assert rolled_up_cost(catalogue, "SCREW-1") == D("0.10")


def test_priced_lines_point_to_the_nearest_priced_parent() -> None:
    # Given a priced fan under the included chassis
    structures = [structure for structure in SERVER_STRUCTURES if structure.product_code != "CHASSIS"]
    catalogue = catalog(structures=(*structures, Structure("CHASSIS", (item("FAN-1", "4", priced=True),))))
    result = configure(catalogue, "SRV-1", CPU_B="1")

    priced = priced_lines(result)

    assert [(line.key, line.parent, line.quantity, line.unit_cost) for line in priced] == [
        ("SRV-1", None, D(1), D(1200)),  # the chassis is included; the fans are not
        ("SRV-1/CHASSIS-1/FAN-1", "SRV-1", D(4), D("5.40")),
        ("SRV-1/CPU-B", "SRV-1", D(1), D(500)),
    ]
    assert result.total_cost == D("1721.60")


@pytest.mark.parametrize(("memory", "expected_quantity", "expected"), [
    ("0", None, []),  # not chosen: no line, no violation
    ("2", D(2), []),
    ("8", D(8), []),
    ("1", D(2), [ConfigViolation("component_below_min", None, "structure", ("MEM-16",),
                                 "configurator.component_below_min",
                                 {"sku": "MEM-16", "parent": "SRV-1", "quantity": "1", "min": "2"})]),
    ("9.5", D(8), [ConfigViolation("component_above_max", None, "structure", ("MEM-16",),
                                   "configurator.component_above_max",
                                   {"sku": "MEM-16", "parent": "SRV-1", "quantity": "9.5", "max": "8"})]),
])
def test_optional_item_quantity_is_clamped_to_min_and_max(memory: str, expected_quantity: Decimal | None,
                                                          expected: list[ConfigViolation]) -> None:
    result = configure(catalog(), "SRV-1", CPU_A="1", MEM_16=memory)

    assert quantities(result).get("SRV-1/MEM-16") == expected_quantity
    assert list(result.violations) == expected


def test_selection_changes_a_required_items_quantity_at_any_depth() -> None:
    result = configure(catalog(), "SRV-1", CPU_A="1", FAN_1="6")

    assert quantities(result)["SRV-1/CHASSIS-1/FAN-1"] == D(6)
    assert quantities(result)["SRV-1/CHASSIS-1/FAN-1/SCREW-1"] == D(24)
    assert result.unit_cost == D("1000") + D("200") + 6 * D("5.40")


def test_a_required_item_cannot_be_deselected() -> None:
    result = configure(catalog(), "SRV-1", CPU_A="1", CHASSIS_1="0")

    assert result.violations == (ConfigViolation("component_required", None, "structure", ("CHASSIS-1",),
                                                 "configurator.component_required",
                                                 {"sku": "CHASSIS-1", "parent": "SRV-1"}),)
    assert quantities(result)["SRV-1/CHASSIS-1"] == D(1)


@pytest.mark.parametrize(("selections", "expected"), [
    ({"CPU_A": "1"}, []),
    ({"CPU_B": "1"}, []),
    ({}, [("group_min_choices", (), {"group": "cpu", "product": "SRV", "parent": "SRV-1", "count": 0, "min": 1})]),
    ({"CPU_A": "1", "CPU_B": "1"}, [("group_single_choice", ("CPU-A", "CPU-B"),
                                     {"group": "cpu", "product": "SRV", "parent": "SRV-1", "count": 2})]),
])
def test_single_choice_required_group(selections: dict[str, str],
                                      expected: list[tuple[str, tuple[str, ...], dict[str, object]]]) -> None:
    result = configure_map(catalog(), "SRV-1", selections)

    assert [(violation.code, violation.skus, violation.params) for violation in result.violations] == expected


@pytest.mark.parametrize(("selections", "expected"), [
    ({}, []),
    ({"DISK_1": "1"}, []),
    ({"DISK_1": "1", "DISK_2": "2"}, []),
    ({"DISK_1": "1", "DISK_2": "1", "DISK_3": "1"},
     [("group_max_choices", ("DISK-1", "DISK-2", "DISK-3"),
       {"group": "disk", "product": "SRV", "parent": "SRV-1", "count": 3, "max": 2})]),
])
def test_multiple_choice_group_with_a_maximum(selections: dict[str, str],
                                              expected: list[tuple[str, tuple[str, ...], dict[str, object]]]) -> None:
    result = configure_map(catalog(), "SRV-1", {"CPU_A": "1", **selections})

    assert [(violation.code, violation.skus, violation.params) for violation in result.violations] == expected
    assert [line.sku for line in result.lines if line.sku.startswith("DISK")] == sorted(
        code.replace("_", "-") for code in selections)


def test_optional_group_with_min_choices_applies_once_something_is_chosen() -> None:
    structures = (Structure("SRV", (item("DISK-1", group="disk"), item("DISK-2", group="disk")),
                            (OptionGroup("disk", multiple=True, min_choices=2),)),)
    catalogue = catalog(skus=SERVER_SKUS, structures=structures)

    assert codes(configure(catalogue, "SRV-1")) == []
    assert codes(configure(catalogue, "SRV-1", DISK_1="1")) == ["group_min_choices"]
    assert codes(configure(catalogue, "SRV-1", DISK_1="1", DISK_2="1")) == []


def test_unknown_root_sku() -> None:
    result = configure(catalog(), "NOPE")

    assert result.lines == ()
    assert result.unit_cost == D(0)
    assert result.violations == (ConfigViolation("unknown_sku", None, "structure", ("NOPE",),
                                                 "configurator.unknown_sku", {"sku": "NOPE"}),)


def test_selections_that_are_not_components_or_unknown_or_negative() -> None:
    result = configure(catalog(), "SRV-1", "1", CPU_A="1", MOD_1="1", GHOST="2", RAIL_1="-1")

    assert [(violation.code, violation.skus, violation.params) for violation in result.violations] == [
        ("invalid_quantity", ("RAIL-1",), {"sku": "RAIL-1", "quantity": "-1"}),
        ("unknown_sku", ("GHOST",), {"sku": "GHOST"}),
        ("selection_not_a_component", ("MOD-1",), {"sku": "MOD-1"}),
    ]
    assert "SRV-1/RAIL-1" not in quantities(result)


def test_invalid_configured_quantity() -> None:
    result = configure(catalog(), "SRV-1", "0", CPU_A="1")

    assert codes(result) == ["invalid_quantity"]
    assert result.violations[0].params == {"sku": "SRV-1", "quantity": "0"}
    assert result.total_cost == D(0)


def test_unknown_component_in_a_structure() -> None:
    catalogue = catalog(skus=SERVER_SKUS, structures=(Structure("SRV", (item("LOST-1"), item("RAIL-1"))),))

    result = configure(catalogue, "SRV-1")

    assert result.violations == (ConfigViolation("unknown_sku", None, "structure", ("LOST-1",),
                                                 "configurator.unknown_sku", {"sku": "LOST-1", "parent": "SRV-1"}),)
    assert [line.sku for line in result.lines] == ["SRV-1", "RAIL-1"]


def test_key_prefix_and_duplicate_components_get_unique_keys() -> None:
    catalogue = catalog(skus=SERVER_SKUS, structures=(Structure("SRV", (item("RAIL-1", position=1),
                                                                         item("RAIL-1", "2", position=2))),))

    result = expand(catalogue, Configuration("SRV-1", D(1), key_prefix="Q7:"))

    assert [(line.key, line.quantity) for line in result.lines] == [
        ("Q7:SRV-1", D(1)), ("Q7:SRV-1/RAIL-1", D(1)), ("Q7:SRV-1/RAIL-1#2", D(2))]
    assert result.unit_cost == D(1030)


def test_option_states_for_the_guided_configurator() -> None:
    # Given: CPU-A excludes DISK-2; memory at most 4 per server; model X allows only 220/380 V
    rules = [
        rule("R-EXCL", "excludes", {"a": "sku:CPU-A", "b": ["sku:DISK-2"]}, product="SRV"),
        rule("R-MEM", "quantity_limit", {"target": "category:memory", "max": 4}, product="SRV"),
        rule("R-VOLT", "attribute_constraint", {"when": {"attribute": "model", "value": "X"}, "attribute": "voltage",
                                                "allowed": ["220", "380"]}, product="SRV"),
    ]
    # When CPU-A and one disk are chosen, 220 V
    result = configure(catalog(rules), "SRV-1", attributes={"voltage": "220"}, CPU_A="1", DISK_1="1")

    assert result.violations == ()
    states = {state.sku: state for state in result.options}
    assert [state.sku for state in result.options] == [
        "CPU-A", "CPU-B", "MEM-16", "DISK-1", "DISK-2", "DISK-3", "RAIL-1", "PSU-110"]
    assert states["CPU-A"] == OptionState("cpu", "CPU-A", True, (), True, D(1), "SRV-1")
    # a single-choice group: choosing CPU-B replaces CPU-A; but CPU-B carries 380 V — allowed under model X
    assert states["CPU-B"].allowed is True
    assert states["DISK-2"] == OptionState("disk", "DISK-2", False, (
        ConfigViolation("excludes_conflict", "R-EXCL", "excludes", ("CPU-A", "DISK-2"),
                        "configurator.excludes_conflict", {"a": "sku:CPU-A", "b": ["sku:DISK-2"]}),),
        False, D(1), "SRV-1")
    assert states["DISK-3"].allowed is True
    assert states["MEM-16"] == OptionState(None, "MEM-16", True, (), False, D(2), "SRV-1")  # 2 ≤ 4
    assert states["PSU-110"] == OptionState(None, "PSU-110", False, (
        ConfigViolation("attribute_not_allowed", "R-VOLT", "attribute_constraint", ("PSU-110",),
                        "configurator.attribute_not_allowed",
                        {"attribute": "voltage", "value": "110", "allowed": ["220", "380"], "when": "model=X"}),),
        False, D(1), "SRV-1")

    # When a second disk fills the group (max 2) and memory is at 4
    full = configure(catalog(rules), "SRV-1", attributes={"voltage": "220"}, CPU_A="1", DISK_1="1", DISK_3="1",
                     MEM_16="4")
    states = {state.sku: state for state in full.options}
    assert states["DISK-2"].allowed is False
    assert [reason.code for reason in states["DISK-2"].reasons] == ["group_max_choices", "excludes_conflict"]
    assert states["DISK-2"].reasons[0].params == {"group": "disk", "product": "SRV", "parent": "SRV-1", "count": 3,
                                                  "max": 2}
    assert states["MEM-16"] == OptionState(None, "MEM-16", True, (), True, D(4), "SRV-1")


def test_option_state_of_a_selected_option_that_breaks_a_rule() -> None:
    rules = [rule("R-EXCL", "excludes", {"a": "sku:CPU-A", "b": ["sku:DISK-2"]}, product="SRV")]

    result = configure(catalog(rules), "SRV-1", CPU_A="1", DISK_2="1")

    states = {state.sku: state for state in result.options}
    assert states["CPU-A"].allowed is False
    assert states["DISK-2"].allowed is False
    assert states["CPU-A"].reasons == result.violations
    assert states["DISK-1"].allowed is True


def test_choosing_in_a_single_choice_group_replaces_the_chosen_sibling() -> None:
    # Given at most one CPU, and CPU-B excluded with DISK-1
    rules = [
        rule("R-ONE-CPU", "quantity_limit", {"target": "category:cpu", "max": 1}, product="SRV"),
        rule("R-B-DISK", "excludes", {"a": "sku:CPU-B", "b": ["sku:DISK-1"]}, product="SRV"),
    ]
    catalogue = catalog(rules)

    # When CPU-A is chosen, CPU-B stays offered (it would replace CPU-A, not add a second CPU)
    states = {state.sku: state for state in configure(catalogue, "SRV-1", CPU_A="1").options}
    assert states["CPU-B"] == OptionState("cpu", "CPU-B", True, (), False, D(1), "SRV-1")

    # When DISK-1 is chosen too, CPU-B is not allowed because of R-B-DISK only
    states = {state.sku: state for state in configure(catalogue, "SRV-1", CPU_A="1", DISK_1="1").options}
    assert [(reason.code, reason.rule, reason.skus) for reason in states["CPU-B"].reasons] == [
        ("excludes_conflict", "R-B-DISK", ("CPU-B", "DISK-1"))]
    assert states["CPU-B"].allowed is False
