"""RFM (recency, frequency, monetary) of customers from their transactions. Pure and deterministic.

Definitions (stated in the UI and docs as well):
- recency   = whole days from the last transaction date in the window to `as_of`;
- frequency = number of transactions in the window;
- monetary  = sum of their amounts;
- window    = transactions dated from `window_start` (inclusive; None = all history) to `as_of`
  (inclusive). Transactions after `as_of` are ignored.

Scores 1–`bins` per dimension by percentile rank among the customers being scored (quintiles by
default; tied values share their average rank): higher is better, so a *short* recency scores
high. Equal values always get equal scores, and a tie at the top never scores at the bottom.
Segments combine "high" (score above the middle) and "low" per dimension into the eight classic
groups; their names are data an admin may rename.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_BINS = 5

# (R high, F high, M high) → segment key; labels are chosen by the application.
SEGMENTS: Mapping[tuple[bool, bool, bool], str] = {
    (True, True, True): "important_value",  # 重要价值
    (True, False, True): "important_development",  # 重要发展
    (False, True, True): "important_retention",  # 重要保持
    (False, False, True): "important_recovery",  # 重要挽留
    (True, True, False): "general_value",  # 一般价值
    (True, False, False): "general_development",  # 一般发展
    (False, True, False): "general_retention",  # 一般保持
    (False, False, False): "general_recovery",  # 一般挽留
}


@dataclass(frozen=True)
class Transaction:
    customer_id: int
    date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class RfmValues:
    customer_id: int
    recency_days: int
    frequency: int
    monetary: Decimal


@dataclass(frozen=True)
class RfmScore:
    customer_id: int
    recency_days: int
    frequency: int
    monetary: Decimal
    recency_score: int
    frequency_score: int
    monetary_score: int
    segment: str


def rfm_values(transactions: Iterable[Transaction], *, as_of: dt.date,
               window_start: dt.date | None = None) -> list[RfmValues]:
    """The raw RFM of every customer with at least one transaction in the window, by customer id."""
    last: dict[int, dt.date] = {}
    count: dict[int, int] = {}
    total: dict[int, Decimal] = {}
    for transaction in transactions:
        if transaction.date > as_of or (window_start is not None and transaction.date < window_start):
            continue
        customer = transaction.customer_id
        if customer not in last or transaction.date > last[customer]:
            last[customer] = transaction.date
        count[customer] = count.get(customer, 0) + 1
        total[customer] = total.get(customer, Decimal(0)) + transaction.amount
    return [RfmValues(customer, (as_of - last[customer]).days, count[customer], total[customer])
            for customer in sorted(last)]


def quantile_edges(values: Sequence[int | Decimal], bins: int = DEFAULT_BINS) -> list[int | Decimal]:
    """The `bins − 1` cut values: for k = 1 … bins − 1, the largest value of the lowest k/bins of
    the sorted values. A value scores 1 + the number of edges strictly below it, so with n distinct
    values and n ≥ bins the lowest fifth scores 1 and the highest fifth `bins`."""
    if bins < 2:
        raise ValueError("bins must be at least 2")
    ordered = sorted(values)
    if not ordered:
        return []
    return [ordered[max(0, (len(ordered) * k) // bins - 1)] for k in range(1, bins)]


def rank_scores(values: Sequence[int | Decimal], bins: int = DEFAULT_BINS) -> list[int]:
    """Scores 1..bins by percentile rank, in input order: a value's score is ⌈bins × r / n⌉ where r is
    its 1-based rank among the n values and tied values share the average of their ranks. With
    distinct values this is the quintiles (the lowest fifth scores 1, the highest `bins`); a tie
    scores in the middle of the ranks it spans, so 85 customers tied at the top score 3, not 1, and
    a lone customer scores `bins`."""
    if bins < 2:
        raise ValueError("bins must be at least 2")
    n = len(values)
    order = sorted(range(n), key=values.__getitem__)
    scores = [0] * n
    start = 0
    while start < n:
        end = start
        while end + 1 < n and values[order[end + 1]] == values[order[start]]:
            end += 1
        # Average 1-based rank (start + end + 2) / 2; the score ⌈bins × rank / n⌉ in integers.
        score = max(1, min(bins, -(-bins * (start + end + 2) // (2 * n))))
        for position in range(start, end + 1):
            scores[order[position]] = score
        start = end + 1
    return scores


def rfm_scores(values: Sequence[RfmValues], *, bins: int = DEFAULT_BINS) -> list[RfmScore]:
    """Scores 1..bins per dimension (`rank_scores`) and the segment of each customer. Recency is
    scored on its negation, so the most recent customers score highest."""
    recency = rank_scores([-value.recency_days for value in values], bins)
    frequency = rank_scores([value.frequency for value in values], bins)
    monetary = rank_scores([value.monetary for value in values], bins)
    middle = (bins + 1) / 2
    scores = []
    for value, r, f, m in zip(values, recency, frequency, monetary, strict=True):
        segment = SEGMENTS[(r > middle, f > middle, m > middle)]
        scores.append(RfmScore(value.customer_id, value.recency_days, value.frequency, value.monetary, r, f, m,
                               segment))
    return scores
