"""Behaviour points (行为积分): each event's points fade with a half-life; the sum is capped to 0–100.

An event of a kind worth `points`, `age_days` old, is worth `points × 0.5 ** (age_days / half_life_days)`
(10 points, half-life 7 days, 14 days old → 2.5). The behaviour score is the sum over all events of a
lead, clamped to 0..100 (`min(raw, 100)`, negative totals score 0): points are points, an admin reads
"a form fill is worth 20 of the 100".
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from .rounding import round_half_up

MAX_BEHAVIOUR = 100.0
# Events stamped slightly after as-of (clock skew of the sender) count as brand new, never as older.
SECONDS_PER_DAY = 86_400.0
MICROS_PER_DAY = 86_400_000_000
RECENT_WINDOW_DAYS = 90
# A lead's events packed for rescoring (the LeadBehaviour digest): per event the 64-bit key of its
# kind (`kind_key`) and its time in microseconds since 1970-01-01 UTC, in event id order.
DIGEST_DTYPE = np.dtype([("kind", "<i8"), ("at", "<i8")])
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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


@lru_cache(maxsize=1024)
def kind_key(kind: str) -> int:
    """A stable 64-bit key of a kind code (BLAKE2b): digests do not depend on database ids."""
    return int.from_bytes(hashlib.blake2b(kind.encode(), digest_size=8).digest(), "little", signed=True)


def micros(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)


def digest_pack(kinds: Sequence[str], at_micros: Sequence[int]) -> bytes:
    """The digest of events given as kind codes and times in microseconds (in event id order)."""
    packed = np.empty(len(kinds), dtype=DIGEST_DTYPE)
    packed["kind"] = [kind_key(kind) for kind in kinds]
    packed["at"] = np.asarray(at_micros, dtype=np.int64)
    return packed.tobytes()


@dataclass(frozen=True, eq=False)
class BehaviourInputs:
    """Behaviour aggregates of n leads at an as-of (what the scores read): Σ decay factors per kind
    (n × kinds, in config order), events per kind in the last 90 days (n × kinds) and days since
    the last counted event (NaN without events)."""

    decayed: FloatArray
    recent_counts: FloatArray
    days_since_last: FloatArray


def digest_inputs(digests: Sequence[bytes | memoryview | None], kinds: Sequence[EventKindRule], as_of: datetime,
                  *, tolerance: timedelta = timedelta(minutes=5),
                  limits: npt.NDArray[np.int64] | None = None) -> BehaviourInputs:
    """Aggregates of n leads from their digests, vectorised over all their events at once.

    Counted: events of the given kinds stamped no later than as-of + `tolerance` (and, when
    `limits` is given, no later than the lead's limit in microseconds — a converted lead's
    conversion time; −1 = no limit). Age in days = max(0, as-of − time); a kind's decay factor is
    0.5 ** (age / half-life); "recent" means age ≤ RECENT_WINDOW_DAYS."""
    count = len(digests)
    width = len(kinds)
    lengths = np.fromiter((0 if blob is None else len(blob) for blob in digests), dtype=np.int64, count=count)
    events = np.frombuffer(b"".join(blob for blob in digests if blob), dtype=DIGEST_DTYPE)
    owners = np.repeat(np.arange(count, dtype=np.int64), lengths // DIGEST_DTYPE.itemsize)
    decayed = np.zeros((count, width))
    recent = np.zeros((count, width))
    last = np.full(count, np.nan)
    if not len(events) or not width:
        return BehaviourInputs(decayed, recent, last)
    keys = np.asarray([kind_key(kind.kind) for kind in kinds], dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    found = np.minimum(np.searchsorted(sorted_keys, events["kind"]), width - 1)
    column = np.where(sorted_keys[found] == events["kind"], order[found], -1)
    at = events["at"]
    as_of_micros = micros(as_of)
    counted = (column >= 0) & (at <= as_of_micros + tolerance // timedelta(microseconds=1))
    if limits is not None:
        limit = limits[owners]
        counted &= (limit < 0) | (at <= limit)
    owners, column, at = owners[counted], column[counted], at[counted]
    age = np.maximum(as_of_micros - at, 0) / MICROS_PER_DAY
    half_lives = np.asarray([kind.half_life_days for kind in kinds], dtype=np.float64)
    if np.any(half_lives <= 0):
        raise ValueError("half_life_days must be positive")
    cell = owners * width + column
    sums = np.bincount(cell, weights=np.exp2(-age / half_lives[column]), minlength=count * width)
    counts = np.bincount(cell, weights=(age <= RECENT_WINDOW_DAYS).astype(np.float64), minlength=count * width)
    if len(age):
        np.fmin.at(last, owners, age)
    return BehaviourInputs(np.asarray(sums, dtype=np.float64).reshape(count, width),
                           np.asarray(counts, dtype=np.float64).reshape(count, width), last)
