"""The public registration page /r/<token>/: capture + registration, abuse (XSS, oversized input,
honeypot, bursts → 429, CSRF), capacity, the thank-you page's QR code."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.apps.marketing.helpers import make_campaign, open_registration

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def campaign(org):
    fields = [{"field": "company", "required": True}, {"field": "mobile", "required": True},
              {"field": "email", "required": False}, {"field": "description", "required": False}]
    return open_registration(org["marketing"], make_campaign(org["marketing"], "2026 杭州峰会", location="杭州"),
                             registration_fields=fields)


def _submit(client, campaign, **values):
    data = {"name": "张伟", "company": "杭州云帆信息技术有限公司", "mobile": "13800138000", **values}
    return client.post(f"/r/{campaign.public_token}/", data)


def _counts():
    from l2c.apps.leads.models import Lead
    from l2c.apps.marketing.models import CampaignMember

    return Lead.objects.count(), CampaignMember.objects.count()


def test_the_form_asks_the_configured_fields(campaign):
    response = Client().get(f"/r/{campaign.public_token}/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("name", "company", "mobile", "email", "description", "website"):
        assert f'name="{name}"' in html
    assert 'name="wechat"' not in html
    assert "csrfmiddlewaretoken" in html


def test_unknown_token_is_a_404_and_a_closed_campaign_has_no_form(org, campaign):
    from l2c.apps.marketing.services import campaign_status_set

    assert Client().get("/r/nope/").status_code == 404
    assert Client().get("/r/<script>/").status_code == 404
    campaign_status_set(actor=org["marketing"], campaign_id=campaign.pk, status="completed")
    response = Client().get(f"/r/{campaign.public_token}/")
    assert response.status_code == 200 and 'name="company"' not in response.content.decode()
    assert _submit(Client(), campaign).status_code == 409
    assert _counts() == (0, 0)


def test_a_registration_captures_a_lead_and_registers_it(campaign):
    from l2c.apps.leads.models import Lead
    from l2c.apps.marketing.models import CampaignMember

    response = _submit(Client(), campaign, email="zhangwei@example.com")
    assert response.status_code == 302
    member = CampaignMember.objects.get()
    assert response["Location"] == f"/r/{campaign.public_token}/thanks/{member.checkin_token}/"
    lead = Lead.objects.get()
    assert (lead.name, lead.company, lead.campaign_id, lead.source) == ("张伟", "杭州云帆信息技术有限公司",
                                                                        campaign.pk, "campaign")
    assert (member.lead_id, member.status, member.source) == (lead.pk, "registered", "registration")
    assert member.registered_at is not None
    thanks = Client().get(response["Location"])
    html = thanks.content.decode()
    assert thanks.status_code == 200 and 'src="data:image/svg+xml' in html
    assert f"/campaigns/checkin/{member.checkin_token}/" in html


def test_registering_again_duplicates_nothing(campaign):
    _submit(Client(), campaign)
    response = _submit(Client(), campaign, email="zw@example.com")
    assert response.status_code == 302
    assert _counts() == (1, 1)


def test_an_existing_member_s_check_in_link_is_never_shown_again(org, campaign):
    from l2c.apps.leads.services import lead_create
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import members_invite

    invited = lead_create(actor=org["marketing"], data={"name": "王强", "company": "云帆", "mobile": "13900139000"})
    members_invite(actor=org["marketing"], campaign_id=campaign.pk, lead_ids=[invited.pk])
    first = _submit(Client(), campaign)  # a new member: their own QR code
    member = CampaignMember.objects.get(lead__mobile="13800138000")
    assert first["Location"] == f"/r/{campaign.public_token}/thanks/{member.checkin_token}/"
    for mobile, existing in (("13800138000", member), ("13900139000", CampaignMember.objects.get(lead=invited))):
        response = _submit(Client(), campaign, mobile=mobile)  # someone typing another person's mobile
        assert response.status_code == 302 and response["Location"] == f"/r/{campaign.public_token}/thanks/"
        html = Client().get(response["Location"]).content.decode()
        assert existing.checkin_token not in html and "data:image/svg+xml" not in html
        assert "你的报名已收到，主办方会与你联系。" in html


def test_the_honeypot_pretends_success_and_stores_nothing(campaign):
    response = _submit(Client(), campaign, website="http://spam.example")
    assert response.status_code == 302 and response["Location"] == f"/r/{campaign.public_token}/thanks/"
    assert _counts() == (0, 0)
    assert Client().get(response["Location"]).status_code == 200


def test_oversized_input_is_a_400_with_field_messages_and_nothing_stored(campaign):
    response = _submit(Client(), campaign, company="公" * 201, description="x" * 2001, mobile="")
    assert response.status_code == 400
    html = response.content.decode()
    assert "最多 200 个字符。" in html and "最多 2000 个字符。" in html and "此项为必填项。" in html
    assert _counts() == (0, 0)


@pytest.mark.parametrize("field", ["name", "company", "description"])
def test_xss_payloads_are_rendered_escaped(org, campaign, field):
    from l2c.apps.marketing.models import CampaignMember

    # Re-rendered with an error (the mobile is missing): the payload comes back escaped.
    response = _submit(Client(), campaign, mobile="", **{field: XSS})
    html = response.content.decode()
    assert response.status_code == 400
    assert XSS not in html and "&lt;script&gt;" in html
    # Stored as text and shown escaped on the staff pages.
    assert _submit(Client(), campaign, **{field: XSS}).status_code == 302
    staff = Client()
    staff.force_login(org["marketing"])
    detail = staff.get(f"/campaigns/{campaign.pk}/").content.decode()
    search = staff.get(f"/campaigns/{campaign.pk}/members/search/", {"q": "1380013"}).content.decode()
    member = CampaignMember.objects.get()
    checkin = staff.get(f"/campaigns/checkin/{member.checkin_token}/").content.decode()
    for page in (detail, search, checkin):
        assert "<script>alert" not in page and "<img src=x" not in page


def test_control_characters_are_refused(campaign):
    response = _submit(Client(), campaign, name="张\x1b伟")
    assert response.status_code == 400 and _counts() == (0, 0)


def test_nul_characters_are_dropped_before_the_page_sees_them(campaign):
    from l2c.apps.leads.models import Lead

    assert _submit(Client(), campaign, name="张\x00伟").status_code == 302  # the pages' NUL middleware
    assert list(Lead.objects.values_list("name", flat=True)) == ["张伟"]


@override_settings(L2C_REGISTRATION_RATE_PER_IP=3, L2C_REGISTRATION_RATE_WINDOW_SECONDS=600)
def test_a_burst_from_one_address_gets_429_with_retry_after(campaign):
    client = Client()
    statuses = [_submit(client, campaign, mobile=f"1380013800{index}").status_code for index in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    response = _submit(client, campaign, mobile="13800138009")
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 600
    assert _counts() == (3, 3)
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert _submit(other, campaign, mobile="13900000000").status_code == 302


@override_settings(L2C_REGISTRATION_RATE_PER_CAMPAIGN=2, L2C_REGISTRATION_RATE_WINDOW_SECONDS=600)
def test_a_burst_on_one_campaign_gets_429_whatever_the_address(campaign):
    statuses = [_submit(Client(REMOTE_ADDR=f"10.0.0.{index}"), campaign, mobile=f"1370000000{index}").status_code
                for index in range(4)]
    assert statuses == [302, 302, 429, 429]


def test_csrf_is_enforced(campaign):
    client = Client(enforce_csrf_checks=True)
    assert _submit(client, campaign).status_code == 403
    assert _counts() == (0, 0)


def test_a_full_campaign_refuses_and_keeps_no_lead(org, campaign):
    from l2c.apps.marketing.services import campaign_update

    campaign_update(actor=org["marketing"], campaign_id=campaign.pk, data={"registration_capacity": 1})
    assert _submit(Client(), campaign).status_code == 302
    response = _submit(Client(), campaign, name="李娜", mobile="13900000001", company="上海某公司")
    assert response.status_code == 409
    assert _counts() == (1, 1)


@pytest.mark.parametrize(("proxies", "remote", "forwarded", "expected"), [
    (0, "203.0.113.7", "198.51.100.1", "203.0.113.7"),  # no proxy: the header is the client's word
    (1, "10.0.0.2", "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # one proxy: the right-most entry
    (2, "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.1", "198.51.100.1"),  # two: the second from the right
    (2, "10.0.0.2", "10.0.0.1", "10.0.0.2"),  # fewer entries than proxies: the direct peer
    (0, "2001:db8:1:2:aaaa::1", "", "2001:db8:1:2::/64"),
    (1, "10.0.0.2", "2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    (0, "::ffff:203.0.113.7", "", "203.0.113.7"),
])
def test_the_client_address_behind_trusted_proxies_and_ipv6_by_64(settings, proxies, remote, forwarded, expected):
    from django.test import RequestFactory

    from l2c.apps.leads.registration_views import _client_address

    settings.L2C_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().post("/r/x/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert _client_address(request) == expected


@override_settings(L2C_REGISTRATION_RATE_PER_IP=2, L2C_REGISTRATION_RATE_WINDOW_SECONDS=600,
                   L2C_TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_each_client_has_its_own_limit_and_an_ipv6_64_shares_one(campaign):
    def submit(forwarded, index):
        return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded).post(
            f"/r/{campaign.public_token}/", {"name": "张伟", "company": "云帆", "mobile": f"1380013{index:04d}"})

    first = [submit("198.51.100.1", index).status_code for index in range(3)]
    # A spoofed left-most entry changes nothing: the proxy's entry is the client.
    spoofed = submit("1.2.3.4, 198.51.100.1", 3).status_code
    other = submit("198.51.100.2", 4).status_code
    same_64 = [submit(f"2001:db8:1:2::{index}", 10 + index).status_code for index in range(3)]
    assert (first, spoofed, other, same_64) == ([302, 302, 429], 429, 302, [302, 302, 429])
