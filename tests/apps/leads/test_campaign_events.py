"""Campaign behaviour feeds lead scoring: registering and checking in give the lead one
`campaign_registration` and one `campaign_checkin` event each (after commit), and its behaviour
score rises; repeating either changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.apps.marketing.helpers import make_campaign, open_registration

pytestmark = pytest.mark.django_db


def test_registration_and_check_in_become_scored_events_once(org, django_capture_on_commit_callbacks):
    from l2c.apps.leads.models import Lead, LeadEvent
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import member_check_in

    campaign = open_registration(org["marketing"], make_campaign(org["marketing"], "2026 杭州峰会"),
                                 registration_fields=[{"field": "mobile", "required": True}])
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(f"/r/{campaign.public_token}/", {"name": "张伟", "mobile": "13800138000"})
    lead = Lead.objects.get()
    assert list(LeadEvent.objects.values_list("kind", "lead_id")) == [("campaign_registration", lead.pk)]
    registered_score = lead.behaviour_score
    assert registered_score > 0

    member = CampaignMember.objects.get()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            member_check_in(actor=org["marketing"], token=member.checkin_token)
    assert sorted(LeadEvent.objects.values_list("kind", flat=True)) == ["campaign_checkin", "campaign_registration"]
    lead.refresh_from_db()
    assert lead.behaviour_score > registered_score
