"""Background task of RFM: the nightly and on-demand recompute (thin: a JobRun id in, the service inside)."""

from __future__ import annotations

from django_tasks import task

from l2c.apps.activity.jobs import job_log, job_progress, run_job
from l2c.apps.activity.models import JobRun

from .rfm import rfm_recompute


@task()
def rfm_recompute_task(job_run_id: int) -> None:
    """Recompute every account's RFM as of today (scheduled daily as `customers.rfm_recompute`,
    queued on demand from the RFM settings page or POST /api/v1/rfm/recompute). Idempotent."""

    def work(run: JobRun) -> None:
        result = rfm_recompute(log=lambda line: job_log(run.pk, line))
        job_progress(run.pk, result.accounts, total=result.accounts)
        counts = ", ".join(f"{code}={count}" for code, count in result.segments.items())
        job_log(run.pk, f"segments: {counts}")

    run_job(job_run_id, work)
