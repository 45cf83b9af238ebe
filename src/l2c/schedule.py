"""Every periodic job, declared in one place. `l2c scheduler` enqueues each occurrence once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str  # dotted path of a Django task taking one JobRun id
    every: timedelta


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("activity.todo_reminders", "l2c.apps.activity.tasks.todo_reminders", timedelta(minutes=5)),
    PeriodicJob("activity.housekeeping", "l2c.apps.activity.tasks.housekeeping", timedelta(days=1)),
)
