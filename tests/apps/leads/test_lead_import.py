"""Lead import and export: per-row validation report, the same person merged (stored lead the
importer sees, or an earlier row) instead of duplicated, a hidden same person refused, owners and
campaigns resolved."""

from __future__ import annotations

from typing import Any

import pytest

from l2c.apps.activity import imports
from l2c.apps.activity.models import AuditEvent
from l2c.apps.leads import services
from l2c.apps.leads.models import Lead
from tests.apps.activity.test_imports import commit, csv_bytes, upload

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "公司", "手机", "邮箱", "省份", "负责人"]


def _import(user: Any, rows: list[list[str]], capture: Any) -> Any:
    job = upload(user, csv_bytes([HEADER, *rows]), file_name="leads.csv", object_type="lead")
    job = imports.import_validate(actor=user, import_id=job.pk)
    return job


def test_rows_are_validated_and_committed_with_owners(org: Any, django_capture_on_commit_callbacks: Any) -> None:
    manager = org["manager"]
    job = _import(manager, [
        ["张伟", "杭州云帆", "13800138000", "zw@example.com", "浙江", "rep1"],
        ["", "", "13900139000", "", "", ""],
        ["李娜", "南京数科", "12", "bad@", "江苏", "nobody"],
        ["王芳", "苏州智造", "13700137000", "", "江苏", ""],
    ], django_capture_on_commit_callbacks)
    assert sorted((error["row"], error["field"]) for error in job.errors) == [
        (2, "name"), (3, "email"), (3, "mobile"), (3, "owner")]
    job = commit(manager, job, django_capture_on_commit_callbacks)
    leads = {lead.name: lead for lead in Lead.objects.all()}
    assert sorted(leads) == ["张伟", "王芳"]
    assert (leads["张伟"].owner_id, leads["张伟"].department_id, leads["张伟"].source) == (
        org["rep1"].pk, org.north.pk, "import")
    assert leads["王芳"].owner_id is None  # no owner column value and no rule: left for routing
    assert AuditEvent.objects.filter(object_type="lead", action="import").count() == 2


def test_the_same_person_is_merged_not_duplicated(org: Any, django_capture_on_commit_callbacks: Any) -> None:
    marketing = org["marketing"]
    stored = services.lead_create(actor=marketing, data={"name": "张伟", "mobile": "13800138000"})
    job = _import(marketing, [
        ["张伟", "杭州云帆", "+86 138 0013 8000", "zw@example.com", "浙江", ""],
        ["王芳", "", "13700137000", "", "", ""],
        ["王芳", "苏州智造", "13700137000", "wf@example.com", "江苏", ""],
    ], django_capture_on_commit_callbacks)
    assert job.errors == []
    assert sorted((warning["row"], warning["message"]) for warning in job.warnings) == [
        (1, f"与已有线索 #{stored.pk} 是同一人；将补充它的空白字段，不新建线索。"),
        (3, "与第 2 行是同一人；将合并到该行的线索。")]
    commit(marketing, job, django_capture_on_commit_callbacks)
    assert Lead.objects.count() == 2
    stored.refresh_from_db()
    assert (stored.company, stored.email, stored.province) == ("杭州云帆", "zw@example.com", "浙江")
    merged = Lead.objects.get(name="王芳")
    assert (merged.company, merged.email, merged.province) == ("苏州智造", "wf@example.com", "江苏")


def test_a_person_held_in_a_lead_the_importer_may_not_see_is_refused(
        org: Any, django_capture_on_commit_callbacks: Any) -> None:
    services.lead_create(actor=org["rep3"], data={"name": "张伟", "mobile": "13800138000"})
    job = _import(org["manager"], [["张伟", "杭州云帆", "13800138000", "", "", ""]],
                  django_capture_on_commit_callbacks)
    assert [(error["row"], error["message"]) for error in job.errors] == [
        (1, "已有同一人的线索（你无权查看或编辑），不能导入；请联系其负责人或管理员。")]
    assert "rep3" not in str(job.errors)


def test_export_holds_the_visible_leads_only(org: Any, client: Any) -> None:
    services.lead_create(actor=org["rep1"], data={"name": "张伟", "company": "杭州云帆", "mobile": "13800138000"})
    services.lead_create(actor=org["rep2"], data={"name": "李娜", "mobile": "13900139000"})
    client.force_login(org["rep1"])
    response = client.get("/export/?object_type=lead&format=csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig") if response.streaming else \
        response.content.decode("utf-8-sig")
    assert "张伟" in text and "李娜" not in text
