"""Duplicate control of accounts and contacts through the API and services: default rules, block /
warn / report, confirmation, the check endpoint, visibility (invisible matches are counted, never
named), the blocking index following creates, edits and deletes, and a constant query budget."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.apps.activity.models import AuditEvent
from l2c.apps.customers import duplicates
from l2c.apps.customers.models import Account, Contact, DuplicateKey, DuplicateRule
from l2c.engines import dedup
from tests.conftest import make_account, make_contact

CODE = "91110000600037341L"


def post(client, body):
    return client.post("/api/v1/accounts", body, content_type="application/json")


def check(client, record, object_type="account", **extra):
    response = client.post("/api/v1/duplicates/check", {"object": object_type, "record": record, **extra},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def test_default_rules_exist_after_migrate(db):
    rules = DuplicateRule.objects.order_by("object_type", "position")

    assert [(r.object_type, r.key, r.kind, r.field, r.threshold, r.action) for r in rules] == [
        ("account", "credit_code", "exact", "credit_code", 100, "block"),
        ("account", "phone", "exact", "phone", 100, "warn"),
        ("account", "name_close", "fuzzy", "name", 90, "warn"),
        ("account", "name_similar", "fuzzy", "name", 85, "report"),
        ("contact", "phone", "exact", "phone", 100, "warn"),
        ("contact", "email", "exact", "email", 100, "warn"),
        # Registered by the leads app (duplicates.register_object).
        ("lead", "phone", "exact", "phone", 100, "warn"),
        ("lead", "email", "exact", "email", 100, "warn"),
        ("lead", "company_close", "fuzzy", "name", 90, "report"),
    ]


def test_the_same_credit_code_blocks_even_when_the_match_is_invisible(org, api_client_for):
    existing = make_account(org["rep1"], "北京星河智能科技有限公司", credit_code=CODE)
    before = (Account.objects.count(), AuditEvent.objects.count(), DuplicateKey.objects.count())

    own = post(api_client_for("rep1"), {"name": "星河科技", "credit_code": CODE, "confirm_duplicates": True})
    other = post(api_client_for("rep3"), {"name": "星河科技", "credit_code": CODE, "confirm_duplicates": True})

    assert own.status_code == other.status_code == 409
    assert own.json()["code"] == other.json()["code"] == "duplicate"
    assert [(d["id"], d["name"], d["rule"], d["action"], d["score"]) for d in own.json()["duplicates"]] == [
        (existing.pk, "北京星河智能科技有限公司", "credit_code", "block", 100)]
    assert own.json()["hidden_duplicates"] == 0
    assert other.json()["duplicates"] == []  # rep3 (华东) may not see rep1's account: counted, not named
    assert other.json()["hidden_duplicates"] == 1
    assert (Account.objects.count(), AuditEvent.objects.count(), DuplicateKey.objects.count()) == before


def test_a_close_name_warns_until_confirmed(org, api_client_for):
    existing = make_account(org["rep1"], "北京星河智能科技有限公司")
    client = api_client_for("rep1")

    warned = post(client, {"name": "星河智能科技（北京）有限公司"})
    confirmed = post(client, {"name": "星河智能科技（北京）有限公司", "confirm_duplicates": True})

    assert warned.status_code == 409
    body = warned.json()
    assert body["code"] == "duplicate_unconfirmed"
    assert body["detail"] == "可能与 1 条已有记录重复；确认后仍可保存。"
    [candidate] = body["duplicates"]
    assert (candidate["id"], candidate["rule"], candidate["score"]) == (existing.pk, "name_close", 100)
    assert candidate["reasons"][0] == {
        "code": "name_similar", "values": {"score": "100", "probe": "星河智能科技", "candidate": "星河智能科技"},
        "message": "名称相似度 100（星河智能科技 ～ 星河智能科技）"}
    assert confirmed.status_code == 201
    assert Account.objects.filter(name="星河智能科技（北京）有限公司").count() == 1


def test_a_report_only_match_does_not_stop_the_write(org, api_client_for):
    make_account(org["rep1"], "北京星河智能科技城有限公司")
    client = api_client_for("rep1")

    result = check(client, {"name": "北京星河智能科技园有限公司"})
    response = post(client, {"name": "北京星河智能科技园有限公司"})  # 星河智能科技园 ~ 星河智能科技城: 6/7, report only

    assert response.status_code == 201
    assert [(m["rule"], m["action"], m["score"]) for m in result["matches"]] == [("name_similar", "report", 86)]
    assert (result["blocking"], result["needs_confirmation"]) == (False, False)


def test_the_check_endpoint_names_visible_matches_and_counts_the_rest(org, api_client_for):
    mine = make_account(org["rep1"], "北京星河智能科技有限公司", phone="010-62345678")
    theirs = make_account(org["rep3"], "杭州星河智能科技有限公司")
    record = {"name": "星河智能科技有限公司", "phone": "+86 10 6234 5678"}

    as_rep1 = check(api_client_for("rep1"), record)
    as_manager = check(api_client_for("manager"), record)  # 华北 manager: sees rep1's, not rep3's
    as_admin = check(api_client_for("admin"), record)

    assert [(m["id"], m["rule"]) for m in as_rep1["matches"]] == [(mine.pk, "name_close")]
    assert as_rep1["hidden_matches"] == 1
    assert [m["id"] for m in as_manager["matches"]] == [mine.pk]
    assert sorted(m["id"] for m in as_admin["matches"]) == sorted([mine.pk, theirs.pk])
    assert as_admin["hidden_matches"] == 0
    reasons = [reason["code"] for reason in as_rep1["matches"][0]["reasons"]]
    assert reasons == ["name_similar", "phone_equal"]
    assert (as_rep1["blocking"], as_rep1["needs_confirmation"]) == (False, True)


def test_an_edited_record_is_left_out_of_its_own_candidates(org, api_client_for):
    account = make_account(org["rep1"], "北京星河智能科技有限公司", credit_code=CODE)

    result = check(api_client_for("rep1"), {"name": account.name, "credit_code": CODE}, id=account.pk)

    assert result == {"matches": [], "hidden_matches": 0, "total_matches": 0, "blocking": False,
                      "needs_confirmation": False}


def test_an_edit_is_checked_and_rekeys_the_record(org, api_client_for):
    first = make_account(org["rep1"], "北京星河智能科技有限公司")
    second = make_account(org["rep1"], "上海云帆网络科技有限公司")
    client = api_client_for("rep1")

    refused = client.patch(f"/api/v1/accounts/{second.pk}", {"name": "星河智能科技有限公司"},
                           content_type="application/json")
    renamed = client.patch(f"/api/v1/accounts/{first.pk}", {"name": "广州远景物流有限公司"},
                           content_type="application/json")

    assert refused.status_code == 409
    assert Account.objects.get(pk=second.pk).name == "上海云帆网络科技有限公司"
    assert renamed.status_code == 200
    assert check(client, {"name": "北京星河智能科技有限公司"})["matches"] == []
    assert [m["id"] for m in check(client, {"name": "远景物流有限公司"})["matches"]] == [first.pk]
    stored = set(DuplicateKey.objects.filter(object_type="account", record_id=first.pk).values_list("key", flat=True))
    expected = duplicates.account_fingerprint(first.pk, {"name": "广州远景物流有限公司"})
    assert stored == {f"{kind}:{value}" for kind, value in dedup.blocking_keys(expected)}


def test_a_deleted_record_leaves_the_index(org, api_client_for):
    account = make_account(org["rep1"], "北京星河智能科技有限公司")

    response = api_client_for("manager").delete(f"/api/v1/accounts/{account.pk}")

    assert response.status_code == 204
    assert not DuplicateKey.objects.filter(object_type="account", record_id=account.pk).exists()


def test_contacts_with_the_same_mobile_or_email_warn(org, api_client_for):
    account = make_account(org["rep1"], "北京星河智能科技有限公司")
    existing = make_contact(org["rep1"], account, "王强", mobile="13800138000", email="Wang.Qiang+crm@gmail.com")
    client = api_client_for("rep1")

    by_mobile = client.post("/api/v1/contacts", {"name": "王二", "account_id": account.pk,
                                                 "mobile": "+86 138-0013-8000"}, content_type="application/json")
    by_email = client.post("/api/v1/contacts", {"name": "王三", "account_id": account.pk,
                                                "email": "wangqiang@gmail.com"}, content_type="application/json")
    different = client.post("/api/v1/contacts", {"name": "王强", "account_id": account.pk,
                                                  "mobile": "13900000000"}, content_type="application/json")

    assert by_mobile.status_code == by_email.status_code == 409
    assert [d["id"] for d in by_mobile.json()["duplicates"]] == [existing.pk]
    assert by_email.json()["duplicates"][0]["reasons"][0]["code"] == "email_equal"
    assert different.status_code == 201  # the same name alone is no duplicate of a person
    assert Contact.objects.count() == 2


def test_an_inactive_rule_does_not_fire(org, api_client_for):
    make_account(org["rep1"], "北京星河智能科技有限公司", credit_code=CODE)
    DuplicateRule.objects.filter(object_type="account", key__in=["credit_code", "name_close"]).update(
        is_active=False)

    response = post(api_client_for("rep1"), {"name": "星河智能科技有限公司", "credit_code": CODE})

    assert response.status_code == 201


def test_no_rules_means_no_check(org):
    DuplicateRule.objects.all().delete()
    make_account(org["rep1"], "北京星河智能科技有限公司")

    result = duplicates.duplicates_find(actor=org["rep1"], object_type="account",
                                        values={"name": "北京星河智能科技有限公司"})

    assert result.candidates == []


@pytest.mark.parametrize("count", [1, 30])
def test_a_check_costs_a_fixed_number_of_queries(org, api_client_for, count):
    for index in range(count):
        make_account(org["rep1" if index % 2 else "rep3"], f"北京星河智能科技{index}有限公司")
    client = api_client_for("manager")
    client.get("/api/v1/me")

    with CaptureQueriesContext(connection) as captured:
        check(client, {"name": "北京星河智能科技1有限公司"})

    # token, grants, rules, candidate keys, candidate rows, visible candidates
    assert len(captured) == 6


def test_a_check_names_the_strongest_candidates_and_counts_every_match(org, api_client_for, monkeypatch):
    monkeypatch.setattr(duplicates, "SHOWN_LIMIT", 3)
    owners = ["rep3", "rep1", "rep1", "rep3", "rep1"]
    same = [make_account(org[owner], f"{city}星河智能科技有限公司")
            for owner, city in zip(owners, ["上海", "北京", "天津", "杭州", "广州"], strict=True)]
    near = make_account(org["rep1"], "北京星河智能科技园有限公司")  # 星河智能科技园: 92, ranked after the 100s

    result = check(api_client_for("rep1"), {"name": "星河智能科技有限公司"})

    # named: the strongest three (same core, 100, by id), of which rep1 sees two; counted: the rest
    assert [(m["id"], m["rule"], m["score"]) for m in result["matches"]] == [
        (same[1].pk, "name_close", 100), (same[2].pk, "name_close", 100)]
    assert (result["total_matches"], result["hidden_matches"]) == (6, 2)  # rep3's two, named or not
    assert (result["blocking"], result["needs_confirmation"]) == (False, True)
    assert near.pk not in [m["id"] for m in result["matches"]]
    as_admin = check(api_client_for("admin"), {"name": "星河智能科技有限公司"})  # sees all: no filter to apply
    assert [m["id"] for m in as_admin["matches"]] == [account.pk for account in same[:3]]
    assert (as_admin["total_matches"], as_admin["hidden_matches"]) == (6, 0)


def test_candidates_sharing_the_core_are_scored_by_every_rule_the_probe_can_use(org):
    first = make_account(org["rep1"], "北京星河智能科技有限公司", phone="010-62345678")
    second = make_account(org["rep1"], "上海星河智能科技有限公司", phone="021-55556666")

    by_name = duplicates.duplicates_find(actor=org["rep1"], object_type="account",
                                         values={"name": "星河智能科技有限公司"})
    by_name_and_phone = duplicates.duplicates_find(actor=org["rep1"], object_type="account",
                                                   values={"name": "星河智能科技", "phone": "+86 10 6234 5678"})

    assert [(c.match.record_id, c.match.rule.key, [r.code for r in c.match.reasons]) for c in by_name.candidates] == [
        (first.pk, "name_close", ["name_similar"]), (second.pk, "name_close", ["name_similar"])]
    assert [(c.match.record_id, [r.code for r in c.match.reasons]) for c in by_name_and_phone.candidates] == [
        (first.pk, ["name_similar", "phone_equal"]), (second.pk, ["name_similar"])]
    assert dict(by_name.candidates[0].match.reasons[0].values) == {
        "score": "100", "probe": "星河智能科技", "candidate": "星河智能科技"}


def test_a_hidden_pooled_duplicate_beyond_the_named_ones_is_still_claimable(org, api_client_for, monkeypatch):
    from tests.apps.customers.test_pool_api import _pool, _pooled

    monkeypatch.setattr(duplicates, "SHOWN_LIMIT", 1)
    make_account(org["rep3"], "杭州撞单公海有限公司")
    pool = _pool(org)
    pooled = _pooled(org, pool, "北京撞单公海有限公司")

    response = post(api_client_for("rep1"), {"name": "撞单公海有限公司"})

    assert response.status_code == 409 and response.json()["hidden_duplicates"] == 2
    assert [item["id"] for item in response.json()["claimable_duplicates"]] == [pooled.pk]


@pytest.mark.parametrize("count", [2, 8])
def test_a_check_with_more_matches_than_it_names_costs_a_fixed_number_of_queries(org, api_client_for,
                                                                                 monkeypatch, count):
    monkeypatch.setattr(duplicates, "SHOWN_LIMIT", 1)
    for index in range(count):
        make_account(org["rep1" if index % 2 else "rep3"], f"北京星河智能科技{index}有限公司")
    client = api_client_for("manager")
    client.get("/api/v1/me")

    with CaptureQueriesContext(connection) as captured:
        result = check(client, {"name": "北京星河智能科技1有限公司"})

    assert result["total_matches"] == count
    # token, grants, rules, candidate keys, candidate profiles, named candidates, counted candidates
    assert len(captured) == 7


def test_rules_reset_restores_the_defaults(db):
    DuplicateRule.objects.filter(object_type="account").update(threshold=70, is_active=False)

    duplicates.rules_reset("account")

    assert list(DuplicateRule.objects.filter(object_type="account").values_list("key", "threshold", "is_active")) == [
        ("credit_code", 100, True), ("phone", 100, True), ("name_close", 90, True), ("name_similar", 85, True)]


def test_imported_records_are_in_the_index(org, django_capture_on_commit_callbacks):
    from l2c.apps.activity import imports
    from tests.apps.activity.test_imports import commit, csv_bytes, upload

    job = upload(org["manager"], csv_bytes([["客户名称", "电话"], ["北京星河智能科技有限公司", "010-62345678"]]))
    imports.import_validate(actor=org["manager"], import_id=job.pk)
    commit(org["manager"], job, django_capture_on_commit_callbacks)

    result = duplicates.duplicates_find(actor=org["manager"], object_type="account",
                                        values={"name": "星河智能科技（北京）有限公司"})
    assert [candidate.name for candidate in result.visible] == ["北京星河智能科技有限公司"]


# --- the record forms -------------------------------------------------------------------------------
def test_the_account_form_shows_the_candidates_and_saves_after_confirmation(org):
    from django.test import Client

    existing = make_account(org["rep1"], "北京星河智能科技有限公司")
    hidden = make_account(org["rep3"], "杭州星河智能科技有限公司")
    browser = Client()
    browser.force_login(org["rep1"])

    warned = browser.post("/accounts/new/", {"name": "星河智能科技有限公司", "status": "potential"})
    created_before_confirming = Account.objects.filter(name="星河智能科技有限公司").count()
    confirmed = browser.post("/accounts/new/", {"name": "星河智能科技有限公司", "status": "potential",
                                                "confirm_duplicates": "on"})

    page = warned.content.decode()
    assert warned.status_code == 200
    assert f'href="/accounts/{existing.pk}/"' in page and "北京星河智能科技有限公司" in page
    assert "杭州星河智能科技有限公司" not in page and f"/accounts/{hidden.pk}/" not in page
    assert "另有 1 条匹配的记录属于你看不到的范围" in page
    assert 'name="confirm_duplicates"' in page
    assert created_before_confirming == 0
    assert confirmed.status_code == 302
    assert Account.objects.filter(name="星河智能科技有限公司").count() == 1


def test_the_account_form_cannot_confirm_a_blocking_duplicate(org):
    from django.test import Client

    make_account(org["rep1"], "北京星河智能科技有限公司", credit_code=CODE)
    browser = Client()
    browser.force_login(org["rep1"])

    response = browser.post("/accounts/new/", {"name": "远景物流", "credit_code": CODE, "status": "potential",
                                               "confirm_duplicates": "on"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "存在重复记录，不能保存" in page
    assert 'name="confirm_duplicates"' not in page
    assert not Account.objects.filter(name="远景物流").exists()


# --- rules over the API -----------------------------------------------------------------------------
def test_only_an_administrator_reads_and_changes_rules(org, api_client_for):
    rule = DuplicateRule.objects.get(object_type="account", key="name_close")

    denied_read = api_client_for("manager").get("/api/v1/duplicates/rules")
    denied_write = api_client_for("manager").patch(f"/api/v1/duplicates/rules/{rule.pk}", {"threshold": 70},
                                                   content_type="application/json")
    listed = api_client_for("admin").get("/api/v1/duplicates/rules")

    assert denied_read.status_code == denied_write.status_code == 403
    assert DuplicateRule.objects.get(pk=rule.pk).threshold == 90
    assert [r["key"] for r in listed.json()] == ["credit_code", "phone", "name_close", "name_similar", "phone",
                                                 "email", "phone", "email", "company_close"]  # then the lead rules


def test_an_administrator_tunes_a_rule_and_the_next_check_follows(org, api_client_for):
    make_account(org["rep1"], "北京星河智能科技有限公司")
    rule = DuplicateRule.objects.get(object_type="account", key="name_similar")
    admin = api_client_for("admin")

    response = admin.patch(f"/api/v1/duplicates/rules/{rule.pk}", {"action": "warn", "threshold": 82},
                           content_type="application/json")
    created = post(api_client_for("rep1"), {"name": "北京星河智能技术有限公司"})  # 83 ≥ 82: now a warning

    assert response.status_code == 200
    assert (response.json()["action"], response.json()["threshold"]) == ("warn", 82)
    assert created.status_code == 409
    event = AuditEvent.objects.filter(object_type="duplicate_rule", object_id=rule.pk).get()
    assert event.changes == {"threshold": [85, 82], "action": ["report", "warn"]}


@pytest.mark.parametrize(("body", "field"), [
    ({"object_type": "account", "key": "x", "label": "X", "kind": "fuzzy", "field": "credit_code",
      "action": "warn", "threshold": 90}, "field"),
    ({"object_type": "contact", "key": "x", "label": "X", "kind": "fuzzy", "field": "name", "action": "warn",
      "threshold": 90}, "field"),
    ({"object_type": "account", "key": "x", "label": "X", "kind": "exact", "field": "phone", "action": "warn",
      "threshold": 90}, "threshold"),
])
def test_a_rule_that_cannot_work_is_refused_with_the_field(org, api_client_for, body, field):
    before = DuplicateRule.objects.count()

    response = api_client_for("admin").post("/api/v1/duplicates/rules", body, content_type="application/json")

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert DuplicateRule.objects.count() == before


def test_a_new_rule_with_a_taken_key_conflicts(org, api_client_for):
    body = {"object_type": "account", "key": "phone", "label": "电话", "kind": "exact", "field": "phone",
            "action": "block"}

    response = api_client_for("admin").post("/api/v1/duplicates/rules", body, content_type="application/json")

    assert response.status_code == 409


def test_the_problem_detail_mentions_hidden_matches_only_when_there_are_some(org, api_client_for):
    make_account(org["rep3"], "杭州星河智能科技有限公司", credit_code=CODE)

    response = post(api_client_for("rep1"), {"name": "远景物流", "credit_code": CODE})

    assert response.json()["detail"] == "已有 1 条记录与它重复（其中 1 条你无权查看），不能保存。"


# --- imports ----------------------------------------------------------------------------------------
def _validated(org, rows, user="manager"):
    from l2c.apps.activity import imports
    from tests.apps.activity.test_imports import csv_bytes, upload

    job = upload(org[user], csv_bytes(rows))
    return imports.import_validate(actor=org[user], import_id=job.pk)


def test_an_import_rejects_blocked_duplicates_and_warns_about_similar_names(org, django_capture_on_commit_callbacks):
    from tests.apps.activity.test_imports import commit

    make_account(org["rep1"], "北京星河智能科技有限公司", credit_code=CODE)
    hidden = make_account(org["rep3"], "杭州远景物流有限公司")

    job = _validated(org, [["客户名称", "统一社会信用代码"], ["星河科技", CODE], ["星河智能科技（北京）有限公司", ""],
                           ["远景物流有限公司", ""], ["广州云帆网络有限公司", ""]])

    assert (job.total_rows, job.valid_rows, job.error_count, job.warning_count) == (4, 3, 1, 2)
    assert job.errors == [{"row": 1, "column": "统一社会信用代码", "field": "credit_code",
                           "message": "与已有记录重复，不能导入：北京星河智能科技有限公司（统一社会信用代码相同："
                                      "91110000600037341L）"}]
    assert job.warnings == [
        {"row": 2, "column": "客户名称", "field": "name",
         "message": "可能与已有记录重复：北京星河智能科技有限公司（名称相似度 100（星河智能科技 ～ 星河智能科技））"},
        {"row": 3, "column": "客户名称", "field": "name", "message": "可能与 1 条你无权查看的记录重复"},
    ]
    assert "杭州远景物流有限公司" not in str(job.warnings) and f"/accounts/{hidden.pk}/" not in str(job.warnings)
    job = commit(org["manager"], job, django_capture_on_commit_callbacks)  # the valid rows, warned ones too
    assert job.created_rows == 3
    assert not Account.objects.filter(name="星河科技").exists()


def test_the_import_page_and_api_show_the_warnings(org, api_client_for):
    from django.test import Client

    make_account(org["rep1"], "北京星河智能科技有限公司")
    job = _validated(org, [["客户名称"], ["星河智能科技有限公司"]])
    browser = Client()
    browser.force_login(org["manager"])

    page = browser.get(f"/imports/{job.pk}/").content.decode()
    body = api_client_for("manager").get(f"/api/v1/imports/{job.pk}").json()

    assert "1 个提醒（这些行会照常导入）" in page
    assert "可能与已有记录重复：北京星河智能科技有限公司" in page
    assert (body["warning_count"], body["warnings"][0]["row"], body["warnings"][0]["field"]) == (1, 1, "name")


def test_default_rules_come_back_after_a_flush_but_a_deactivated_rule_stays_off(db):
    DuplicateRule.objects.filter(object_type="account", key="phone").update(is_active=False)
    DuplicateRule.objects.filter(object_type="contact").delete()

    duplicates.rules_ensure_defaults()

    assert DuplicateRule.objects.get(object_type="account", key="phone").is_active is False
    assert sorted(DuplicateRule.objects.filter(object_type="contact").values_list("key", flat=True)) == [
        "email", "phone"]


def test_the_commit_enforces_blocking_rules_again_and_skips_warnings(org, django_capture_on_commit_callbacks):
    """Between the dry run and the commit somebody stores an account with the same credit code:
    the commit rejects that row; a row that only warns is imported without a second check."""
    from l2c.apps.activity import imports
    from tests.apps.activity.test_imports import commit

    make_account(org["rep1"], "北京星河智能科技有限公司")
    job = _validated(org, [["客户名称", "统一社会信用代码"], ["远景物流", CODE], ["星河智能科技有限公司", ""]])
    assert (job.valid_rows, job.warning_count) == (2, 1)
    make_account(org["rep3"], "杭州远景物流有限公司", credit_code=CODE)

    job = commit(org["manager"], job, django_capture_on_commit_callbacks)

    assert job.created_rows == 1
    imported = Account.objects.filter(name__in=["远景物流", "星河智能科技有限公司"]).values_list("name", flat=True)
    assert list(imported) == ["星河智能科技有限公司"]
    assert imports.ImportJob.objects.get(pk=job.pk).status == "done"
