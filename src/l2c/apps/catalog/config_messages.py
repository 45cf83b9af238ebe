"""Human text of the configurator engine's message keys (ADR 0006): the engine returns a key and
params, this module renders them in the active language (Chinese source strings, gettext).

Params that are references ("sku:GPU-1", "product:SRV", "category:hw", "group:cpu") are shown as
labels; lists are joined with "、". `labels` maps a reference key or a SKU code to the text shown
(default: the code, prefixed with what it is for products, categories and option groups);
"attribute:<code>" and "value:<attribute>=<value>" label attributes and their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

# Every key the engine can emit (configurator.<violation code>, configurator.rule.<definition error>).
MESSAGES: dict[str, str] = {
    # structure of the configuration
    "configurator.unknown_sku": gettext_noop("SKU %(sku)s 不存在。"),
    "configurator.selection_not_a_component": gettext_noop("%(sku)s 不是这个配置中的可选组件。"),
    "configurator.invalid_quantity": gettext_noop("%(sku)s 的数量 %(quantity)s 无效，必须大于 0。"),
    "configurator.component_required": gettext_noop("%(sku)s 是 %(parent)s 的必选组件，不能去掉。"),
    "configurator.component_below_min": gettext_noop(
        "%(parent)s 中 %(sku)s 的数量 %(quantity)s 低于下限 %(min)s。"),
    "configurator.component_above_max": gettext_noop(
        "%(parent)s 中 %(sku)s 的数量 %(quantity)s 超过上限 %(max)s。"),
    "configurator.group_single_choice": gettext_noop("%(group)s 只能选一项，现在选了 %(count)s 项。"),
    "configurator.group_min_choices": gettext_noop("%(group)s 至少要选 %(min)s 项，现在选了 %(count)s 项。"),
    "configurator.group_max_choices": gettext_noop("%(group)s 最多选 %(max)s 项，现在是 %(count)s 项。"),
    "configurator.bom_cycle": gettext_noop("产品结构出现循环：%(path)s。"),
    "configurator.auto_add_loop": gettext_noop("自动添加规则 %(rules)s 相互触发，%(rounds)s 轮后仍未稳定。"),
    "configurator.rule_invalid": gettext_noop("规则定义已失效（字段 %(field)s）：%(error)s"),
    # rule violations
    "configurator.requires_missing": gettext_noop("选择了 %(if)s 时必须同时选择 %(missing)s。"),
    "configurator.excludes_conflict": gettext_noop("%(a)s 不能与 %(b)s 同时选择。"),
    "configurator.attribute_required": gettext_noop("%(when)s 时必须选择 %(attribute)s，可选值：%(allowed)s。"),
    "configurator.attribute_not_allowed": gettext_noop(
        "%(when)s 时 %(attribute)s 不能是 %(value)s，只能是 %(allowed)s。"),
    "configurator.quantity_below_min": gettext_noop("%(target)s 的数量 %(quantity)s 低于下限 %(min)s。"),
    "configurator.quantity_above_max": gettext_noop("%(target)s 的数量 %(quantity)s 超过上限 %(max)s。"),
    "configurator.quantity_not_multiple": gettext_noop(
        "%(target)s 的数量 %(quantity)s 必须是 %(multiple_of)s 的倍数。"),
    # definition errors of a rule (field errors of the rule editor)
    "configurator.rule.unknown_kind": gettext_noop("规则类型 %(kind)s 无效，可选：%(choices)s。"),
    "configurator.rule.not_an_object": gettext_noop("必须是 JSON 对象。"),
    "configurator.rule.unknown_field": gettext_noop("不认识的字段，允许的字段：%(allowed)s。"),
    "configurator.rule.required": gettext_noop("必填。"),
    "configurator.rule.invalid_ref": gettext_noop(
        "引用 %(value)s 无效：应为 SKU 编码，或 sku:、product:、category: 加编码。"),
    "configurator.rule.not_a_sku": gettext_noop("%(value)s 必须是一个 SKU。"),
    "configurator.rule.not_a_list": gettext_noop("必须是列表。"),
    "configurator.rule.empty_list": gettext_noop("至少填写一项。"),
    "configurator.rule.not_a_string": gettext_noop("必须是非空文本。"),
    "configurator.rule.invalid_choice": gettext_noop("只能是 %(choices)s 之一。"),
    "configurator.rule.not_a_number": gettext_noop("必须是数字。"),
    "configurator.rule.not_positive": gettext_noop("必须大于 0。"),
    "configurator.rule.negative": gettext_noop("不能是负数。"),
    "configurator.rule.not_a_boolean": gettext_noop("必须是 true 或 false。"),
    "configurator.rule.conflicting_fields": gettext_noop("%(fields)s 不能同时填写。"),
    "configurator.rule.min_above_max": gettext_noop("下限 %(min)s 不能大于上限 %(max)s。"),
    "configurator.rule.no_limit": gettext_noop("至少填写 %(fields)s 中的一项。"),
}

# Params holding references (or lists of them) and params holding SKU codes.
REF_PARAMS = frozenset({"if", "then", "missing", "a", "b", "target", "when"})
SKU_PARAMS = frozenset({"sku", "parent"})
# Messages whose "value" / "allowed" params are values of their "attribute" param.
ATTRIBUTE_KEYS = frozenset({"configurator.attribute_required", "configurator.attribute_not_allowed"})
REF_PREFIXES = {"product": gettext_noop("产品 %(code)s"), "category": gettext_noop("分类 %(code)s"),
                "group": gettext_noop("选项组 %(code)s")}


def ref_label(ref: str, labels: Mapping[str, str] | None = None) -> str:
    """A reference key ("sku:X", "product:P", "category:C", "group:G", "attr=value") as shown."""
    if labels and ref in labels:
        return labels[ref]
    kind, separator, code = ref.partition(":")
    if not separator and "=" in ref:  # an attribute condition "model=X"
        attribute, _equals, value = ref.partition("=")
        return f"{attribute_label(attribute, labels)}={value_label(attribute, value, labels)}"
    if not separator:
        return labels.get(f"sku:{ref}", ref) if labels else ref
    if kind == "sku":
        return labels.get(ref, code) if labels else code
    template = REF_PREFIXES.get(kind)
    return _(template) % {"code": code} if template else ref


def attribute_label(code: str, labels: Mapping[str, str] | None = None) -> str:
    return labels.get(f"attribute:{code}", code) if labels else code


def value_label(attribute: str, code: str, labels: Mapping[str, str] | None = None) -> str:
    return labels.get(f"value:{attribute}={code}", code) if labels else code


def _shown(name: str, value: Any, labels: Mapping[str, str] | None, attribute: str | None = None) -> str:
    if isinstance(value, list | tuple):
        return "、".join(_shown(name, item, labels, attribute) for item in value)
    if name == "attribute" and isinstance(value, str):
        return attribute_label(value, labels)
    if name in ("value", "allowed") and attribute is not None:
        return value_label(attribute, str(value), labels)
    if name in REF_PARAMS and isinstance(value, str):
        return ref_label(value, labels)
    if name in SKU_PARAMS and isinstance(value, str):
        return ref_label(f"sku:{value}", labels)
    if name == "group" and isinstance(value, str):
        return ref_label(f"group:{value}", labels)
    if name == "error" and isinstance(value, str) and value in MESSAGES:
        return render(value, {})
    return str(value)


def render(key: str, params: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> str:
    """The text of message `key` with `params`, in the active language. An unknown key shows the key
    itself with its params (never an error: a newer engine may emit a key this module lacks)."""
    template = MESSAGES.get(key)
    if key == "configurator.bom_cycle":
        values = {"path": " → ".join(str(item) for item in params.get("path", []))}
    else:
        attribute = params.get("attribute") if key in ATTRIBUTE_KEYS else None
        values = {name: _shown(name, value, labels, attribute if isinstance(attribute, str) else None)
                  for name, value in params.items()}
    if template is None:
        return f"{key} {values}" if values else key
    text = _(template)
    try:
        return text % values
    except (KeyError, ValueError, TypeError):
        return text


def violation_text(violation: Any, labels: Mapping[str, str] | None = None) -> str:
    """A violation as shown: the rule's own message when its author wrote one, else the rendered key."""
    own = violation.params.get("rule_message") if violation.params else None
    if own:
        return str(own)
    return render(violation.message, violation.params, labels)
