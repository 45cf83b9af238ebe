"""Background task of risk alerts: the nightly check of the accounts' risk levels (thin: a JobRun
id in, the service inside)."""

from __future__ import annotations

from django_tasks import task

from l2c.apps.activity.jobs import job_log, job_progress, run_job
from l2c.apps.activity.models import JobRun

from .risk import risk_levels_repair


@task()
def risk_levels_check(job_run_id: int) -> None:
    """Recompute the risk level of every account with a level or open risk events (scheduled daily
    as `customers.risk_levels_check`). Idempotent; normally changes nothing."""

    def work(run: JobRun) -> None:
        checked, changed = risk_levels_repair()
        job_progress(run.pk, checked, total=checked)
        job_log(run.pk, f"{checked} accounts checked, {changed} risk levels corrected")

    run_job(job_run_id, work)
