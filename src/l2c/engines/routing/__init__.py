"""Lead routing (线索分配): condition evaluation of assignment rules and the choice of assignee.
Pure and deterministic: no Django, no clock, no I/O.

A rule's conditions are a list of {"field", "op", "value"}; all must hold (AND). The first rule (in
the order given) whose conditions all hold takes the record. `parse_conditions` validates raw JSON
against a field catalogue and reports every problem with its index and a stable code:
unknown_field, bad_op, bad_value, bad_shape. Numbers in conditions are finite and within
±MAX_NUMBER (1e15); texts hold no control characters: a stored rule is always valid JSON on every
database and can always be evaluated.

Semantics (a missing field reads as empty):
- eq / ne / in / not_in compare text case-insensitively after trimming, numbers numerically;
- contains: case-insensitive substring of the text;
- gt / gte / lt / lte: numbers only; an empty or non-numeric value never satisfies them;
- is_empty / is_not_empty: None, "" (after trimming), [] and {} are empty; they take no value.
Evaluation is total: `condition_holds` never raises; a condition that cannot be evaluated (a value
that is no finite number, a malformed condition) does not hold.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["text", "number", "any"]
Scalar = str | int | float | bool | None
Value = Scalar | tuple[Scalar, ...]

OPERATORS: tuple[str, ...] = ("eq", "ne", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "is_empty",
                              "is_not_empty")
LIST_OPERATORS = frozenset({"in", "not_in"})
ORDER_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
EMPTINESS_OPERATORS = frozenset({"is_empty", "is_not_empty"})
MAX_CONDITIONS = 50
MAX_LIST_VALUES = 500
MAX_TEXT = 200
MAX_NUMBER = 10**15
CUSTOM_PREFIX = "custom."
_CUSTOM_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,50}$")


@dataclass(frozen=True)
class FieldSpec:
    """A field rules may test: its kind and, for a choice field, the allowed values."""

    kind: FieldKind = "text"
    choices: frozenset[str] | None = None


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Value = None


@dataclass(frozen=True)
class ConditionProblem:
    """One invalid condition: `index` is its 0-based position (-1: the list itself), `code` one of
    bad_shape, unknown_field, bad_op, bad_value and `detail` why, as a stable word: for bad_shape
    list / too_many / shape; for bad_op unknown / order_on_text / contains_on_number; for bad_value
    list / too_many / number / not_finite / range / text / scalar / too_long / control / choice."""

    index: int
    field: str
    code: str
    detail: str = ""
    op: str = ""


@dataclass(frozen=True)
class Rule:
    rule_id: int
    conditions: tuple[Condition, ...]


def field_spec(name: str, catalogue: Mapping[str, FieldSpec]) -> FieldSpec | None:
    """The spec of `name`: a catalogue field, or `custom.<key>` (any kind)."""
    if name in catalogue:
        return catalogue[name]
    if name.startswith(CUSTOM_PREFIX) and _CUSTOM_KEY.match(name[len(CUSTOM_PREFIX):]):
        return FieldSpec(kind="any")
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_number(value: int | float) -> str | None:
    """Why a number cannot be stored in a rule (None: it can): NaN and infinities have no JSON form,
    and magnitudes beyond MAX_NUMBER overflow float or cannot be compared exactly."""
    if isinstance(value, float) and not math.isfinite(value):
        return "not_finite"
    return "range" if abs(value) > MAX_NUMBER else None


def _check_text(value: str) -> str | None:
    """Why a text cannot be stored in a rule (None: it can): too long, or with a control character
    (NUL is refused by PostgreSQL's JSON) or a lone surrogate (not encodable)."""
    if len(value) > MAX_TEXT:
        return "too_long"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        return "control"
    return None


def _check_scalar(value: object, spec: FieldSpec) -> str | None:
    """Why `value` cannot be compared with a field of `spec` (None: it can)."""
    if spec.kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "number"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return "scalar"
    why = _check_text(value) if isinstance(value, str) else _check_number(value)
    if why or spec.kind == "number":
        return why
    if spec.choices is not None and str(value) not in spec.choices:
        return "choice"
    return None


def parse_conditions(raw: object, catalogue: Mapping[str, FieldSpec]) -> tuple[tuple[Condition, ...],
                                                                                 list[ConditionProblem]]:
    """Validate raw conditions; returns the parsed conditions and every problem found (the
    conditions are only usable when there are no problems). Callers word the problems in their own
    language from `code` and `detail`."""
    if not isinstance(raw, list):
        return (), [ConditionProblem(-1, "", "bad_shape", "list")]
    if len(raw) > MAX_CONDITIONS:
        return (), [ConditionProblem(-1, "", "bad_shape", "too_many")]
    parsed: list[Condition] = []
    problems: list[ConditionProblem] = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("field"), str) \
                or not isinstance(item.get("op"), str):
            problems.append(ConditionProblem(index, "", "bad_shape", "shape"))
            continue
        name, op, value = item["field"].strip(), item["op"].strip(), item.get("value")
        spec = field_spec(name, catalogue)
        if spec is None:
            problems.append(ConditionProblem(index, name, "unknown_field", "", op))
            continue
        if op not in OPERATORS:
            problems.append(ConditionProblem(index, name, "bad_op", "unknown", op))
            continue
        if op in ORDER_OPERATORS and spec.kind == "text":
            problems.append(ConditionProblem(index, name, "bad_op", "order_on_text", op))
            continue
        if op == "contains" and spec.kind == "number":
            problems.append(ConditionProblem(index, name, "bad_op", "contains_on_number", op))
            continue
        if op in EMPTINESS_OPERATORS:
            parsed.append(Condition(name, op, None))
            continue
        if op in LIST_OPERATORS:
            if not isinstance(value, list | tuple) or not value:
                problems.append(ConditionProblem(index, name, "bad_value", "list", op))
                continue
            if len(value) > MAX_LIST_VALUES:
                problems.append(ConditionProblem(index, name, "bad_value", "too_many", op))
                continue
            why = next((reason for reason in (_check_scalar(v, spec) for v in value) if reason), None)
            if why:
                problems.append(ConditionProblem(index, name, "bad_value", why, op))
                continue
            parsed.append(Condition(name, op, tuple(value)))
            continue
        if op in ORDER_OPERATORS and not _is_number(value):
            problems.append(ConditionProblem(index, name, "bad_value", "number", op))
            continue
        if op == "contains" and (not isinstance(value, str) or not value.strip()):
            problems.append(ConditionProblem(index, name, "bad_value", "text", op))
            continue
        why = _check_scalar(value, spec) if op != "contains" else (
            _check_text(value) if isinstance(value, str) else "text")
        if why:
            problems.append(ConditionProblem(index, name, "bad_value", why, op))
            continue
        assert isinstance(value, str | int | float)
        parsed.append(Condition(name, op, value))
    return tuple(parsed), problems


