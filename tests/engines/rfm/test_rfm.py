"""RFM by a hand-computed example: raw values, quintile scores and segments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2c.engines.rfm import Transaction, quantile_edges, rfm_scores, rfm_values

AS_OF = dt.date(2026, 6, 30)


def t(customer: int, day: str, amount: str) -> Transaction:
    return Transaction(customer, dt.date.fromisoformat(day), Decimal(amount))


TRANSACTIONS = [
    t(1, "2026-06-25", "100"), t(1, "2026-05-01", "200"), t(1, "2026-07-05", "999"),  # the last is after as_of
    t(2, "2026-01-10", "1000"),
    t(3, "2026-06-29", "50"), t(3, "2026-06-01", "50"), t(3, "2026-03-01", "50"),
    t(4, "2025-12-31", "20"),
    t(5, "2026-06-20", "500"), t(5, "2026-04-15", "500"), t(5, "2026-02-01", "500"), t(5, "2025-11-30", "500"),
]


def test_raw_values_count_days_to_as_of_and_ignore_later_transactions():
    values = rfm_values(TRANSACTIONS, as_of=AS_OF)

    assert [(v.customer_id, v.recency_days, v.frequency, v.monetary) for v in values] == [
        (1, 5, 2, Decimal("300")), (2, 171, 1, Decimal("1000")), (3, 1, 3, Decimal("150")),
        (4, 181, 1, Decimal("20")), (5, 10, 4, Decimal("2000"))]


def test_a_window_leaves_out_older_transactions_and_customers_without_any():
    values = rfm_values(TRANSACTIONS, as_of=AS_OF, window_start=dt.date(2026, 1, 1))

    assert [(v.customer_id, v.frequency, v.monetary) for v in values] == [
        (1, 2, Decimal("300")), (2, 1, Decimal("1000")), (3, 3, Decimal("150")), (5, 3, Decimal("1500"))]


def test_quintile_scores_and_segments_by_hand():
    # recency (negated) sorted: -181 -171 -10 -5 -1 → edges -181 -171 -10 -5
    # frequency sorted: 1 1 2 3 4 → the tied 1s share ranks 1 and 2 (average 1.5 → ⌈5 × 1.5 / 5⌉ = 2);
    # monetary: 20 150 300 1000 2000 → ranks 1..5 → scores 1..5
    scores = rfm_scores(rfm_values(TRANSACTIONS, as_of=AS_OF))

    assert [(s.customer_id, s.recency_score, s.frequency_score, s.monetary_score, s.segment) for s in scores] == [
        (1, 4, 3, 3, "general_development"),
        (2, 2, 2, 4, "important_recovery"),
        (3, 5, 4, 2, "general_value"),
        (4, 1, 2, 1, "general_recovery"),
        (5, 3, 5, 5, "important_retention"),
    ]


def test_a_tie_at_the_top_never_scores_at_the_bottom_and_a_lone_customer_scores_best():
    from l2c.engines.rfm import rank_scores

    # 85 customers bought today (negated recency 0), 15 a hundred days ago (−100).
    scores = rank_scores([0] * 85 + [-100] * 15)
    assert set(scores[:85]) == {3} and set(scores[85:]) == {1}  # average ranks 58 and 8 of 100
    assert rank_scores([7]) == [5]
    assert rank_scores(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_quantile_edges_need_two_bins():
    with pytest.raises(ValueError, match="bins must be at least 2"):
        quantile_edges([1, 2, 3], bins=1)
    assert quantile_edges([], bins=5) == []


@given(st.lists(st.integers(0, 50), min_size=1, max_size=60))
def test_equal_values_score_equal_and_scores_grow_with_values(frequencies):
    values = rfm_values([Transaction(index, AS_OF, Decimal(1)) for index, count in enumerate(frequencies)
                         for _ in range(count)], as_of=AS_OF)
    scores = rfm_scores(values)

    by_frequency: dict[int, set[int]] = {}
    for score in scores:
        by_frequency.setdefault(score.frequency, set()).add(score.frequency_score)
        assert 1 <= score.frequency_score <= 5
    assert all(len(found) == 1 for found in by_frequency.values())
    ordered = [next(iter(by_frequency[frequency])) for frequency in sorted(by_frequency)]
    assert ordered == sorted(ordered)
