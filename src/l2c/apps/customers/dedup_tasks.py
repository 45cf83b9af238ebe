"""Background task of batch duplicate detection. Thin: a JobRun id in, the service inside."""

from __future__ import annotations

from django_tasks import task

from l2c.apps.activity.jobs import run_job
from l2c.apps.activity.models import JobRun


@task()
def duplicates_batch(job_run_id: int) -> None:
    """Find duplicate groups over the whole base of the object type named in the run's arguments
    (`object_type`, default account) and replace its open review groups. Nightly and on demand."""
    from .dedup_batch import duplicates_batch_run

    def work(run: JobRun) -> None:
        duplicates_batch_run(object_type=str((run.arguments or {}).get("object_type") or "account"), run=run)

    run_job(job_run_id, work)
