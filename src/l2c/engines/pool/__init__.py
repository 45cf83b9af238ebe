"""Public-pool (公海) rules: when must a held account go back to its pool? Pure and deterministic.

Two independent rules, each switched off by leaving its number empty; the earlier deadline wins:
- *follow-up rule*: reclaim `no_followup_days` after the later of the hold start and the last
  follow-up;
- *protection period*: the holder has `protection_days` from the hold start to win a deal, extended
  by `extension_days` per follow-up since the hold start, never beyond `protection_max_days`. A deal
  won since the hold start ends the protection rule (the follow-up rule still applies).
The reminder goes out `reminder_days` before the deadline (not before the hold start).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PoolRules:
    no_followup_days: int | None = None
    protection_days: int | None = None
    extension_days: int = 0
    protection_max_days: int | None = None
    reminder_days: int = 0


@dataclass(frozen=True)
class Hold:
    """What the rules look at for one held account."""

    since: dt.datetime
    last_followup_at: dt.datetime | None = None
    followups_since: int = 0
    won_at: dt.datetime | None = None


def protection_days(rules: PoolRules, followups: int) -> int | None:
    """Length of the protection period after `followups` follow-ups, or None when the rule is off."""
    if rules.protection_days is None:
        return None
    days = rules.protection_days + rules.extension_days * max(followups, 0)
    if rules.protection_max_days is not None:
        days = min(days, max(rules.protection_max_days, rules.protection_days))
    return days


def reclaim_due(rules: PoolRules, hold: Hold) -> dt.datetime | None:
    """The moment the account goes back to the pool, or None when no rule applies."""
    deadlines: list[dt.datetime] = []
    if rules.no_followup_days is not None:
        last = hold.since if hold.last_followup_at is None else max(hold.since, hold.last_followup_at)
        deadlines.append(last + dt.timedelta(days=rules.no_followup_days))
    won = hold.won_at is not None and hold.won_at >= hold.since
    days = protection_days(rules, hold.followups_since)
    if days is not None and not won:
        deadlines.append(hold.since + dt.timedelta(days=days))
    return min(deadlines) if deadlines else None


def remind_at(rules: PoolRules, hold: Hold, due: dt.datetime | None) -> dt.datetime | None:
    """When to remind the holder of `due`; None when there is no deadline or no reminder."""
    if due is None or rules.reminder_days <= 0:
        return None
    return max(hold.since, due - dt.timedelta(days=rules.reminder_days))
