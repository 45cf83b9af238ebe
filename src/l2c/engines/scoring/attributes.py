"""Attribute fit (属性评分): admin rules `field op value → points` over lead fields, the ideal
customer profile. The score is the sum of the points of the matching rules, clamped to 0..100.

Field values are text ("" when empty; custom values normalised by `field_text`). Operators:
- eq, ne, in, not_in: text equality after trimming and lower-casing (`in` takes a list);
- contains: the value occurs in the field (lower-cased);
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
from numpy import strings
from numpy.dtypes import StringDType

OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "is_empty", "is_not_empty")
LIST_OPS = ("in", "not_in")
NUMBER_OPS = ("gt", "gte", "lt", "lte")
VALUELESS_OPS = ("is_empty", "is_not_empty")
MAX_ATTRIBUTE = 100

ObjectArray = npt.NDArray[np.object_]
BoolArray = npt.NDArray[np.bool_]
TEXT = StringDType()


def as_text(column: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A column of texts as a numpy variable-width string array (vectorised string operations)."""
    return column if column.dtype == TEXT else np.asarray(column, dtype=TEXT)


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
    return text.strip().lower()


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


def rule_mask(rule: AttributeRuleSpec, column: npt.NDArray[Any],
              cache: dict[str, npt.NDArray[Any]] | None = None) -> BoolArray:
    """The rule evaluated over a column of texts (one element per lead), with numpy string ufuncs.
    `cache` keeps the trimmed and lower-cased column between rules on the same field."""
    op = rule.op
    cache = {} if cache is None else cache
    text = cache.get("text")
    if text is None:
        text = cache["text"] = as_text(column)
    if op in VALUELESS_OPS:
        stripped = cache.get("stripped")
        if stripped is None:
            stripped = cache["stripped"] = strings.strip(text)
        blank = np.asarray(strings.str_len(stripped) == 0, dtype=np.bool_)
        return blank if op == "is_empty" else ~blank
    if op in NUMBER_OPS:
        numbers = np.fromiter((_number(str(value)) for value in text.tolist()), dtype=np.float64, count=len(text))
        target = float(rule.value)  # type: ignore[arg-type]
        with np.errstate(invalid="ignore"):
            if op == "gt":
                return numbers > target
            if op == "gte":
                return numbers >= target
            if op == "lt":
                return numbers < target
            return numbers <= target
    folded = cache.get("folded")
    if folded is None:
        stripped = cache.get("stripped")
        if stripped is None:
            stripped = cache["stripped"] = strings.strip(text)
        folded = cache["folded"] = strings.lower(stripped)
    if op in LIST_OPS:
        found = np.zeros(len(text), dtype=np.bool_)
        for value in {_fold(str(item)) for item in rule.value}:  # type: ignore[union-attr]
            found |= np.asarray(folded == value, dtype=np.bool_)
        return found if op == "in" else ~found
    target_text = _fold(str(rule.value))
    if op == "eq":
        return np.asarray(folded == target_text, dtype=np.bool_)
    if op == "ne":
        return np.asarray(folded != target_text, dtype=np.bool_)
    if op == "contains":
        if not target_text:
            return np.zeros(len(text), dtype=np.bool_)
        return np.asarray(strings.find(folded, target_text) >= 0, dtype=np.bool_)
    raise ValueError(f"unknown operator {op!r}")


Factors = dict[str, tuple[npt.NDArray[Any], npt.NDArray[np.intp]]]


def factorise(column: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
    """The distinct texts of a column (first-seen order) and each element's index among them: rules
    and features are evaluated once per distinct value (fields like industry or title repeat a lot)."""
    values = column.tolist()
    index = {value: position for position, value in enumerate(dict.fromkeys(values))}
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.intp, count=len(values))
    return np.array(list(index), dtype=TEXT), codes


def factor_of(factors: Factors | None, columns: Mapping[str, npt.NDArray[Any]], field: str, count: int
              ) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
    """The (cached) factorisation of a field; a field missing from `columns` is empty for every lead."""
    if factors is not None and field in factors:
        return factors[field]
    column = columns.get(field)
    factor = factorise(column) if column is not None else (np.array([""], dtype=TEXT),
                                                           np.zeros(count, dtype=np.intp))
    if factors is not None:
        factors[field] = factor
    return factor


def attribute_points(rules: Sequence[AttributeRuleSpec], columns: Mapping[str, ObjectArray],
                     count: int, factors: Factors | None = None) -> npt.NDArray[np.float64]:
    """Points of every rule for every lead: an (n × rules) matrix, 0 where the rule does not match.
    A field missing from `columns` is empty for every lead."""
    matrix = np.zeros((count, len(rules)), dtype=np.float64)
    factors = {} if factors is None else factors
    caches: dict[str, dict[str, npt.NDArray[Any]]] = {}
    for index, rule in enumerate(rules):
        uniques, inverse = factor_of(factors, columns, rule.field, count)
        mask = rule_mask(rule, uniques, caches.setdefault(rule.field, {}))
        matrix[:, index] = np.where(mask, float(rule.points), 0.0)[inverse]
    return matrix
