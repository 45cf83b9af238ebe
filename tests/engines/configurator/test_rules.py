"""Configuration rules: parsing (the bad field is named), every kind passing and failing with exact
codes and params, auto-add formulas and chains, all violations at once, the "test this rule" box."""

from __future__ import annotations

from decimal import Decimal

import pytest

from l2c.engines.configurator import (
    MAX_AUTO_ADD_ROUNDS,
    Configuration,
    ConfigViolation,
    ExpandedLine,
    Ref,
    Rule,
    RuleDefinitionError,
    catalog_with_rule,
    parse_ref,
    parse_rule,
    validate_rule_against,
)
from l2c.engines.configurator.rules import (
    AttributeConstraint,
    AutoAdd,
    Excludes,
    QuantityLimit,
    Requires,
)

from .factories import PSU_PER_TWO_MODULES, D, catalog, codes, configure, configure_map, quantities, rule

# --- Parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("sku:MOD-1", Ref("sku", "MOD-1")),
    ("product:SRV", Ref("product", "SRV")),
    ("category:memory", Ref("category", "memory")),
    ("MOD-1", Ref("sku", "MOD-1")),  # a bare code is a SKU
    ("A:B", Ref("sku", "A:B")),  # an unknown prefix is part of the SKU code
    (" sku: X ", Ref("sku", "X")),
])
def test_parse_ref(text: str, expected: Ref) -> None:
    assert parse_ref("if", text) == expected


@pytest.mark.parametrize(("kind", "definition", "expected"), [
    ("requires", {"if": "sku:CPU-B", "then": ["sku:MEM-16", "category:storage"]},
     Requires(Ref("sku", "CPU-B"), (Ref("sku", "MEM-16"), Ref("category", "storage")), "all")),
    ("requires", {"if": "CPU-B", "then": "MEM-16", "mode": "any"},
     Requires(Ref("sku", "CPU-B"), (Ref("sku", "MEM-16"),), "any")),
    ("excludes", {"a": "sku:CPU-A", "b": ["sku:DISK-2", "sku:DISK-2"]},
     Excludes(Ref("sku", "CPU-A"), (Ref("sku", "DISK-2"),))),
    ("auto_add", {"when": "SKU-MOD", "add": "SKU-PSU", "per": 2, "quantity": 1},
     AutoAdd(Ref("sku", "SKU-MOD"), "SKU-PSU", D(1), per=D(2))),
    ("auto_add", {"when": "category:module", "add": "sku:CABLE-1", "factor": 1.5, "priced": False},
     AutoAdd(Ref("category", "module"), "CABLE-1", D(0), factor=D("1.5"), priced=False)),
    ("auto_add", {"when": "product:SW", "add": "CORD-1", "quantity": "2"},
     AutoAdd(Ref("product", "SW"), "CORD-1", D(2))),
    ("attribute_constraint", {"when": {"attribute": "model", "value": "X"}, "attribute": "voltage",
                              "allowed": ["380", "220", "380"]},
     AttributeConstraint("voltage", ("220", "380"), when_attribute="model", when_value="X")),
    ("attribute_constraint", {"when": {"sku": "sku:CPU-B"}, "attribute": "voltage", "allowed": ["380"]},
     AttributeConstraint("voltage", ("380",), when_ref=Ref("sku", "CPU-B"))),
    ("quantity_limit", {"target": {"category": "memory"}, "min": 2, "max": "8", "multiple_of": 2},
     QuantityLimit(Ref("category", "memory"), D(2), D(8), D(2))),
    ("quantity_limit", {"target": {"group": "disk"}, "max": 1}, QuantityLimit(Ref("group", "disk"), None, D(1))),
    ("quantity_limit", {"target": "sku:MOD-1", "min": 0}, QuantityLimit(Ref("sku", "MOD-1"), D(0))),
])
def test_parse_rule_valid(kind: str, definition: dict[str, object], expected: object) -> None:
    assert parse_rule(kind, definition) == expected


