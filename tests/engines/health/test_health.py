"""Deal health engine: dimension scores, the weighted index and red flags, computed by hand."""

from __future__ import annotations

import pytest

from l2c.engines.health import (
    DEFAULT_WEIGHTS,
    DIMENSIONS,
    ChainMember,
    HealthInput,
    HealthSettings,
    chain_gaps,
    chain_score,
    health,
    relationship_score,
)

EQUAL = HealthSettings(weights=dict.fromkeys(DIMENSIONS, 1))


def test_chain_score_by_hand() -> None:
    assert chain_score([]) == 0
    # decision maker 40 + supports 10 + champion 25 + technical 10 + high-influence supporter 5 = 90
    chain = [ChainMember("decision_maker", "supporter", "high"), ChainMember("champion", "supporter", "medium"),
             ChainMember("technical_evaluator")]
    assert chain_score(chain) == 90
    # coach instead of champion: 40 + 15 = 55; a high-influence opponent: −30 → 25; a medium one −10 → 15
    assert chain_score([ChainMember("decision_maker"), ChainMember("coach")]) == 55
    assert chain_score([ChainMember("decision_maker"), ChainMember("coach"),
                        ChainMember("user", "opponent", "high")]) == 25
    assert chain_score([ChainMember("decision_maker"), ChainMember("coach"), ChainMember("user", "opponent", "high"),
                        ChainMember("gatekeeper", "opponent", "medium"), ChainMember("user", "opponent", "low")]) == 15
    assert chain_score([ChainMember("influencer", "opponent", "high")]) == 0  # never below 0


def test_chain_gaps() -> None:
    assert chain_gaps([]) == ("no_decision_maker", "no_champion")
    assert chain_gaps([ChainMember("decision_maker"), ChainMember("champion"),
                       ChainMember("gatekeeper", "opponent", "high")]) == ("opponent_high_influence",)
    assert chain_gaps([ChainMember("decision_maker"), ChainMember("champion"),
                       ChainMember("gatekeeper", "opponent", "medium")]) == ()


@pytest.mark.parametrize(("days", "score"), [(None, 0), (0, 100), (7, 100), (8, 75), (14, 75), (30, 50), (60, 25),
                                             (61, 0)])
def test_relationship_from_days_since_activity(days: int | None, score: int) -> None:
    assert relationship_score(days) == score


def test_index_with_equal_weights_by_hand() -> None:
    facts = HealthInput(
        answers={"need": 4, "budget": 3, "competition": 2, "relationship": 4},
        chain=[ChainMember("decision_maker"), ChainMember("coach")],  # derived 55
        days_since_activity=10,  # derived relationship 75
        days_in_stage=5, stage_norm_days=30, days_to_close=20,  # timing 100
    )
    result = health(facts, EQUAL)
    by_name = {item.dimension: item for item in result.dimensions}
    assert [(item.dimension, item.score, item.source) for item in result.dimensions] == [
        ("need", 100, "answer"), ("budget", 75, "answer"), ("decision_chain", 55, "derived"),
        ("competition", 50, "answer"), ("value", 0, "none"),
        ("relationship", 88, "both"),  # (100 + 75) / 2 = 87.5 → 88 half up
        ("timing", 100, "derived"), ("solution_fit", 0, "none"), ("commercial_terms", 0, "none"),
    ]
    # (100 + 75 + 55 + 50 + 0 + 88 + 100 + 0 + 0) / 9 = 468 / 9 = 52.0
    assert result.index == 52
    assert by_name["need"].contribution == 11.1
    assert result.flags == ("no_champion",)


def test_weights_drive_the_index_and_a_zero_weight_drops_a_dimension() -> None:
    facts = HealthInput(answers={"need": 4, "budget": 0}, days_since_activity=1)
    weights = dict.fromkeys(DIMENSIONS, 0) | {"need": 3, "budget": 1}
    # (100·3 + 0·1) / 4 = 75
    assert health(facts, HealthSettings(weights=weights)).index == 75
    assert health(facts, HealthSettings(weights=dict.fromkeys(DIMENSIONS, 0))).index == 0


def test_time_driven_flags_and_timing() -> None:
    stalled = HealthInput(answers={}, chain=[ChainMember("decision_maker"), ChainMember("champion")],
                          days_since_activity=15, days_in_stage=31, stage_norm_days=30, days_to_close=3)
    result = health(stalled, HealthSettings(weights=DEFAULT_WEIGHTS, no_activity_days=14))
    assert result.flags == ("stalled", "no_activity")
    assert {item.dimension: item.score for item in result.dimensions}["timing"] == 25
    late = HealthInput(answers={}, days_since_activity=2, days_in_stage=1, stage_norm_days=30, days_to_close=-1)
    late_result = health(late, HealthSettings(weights=DEFAULT_WEIGHTS))
    assert late_result.flags == ("close_date_passed", "no_decision_maker", "no_champion")
    assert {item.dimension: item.score for item in late_result.dimensions}["timing"] == 0


def test_default_weights_index_by_hand() -> None:
    facts = HealthInput(answers=dict.fromkeys(DIMENSIONS, 4), chain=[
        ChainMember("decision_maker", "supporter", "high"), ChainMember("champion"),
        ChainMember("technical_evaluator"), ChainMember("business_evaluator")],  # chain 100
        days_since_activity=1, days_in_stage=1, stage_norm_days=10, days_to_close=10)
    result = health(facts, HealthSettings(weights=DEFAULT_WEIGHTS))
    assert result.index == 100
    assert sum(item.contribution for item in result.dimensions) == pytest.approx(100.0)
    assert result.flags == ()


def test_an_answer_outside_the_scale_is_refused() -> None:
    with pytest.raises(ValueError, match=r"must be 0\.\.4"):
        health(HealthInput(answers={"need": 5}), EQUAL)
