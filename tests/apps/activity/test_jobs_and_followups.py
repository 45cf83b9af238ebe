"""Job runs, the periodic scheduler, follow-ups, to-do reminders and notifications."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from l2c.apps.activity.jobs import job_enqueue, job_execution
from l2c.apps.activity.management.commands.l2c_scheduler import enqueue_due
from l2c.apps.activity.models import AuditEvent, JobRun, Notification, Todo
from l2c.apps.activity.services import followup_create, todo_create
from l2c.apps.customers.models import Account
from l2c.kernel.errors import NotFound, ValidationFailed
from l2c.schedule import PERIODIC_JOBS
from tests.conftest import make_account, make_contact


def test_scheduler_enqueues_each_occurrence_once(db, django_capture_on_commit_callbacks):
    now = dt.datetime(2026, 11, 27, 10, 7, tzinfo=dt.UTC)

    with django_capture_on_commit_callbacks(execute=True):
        first = enqueue_due(now)
        second = enqueue_due(now + dt.timedelta(seconds=30))

    assert len(first) == len(PERIODIC_JOBS)
    assert second == []
    assert JobRun.objects.filter(unique_key__isnull=False).count() == len(PERIODIC_JOBS)
    # The immediate test backend ran them: every run finished successfully.
    assert set(JobRun.objects.values_list("status", flat=True)) == {JobRun.Status.SUCCEEDED}


def test_failed_job_records_the_error(db):
    run = JobRun.objects.create(name="test.failing")

    with pytest.raises(RuntimeError), job_execution(run.pk):
        raise RuntimeError("boom")

    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED
    assert "RuntimeError: boom" in run.error
    assert run.finished_at is not None


def test_job_enqueue_with_same_unique_key_returns_none(db):
    from l2c.apps.activity.tasks import housekeeping

    assert job_enqueue(task=housekeeping, name="activity.housekeeping", unique_key="k1") is not None
    assert job_enqueue(task=housekeeping, name="activity.housekeeping", unique_key="k1") is None
    assert JobRun.objects.filter(unique_key="k1").count() == 1


def test_followup_on_contact_marks_contact_and_account_followed_up(org):
    account = make_account(org["rep1"])
    contact = make_contact(org["rep1"], account)
    at = timezone.now() - dt.timedelta(hours=2)

    followup_create(actor=org["rep1"], object_type="contact", object_id=contact.pk, kind="call",
                    content="电话沟通需求", occurred_at=at, next_step="发送方案",
                    next_step_at=timezone.now() + dt.timedelta(days=1))

    account.refresh_from_db()
    contact.refresh_from_db()
    assert account.last_followed_up_at == at
    assert contact.last_followed_up_at == at
    assert Todo.objects.get(assignee=org["rep1"]).title == "发送方案"


def test_followup_on_invisible_account_is_not_found_and_writes_nothing(org):
    account = make_account(org["rep1"])
    events_before = AuditEvent.objects.count()

    with pytest.raises(NotFound):
        followup_create(actor=org["rep3"], object_type="account", object_id=account.pk, kind="call", content="x")

    assert Account.objects.get(pk=account.pk).last_followed_up_at is None
    assert AuditEvent.objects.count() == events_before


def test_followup_rejects_unknown_kind_and_future_time(org):
    account = make_account(org["rep1"])

    with pytest.raises(ValidationFailed) as failure:
        followup_create(actor=org["rep1"], object_type="account", object_id=account.pk, kind="fax", content="",
                        occurred_at=timezone.now() + dt.timedelta(days=1))

    assert [e.field for e in failure.value.errors] == ["kind", "content", "occurred_at"]


def test_todo_reminder_notifies_once(org):
    from l2c.apps.activity.jobs import job_create
    from l2c.apps.activity.tasks import todo_reminders

    todo_create(actor=org["rep1"], title="回访客户", due_at=timezone.now() + dt.timedelta(minutes=10))
    todo_create(actor=org["rep1"], title="下周的事", due_at=timezone.now() + dt.timedelta(days=7))

    for _ in range(2):
        run = job_create(name="activity.todo_reminders")
        todo_reminders.call(run.pk)

    assert list(Notification.objects.filter(recipient=org["rep1"]).values_list("title", flat=True)) == ["回访客户"]
