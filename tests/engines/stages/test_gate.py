"""Stage gate engine: the full missing list of a move, forward, backward, won, lost and reopen."""

from __future__ import annotations

import pytest

from l2c.engines.stages import (
    LOST,
    WON,
    DealFacts,
    GateError,
    Missing,
    StageSpec,
    gate,
    is_forward,
    passed_stages,
    validate_process,
)

# 1 qualify → 2 needs analysis → 3 proposal → 4 negotiation → won (8) / lost (9)
STAGES = (
    StageSpec(1, 1, exit_fields=("amount",), required_tasks=(11,)),
    StageSpec(2, 2, entry_fields=("contacts",), exit_fields=("decision_maker", "close_date"), required_tasks=(21, 22)),
    StageSpec(3, 3, exit_fields=("amount",), required_tasks=()),
    StageSpec(4, 4, entry_fields=("cf.budget_owner",), exit_fields=("next_step",)),
    StageSpec(8, 99, kind=WON, entry_fields=("close_date",)),
    StageSpec(9, 100, kind=LOST),
)


def test_one_step_forward_lists_exit_fields_tasks_and_entry_fields_in_checklist_order() -> None:
    missing = gate(STAGES, 1, 2, DealFacts())
    assert missing == (
        Missing("field", "amount", 1, "exit"),
        Missing("task", "11", 1, "exit"),
        Missing("field", "contacts", 2, "entry"),
    )


def test_a_move_with_everything_in_place_misses_nothing() -> None:
    facts = DealFacts(filled=frozenset({"amount", "contacts"}), done_tasks=frozenset({11}))
    assert gate(STAGES, 1, 2, facts) == ()


def test_skipping_stages_asks_for_the_requirements_of_every_stage_passed_over() -> None:
    facts = DealFacts(filled=frozenset({"amount"}), done_tasks=frozenset({11, 21}))
    missing = gate(STAGES, 1, 4, facts)
    assert missing == (
        Missing("field", "decision_maker", 2, "exit"),
        Missing("field", "close_date", 2, "exit"),
        Missing("task", "22", 2, "exit"),
        Missing("field", "cf.budget_owner", 4, "entry"),
    )  # "amount" asked again by stage 3 is filled; stage 2's entry "contacts" is not asked (not entered)


def test_a_field_asked_by_two_stages_is_listed_once_under_the_first() -> None:
    missing = gate(STAGES, 1, 4, DealFacts(done_tasks=frozenset({11, 21, 22}),
                                           filled=frozenset({"decision_maker", "close_date", "cf.budget_owner"})))
    assert missing == (Missing("field", "amount", 1, "exit"),)


def test_won_requires_every_remaining_open_stage_and_the_won_entry_fields() -> None:
    missing = gate(STAGES, 3, 8, DealFacts(filled=frozenset({"amount"})))
    assert missing == (
        Missing("field", "next_step", 4, "exit"),
        Missing("field", "close_date", 8, "entry"),
    )


def test_backward_moves_need_nothing() -> None:
    assert gate(STAGES, 4, 1, DealFacts()) == ()


def test_lost_needs_a_reason_and_a_competitor_from_any_stage_and_nothing_else() -> None:
    assert gate(STAGES, 1, 9, DealFacts()) == (
        Missing("lost_reason", "lost_reason", 9, "entry"),
        Missing("lost_competitor", "lost_competitor", 9, "entry"),
    )
    only_reason = DealFacts(lost_reason=True)
    assert gate(STAGES, 3, 9, only_reason) == (Missing("lost_competitor", "lost_competitor", 9, "entry"),)
    assert gate(STAGES, 2, 9, DealFacts(lost_reason=True, lost_competitor=True)) == ()


@pytest.mark.parametrize(("source", "target"), [(8, 2), (9, 1), (9, 8)])
def test_reopening_or_leaving_a_closed_stage_needs_nothing_here(source: int, target: int) -> None:
    assert gate(STAGES, source, target, DealFacts()) == ()


def test_a_won_deal_marked_lost_still_needs_the_reason_and_the_competitor() -> None:
    assert [item.kind for item in gate(STAGES, 8, 9, DealFacts())] == ["lost_reason", "lost_competitor"]


def test_lost_to_lost_is_refused_as_the_same_stage() -> None:
    with pytest.raises(GateError, match="same stage"):
        gate(STAGES, 9, 9, DealFacts())


def test_unknown_stages_are_refused() -> None:
    with pytest.raises(GateError, match="unknown stage"):
        gate(STAGES, 1, 77, DealFacts())


def test_direction_and_passed_stages() -> None:
    by_id = {stage.stage_id: stage for stage in STAGES}
    assert is_forward(by_id[1], by_id[3]) is True
    assert is_forward(by_id[3], by_id[1]) is False
    assert is_forward(by_id[2], by_id[8]) is True
    assert is_forward(by_id[8], by_id[1]) is False
    assert [stage.stage_id for stage in passed_stages(STAGES, by_id[1], by_id[3])] == [1, 2]
    assert [stage.stage_id for stage in passed_stages(STAGES, by_id[2], by_id[8])] == [2, 3, 4]


def test_process_validation_names_each_problem() -> None:
    assert validate_process(STAGES) == []
    assert validate_process([StageSpec(1, 1, kind=WON)]) == ["no_open_stage", "lost_stage_count"]
    assert validate_process([StageSpec(1, 1), StageSpec(2, 1), StageSpec(3, 5, kind=WON), StageSpec(4, 6, kind=WON),
                             StageSpec(5, 7, kind=LOST)]) == ["won_stage_count", "duplicate_position"]
    assert validate_process([StageSpec(1, 1, kind="maybe")])[0] == "unknown_kind"