def _empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict | tuple):
        return not value
    return False


def _number(value: object) -> float | None:
    """`value` as a finite float, or None (not a number, not finite, too large for a float). Never
    raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 400:
            return None
        value = text
    elif not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str:
    return str(value).strip().casefold()


def _equal(actual: object, expected: object) -> bool:
    if _empty(actual):
        return _empty(expected)
    if _is_number(expected):
        number, bound = _number(actual), _number(expected)
        return number is not None and bound is not None and number == bound
    return _text(actual) == _text(expected)


def _holds(condition: Condition, record: Mapping[str, object]) -> bool:
    actual = record.get(condition.field)
    op, expected = condition.op, condition.value
    if op == "is_empty":
        return _empty(actual)
    if op == "is_not_empty":
        return not _empty(actual)
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    if op in LIST_OPERATORS:
        if not isinstance(expected, tuple | list):
            return False
        found = any(_equal(actual, option) for option in expected)
        return found if op == "in" else not found
    if op == "contains":
        return not _empty(actual) and not _empty(expected) and _text(expected) in str(actual).casefold()
    if op not in ORDER_OPERATORS or not _is_number(expected):
        return False
    number, bound = _number(actual), _number(expected)
    if number is None or bound is None:
        return False
    return {"gt": number > bound, "gte": number >= bound, "lt": number < bound, "lte": number <= bound}[op]


def condition_holds(condition: Condition, record: Mapping[str, object]) -> bool:
    """Whether the condition holds for the record. Total: a condition that cannot be evaluated (for
    whatever reason: a malformed condition, a value whose text or number form fails) is false."""
    try:
        return _holds(condition, record)
    except Exception:  # evaluation must never break a capture: "cannot tell" is "does not hold"
        return False


def rule_matches(rule: Rule, record: Mapping[str, object]) -> bool:
    return all(condition_holds(condition, record) for condition in rule.conditions)


def first_match(rules: Sequence[Rule], record: Mapping[str, object]) -> int | None:
    """The id of the first rule all of whose conditions hold (a rule without conditions always
    matches: a catch-all), or None."""
    for rule in rules:
        if rule_matches(rule, record):
            return rule.rule_id
    return None


def round_robin(candidates: Sequence[int], start: int, count: int) -> list[int]:
    """`count` assignees taken in turn from `candidates` (in the given order) beginning at position
    `start` (a cursor: the number of leads the rule handed out before)."""
    if not candidates or count <= 0:
        return []
    size = len(candidates)
    return [candidates[(start + offset) % size] for offset in range(count)]


def round_robin_capped(candidates: Sequence[int], start: int, count: int,
                       room: Mapping[int, int]) -> tuple[list[int], int]:
    """Round robin where a candidate listed in `room` takes at most that many more (absent: no
    limit); a full candidate's turn passes to the next. Returns the assignees (fewer than `count`
    when everybody is full: the rest has nobody) and the turns used (the cursor's advance)."""
    if not candidates or count <= 0:
        return [], 0
    left = {user_id: room[user_id] for user_id in candidates if user_id in room}
    unlimited = any(user_id not in room for user_id in candidates)
    size, position = len(candidates), start
    chosen: list[int] = []
    while len(chosen) < count and (unlimited or any(value > 0 for value in left.values())):
        user_id = candidates[position % size]
        position += 1
        if user_id in left:
            if left[user_id] <= 0:
                continue
            left[user_id] -= 1
        chosen.append(user_id)
    return chosen, position - start


def least_loaded(loads: Mapping[int, int], count: int, room: Mapping[int, int] | None = None) -> list[int]:
    """`count` assignees, each the candidate holding the fewest open leads at that moment (every
    assignment adds one to its assignee's load); ties go to the smaller user id. A candidate listed
    in `room` takes at most that many more; when every candidate is full the list is shorter."""
    if not loads or count <= 0:
        return []
    left = dict(room or {})
    heap = [(load, user_id) for user_id, load in loads.items() if left.get(user_id, 1) > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < count:
        load, user_id = heapq.heappop(heap)
        chosen.append(user_id)
        if user_id in left:
            left[user_id] -= 1
            if left[user_id] <= 0:
                continue
        heapq.heappush(heap, (load + 1, user_id))
    return chosen
