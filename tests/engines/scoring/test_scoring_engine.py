"""The scoring engine: decay worked examples, attribute operators, weights and bands, explanations
that add up exactly to the score, determinism."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2c.engines.scoring import (
    AttributeRuleSpec,
    BehaviourEvent,
    EventKindRule,
    Feature,
    LeadColumns,
    LinearModel,
    ScoringConfig,
    Weights,
    band_of,
    behaviour_score,
    decayed_points,
    decayed_weights,
    field_text,
    largest_remainder,
    rule_matches,
    score_batch,
)
from l2c.engines.scoring.attributes import rule_mask

AS_OF = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


# --- behaviour decay: worked by hand ---------------------------------------------------------------
@pytest.mark.parametrize(("points", "half_life", "age_days", "expected"), [
    (10, 7, 0, 10.0),
    (10, 7, 7, 5.0),
    (10, 7, 14, 2.5),
    (10, 7, 21, 1.25),
    (20, 30, 60, 5.0),
    (8, 2, 6, 1.0),
    (10, 7, -1, 10.0),  # stamped after as-of: counts as new, never more
    (-10, 7, 7, -5.0),
])
def test_decayed_points_worked_examples(points: float, half_life: float, age_days: float, expected: float) -> None:
    assert decayed_points(points, age_days, half_life) == pytest.approx(expected, abs=1e-12)


def test_decayed_weights_sum_per_kind_and_ignore_unknown_kinds() -> None:
    kinds = {"form_fill": EventKindRule("form_fill", 20, 30), "page_view": EventKindRule("page_view", 1, 7)}
    events = [BehaviourEvent("form_fill", AS_OF - dt.timedelta(days=30)),
              BehaviourEvent("page_view", AS_OF), BehaviourEvent("page_view", AS_OF - dt.timedelta(days=7)),
              BehaviourEvent("unknown", AS_OF)]
    assert decayed_weights(events, kinds, AS_OF) == {"form_fill": pytest.approx(0.5), "page_view": pytest.approx(1.5)}


@pytest.mark.parametrize(("raw", "expected"), [(0, 0), (2.5, 3), (2.4999, 2), (99.6, 100), (250, 100), (-12, 0)])
def test_behaviour_score_is_half_up_and_capped(raw: float, expected: int) -> None:
    assert behaviour_score(raw) == expected


# --- attribute rules ---------------------------------------------------------------------------------
def rule(op: str, value: object = "", field: str = "industry", points: int = 10) -> AttributeRuleSpec:
    return AttributeRuleSpec(1, field, op, value, points)  # type: ignore[arg-type]


@pytest.mark.parametrize(("op", "value", "text", "expected"), [
    ("eq", "I", "I", True), ("eq", "i", " I ", True), ("eq", "I", "C", False),
    ("ne", "I", "C", True), ("ne", "I", "I", False),
    ("in", ("I", "C"), "C", True), ("in", ("I", "C"), "F", False),
    ("not_in", ("I", "C"), "F", True), ("not_in", ("I", "C"), "I", False),
    ("gt", 100, "150", True), ("gt", 100, "100", False), ("gte", 100, "100", True),
    ("lt", 100, "99.5", True), ("lte", 100, "100", True), ("lt", 100, "abc", False), ("gt", 0, "", False),
    ("contains", "总", "销售总监", True), ("contains", "CTO", "cto", True), ("contains", "采购", "经理", False),
    ("contains", "", "anything", False),
    ("is_empty", "", "", True), ("is_empty", "", "  ", True), ("is_empty", "", "x", False),
    ("is_not_empty", "", "x", True), ("is_not_empty", "", "", False),
])
def test_rule_operators(op: str, value: object, text: str, expected: bool) -> None:
    spec = rule(op, value)
    assert rule_matches(spec, text) is expected
    assert rule_mask(spec, np.array([text], dtype=object)).tolist() == [expected]


@pytest.mark.parametrize(("value", "text"), [(None, ""), (True, "true"), (False, "false"), (5, "5"), (5.0, "5"),
                                             (5.5, "5.5"), ("a", "a"), (["x", 1], '["x",1]')])
def test_field_text_of_custom_values(value: object, text: str) -> None:
    assert field_text(value) == text


# --- weights, bands, combination ---------------------------------------------------------------------
@pytest.mark.parametrize(("score", "band"), [(100, "A"), (75, "A"), (74, "B"), (50, "B"), (49, "C"), (25, "C"),
                                             (24, "D"), (0, "D")])
def test_bands(score: int, band: str) -> None:
    assert band_of(score) == band


@pytest.mark.parametrize("values", [(4000, 3000, 2000), (-1, 6000, 5000), (0, 0, 10000)])
def test_invalid_weights_are_rejected(values: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        Weights(*values)


KINDS = (EventKindRule("form_fill", 20, 30), EventKindRule("page_view", 2, 7), EventKindRule("email_open", 1, 14))
RULES = (AttributeRuleSpec(1, "industry", "eq", "I", 30),
         AttributeRuleSpec(2, "size", "in", ("large", "enterprise"), 25),
         AttributeRuleSpec(3, "title", "contains", "总", 20), AttributeRuleSpec(4, "custom.budget", "gte", 100, 15),
         AttributeRuleSpec(5, "email", "is_empty", "", -10))


def columns(rows: list[dict[str, str]], decayed: list[list[float]], recent: list[list[float]] | None = None,
            days: list[float] | None = None) -> LeadColumns:
    names = {"industry", "size", "title", "custom.budget", "email", "source", "province", "mobile"}
    fields = {name: np.array([row.get(name, "") for row in rows], dtype=object) for name in names}
    count = len(rows)
    return LeadColumns(count, fields, np.array(decayed, dtype=np.float64).reshape(count, len(KINDS)),
                       np.array(recent or [[0.0] * len(KINDS)] * count, dtype=np.float64),
                       np.array(days if days is not None else [math.nan] * count, dtype=np.float64))


def test_combined_score_worked_example_without_model() -> None:
    # behaviour: 20×1 + 2×2.5 + 1×0 = 25; attribute: 30 + 20 = 50 (email filled: no −10);
    # weights 40/30 re-normalised without a model: (0.4·25 + 0.3·50) / 0.7 = 35.71… → 36, band C.
    config = ScoringConfig(KINDS, RULES, None, Weights())
    batch = score_batch(config, columns([{"industry": "I", "title": "销售总监", "email": "a@b.cn"}], [[1.0, 2.5, 0.0]]))
    lead = batch.lead(0)
    assert (lead.behaviour, lead.attribute, lead.predicted, lead.score, lead.band) == (25, 50, None, 36, "C")
    parts = lead.explanation["parts"]
    assert parts["behaviour"]["items"] == [["form_fill", 11], ["page_view", 3]]
    assert parts["attribute"]["items"] == [["r1", 13], ["r3", 9]]
    assert parts["behaviour"]["points"] + parts["attribute"]["points"] == 36
    assert "predicted" not in parts


def test_attribute_sum_is_clamped_and_negative_rules_subtract() -> None:
    config = ScoringConfig(KINDS, RULES, None, Weights(0, 10000, 0))
    batch = score_batch(config, columns([
        {"industry": "I", "size": "large", "title": "总经理", "custom.budget": "150", "email": "x@y.cn"},  # 90
        {"industry": "C"},  # −10 → 0
        {"industry": "I", "size": "enterprise", "title": "总裁", "custom.budget": "1000", "email": ""},  # 80
    ], [[0, 0, 0]] * 3))
    assert batch.attribute.tolist() == [90, 0, 80]
    assert batch.score.tolist() == [90, 0, 80]
    assert batch.lead(2).explanation["parts"]["attribute"]["items"] == [
        ["r1", 30], ["r2", 25], ["r3", 20], ["other", 5]]


def model() -> LinearModel:
    features = (Feature("source=website", "category", "source", "website"), Feature("has:mobile", "has", "mobile"),
                Feature("recent:form_fill", "recent", "form_fill"), Feature("recency", "recency"),
                Feature("no_events", "no_events"))
    return LinearModel(7, features, (1.2, 0.8, 0.9, -1.5, -0.4), -1.0, (0.3, 0.5, 0.2, 0.8, 0.6))


def test_predicted_part_and_weights_with_model() -> None:
    config = ScoringConfig(KINDS, RULES, model(), Weights())
    batch = score_batch(config, columns([{"source": "website", "mobile": "138", "industry": "I"}],
                                        [[1.0, 0.0, 0.0]], recent=[[2.0, 0.0, 0.0]], days=[3.0]))
    lead = batch.lead(0)
    z = -1.0 + 1.2 + 0.8 + 0.9 * math.log1p(2.0) - 1.5 * 3 / 365
    assert lead.predicted == math.floor(100 / (1 + math.exp(-z)) + 0.5)
    assert lead.score == (4000 * lead.behaviour + 3000 * lead.attribute + 3000 * lead.predicted + 5000) // 10000
    items = lead.explanation["parts"]["predicted"]["items"]
    assert items[0][0] == "baseline"
    assert lead.explanation["model"] == 7
    assert sum(part["points"] for part in lead.explanation["parts"].values()) == lead.score


# --- largest remainder and the explanation invariant --------------------------------------------------
def test_largest_remainder_ties_go_to_the_earlier_column() -> None:
    values = np.array([[1 / 3, 1 / 3, 1 / 3], [2.5, 2.5, 0.0]])
    assert largest_remainder(values, np.array([1, 5])).tolist() == [[1, 0, 0], [3, 2, 0]]


texts = st.sampled_from(["", "I", "C", "F", "large", "small", "销售总监", "总经理", "工程师", "150", "99", "x@y.cn"])


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.fixed_dictionaries({"industry": texts, "size": texts, "title": texts, "custom.budget": texts,
                                         "email": texts, "source": st.sampled_from(["", "website", "referral"]),
                                         "mobile": texts}), min_size=1, max_size=8),
    decay=st.lists(st.lists(st.floats(0, 6, allow_nan=False), min_size=3, max_size=3), min_size=8, max_size=8),
    weights=st.sampled_from([(4000, 3000, 3000), (5000, 5000, 0), (1000, 0, 9000), (3333, 3333, 3334),
                             (0, 2500, 7500)]),
    with_model=st.booleans(),
    days=st.lists(st.one_of(st.just(math.nan), st.floats(0, 400)), min_size=8, max_size=8),
)
def test_explanation_contributions_add_up_to_the_score(rows: list[dict[str, str]], decay: list[list[float]],
                                                       weights: tuple[int, int, int], with_model: bool,
                                                       days: list[float]) -> None:
    count = len(rows)
    config = ScoringConfig(KINDS, RULES, model() if with_model else None, Weights(*weights), top_items=2)
    leads = columns(rows, decay[:count], recent=[[value * 2 for value in row] for row in decay[:count]],
                    days=days[:count])
    batch = score_batch(config, leads)
    for index, explanation in enumerate(batch.explanations()):
        parts = explanation["parts"]
        assert sum(part["points"] for part in parts.values()) == batch.score[index]
        for part in parts.values():
            assert sum(value for _code, value in part["items"]) == part["points"]
            assert all(value != 0 for _code, value in part["items"])
        assert 0 <= batch.score[index] <= 100
        assert batch.bands[index] == band_of(int(batch.score[index]))
    # Determinism: the same inputs give the same scores and explanations, alone or in a batch.
    again = score_batch(config, leads)
    assert again.score.tolist() == batch.score.tolist()
    assert again.explanations() == batch.explanations()
    single = score_batch(config, columns(rows[:1], decay[:1], recent=[[value * 2 for value in decay[0]]],
                                         days=days[:1]))
    assert single.lead(0) == batch.lead(0)


def test_linear_model_json_round_trip() -> None:
    original = model()
    assert LinearModel.from_json(7, original.to_json()) == original
    with pytest.raises(ValueError):
        LinearModel.from_json(7, {**original.to_json(), "encoding": 99})


def test_digest_inputs_match_the_per_event_reference() -> None:
    import datetime as dt

    import numpy as np

    from l2c.engines.scoring import BehaviourEvent, EventKindRule, decayed_weights, digest_inputs, digest_pack, micros

    as_of = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
    kinds = (EventKindRule("form_fill", 20, 30), EventKindRule("page_view", 1, 7))
    rules = {kind.kind: kind for kind in kinds}
    leads = [
        [("form_fill", 30.0), ("page_view", 7.0), ("page_view", 100.0), ("unknown", 1.0)],
        [],
        [("page_view", -2 / 1440), ("page_view", -1.0)],  # 2 minutes ahead: age 0; a day ahead: not counted
        [("form_fill", 91.0), ("form_fill", 89.5)],
    ]
    digests = []
    for events in leads:
        digests.append(digest_pack([kind for kind, _days in events],
                                   [micros(as_of - dt.timedelta(days=days)) for _kind, days in events]))
    inputs = digest_inputs([*digests[:1], None, *digests[2:]], kinds, as_of)
    for index, events in enumerate(leads):
        counted = [BehaviourEvent(kind, as_of - dt.timedelta(days=days)) for kind, days in events
                   if days >= -5 / 1440]
        expected = decayed_weights(counted, rules, as_of)
        assert inputs.decayed[index].tolist() == pytest.approx([expected.get(kind.kind, 0.0) for kind in kinds],
                                                               abs=1e-12)
    assert inputs.recent_counts.tolist() == [[1, 1], [0, 0], [0, 1], [1, 0]]
    assert inputs.days_since_last[0] == 7.0 and np.isnan(inputs.days_since_last[1])
    assert inputs.days_since_last[2] == 0.0 and inputs.days_since_last[3] == 89.5
    # A limit (a converted lead's conversion time) leaves out later events.
    limited = digest_inputs(digests, kinds, as_of, limits=np.array([micros(as_of - dt.timedelta(days=10)), -1, -1, -1]))
    assert limited.decayed[0].tolist() == pytest.approx([0.5, 0.5 ** (100 / 7)], abs=1e-12)
