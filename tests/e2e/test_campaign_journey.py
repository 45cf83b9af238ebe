"""Browser journey of a campaign from plan to ROI, in zh-hans and en: marketing plans a campaign with a
cost item and opens online registration; a visitor registers on the public page and gets a check-in
QR code; at the event marketing checks them in from the search; the person's company buys; the ROI
report shows the cost, the won amount and its charts."""

from __future__ import annotations

import re

import pytest

from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_campaign_from_plan_to_roi(org, live_server, page, screenshot, language):
    from django.utils import timezone

    from l2c.apps.customers.rfm import transaction_create
    from l2c.apps.leads.models import Lead
    from l2c.apps.marketing.models import Campaign, CampaignMember
    from tests.conftest import make_account

    login(page, live_server, "marketing", "pw-marketing", language)
    page.goto(f"{live_server.url}/campaigns/new/")
    page.fill("input[name=name]", "2026 杭州行业峰会")
    page.select_option("select[name=kind]", "conference")
    page.fill("input[name=budget]", "50000")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    campaign = Campaign.objects.get(name="2026 杭州行业峰会")

    page.fill("#cost-form input[name=category]", "场地")
    page.fill("#cost-form input[name=planned]", "12000")
    page.fill("#cost-form input[name=actual]", "10000")
    page.locator("#cost-form button[type=submit]").click()
    page.wait_for_load_state()
    page.check("#registration-form input[name=registration_enabled]")
    page.locator("#registration-form button[type=submit]").click()
    page.wait_for_load_state()
    page.select_option("#status-form select[name=status]", "registration_open")
    page.locator("#status-form button[type=submit]").click()
    page.wait_for_load_state()
    campaign.refresh_from_db()
    assert (campaign.status, campaign.registration_enabled) == ("registration_open", True)
    screenshot(f"{language}-campaign-planned")

    # A visitor registers on the public page (no login).
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/r/{campaign.public_token}/")
    page.fill("input[name=name]", "陈晨")
    page.fill("input[name=company]", "杭州旅程科技有限公司")
    page.fill("input[name=mobile]", "13812345678")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/thanks/[A-Za-z0-9_-]+/$"))
    assert page.locator("img.checkin-qr").count() == 1
    screenshot(f"{language}-campaign-registered")
    member = CampaignMember.objects.get(campaign=campaign)
    assert member.status == "registered"

    # At the event: marketing checks the visitor in from the search.
    login(page, live_server, "marketing", "pw-marketing", language)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.select_option("#status-form select[name=status]", "in_progress")
    page.locator("#status-form button[type=submit]").click()
    page.wait_for_load_state()
    page.fill("#checkin-q", "陈晨")
    page.locator(f"#member-{member.pk} button[type=submit]").click()
    page.locator(f"#member-{member.pk} .badge-success").wait_for()
    assert CampaignMember.objects.get(pk=member.pk).status == "checked_in"

    # The lead converts into an account that buys 30,000 元.
    lead = Lead.objects.get(pk=member.lead_id)
    account = make_account(org["rep1"], "杭州旅程科技有限公司")
    Lead.objects.filter(pk=lead.pk).update(status="converted", converted_account=account)
    transaction_create(actor=org["rep1"], account_id=account.pk,
                       data={"occurred_on": timezone.localdate().isoformat(), "amount": "30000"})

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.reload()
    main = page.locator("main").inner_text()
    assert "CNY 10,000.00" in main and "CNY 30,000.00" in main and "200.0%" in main
    for chart in ("cost_vs_won", "funnel", "models"):
        page.locator(f"[data-roi-chart='{chart}'][data-rendered='true'] svg").first.wait_for()
    screenshot(f"{language}-campaign-roi")