@pytest.mark.parametrize(("kind", "definition", "field", "message_key"), [
    ("forbids", {}, "kind", "configurator.rule.unknown_kind"),
    ("requires", ["if"], "definition", "configurator.rule.not_an_object"),
    ("requires", {"if": "A", "then": ["B"], "else": "C"}, "else", "configurator.rule.unknown_field"),
    ("requires", {"then": ["B"]}, "if", "configurator.rule.required"),
    ("requires", {"if": "A"}, "then", "configurator.rule.required"),
    ("requires", {"if": "A", "then": []}, "then", "configurator.rule.empty_list"),
    ("requires", {"if": "A", "then": ["B", 3]}, "then[1]", "configurator.rule.not_a_string"),
    ("requires", {"if": "A", "then": ["sku:"]}, "then[0]", "configurator.rule.invalid_ref"),
    ("requires", {"if": "A", "then": ["B"], "mode": "some"}, "mode", "configurator.rule.invalid_choice"),
    ("requires", {"if": "", "then": ["B"]}, "if", "configurator.rule.invalid_ref"),
    ("excludes", {"a": "A", "b": 7}, "b", "configurator.rule.not_a_list"),
    ("auto_add", {"when": "A", "add": "category:psu", "quantity": 1}, "add", "configurator.rule.not_a_sku"),
    ("auto_add", {"when": "A", "add": "B"}, "quantity", "configurator.rule.required"),
    ("auto_add", {"when": "A", "add": "B", "per": 0}, "per", "configurator.rule.not_positive"),
    ("auto_add", {"when": "A", "add": "B", "per": "two"}, "per", "configurator.rule.not_a_number"),
    ("auto_add", {"when": "A", "add": "B", "per": True}, "per", "configurator.rule.not_a_number"),
    ("auto_add", {"when": "A", "add": "B", "per": "NaN"}, "per", "configurator.rule.not_a_number"),
    ("auto_add", {"when": "A", "add": "B", "per": 2, "quantity": -1}, "quantity", "configurator.rule.not_positive"),
    ("auto_add", {"when": "A", "add": "B", "per": 2, "factor": 1}, "factor", "configurator.rule.conflicting_fields"),
    ("auto_add", {"when": "A", "add": "B", "factor": 2, "quantity": 1}, "quantity",
     "configurator.rule.conflicting_fields"),
    ("auto_add", {"when": "A", "add": "B", "quantity": 1, "priced": "yes"}, "priced",
     "configurator.rule.not_a_boolean"),
    ("attribute_constraint", {"when": {"attribute": "model"}, "attribute": "v", "allowed": ["1"]}, "when.value",
     "configurator.rule.required"),
    ("attribute_constraint", {"when": {"value": "X"}, "attribute": "v", "allowed": ["1"]}, "when.attribute",
     "configurator.rule.required"),
    ("attribute_constraint", {"when": {"colour": "X"}, "attribute": "v", "allowed": ["1"]}, "when.colour",
     "configurator.rule.unknown_field"),
    ("attribute_constraint", {"when": {"sku": "A", "attribute": "m"}, "attribute": "v", "allowed": ["1"]},
     "when.sku", "configurator.rule.conflicting_fields"),
    ("attribute_constraint", {"when": 5, "attribute": "v", "allowed": ["1"]}, "when",
     "configurator.rule.not_an_object"),
    ("attribute_constraint", {"when": "A", "attribute": "", "allowed": ["1"]}, "attribute",
     "configurator.rule.not_a_string"),
    ("attribute_constraint", {"when": "A", "attribute": "v", "allowed": []}, "allowed", "configurator.rule.empty_list"),
    ("attribute_constraint", {"when": "A", "attribute": "v", "allowed": "1"}, "allowed",
     "configurator.rule.not_a_list"),
    ("quantity_limit", {"target": "A"}, "max", "configurator.rule.no_limit"),
    ("quantity_limit", {"target": "A", "min": 5, "max": 2}, "max", "configurator.rule.min_above_max"),
    ("quantity_limit", {"target": "A", "min": -1}, "min", "configurator.rule.negative"),
    ("quantity_limit", {"target": "A", "multiple_of": 0}, "multiple_of", "configurator.rule.not_positive"),
    ("quantity_limit", {"target": {"brand": "x"}, "max": 1}, "target", "configurator.rule.invalid_ref"),
    ("quantity_limit", {"target": {"group": ""}, "max": 1}, "target.group", "configurator.rule.not_a_string"),
])
def test_parse_rule_names_the_bad_field(kind: str, definition: object, field: str, message_key: str) -> None:
    with pytest.raises(RuleDefinitionError) as caught:
        parse_rule(kind, definition)

    assert (caught.value.field, caught.value.message_key) == (field, message_key)


