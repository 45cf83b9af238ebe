"""Routing engine (线索分配): condition validation and evaluation, first match, round robin, least loaded."""

from __future__ import annotations

import pytest

from l2c.engines.routing import (
    Condition,
    FieldSpec,
    Rule,
    condition_holds,
    first_match,
    least_loaded,
    parse_conditions,
    round_robin,
    round_robin_capped,
)

CATALOGUE = {
    "score_band": FieldSpec("text", frozenset("ABCD")),
    "province": FieldSpec("text"),
    "score": FieldSpec("number"),
}
LEAD = {"score_band": "A", "province": "上海", "score": 82, "company": "", "custom.region": "north",
        "custom.employees": "250"}


@pytest.mark.parametrize(("field", "op", "value", "expected"), [
    ("score_band", "eq", "A", True),
    ("score_band", "eq", "a", True),  # case-insensitive
    ("score_band", "ne", "A", False),
    ("province", "in", ["上海", "江苏", "浙江"], True),
    ("province", "not_in", ["上海", "江苏"], False),
    ("province", "contains", "上", True),
    ("score", "gt", 82, False),
    ("score", "gte", 82, True),
    ("score", "lt", 90, True),
    ("score", "lte", 81.5, False),
    ("score", "eq", 82, True),
    ("company", "is_empty", None, True),
    ("company", "is_not_empty", None, False),
    ("missing", "is_empty", None, True),
    ("missing", "eq", "x", False),
    ("missing", "gt", 1, False),  # an empty value never satisfies an order comparison
    ("custom.region", "eq", "North", True),
    ("custom.employees", "gte", 200, True),  # numeric text compares as a number
    ("custom.region", "gt", 1, False),  # non-numeric text never satisfies an order comparison
])
def test_condition_holds(field, op, value, expected):
    value = tuple(value) if isinstance(value, list) else value
    assert condition_holds(Condition(field, op, value), LEAD) is expected


@pytest.mark.parametrize(("raw", "code", "detail"), [
    ("not a list", "bad_shape", "list"),
    ([{"field": "score_band"}], "bad_shape", "shape"),
    ([{"field": "nope", "op": "eq", "value": 1}], "unknown_field", ""),
    ([{"field": "custom.bad key", "op": "eq", "value": 1}], "unknown_field", ""),
    ([{"field": "score", "op": "like", "value": 1}], "bad_op", "unknown"),
    ([{"field": "province", "op": "gt", "value": 1}], "bad_op", "order_on_text"),
    ([{"field": "score", "op": "contains", "value": "8"}], "bad_op", "contains_on_number"),
    ([{"field": "score", "op": "eq", "value": "high"}], "bad_value", "number"),
    ([{"field": "score", "op": "gt", "value": True}], "bad_value", "number"),
    ([{"field": "score_band", "op": "eq", "value": "E"}], "bad_value", "choice"),
    ([{"field": "score_band", "op": "in", "value": []}], "bad_value", "list"),
    ([{"field": "score_band", "op": "in", "value": "A"}], "bad_value", "list"),
    ([{"field": "province", "op": "eq", "value": ["上海"]}], "bad_value", "scalar"),
    ([{"field": "province", "op": "contains", "value": "  "}], "bad_value", "text"),
    ([{"field": "province", "op": "eq", "value": "长" * 201}], "bad_value", "too_long"),
    # Numbers a float cannot hold, that JSON cannot carry, or that compare inexactly; control characters.
    ([{"field": "score", "op": "gt", "value": int("9" * 400)}], "bad_value", "range"),
    ([{"field": "score", "op": "gt", "value": 10**15 + 1}], "bad_value", "range"),
    ([{"field": "score", "op": "lt", "value": -1e16}], "bad_value", "range"),
    ([{"field": "score", "op": "eq", "value": float("nan")}], "bad_value", "not_finite"),
    ([{"field": "score", "op": "gte", "value": float("inf")}], "bad_value", "not_finite"),
    ([{"field": "score", "op": "in", "value": [1, float("-inf")]}], "bad_value", "not_finite"),
    ([{"field": "custom.size", "op": "eq", "value": int("9" * 400)}], "bad_value", "range"),
    ([{"field": "province", "op": "in", "value": ["上海", 10**16]}], "bad_value", "range"),
    ([{"field": "province", "op": "eq", "value": "上\x00海"}], "bad_value", "control"),
    ([{"field": "province", "op": "contains", "value": "a\x1fb"}], "bad_value", "control"),
    ([{"field": "custom.tag", "op": "in", "value": ["ok", "\ud800"]}], "bad_value", "control"),
])
def test_parse_conditions_reports_the_specific_problem(raw, code, detail):
    conditions, problems = parse_conditions(raw, CATALOGUE)

    assert conditions == () or problems
    assert [(p.code, p.detail) for p in problems] == [(code, detail)]


