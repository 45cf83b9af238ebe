"""Deal health (商机健康度): nine dimensions, an index 0–100, red flags. Pure and explained.

Each dimension scores 0–100. The rep answers any dimension on a five-step scale (0 unknown, 1 weak,
2 partial, 3 good, 4 strong → 0/25/50/75/100); three dimensions are also *derived* from facts:
- decision_chain from the contact roles on the deal (see `chain_score`),
- relationship from the days since the last activity (≤ 7 → 100, ≤ 14 → 75, ≤ 30 → 50, ≤ 60 → 25,
  else or never → 0),
- timing from the calendar (close date passed → 0, stalled in the stage → 25, else 100).
When both exist the dimension is their mean (half up); one alone counts as it is; neither → 0
("unknown" is a risk, not a neutral). The index is the weighted mean of the dimension scores,
half up; each dimension's contribution (weight × score / total weight) is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DIMENSIONS = ("need", "budget", "decision_chain", "competition", "value", "relationship", "timing",
              "solution_fit", "commercial_terms")
ANSWER_SCORES = (0, 25, 50, 75, 100)  # index = the rep's answer 0..4
DERIVED = ("decision_chain", "relationship", "timing")

# Decision-chain roles and the facts about them.
ROLES = ("decision_maker", "technical_evaluator", "business_evaluator", "user", "influencer", "gatekeeper",
         "champion", "coach")
SUPPORTER, NEUTRAL, OPPONENT = "supporter", "neutral", "opponent"
HIGH, MEDIUM, LOW = "high", "medium", "low"

# Red flags, in display order.
FLAGS = ("close_date_passed", "stalled", "no_activity", "no_decision_maker", "no_champion",
         "opponent_high_influence")


@dataclass(frozen=True)
class ChainMember:
    role: str
    attitude: str = NEUTRAL
    influence: str = MEDIUM


@dataclass(frozen=True)
class HealthInput:
    """Everything the health of one deal depends on. `days_since_activity` None: no activity ever;
    `stage_norm_days` None: the stage has no norm (never stalled); `days_to_close` negative: the
    expected close date has passed (None: no date)."""

    answers: Mapping[str, int]
    chain: Sequence[ChainMember] = ()
    days_since_activity: int | None = None
    days_in_stage: int = 0
    stage_norm_days: int | None = None
    days_to_close: int | None = None


@dataclass(frozen=True)
class HealthSettings:
    """Weights per dimension (0 leaves it out) and the no-activity threshold of the red flag."""

    weights: Mapping[str, int]
    no_activity_days: int = 14


DEFAULT_WEIGHTS: Mapping[str, int] = {
    "need": 15, "budget": 15, "decision_chain": 15, "competition": 10, "value": 10, "relationship": 10,
    "timing": 10, "solution_fit": 10, "commercial_terms": 5,
}


@dataclass(frozen=True)
class DimensionScore:
    dimension: str
    score: int
    source: str  # answer, derived, both, none
    answer_score: int | None
    derived_score: int | None
    weight: int
    contribution: float  # points of the index this dimension brings (weight × score / total weight)


@dataclass(frozen=True)
class Health:
    index: int
    dimensions: tuple[DimensionScore, ...]
    flags: tuple[str, ...]


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def chain_score(chain: Sequence[ChainMember]) -> int:
    """Coverage of the decision chain, 0–100: a decision maker +40 (+10 more if one supports), a
    champion +25 (else a coach +15), a technical evaluator +10, a business evaluator +10, a
    supporter with high influence +5; each opponent with high influence −30, with medium −10."""
    roles = {member.role for member in chain}
    score = 0
    if "decision_maker" in roles:
        score += 40
        if any(member.role == "decision_maker" and member.attitude == SUPPORTER for member in chain):
            score += 10
    if "champion" in roles:
        score += 25
    elif "coach" in roles:
        score += 15
    score += 10 * ("technical_evaluator" in roles) + 10 * ("business_evaluator" in roles)
    if any(member.attitude == SUPPORTER and member.influence == HIGH for member in chain):
        score += 5
    for member in chain:
        if member.attitude == OPPONENT:
            score -= 30 if member.influence == HIGH else 10 if member.influence == MEDIUM else 0
    return max(0, min(100, score))


def chain_gaps(chain: Sequence[ChainMember]) -> tuple[str, ...]:
    """Coverage gaps of a decision chain, in FLAGS order."""
    roles = {member.role for member in chain}
    gaps = []
    if "decision_maker" not in roles:
        gaps.append("no_decision_maker")
    if "champion" not in roles:
        gaps.append("no_champion")
    if any(member.attitude == OPPONENT and member.influence == HIGH for member in chain):
        gaps.append("opponent_high_influence")
    return tuple(gaps)


def relationship_score(days_since_activity: int | None) -> int:
    if days_since_activity is None:
        return 0
    for limit, score in ((7, 100), (14, 75), (30, 50), (60, 25)):
        if days_since_activity <= limit:
            return score
    return 0


def is_stalled(facts: HealthInput) -> bool:
    return facts.stage_norm_days is not None and facts.days_in_stage > facts.stage_norm_days


def timing_score(facts: HealthInput) -> int:
    if facts.days_to_close is not None and facts.days_to_close < 0:
        return 0
    return 25 if is_stalled(facts) else 100


def red_flags(facts: HealthInput, settings: HealthSettings) -> tuple[str, ...]:
    raised = set(chain_gaps(facts.chain))
    if facts.days_to_close is not None and facts.days_to_close < 0:
        raised.add("close_date_passed")
    if is_stalled(facts):
        raised.add("stalled")
    if facts.days_since_activity is None or facts.days_since_activity > settings.no_activity_days:
        raised.add("no_activity")
    return tuple(flag for flag in FLAGS if flag in raised)


def _derived(dimension: str, facts: HealthInput) -> int | None:
    if dimension == "decision_chain":
        return chain_score(facts.chain)
    if dimension == "relationship":
        return relationship_score(facts.days_since_activity)
    if dimension == "timing":
        return timing_score(facts)
    return None


def answer_score(answer: int) -> int:
    """The score of a rep's answer 0..4; anything else is a caller error."""
    if not 0 <= answer < len(ANSWER_SCORES):
        raise ValueError(f"answer must be 0..4, got {answer}")
    return ANSWER_SCORES[answer]


def health(facts: HealthInput, settings: HealthSettings) -> Health:
    """The health of one deal: every dimension explained, the index and the red flags."""
    total_weight = sum(max(0, settings.weights.get(dimension, 0)) for dimension in DIMENSIONS)
    scored: list[tuple[str, int, str, int | None, int | None, int]] = []
    for dimension in DIMENSIONS:
        answer = facts.answers.get(dimension)
        given = answer_score(answer) if answer is not None else None
        derived = _derived(dimension, facts)
        if given is not None and derived is not None:
            score, source = _half_up(given + derived, 2), "both"
        elif given is not None:
            score, source = given, "answer"
        elif derived is not None:
            score, source = derived, "derived"
        else:
            score, source = 0, "none"
        scored.append((dimension, score, source, given, derived, max(0, settings.weights.get(dimension, 0))))
    weighted = sum(score * weight for _d, score, _s, _g, _v, weight in scored)
    index = _half_up(weighted, total_weight) if total_weight else 0
    dimensions = tuple(
        DimensionScore(dimension, score, source, given, derived, weight,
                       round(score * weight / total_weight, 1) if total_weight else 0.0)
        for dimension, score, source, given, derived, weight in scored)
    return Health(index=index, dimensions=dimensions, flags=red_flags(facts, settings))