def test_parse_error_params() -> None:
    with pytest.raises(RuleDefinitionError) as caught:
        parse_rule("quantity_limit", {"target": "A", "min": 5, "max": "2.50"})
    assert caught.value.params == {"min": "5", "max": "2.5"}


# --- requires / excludes ---------------------------------------------------------------------------

REQUIRES_ALL = rule("R-REQ", "requires", {"if": "sku:CPU-B", "then": ["sku:MEM-16", "category:storage"]},
                    product="SRV")
REQUIRES_ANY = rule("R-REQ", "requires", {"if": "sku:CPU-B", "then": ["sku:MEM-16", "category:storage"],
                                          "mode": "any"}, product="SRV")


@pytest.mark.parametrize(("requires", "selections", "missing"), [
    (REQUIRES_ALL, {"CPU_A": "1"}, None),  # the condition does not hold
    (REQUIRES_ALL, {"CPU_B": "1"}, ["sku:MEM-16", "category:storage"]),
    (REQUIRES_ALL, {"CPU_B": "1", "MEM_16": "2"}, ["category:storage"]),
    (REQUIRES_ALL, {"CPU_B": "1", "MEM_16": "2", "DISK_1": "1"}, None),
    (REQUIRES_ANY, {"CPU_B": "1"}, ["sku:MEM-16", "category:storage"]),
    (REQUIRES_ANY, {"CPU_B": "1", "DISK_2": "1"}, None),
])
def test_requires(requires: Rule, selections: dict[str, str], missing: list[str] | None) -> None:
    result = configure_map(catalog([requires]), "SRV-1", selections)

    if missing is None:
        assert result.violations == ()
    else:
        assert result.violations == (ConfigViolation(
            "requires_missing", "R-REQ", "requires", ("CPU-B",), "configurator.requires_missing",
            {"if": "sku:CPU-B", "then": ["sku:MEM-16", "category:storage"],
             "mode": requires.definition.get("mode", "all"), "missing": missing}),)


def test_excludes() -> None:
    excludes = rule("R-EXCL", "excludes", {"a": "sku:CPU-A", "b": ["sku:DISK-2", "category:memory"]}, product="SRV",
                    message="A 型处理器不支持该硬盘")
    catalogue = catalog([excludes])

    assert configure(catalogue, "SRV-1", CPU_A="1", DISK_1="1").violations == ()
    assert configure(catalogue, "SRV-1", CPU_B="1", DISK_2="1", MEM_16="2").violations == ()
    assert configure(catalogue, "SRV-1", CPU_A="1", DISK_2="1", MEM_16="2").violations == (ConfigViolation(
        "excludes_conflict", "R-EXCL", "excludes", ("CPU-A", "DISK-2", "MEM-16"), "configurator.excludes_conflict",
        {"a": "sku:CPU-A", "b": ["sku:DISK-2", "category:memory"], "rule_message": "A 型处理器不支持该硬盘"}),)


# --- auto_add --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("modules", "power_supplies"), [("1", 1), ("2", 1), ("3", 2), ("4", 2), ("5", 3)])
def test_auto_add_one_power_supply_per_two_modules(modules: str, power_supplies: int) -> None:
    result = configure(catalog([PSU_PER_TWO_MODULES]), "SW-1", MOD_1=modules)

    assert result.auto_added == (ExpandedLine("SW-1/+R-PSU", "PSU-1", D(power_supplies), "SW-1", True, "auto_add",
                                              "R-PSU", D(74)),)  # 60 + 2 included brackets × 7
    assert quantities(result)["SW-1/+R-PSU/BRACKET-1"] == D(2 * power_supplies)
    assert result.violations == ()


