"""Bulk import of accounts and contacts: upload, mapping, dry run, background commit, UI and API."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from ninja import NinjaAPI
from openpyxl import Workbook

from l2c.apps.activity import imports
from l2c.apps.activity.import_api import router as import_router
from l2c.apps.activity.models import AuditEvent, CustomField, ImportJob, JobRun
from l2c.apps.customers.models import Account, Contact, Tag
from l2c.kernel.errors import Conflict, FieldError, PermissionDenied, ValidationFailed
from l2c.kernel.uscc import uscc_generate
from tests.conftest import make_account

CODE_A = "91110108551385082Q"
CODE_B = "914403001922038216"
BAD_CODE = "91110108551385082A"


# --- a URLconf with the import router mounted (the product mounts it in l2c.api.root) -------------
def _test_api() -> NinjaAPI:
    from l2c.api.auth import API_AUTH
    from l2c.api.root import api as root_api

    api = NinjaAPI(urls_namespace="imports-test", auth=API_AUTH, docs_url=None, openapi_url="/openapi.json")
    api.add_router("/", import_router)
    for exception_class, handler in root_api._exception_handlers.items():
        api.add_exception_handler(exception_class, handler)
    return api


urlpatterns = [path("api/imports-test/", _test_api().urls), path("", include("l2c.urls"))]
API = "/api/imports-test"
api_urls = pytest.mark.urls(__name__)


# --- helpers ----------------------------------------------------------------------------------------
def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "\r\n".join(",".join(row) for row in rows).encode(encoding) + b"\r\n"


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(user, content: bytes, file_name: str = "accounts.csv", object_type: str = "account") -> ImportJob:
    return imports.import_upload(actor=user, object_type=object_type, file_name=file_name, content=content)


def commit(user, job: ImportJob, capture) -> ImportJob:
    with capture(execute=True):
        imports.import_commit(actor=user, import_id=job.pk)
    return ImportJob.objects.get(pk=job.pk)


ACCOUNT_HEADER = ["客户名称", "统一社会信用代码", "行业", "电话"]


# --- parsing and mapping -----------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_or_gbk_with_chinese_headers_is_mapped_and_validated(org, encoding):
    row = ["北京星河科技有限公司", CODE_A, "信息传输、软件和信息技术服务业", "010-62345678"]
    content = csv_bytes([ACCOUNT_HEADER, row], encoding)

    job = upload(org["manager"], content)
    job = imports.import_validate(actor=org["manager"], import_id=job.pk)

    assert job.headers == ACCOUNT_HEADER
    assert job.mapping == {"客户名称": "name", "统一社会信用代码": "credit_code", "行业": "industry", "电话": "phone"}
    assert (job.status, job.total_rows, job.valid_rows, job.error_count, job.errors) == ("validated", 1, 1, 0, [])


def test_english_keys_and_aliases_are_recognised():
    spec = imports.spec_for("account")

    mapping = imports.mapping_suggest(["Company Name", "credit_code", "所属行业", "负责人", "Tags", "备注"],
                                      imports.importable_columns(spec, []))

    assert mapping == {"Company Name": "name", "credit_code": "credit_code", "所属行业": "industry",
                       "负责人": "owner", "Tags": "tags"}


def test_xlsx_keeps_credit_code_and_phone_number_as_text(org, django_capture_on_commit_callbacks):
    content = xlsx_bytes([["客户名称", "统一社会信用代码", "电话", "注册资本（万元）"],
                          ["北京星河科技有限公司", CODE_A, 13800138000, 1234.5]])

    job = upload(org["manager"], content, "accounts.xlsx")
    imports.import_validate(actor=org["manager"], import_id=job.pk)
    job = commit(org["manager"], job, django_capture_on_commit_callbacks)

    account = Account.objects.get()
    assert (account.credit_code, account.phone, str(account.registered_capital)) == (CODE_A, "13800138000", "1234.50")
    assert job.created_rows == 1


def test_unmapped_required_field_blocks_the_dry_run(org):
    job = upload(org["manager"], csv_bytes([["公司", "电话"], ["甲", "010-62345678"]]))

    with pytest.raises(ValidationFailed) as failure:
        imports.import_validate(actor=org["manager"], import_id=job.pk, mapping={"电话": "phone"})

    assert failure.value.errors == [FieldError("mapping", "必填字段没有对应的列：客户名称", "required")]
    job.refresh_from_db()
    assert (job.status, job.total_rows) == ("uploaded", 0)


def test_a_field_mapped_twice_is_refused(org):
    job = upload(org["manager"], csv_bytes([["名称", "公司"], ["甲", "乙"]]))

    with pytest.raises(ValidationFailed) as failure:
        imports.import_validate(actor=org["manager"], import_id=job.pk, mapping={"名称": "name", "公司": "name"})

    assert failure.value.errors == [FieldError("mapping.公司", "字段“客户名称”已对应到另一列", "duplicate")]


# --- dry run -----------------------------------------------------------------------------------------
def test_dry_run_reports_each_bad_row_field_and_message_and_writes_nothing(org):
    CustomField.objects.create(object_type="account", key="employees", label="员工数", kind=CustomField.Kind.NUMBER)
    content = csv_bytes([
        [*ACCOUNT_HEADER, "员工数"],
        ["北京甲公司", CODE_A, "I", "010-62345678", "120"],
        ["北京乙公司", BAD_CODE, "", "", ""],
        ["北京丙公司", "", "互联网", "", ""],
        ["", CODE_B, "", "", ""],
        ["北京丁公司", "", "", "", "很多"],
        ["北京戊公司", CODE_A, "", "", ""],
    ])
    job = upload(org["manager"], content)

    job = imports.import_validate(actor=org["manager"], import_id=job.pk)

    assert (job.total_rows, job.valid_rows, job.error_count) == (6, 1, 5)
    industries = ", ".join("ABCDEFGHIJKLMNOPQRST")
    assert job.errors == [
        {"row": 2, "column": "统一社会信用代码", "field": "credit_code",
         "message": "不是有效的统一社会信用代码：校验位应为“Q”。"},
        {"row": 3, "column": "行业", "field": "industry", "message": f"必须是以下之一：{industries}。"},
        {"row": 4, "column": "客户名称", "field": "name", "message": "此项为必填项。"},
        {"row": 5, "column": "员工数", "field": "custom.employees", "message": "必须是数字。"},
        {"row": 6, "column": "统一社会信用代码", "field": "credit_code", "message": "与第 1 行的统一社会信用代码重复"},
    ]
    assert Account.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_owner_must_be_an_active_user_the_importer_may_assign(org):
    content = csv_bytes([
        ["客户名称", "负责人", "标签"],
        ["北京甲公司", "rep1", "重点、华北;重点"],
        ["北京乙公司", "rep3", ""],
        ["北京丙公司", "ghost", ""],
        ["北京丁公司", "", ""],
    ])
    job = upload(org["manager"], content)

    job = imports.import_validate(actor=org["manager"], import_id=job.pk)

    assert job.errors == [
        {"row": 2, "column": "负责人", "field": "owner", "message": "你不能把客户分配给“rep3”"},
        {"row": 3, "column": "负责人", "field": "owner", "message": "没有用户名为“ghost”的在职用户"},
    ]


# --- commit ------------------------------------------------------------------------------------------
def test_commit_creates_exactly_the_valid_rows_with_an_audit_event_each(org, django_capture_on_commit_callbacks):
    content = csv_bytes([
        ["客户名称", "统一社会信用代码", "行业", "负责人", "标签"],
        ["北京甲公司", CODE_A, "I", "rep1", "重点、华北"],
        ["北京乙公司", BAD_CODE, "", "", ""],
        ["北京丙公司", "", "制造业", "", "华北"],
    ])
    manager = org["manager"]
    job = upload(manager, content)
    imports.import_validate(actor=manager, import_id=job.pk)

    job = commit(manager, job, django_capture_on_commit_callbacks)

    accounts = {account.name: account for account in Account.objects.prefetch_related("tags")}
    assert sorted(accounts) == ["北京丙公司", "北京甲公司"]
    first, second = accounts["北京甲公司"], accounts["北京丙公司"]
    assert (first.owner_id, first.department_id, first.industry, first.created_by_id) == (
        org["rep1"].pk, org.north.pk, "I", manager.pk)
    assert (second.owner_id, second.industry, second.status) == (manager.pk, "C", "potential")
    assert sorted(tag.name for tag in first.tags.all()) == ["华北", "重点"]
    assert [tag.name for tag in second.tags.all()] == ["华北"]
    assert "beijingjiagongsi" in first.search_text
    events = list(AuditEvent.objects.order_by("object_id"))
    assert [(event.object_type, event.object_id, event.action, event.actor_id) for event in events] == [
        ("account", first.pk, "import", manager.pk), ("account", second.pk, "import", manager.pk)]
    assert events[0].changes["name"] == [None, "北京甲公司"]
    assert events[0].changes["tags"] == [None, ["重点", "华北"]]
    assert (job.status, job.created_rows, job.valid_rows, job.error_count) == ("done", 2, 2, 1)
    run = JobRun.objects.get(pk=job.job_run_id)
    assert (run.name, run.status, run.progress, run.total, run.arguments) == (
        "activity.import_commit", "succeeded", 3, 3, {"import_job_id": job.pk})


def test_commit_is_idempotent(org, django_capture_on_commit_callbacks):
    manager = org["manager"]
    job = upload(manager, csv_bytes([["客户名称"], ["北京甲公司"], ["北京乙公司"]]))
    imports.import_validate(actor=manager, import_id=job.pk)
    job = commit(manager, job, django_capture_on_commit_callbacks)

    with pytest.raises(Conflict):
        commit(manager, job, django_capture_on_commit_callbacks)
    run = JobRun.objects.get(pk=job.job_run_id)
    imports.import_execute(run=run)  # the same task delivered again

    assert Account.objects.count() == 2
    assert AuditEvent.objects.count() == 2
    assert JobRun.objects.filter(name="activity.import_commit").count() == 1
    assert ImportJob.objects.get(pk=job.pk).created_rows == 2


def test_a_redelivered_run_does_not_commit_a_chunk_twice(org, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    manager = org["manager"]
    job = upload(manager, csv_bytes([["客户名称"], *[[f"公司{i}"] for i in range(5)]]))
    imports.import_validate(actor=manager, import_id=job.pk)
    with django_capture_on_commit_callbacks(execute=False):
        job = imports.import_commit(actor=manager, import_id=job.pk)
    run = JobRun.objects.get(pk=job.job_run_id)
    JobRun.objects.filter(pk=run.pk).update(progress=4)  # rows 1-4 committed by a first delivery
    run.refresh_from_db()

    imports.import_execute(run=run)

    assert list(Account.objects.values_list("name", flat=True)) == ["公司4"]
    job.refresh_from_db()
    assert (job.status, job.created_rows) == ("done", 1)


def test_a_failed_import_resumes_after_the_last_committed_chunk(org, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    monkeypatch.setattr(imports, "COMMIT_GROUP_SECONDS", 0)  # one chunk per transaction
    manager = org["manager"]
    job = upload(manager, csv_bytes([["客户名称"], *[[f"公司{i}"] for i in range(5)]]))
    imports.import_validate(actor=manager, import_id=job.pk)
    spec = imports.spec_for("account")
    calls = []

    def flaky_commit(actor, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return spec.commit_rows(actor, rows)

    flaky_spec = dataclasses.replace(spec, commit_rows=flaky_commit)
    monkeypatch.setitem(imports._REGISTRY, "account", flaky_spec)
    job = commit(manager, job, django_capture_on_commit_callbacks)
    assert (job.status, job.created_rows, Account.objects.count()) == ("failed", 2, 2)

    job = commit(manager, job, django_capture_on_commit_callbacks)

    assert sorted(Account.objects.values_list("name", flat=True)) == [f"公司{i}" for i in range(5)]
    assert (job.status, job.created_rows) == ("done", 5)


def test_a_failure_rolls_back_the_chunks_of_its_transaction_only(org, django_capture_on_commit_callbacks,
                                                                  monkeypatch):
    # Chunks share a transaction while it is young: a failure in the third chunk undoes the second
    # (same transaction) but not the first (committed before); the retry makes every row once.
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    manager = org["manager"]
    job = upload(manager, csv_bytes([["客户名称"], *[[f"公司{i}"] for i in range(7)]]))
    imports.import_validate(actor=manager, import_id=job.pk)
    spec = imports.spec_for("account")
    calls = []

    def flaky_commit(actor, rows):
        calls.append(len(rows))
        # The first transaction closes after its first chunk, the second stays open for more.
        monkeypatch.setattr(imports, "COMMIT_GROUP_SECONDS", 0 if len(calls) == 1 else 3600)
        if len(calls) == 3:
            raise RuntimeError("database went away")
        return spec.commit_rows(actor, rows)

    monkeypatch.setitem(imports._REGISTRY, "account", dataclasses.replace(spec, commit_rows=flaky_commit))
    job = commit(manager, job, django_capture_on_commit_callbacks)
    run = JobRun.objects.get(pk=job.job_run_id)
    assert (job.status, job.created_rows, Account.objects.count(), run.progress) == ("failed", 2, 2, 2)

    monkeypatch.setitem(imports._REGISTRY, "account", spec)
    job = commit(manager, job, django_capture_on_commit_callbacks)

    assert sorted(Account.objects.values_list("name", flat=True)) == [f"公司{i}" for i in range(7)]
    assert (job.status, job.created_rows) == ("done", 7)
    assert AuditEvent.objects.filter(object_type="account", action="import").count() == 7


def test_the_collector_is_paused_per_chunk_and_restored_even_when_a_chunk_fails(
        org, django_capture_on_commit_callbacks, monkeypatch):
    import gc

    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    manager = org["manager"]
    job = upload(manager, csv_bytes([["客户名称"], *[[f"公司{i}"] for i in range(5)]]))
    spec = imports.spec_for("account")
    seen: list[tuple[str, bool]] = []

    validate_chunk = imports._validate_chunk

    def validate_chunk_spied(*args, **kwargs):
        seen.append(("validate", gc.isenabled()))
        return validate_chunk(*args, **kwargs)

    def commit_rows(actor, rows):
        seen.append(("commit", gc.isenabled()))
        if len(seen) > 4:  # validate, commit, validate, commit, validate, then this third commit
            raise RuntimeError("database went away")
        return spec.commit_rows(actor, rows)

    monkeypatch.setattr(imports, "_validate_chunk", validate_chunk_spied)
    monkeypatch.setitem(imports._REGISTRY, "account", dataclasses.replace(spec, commit_rows=commit_rows))
    assert gc.isenabled()
    imports.import_validate(actor=manager, import_id=job.pk)
    assert gc.isenabled()
    assert seen == [("validate", False)] * 3  # chunks of 2, 2 and 1 rows
    seen.clear()
    job = commit(manager, job, django_capture_on_commit_callbacks)

    assert job.status == "failed"
    assert gc.isenabled()
    assert {enabled for _step, enabled in seen} == {False}
    assert [step for step, _enabled in seen].count("commit") == 3


def test_set_based_inserts_raise_djangos_errors_and_are_logged(org):
    tag = Tag.objects.create(name="重点")
    columns = ["id", "name"]

    with CaptureQueriesContext(connection) as queries:
        imports.rows_insert(Tag, columns, [(tag.pk + 1, "华北"), (tag.pk + 2, "华南")])
    with pytest.raises(IntegrityError), transaction.atomic():
        imports.rows_insert(Tag, columns, [(tag.pk, "重复")])

    assert sorted(Tag.objects.values_list("name", flat=True)) == ["华北", "华南", "重点"]
    if connection.vendor == "sqlite":  # run on sqlite3's own cursor, yet in the query log
        assert [query["sql"].split(" (")[0] for query in queries.captured_queries] == ['INSERT INTO "customers_tag"']


def test_nothing_to_commit_without_valid_rows(org):
    job = upload(org["manager"], csv_bytes([["客户名称", "统一社会信用代码"], ["甲", BAD_CODE]]))
    imports.import_validate(actor=org["manager"], import_id=job.pk)

    with pytest.raises(ValidationFailed):
        imports.import_commit(actor=org["manager"], import_id=job.pk)

    assert ImportJob.objects.get(pk=job.pk).status == "validated"


def test_commit_before_the_dry_run_is_refused(org):
    job = upload(org["manager"], csv_bytes([["客户名称"], ["甲"]]))

    with pytest.raises(Conflict):
        imports.import_commit(actor=org["manager"], import_id=job.pk)


# --- contacts ----------------------------------------------------------------------------------------
def test_contacts_link_to_editable_accounts_by_name_or_credit_code(org, django_capture_on_commit_callbacks):
    first = make_account(org["rep1"], "北京甲公司", credit_code=CODE_A)
    make_account(org["rep1"], "北京同名公司")
    make_account(org["rep2"], "北京同名公司")
    make_account(org["rep3"], "上海丙公司")
    content = csv_bytes([
        ["姓名", "客户", "手机", "邮箱", "主要联系人"],
        ["王强", "北京甲公司", "13800138000", "wq@example.com", "是"],
        ["李娜", CODE_A.lower(), "", "", ""],
        ["张伟", "上海丙公司", "", "", ""],
        ["赵敏", "北京同名公司", "", "", ""],
        ["孙丽", "", "", "bad-email", ""],
    ])
    manager = org["manager"]
    job = upload(manager, content, "contacts.csv", "contact")

    job = imports.import_validate(actor=manager, import_id=job.pk)
    assert job.errors == [
        {"row": 3, "column": "客户", "field": "account",
         "message": "没有名称或统一社会信用代码为“上海丙公司”且你可以编辑的客户"},
        {"row": 4, "column": "客户", "field": "account",
         "message": "有多个名为“北京同名公司”的客户，请改用统一社会信用代码"},
        {"row": 5, "column": "邮箱", "field": "email", "message": "不是有效的邮箱地址。"},
        {"row": 5, "column": "客户", "field": "account", "message": "必填：客户名称或统一社会信用代码"},
    ]
    job = commit(manager, job, django_capture_on_commit_callbacks)

    contacts = list(Contact.objects.order_by("name").values_list("name", "account_id", "mobile", "is_primary"))
    assert contacts == [("李娜", first.pk, "", False), ("王强", first.pk, "13800138000", True)]
    assert AuditEvent.objects.filter(object_type="contact", action="import").count() == 2
    assert job.created_rows == 2


# --- permissions and bad files ---------------------------------------------------------------------
def test_rep_without_import_permission_is_refused_and_nothing_is_stored(org):
    with pytest.raises(PermissionDenied):
        upload(org["rep1"], csv_bytes([["客户名称"], ["甲"]]))

    client = Client()
    client.force_login(org["rep1"])
    file = SimpleUploadedFile("accounts.csv", csv_bytes([["客户名称"], ["甲"]]), content_type="text/csv")
    response = client.post("/imports/new/account/", {"file": file})

    assert response.status_code == 403
    assert client.get("/imports/new/account/").status_code == 403
    assert client.get("/imports/template/account.csv").status_code == 403
    assert ImportJob.objects.count() == 0


def test_other_users_cannot_see_an_import(org):
    job = upload(org["manager"], csv_bytes([["客户名称"], ["甲"]]))
    client = Client()
    client.force_login(org["director"])

    assert client.get(f"/imports/{job.pk}/").status_code == 404
    assert client.post(f"/imports/{job.pk}/", {"action": "commit"}).status_code == 404
    assert ImportJob.objects.get(pk=job.pk).status == "uploaded"


@pytest.mark.parametrize(("file_name", "content", "message"), [
    ("report.pdf", b"%PDF-1.7", "只能导入 .csv 或 .xlsx 文件。"),
    ("old.xls", b"\xd0\xcf\x11\xe0", "只支持 .xlsx 格式的 Excel 文件，请另存为 .xlsx 或 .csv 后再上传。"),
    ("accounts.xlsx", "客户名称\n甲\n".encode(), "文件扩展名是 .xlsx，但内容不是有效的 Excel 工作簿。"),
    ("accounts.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "文件扩展名是 .csv，但内容不是 UTF-8 或 GBK 编码的文本。"),
    ("accounts.csv", b"", "文件是空的：没有表头行。"),
    ("accounts.csv", "客户名称,电话,客户名称\n甲,1,乙\n".encode(), "表头“客户名称”出现了两次（第 1 列和第 3 列）。"),
])
def test_a_file_that_is_neither_csv_nor_xlsx_is_rejected_with_a_clear_message(org, file_name, content, message):
    client = Client()
    client.force_login(org["manager"])

    response = client.post("/imports/new/account/", {"file": SimpleUploadedFile(file_name, content)})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_a_duplicate_header_is_named_in_english(org):
    client = Client()
    client.force_login(org["manager"])
    content = "客户名称,电话,客户名称\n甲,1,乙\n".encode()

    response = client.post("/imports/new/account/", {"file": SimpleUploadedFile("accounts.csv", content)},
                           HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert "Column header “客户名称” appears twice (columns 1 and 3)." in response.content.decode()
    assert ImportJob.objects.count() == 0


@override_settings(L2C_IMPORT_MAX_BYTES=64)
def test_a_file_above_the_size_limit_is_rejected(org):
    client = Client()
    client.force_login(org["manager"])

    response = client.post("/imports/new/account/",
                           {"file": SimpleUploadedFile("big.csv", csv_bytes([["客户名称"], *[["甲"]] * 40]))})

    assert response.status_code == 400
    assert "文件太大：最大 6.10352e-05 MB。" in response.content.decode()
    assert ImportJob.objects.count() == 0


# --- UI flow -------------------------------------------------------------------------------------------
def test_ui_upload_map_dry_run_report_and_commit(org, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(org["manager"])
    content = csv_bytes([["公司", "信用代码", "随便"], ["北京甲公司", CODE_A, "x"], ["北京乙公司", BAD_CODE, "y"]])

    response = client.post("/imports/new/account/", {"file": SimpleUploadedFile("a.csv", content)})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'name="column_0"' in page
    assert '<option value="credit_code" selected>' in page

    response = client.post(f"/imports/{job.pk}/", {"action": "validate", "column_0": "", "column_1": "credit_code"})
    assert response.status_code == 400
    assert "必填字段没有对应的列：客户名称" in response.content.decode()

    response = client.post(f"/imports/{job.pk}/", {"action": "validate", "column_0": "name", "column_1": "credit_code",
                                                   "column_2": ""})
    assert response.status_code == 302
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "不是有效的统一社会信用代码" in page
    assert Account.objects.count() == 0

    report = client.get(f"/imports/{job.pk}/errors.csv")
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(report.streaming_content).decode("utf-8-sig").splitlines() == [
        "行号,列,字段,错误信息",
        "2,信用代码,统一社会信用代码,不是有效的统一社会信用代码：校验位应为“Q”。",
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/imports/{job.pk}/", {"action": "commit"})
    assert response.status_code == 302
    assert list(Account.objects.values_list("name", flat=True)) == ["北京甲公司"]
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'id="job-progress"' in page
    list_page = client.get("/imports/").content.decode()
    assert "a.csv" in list_page


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_template_has_the_labels_and_a_valid_example_row(org, fmt):
    CustomField.objects.create(object_type="account", key="tier", label="合同等级", kind=CustomField.Kind.TEXT)
    client = Client()
    client.force_login(org["manager"])

    response = client.get(f"/imports/template/account.{fmt}")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="account-import-template.{fmt}"'
    job = upload(org["manager"], response.content, f"template.{fmt}")
    assert job.headers == [
        "客户名称", "简称", "统一社会信用代码", "行业", "规模", "省份", "城市", "区县", "地址", "电话", "网站", "来源",
        "客户级别", "客户状态", "法定代表人", "注册资本（万元）", "成立日期", "登记状态", "负责人", "标签", "公海",
        "合同等级",
    ]
    assert len(job.mapping) == len(job.headers)
    job = imports.import_validate(actor=org["manager"], import_id=job.pk)
    assert (job.valid_rows, job.errors) == (1, [])
    assert uscc_generate("91110108MA01ABCD1") in response.content.decode("utf-8-sig", errors="ignore") or fmt == "xlsx"


# --- performance -------------------------------------------------------------------------------------
def _is_insert_batch(query: dict) -> bool:
    return re.match(r"^(\d+ times: )?INSERT (OR IGNORE )?INTO", query["sql"]) is not None


def test_queries_stay_bounded_for_2000_rows(org, django_capture_on_commit_callbacks):
    """No query per row: validation makes a constant number of queries per chunk (duplicate control
    adds its rules, key look-ups, and candidate profiles and visibility when there are any); commit
    adds only multi-row INSERT batches (SQLite caps a statement at 999 parameters, so Django splits
    2,000 accounts into ~57 statements; PostgreSQL takes 500 rows per statement). On SQLite each
    chunk also sets the full-text insert trigger aside and back (3 statements), and the table is
    analysed at the end (1)."""
    CustomField.objects.create(object_type="account", key="tier", label="合同等级", kind=CustomField.Kind.TEXT)
    rows = [["客户名称", "统一社会信用代码", "行业", "负责人", "标签", "合同等级"]]
    for index in range(2000):
        code = uscc_generate(f"91110108{index:09d}")
        rows.append([f"公司{index}", code, "I", ["rep1", "rep2", ""][index % 3], f"标签{index % 7}、重点", "A"])
    manager = org["manager"]
    job = upload(manager, csv_bytes(rows))

    with CaptureQueriesContext(connection) as validation:
        job = imports.import_validate(actor=manager, import_id=job.pk)
    with CaptureQueriesContext(connection) as committing, django_capture_on_commit_callbacks(execute=True):
        imports.import_commit(actor=manager, import_id=job.pk)

    assert (job.valid_rows, job.error_count) == (2000, 0)
    assert len(validation.captured_queries) <= 18
    other = [query for query in committing.captured_queries if not _is_insert_batch(query)]
    inserts = [query for query in committing.captured_queries if _is_insert_batch(query)]
    assert len(other) <= (52 if connection.vendor == "sqlite" else 45)
    assert len(inserts) <= 90
    assert Account.objects.count() == 2000
    assert AuditEvent.objects.filter(action="import").count() == 2000
    assert Account.tags.through.objects.count() == 4000


# --- REST API ----------------------------------------------------------------------------------------
@api_urls
def test_api_upload_validate_commit_and_read(org, api_client_for, django_capture_on_commit_callbacks):
    client = api_client_for("manager")
    file = SimpleUploadedFile("a.csv", csv_bytes([["公司", "电话"], ["北京甲公司", "010-62345678"], ["", ""],
                                                  ["", "123"]]))

    response = client.post(f"{API}/imports", {"object_type": "account", "file": file})
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["headers"], body["mapping"]) == ("uploaded", ["公司", "电话"],
                                                                  {"公司": "name", "电话": "phone"})
    import_id = body["id"]

    response = client.post(f"{API}/imports/{import_id}/validate", {"mapping": {"公司": "name", "电话": "phone"}},
                           content_type="application/json")
    assert response.status_code == 200
    assert (response.json()["valid_rows"], response.json()["errors"]) == (1, [
        {"row": 3, "column": "公司", "field": "name", "message": "此项为必填项。"},
        {"row": 3, "column": "电话", "field": "phone", "message": "电话号码太短：至少 5 个字符（现有 3 个）。"},
    ])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{API}/imports/{import_id}/commit")
    assert response.status_code == 202
    assert response.json()["status"] == "importing"
    assert client.get(f"{API}/imports/{import_id}").json()["created_rows"] == 1
    assert client.post(f"{API}/imports/{import_id}/commit").status_code == 409
    assert Account.objects.count() == 1


@api_urls
def test_api_validate_without_a_body_uses_the_suggested_mapping(org, api_client_for):
    client = api_client_for("manager")
    file = SimpleUploadedFile("a.csv", csv_bytes([["客户名称"], ["北京甲公司"]]))
    import_id = client.post(f"{API}/imports", {"object_type": "account", "file": file}).json()["id"]

    response = client.generic("POST", f"{API}/imports/{import_id}/validate")

    assert response.status_code == 200, response.content
    assert response.json()["valid_rows"] == 1


@api_urls
def test_api_upload_without_permission_is_403_and_stores_nothing(org, api_client_for):
    file = SimpleUploadedFile("a.csv", csv_bytes([["客户名称"], ["甲"]]))

    response = api_client_for("rep1").post(f"{API}/imports", {"object_type": "account", "file": file})

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert ImportJob.objects.count() == 0


@api_urls
def test_api_bad_file_is_422_with_the_reason(org, api_client_for):
    file = SimpleUploadedFile("a.pdf", b"%PDF-1.7")

    response = api_client_for("manager").post(f"{API}/imports", {"object_type": "account", "file": file})

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "file", "message": "只能导入 .csv 或 .xlsx 文件。",
                                          "code": "unsupported_extension"}]
    assert ImportJob.objects.count() == 0


@api_urls
def test_api_unknown_object_type_is_404(org, api_client_for):
    file = SimpleUploadedFile("a.csv", csv_bytes([["名称"], ["甲"]]))

    response = api_client_for("manager").post(f"{API}/imports", {"object_type": "spaceship", "file": file})

    assert response.status_code == 404
    assert ImportJob.objects.count() == 0


def test_import_pages_show_what_the_user_may_do(org):
    manager_page = _client_for(org["manager"]).get("/imports/")
    rep_page = _client_for(org["rep1"]).get("/imports/")

    assert manager_page.status_code == rep_page.status_code == 200
    assert 'href="/imports/new/account/"' in manager_page.content.decode()
    assert 'href="/imports/new/account/"' not in rep_page.content.decode()
    assert 'href="/export/?object_type=account&amp;format=xlsx"' in rep_page.content.decode()
    start = _client_for(org["manager"]).get("/imports/new/contact/")
    assert start.status_code == 200
    assert 'enctype="multipart/form-data"' in start.content.decode()
    assert _client_for(org["manager"]).get("/imports/new/spaceship/").status_code == 404


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
