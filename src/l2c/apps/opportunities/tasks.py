"""Background tasks of deals (thin: a JobRun id in, the service inside): the nightly health run,
which catches the time-driven red flags (stalled, close date passed, no activity)."""

from __future__ import annotations

from django_tasks import task

from l2c.apps.activity.jobs import job_log, run_job
from l2c.apps.activity.models import JobRun


@task()
def health_refresh_task(job_run_id: int) -> None:
    """Recompute the health of every open deal as of now; idempotent."""
    from .health import health_refresh_all

    def work(run: JobRun) -> None:
        changed = health_refresh_all()
        job_log(run.pk, f"health changed on {changed} open deals")

    run_job(job_run_id, work)
