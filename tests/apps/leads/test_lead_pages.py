"""The lead pages: list, detail, create (with the duplicate warning), status moves, conversion,
bulk transfer and a lead from a tender notice — as each role sees them."""

from __future__ import annotations

from typing import Any

import pytest

from l2c.apps.customers.models import Account
from l2c.apps.leads import services
from l2c.apps.leads.models import Lead, LeadStatus

pytestmark = pytest.mark.django_db


def logged_in(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def test_the_list_shows_own_leads_with_status_tabs(org: Any, client: Any) -> None:
    services.lead_create(actor=org["rep1"], data={"name": "张伟", "company": "杭州云帆"})
    services.lead_create(actor=org["rep2"], data={"name": "李娜"})
    response = logged_in(client, org["rep1"]).get("/leads/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "张伟" in html and "李娜" not in html
    assert 'href="/leads/new/"' in html


def test_finance_sees_no_lead_pages(org: Any, client: Any) -> None:
    assert logged_in(client, org["finance"]).get("/leads/").status_code == 403


def test_create_warns_on_the_same_mobile_and_saves_when_confirmed(org: Any, client: Any) -> None:
    services.lead_create(actor=org["rep1"], data={"name": "张伟", "mobile": "13800138000"})
    client = logged_in(client, org["rep1"])
    response = client.post("/leads/new/", {"name": "张先生", "mobile": "138-0013-8000"})
    assert response.status_code == 200
    assert "可能重复" in response.content.decode()
    assert Lead.objects.count() == 1
    response = client.post("/leads/new/", {"name": "张先生", "mobile": "138-0013-8000", "confirm_duplicates": "on"})
    assert response.status_code == 302
    assert Lead.objects.count() == 2


def test_create_shows_every_field_error(org: Any, client: Any) -> None:
    response = logged_in(client, org["rep1"]).post("/leads/new/", {"email": "bad@", "mobile": "x"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "请填写姓名或公司（至少一项）。" in html
    assert Lead.objects.count() == 0


def test_escaped_output(org: Any, client: Any) -> None:
    lead = services.lead_create(actor=org["rep1"], data={"name": "<script>alert(1)</script>",
                                                         "description": "<img src=x onerror=alert(1)>"})
    html = logged_in(client, org["rep1"]).get(f"/leads/{lead.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_status_buttons_move_the_lead_and_disqualify_needs_a_reason(org: Any, client: Any) -> None:
    lead = services.lead_create(actor=org["rep1"], data={"name": "张伟"})
    client = logged_in(client, org["rep1"])
    client.post(f"/leads/{lead.pk}/status/", {"status": "disqualified", "reason": "", "version": lead.version})
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW
    client.post(f"/leads/{lead.pk}/status/", {"status": "qualified", "version": lead.version})
    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED


def test_the_conversion_page_converts_into_a_new_account(org: Any, client: Any) -> None:
    lead = services.lead_create(actor=org["rep1"], data={"name": "张伟", "company": "杭州云帆信息技术有限公司",
                                                         "mobile": "13800138000"})
    services.lead_update(actor=org["rep1"], lead_id=lead.pk, data={"status": "qualified"})
    client = logged_in(client, org["rep1"])
    page = client.get(f"/leads/{lead.pk}/convert/")
    assert page.status_code == 200 and "杭州云帆信息技术有限公司" in page.content.decode()
    response = client.post(f"/leads/{lead.pk}/convert/", {"account_choice": "new",
                                                          "account_name": "杭州云帆信息技术有限公司",
                                                          "contact_name": "张伟", "contact_title": "CTO"})
    assert response.status_code == 302
    account = Account.objects.get()
    assert response["Location"] == f"/accounts/{account.pk}/"
    lead.refresh_from_db()
    assert (lead.status, lead.converted_account_id) == (LeadStatus.CONVERTED, account.pk)


def test_bulk_transfer_by_a_manager(org: Any, client: Any) -> None:
    first = services.lead_create(actor=org["rep1"], data={"name": "张伟"})
    second = services.lead_create(actor=org["rep1"], data={"name": "李娜"})
    response = logged_in(client, org["manager"]).post("/leads/transfer/", {
        "ids": [first.pk, second.pk], "to_user": org["rep2"].pk, "reason": "调整"})
    assert response.status_code == 302
    assert set(Lead.objects.values_list("owner_id", flat=True)) == {org["rep2"].pk}


def test_a_rep_cannot_bulk_transfer(org: Any, client: Any) -> None:
    lead = services.lead_create(actor=org["rep1"], data={"name": "张伟"})
    logged_in(client, org["rep1"]).post("/leads/transfer/", {"ids": [lead.pk], "to_user": org["rep2"].pk})
    lead.refresh_from_db()
    assert lead.owner_id == org["rep1"].pk


def test_ticked_leads_are_invited_to_a_campaign_from_the_list(org: Any, client: Any) -> None:
    from l2c.apps.marketing.models import CampaignMember
    from tests.apps.marketing.helpers import make_campaign

    campaign = make_campaign(org["marketing"], "2026 杭州峰会")
    first = services.lead_create(actor=org["rep1"], data={"name": "张伟"})
    second = services.lead_create(actor=org["rep1"], data={"name": "李娜"})
    client = logged_in(client, org["rep1"])
    assert "2026 杭州峰会" in client.get("/leads/").content.decode()
    response = client.post("/leads/invite/", {"ids": [first.pk, second.pk], "campaign": campaign.pk})
    assert response.status_code == 302
    assert sorted(CampaignMember.objects.filter(campaign=campaign).values_list("lead_id", "status")) == [
        (first.pk, "invited"), (second.pk, "invited")]
    client.post("/leads/invite/", {"ids": [first.pk], "campaign": campaign.pk})
    assert CampaignMember.objects.filter(campaign=campaign).count() == 2
