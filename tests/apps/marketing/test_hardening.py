"""Review fixes of campaigns: bad ids in filters, lost member updates, the check-in link, currencies,
tree moves under concurrency and counts of inserted rows."""

from __future__ import annotations

import json

import pytest

from tests.apps.marketing.helpers import make_campaign, make_lead


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("filters", "field"), [({"owner_id": "abc"}, "filters.owner_id"),
                                                ({"campaign_id": "9" * 30}, "filters.campaign_id"),
                                                ({"campaign_id": "0"}, "filters.campaign_id"),
                                                ({"owner_id": "-5"}, "filters.owner_id"),
                                                ({"owner_id": str(2**63)}, "filters.owner_id")])
def test_invite_matching_with_a_bad_id_is_a_422_naming_the_field(org, api_client_for, filters, field):
    from l2c.apps.marketing.models import CampaignMember

    campaign = make_campaign(org["marketing"])
    make_lead(org["marketing"], "张伟")
    response = _post(api_client_for("marketing"), f"/api/v1/campaigns/{campaign.pk}/members/invite-matching",
                     {"filters": filters})
    assert response.status_code == 422, response.content
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert CampaignMember.objects.count() == 0


def test_invite_matching_with_the_largest_id_matches_nothing(org, api_client_for):
    campaign = make_campaign(org["marketing"])
    make_lead(org["marketing"], "张伟")
    response = _post(api_client_for("marketing"), f"/api/v1/campaigns/{campaign.pk}/members/invite-matching",
                     {"filters": {"owner_id": str(2**63 - 1)}})
    assert response.status_code == 200 and response.json() == {"invited": 0, "already": 0}


def test_a_huge_parent_id_is_a_field_error(org, api_client_for):
    response = _post(api_client_for("marketing"), "/api/v1/campaigns", {"name": "A", "parent_id": 10**30})
    assert response.status_code == 422, response.content
    assert [error["field"] for error in response.json()["errors"]] == ["parent_id"]


def _member(campaign, lead, status, **stamps):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import new_token

    return CampaignMember.objects.create(campaign=campaign, lead=lead, status=status, checkin_token=new_token(),
                                         **stamps)


def _check_in_behind_the_back(member_id):
    """What a concurrent check-in (another request, committed) leaves in the row."""
    from django.utils import timezone

    from l2c.apps.marketing.models import CampaignMember

    CampaignMember.objects.filter(pk=member_id).update(status="checked_in", checked_in_at=timezone.now())


def test_registering_never_overwrites_a_check_in_made_meanwhile(org, monkeypatch):
    from l2c.apps.marketing import services
    from l2c.apps.marketing.models import CampaignMember
    from tests.apps.marketing.helpers import open_registration

    campaign = open_registration(org["marketing"], make_campaign(org["marketing"]))
    member = _member(campaign, make_lead(org["marketing"]), "invited")
    real_capacity_left = services.capacity_left

    def capacity_left_and_a_check_in(campaign):  # runs between the member's read and the write
        _check_in_behind_the_back(member.pk)
        return real_capacity_left(campaign)

    monkeypatch.setattr(services, "capacity_left", capacity_left_and_a_check_in)
    result = services.member_register(campaign_id=campaign.pk, lead_id=member.lead_id)
    row = CampaignMember.objects.get(pk=member.pk)
    assert (row.status, row.checked_in_at is not None, row.registered_at) == ("checked_in", True, None)
    assert result.created is False and result.member.status == "checked_in"


def test_no_show_skips_a_member_checked_in_meanwhile(org):
    from django.db import connection

    from l2c.apps.marketing import services
    from l2c.apps.marketing.models import CampaignMember

    user = org["marketing"]
    campaign = services.campaign_status_set(actor=user, campaign_id=make_campaign(user).pk, status="in_progress")
    first = _member(campaign, make_lead(user, "甲"), "registered")
    second = _member(campaign, make_lead(user, "乙"), "registered")
    fired = []

    def check_in_after_the_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        where = sql.split("WHERE", 1)[-1]
        if (not fired and sql.lstrip().upper().startswith("SELECT") and "campaignmember" in sql
                and "status" in where):
            fired.append(sql)
            _check_in_behind_the_back(second.pk)
        return result

    with connection.execute_wrapper(check_in_after_the_read):
        changed = services.members_status_set(actor=user, campaign_id=campaign.pk,
                                              member_ids=[first.pk, second.pk], status="no_show")
    assert fired
    assert changed == 1
    assert dict(CampaignMember.objects.values_list("pk", "status")) == {first.pk: "no_show", second.pk: "checked_in"}
    assert CampaignMember.objects.get(pk=second.pk).no_show_at is None


def _client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_the_check_in_link_shows_the_person_only_to_who_may_check_in(org):
    from l2c.apps.marketing.services import member_register
    from tests.apps.marketing.helpers import open_registration

    campaign = open_registration(org["marketing"], make_campaign(org["marketing"]))
    lead = make_lead(org["marketing"], "赵六", mobile="13712345678", email="zhaoliu@example.com")
    member = member_register(campaign_id=campaign.pk, lead_id=lead.pk).member
    for username in ("rep1", "manager", "finance"):  # they may view the campaign, not edit it
        page = _client(org[username]).get(f"/campaigns/checkin/{member.checkin_token}/")
        html = page.content.decode()
        assert page.status_code == 403 and "赵六" not in html and "13712345678" not in html
    page = _client(org["marketing"]).get(f"/campaigns/checkin/{member.checkin_token}/")
    assert page.status_code == 200 and "13712345678" in page.content.decode()


@pytest.mark.parametrize("status", ["planned", "inviting", "completed", "closed"])
def test_check_in_only_while_registration_is_open_or_the_event_runs(org, api_client_for, status):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import campaign_status_set, members_invite

    user = org["marketing"]
    campaign = make_campaign(user)
    members_invite(actor=user, campaign_id=campaign.pk, lead_ids=[make_lead(user, "赵六").pk])
    member = CampaignMember.objects.get()
    if status != "planned":
        campaign_status_set(actor=user, campaign_id=campaign.pk, status=status)
    client = _client(user)
    page = client.get(f"/campaigns/checkin/{member.checkin_token}/").content.decode()
    assert "只有报名中或进行中的活动可以签到" in page and "确认签到" not in page
    assert client.post(f"/campaigns/checkin/{member.checkin_token}/").status_code == 409
    api = api_client_for("marketing").post(f"/api/v1/campaigns/checkin/{member.checkin_token}", "{}",
                                           content_type="application/json")
    assert api.status_code == 409 and "只有报名中或进行中的活动可以签到" in api.json()["detail"]
    assert CampaignMember.objects.get().status == "invited"