def test_auto_add_holds_per_configured_unit() -> None:
    # three switches with three modules each need two power supplies each
    result = configure(catalog([PSU_PER_TWO_MODULES]), "SW-1", "3", MOD_1="3")

    assert quantities(result) == {"SW-1": D(3), "SW-1/MOD-1": D(9), "SW-1/+R-PSU": D(6), "SW-1/+R-PSU/BRACKET-1": D(12)}


def test_auto_add_without_the_trigger_adds_nothing() -> None:
    result = configure(catalog([PSU_PER_TWO_MODULES]), "SW-1")

    assert result.auto_added == ()
    assert [line.key for line in result.lines] == ["SW-1"]


def test_auto_add_tops_up_what_the_user_chose() -> None:
    catalogue = catalog([PSU_PER_TWO_MODULES])

    topped_up = configure(catalogue, "SW-1", MOD_1="4", PSU_1="1")
    enough = configure(catalogue, "SW-1", MOD_1="4", PSU_1="3")

    assert [(line.key, line.quantity) for line in topped_up.auto_added] == [("SW-1/+R-PSU", D(1))]
    assert enough.auto_added == ()


@pytest.mark.parametrize(("definition", "modules", "expected"), [
    ({"when": "sku:MOD-1", "add": "CABLE-1", "factor": "1.5"}, "3", D(5)),  # ceil(4.5)
    ({"when": "sku:MOD-1", "add": "CABLE-1", "factor": "0.5"}, "4", D(2)),
    ({"when": "sku:MOD-1", "add": "CABLE-1", "quantity": "2"}, "7", D(2)),  # fixed
    ({"when": "category:module", "add": "CABLE-1", "per": 4, "quantity": "0.5"}, "5", D(1)),  # ceil(5/4) × 0.5
])
def test_auto_add_formulas(definition: dict[str, object], modules: str, expected: Decimal) -> None:
    result = configure(catalog([rule("R-CABLE", "auto_add", definition)]), "SW-1", MOD_1=modules)

    assert [(line.sku, line.quantity) for line in result.auto_added] == [("CABLE-1", expected)]


def test_auto_add_chain_reaches_a_fixed_point() -> None:
    # modules → power supplies → cords → cable ties (global rules, triggered by what was added)
    rules = [
        PSU_PER_TWO_MODULES,
        rule("R-CORD", "auto_add", {"when": "sku:PSU-1", "add": "CORD-1", "factor": 1}),
        rule("R-TIE", "auto_add", {"when": "category:cable", "add": "CABLE-1", "per": 3, "quantity": 1,
                                   "priced": False}),
    ]
    result = configure(catalog(reversed(rules)), "SW-1", MOD_1="5")

    assert [(line.key, line.sku, line.quantity, line.priced) for line in result.auto_added] == [
        ("SW-1/+R-CORD", "CORD-1", D(3), True),
        ("SW-1/+R-PSU", "PSU-1", D(3), True),
        ("SW-1/+R-TIE", "CABLE-1", D(2), False),  # ceil((3 cords + 2 ties) / 3) = 2: the ties count too
    ]
    assert result.violations == ()
    # the included ties roll into the switch's cost
    assert result.unit_cost == D(800) + 2 * D(2)


def test_auto_add_loop_is_cut_with_a_violation() -> None:
    doubling = rule("R-DOUBLE", "auto_add", {"when": "sku:MOD-1", "add": "MOD-1", "factor": 2})

    result = configure(catalog([doubling]), "SW-1", MOD_1="1")

    assert result.violations == (ConfigViolation("auto_add_loop", "R-DOUBLE", "auto_add", (),
                                                 "configurator.auto_add_loop",
                                                 {"rounds": MAX_AUTO_ADD_ROUNDS, "rules": ["R-DOUBLE"]}),)
    # each round adds (2 × total − chosen): 1, 3, 7, … = 2^n − 1 after n rounds
    assert [line.quantity for line in result.auto_added] == [D(2 ** MAX_AUTO_ADD_ROUNDS - 1)]


