"""Deals meet the rest of the funnel: lead conversion creates the deal, a tender notice becomes a
deal (buyer matched by duplicate control), campaign ROI counts deals and pipeline, a won deal is
attributed and protects the pool hold, merges re-point deals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from l2c.kernel.errors import ValidationFailed
from tests.conftest import Org, make_account


def _qualified_lead(actor: Any, **data: Any) -> Any:
    from l2c.apps.leads.services import lead_create, lead_update

    lead = lead_create(actor=actor, data={"name": "周杰", "company": "杭州青山数据有限公司", "mobile": "13800001111",
                                          **data})
    return lead_update(actor=actor, lead_id=lead.pk, data={"status": "qualified"})


def test_conversion_creates_the_deal_with_the_contact_in_its_chain(org: Org) -> None:
    from l2c.apps.leads.conversion import lead_convert
    from l2c.apps.opportunities.models import Opportunity

    lead = _qualified_lead(org["rep1"])
    result = lead_convert(actor=org["rep1"], lead_id=lead.pk, opportunity={
        "name": "青山 数据平台", "amount": "300000", "close_date": "2027-03-31", "contact_role": "champion"})
    deal = Opportunity.objects.get(pk=result.opportunity_id)
    assert (deal.account_id, deal.lead_id, deal.source, deal.amount, deal.owner) == (
        result.account_id, lead.pk, "lead", 30_000_000, org["rep1"])
    assert list(deal.chain.values_list("contact_id", "role")) == [(result.contact_id, "champion")]


def test_a_refused_deal_leaves_the_lead_unconverted_and_names_the_deal_field(org: Org) -> None:
    from l2c.apps.customers.models import Account
    from l2c.apps.leads.conversion import lead_convert
    from l2c.apps.leads.models import Lead

    lead = _qualified_lead(org["rep1"])
    with pytest.raises(ValidationFailed) as caught:
        lead_convert(actor=org["rep1"], lead_id=lead.pk, opportunity={"name": "x", "amount": "-5"})
    assert [error.field for error in caught.value.errors] == ["opportunity.amount"]
    assert Lead.objects.get(pk=lead.pk).status == "qualified"
    assert not Account.objects.filter(name="杭州青山数据有限公司").exists()


@pytest.fixture
def notice(org: Org) -> Any:
    from l2c.apps.tenders.models import TenderNotice
    from l2c.apps.tenders.services import tender_batch_ingest

    tender_batch_ingest(actor=org["marketing"], items=[{
        "source": "t", "source_notice_id": "N-9", "title": "深圳市第一中学智慧校园建设项目",
        "buyer_name": "深圳市第一中学", "province": "广东省", "city": "深圳市", "budget_amount": 350_000_00}])
    return TenderNotice.objects.get()


def test_a_notice_becomes_one_deal_at_a_new_buyer_account(org: Org, api_client_for: Any, notice: Any) -> None:
    client = api_client_for("rep1")
    first = client.post(f"/api/v1/tenders/notices/{notice.pk}/opportunity", data="{}",
                        content_type="application/json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["created"], body["account_created"], body["opportunity"]["amount"],
            body["opportunity"]["source"], body["opportunity"]["tender_notice_id"]) == (
        True, True, 350_000_00, "tender", notice.pk)
    again = client.post(f"/api/v1/tenders/notices/{notice.pk}/opportunity", data="{}",
                        content_type="application/json")
    assert (again.status_code, again.json()["opportunity"]["id"]) == (200, body["opportunity"]["id"])
    # A colleague out of reach: refused naming nobody.
    refused = api_client_for("rep3").post(f"/api/v1/tenders/notices/{notice.pk}/opportunity", data="{}",
                                          content_type="application/json")
    assert refused.status_code == 409


def test_a_notice_deal_joins_the_exact_visible_account(org: Org, api_client_for: Any, notice: Any) -> None:
    account = make_account(org["rep1"], name="深圳市第一中学")
    response = api_client_for("rep1").post(f"/api/v1/tenders/notices/{notice.pk}/opportunity",
                                           data=json.dumps({}), content_type="application/json")
    assert response.json()["opportunity"]["account_id"] == account.pk
    assert response.json()["account_created"] is False


def test_campaign_roi_counts_deals_and_open_pipeline(org: Org) -> None:
    from l2c.apps.marketing.models import Campaign
    from l2c.apps.opportunities.campaign_roi import campaign_deal_counts
    from l2c.apps.opportunities.services import opportunity_create

    campaign = Campaign.objects.create(name="2026 数字化峰会", kind="conference", owner=org["marketing"],
                                       starts_on="2026-10-01", ends_on="2026-10-02", currency="CNY")
    account = make_account(org["rep1"])
    for amount, currency in (("100000", "CNY"), ("50000", "CNY"), ("70000", "USD")):
        opportunity_create(actor=org["rep1"], data={"name": "峰会商机", "account_id": account.pk, "amount": amount,
                                                    "currency": currency, "campaign_id": campaign.pk})
    counts = campaign_deal_counts([campaign.pk])[campaign.pk]
    assert (counts.opportunities, counts.pipeline_amount) == (3, 15_000_000)


def test_an_account_merge_repoints_its_deals(org: Org) -> None:
    from l2c.apps.customers.merge import accounts_merge
    from l2c.apps.opportunities.models import Opportunity
    from l2c.apps.opportunities.services import opportunity_create

    survivor = make_account(org["rep1"], name="北京星河科技有限公司")
    merged = make_account(org["rep1"], name="北京星河科技股份有限公司")
    deal = opportunity_create(actor=org["rep1"], data={"name": "星河 扩容", "account_id": merged.pk})
    accounts_merge(actor=org["admin"], survivor_id=survivor.pk, merged_ids=[merged.pk])
    assert Opportunity.objects.get(pk=deal.pk).account_id == survivor.pk
