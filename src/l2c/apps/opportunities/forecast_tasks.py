"""Background jobs of the forecast (thin: a JobRun id in, the services inside). Scheduled in
`l2c.schedule`: weekly, a pipeline snapshot then a training of the win-probability model; nightly,
a rescore of the open deals (and a snapshot on the first day of a month, so the backtest has the
pipeline exactly as each period began)."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from l2c.apps.activity.jobs import job_log, run_job
from l2c.apps.activity.models import JobRun
from l2c.kernel.errors import ValidationFailed


@task()
def forecast_weekly_task(job_run_id: int) -> None:
    """Snapshot the open pipeline, then train a model (activated only when it beats the stage
    baseline). Too few closed deals is logged, not a failure."""
    from .forecast import forecast_train, pipeline_snapshot_take

    def work(run: JobRun) -> None:
        job_log(run.pk, f"pipeline snapshot: {pipeline_snapshot_take()} deals added")
        try:
            result = forecast_train(actor=None)
        except ValidationFailed as refusal:
            job_log(run.pk, f"model not trained: {refusal.detail}")
            return
        job_log(run.pk, f"model #{result.model.pk}: {result.reason}")

    run_job(job_run_id, work)


@task()
def forecast_nightly_task(job_run_id: int) -> None:
    """Rescore every open deal (model or stage probability); on the 1st of a month also snapshot."""
    from .forecast import forecast_rescore, pipeline_snapshot_take

    def work(run: JobRun) -> None:
        job_log(run.pk, f"rescored: {forecast_rescore()} deals changed")
        if timezone.localdate().day == 1:
            job_log(run.pk, f"pipeline snapshot: {pipeline_snapshot_take()} deals added")

    run_job(job_run_id, work)


@task()
def forecast_rescore_task(job_run_id: int) -> None:
    """Rescore every open deal now (queued when a new model is activated)."""
    from .forecast import forecast_rescore

    def work(run: JobRun) -> None:
        job_log(run.pk, f"rescored: {forecast_rescore()} deals changed")

    run_job(job_run_id, work)