def test_parse_conditions_reports_every_bad_condition_with_its_index():
    raw = [{"field": "score_band", "op": "eq", "value": "A"}, {"field": "nope", "op": "eq", "value": 1},
           {"field": "score", "op": "gt", "value": "x"}]

    conditions, problems = parse_conditions(raw, CATALOGUE)

    assert [(p.index, p.field, p.code) for p in problems] == [(1, "nope", "unknown_field"), (2, "score", "bad_value")]
    assert conditions == (Condition("score_band", "eq", "A"),)


def test_numbers_up_to_the_limit_are_accepted():
    raw = [{"field": "score", "op": "lte", "value": 10**15}, {"field": "score", "op": "gt", "value": -1e15},
           {"field": "province", "op": "eq", "value": "上海 浦东"}]

    conditions, problems = parse_conditions(raw, CATALOGUE)

    assert problems == []
    assert [c.value for c in conditions] == [10**15, -1e15, "上海 浦东"]


@pytest.mark.parametrize("actual", [int("9" * 400), "9" * 400, "1e999", "nan", "inf", float("nan"), float("inf"),
                                    object(), b"12", [1], {"a": 1}])
@pytest.mark.parametrize("op", ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains"])
def test_condition_holds_never_raises_on_any_record_value(op, actual):
    value = (5, "x") if op in ("in", "not_in") else "9" if op == "contains" else 5
    result = condition_holds(Condition("custom.v", op, value), {"custom.v": actual})

    assert isinstance(result, bool)
    if op in ("gt", "gte", "lt", "lte", "eq"):
        assert result is False  # a value that is no finite number satisfies no number comparison


@pytest.mark.parametrize("condition", [
    Condition("score", "gt", int("9" * 400)),  # a rule stored before the limits (OverflowError before)
    Condition("score", "eq", int("9" * 400)),
    Condition("score", "in", 5),  # malformed: a list operator without a list
    Condition("score", "gt", "5"),  # an order operator with text
    Condition("score", "between", 5),
])
def test_condition_holds_is_false_for_a_condition_that_cannot_be_evaluated(condition):
    assert condition_holds(condition, {"score": 10**20}) is False
    assert first_match([Rule(1, (condition,)), Rule(2, ())], {"score": 7}) == 2


def test_parse_conditions_accepts_valid_rules_and_drops_values_of_emptiness_tests():
    raw = [{"field": "province", "op": "in", "value": ["上海", "江苏"]},
           {"field": "custom.tier", "op": "is_empty", "value": "ignored"}]

    conditions, problems = parse_conditions(raw, CATALOGUE)

    assert problems == []
    assert conditions == (Condition("province", "in", ("上海", "江苏")), Condition("custom.tier", "is_empty", None))


def test_first_match_takes_the_first_rule_in_order_and_an_empty_rule_catches_all():
    rules = [Rule(1, (Condition("score_band", "eq", "B"),)), Rule(2, (Condition("province", "eq", "上海"),)),
             Rule(3, ())]

    assert first_match(rules, LEAD) == 2
    assert first_match(rules, {"score_band": "D"}) == 3
    assert first_match(rules[:2], {"score_band": "D"}) is None


def test_round_robin_continues_from_the_cursor_and_wraps():
    assert round_robin([11, 12, 13], 0, 4) == [11, 12, 13, 11]
    assert round_robin([11, 12, 13], 4, 3) == [12, 13, 11]
    assert round_robin([], 0, 3) == []
    assert round_robin([11], 7, 0) == []


def test_round_robin_capped_passes_a_full_candidates_turn_to_the_next():
    # 12 has room for one more, 13 none, 11 no limit: turns continue from the cursor.
    assert round_robin_capped([11, 12, 13], 1, 4, {12: 1, 13: 0}) == ([12, 11, 11, 11], 9)
    assert round_robin_capped([11, 12], 0, 5, {11: 1, 12: 2}) == ([11, 12, 12], 4)  # everybody full: 3 of 5
    assert round_robin_capped([11, 12], 0, 3, {11: 0, 12: 0}) == ([], 0)
    assert round_robin_capped([11, 12, 13], 4, 3, {}) == (round_robin([11, 12, 13], 4, 3), 3)


def test_least_loaded_respects_room_and_stops_when_everybody_is_full():
    assert least_loaded({10: 0, 20: 5}, 4, {10: 2}) == [10, 10, 20, 20]
    assert least_loaded({10: 0, 20: 0}, 5, {10: 1, 20: 2}) == [10, 20, 20]
    assert least_loaded({10: 0}, 2, {10: 0}) == []


def test_least_loaded_fills_the_lightest_first_with_ties_by_user_id():
    assert least_loaded({30: 2, 10: 0, 20: 0}, 5) == [10, 20, 10, 20, 10]
    assert least_loaded({5: 1, 4: 1}, 1) == [4]
    assert least_loaded({}, 3) == []
