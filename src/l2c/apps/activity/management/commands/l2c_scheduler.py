"""Enqueue periodic jobs, each occurrence exactly once (JobRun.unique_key), so two schedulers are safe."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from l2c.apps.activity.jobs import job_enqueue
from l2c.schedule import PERIODIC_JOBS


def enqueue_due(now: datetime) -> list[str]:
    """Enqueue the current occurrence of every periodic job not yet enqueued; returns their keys."""
    enqueued = []
    epoch = now.timestamp()
    for job in PERIODIC_JOBS:
        period, offset = job.every.total_seconds(), job.offset.total_seconds()
        occurrence = datetime.fromtimestamp(epoch - (epoch - offset) % period, tz=UTC)
        key = f"{job.name}@{occurrence.isoformat()}"
        if job_enqueue(task=import_string(job.task), name=job.name, unique_key=key) is not None:
            enqueued.append(key)
    return enqueued


class Command(BaseCommand):
    help = "Run the periodic-job scheduler (enqueues each occurrence once)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--once", action="store_true", help="enqueue due jobs once and exit")
        parser.add_argument("--interval", type=float, default=30.0)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        while True:
            for key in enqueue_due(datetime.now(tz=UTC)):
                self.stdout.write(f"enqueued {key}")
            if options["once"]:
                return
            time.sleep(options["interval"])
