"""Background task of tender intelligence: the incremental matching run (thin: a JobRun id in, the
service inside). Enqueued after each ingest that stored new notices, and every 10 minutes by the
scheduler (`tenders.notices_match`): a safety net that also sends the pushes left over by a run that
died and retries the failed webhooks; a run with nothing to do does nothing."""

from __future__ import annotations

from django_tasks import task

from l2c.apps.activity.jobs import job_log, job_progress, run_job
from l2c.apps.activity.models import JobRun


@task()
def tender_notices_match_task(job_run_id: int) -> None:
    """Match the notices not matched yet against the active subscriptions; push the new matches."""
    from .services import tender_notices_match

    def work(run: JobRun) -> None:
        result = tender_notices_match(run_id=run.pk)
        job_progress(run.pk, result.notices, total=result.notices)
        job_log(run.pk, f"{result.notices} notices matched: {result.matches} new matches, "
                        f"{result.notifications} notifications, {result.webhooks_sent} webhooks sent, "
                        f"{len(result.webhook_failures)} webhooks failed (retried later), "
                        f"{result.webhooks_abandoned} matches given up after the last attempt")

    run_job(job_run_id, work)
