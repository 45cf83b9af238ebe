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
