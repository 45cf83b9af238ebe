"""Import of customer transactions through the generic import machinery: account by id, credit code
or exact name; errors per cell; idempotent on reference; export."""

from __future__ import annotations

import csv
import io

from django.test import Client
from django.utils import translation

from l2c.apps.activity import imports
from l2c.apps.activity.models import AuditEvent, ImportJob
from l2c.apps.customers.models import CustomerTransaction
from l2c.kernel.errors import PermissionDenied
from tests.conftest import make_account

CODE = "91110108551385082Q"
HEADER = ["客户", "交易日期", "金额", "币种", "订单号", "备注"]


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def validate(user, rows: list[list[str]]) -> ImportJob:
    job = imports.import_upload(actor=user, object_type="transaction", file_name="orders.csv",
                                content=csv_bytes([HEADER, *rows]))
    return imports.import_validate(actor=user, import_id=job.pk)


def commit(user, job: ImportJob, capture) -> ImportJob:
    with capture(execute=True):
        imports.import_commit(actor=user, import_id=job.pk)
    return ImportJob.objects.get(pk=job.pk)


def test_headers_map_to_the_transaction_columns(org):
    job = validate(org["manager"], [])

    assert job.mapping == {"客户": "account", "交易日期": "occurred_on", "金额": "amount", "币种": "currency",
                           "订单号": "reference", "备注": "note"}


def test_import_resolves_accounts_by_id_code_or_name_and_is_idempotent(org, django_capture_on_commit_callbacks):
    manager = org["manager"]
    by_code = make_account(org["rep1"], "北京星河科技有限公司", credit_code=CODE)
    by_name = make_account(org["rep2"], "天津海风贸易有限公司")
    by_id = make_account(org["rep1"], "北京编号科技有限公司")
    rows = [
        [CODE, "2026-03-01", "12800.00", "CNY", "SO-1", "首单"],
        ["天津海风贸易有限公司", "2026/3/2", "1,000", "", "SO-2", ""],
        [str(by_id.pk), "2026年3月3日", "99.9", "usd", "", ""],
    ]

    job = commit(manager, validate(manager, rows), django_capture_on_commit_callbacks)

    assert (job.status, job.total_rows, job.valid_rows, job.created_rows, job.error_count, job.errors) == (
        "done", 3, 3, 3, 0, [])
    stored = sorted(CustomerTransaction.objects.values_list("account_id", "occurred_on", "amount_minor", "currency",
                                                            "reference", "source", "note", "created_by_id"))
    assert [(row[0], row[1].isoformat(), *row[2:]) for row in stored] == [
        (by_code.pk, "2026-03-01", 1280000, "CNY", "SO-1", "import", "首单", manager.pk),
        (by_name.pk, "2026-03-02", 100000, "CNY", "SO-2", "import", "", manager.pk),
        (by_id.pk, "2026-03-03", 9990, "USD", "", "import", "", manager.pk),
    ]
    events = AuditEvent.objects.filter(action="import", object_type="account").order_by("object_id")
    assert [(event.object_id, event.changes["transaction"][1]["amount_minor"]) for event in events] == [
        (by_code.pk, 1280000), (by_name.pk, 100000), (by_id.pk, 9990)]

    again = validate(manager, rows[:2])
    assert (again.valid_rows, again.error_count, again.warning_count) == (2, 0, 2)
    assert again.warnings[0]["message"] == "这个客户已导入过单据号“SO-1”，将跳过这一行"
    again = commit(manager, again, django_capture_on_commit_callbacks)
    assert (again.status, again.created_rows) == ("done", 0)
    assert CustomerTransaction.objects.count() == 3


def test_each_bad_cell_is_reported_on_its_own(org):
    make_account(org["rep1"], "北京星河科技有限公司")
    make_account(org["rep1"], "同名公司", confirm_duplicates=True)
    make_account(org["rep2"], "同名公司", confirm_duplicates=True)

    with translation.override("zh-hans"):
        job = validate(org["manager"], [
            ["北京星河科技有限公司", "2026-13-01", "12.345", "EURO", "SO-1", ""],
            ["同名公司", "2026-03-01", "1", "", "", ""],
            ["上海不存在公司", "2026-03-01", "abc", "", "", ""],
            ["", "", "", "", "", ""],
            ["北京星河科技有限公司", "2026-03-01", "5", "", "SO-9", ""],
            ["北京星河科技有限公司", "2026-03-02", "6", "", "SO-9", ""],
        ])

    errors = [(error["row"], error["field"], error["message"]) for error in job.errors]
    assert errors == [
        (1, "currency", "不支持的币种“EURO”：请填写 ISO 4217 三位字母代码，如 CNY、USD。"),
        (1, "occurred_on", "“2026-13-01”不是有效的日期，请使用 2026-03-01 这样的格式"),
        (1, "amount", "金额最多 2 位小数（CNY）"),
        (2, "account", "有多个名为“同名公司”的客户，请改用统一社会信用代码或客户编号"),
        (3, "account", "没有编号、统一社会信用代码或名称为“上海不存在公司”且你可以编辑的客户"),
        (3, "amount", "“abc”不是有效的金额"),
        (6, "reference", "与第 5 行是同一客户的同一单据号"),
    ]
    assert (job.total_rows, job.valid_rows, job.error_count) == (5, 1, 7)  # the blank row is not a row
    assert not CustomerTransaction.objects.exists()


def test_rep_cannot_import_but_may_export_own_transactions(org):
    mine = make_account(org["rep1"], "北京星河科技有限公司")
    other = make_account(org["rep2"], "天津海风贸易有限公司")
    for account, amount in ((mine, 150), (other, 999)):
        CustomerTransaction.objects.create(account=account, occurred_on="2026-03-01", amount_minor=amount,
                                           reference=f"R{amount}")

    try:
        imports.import_upload(actor=org["rep1"], object_type="transaction", file_name="orders.csv",
                              content=csv_bytes([HEADER]))
    except PermissionDenied:
        denied = True
    else:
        denied = False
    client = Client()
    client.force_login(org["rep1"])
    response = client.get("/export/", {"object_type": "transaction", "format": "csv"})

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert denied
    assert rows[0][:7] == ["编号", "客户", "交易日期", "金额（元）", "币种", "单据号", "备注"]
    assert [row[1:6] for row in rows[1:]] == [["北京星河科技有限公司", "2026-03-01", "1.50", "CNY", "R150"]]


def test_deleting_a_transaction_through_another_accounts_page_is_404_and_a_bad_export_filter_is_422(org):
    mine = make_account(org["rep1"], "北京删除测试有限公司")
    hidden = make_account(org["rep2"], "天津别人的有限公司")
    theirs = CustomerTransaction.objects.create(account=hidden, occurred_on="2026-03-01", amount_minor=100,
                                                reference="T-1")
    client = Client()
    client.force_login(org["rep1"])

    through_mine = client.post(f"/accounts/{mine.pk}/transactions/{theirs.pk}/delete/")
    through_theirs = client.post(f"/accounts/{hidden.pk}/transactions/{theirs.pk}/delete/")
    bad_filter = client.get("/export/", {"object_type": "transaction", "format": "csv", "account_id": "abc"})

    assert (through_mine.status_code, through_theirs.status_code) == (404, 404)
    assert CustomerTransaction.objects.filter(pk=theirs.pk).exists()
    assert bad_filter.status_code == 400  # the export page answers a bad filter with 400 and its message
