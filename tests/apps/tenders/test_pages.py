"""Tender pages (content escaped, the lead button, inbox and unread count, subscription form) and
the file import (all or nothing per file; re-import creates nothing)."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.test import Client

from l2c.apps.activity import imports
from l2c.apps.activity.models import ImportJob
from l2c.apps.tenders.models import TenderBatch, TenderMatch, TenderNotice, TenderSubscription
from l2c.apps.tenders.services import tender_batch_ingest, tender_notices_match
from tests.apps.tenders.conftest import item

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_notice_content_and_title_render_escaped_and_the_lead_button_posts_to_leads(org):
    tender_batch_ingest(actor=org["marketing"], items=[item(1, title=f"标题{XSS}", content=f"第一行\n{XSS}",
                                                            buyer_name=XSS)])
    notice = TenderNotice.objects.get()
    client = client_for(org["rep1"])
    for url in ("/tenders/", f"/tenders/notices/{notice.pk}/"):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    html = client.get(f"/tenders/notices/{notice.pk}/").content.decode()
    assert "第一行<br>" in html
    assert f'action="/leads/from-notice/{notice.pk}/"' in html and "转为线索" in html


def test_pages_need_the_grant(org):
    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    notice = TenderNotice.objects.get()
    finance = client_for(org["finance"])
    assert finance.get("/tenders/").status_code == 403
    assert finance.get(f"/tenders/notices/{notice.pk}/").status_code == 404
    assert finance.get("/tenders/inbox/").status_code == 403
    assert "/tenders/" not in finance.get("/").content.decode()
    assert 'href="/tenders/"' in client_for(org["rep1"]).get("/").content.decode()


def test_inbox_shows_unread_and_opening_a_notice_marks_it_read(org, subscribe):
    subscribe(org["rep1"], ["智慧校园"])
    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2)])
    tender_notices_match()
    client = client_for(org["rep1"])
    html = client.get("/tenders/inbox/").content.decode()
    assert html.count("data-unread>") == 2 and "2 条未读" in html
    notice = TenderNotice.objects.get(source_notice_id="N-1")
    detail = client.get(f"/tenders/notices/{notice.pk}/").content.decode()
    assert "命中你的订阅" in detail and "智慧校园" in detail
    assert TenderMatch.objects.filter(read_at__isnull=True).count() == 1
    client.post("/tenders/inbox/read/")
    assert TenderMatch.objects.filter(read_at__isnull=True).count() == 0


def test_subscription_form_creates_edits_and_reports_errors(org):
    client = client_for(org["rep1"])
    bad = client.post("/tenders/subscriptions/new/", {"name": "", "keywords": "", "budget_min": "abc"})
    assert bad.status_code == 422 and TenderSubscription.objects.count() == 0
    assert "请至少填写一个关键词。" in bad.content.decode()
    response = client.post("/tenders/subscriptions/new/", {
        "name": "校园", "keywords": "智慧校园，服务器\n交换机", "regions": "广东/深圳", "budget_min": "100000",
        "budget_max": "5,000,000.50", "kinds": ["tender"], "is_active": "on"})
    assert response.status_code == 302
    subscription = TenderSubscription.objects.get()
    assert (subscription.keywords, subscription.budget_min, subscription.budget_max, subscription.kinds) == (
        ["智慧校园", "服务器", "交换机"], 100_000_00, 500_000_050, ["tender"])
    assert subscription.user_id == org["rep1"].pk
    assert client_for(org["rep2"]).get(f"/tenders/subscriptions/{subscription.pk}/edit/").status_code == 404
    html = client.get("/tenders/subscriptions/").content.decode()
    assert "智慧校园、服务器、交换机" in html
    search = client.get(f"/tenders/subscriptions/{subscription.pk}/search/?days=7")
    assert search.status_code == 200
    client.post(f"/tenders/subscriptions/{subscription.pk}/delete/")
    assert not TenderSubscription.objects.exists()


HEADER = ["信息来源", "来源公告编号", "公告类型", "标题", "采购单位", "省份", "城市", "预算金额（元）", "发布日期",
          "正文"]


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _row(number: int, **changes: str) -> list[str]:
    values = {"source": "ccgp", "id": f"F-{number}", "kind": "招标公告", "title": f"智慧校园项目{number}",
              "buyer": "深圳市第一中学", "province": "广东省", "city": "深圳市", "budget": "350000.00",
              "published": "2026-11-20", "content": "服务器"}
    values.update(changes)
    return list(values.values())


def _import(user: Any, content: bytes, capture: Any) -> ImportJob:
    job = imports.import_upload(actor=user, object_type="tender_notice", file_name="notices.csv", content=content)
    job = imports.import_validate(actor=user, import_id=job.pk)
    if job.valid_rows:
        with capture(execute=True):
            imports.import_commit(actor=user, import_id=job.pk)
    return ImportJob.objects.get(pk=job.pk)


def test_file_import_is_all_or_nothing_and_idempotent(org, django_capture_on_commit_callbacks, subscribe):
    subscribe(org["rep1"], ["智慧校园"])
    bad = _import(org["marketing"], _csv([_row(1), _row(2, budget="-3"), _row(3)]), django_capture_on_commit_callbacks)
    assert (bad.status, bad.valid_rows) == ("validated", 0)
    assert {error["field"] for error in bad.errors} == {"budget", "file"}
    assert TenderNotice.objects.count() == 0

    good = _import(org["marketing"], _csv([_row(1), _row(2), _row(2)]), django_capture_on_commit_callbacks)
    assert (good.status, good.created_rows, good.warning_count) == ("done", 2, 1)
    assert TenderBatch.objects.get().via == "import"
    notice = TenderNotice.objects.get(source_notice_id="F-1")
    assert (notice.kind, notice.budget_amount, notice.province) == ("tender", 350_000_00, "广东省")
    # matched after the commit
    assert TenderMatch.objects.filter(user=org["rep1"]).count() == 2

    again = _import(org["marketing"], _csv([_row(1), _row(2)]), django_capture_on_commit_callbacks)
    assert (again.valid_rows, again.warning_count) == (2, 2)
    assert TenderNotice.objects.count() == 2


def test_a_rep_may_not_import(org):
    import pytest

    from l2c.kernel.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        imports.import_upload(actor=org["rep1"], object_type="tender_notice", file_name="n.csv", content=_csv([]))


def test_the_lead_button_is_shown_only_to_who_may_create_leads(org):
    from l2c.apps.identity import access

    tender_batch_ingest(actor=org["marketing"], items=[item(1)])
    notice = TenderNotice.objects.get()
    for username in ("rep1", "presales"):
        html = client_for(org[username]).get(f"/tenders/notices/{notice.pk}/").content.decode()
        may_create = access.can(org[username], "lead", "create")
        assert ("data-to-lead" in html) is may_create, username
        assert (f'action="/leads/from-notice/{notice.pk}/"' in html) is may_create, username
    assert access.can(org["rep1"], "lead", "create") and not access.can(org["presales"], "lead", "create")


def test_nul_characters_in_filters_and_exports_are_dropped(org):
    # Pages refuse NUL with a 400 (web middleware) and the API with a 422 (its parser); the list
    # selector and the export behind them drop it themselves, whoever calls them.
    from l2c.apps.tenders.importers import _export_queryset
    from l2c.apps.tenders.selectors import tender_notice_list

    tender_batch_ingest(actor=org["marketing"], items=[item(1), item(2, province="浙江省")])
    for filters in ({"q": "\x00"}, {"province": "\x00"}, {"q": "智\x00", "province": "广\x00"},
                    {"published_from": "abc", "published_to": "\x00"}):
        listed = sorted(tender_notice_list(user=org["rep1"], filters=filters).values_list("source_notice_id",
                                                                                          flat=True))
        exported = sorted(_export_queryset(org["rep1"], filters).values_list("source_notice_id", flat=True))
        expected = ["N-1"] if filters.get("province") == "广\x00" else ["N-1", "N-2"]
        assert listed == exported == expected, filters


def test_a_year_one_deadline_in_a_file_is_a_row_error(org, django_capture_on_commit_callbacks):
    header = [*HEADER, "截止时间"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[*_row(1), "2026-12-10 09:30"], [*_row(2), "0001-01-01 00:00"]])
    job = _import(org["marketing"], buffer.getvalue().encode(), django_capture_on_commit_callbacks)
    assert (job.status, job.valid_rows) == ("validated", 0)
    assert [(error["row"], error["field"]) for error in job.errors if error["field"] != "file"] == [(2, "deadline_at")]
    assert TenderNotice.objects.count() == 0


def test_a_file_over_the_row_limit_spans_two_chunks_and_is_refused_whole_at_commit(
        org, django_capture_on_commit_callbacks):
    from l2c.apps.tenders.importers import MAX_FILE_ROWS

    assert MAX_FILE_ROWS == imports.CHUNK_ROWS == 5000
    user = org["marketing"]
    content = _csv([_row(number) for number in range(1, MAX_FILE_ROWS + 2)])
    job = imports.import_upload(actor=user, object_type="tender_notice", file_name="big.csv", content=content)
    job = imports.import_validate(actor=user, import_id=job.pk)
    # The dry run validates the first chunk before it meets the row beyond the limit in the second.
    assert (job.total_rows, job.valid_rows, job.error_count) == (MAX_FILE_ROWS + 1, MAX_FILE_ROWS, 1)
    assert [(error["row"], error["field"], error["message"]) for error in job.errors] == [
        (MAX_FILE_ROWS + 1, "file", "一个文件最多 5000 条公告，请拆分后分别导入。")]

    with django_capture_on_commit_callbacks(execute=True):
        imports.import_commit(actor=user, import_id=job.pk)

    job = ImportJob.objects.get(pk=job.pk)
    assert (job.status, job.created_rows, job.error_count) == ("done", 0, MAX_FILE_ROWS + 1)
    assert (job.errors[0]["row"], job.errors[0]["field"]) == (1, "file")
    assert job.errors[0]["message"] == "文件中有 1 处错误，整个文件都不会导入：请改正后重新上传。"
    assert TenderNotice.objects.count() == 0 and TenderBatch.objects.count() == 0


def test_blank_lines_do_not_count_towards_the_row_limit(org, django_capture_on_commit_callbacks):
    from l2c.apps.tenders.importers import MAX_FILE_ROWS

    rows = [_row(number) for number in range(1, MAX_FILE_ROWS)]  # 4,999 rows
    rows[10:10] = [[""] * len(HEADER)]
    rows[20:20] = [[""] * len(HEADER)]
    job = _import(org["marketing"], _csv(rows), django_capture_on_commit_callbacks)
    assert (job.status, job.error_count, job.created_rows) == ("done", 0, MAX_FILE_ROWS - 1)
    assert TenderNotice.objects.count() == MAX_FILE_ROWS - 1


def test_a_valid_file_is_not_refused_because_of_another_import_with_errors(org, django_capture_on_commit_callbacks):
    user = org["marketing"]
    other = imports.import_upload(actor=user, object_type="tender_notice", file_name="other.csv",
                                  content=_csv([_row(9)]))
    ImportJob.objects.filter(pk=other.pk).update(status=ImportJob.Status.IMPORTING, error_count=3)
    job = _import(user, _csv([_row(1), _row(2)]), django_capture_on_commit_callbacks)
    assert (job.status, job.error_count, job.created_rows) == ("done", 0, 2)
    assert TenderNotice.objects.count() == 2
