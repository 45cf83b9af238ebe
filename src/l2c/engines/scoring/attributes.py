"""Attribute fit (属性评分): admin rules `field op value → points` over lead fields, the ideal
customer profile. The score is the sum of the points of the matching rules, clamped to 0..100.

Field values are text ("" when empty; custom values normalised by `field_text`). Operators:
- eq, ne, in, not_in: text equality after trimming and case folding (`in` takes a list);
- contains: the value occurs in the field (case folded);
- gt, gte, lt, lte: numeric comparison; a field that is not a number never matches;
- is_empty, is_not_empty: the field is (not) blank.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_empty", "is_not_empty")
LIST_OPS = ("in", "not_in")
NUMBER_OPS = ("gt", "gte", "lt", "lte")
VALUELESS_OPS = ("is_empty", "is_not_empty")
MAX_ATTRIBUTE = 100

ObjectArray = npt.NDArray[np.object_]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class AttributeRuleSpec:
    """One active rule: `field` is a lead field name or `custom.<key>`. `value` is text for the
    text operators, a tuple of texts for in/not_in, a number for the comparisons."""

    rule_id: int
    field: str
    op: str
    value: str | float | tuple[str, ...]
    points: int
    name: str = ""


def field_text(value: Any) -> str:
    """The text form of a field value (custom fields hold JSON values): None → "", booleans
    "true"/"false", whole floats without ".0", lists and objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _fold(text: str) -> str:
    return text.strip().casefold()


def _number(text: str) -> float:
    try:
        number = float(text.strip().replace(",", ""))
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def rule_matches(rule: AttributeRuleSpec, text: str) -> bool:
    """Whether one field value satisfies one rule (the reference for the vectorised form)."""
    op = rule.op
    if op == "is_empty":
        return not text.strip()
    if op == "is_not_empty":
        return bool(text.strip())
    if op in NUMBER_OPS:
        number = _number(text)
        if math.isnan(number):
            return False
        target = float(rule.value)  # type: ignore[arg-type]
        return {"gt": number > target, "gte": number >= target, "lt": number < target,
                "lte": number <= target}[op]
    folded = _fold(text)
    if op in LIST_OPS:
        values = {_fold(str(item)) for item in rule.value}  # type: ignore[union-attr]
        return (folded in values) == (op == "in")
    target_text = _fold(str(rule.value))
    if op == "eq":
        return folded == target_text
    if op == "ne":
        return folded != target_text
    if op == "contains":
        return bool(target_text) and target_text in folded
    raise ValueError(f"unknown operator {op!r}")


def rule_mask(rule: AttributeRuleSpec, column: ObjectArray) -> BoolArray:
    """The rule evaluated over a column of texts (one element per lead)."""
    op = rule.op
    if op in VALUELESS_OPS:
        blank = np.fromiter((not str(text).strip() for text in column), dtype=np.bool_, count=len(column))
        return blank if op == "is_empty" else ~blank
    if op in NUMBER_OPS:
        numbers = np.fromiter((_number(str(text)) for text in column), dtype=np.float64, count=len(column))
        target = float(rule.value)  # type: ignore[arg-type]
        with np.errstate(invalid="ignore"):
            if op == "gt":
                return numbers > target
            if op == "gte":
                return numbers >= target
            if op == "lt":
                return numbers < target
            return numbers <= target
    folded = np.array([_fold(str(text)) for text in column], dtype=object)
    if op in LIST_OPS:
        values = [_fold(str(item)) for item in rule.value]  # type: ignore[union-attr]
        found = np.isin(folded, np.array(values, dtype=object)) if values else np.zeros(len(column), dtype=np.bool_)
        return found if op == "in" else ~found
    target_text = _fold(str(rule.value))
    if op == "eq":
        return np.asarray(folded == target_text, dtype=np.bool_)
    if op == "ne":
        return np.asarray(folded != target_text, dtype=np.bool_)
    if op == "contains":
        if not target_text:
            return np.zeros(len(column), dtype=np.bool_)
        return np.fromiter((target_text in text for text in folded), dtype=np.bool_, count=len(column))
    raise ValueError(f"unknown operator {op!r}")


def attribute_points(rules: Sequence[AttributeRuleSpec], columns: Mapping[str, ObjectArray],
                     count: int) -> npt.NDArray[np.float64]:
    """Points of every rule for every lead: an (n × rules) matrix, 0 where the rule does not match.
    A field missing from `columns` is empty for every lead."""
    matrix = np.zeros((count, len(rules)), dtype=np.float64)
    empty = np.full(count, "", dtype=object)
    for index, rule in enumerate(rules):
        column = columns.get(rule.field, empty)
        matrix[:, index] = np.where(rule_mask(rule, column), float(rule.points), 0.0)
    return matrix
