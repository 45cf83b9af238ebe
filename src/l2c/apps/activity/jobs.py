"""Job runs: every background job records its status, progress, log and error in a JobRun row.

Tasks (Django Tasks API) take a JobRun id and do their work inside `job_execution(...)`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from l2c.kernel import request_context

from .models import JobRun

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

logger = logging.getLogger(__name__)
MAX_LOG_LINE = 500


def job_create(*, name: str, arguments: dict[str, Any] | None = None, actor: User | None = None,
               unique_key: str | None = None, total: int = 0) -> JobRun | None:
    """Record a queued run. With a unique key, a second call for the same occurrence returns None."""
    try:
        with transaction.atomic():
            return JobRun.objects.create(
                name=name, arguments=arguments or {}, created_by=actor, unique_key=unique_key, total=total,
            )
    except IntegrityError:
        if unique_key is None:
            raise
        return None


def job_enqueue(*, task: Any, name: str, arguments: dict[str, Any] | None = None, actor: User | None = None,
                unique_key: str | None = None) -> JobRun | None:
    """Create the run and enqueue `task(job_run_id)` once the surrounding transaction commits."""
    run = job_create(name=name, arguments=arguments, actor=actor, unique_key=unique_key)
    if run is None:
        return None
    run_id = run.pk

    def _enqueue() -> None:
        result = task.enqueue(run_id)
        JobRun.objects.filter(pk=run_id).update(task_result_id=str(getattr(result, "id", ""))[:64])

    transaction.on_commit(_enqueue)
    return run


def job_log(run_id: int, line: str) -> None:
    stamp = timezone.localtime().strftime("%H:%M:%S")
    JobRun.objects.filter(pk=run_id).update(log=Concat(F("log"), Value(f"{stamp} {line[:MAX_LOG_LINE]}\n")))


def job_progress(run_id: int, progress: int, total: int | None = None) -> None:
    updates: dict[str, Any] = {"progress": progress}
    if total is not None:
        updates["total"] = total
    JobRun.objects.filter(pk=run_id).update(**updates)


@contextmanager
def job_execution(run_id: int) -> Iterator[JobRun]:
    """Mark the run running, then succeeded or failed (with the traceback). Re-raises failures so
    the task backend records them too."""
    JobRun.objects.filter(pk=run_id).update(status=JobRun.Status.RUNNING, started_at=timezone.now(), error="")
    run = JobRun.objects.get(pk=run_id)
    context = request_context.RequestContext(request_id=f"job-{run_id}", source="job")
    try:
        with request_context.bind(context):
            yield run
    except Exception:
        JobRun.objects.filter(pk=run_id).update(
            status=JobRun.Status.FAILED, finished_at=timezone.now(), error=traceback.format_exc()[-5000:]
        )
        logger.exception("job %s #%s failed", run.name, run_id)
        raise
    JobRun.objects.filter(pk=run_id).update(status=JobRun.Status.SUCCEEDED, finished_at=timezone.now())


def run_job(run_id: int, work: Callable[[JobRun], None]) -> None:
    """Body of a task: `work(run)` inside `job_execution`."""
    with job_execution(run_id) as run:
        work(run)
