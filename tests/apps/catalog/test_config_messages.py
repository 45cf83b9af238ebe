"""Every message key the configurator engine can emit has a text; texts render their params."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import l2c.engines.configurator as engine_package
from l2c.apps.catalog import config_messages
from l2c.engines.configurator import ConfigViolation

ENGINE_DIR = Path(engine_package.__file__).parent
STRUCTURE_CALL = re.compile(r'_structure_violation\(\s*"([a-z_]+)"')
PREFIXED = re.compile(r'MESSAGE_PREFIX \+ "([a-z_]+)"')
RULE_VIOLATION = re.compile(r'_violation\(\s*compiled,\s*"([a-z_]+)"')
DEFINITION_ERROR = re.compile(r'_error\(\s*(?:f?"[^"]*"|\w+)\s*,\s*"([a-z_]+)"')
# What the engine documents (a floor, so a regex that stops matching cannot pass by finding nothing).
DOCUMENTED = {
    "configurator." + code for code in (
        "unknown_sku", "selection_not_a_component", "invalid_quantity", "component_required", "component_below_min",
        "component_above_max", "group_single_choice", "group_min_choices", "group_max_choices", "bom_cycle",
        "auto_add_loop", "rule_invalid", "requires_missing", "excludes_conflict", "attribute_required",
        "attribute_not_allowed", "quantity_below_min", "quantity_above_max", "quantity_not_multiple")
} | {
    "configurator.rule." + code for code in (
        "unknown_kind", "not_an_object", "unknown_field", "required", "invalid_ref", "not_a_sku", "not_a_list",
        "empty_list", "not_a_string", "invalid_choice", "not_a_number", "not_positive", "negative", "not_a_boolean",
        "conflicting_fields", "min_above_max", "no_limit")
}


def engine_message_keys() -> set[str]:
    keys: set[str] = set()
    for path in ENGINE_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        keys.update("configurator." + code for code in STRUCTURE_CALL.findall(source))
        keys.update("configurator." + code for code in PREFIXED.findall(source))
        keys.update("configurator." + code for code in RULE_VIOLATION.findall(source))
        keys.update("configurator.rule." + code for code in DEFINITION_ERROR.findall(source))
    return keys


def test_every_key_the_engine_emits_has_a_text() -> None:
    found = engine_message_keys()
    # the scan sees the calls (a code chosen in a conditional expression is only in the docs)
    assert len(found & DOCUMENTED) >= len(DOCUMENTED) - 2
    assert sorted((found | DOCUMENTED) - set(config_messages.MESSAGES)) == []


@pytest.mark.parametrize("key", sorted(config_messages.MESSAGES))
def test_every_text_renders_with_its_params(key: str) -> None:
    names = re.findall(r"%\((\w+)\)s", config_messages.MESSAGES[key])
    params: dict[str, Any] = {name: ["A", "B"] if name in ("then", "missing", "b", "allowed", "fields") else "1"
                              for name in names}
    text = config_messages.render(key, params)
    assert "%(" not in text and text


@pytest.mark.parametrize(("key", "params", "text"), [
    ("configurator.requires_missing", {"if": "sku:GPU-1", "then": ["sku:PSU", "product:FAN"], "mode": "all",
                                       "missing": ["sku:PSU", "product:FAN"]},
     "选择了 GPU-1 时必须同时选择 PSU、产品 FAN。"),
    ("configurator.excludes_conflict", {"a": "category:gpu", "b": ["sku:X"]}, "分类 gpu 不能与 X 同时选择。"),
    ("configurator.quantity_not_multiple", {"target": "group:memory", "quantity": "3", "multiple_of": "2"},
     "选项组 memory 的数量 3 必须是 2 的倍数。"),
    ("configurator.bom_cycle", {"path": ["A", "B", "A"]}, "产品结构出现循环：A → B → A。"),
    ("configurator.rule_invalid", {"field": "then[0]", "error": "configurator.rule.empty_list"},
     "规则定义已失效（字段 then[0]）：至少填写一项。"),
    ("configurator.rule.min_above_max", {"min": "5", "max": "2"}, "下限 5 不能大于上限 2。"),
    ("configurator.some_future_key", {"sku": "X"}, "configurator.some_future_key {'sku': 'X'}"),
])
def test_texts(key: str, params: dict[str, Any], text: str) -> None:
    assert config_messages.render(key, params) == text


def test_a_rule_with_its_own_message_shows_it_and_labels_replace_codes() -> None:
    own = ConfigViolation("excludes_conflict", "r1", "excludes", ("A", "B"), "configurator.excludes_conflict",
                          {"a": "sku:A", "b": ["sku:B"], "rule_message": "A 与 B 不兼容"})
    plain = ConfigViolation("excludes_conflict", "r1", "excludes", ("A", "B"), "configurator.excludes_conflict",
                            {"a": "sku:A", "b": ["sku:B"]})
    assert config_messages.violation_text(own) == "A 与 B 不兼容"
    assert config_messages.violation_text(plain, {"sku:A": "显卡 A"}) == "显卡 A 不能与 B 同时选择。"


def test_attribute_params_show_names_and_value_labels() -> None:
    labels = {"attribute:model": "型号", "value:model=X": "X 型", "attribute:voltage": "电压",
              "value:voltage=110": "110 V", "value:voltage=220": "220 V"}
    params = {"attribute": "voltage", "value": "110", "allowed": ["220", "380"], "when": "model=X"}
    assert config_messages.render("configurator.attribute_not_allowed", params, labels) == (
        "型号=X 型 时 电压 不能是 110 V，只能是 220 V、380。")
    assert config_messages.render("configurator.attribute_not_allowed", params) == (
        "model=X 时 voltage 不能是 110，只能是 220、380。")
