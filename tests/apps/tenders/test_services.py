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
