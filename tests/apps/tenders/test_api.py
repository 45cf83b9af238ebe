"""Tender API: ingest permissions per role (a denied call stores nothing), all-or-nothing 422 with
per-item errors, Idempotency-Key, list filters and query budget, subscriptions, inbox."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.apps.tenders.models import TenderBatch, TenderMatch, TenderNotice, TenderSubscription
from l2c.apps.tenders.services import tender_batch_ingest, tender_notices_match
from tests.apps.tenders.conftest import item

BATCH = "/api/v1/tenders/notices/batch"


def post(client, url, body, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


@pytest.mark.parametrize(("username", "status"), [
    ("admin", 200), ("marketing", 200), ("manager", 403), ("rep1", 403), ("presales", 403), ("finance", 403),
    (None, 401),
])
def test_who_may_ingest(org, api_client_for, username, status):
    response = post(api_client_for(username), BATCH, {"items": [item(1)]})
    assert response.status_code == status, response.content
    assert TenderNotice.objects.count() == (1 if status == 200 else 0)
    assert TenderBatch.objects.count() == (1 if status == 200 else 0)


def test_a_bad_item_rejects_the_batch_with_per_item_errors(org, api_client_for):
    response = post(api_client_for("marketing"), BATCH, {"items": [item(1), item(2, title="   ")]})
    assert response.status_code == 422
    body = response.json()
    assert body["items"] == [{"index": 1, "source_notice_id": "N-2", "field": "title", "message": "此项为必填项。",
                              "code": "required"}]
    assert body["errors"][0]["field"] == "items.1.title"
    assert TenderNotice.objects.count() == 0


def test_idempotency_key_replays_the_first_response(org, api_client_for):
    client = api_client_for("marketing")
    first = post(client, BATCH, {"items": [item(1)]}, HTTP_IDEMPOTENCY_KEY="k1")
    again = post(client, BATCH, {"items": [item(1)]}, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["items"][0]["status"] == "created"
    other = post(client, BATCH, {"items": [item(2)]}, HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 422
    assert TenderNotice.objects.count() == 1 and TenderBatch.objects.count() == 1


def test_a_resent_batch_reports_unchanged(org, api_client_for):
    client = api_client_for("marketing")
    post(client, BATCH, {"items": [item(1)]})
    response = post(client, BATCH, {"items": [item(1, title="新标题"), item(2)]})
    assert [entry["status"] for entry in response.json()["items"]] == ["unchanged", "created"]
    assert response.json()["created"] == 1 and response.json()["unchanged"] == 1


def test_finance_cannot_see_notices(org, api_client_for):
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    notice = TenderNotice.objects.get()
    client = api_client_for("finance")
    assert client.get("/api/v1/tenders/notices").status_code == 403
    assert client.get(f"/api/v1/tenders/notices/{notice.pk}").status_code == 404
    rep = api_client_for("rep1")
    detail = rep.get(f"/api/v1/tenders/notices/{notice.pk}").json()
    assert detail["content"] == "采购内容：服务器、交换机、网络安全设备。"


def test_notice_list_filters(org, api_client_for):
    tender_batch_ingest(actor=org["marketing"], items=[
        item(1), item(2, province="浙江省", city="杭州市", kind="award", published_on="2026-10-01"),
        item(3, title="医院设备采购", buyer_name="杭州市第一人民医院", province="浙江省")])
    client = api_client_for("rep1")

    def ids(query):
        response = client.get(f"/api/v1/tenders/notices?{query}")
        assert response.status_code == 200, response.content
        return [row["source_notice_id"] for row in response.json()["items"]]

    assert ids("") == ["N-3", "N-2", "N-1"]
    assert ids("province=浙江") == ["N-3", "N-2"]
    assert ids("kind=award") == ["N-2"]
    assert ids("q=人民医院") == ["N-3"]
    assert ids("published_from=2026-11-01") == ["N-3", "N-1"]
    assert ids("published_to=2026-10-31") == ["N-2"]
    assert client.get("/api/v1/tenders/notices?kind=auction").status_code == 422
    page = client.get("/api/v1/tenders/notices?limit=2").json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(f"/api/v1/tenders/notices?limit=2&cursor={page['next_cursor']}").json()
    assert [row["source_notice_id"] for row in rest["items"]] == ["N-1"]


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


def test_notice_list_and_inbox_query_count_does_not_grow_with_rows(org, api_client_for, subscribe):
    client = api_client_for("rep1")
    client.get("/api/v1/me")
    subscribe(org["rep1"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    tender_notices_match()
    small = (_queries(client, "/api/v1/tenders/notices?limit=50"), _queries(client, "/api/v1/tenders/inbox"))
    tender_batch_ingest(actor=org["marketing"], items=[item(number) for number in range(2, 70)])
    tender_notices_match()
    large = (_queries(client, "/api/v1/tenders/notices?limit=50"), _queries(client, "/api/v1/tenders/inbox"))
    assert small == large
    assert large[0] <= 4


def test_subscriptions_crud_are_personal(org, api_client_for):
    rep1, rep2 = api_client_for("rep1"), api_client_for("rep2")
    created = post(rep1, "/api/v1/tenders/subscriptions", {"name": "校园", "keywords": ["智慧校园"],
                                                            "regions": ["广东"], "budget_min": 100})
    assert created.status_code == 201, created.content
    subscription_id = created.json()["id"]
    assert rep2.get(f"/api/v1/tenders/subscriptions/{subscription_id}").status_code == 404
    assert rep2.get("/api/v1/tenders/subscriptions").json() == []
    denied = rep2.patch(f"/api/v1/tenders/subscriptions/{subscription_id}", data=json.dumps({"name": "x"}),
                        content_type="application/json")
    assert denied.status_code == 404
    assert TenderSubscription.objects.get().name == "校园"
    bad = rep1.patch(f"/api/v1/tenders/subscriptions/{subscription_id}", data=json.dumps({"budget_max": 50}),
                     content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "budget_max"
    changed = rep1.patch(f"/api/v1/tenders/subscriptions/{subscription_id}", data=json.dumps({"match_all": True}),
                         content_type="application/json")
    assert changed.json()["match_all"] is True and changed.json()["regions"] == ["广东"]
    assert rep2.delete(f"/api/v1/tenders/subscriptions/{subscription_id}").status_code == 404
    assert rep1.delete(f"/api/v1/tenders/subscriptions/{subscription_id}").status_code == 204
    assert not TenderSubscription.objects.exists()
    assert post(api_client_for("finance"), "/api/v1/tenders/subscriptions",
                {"name": "x", "keywords": ["a"]}).status_code == 403


def test_inbox_unread_count_and_read(org, api_client_for, subscribe):
    subscribe(org["rep1"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2)])
    tender_notices_match()
    client = api_client_for("rep1")
    inbox = client.get("/api/v1/tenders/inbox").json()
    assert inbox["unread_count"] == 2
    assert [row["notice"]["source_notice_id"] for row in inbox["items"]] == ["N-2", "N-1"]
    assert inbox["items"][0]["matched_keywords"] == ["智慧校园"]
    first = inbox["items"][0]["id"]
    assert post(api_client_for("rep2"), "/api/v1/tenders/inbox/read", {"ids": [first]}).json()["updated"] == 0
    assert post(client, "/api/v1/tenders/inbox/read", {"ids": [first]}).json() == {"updated": 1, "unread_count": 1}
    unread = client.get("/api/v1/tenders/inbox?unread_only=true").json()["items"]
    assert [row["notice"]["source_notice_id"] for row in unread] == ["N-1"]
    assert post(client, "/api/v1/tenders/inbox/read", {}).json() == {"updated": 1, "unread_count": 0}
    assert TenderMatch.objects.filter(read_at__isnull=True).count() == 0


def test_search_existing_notices_is_shown_not_pushed(org, api_client_for, subscribe):
    from django.utils import timezone

    today = timezone.localdate().isoformat()
    tender_batch_ingest(actor=org["marketing"], items=[item(1, published_on=today), item(2, published_on="2020-01-01"),
                                                       item(3, title="无关", published_on=today)])
    tender_notices_match()
    subscription = subscribe(org["rep1"], ["智慧校园"])
    response = api_client_for("rep1").get(f"/api/v1/tenders/subscriptions/{subscription.pk}/search?days=30")
    assert response.status_code == 200, response.content
    assert [row["notice"]["source_notice_id"] for row in response.json()["items"]] == ["N-1"]
    assert TenderMatch.objects.count() == 0


def test_type_errors_in_a_batch_are_reported_per_item(org, api_client_for):
    client = api_client_for("marketing")
    response = post(client, BATCH, {"items": [
        item(1), item(2, published_on="2026-13-01", budget_amount="abc"), item(3, deadline_at=True, budget_amount=1.5),
        item(4, budget_amount=True, published_on=20261301)]})
    assert response.status_code == 422, response.content
    found = [(entry["index"], entry["source_notice_id"], entry["field"], entry["code"])
             for entry in response.json()["items"]]
    assert found == [
        (1, "N-2", "budget_amount", "invalid_amount"), (1, "N-2", "published_on", "invalid_date"),
        (2, "N-3", "budget_amount", "invalid_amount"), (2, "N-3", "deadline_at", "invalid_datetime"),
        (3, "N-4", "budget_amount", "invalid_amount"), (3, "N-4", "published_on", "invalid_date")]
    assert response.json()["items"][1]["message"] == "日期格式应为 YYYY-MM-DD。"
    english = post(client, BATCH, {"items": [item(2, published_on="2026-13-01")]}, HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["items"][0]["message"] == "Dates are written YYYY-MM-DD."
    assert TenderNotice.objects.count() == 0 and TenderBatch.objects.count() == 0


def test_a_deadline_with_an_offset_is_stored_in_utc(org, api_client_for):
    import datetime as dt

    response = post(api_client_for("marketing"), BATCH, {"items": [item(1, deadline_at="2026-12-10T09:30:00+08:00")]})
    assert response.status_code == 200, response.content
    assert TenderNotice.objects.get().deadline_at == dt.datetime(2026, 12, 10, 1, 30, tzinfo=dt.UTC)


def test_the_batch_schema_documents_integer_amounts_and_iso_dates(org, api_client_for):
    schema = api_client_for("rep1").get("/api/v1/openapi.json").json()["components"]["schemas"]["NoticeIn"]
    properties = schema["properties"]
    assert properties["budget_amount"]["anyOf"] == [{"type": "integer", "minimum": 0}, {"type": "null"}]
    assert properties["published_on"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert properties["deadline_at"]["anyOf"][0] == {"type": "string", "format": "date-time"}
