"""Background tasks of the activity context. Thin: a JobRun id in, a service call inside."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from l2c.apps.identity.models import LoginThrottle

from .jobs import job_log, run_job
from .maintenance import refresh_planner_statistics
from .models import IdempotencyRecord, JobRun, Todo
from .services import notification_send

REMIND_AHEAD = timedelta(minutes=30)


@task()
def todo_reminders(job_run_id: int) -> None:
    """Notify assignees of open to-dos due within the next 30 minutes (once per to-do)."""

    def work(run: JobRun) -> None:
        now = timezone.now()
        due = Todo.objects.filter(done_at__isnull=True, reminded_at__isnull=True, due_at__lte=now + REMIND_AHEAD)
        sent = 0
        for todo in due.select_related("assignee")[:5000]:
            # Compare-and-set: a concurrent run cannot remind twice.
            if Todo.objects.filter(pk=todo.pk, reminded_at__isnull=True).update(reminded_at=now):
                notification_send(recipient=todo.assignee, kind="todo_due", title=todo.title,
                                  body=f"due {timezone.localtime(todo.due_at):%Y-%m-%d %H:%M}" if todo.due_at else "")
                sent += 1
        job_log(run.pk, f"{sent} reminders sent")

    run_job(job_run_id, work)


@task()
def housekeeping(job_run_id: int) -> None:
    """Drop expired idempotency records and log-in throttles, and job runs older than 90 days;
    refresh SQLite's planner statistics."""

    def work(run: JobRun) -> None:
        now = timezone.now()
        idempotency, _ = IdempotencyRecord.objects.filter(created_at__lt=now - timedelta(days=1)).delete()
        throttles, _ = LoginThrottle.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now), window_started_at__lt=now - timedelta(days=1)
        ).delete()
        runs, _ = JobRun.objects.filter(finished_at__lt=now - timedelta(days=90)).delete()
        job_log(run.pk, f"removed {idempotency} idempotency records, {throttles} throttles, {runs} job runs")
        if refresh_planner_statistics():
            job_log(run.pk, "refreshed the query planner's statistics (ANALYZE)")

    run_job(job_run_id, work)


@task()
def import_commit(job_run_id: int) -> None:
    """Commit the valid rows of the ImportJob named in the run's arguments (`import_job_id`), in
    chunks; idempotent and resumable (see activity.imports)."""
    from .imports import import_execute

    run_job(job_run_id, lambda run: import_execute(run=run))
