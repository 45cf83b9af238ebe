"""Background tasks of the customers context. Thin: a JobRun id in, a service call inside."""

from __future__ import annotations

from django_tasks import task

from l2c.apps.activity.jobs import job_log, run_job
from l2c.apps.activity.models import JobRun

from .pool import pool_reclaim_run, pool_reschedule


@task()
def pool_reclaim(job_run_id: int) -> None:
    """Return overdue held accounts to their pools and remind holders of upcoming reclaims."""

    def work(run: JobRun) -> None:
        result = pool_reclaim_run()
        job_log(run.pk, ", ".join(f"{count} {what}" for what, count in result.items()))

    run_job(job_run_id, work)


@task()
def pool_reschedule_task(job_run_id: int) -> None:
    """Recompute the reclaim deadlines of a pool's held accounts after its rules changed."""

    def work(run: JobRun) -> None:
        changed = pool_reschedule(int(run.arguments["pool_id"]))
        job_log(run.pk, f"{changed} deadlines changed")

    run_job(job_run_id, work)
