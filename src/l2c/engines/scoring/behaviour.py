"""Behaviour points (行为积分): each event's points fade with a half-life; the sum is capped to 0–100.

An event of a kind worth `points`, `age_days` old, is worth `points × 0.5 ** (age_days / half_life_days)`
(10 points, half-life 7 days, 14 days old → 2.5). The behaviour score is the sum over all events of a
lead, clamped to 0..100 (`min(raw, 100)`, negative totals score 0): points are points, an admin reads
"a form fill is worth 20 of the 100".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from .rounding import round_half_up

MAX_BEHAVIOUR = 100.0
# Events stamped slightly after as-of (clock skew of the sender) count as brand new, never as older.
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class EventKindRule:
    """Points of one behaviour kind and their half-life in days (> 0)."""

    kind: str
    points: float
    half_life_days: float
    label: str = ""


@dataclass(frozen=True)
class BehaviourEvent:
    kind: str
    occurred_at: datetime


def decay_factor(age_days: float, half_life_days: float) -> float:
    """0.5 ** (age / half-life); an age below 0 (an event stamped after as-of) counts as 0."""
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    return math.pow(0.5, max(0.0, age_days) / half_life_days)


def decayed_points(points: float, age_days: float, half_life_days: float) -> float:
    return points * decay_factor(age_days, half_life_days)


def decayed_weights(events: Iterable[BehaviourEvent], kinds: Mapping[str, EventKindRule],
                    as_of: datetime) -> dict[str, float]:
    """Σ 0.5 ** (age / half-life) per kind (points not yet applied): what the database computes in
    one grouped query for the bulk path. Events of unknown kinds are ignored."""
    weights: dict[str, float] = {}
    for event in events:
        rule = kinds.get(event.kind)
        if rule is None:
            continue
        age = (as_of - event.occurred_at).total_seconds() / SECONDS_PER_DAY
        weights[event.kind] = weights.get(event.kind, 0.0) + decay_factor(age, rule.half_life_days)
    return weights


def behaviour_raw(weights: Mapping[str, float], kinds: Mapping[str, EventKindRule]) -> dict[str, float]:
    """Decayed points per kind: points × Σ decay factors."""
    return {kind: kinds[kind].points * weight for kind, weight in weights.items() if kind in kinds}


def behaviour_score(raw_total: float) -> int:
    """The 0..100 behaviour score of a raw total of decayed points (half-up, clamped)."""
    return int(round_half_up(min(max(raw_total, 0.0), MAX_BEHAVIOUR)))
