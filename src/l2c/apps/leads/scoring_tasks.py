"""Background tasks of lead scoring (thin: a JobRun id in, the service inside): rescore every lead,
retrain the predicted model, recalibrate the weights. Scheduled weekly in `l2c.schedule` and queued
on demand from the scoring settings page or the API."""

from __future__ import annotations

from django_tasks import task

from l2c.apps.activity.jobs import job_log, job_progress, run_job
from l2c.apps.activity.models import JobRun


@task()
def scoring_rescore_task(job_run_id: int) -> None:
    """Rescore every lead as of now, chunk by chunk (progress after each chunk). Idempotent."""
    from .scoring import leads_rescore

    def work(run: JobRun) -> None:
        count = leads_rescore(progress=lambda done, total: job_progress(run.pk, done, total=total))
        job_log(run.pk, f"rescored {count} leads")

    run_job(job_run_id, work)


@task()
def scoring_retrain_task(job_run_id: int) -> None:
    """Train a new predicted-score model on the leads with an outcome; it becomes active only when
    it beats the baseline (weekly as `leads.scoring_retrain`)."""
    from .scoring_training import scoring_model_train

    def work(run: JobRun) -> None:
        result = scoring_model_train(actor=None, log=lambda line: job_log(run.pk, line))
        job_log(run.pk, f"model v{result.version}: {'active' if result.is_active else 'not used'} — {result.reason}")

    run_job(job_run_id, work)


@task()
def scoring_recalibrate_task(job_run_id: int) -> None:
    """Fit the weights of the three parts to the outcomes; propose them, or apply them when
    L2C_SCORING_WEIGHTS_AUTO_APPLY is on (weekly as `leads.scoring_recalibrate`)."""
    from .scoring_training import scoring_weights_recalibrate

    def work(run: JobRun) -> None:
        result = scoring_weights_recalibrate(log=lambda line: job_log(run.pk, line))
        job_log(run.pk, result.message)

    run_job(job_run_id, work)
