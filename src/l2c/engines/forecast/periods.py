"""Forecast periods (预测周期): calendar months and quarters, named by their first day. Pure."""

from __future__ import annotations

import datetime as dt

KINDS = ("month", "quarter")


def _months(kind: str) -> int:
    if kind not in KINDS:
        raise ValueError(f"unknown period kind {kind!r}")
    return 1 if kind == "month" else 3


def is_period_start(kind: str, day: dt.date) -> bool:
    """Whether `day` starts a period of `kind` (the 1st of a month; of Jan/Apr/Jul/Oct for quarters)."""
    return day.day == 1 and (day.month - 1) % _months(kind) == 0


def period_of(kind: str, day: dt.date) -> dt.date:
    """The first day of the period of `kind` holding `day`."""
    months = _months(kind)
    return dt.date(day.year, (day.month - 1) // months * months + 1, 1)


def shift(kind: str, start: dt.date, count: int) -> dt.date:
    """The start of the period `count` periods after (negative: before) the one starting at `start`."""
    index = start.year * 12 + start.month - 1 + count * _months(kind)
    return dt.date(index // 12, index % 12 + 1, 1)


def period_end(kind: str, start: dt.date) -> dt.date:
    """The first day after the period (exclusive end)."""
    return shift(kind, start, 1)


def label(kind: str, start: dt.date) -> str:
    """"2026-10" for a month, "2026-Q4" for a quarter."""
    if kind == "month":
        return f"{start.year}-{start.month:02d}"
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
