"""Tender services: all-or-nothing batches with per-item errors, idempotent re-sends, incremental
matching (each (subscription, notice) pushed exactly once; one notification per user per run),
webhooks and subscriptions."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from l2c.apps.activity.models import AuditEvent, Notification
from l2c.apps.tenders.models import TenderBatch, TenderMatch, TenderNotice, TenderSubscription
from l2c.apps.tenders.services import (
    BatchRejected,
    tender_batch_ingest,
    tender_matches_mark_read,
    tender_notices_match,
    tender_subscription_create,
    tender_subscription_delete,
    tender_subscription_update,
)
from l2c.kernel.errors import NotFound, PermissionDenied, ValidationFailed
from tests.apps.tenders.conftest import item


def test_a_batch_with_one_bad_item_stores_nothing_and_names_every_problem(org):
    items = [item(1), item(2, title="", budget_amount=-5), item(3, kind="auction", url="ftp://x")]
    with pytest.raises(BatchRejected) as raised:
        tender_batch_ingest(actor=org["marketing"], items=items)
    problem = raised.value.to_problem()
    assert problem["status"] == 422
    found = {(entry["index"], entry["source_notice_id"], entry["field"], entry["code"]) for entry in problem["items"]}
    assert found == {
        (1, "N-2", "title", "required"), (1, "N-2", "budget_amount", "invalid_amount"),
        (2, "N-3", "kind", "invalid_choice"), (2, "N-3", "url", "invalid_url"),
    }
    assert {error["field"] for error in problem["errors"]} == {
        "items.1.title", "items.1.budget_amount", "items.2.kind", "items.2.url"}
    assert TenderNotice.objects.count() == 0 and TenderBatch.objects.count() == 0


def test_a_resent_notice_is_unchanged_and_not_modified(org):
    first = tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2)])
    assert (first.created, first.unchanged) == (2, 0)
    again = tender_batch_ingest(actor=org["marketing"], items=[item(2, title="改过的标题"), item(3), item(3)])
    assert [(entry.index, entry.status, entry.duplicate_of) for entry in again.items] == [
        (0, "unchanged", None), (1, "created", None), (2, "duplicate", 1)]
    assert again.items[0].id == first.items[1].id
    assert TenderNotice.objects.get(source_notice_id="N-2").title == "深圳市第一中学智慧校园建设项目2"
    assert TenderNotice.objects.count() == 3
    batch = TenderBatch.objects.get(pk=again.batch_id)
    assert (batch.received_count, batch.created_count, batch.unchanged_count, batch.via) == (3, 1, 2, "api")
    event = AuditEvent.objects.get(object_type="tender_batch", object_id=batch.pk)
    assert event.action == "import" and event.actor_id == org["marketing"].pk


def test_a_rep_may_not_ingest_and_nothing_is_stored(org):
    with pytest.raises(PermissionDenied):
        tender_batch_ingest(actor=org["rep1"], items=[item(1)])
    assert TenderNotice.objects.count() == 0 and TenderBatch.objects.count() == 0


def test_matching_is_incremental_and_pushes_each_pair_once(org, subscribe):
    rep1_campus = subscribe(org["rep1"], ["智慧校园"])
    rep1_server = subscribe(org["rep1"], ["服务器"], regions=["广东/深圳"])
    rep2_hospital = subscribe(org["rep2"], ["医院"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2), item(3, title="某医院设备采购",
                                                                                buyer_name="某医院", content="")])
    first = tender_notices_match()
    assert (first.notices, first.matches, first.notifications) == (3, 5, 2)
    pairs = set(TenderMatch.objects.values_list("subscription_id", "notice__source_notice_id"))
    assert pairs == {(rep1_campus.pk, "N-1"), (rep1_campus.pk, "N-2"), (rep1_server.pk, "N-1"),
                     (rep1_server.pk, "N-2"), (rep2_hospital.pk, "N-3")}
    assert TenderNotice.objects.filter(matched_at__isnull=True).count() == 0

    # A second run finds nothing new: no match, no notification.
    second = tender_notices_match()
    assert (second.notices, second.matches, second.notifications) == (0, 0, 0)

    # A second batch: only its notices are matched, old ones are never pushed again.
    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(4)])
    third = tender_notices_match()
    assert (third.notices, third.matches, third.notifications) == (1, 2, 1)
    assert TenderMatch.objects.count() == 7
    assert TenderMatch.objects.values("subscription_id", "notice_id").distinct().count() == 7
    rep1 = Notification.objects.filter(recipient=org["rep1"], kind="tender_match").order_by("id")
    assert [notification.title for notification in rep1] == ["招投标订阅：4 条新匹配的公告",
                                                             "招投标订阅：2 条新匹配的公告"]
    assert rep1[0].url == "/tenders/inbox/"
    assert Notification.objects.filter(recipient=org["rep2"], kind="tender_match").count() == 1
    assert TenderBatch.objects.filter(matched_at__isnull=True).count() == 0


def test_matching_a_notice_again_never_duplicates_a_push(org, subscribe):
    subscribe(org["rep1"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    tender_notices_match()
    TenderNotice.objects.update(matched_at=None)  # as if a crashed run left it unmarked
    again = tender_notices_match()
    assert (again.notices, again.matches, again.notifications) == (1, 0, 0)
    assert TenderMatch.objects.count() == 1


def test_a_new_subscription_is_not_pushed_old_notices(org, subscribe):
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    tender_notices_match()
    subscribe(org["rep1"], ["智慧校园"])
    assert tender_notices_match().matches == 0
    assert TenderMatch.objects.count() == 0


def test_inactive_subscriptions_and_users_without_the_grant_get_nothing(org, subscribe):
    subscribe(org["rep1"], ["智慧校园"], is_active=False)
    subscription = subscribe(org["rep2"], ["智慧校园"])
    org["rep2"].roles.clear()
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    assert tender_notices_match().matches == 0
    assert TenderSubscription.objects.filter(pk=subscription.pk).exists()


def test_the_notification_is_written_in_the_recipients_language(org, subscribe):
    org["rep1"].language = "en"
    org["rep1"].save()
    subscribe(org["rep1"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    tender_notices_match()
    notification = Notification.objects.get(recipient=org["rep1"])
    assert notification.title == "Tender subscriptions: 1 new matching notice"
    assert "深圳市第一中学智慧校园建设项目1" in notification.body


def test_inbox_mark_read(org, subscribe):
    subscribe(org["rep1"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2), item(3)])
    tender_notices_match()
    first = TenderMatch.objects.filter(user=org["rep1"]).order_by("id").first()
    assert tender_matches_mark_read(user=org["rep2"], ids=[first.pk]) == 0
    assert tender_matches_mark_read(user=org["rep1"], ids=[first.pk]) == 1
    assert tender_matches_mark_read(user=org["rep1"], ids=[first.pk]) == 0
    assert tender_matches_mark_read(user=org["rep1"]) == 2
    assert TenderMatch.objects.filter(read_at__isnull=True).count() == 0


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Receiver.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhooks_post_the_new_matches_and_a_failing_one_does_not_break_matching(org, subscribe):
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.bodies = []
    try:
        good = subscribe(org["rep1"], ["智慧校园"], webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        bad = subscribe(org["rep2"], ["智慧校园"], webhook_url="http://127.0.0.1:9/closed")
        tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2)])
        run = tender_notices_match()
    finally:
        server.shutdown()
        server.server_close()
    assert run.matches == 4 and run.webhooks_sent == 1
    assert len(run.webhook_failures) == 1 and f"#{bad.pk}" in run.webhook_failures[0]
    assert len(_Receiver.bodies) == 1
    body = _Receiver.bodies[0]
    assert (body["event"], body["subscription_id"], body["count"]) == ("tender.matched", good.pk, 2)
    assert [notice["source_notice_id"] for notice in body["notices"]] == ["N-1", "N-2"]
    assert body["notices"][0]["matched_keywords"] == ["智慧校园"]


def test_webhooks_only_to_allowed_hosts(org, settings):
    with pytest.raises(ValidationFailed) as raised:
        tender_subscription_create(actor=org["rep1"], data={"name": "x", "keywords": ["服务器"],
                                                            "webhook_url": "http://10.0.0.5/hook"})
    assert [error.code for error in raised.value.errors] == ["webhook_not_allowed"]
    settings.L2C_WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]
    subscription = tender_subscription_create(actor=org["rep1"], data={
        "name": "x", "keywords": ["服务器"], "webhook_url": "https://hooks.example.com/tenders"})
    assert subscription.webhook_url == "https://hooks.example.com/tenders"


@pytest.mark.parametrize(("data", "fields"), [
    ({"name": "", "keywords": []}, {"name", "keywords"}),
    ({"name": "x", "keywords": "服务器", "budget_min": 500, "budget_max": 100}, {"budget_max"}),
    ({"name": "x", "keywords": "服务器", "kinds": ["auction"]}, {"kinds"}),
    ({"name": "x", "keywords": ["服" * 51]}, {"keywords"}),
    ({"name": "x", "keywords": "服务器", "regions": ["/深圳"]}, {"regions"}),
    ({"name": "x" * 101, "keywords": "服务器", "budget_min": -1}, {"name", "budget_min"}),
])
def test_subscription_validation(org, data, fields):
    with pytest.raises(ValidationFailed) as raised:
        tender_subscription_create(actor=org["rep1"], data=data)
    assert {error.field for error in raised.value.errors} == fields
    assert TenderSubscription.objects.count() == 0


def test_subscription_words_split_update_and_delete_are_owned_and_audited(org, subscribe):
    subscription = tender_subscription_create(actor=org["rep1"], data={
        "name": "校园", "keywords": "智慧校园，服务器\n交换机、智慧校园", "excluded_words": "监理;维修",
        "regions": "广东／深圳, 浙江", "kinds": ["tender"], "budget_min": 100_000_00})
    assert subscription.keywords == ["智慧校园", "服务器", "交换机"]
    assert subscription.excluded_words == ["监理", "维修"]
    assert subscription.regions == ["广东/深圳", "浙江"]
    with pytest.raises(NotFound):
        tender_subscription_update(actor=org["rep2"], subscription_id=subscription.pk, data={"name": "偷改"})
    updated = tender_subscription_update(actor=org["rep1"], subscription_id=subscription.pk,
                                         data={"match_all": True})
    assert updated.match_all is True and updated.name == "校园"
    events = AuditEvent.objects.filter(object_type="tender_subscription", object_id=subscription.pk).order_by("id")
    assert [event.action for event in events] == ["create", "update"]
    assert events[1].changes == {"match_all": [False, True]}
    with pytest.raises(NotFound):
        tender_subscription_delete(actor=org["rep2"], subscription_id=subscription.pk)
    tender_subscription_delete(actor=org["rep1"], subscription_id=subscription.pk)
    assert not TenderSubscription.objects.exists()


def test_finance_may_not_subscribe(org):
    with pytest.raises(PermissionDenied):
        tender_subscription_create(actor=org["finance"], data={"name": "x", "keywords": ["服务器"]})


def test_demo_data_is_matched_and_idempotent(org):
    import datetime as dt

    from django.utils import timezone

    from l2c.apps.tenders.demo import NOTICES, tenders_demo

    anchor = timezone.localtime(timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    run = tenders_demo(users=org.users, anchor=anchor)
    assert TenderNotice.objects.count() == len(NOTICES) == 40
    assert TenderSubscription.objects.count() == 4
    assert run.matches > 10 and run.notifications == 3
    per_user = {username: TenderMatch.objects.filter(user=org[username]).count()
                for username in ("rep1", "rep2", "rep3")}
    assert all(count > 0 for count in per_user.values()), per_user
    again = tenders_demo(users=org.users, anchor=anchor + dt.timedelta(days=1))
    assert again.matches == 0 and TenderNotice.objects.count() == 40


# --- outbox: pushes survive a crash, are never doubled, failed webhooks are retried ---------------
def test_a_run_that_dies_after_committing_matches_loses_no_notification(org, subscribe, monkeypatch):
    from l2c.apps.tenders import services

    subscribe(org["rep1"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2), item(3)])
    real_claim = services._claim_chunk
    calls = []

    def dies_on_the_second_chunk(after, size):
        calls.append(after)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_claim(after, size)

    monkeypatch.setattr(services, "_claim_chunk", dies_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        tender_notices_match(chunk=1)
    assert TenderMatch.objects.count() == 1 and not Notification.objects.exists()
    monkeypatch.undo()

    again = tender_notices_match()

    assert (again.notices, again.matches, again.notifications) == (2, 2, 1)
    notification = Notification.objects.get(recipient=org["rep1"], kind="tender_match")
    assert notification.title == "招投标订阅：3 条新匹配的公告"
    assert TenderMatch.objects.filter(notified_at__isnull=True).count() == 0
    assert tender_notices_match().notifications == 0


def test_a_failing_notification_is_sent_by_the_next_run(org, subscribe, monkeypatch):
    from l2c.apps.tenders import services

    subscribe(org["rep1"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2)])

    def broken(*args, **kwargs):
        raise RuntimeError("notifications table unavailable")

    monkeypatch.setattr(services.Notification.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        tender_notices_match()
    monkeypatch.undo()
    assert TenderMatch.objects.count() == 2
    assert TenderMatch.objects.filter(notified_at__isnull=True).count() == 2  # rolled back with the notification

    again = tender_notices_match()

    assert (again.matches, again.notifications) == (0, 1)
    assert Notification.objects.get(recipient=org["rep1"]).title == "招投标订阅：2 条新匹配的公告"


def test_notifying_marks_each_match_once(org, subscribe):
    from django.db import transaction

    from l2c.apps.tenders.services import _claim_unnotified, _notify_pending

    subscribe(org["rep1"], ["智慧校园"])
    subscribe(org["rep2"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2)])
    tender_notices_match()
    TenderMatch.objects.update(notified_at=None)
    Notification.objects.all().delete()
    with transaction.atomic():
        first = _claim_unnotified()
        second = _claim_unnotified()
    assert sorted(user_id for _pk, user_id in first) == sorted([org["rep1"].pk] * 2 + [org["rep2"].pk] * 2)
    assert second == []
    with transaction.atomic():
        assert _notify_pending() == 0
    assert not Notification.objects.exists()


class _FlakyReceiver(BaseHTTPRequestHandler):
    statuses: list[int] = []
    bodies: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _FlakyReceiver.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(_FlakyReceiver.statuses.pop(0) if _FlakyReceiver.statuses else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_failed_webhook_is_retried_after_a_back_off_and_sent_once(org, subscribe):
    server = HTTPServer(("127.0.0.1", 0), _FlakyReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FlakyReceiver.statuses, _FlakyReceiver.bodies = [500], []
    try:
        subscription = subscribe(org["rep1"], ["智慧校园"],
                                 webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        subscribe(org["rep2"], ["智慧校园"])  # no webhook: nothing to send
        tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2)])
        first = tender_notices_match()
        assert (first.webhooks_sent, len(first.webhook_failures)) == (0, 1)
        assert "attempt 1 of 5" in first.webhook_failures[0] and "HTTP Error 500" in first.webhook_failures[0]
        pending = TenderMatch.objects.filter(subscription=subscription)
        assert list(pending.values_list("webhook_attempts", "webhook_sent_at")) == [(1, None), (1, None)]
        assert TenderMatch.objects.filter(user=org["rep2"], webhook_sent_at__isnull=True).count() == 0

        # Within the back-off nothing is posted.
        assert (tender_notices_match().webhooks_sent, len(_FlakyReceiver.bodies)) == (0, 1)

        pending.update(webhook_next_at=None)  # the back-off is over
        second = tender_notices_match()
        assert (second.webhooks_sent, second.webhook_failures) == (1, [])
        assert tender_notices_match().webhooks_sent == 0
    finally:
        server.shutdown()
        server.server_close()
    assert len(_FlakyReceiver.bodies) == 2
    body = _FlakyReceiver.bodies[1]
    assert (body["subscription_id"], body["count"]) == (subscription.pk, 2)
    assert [notice["match_id"] for notice in body["notices"]] == list(pending.order_by("notice_id").values_list(
        "pk", flat=True))
    assert pending.filter(webhook_sent_at__isnull=True).count() == 0
    assert set(pending.values_list("webhook_attempts", flat=True)) == {2}


def test_a_webhook_is_given_up_after_five_attempts(org, subscribe):
    subscription = subscribe(org["rep1"], ["智慧校园"], webhook_url="http://127.0.0.1:9/closed")
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    runs = []
    for _attempt in range(6):
        runs.append(tender_notices_match())
        TenderMatch.objects.update(webhook_next_at=None)  # skip the back-off
    assert [len(run.webhook_failures) for run in runs] == [1, 1, 1, 1, 1, 0]
    assert [run.webhooks_abandoned for run in runs] == [0, 0, 0, 0, 1, 0]
    match = TenderMatch.objects.get(subscription=subscription)
    assert (match.webhook_attempts, match.webhook_sent_at, match.notified_at is not None) == (5, None, True)


def test_the_run_log_records_webhook_failures(org, subscribe):
    from l2c.apps.activity.jobs import job_enqueue
    from l2c.apps.activity.models import JobRun
    from l2c.apps.tenders.tasks import tender_notices_match_task

    subscribe(org["rep1"], ["智慧校园"], webhook_url="http://127.0.0.1:9/closed")
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    run = job_enqueue(task=tender_notices_match_task, name="tenders.notices_match", actor=None)
    assert run is not None
    tender_notices_match(run_id=run.pk)
    log = JobRun.objects.get(pk=run.pk).log
    assert "webhook of subscription" in str(log) and "attempt 1 of 5" in str(log)


def test_a_batch_with_no_new_notice_is_matched_at_once(org):
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    again = tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    assert again.created == 0
    assert TenderBatch.objects.get(pk=again.batch_id).matched_at is not None
    first = TenderBatch.objects.exclude(pk=again.batch_id).get()
    assert first.matched_at is None  # its notice waits for the matching run


@pytest.mark.parametrize("deadline", ["0001-01-01 00:00", "1899-12-31 23:59", "2201-01-01 00:00",
                                      "9999-12-31 23:59"])
def test_a_deadline_out_of_range_is_a_field_error_not_a_crash(org, deadline):
    with pytest.raises(BatchRejected) as raised:
        tender_batch_ingest(actor=org["marketing"], items=[item(1, deadline_at=deadline)])
    assert [(entry["field"], entry["code"]) for entry in raised.value.items] == [("deadline_at", "invalid_datetime")]
    assert TenderNotice.objects.count() == 0


def test_a_deadline_is_stored_in_utc_and_an_absurd_publish_date_is_refused(org):
    import datetime as dt

    with pytest.raises(BatchRejected) as raised:
        tender_batch_ingest(actor=org["marketing"], items=[item(1, published_on="1899-01-01")])
    assert [(entry["field"], entry["code"]) for entry in raised.value.items] == [("published_on", "invalid_date")]
    tender_batch_ingest(actor=org["marketing"], items=[item(1, deadline_at="2026-12-10 09:30")])
    # The site's time zone (Asia/Shanghai, UTC+8) reads the naive time.
    assert TenderNotice.objects.get().deadline_at == dt.datetime(2026, 12, 10, 1, 30, tzinfo=dt.UTC)


def test_nul_characters_are_field_errors_of_notices_and_subscriptions(org):
    with pytest.raises(BatchRejected) as raised:
        tender_batch_ingest(actor=org["marketing"], items=[item(1, title="a\x00b", categories=["x\x00"],
                                                                content="\x00")])
    assert sorted((entry["field"], entry["code"]) for entry in raised.value.items) == [
        ("categories", "null_character"), ("content", "null_character"), ("title", "null_character")]
    with pytest.raises(ValidationFailed) as failed:
        tender_subscription_create(actor=org["rep1"], data={
            "name": "a\x00", "keywords": ["服务器", "x\x00"], "excluded_words": "监理\x00", "regions": ["广东\x00"],
            "webhook_url": "http://127.0.0.1/\x00"})
    assert sorted((error.field, error.code) for error in failed.value.errors) == [
        ("excluded_words", "null_character"), ("keywords", "null_character"), ("name", "null_character"),
        ("regions", "null_character"), ("webhook_url", "null_character")]
    assert TenderNotice.objects.count() == 0 and TenderSubscription.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_never_notify_a_match_twice(org, subscribe):
    import random
    import time

    from django.db import OperationalError, connection

    for username in ("rep1", "rep2", "rep3"):
        subscribe(org[username], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(number) for number in range(1, 41)])
    tender_notices_match()
    TenderMatch.objects.update(notified_at=None)  # as if the runs that stored them had died
    Notification.objects.all().delete()
    runners = 6
    barrier = threading.Barrier(runners)
    results: list[object] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            deadline = time.monotonic() + 60
            while True:
                try:
                    outcome: object = tender_notices_match().notifications
                    break
                except OperationalError as error:
                    # The in-memory SQLite test database reports a busy table at once: retry like a worker.
                    if connection.vendor != "sqlite" or "locked" not in str(error) or time.monotonic() > deadline:
                        raise
                    time.sleep(random.uniform(0.001, 0.01))
        except Exception as error:  # pragma: no cover - reported by the assertions
            outcome = repr(error)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=work) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Exactly one run notifies, or — on the in-memory SQLite test database, whose busy tables fail at
    # once — a notification attempt may fail and leave its matches for the next run: never twice.
    assert all(isinstance(result, int) for result in results), results
    assert sum(results) in (0, 3), results  # type: ignore[arg-type]
    if connection.vendor == "postgresql":  # real row locks: exactly one run notifies
        assert sorted(results, key=str) == sorted([0] * (runners - 1) + [3], key=str)
    tender_notices_match()  # the periodic run sends whatever is left
    assert Notification.objects.count() == 3
    assert not TenderMatch.objects.filter(notified_at__isnull=True).exists()
    assert Notification.objects.filter(kind="tender_match").count() == 3
    assert set(Notification.objects.values_list("title", flat=True)) == {"招投标订阅：40 条新匹配的公告"}
    assert TenderMatch.objects.filter(notified_at__isnull=True).count() == 0
