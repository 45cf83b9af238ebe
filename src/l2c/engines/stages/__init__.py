"""Stage gates of a sales process: what stops a deal from moving to another stage? Pure.

A process is an ordered list of open stages followed by one won and one lost stage. Each stage may
require fields to *enter* it, fields to *leave* it and tasks to be done before it is left. A move
returns every missing item at once (never just the first), so the rep sees the whole checklist:

- forward (to a later open stage, or to won): the exit fields and required tasks of the stage left
  and of every open stage passed over on the way, then the entry fields of the target;
- backward (to an earlier open stage): nothing — going back loses no information;
- to lost (from any stage, won included): a lost reason and the competitor who won, plus the lost
  stage's entry fields — a deal can be lost anywhere, so nothing of the stages passed over is asked;
- any other move out of won or lost (reopening): nothing here; the service decides who may reopen.

Field keys are opaque strings to the engine (`amount`, `close_date`, `contacts`, `cf.budget_owner`
…); the caller says which ones hold a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

OPEN = "open"
WON = "won"
LOST = "lost"
KINDS = (OPEN, WON, LOST)


@dataclass(frozen=True)
class StageSpec:
    """One stage as the gate reads it; `position` orders the open stages of a process."""

    stage_id: int
    position: int
    kind: str = OPEN
    entry_fields: tuple[str, ...] = ()
    exit_fields: tuple[str, ...] = ()
    required_tasks: tuple[int, ...] = ()


@dataclass(frozen=True)
class DealFacts:
    """What the deal holds: the field keys with a value and the ids of the tasks done."""

    filled: frozenset[str] = frozenset()
    done_tasks: frozenset[int] = frozenset()
    lost_reason: bool = False
    lost_competitor: bool = False


@dataclass(frozen=True)
class Missing:
    """One unmet requirement. `kind`: field, task, lost_reason or lost_competitor; `key`: the field
    key or the task id as text; `stage_id`: the stage whose requirement it is; `when`: exit or
    entry (lost_* items are entry requirements of the lost stage)."""

    kind: str
    key: str
    stage_id: int
    when: str


class GateError(ValueError):
    """The move itself is impossible (unknown stage, same stage) — not a missing requirement."""


def _ordered(stages: Sequence[StageSpec]) -> dict[int, StageSpec]:
    by_id = {stage.stage_id: stage for stage in stages}
    if len(by_id) != len(stages):
        raise GateError("duplicate stage id")
    return by_id


def passed_stages(stages: Sequence[StageSpec], source: StageSpec, target: StageSpec) -> list[StageSpec]:
    """The open stages a forward move leaves: the source and every open stage strictly between it and
    the target (all open stages after the source when the target is won), in process order."""
    if source.kind != OPEN:
        return []
    limit = target.position if target.kind == OPEN else None
    between = [stage for stage in stages if stage.kind == OPEN and stage.position > source.position
               and (limit is None or stage.position < limit)]
    return [source, *sorted(between, key=lambda stage: stage.position)]


def is_forward(source: StageSpec, target: StageSpec) -> bool:
    """Whether moving from `source` to `target` advances the deal (toward won)."""
    if source.kind != OPEN:
        return False
    return target.kind == WON or (target.kind == OPEN and target.position > source.position)


def gate(stages: Sequence[StageSpec], source_id: int, target_id: int, facts: DealFacts) -> tuple[Missing, ...]:
    """Every requirement the move from `source_id` to `target_id` still misses, in checklist order
    (stages in process order; per stage its fields, then its tasks; then the target's entry fields).
    An empty tuple means the move may proceed."""
    by_id = _ordered(stages)
    if source_id not in by_id or target_id not in by_id:
        raise GateError("unknown stage")
    if source_id == target_id:
        raise GateError("same stage")
    source, target = by_id[source_id], by_id[target_id]
    missing: list[Missing] = []
    seen: set[tuple[str, str]] = set()

    def need(kind: str, key: str, stage: StageSpec, when: str) -> None:
        # A field asked by two stages is listed once, under the first stage that asks it.
        if (kind, key) in seen:
            return
        seen.add((kind, key))
        missing.append(Missing(kind, key, stage.stage_id, when))

    if target.kind == LOST:
        if source.kind == LOST:
            return ()
        if not facts.lost_reason:
            need("lost_reason", "lost_reason", target, "entry")
        if not facts.lost_competitor:
            need("lost_competitor", "lost_competitor", target, "entry")
    elif is_forward(source, target):
        for stage in passed_stages(stages, source, target):
            for field in stage.exit_fields:
                if field not in facts.filled:
                    need("field", field, stage, "exit")
            for task in stage.required_tasks:
                if task not in facts.done_tasks:
                    need("task", str(task), stage, "exit")
    else:
        return ()  # backward, or reopening a closed deal
    for field in target.entry_fields:
        if field not in facts.filled:
            need("field", field, target, "entry")
    return tuple(missing)


def validate_process(stages: Sequence[StageSpec]) -> list[str]:
    """Problems of a process definition, as message codes: at least one open stage, exactly one won
    and one lost stage, distinct positions of open stages. Empty when the process is usable."""
    problems: list[str] = []
    kinds = [stage.kind for stage in stages]
    if any(kind not in KINDS for kind in kinds):
        problems.append("unknown_kind")
    if kinds.count(OPEN) < 1:
        problems.append("no_open_stage")
    if kinds.count(WON) != 1:
        problems.append("won_stage_count")
    if kinds.count(LOST) != 1:
        problems.append("lost_stage_count")
    positions = [stage.position for stage in stages if stage.kind == OPEN]
    if len(set(positions)) != len(positions):
        problems.append("duplicate_position")
    return problems
