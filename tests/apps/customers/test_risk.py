"""Risk alerts through the API and the services: default rules, batch ingest (all or nothing, per-item
errors, idempotent by source + event id, Idempotency-Key), severity from the rules at ingest time,
the account's risk level recomputed on ingest / resolve / reopen, alerts to the owner and their
manager (each once, in their language), visibility, and the file importer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from l2c.apps.activity import imports
from l2c.apps.activity.models import AuditEvent, ImportJob, Notification
from l2c.apps.customers import risk
from l2c.apps.customers.models import Account, RiskEvent, RiskRule
from l2c.apps.identity.models import Role, RolePermission
from l2c.kernel.errors import Conflict, NotFound, PermissionDenied
from tests.conftest import make_account

CODE_A = "91110108MA01ABCD1E"
CODE_B = "91310000MA1FL0AB21"


def ingest(client: Any, events: list[dict[str, Any]], **headers: str) -> Any:
    return client.post("/api/v1/risk-events", {"events": events}, content_type="application/json", **headers)


def event(account: Any = None, event_id: str = "E-1", kind: str = "lawsuit", **fields: Any) -> dict[str, Any]:
    body = {"source": "qcc", "event_id": event_id, "kind": kind, "title": f"{kind} {event_id}", **fields}
    if account is not None:
        body["account_id"] = account.pk
    return body


@pytest.fixture
def accounts(org: Any) -> dict[str, Any]:
    return {
        "rep1": make_account(org["rep1"], "北京星河科技有限公司", credit_code=CODE_A),
        "rep2": make_account(org["rep2"], "天津海风贸易有限公司", credit_code=CODE_B),
        "rep3": make_account(org["rep3"], "上海东方电子有限公司"),
        "manager": make_account(org["manager"], "北京经理自有客户有限公司"),
    }


def snapshot() -> tuple[int, int, int, list[Any]]:
    return (RiskEvent.objects.count(), Notification.objects.count(), AuditEvent.objects.count(),
            list(Account.objects.order_by("pk").values_list("risk_level", flat=True)))


# --- rules ----------------------------------------------------------------------------------------
def test_default_rules_exist_after_migrate(db: Any) -> None:
    rules = {rule.kind: (rule.severity, rule.notify) for rule in RiskRule.objects.all()}

    assert rules == {
        "dishonest_debtor": ("critical", True), "enforcement": ("high", True), "lawsuit": ("medium", True),
        "overdue_payment": ("high", True), "abnormal_operation": ("high", True),
        "registration_change": ("low", True), "other": ("low", True),
    }


def test_rules_api_lists_every_kind_with_its_category(org: Any, api_client_for: Any) -> None:
    response = api_client_for("rep1").get("/api/v1/risk-rules")

    assert response.status_code == 200
    assert [(rule["kind"], rule["category"], rule["severity"], rule["notify"]) for rule in response.json()] == [
        ("lawsuit", "judicial", "medium", True), ("enforcement", "judicial", "high", True),
        ("dishonest_debtor", "judicial", "critical", True), ("overdue_payment", "financial", "high", True),
        ("abnormal_operation", "financial", "high", True), ("registration_change", "registration", "low", True),
        ("other", "other", "low", True),
    ]


def test_a_rule_change_grades_later_events_only_and_is_audited(org: Any, accounts: Any, api_client_for: Any) -> None:
    manager = api_client_for("manager")
    assert ingest(manager, [event(accounts["rep1"], "E-1", "lawsuit")]).status_code == 200

    changed = api_client_for("admin").patch("/api/v1/risk-rules/lawsuit", {"severity": "critical", "notify": False},
                                           content_type="application/json")
    later = ingest(manager, [event(accounts["rep1"], "E-2", "lawsuit")])

    assert changed.status_code == 200
    assert (changed.json()["severity"], changed.json()["notify"]) == ("critical", False)
    assert [item["severity"] for item in later.json()["items"]] == ["critical"]
    assert dict(RiskEvent.objects.values_list("event_id", "severity")) == {"E-1": "medium", "E-2": "critical"}
    audit = AuditEvent.objects.get(object_type="risk_rule")
    assert (audit.actor_id, audit.changes) == (org["admin"].pk, {"severity": ["medium", "critical"],
                                                                  "notify": [True, False]})
    # notify off: the second event alerted nobody
    assert Notification.objects.filter(kind="risk_alert").count() == 2


def test_only_administrators_change_rules(org: Any, api_client_for: Any) -> None:
    single = api_client_for("manager").patch("/api/v1/risk-rules/lawsuit", {"severity": "low"},
                                             content_type="application/json")
    bulk = api_client_for("manager").patch("/api/v1/risk-rules", {"rules": [{"kind": "lawsuit", "severity": "low"}]},
                                           content_type="application/json")
    unknown = api_client_for("admin").patch("/api/v1/risk-rules/fraud", {"severity": "low"},
                                            content_type="application/json")

    assert (single.status_code, bulk.status_code, unknown.status_code) == (403, 403, 404)
    assert single.json()["detail"] == "只有管理员可以修改风险规则。"
    assert RiskRule.objects.get(kind="lawsuit").severity == "medium"


def test_bulk_rule_change_is_all_or_nothing(org: Any, api_client_for: Any) -> None:
    admin = api_client_for("admin")

    response = admin.patch("/api/v1/risk-rules", {"rules": [{"kind": "lawsuit", "severity": "high"},
                                                            {"kind": "other", "notify": False}]},
                           content_type="application/json")

    assert response.status_code == 200
    assert {rule["kind"]: (rule["severity"], rule["notify"]) for rule in response.json()}["lawsuit"] == ("high", True)
    assert RiskRule.objects.get(kind="other").notify is False


# --- ingest ---------------------------------------------------------------------------------------
def test_ingest_creates_events_grades_them_and_sets_the_account_level(org: Any, accounts: Any,
                                                                      api_client_for: Any) -> None:
    response = ingest(api_client_for("manager"), [
        event(accounts["rep1"], "L-1", "lawsuit", occurred_on="2026-10-01", amount_minor=12_800_000,
              detail="买卖合同纠纷", url="https://example.com/case/1"),
        {"source": "qcc", "event_id": "D-1", "credit_code": CODE_A.lower(), "kind": "dishonest_debtor",
         "title": "列入失信被执行人名单"},
        event(accounts["rep2"], "R-1", "registration_change"),
    ])

    assert response.status_code == 200, response.content
    body = response.json()
    ids = dict(RiskEvent.objects.values_list("event_id", "pk"))
    assert body == {"created": 3, "unchanged": 0, "items": [
        {"index": 0, "status": "created", "id": ids["L-1"], "account_id": accounts["rep1"].pk, "severity": "medium",
         "duplicate_of": None},
        {"index": 1, "status": "created", "id": ids["D-1"], "account_id": accounts["rep1"].pk,
         "severity": "critical", "duplicate_of": None},
        {"index": 2, "status": "created", "id": ids["R-1"], "account_id": accounts["rep2"].pk, "severity": "low",
         "duplicate_of": None},
    ]}
    levels = dict(Account.objects.values_list("name", "risk_level"))
    assert levels == {"北京星河科技有限公司": "critical", "天津海风贸易有限公司": "low", "上海东方电子有限公司": None,
                      "北京经理自有客户有限公司": None}
    lawsuit = RiskEvent.objects.get(event_id="L-1")
    assert (lawsuit.occurred_on, lawsuit.amount_minor, lawsuit.currency, lawsuit.detail, lawsuit.status) == (
        dt.date(2026, 10, 1), 12_800_000, "CNY", "买卖合同纠纷", "open")


def test_ingest_writes_audit_events_on_the_account(org: Any, accounts: Any) -> None:
    risk.risk_events_ingest(actor=org["manager"], events=[event(accounts["rep1"], "D-1", "dishonest_debtor")])

    audits = AuditEvent.objects.filter(object_type="account", object_id=accounts["rep1"].pk,
                                       actor=org["manager"]).order_by("id")
    stored = RiskEvent.objects.get()
    assert [(a.action, a.changes) for a in audits] == [
        ("update", {"risk_level": [None, "critical"]}),
        ("other", {"risk_event": [None, {"id": stored.pk, "source": "qcc", "event_id": "D-1",
                                         "kind": "dishonest_debtor", "severity": "critical"}]}),
    ]


def test_resending_an_event_changes_nothing_and_is_reported_unchanged(org: Any, accounts: Any,
                                                                      api_client_for: Any) -> None:
    client = api_client_for("manager")
    first = ingest(client, [event(accounts["rep1"], "E-1", "enforcement")])
    before = snapshot()

    again = ingest(client, [event(accounts["rep1"], "E-1", "enforcement"), event(accounts["rep1"], "E-2"),
                            event(accounts["rep1"], "E-2")])

    stored_id = first.json()["items"][0]["id"]
    new_id = RiskEvent.objects.get(event_id="E-2").pk
    assert again.status_code == 200
    assert again.json() == {"created": 1, "unchanged": 2, "items": [
        {"index": 0, "status": "unchanged", "id": stored_id, "account_id": accounts["rep1"].pk, "severity": "high",
         "duplicate_of": None},
        {"index": 1, "status": "created", "id": new_id, "account_id": accounts["rep1"].pk, "severity": "medium",
         "duplicate_of": None},
        {"index": 2, "status": "duplicate", "id": new_id, "account_id": accounts["rep1"].pk, "severity": "medium",
         "duplicate_of": 1},
    ]}
    assert RiskEvent.objects.count() == before[0] + 1
    # only the new event alerted (owner and manager: one each)
    assert Notification.objects.count() == before[1] + 2


def test_the_same_event_id_from_another_source_is_another_event(org: Any, accounts: Any) -> None:
    result = risk.risk_events_ingest(actor=org["manager"], events=[
        event(accounts["rep1"], "E-1"), {**event(accounts["rep1"], "E-1"), "source": "tianyancha"}])

    assert [item.status for item in result.items] == ["created", "created"]


def test_one_bad_item_rejects_the_whole_batch_with_every_error(org: Any, accounts: Any, api_client_for: Any) -> None:
    before = snapshot()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()

    response = ingest(api_client_for("manager"), [
        event(accounts["rep1"], "OK-1"),
        {"source": "qcc", "event_id": "X-1", "account_id": 987654, "kind": "lawsuit", "title": "t"},
        {"source": "qcc", "event_id": "X-2", "credit_code": CODE_B[:-1] + "0", "kind": "lawsuit", "title": "t"},
        {"source": "qcc", "event_id": "X-3", "kind": "lawsuit", "title": "t"},
        event(accounts["rep1"], "X-4", "fraud"),
        event(accounts["rep1"], "X-5", occurred_on=tomorrow, url="ftp://example.com/x", currency="RM1"),
        {**event(accounts["rep1"], "X-6"), "credit_code": CODE_B},
        {"source": " ", "event_id": "X-7", "account_id": accounts["rep1"].pk, "kind": "other", "title": " "},
    ])

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["detail"] == "7 条风险事件有误，整批都没有写入。"
    assert [(error["field"], error["code"], error["message"]) for error in body["errors"]] == [
        ("events.4.kind", "invalid_choice", "未知的事件类型“fraud”；可选：lawsuit, enforcement, dishonest_debtor, "
                                            "overdue_payment, abnormal_operation, registration_change, other。"),
        ("events.5.url", "invalid_url", "必须是以 http:// 或 https:// 开头的网址。"),
        ("events.5.occurred_on", "in_future", f"发生日期不能晚于今天（{timezone.localdate().isoformat()}）。"),
        ("events.5.currency", "invalid_currency", "必须是三位字母的币种代码，如 CNY。"),
        ("events.7.source", "required", "此项为必填项。"),
        ("events.7.title", "required", "此项为必填项。"),
        ("events.1.account_id", "not_found", "没有 ID 为 987654 且你可以查看的客户。"),
        ("events.2.credit_code", "not_found", f"没有统一社会信用代码为 {CODE_B[:-1]}0 且你可以查看的客户。"),
        ("events.3.account_id", "required", "请填写客户 ID（account_id）或统一社会信用代码（credit_code）。"),
        ("events.6.credit_code", "mismatch", "account_id、credit_code 指向不同的客户。"),
    ]
    assert snapshot() == before


def test_an_account_the_ingester_may_not_see_is_reported_like_a_missing_one(org: Any, accounts: Any) -> None:
    from l2c.kernel.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as invalid:
        risk.risk_events_ingest(actor=org["manager"], events=[event(accounts["rep3"], "E-1")])  # 华东: not his

    assert [(e.field, e.message) for e in invalid.value.errors] == [
        ("events.0.account_id", f"没有 ID 为 {accounts['rep3'].pk} 且你可以查看的客户。")]
    assert RiskEvent.objects.count() == 0


def test_ingest_needs_the_import_permission_on_risk_events(org: Any, accounts: Any, api_client_for: Any) -> None:
    denied = ingest(api_client_for("rep1"), [event(accounts["rep1"])])
    integration = Role.objects.create(code="risk_feed", name="风险数据接口")
    RolePermission.objects.create(role=integration, object_type="risk_event", scope="all", can_view=True,
                                  can_import=True)
    RolePermission.objects.create(role=integration, object_type="account", scope="all", can_view=True)
    org["rep1"].roles.add(integration)
    allowed = ingest(api_client_for("rep1"), [event(accounts["rep3"])])

    assert denied.status_code == 403
    assert denied.json()["detail"] == "你没有写入风险事件的权限（需要风险事件的导入权限）。"
    assert allowed.status_code == 200
    assert allowed.json()["created"] == 1


def test_idempotency_key_replays_the_first_answer(org: Any, accounts: Any, api_client_for: Any) -> None:
    client = api_client_for("manager")

    first = ingest(client, [event(accounts["rep1"], "E-1")], HTTP_IDEMPOTENCY_KEY="batch-0001")
    replay = ingest(client, [event(accounts["rep1"], "E-1")], HTTP_IDEMPOTENCY_KEY="batch-0001")
    other = ingest(client, [event(accounts["rep1"], "E-2")], HTTP_IDEMPOTENCY_KEY="batch-0001")

    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.json()["items"][0]["status"] == "created"  # the first answer, not "unchanged"
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert RiskEvent.objects.count() == 1


def test_batch_size_is_limited(org: Any, accounts: Any, api_client_for: Any) -> None:
    events = [event(accounts["rep1"], f"E-{index}") for index in range(risk.MAX_BATCH + 1)]

    response = ingest(api_client_for("manager"), events)

    assert response.status_code == 422
    assert RiskEvent.objects.count() == 0


# --- alerts ---------------------------------------------------------------------------------------
def test_owner_and_manager_each_get_one_alert_per_account_in_their_language(org: Any, accounts: Any) -> None:
    rep1 = org["rep1"]
    rep1.language = "en"
    rep1.save()

    risk.risk_events_ingest(actor=org["admin"], events=[
        event(accounts["rep1"], "L-1", "lawsuit", occurred_on="2026-10-01"),
        event(accounts["rep1"], "D-1", "dishonest_debtor"),
    ])

    notifications = {n.recipient.username: n for n in Notification.objects.select_related("recipient")}
    assert sorted(notifications) == ["manager", "rep1"]
    english, chinese = notifications["rep1"], notifications["manager"]
    assert english.title == "Risk alert: 2 new risk events on 北京星河科技有限公司 (highest: Critical)"
    assert english.body == ("[Critical] Dishonest debtor: dishonest_debtor D-1\n"
                            "[Medium] Lawsuit: lawsuit L-1 (2026-10-01)")
    assert chinese.title == "风险预警：北京星河科技有限公司 新增 2 条风险事件（最高：严重）"
    assert chinese.body == "[严重] 失信被执行人：dishonest_debtor D-1\n[中] 诉讼：lawsuit L-1 (2026-10-01)"
    assert english.url == chinese.url == f"/accounts/{accounts['rep1'].pk}/#risk"
    assert english.kind == chinese.kind == "risk_alert"


def test_a_manager_owning_the_account_is_alerted_once(org: Any, accounts: Any) -> None:
    risk.risk_events_ingest(actor=org["admin"], events=[event(accounts["manager"], "E-1")])

    # the manager of 华北销售部 owns it; 销售中心 above has no manager: one alert, to him
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["manager"]


def test_the_manager_above_is_found_when_the_owner_manages_their_department(org: Any, accounts: Any) -> None:
    org.center.manager = org["director"]
    org.center.save()

    risk.risk_events_ingest(actor=org["admin"], events=[event(accounts["manager"], "E-1"),
                                                       event(accounts["rep3"], "E-2")])

    recipients = sorted(Notification.objects.values_list("recipient__username", flat=True))
    # manager's account: manager + director; rep3 (华东, no manager there): rep3 + director
    assert recipients == ["director", "director", "manager", "rep3"]


def test_kinds_whose_rule_does_not_notify_alert_nobody(org: Any, accounts: Any) -> None:
    RiskRule.objects.filter(kind="registration_change").update(notify=False)

    risk.risk_events_ingest(actor=org["admin"], events=[event(accounts["rep1"], "R-1", "registration_change")])

    assert Notification.objects.count() == 0
    assert Account.objects.get(pk=accounts["rep1"].pk).risk_level == "low"


# --- resolve / reopen -----------------------------------------------------------------------------
def test_resolving_and_reopening_recompute_the_level(org: Any, accounts: Any, api_client_for: Any) -> None:
    risk.risk_events_ingest(actor=org["admin"], events=[
        event(accounts["rep1"], "D-1", "dishonest_debtor"), event(accounts["rep1"], "L-1", "lawsuit")])
    critical = RiskEvent.objects.get(event_id="D-1")
    medium = RiskEvent.objects.get(event_id="L-1")
    client = api_client_for("rep1")

    def level() -> str | None:
        return Account.objects.get(pk=accounts["rep1"].pk).risk_level

    resolved = client.post(f"/api/v1/risk-events/{critical.pk}/resolve?note=已和解")
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["resolved_by_id"]) == ("resolved", org["rep1"].pk)
    assert level() == "medium"
    assert client.post(f"/api/v1/risk-events/{medium.pk}/resolve").status_code == 200
    assert level() is None
    again = client.post(f"/api/v1/risk-events/{medium.pk}/resolve")
    assert (again.status_code, again.json()["detail"]) == (409, "这条风险事件已经解除。")
    reopened = client.post(f"/api/v1/risk-events/{critical.pk}/reopen")
    assert (reopened.status_code, reopened.json()["status"], reopened.json()["resolved_at"]) == (200, "open", None)
    assert level() == "critical"
    status_audit = AuditEvent.objects.filter(object_type="account", action="status").order_by("id").first()
    assert status_audit is not None
    assert status_audit.changes == {"risk_event_status": ["open", "resolved"]}
    assert status_audit.summary == "risk event qcc/D-1 resolved: 已和解"


def test_resolving_needs_edit_access_to_the_account(org: Any, accounts: Any) -> None:
    risk.risk_events_ingest(actor=org["admin"], events=[event(accounts["rep1"], "E-1")])
    stored = RiskEvent.objects.get()

    with pytest.raises(PermissionDenied):
        risk.risk_event_resolve(actor=org["marketing"], event_id=stored.pk)  # sees all accounts, edits none
    with pytest.raises(NotFound):
        risk.risk_event_resolve(actor=org["rep3"], event_id=stored.pk)  # may not see the account
    risk.risk_event_resolve(actor=org["manager"], event_id=stored.pk)
    with pytest.raises(Conflict):
        risk.risk_event_resolve(actor=org["manager"], event_id=stored.pk)
    assert RiskEvent.objects.get().resolved_by_id == org["manager"].pk


# --- reading and visibility -----------------------------------------------------------------------
def test_account_risk_events_shape_order_and_visibility(org: Any, accounts: Any, api_client_for: Any) -> None:
    risk.risk_events_ingest(actor=org["admin"], events=[
        event(accounts["rep1"], "L-1", "lawsuit", occurred_on="2026-09-01", amount_minor=100),
        event(accounts["rep1"], "D-1", "dishonest_debtor"),
    ])
    lawsuit = RiskEvent.objects.get(event_id="L-1")
    path = f"/api/v1/accounts/{accounts['rep1'].pk}/risk-events"

    own = api_client_for("rep1").get(path)
    hidden = api_client_for("rep3").get(path)

    assert own.status_code == 200
    body = own.json()
    assert (body["account_id"], body["risk_level"]) == (accounts["rep1"].pk, "critical")
    assert [item["event_id"] for item in body["items"]] == ["D-1", "L-1"]  # most severe first
    assert body["items"][1] == {
        "id": lawsuit.pk, "account_id": accounts["rep1"].pk, "source": "qcc", "event_id": "L-1", "kind": "lawsuit",
        "category": "judicial", "severity": "medium", "title": "lawsuit L-1", "detail": "", "occurred_on": "2026-09-01",
        "amount_minor": 100, "currency": "CNY", "url": "", "status": "open", "resolved_at": None,
        "resolved_by_id": None, "created_at": body["items"][1]["created_at"],
    }
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"没有 ID 为 {accounts['rep1'].pk} 的客户。"
    assert api_client_for("rep3").get(f"/api/v1/risk-events/{lawsuit.pk}").status_code == 404
    assert api_client_for("rep3").post(f"/api/v1/risk-events/{lawsuit.pk}/resolve").status_code == 404
    assert RiskEvent.objects.get(pk=lawsuit.pk).status == "open"


def test_event_list_shows_only_visible_accounts_and_filters(org: Any, accounts: Any, api_client_for: Any) -> None:
    risk.risk_events_ingest(actor=org["admin"], events=[
        event(accounts["rep1"], "A", "lawsuit"), event(accounts["rep1"], "B", "overdue_payment"),
        event(accounts["rep3"], "C", "dishonest_debtor")])

    def ids(username: str, query: str = "") -> list[str]:
        response = api_client_for(username).get("/api/v1/risk-events" + query)
        assert response.status_code == 200
        return [item["event_id"] for item in response.json()["items"]]

    assert ids("rep1") == ["B", "A"]
    assert ids("rep3") == ["C"]
    assert ids("admin") == ["C", "B", "A"]
    assert ids("admin", "?severity=high") == ["B"]
    assert ids("admin", "?category=judicial") == ["C", "A"]
    assert ids("admin", "?kind=lawsuit") == ["A"]
    assert ids("admin", "?status=resolved") == []


# --- import ---------------------------------------------------------------------------------------
def csv_bytes(rows: list[list[str]]) -> bytes:
    return "\r\n".join(",".join(row) for row in rows).encode() + b"\r\n"


HEADER = ["数据来源", "事件编号", "客户", "事件类型", "标题", "发生日期", "涉及金额（元）"]


def test_import_validates_each_cell_and_is_idempotent(org: Any, accounts: Any,
                                                      django_capture_on_commit_callbacks: Any) -> None:
    manager = org["manager"]
    content = csv_bytes([
        HEADER,
        ["court", "C-1", CODE_A, "诉讼", "合同纠纷", "2026-10-01", "¥1280.50"],
        ["court", "C-2", "天津海风贸易有限公司", "dishonest_debtor", "失信", "", ""],
        ["court", "C-1", str(accounts["rep1"].pk), "lawsuit", "合同纠纷", "", ""],
        ["court", "C-3", "不存在的公司", "fraud", "x", "2026-13-01", "-5"],
    ])

    job = imports.import_upload(actor=manager, object_type="risk_event", file_name="risk.csv", content=content)
    job = imports.import_validate(actor=manager, import_id=job.pk)

    assert (job.total_rows, job.valid_rows, job.error_count, job.warning_count) == (4, 3, 4, 1)
    assert [(e["row"], e["field"], e["message"]) for e in job.errors] == [
        (4, "amount", "金额必须是不小于 0 的数字，最多两位小数（单位：元）。"),
        (4, "kind", "未知的事件类型“fraud”；可选：lawsuit, enforcement, dishonest_debtor, overdue_payment, "
                    "abnormal_operation, registration_change, other。"),
        (4, "occurred_on", "日期格式应为 YYYY-MM-DD。"),
        (4, "account", "没有名为“不存在的公司”且你可以查看的客户。"),
    ]
    assert [(w["row"], w["field"], w["message"]) for w in job.warnings] == [
        (3, "event_id", "与第 1 行的数据来源和事件编号相同，将跳过。")]

    with django_capture_on_commit_callbacks(execute=True):
        imports.import_commit(actor=manager, import_id=job.pk)

    assert ImportJob.objects.get(pk=job.pk).created_rows == 2
    stored = {e.event_id: (e.account_id, e.kind, e.severity, e.amount_minor) for e in RiskEvent.objects.all()}
    assert stored == {"C-1": (accounts["rep1"].pk, "lawsuit", "medium", 128050),
                      "C-2": (accounts["rep2"].pk, "dishonest_debtor", "critical", None)}
    assert dict(Account.objects.filter(pk__in=[accounts["rep1"].pk, accounts["rep2"].pk])
                .values_list("pk", "risk_level")) == {accounts["rep1"].pk: "medium", accounts["rep2"].pk: "critical"}
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == [
        "manager", "manager", "rep1", "rep2"]

    again = imports.import_upload(actor=manager, object_type="risk_event", file_name="risk.csv", content=content)
    again = imports.import_validate(actor=manager, import_id=again.pk)
    assert [(w["row"], w["message"]) for w in again.warnings] == [
        (1, "已有数据来源为 court、事件编号为 C-1 的风险事件，将跳过。"),
        (2, "已有数据来源为 court、事件编号为 C-2 的风险事件，将跳过。"),
        (3, "已有数据来源为 court、事件编号为 C-1 的风险事件，将跳过。"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_commit(actor=manager, import_id=again.pk)
    assert ImportJob.objects.get(pk=again.pk).created_rows == 0
    assert RiskEvent.objects.count() == 2


def test_import_needs_the_import_permission(org: Any) -> None:
    from l2c.kernel.errors import PermissionDenied as Denied

    with pytest.raises(Denied):
        imports.import_upload(actor=org["rep1"], object_type="risk_event", file_name="risk.csv",
                              content=csv_bytes([HEADER]))


def test_export_lists_the_visible_events(org: Any, accounts: Any, api_client_for: Any) -> None:
    risk.risk_events_ingest(actor=org["admin"], events=[event(accounts["rep1"], "A"), event(accounts["rep3"], "B")])

    response = api_client_for("rep1").get("/api/v1/exports/risk_event?format=csv")

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("编号,数据来源,事件编号,客户,事件类型,标题")
    assert len(lines) == 2 and ",A," in lines[1] and "北京星河科技有限公司" in lines[1]


def test_demo_company_has_risk_events_and_badges(db: Any) -> None:
    from l2c.apps.demo.services import demo_load

    demo_load()

    assert RiskEvent.objects.filter(source="demo").count() == 8
    levels = sorted(level for level in Account.objects.exclude(risk_level=None).values_list("risk_level", flat=True))
    assert levels == ["critical", "high", "high", "high", "low", "low", "medium"]
    assert Notification.objects.filter(kind="risk_alert", recipient__username="rep1").count() == 3


def test_accounts_api_shows_and_filters_by_risk_level(org: Any, accounts: Any, api_client_for: Any) -> None:
    risk.risk_events_ingest(actor=org["admin"], events=[
        event(accounts["rep1"], "D-1", "dishonest_debtor"), event(accounts["manager"], "R-1", "registration_change")])
    client = api_client_for("manager")

    def names(query: str) -> list[str]:
        response = client.get("/api/v1/accounts" + query)
        assert response.status_code == 200
        return sorted(item["name"] for item in response.json()["items"])

    assert client.get(f"/api/v1/accounts/{accounts['rep1'].pk}").json()["risk_level"] == "critical"
    assert client.get(f"/api/v1/accounts/{accounts['rep2'].pk}").json()["risk_level"] is None
    assert names("?risk_level=any") == ["北京星河科技有限公司", "北京经理自有客户有限公司"]
    assert names("?risk_level=critical") == ["北京星河科技有限公司"]
    assert names("?risk_level=high") == []


def test_nightly_check_corrects_drifted_levels_only(org: Any, accounts: Any,
                                                   django_capture_on_commit_callbacks: Any) -> None:
    from l2c.apps.activity.jobs import job_enqueue
    from l2c.apps.activity.models import JobRun
    from l2c.apps.customers.risk_tasks import risk_levels_check

    risk.risk_events_ingest(actor=org["admin"], events=[event(accounts["rep1"], "D-1", "dishonest_debtor")])
    Account.objects.filter(pk=accounts["rep1"].pk).update(risk_level="low")  # drift (e.g. a raw SQL fix)
    Account.objects.filter(pk=accounts["rep2"].pk).update(risk_level="high")  # a level without open events

    with django_capture_on_commit_callbacks(execute=True):
        run = job_enqueue(task=risk_levels_check, name="customers.risk_levels_check")

    assert run is not None
    run = JobRun.objects.get(pk=run.pk)
    assert (run.status, run.progress) == ("succeeded", 2)
    assert "2 accounts checked, 2 risk levels corrected" in run.log
    assert dict(Account.objects.filter(pk__in=[accounts["rep1"].pk, accounts["rep2"].pk])
                .values_list("pk", "risk_level")) == {accounts["rep1"].pk: "critical", accounts["rep2"].pk: None}


def test_ingest_costs_the_same_queries_for_3_or_30_accounts(org: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owners = ["rep1", "rep2", "manager"]
    many = [make_account(org[owners[index % 3]], f"风险测试{index:02d}号有限公司") for index in range(30)]

    def cost(accounts: list[Any], prefix: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            risk.risk_events_ingest(actor=org["admin"], events=[
                event(account, f"{prefix}-{index}", "enforcement") for index, account in enumerate(accounts)])
        return len(captured.captured_queries)

    assert cost(many[:3], "small") == cost(many[3:], "large")
    assert Notification.objects.count() == 30 + 20  # every owner once, the manager once per rep's account


def test_an_event_id_used_for_another_account_is_an_error_that_reveals_nothing(org):
    from l2c.apps.customers.models import RiskEvent
    from l2c.apps.customers.risk import risk_events_ingest
    from l2c.kernel.errors import ValidationFailed

    hidden = make_account(org["rep3"], "上海隐藏风险有限公司")
    mine = make_account(org["rep1"], "北京我的风险有限公司")
    risk_events_ingest(actor=org["admin"], events=[{"account_id": hidden.pk, "source": "qcc", "event_id": "E-1",
                                                    "kind": "lawsuit", "title": "诉讼"}])

    with pytest.raises(ValidationFailed) as error:
        risk_events_ingest(actor=org["manager"], events=[{"account_id": mine.pk, "source": "qcc", "event_id": "E-1",
                                                          "kind": "lawsuit", "title": "诉讼"}])

    assert [(e.field, e.code, e.message) for e in error.value.errors] == [
        ("events.0.event_id", "event_conflict", "这个数据来源的事件编号已用于另一个客户，不能重复使用。")]
    assert error.value.detail == "1 条风险事件有误，整批都没有写入。"
    assert RiskEvent.objects.filter(account=mine).count() == 0


def test_a_risk_event_on_a_pooled_account_alerts_its_departments_manager(org):
    from l2c.apps.activity.models import Notification
    from l2c.apps.customers.pool import pool_release, pool_save
    from l2c.apps.customers.risk import risk_events_ingest

    pool = pool_save(actor=org["admin"], data={"name": "华北公海", "member_department_ids": [org.north.pk]})
    account = make_account(org["rep1"], "北京公海风险有限公司")
    pool_release(actor=org["rep1"], account_id=account.pk, reason="退回", pool_id=pool.pk)

    risk_events_ingest(actor=org["admin"], events=[{"account_id": account.pk, "source": "qcc", "event_id": "P-1",
                                                    "kind": "dishonest_debtor", "title": "失信"}])

    assert list(Notification.objects.filter(kind="risk_alert").values_list("recipient__username", flat=True)) == [
        "manager"]
