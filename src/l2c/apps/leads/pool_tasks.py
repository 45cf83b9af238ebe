"""Background tasks of lead pools. Thin: a JobRun id in, a service call inside."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from l2c.apps.activity.jobs import job_log, run_job
from l2c.apps.activity.models import JobRun

from .pools import lead_pool_reschedule, lead_pools_reclaim, lead_pools_remind


@task()
def lead_pools_reclaim_task(job_run_id: int) -> None:
    """Hourly: return overdue held leads to their pools and remind holders of upcoming reclaims."""

    def work(run: JobRun) -> None:
        now = timezone.now()
        reclaimed = lead_pools_reclaim(now=now)
        reminded = lead_pools_remind(now=now)
        job_log(run.pk, f"{reclaimed} reclaimed, {reminded} reminded")

    run_job(job_run_id, work)


@task()
def lead_pool_reschedule_task(job_run_id: int) -> None:
    """Recompute the reclaim deadlines of a lead pool's held leads after its rules changed."""

    def work(run: JobRun) -> None:
        changed = lead_pool_reschedule(int(run.arguments["pool_id"]))
        job_log(run.pk, f"{changed} deadlines changed")

    run_job(job_run_id, work)