def test_auto_add_of_an_unknown_sku() -> None:
    result = configure(catalog([rule("R-GHOST", "auto_add", {"when": "MOD-1", "add": "GHOST", "quantity": 1})]),
                       "SW-1", MOD_1="1")

    assert result.violations == (ConfigViolation("unknown_sku", "R-GHOST", "auto_add", ("GHOST",),
                                                 "configurator.unknown_sku", {"sku": "GHOST"}),)
    assert result.auto_added == ()


# --- attribute_constraint --------------------------------------------------------------------------

MODEL_VOLTAGE = rule("R-VOLT", "attribute_constraint", {"when": {"attribute": "model", "value": "X"},
                                                        "attribute": "voltage", "allowed": ["220", "380"]})


@pytest.mark.parametrize(("attributes", "expected"), [
    ({"voltage": "380"}, []),
    ({"voltage": "220", "model": "Y"}, []),  # the chosen model overrides the SKU's: the condition does not hold
    ({"voltage": "110"}, [("attribute_not_allowed", ("SRV-1",),
                           {"attribute": "voltage", "value": "110", "allowed": ["220", "380"], "when": "model=X"})]),
    ({}, [("attribute_required", ("SRV-1",), {"attribute": "voltage", "allowed": ["220", "380"], "when": "model=X"})]),
])
def test_attribute_constraint_on_chosen_values(attributes: dict[str, str],
                                               expected: list[tuple[str, tuple[str, ...], dict[str, object]]]) -> None:
    result = configure(catalog([MODEL_VOLTAGE]), "SRV-1", attributes=attributes, CPU_A="1")

    assert [(violation.code, violation.skus, violation.params) for violation in result.violations] == expected


def test_attribute_constraint_sees_component_values() -> None:
    # the 110 V power supply under model X
    result = configure(catalog([MODEL_VOLTAGE]), "SRV-1", attributes={"voltage": "220"}, CPU_A="1", PSU_110="1")

    assert [(violation.code, violation.skus, violation.params["value"]) for violation in result.violations] == [
        ("attribute_not_allowed", ("PSU-110",), "110")]


def test_attribute_constraint_triggered_by_a_sku() -> None:
    constraint = rule("R-CPUB", "attribute_constraint", {"when": {"sku": "sku:CPU-B"}, "attribute": "voltage",
                                                         "allowed": ["380"]}, product="SRV")
    catalogue = catalog([constraint])

    assert configure(catalogue, "SRV-1", attributes={"voltage": "220"}, CPU_A="1").violations == ()
    # CPU-B carries 380 itself, the chosen 220 is not allowed
    assert [(violation.code, violation.skus, violation.params) for violation in
            configure(catalogue, "SRV-1", attributes={"voltage": "220"}, CPU_B="1").violations] == [
        ("attribute_not_allowed", ("SRV-1",), {"attribute": "voltage", "value": "220", "allowed": ["380"],
                                              "when": "sku:CPU-B"})]
    assert configure(catalogue, "SRV-1", attributes={"voltage": "380"}, CPU_B="1").violations == ()


# --- quantity_limit --------------------------------------------------------------------------------


