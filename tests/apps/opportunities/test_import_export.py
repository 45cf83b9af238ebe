"""Opportunity import and export: every bad cell reported on its own, set-based commit with stage
history, competitors, audit and health; export limited to what the user may export."""

from __future__ import annotations

import csv
import io
from typing import Any

from l2c.apps.activity import imports
from l2c.apps.activity.models import AuditEvent, ImportJob
from tests.conftest import Org, make_account

HEADER = ["商机名称", "客户", "负责人", "金额（元）", "预计成交日期", "销售流程", "阶段", "竞争对手"]


def csv_bytes(rows: list[list[str]]) -> bytes:
    return "\r\n".join(",".join(row) for row in rows).encode() + b"\r\n"


def test_import_validates_each_cell_and_commits_set_based(org: Org, django_capture_on_commit_callbacks: Any) -> None:
    from l2c.apps.opportunities.models import Opportunity, StageHistory

    manager = org["manager"]
    account = make_account(org["rep1"], name="北京星河科技有限公司")
    hidden = make_account(org["rep3"], name="上海云杉信息技术有限公司")
    content = csv_bytes([
        HEADER,
        ["星河 一期", "北京星河科技有限公司", "rep1", "1280000.50", "2026-12-31", "项目型销售", "需求确认",
         "华为、新华三"],
        ["星河 二期", str(account.pk), "", "5000", "", "quick", "", ""],
        ["", hidden.name, "rep3", "12.345", "2026-13-01", "不存在的流程", "", ""],
        ["星河 三期", "北京星河科技有限公司", "nobody", "1", "", "项目型销售", "赢单", ""],
    ])
    job = imports.import_upload(actor=manager, object_type="opportunity", file_name="deals.csv", content=content)
    job = imports.import_validate(actor=manager, import_id=job.pk)
    assert (job.total_rows, job.valid_rows) == (4, 2)
    assert [(error["row"], error["field"]) for error in job.errors] == [
        (3, "name"), (3, "account"), (3, "owner"), (3, "amount"), (3, "close_date"), (3, "process"),
        (4, "owner"), (4, "stage")]
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_commit(actor=manager, import_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).created_rows == 2
    first = Opportunity.objects.get(name="星河 一期")
    assert (first.owner, first.amount, first.stage.name, first.source, first.status) == (
        org["rep1"], 128_000_050, "需求确认", "import", "open")
    assert sorted(first.competitors.values_list("name", flat=True)) == ["华为", "新华三"]
    second = Opportunity.objects.get(name="星河 二期")
    assert (second.owner, second.process.code, second.stage.name) == (manager, "quick", "意向确认")
    assert StageHistory.objects.filter(opportunity__in=[first, second], exited_at__isnull=True).count() == 2
    assert AuditEvent.objects.filter(object_type="opportunity", action="import").count() == 2
    assert first.health_index is not None


def test_export_lists_only_what_the_user_may_export(org: Org, api_client_for: Any) -> None:
    from l2c.apps.opportunities.services import opportunity_create

    mine = opportunity_create(actor=org["rep1"], data={"name": "=HYPERLINK(\"x\")", "account_id": make_account(
        org["rep1"]).pk, "amount": "100"})
    opportunity_create(actor=org["rep3"], data={"name": "别人的", "account_id": make_account(
        org["rep3"], name="上海云杉信息技术有限公司").pk})
    response = api_client_for("rep1").get("/api/v1/exports/opportunity?format=csv")
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [str(mine.pk)]
    assert not rows[1][1].startswith("=")  # no formula cells
