"""Lead pool and assignment rule pages: my pools, browse and claim, bulk claim, assign, release from the
lead panel, pool settings, the rule list with the condition editor and the preview."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _client(org, username):
    client = Client()
    client.force_login(org[username])
    return client


def _pool(org, **rules):
    from l2c.apps.leads.pools import lead_pool_save

    return lead_pool_save(actor=org["admin"], data={"name": "华北线索池", "member_department_ids": [org.north.pk],
                                                    **rules})


def _pooled(pool, name="池中线索", **fields):
    from l2c.apps.leads.models import Lead

    return Lead.objects.create(name=name, company="北京池中有限公司", pool=pool, pool_entered_at=timezone.now(),
                               mobile="13800001111", **fields)


def _owner(lead_id):
    from l2c.apps.leads.models import Lead

    return Lead.objects.values_list("owner_id", flat=True).get(pk=lead_id)


def test_browse_lists_pooled_leads_with_claim_buttons_never_the_mobile(org):
    pool = _pool(org)
    lead = _pooled(pool, score_band="A")

    page = _client(org, "rep1").get(f"/lead-pools/{pool.pk}/?score_band=A")

    html = page.content.decode()
    assert page.status_code == 200
    assert "池中线索" in html and "13800001111" not in html
    assert f'action="/leads/{lead.pk}/claim/"' in html
    assert _client(org, "rep3").get(f"/lead-pools/{pool.pk}/").status_code == 404
    assert "池中线索" not in _client(org, "rep1").get(f"/lead-pools/{pool.pk}/?score_band=B").content.decode()


def test_claim_from_the_page_and_the_list_shows_the_held_lead(org):
    pool = _pool(org, reclaim_after_days=7)
    lead = _pooled(pool)
    client = _client(org, "rep1")

    response = client.post(f"/leads/{lead.pk}/claim/")

    assert response.status_code == 302 and response["Location"] == f"/leads/{lead.pk}/"
    assert _owner(lead.pk) == org["rep1"].pk
    listing = client.get("/lead-pools/").content.decode()
    assert "华北线索池" in listing and f'href="/leads/{lead.pk}/"' in listing


def test_bulk_claim_and_assign_from_the_browse_page(org):
    pool = _pool(org, daily_claim_quota=1)
    first, second = _pooled(pool, "甲"), _pooled(pool, "乙")

    _client(org, "rep1").post(f"/lead-pools/{pool.pk}/claim/", {"ids": [first.pk, second.pk]})
    assert sorted([_owner(first.pk) or 0, _owner(second.pk) or 0]) == [0, org["rep1"].pk]

    remaining = first if _owner(first.pk) is None else second
    _client(org, "rep1").post(f"/lead-pools/{pool.pk}/assign/", {"ids": [remaining.pk], "to_user_id": org["rep2"].pk})
    assert _owner(remaining.pk) is None  # a rep may not assign
    _client(org, "manager").post(f"/lead-pools/{pool.pk}/assign/",
                                 {"ids": [remaining.pk], "to_user_id": org["rep2"].pk})
    assert _owner(remaining.pk) == org["rep2"].pk


def test_release_from_the_panel_needs_a_reason(org):
    from django.template import Context, Template
    from django.test import RequestFactory

    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.pools import lead_claim

    pool = _pool(org, reclaim_after_days=7)
    lead = _pooled(pool)
    lead_claim(actor=org["rep1"], lead_id=lead.pk)
    lead = Lead.objects.select_related("pool", "owner").get(pk=lead.pk)
    request = RequestFactory().get("/")
    request.user = org["rep1"]

    panel = Template('{% include "leads/_lead_pool_panel.html" with lead=lead %}').render(
        Context({"lead": lead, "request": request, "csrf_token": "x"}))

    assert "退回线索池" in panel and "剩余 6 天" in panel and "rep1" in panel
    client = _client(org, "rep1")
    client.post(f"/leads/{lead.pk}/release/", {"reason": "", "version": lead.version})
    assert _owner(lead.pk) == org["rep1"].pk
    response = client.post(f"/leads/{lead.pk}/release/", {"reason": "无预算", "version": lead.version})
    assert response.status_code == 302
    assert _owner(lead.pk) is None


def test_pool_settings_pages_are_for_admins_and_marketing(org):
    from l2c.apps.leads.models import LeadPool

    assert _client(org, "manager").get("/lead-pools/manage/").status_code == 403
    response = _client(org, "marketing").post("/lead-pools/manage/new/", {
        "name": "市场线索池", "is_active": "on", "member_department_ids": [org.north.pk], "reclaim_after_days": "14",
        "reminder_days": "2", "reclaim_cooldown_days": "3"})
    assert response.status_code == 302
    pool = LeadPool.objects.get()
    assert (pool.reclaim_after_days, pool.reminder_days, pool.reclaim_cooldown_days) == (14, 2, 3)
    assert "市场线索池" in _client(org, "admin").get("/lead-pools/manage/").content.decode()


def test_rule_editor_saves_conditions_shows_errors_per_row_and_previews(org):
    from l2c.apps.leads.models import AssignmentRule

    client = _client(org, "admin")
    bad = client.post("/leads/assignment-rules/new/", {
        "name": "坏规则", "is_active": "on", "action": "user", "target_user_id": org["rep1"].pk,
        "cond_field": ["score", "colour"], "cond_op": ["gte", "eq"], "cond_value": ["高", "red"]})
    html = bad.content.decode()
    assert bad.status_code == 200 and "第 1 个条件" in html and "第 2 个条件" in html
    assert not AssignmentRule.objects.exists()

    ok = client.post("/leads/assignment-rules/new/", {
        "name": "江浙沪", "is_active": "on", "action": "user", "target_user_id": org["rep3"].pk,
        "cond_field": ["province", "score", ""], "cond_op": ["in", "gte", "eq"],
        "cond_value": ["上海，江苏, 浙江", "60", ""]})
    assert ok.status_code == 302
    rule = AssignmentRule.objects.get()
    assert rule.conditions == [{"field": "province", "op": "in", "value": ["上海", "江苏", "浙江"]},
                               {"field": "score", "op": "gte", "value": 60}]

    listing = client.get("/leads/assignment-rules/?preview=1&province=上海&score=70").content.decode()
    assert "由规则“江浙沪”分配" in listing
    assert "没有规则匹配" in client.get("/leads/assignment-rules/?preview=1&province=北京").content.decode()
    assert _client(org, "rep1").get("/leads/assignment-rules/").status_code == 403


def test_rule_editor_refuses_unstorable_numbers_and_control_characters_per_row(org):
    from l2c.apps.leads.models import AssignmentRule

    client = _client(org, "admin")
    response = client.post("/leads/assignment-rules/new/", {
        "name": "坏规则", "is_active": "on", "action": "user", "target_user_id": org["rep1"].pk,
        "cond_field": ["score", "score", "province", "score"], "cond_op": ["gt", "lt", "eq", "gte"],
        "cond_value": ["1e999", "9" * 400, "上\x01海", "60"]})

    html = response.content.decode()
    assert response.status_code == 200
    assert "第 1 个条件：字段“score”的值无效（需要有限的数字，不能是 NaN 或无穷大）。" in html
    assert "第 2 个条件：字段“score”的值无效（数字的绝对值不能超过 1,000,000,000,000,000）。" in html
    assert "第 3 个条件：字段“province”的值无效（不能包含控制字符）。" in html
    assert "第 4 个条件" not in html
    assert not AssignmentRule.objects.exists()

    _rule = client.post("/leads/assignment-rules/new/", {
        "name": "高分", "is_active": "on", "action": "user", "target_user_id": org["rep1"].pk,
        "cond_field": ["score"], "cond_op": ["gt"], "cond_value": ["50"]})
    assert _rule.status_code == 302
    preview = client.get("/leads/assignment-rules/?preview=1&score=" + "9" * 100)
    assert preview.status_code == 200 and "由规则“高分”分配" in preview.content.decode()