@pytest.mark.parametrize(("definition", "selections", "expected"), [
    ({"target": {"category": "memory"}, "min": 4, "max": 6}, {"MEM_16": "4"}, []),
    ({"target": {"category": "memory"}, "min": 4, "max": 6}, {"MEM_16": "2"},
     [("quantity_below_min", ("MEM-16",), {"target": "category:memory", "quantity": "2", "min": "4"})]),
    ({"target": {"category": "memory"}, "min": 4, "max": 6}, {},
     [("quantity_below_min", (), {"target": "category:memory", "quantity": "0", "min": "4"})]),
    ({"target": "category:memory", "max": 6}, {"MEM_16": "8"},
     [("quantity_above_max", ("MEM-16",), {"target": "category:memory", "quantity": "8", "max": "6"})]),
    ({"target": "sku:MEM-16", "multiple_of": 4}, {"MEM_16": "6"},
     [("quantity_not_multiple", ("MEM-16",), {"target": "sku:MEM-16", "quantity": "6", "multiple_of": "4"})]),
    ({"target": "sku:MEM-16", "min": 8, "multiple_of": 4}, {"MEM_16": "6"},
     [("quantity_below_min", ("MEM-16",), {"target": "sku:MEM-16", "quantity": "6", "min": "8"}),
      ("quantity_not_multiple", ("MEM-16",), {"target": "sku:MEM-16", "quantity": "6", "multiple_of": "4"})]),
    ({"target": {"group": "disk"}, "max": 2}, {"DISK_1": "1", "DISK_2": "1"}, []),
    ({"target": {"group": "disk"}, "max": 2}, {"DISK_1": "2", "DISK_2": "1"},
     [("quantity_above_max", ("DISK-1", "DISK-2"), {"target": "group:disk", "quantity": "3", "max": "2"})]),
    # the fans of the chassis count too: 4 per server
    ({"target": "product:FAN", "max": 3}, {}, [("quantity_above_max", ("FAN-1",),
                                                {"target": "product:FAN", "quantity": "4", "max": "3"})]),
])
def test_quantity_limit(definition: dict[str, object], selections: dict[str, str],
                        expected: list[tuple[str, tuple[str, ...], dict[str, object]]]) -> None:
    limit = rule("R-QTY", "quantity_limit", definition, product="SRV")

    result = configure_map(catalog([limit]), "SRV-1", {"CPU_A": "1", **selections}, quantity="5")

    # quantities are per configured unit (five servers do not multiply the limits)
    assert [(violation.code, violation.skus, violation.params) for violation in result.violations] == expected


def test_global_rules_apply_only_where_their_trigger_is_present() -> None:
    limit = rule("R-MODS", "quantity_limit", {"target": "sku:MOD-1", "min": 2})  # global
    catalogue = catalog([limit])

    assert configure(catalogue, "SRV-1", CPU_A="1").violations == ()  # a server holds no module
    assert codes(configure(catalogue, "SW-1", MOD_1="1")) == ["quantity_below_min"]


def test_product_rules_apply_where_the_product_is_part_of_the_configuration() -> None:
    # a rule of the chassis applies to the server that includes it
    limit = rule("R-FANS", "quantity_limit", {"target": "sku:FAN-1", "multiple_of": 3}, product="CHASSIS")
    sw_rule = rule("R-SW", "quantity_limit", {"target": "sku:MOD-1", "min": 1}, product="SW")

    result = configure(catalog([limit, sw_rule]), "SRV-1", CPU_A="1")

    assert [(violation.rule, violation.code) for violation in result.violations] == [
        ("R-FANS", "quantity_not_multiple")]


# --- everything at once ----------------------------------------------------------------------------


def test_all_violations_are_returned_at_once_ordered_structure_first_then_rules_by_code() -> None:
    rules = [
        rule("R-Z-EXCL", "excludes", {"a": "sku:CPU-A", "b": ["sku:DISK-2"]}, product="SRV"),
        rule("R-A-REQ", "requires", {"if": "sku:CPU-B", "then": ["sku:RAIL-1"]}, product="SRV"),
        rule("R-M-QTY", "quantity_limit", {"target": "category:memory", "max": 4}, product="SRV"),
        MODEL_VOLTAGE,
    ]
    result = configure(catalog(reversed(rules)), "SRV-1", attributes={"voltage": "110"}, CPU_A="1", CPU_B="1",
                       MEM_16="6", DISK_1="1", DISK_2="1", DISK_3="1", GHOST="1")

    assert [(violation.code, violation.rule) for violation in result.violations] == [
        ("group_single_choice", None),
        ("group_max_choices", None),
        ("unknown_sku", None),
        ("requires_missing", "R-A-REQ"),
        ("quantity_above_max", "R-M-QTY"),
        ("attribute_not_allowed", "R-VOLT"),
        ("excludes_conflict", "R-Z-EXCL"),
    ]


