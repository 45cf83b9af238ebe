"""Campaign pages: list (tree), form, detail with ROI chart data, invitations, check-in desk and link,
registration settings; and who sees what."""

from __future__ import annotations

import json
import re

from django.test import Client

from tests.apps.marketing.helpers import make_campaign, make_lead, open_registration


def _client(org, username):
    client = Client()
    client.force_login(org[username])
    return client


def test_nav_and_list_show_the_tree_indented(org):
    root = make_campaign(org["marketing"], "峰会系列")
    make_campaign(org["marketing"], "杭州站", parent=root)
    page = _client(org, "rep1").get("/campaigns/")
    html = page.content.decode()
    assert page.status_code == 200 and 'href="/campaigns/"' in html
    assert html.index("峰会系列") < html.index("杭州站") and "tree-depth-1" in html
    assert "新建活动" not in html
    assert "新建活动" in _client(org, "marketing").get("/campaigns/").content.decode()


def test_create_and_edit_through_the_form(org):
    from l2c.apps.marketing.models import Campaign

    client = _client(org, "marketing")
    response = client.post("/campaigns/new/", {"name": "网络研讨会", "kind": "webinar", "budget": "1000.50",
                                               "is_online": "on"})
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/"
    assert campaign.budget_amount == 100_050 and campaign.is_online
    bad = client.post(f"/campaigns/{campaign.pk}/edit/", {"name": "网络研讨会", "kind": "webinar",
                                                          "starts_on": "2026-05-02", "ends_on": "2026-05-01",
                                                          "version": campaign.version})
    assert bad.status_code == 400 and "结束日期不能早于开始日期。" in bad.content.decode()
    assert _client(org, "rep1").post("/campaigns/new/", {"name": "x", "kind": "other"}).status_code == 403
    assert Campaign.objects.count() == 1


def test_detail_shows_roi_with_chart_data_and_no_inline_script(org):
    from l2c.apps.marketing.services import cost_create

    root = make_campaign(org["marketing"], "峰会系列")
    child = make_campaign(org["marketing"], "杭州站", parent=root)
    cost_create(actor=org["marketing"], campaign_id=child.pk, data={"category": "场地", "planned": "5000"})
    make_lead(org["marketing"], "线索一", campaign=child)
    html = _client(org, "marketing").get(f"/campaigns/{root.pk}/").content.decode()
    data = json.loads(re.search(r'<script id="roi-chart-data" type="application/json">(.*?)</script>', html,
                                re.S).group(1))
    assert data["cost_vs_won"] == {"names": ["峰会系列", "杭州站"], "cost": [5000.0, 5000.0], "won": [0.0, 0.0]}
    assert [step["value"] for step in data["funnel"]] == [0, 0, 0, 1, 0, 0]
    assert "vendor/echarts-5.6.0.min.js" in html and "CNY 5,000.00" in html
    assert not re.search(r"<script(?![^>]*(src=|application/json))", html)  # CSP: no inline script


def test_invite_from_the_page_and_check_in_from_the_search(org):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import campaign_status_set

    campaign = open_registration(org["marketing"], make_campaign(org["marketing"]))
    lead = make_lead(org["rep1"], "王小明", mobile="13600000000")
    rep = _client(org, "rep1")
    found = rep.get(f"/campaigns/{campaign.pk}/people/", {"q": "王小"}).content.decode()
    assert f'name="lead_ids" value="{lead.pk}"' in found
    assert rep.post(f"/campaigns/{campaign.pk}/members/invite/", {"lead_ids": [lead.pk]}).status_code == 302
    member = CampaignMember.objects.get()
    assert member.status == "invited"
    # A rep may invite but not check in.
    assert rep.post(f"/campaigns/{campaign.pk}/members/{member.pk}/checkin/").status_code == 403
    staff = _client(org, "marketing")
    campaign_status_set(actor=org["marketing"], campaign_id=campaign.pk, status="in_progress")
    results = staff.get(f"/campaigns/{campaign.pk}/members/search/", {"q": "136000"}).content.decode()
    assert "王小明" in results and f"/members/{member.pk}/checkin/" in results
    row = staff.post(f"/campaigns/{campaign.pk}/members/{member.pk}/checkin/", HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and "签到成功" in row.content.decode()
    assert CampaignMember.objects.get().status == "checked_in"


def test_the_check_in_link_asks_then_checks_in(org):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import member_register

    campaign = open_registration(org["marketing"], make_campaign(org["marketing"]))
    member = member_register(campaign_id=campaign.pk, lead_id=make_lead(org["marketing"], "赵六").pk).member
    staff = _client(org, "marketing")
    page = staff.get(f"/campaigns/checkin/{member.checkin_token}/")
    assert page.status_code == 200 and "确认签到" in page.content.decode()
    assert CampaignMember.objects.get().status == "registered"  # GET changes nothing
    done = staff.post(f"/campaigns/checkin/{member.checkin_token}/")
    assert done.status_code == 200 and "签到成功。" in done.content.decode()
    assert CampaignMember.objects.get().status == "checked_in"
    assert Client().get(f"/campaigns/checkin/{member.checkin_token}/").status_code == 302  # login first
    assert staff.get("/campaigns/checkin/unknown-token/").status_code == 404


def test_registration_settings_are_saved_from_the_page(org):
    from l2c.apps.marketing.models import Campaign

    campaign = make_campaign(org["marketing"])
    staff = _client(org, "marketing")
    response = staff.post(f"/campaigns/{campaign.pk}/registration/", {
        "registration_enabled": "on", "asked": ["company", "email"], "required": ["email"],
        "registration_capacity": "80", "version": campaign.version})
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.registration_enabled and campaign.registration_capacity == 80
    assert campaign.registration_fields == [{"field": "company", "required": False},
                                            {"field": "email", "required": True}]
    html = staff.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f"/r/{campaign.public_token}/" in html and 'src="data:image/svg+xml' in html
