"""Lead pool and assignment rule API: list, browse with filters, claim (single and bulk), 409 codes,
release, assign, held leads, pool CRUD, rules CRUD with validation errors, reorder, preview, and
non-members / non-managers getting 404 / 403 with nothing changed. Query budget of the browse list."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _pool(org, **rules):
    from l2c.apps.leads.pools import lead_pool_save

    return lead_pool_save(actor=org["admin"], data={"name": rules.pop("name", "华北线索池"),
                                                    "member_department_ids": [org.north.pk], **rules})


def _pooled(pool, count=1, **fields):
    from l2c.apps.leads.models import Lead

    return [Lead.objects.create(name=f"池中线索{i}", company=f"北京池中{i}有限公司", pool=pool,
                                pool_entered_at=timezone.now(), **fields) for i in range(count)]


def _owner(lead_id):
    from l2c.apps.leads.models import Lead

    return Lead.objects.values_list("owner_id", flat=True).get(pk=lead_id)


def test_pool_list_shows_member_pools_with_counts(org, api_client_for):
    pool = _pool(org, daily_claim_quota=5)
    _pool(org, name="华东线索池", member_department_ids=[org.east.pk])
    _pooled(pool, 3)

    response = api_client_for("rep1").get("/api/v1/lead-pools")

    assert response.status_code == 200
    assert [(row["pool"]["name"], row["pooled"], row["held"], row["claimed_today"]) for row in response.json()] == [
        ("华北线索池", 3, 0, 0)]
    assert api_client_for("finance").get("/api/v1/lead-pools").json() == []


def test_browse_filters_by_band_and_province_and_a_non_member_gets_404(org, api_client_for):
    pool = _pool(org)
    a_lead, = _pooled(pool, 1, score_band="A", province="北京")
    _pooled(pool, 2, score_band="C", province="北京")

    response = api_client_for("rep1").get(f"/api/v1/lead-pools/{pool.pk}/leads?score_band=A&province=北京")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [a_lead.pk]
    assert "mobile" not in response.json()["items"][0]
    assert api_client_for("rep3").get(f"/api/v1/lead-pools/{pool.pk}/leads").status_code == 404


def test_browse_query_count_does_not_grow_with_rows(org, api_client_for):
    pool = _pool(org)
    client = api_client_for("rep1")
    _pooled(pool, 2)
    client.get(f"/api/v1/lead-pools/{pool.pk}/leads")  # warm up (the token's last use is stamped once)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/api/v1/lead-pools/{pool.pk}/leads").status_code == 200
    _pooled(pool, 60)
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"/api/v1/lead-pools/{pool.pk}/leads").status_code == 200

    assert len(many) == len(few)
    assert len(many) <= 10


def test_claim_then_409_already_claimed_and_non_member_404_changes_nothing(org, api_client_for):
    pool = _pool(org, reclaim_after_days=7)
    lead, = _pooled(pool)

    response = api_client_for("rep1").post(f"/api/v1/leads/{lead.pk}/claim")
    assert response.status_code == 200
    assert (response.json()["owner_id"], response.json()["pool_id"]) == (org["rep1"].pk, pool.pk)
    assert response.json()["reclaim_due_at"] is not None

    again = api_client_for("rep2").post(f"/api/v1/leads/{lead.pk}/claim")
    assert again.status_code == 409 and again.json()["code"] == "already_claimed"
    other, = _pooled(pool)
    denied = api_client_for("rep3").post(f"/api/v1/leads/{other.pk}/claim")
    assert denied.status_code == 404
    assert _owner(other.pk) is None


def test_bulk_claim_reports_each_outcome(org, api_client_for):
    pool = _pool(org, daily_claim_quota=2)
    leads = _pooled(pool, 3)
    ids = [lead.pk for lead in leads]

    response = api_client_for("rep1").post(f"/api/v1/lead-pools/{pool.pk}/claim",
                                           data={"lead_ids": [*ids, 999999]}, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {"claimed": 2, "outcomes": {
        str(ids[0]): "ok", str(ids[1]): "ok", str(ids[2]): "claim_quota_reached", "999999": "not_found"}}


def test_release_needs_a_reason_and_returns_the_lead(org, api_client_for):
    pool = _pool(org)
    lead, = _pooled(pool)
    client = api_client_for("rep1")
    client.post(f"/api/v1/leads/{lead.pk}/claim")

    bad = client.post(f"/api/v1/leads/{lead.pk}/release", data={"reason": " "}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    assert _owner(lead.pk) == org["rep1"].pk
    ok = client.post(f"/api/v1/leads/{lead.pk}/release", data={"reason": "没有预算"}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["owner_id"] is None


def test_assign_needs_transfer_and_is_all_or_nothing(org, api_client_for):
    pool = _pool(org)
    leads = _pooled(pool, 2)
    ids = [lead.pk for lead in leads]

    denied = api_client_for("rep1").post(f"/api/v1/lead-pools/{pool.pk}/assign",
                                         data={"lead_ids": ids, "to_user_id": org["rep2"].pk},
                                         content_type="application/json")
    assert denied.status_code == 403
    assert [_owner(i) for i in ids] == [None, None]
    ok = api_client_for("manager").post(f"/api/v1/lead-pools/{pool.pk}/assign",
                                        data={"lead_ids": ids, "to_user_id": org["rep2"].pk},
                                        content_type="application/json")
    assert ok.status_code == 200 and ok.json() == {"assigned": 2}
    held = api_client_for("rep2").get("/api/v1/lead-pools/held").json()
    assert sorted(row["id"] for row in held) == sorted(ids)


def test_pool_crud_is_for_admins_and_marketing(org, api_client_for):
    from l2c.apps.leads.models import LeadPool

    body = {"name": "市场线索池", "member_department_ids": [org.north.pk], "reclaim_after_days": 10}
    assert api_client_for("manager").post("/api/v1/lead-pools", data=body,
                                          content_type="application/json").status_code == 403
    assert not LeadPool.objects.exists()
    created = api_client_for("marketing").post("/api/v1/lead-pools", data=body, content_type="application/json")
    assert created.status_code == 201 and created.json()["reclaim_after_days"] == 10
    patched = api_client_for("admin").patch(f"/api/v1/lead-pools/{created.json()['id']}",
                                            data={"daily_claim_quota": 5}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["daily_claim_quota"] == 5


def test_rule_api_validates_conditions_reorders_and_previews(org, api_client_for):
    client = api_client_for("admin")
    bad = client.post("/api/v1/lead-assignment-rules", content_type="application/json", data={
        "name": "坏规则", "action": "user", "target_user_id": org["rep1"].pk,
        "conditions": [{"field": "colour", "op": "eq", "value": "red"}]})
    assert bad.status_code == 422
    assert [(e["field"], e["code"]) for e in bad.json()["errors"]] == [("conditions.0.field", "unknown_field")]

    first = client.post("/api/v1/lead-assignment-rules", content_type="application/json", data={
        "name": "A 级", "action": "round_robin", "user_ids": [org["rep1"].pk, org["rep2"].pk],
        "conditions": [{"field": "score_band", "op": "in", "value": ["A", "B"]}]}).json()
    second = client.post("/api/v1/lead-assignment-rules", content_type="application/json", data={
        "name": "兜底", "action": "user", "target_user_id": org["rep3"].pk}).json()
    assert [r["id"] for r in client.get("/api/v1/lead-assignment-rules").json()] == [first["id"], second["id"]]

    preview = client.post("/api/v1/lead-assignment-rules/preview", content_type="application/json",
                          data={"lead": {"score_band": "B"}}).json()
    assert preview["matched_rule_id"] == first["id"]
    reordered = client.post("/api/v1/lead-assignment-rules/reorder", content_type="application/json",
                            data={"rule_ids": [second["id"], first["id"]]})
    assert [r["id"] for r in reordered.json()] == [second["id"], first["id"]]
    stale = client.patch(f"/api/v1/lead-assignment-rules/{first['id']}", content_type="application/json",
                         data={"name": "改名", "version": 1})
    assert stale.status_code == 412
    assert client.delete(f"/api/v1/lead-assignment-rules/{second['id']}").status_code == 204
    assert api_client_for("rep1").get("/api/v1/lead-assignment-rules").status_code == 403


@pytest.mark.parametrize(("value", "code", "detail"), [
    ("9" * 400, "bad_value", "数字的绝对值不能超过"),  # a JSON integer a float cannot hold
    ("-1e16", "bad_value", "数字的绝对值不能超过"),
    ('"上\\u0000海"', "null_character", "NUL"),  # PostgreSQL's JSON refuses NUL (the API parser already says so)
    ('"a\\u001bb"', "bad_value", "不能包含控制字符"),
])
def test_rule_api_refuses_values_that_would_break_storage_or_evaluation(org, api_client_for, value, code, detail):
    from l2c.apps.leads.models import AssignmentRule

    field = "province" if value.startswith('"') else "score"
    op = "eq" if field == "province" else "gt"
    body = ('{"name": "坏规则", "action": "user", "target_user_id": ' + str(org["rep1"].pk) + ', "conditions": ['
            '{"field": "score", "op": "gte", "value": 1}, {"field": "' + field + '", "op": "' + op + '", "value": '
            + value + "}]}")

    response = api_client_for("admin").post("/api/v1/lead-assignment-rules", data=body,
                                            content_type="application/json")

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("conditions.1.value", code)
    assert detail in error["message"]
    assert code != "bad_value" or "第 2 个条件" in error["message"]
    assert not AssignmentRule.objects.exists()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_rule_api_refuses_non_finite_numbers(org, api_client_for, value):
    from l2c.apps.leads.models import AssignmentRule

    client = api_client_for("admin")
    for conditions in ('[{"field": "score", "op": "gt", "value": ' + value + "}]",
                       '[{"field": "score", "op": "in", "value": [1, ' + value + "]}]"):
        body = ('{"name": "坏规则", "action": "user", "target_user_id": ' + str(org["rep1"].pk)
                + ', "conditions": ' + conditions + "}")
        response = client.post("/api/v1/lead-assignment-rules", data=body, content_type="application/json")
        assert response.status_code == 422, response.content
    rule = client.post("/api/v1/lead-assignment-rules", content_type="application/json", data={
        "name": "好规则", "action": "user", "target_user_id": org["rep1"].pk,
        "conditions": [{"field": "score", "op": "gt", "value": 59.5}]}).json()
    patched = client.patch(f"/api/v1/lead-assignment-rules/{rule['id']}", content_type="application/json",
                           data='{"conditions": [{"field": "score", "op": "gt", "value": NaN}]}')
    assert patched.status_code == 422
    assert list(AssignmentRule.objects.values_list("conditions", flat=True)) == [
        [{"field": "score", "op": "gt", "value": 59.5}]]


def test_a_broken_stored_rule_never_fails_a_create_with_assign_and_preview_takes_huge_samples(org, api_client_for):
    from l2c.apps.leads.models import AssignmentAction, AssignmentRule, Lead

    AssignmentRule.objects.create(name="旧规则", position=10, action=AssignmentAction.USER, target_user=org["rep1"],
                                  conditions=[{"field": "score", "op": "gt", "value": int("9" * 400)}])
    client = api_client_for("admin")
    fallback = client.post("/api/v1/lead-assignment-rules", content_type="application/json", data={
        "name": "兜底", "action": "user", "target_user_id": org["rep2"].pk}).json()

    created = client.post("/api/v1/leads", content_type="application/json",
                          data={"name": "新线索", "company": "甲公司", "assign": True})

    assert created.status_code == 201, created.content
    assert Lead.objects.get(pk=created.json()["id"]).owner_id == org["rep2"].pk
    preview = client.post("/api/v1/lead-assignment-rules/preview", content_type="application/json",
                          data='{"lead": {"score": %s}}' % ("9" * 400))
    assert preview.status_code == 200
    assert preview.json()["matched_rule_id"] == fallback["id"]
    assert client.post("/api/v1/lead-assignment-rules/preview", content_type="application/json",
                       data='{"lead": {"score": NaN}}').status_code == 422