def test_a_stored_rule_that_no_longer_parses_is_reported_where_it_applies() -> None:
    broken = rule("R-BROKEN", "requires", {"if": "sku:CPU-A"}, product="SRV")
    catalogue = catalog([broken])

    assert catalogue.invalid_rules[0].field == "then"
    assert configure(catalogue, "SRV-1", CPU_A="1").violations == (ConfigViolation(
        "rule_invalid", "R-BROKEN", "requires", (), "configurator.rule_invalid",
        {"field": "then", "error": "configurator.rule.required"}),)
    assert configure(catalogue, "SW-1").violations == ()


def test_duplicate_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate rule code"):
        catalog([PSU_PER_TWO_MODULES, PSU_PER_TWO_MODULES])


# --- "test this rule" ------------------------------------------------------------------------------


def test_validate_rule_against_an_unsaved_rule() -> None:
    catalogue = catalog([PSU_PER_TWO_MODULES])
    limit = rule("R-NEW", "quantity_limit", {"target": "sku:MOD-1", "max": 4}, product="SW")

    passing = validate_rule_against(catalogue, limit, _switch(modules="4"))
    failing = validate_rule_against(catalogue, limit, _switch(modules="5"))

    assert (passing.passes, passing.violations, passing.auto_added) == (True, (), ())
    assert failing.passes is False
    assert [(violation.code, violation.params) for violation in failing.violations] == [
        ("quantity_above_max", {"target": "sku:MOD-1", "quantity": "5", "max": "4"})]
    # the saved auto-add rule still ran, but only the tested rule's output is returned
    passes, violations, auto_added = validate_rule_against(catalogue, PSU_PER_TWO_MODULES, _switch(modules="5"))
    assert (passes, violations) == (True, ())
    assert [(line.rule, line.quantity) for line in auto_added] == [("R-PSU", D(3))]


def test_validate_rule_against_reports_what_an_auto_add_rule_adds_and_replaces_the_saved_version() -> None:
    catalogue = catalog([PSU_PER_TWO_MODULES])
    edited = rule("R-PSU", "auto_add", {"when": "sku:MOD-1", "add": "PSU-1", "per": 3}, product="SW")

    tested = validate_rule_against(catalogue, edited, _switch(modules="4"))

    assert tested.passes is True
    assert [(line.sku, line.quantity) for line in tested.auto_added] == [("PSU-1", D(2))]


def test_validate_rule_against_forces_a_rule_of_another_product() -> None:
    other = rule("R-OTHER", "requires", {"if": "sku:MOD-1", "then": ["sku:PSU-1"]}, product="ROUTER")

    tested = validate_rule_against(catalog(), other, _switch(modules="1"))

    assert [violation.code for violation in tested.violations] == ["requires_missing"]


def test_validate_rule_against_an_invalid_definition_raises() -> None:
    with pytest.raises(RuleDefinitionError) as caught:
        validate_rule_against(catalog(), rule("R-BAD", "excludes", {"a": "X"}), _switch(modules="1"))
    assert caught.value.field == "b"


def test_catalog_with_rule_replaces_an_invalid_rule() -> None:
    catalogue = catalog([rule("R-1", "requires", {"if": "X"})])

    fixed = catalog_with_rule(catalogue, rule("R-1", "requires", {"if": "X", "then": ["Y"]}))

    assert fixed.invalid_rules == ()
    assert list(fixed.rules) == ["R-1"]
    assert [compiled.code for compiled in fixed.global_rules_by_key["sku:X"]] == ["R-1"]
    assert [compiled.code for compiled in fixed.rules_by_key["sku:Y"]] == ["R-1"]


def _switch(modules: str) -> Configuration:
    return Configuration("SW-1", D(1), {"MOD-1": D(modules)})
