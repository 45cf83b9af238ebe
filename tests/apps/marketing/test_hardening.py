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
    assert api.status_code == 409
    assert ("已关闭" if status == "closed" else "只有报名中或进行中的活动可以签到") in api.json()["detail"]
    assert CampaignMember.objects.get().status == "invited"


def test_a_child_shares_its_parent_s_currency(org, api_client_for):
    from l2c.apps.marketing.models import Campaign
    from l2c.apps.marketing.services import campaign_update
    from l2c.kernel.errors import ValidationFailed

    user = org["marketing"]
    usd = make_campaign(user, "Global Summit", currency="USD")
    cny = make_campaign(user, "华东系列")
    child = make_campaign(user, "New York", parent=usd)
    assert child.currency == "USD"  # inherited
    client = api_client_for("marketing")
    response = _post(client, "/api/v1/campaigns", {"name": "Boston", "parent_id": usd.pk, "currency": "CNY"})
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["currency"]
    assert _post(client, "/api/v1/campaigns", {"name": "Boston", "parent_id": usd.pk}).json()["currency"] == "USD"
    with pytest.raises(ValidationFailed) as moved:
        campaign_update(actor=user, campaign_id=child.pk, data={"parent_id": cny.pk})
    assert [error.field for error in moved.value.errors] == ["parent_id"]
    with pytest.raises(ValidationFailed) as changed:
        campaign_update(actor=user, campaign_id=usd.pk, data={"currency": "EUR"})
    assert [error.field for error in changed.value.errors] == ["currency"]
    assert set(Campaign.objects.values_list("name", "currency", "parent_id")) == {
        ("Global Summit", "USD", None), ("华东系列", "CNY", None), ("New York", "USD", usd.pk),
        ("Boston", "USD", usd.pk)}


def test_roi_keeps_each_node_s_figures_in_its_currency(org):
    """Data from before the rule: a CNY child under a USD root. Its own won amount counts in CNY; the
    root's roll-up leaves it out rather than adding yuan to dollars."""
    from django.utils import timezone

    from l2c.apps.marketing.models import Campaign, CampaignAttribution
    from l2c.apps.marketing.roi import campaign_tree_roi

    user = org["marketing"]
    root = make_campaign(user, "Global Summit", currency="USD")
    child = make_campaign(user, "上海站", parent=root)
    Campaign.objects.filter(pk=child.pk).update(currency="CNY")
    now = timezone.now()
    for campaign, currency, amount, source_id in ((child, "CNY", 700, 1), (child, "USD", 100, 2),
                                                  (root, "USD", 50, 3)):
        CampaignAttribution.objects.create(campaign=campaign, model="linear", source="transaction",
                                           source_id=source_id, amount=amount, currency=currency, won_at=now)
    roi = campaign_tree_roi(root)
    assert roi.nodes[child.pk].own.won["linear"] == 700
    assert roi.nodes[root.pk].own.won["linear"] == 50
    assert roi.root.rollup.won["linear"] == 50 and roi.root.rollup.won_deals == 1


@pytest.mark.django_db(transaction=True)
def test_two_crossing_moves_at_once_never_make_a_cycle(org, monkeypatch):
    """A under B and B under A at the same moment (PostgreSQL, real threads): each validates, then
    waits for the other before writing. Serialised moves: the second re-reads the paths after the
    first committed and is refused as a cycle."""
    import contextlib
    import threading

    from django.db import connection

    from l2c.apps.marketing import services
    from l2c.apps.marketing.models import Campaign
    from l2c.kernel.errors import ValidationFailed

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE); the race needs PostgreSQL")
    user = org["marketing"]
    a, b = make_campaign(user, "A"), make_campaign(user, "B")
    barrier = threading.Barrier(2)
    real_clean_parent = services._clean_parent

    def clean_parent_then_wait(*args, **kwargs):
        parent = real_clean_parent(*args, **kwargs)
        # With the lock, the other move is still waiting for it: the barrier times out.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)
        return parent

    monkeypatch.setattr(services, "_clean_parent", clean_parent_then_wait)
    outcomes: list[str] = []

    def move(campaign, parent):
        try:
            services.campaign_update(actor=user, campaign_id=campaign.pk, data={"parent_id": parent.pk})
            outcomes.append("ok")
        except ValidationFailed as failure:
            outcomes.append(failure.errors[0].code)
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=pair) for pair in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["cycle", "ok"]
    paths = dict(Campaign.objects.values_list("pk", "path"))
    assert sorted(paths.values()) in ([f"/{a.pk}/", f"/{a.pk}/{b.pk}/"], [f"/{b.pk}/", f"/{b.pk}/{a.pk}/"])


def test_invite_counts_only_the_rows_it_inserted(org):
    from django.db import connection

    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import members_invite, new_token

    user = org["marketing"]
    campaign = make_campaign(user)
    first, second = make_lead(user, "甲"), make_lead(user, "乙")
    fired = []

    def invite_concurrently_after_the_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not fired and sql.lstrip().upper().startswith("SELECT") and "campaignmember" in sql and "lead_id" in sql:
            fired.append(sql)  # another request invites 乙 between our read and our insert
            CampaignMember.objects.create(campaign=campaign, lead=second, status="invited", checkin_token=new_token())
        return result

    with connection.execute_wrapper(invite_concurrently_after_the_read):
        result = members_invite(actor=user, campaign_id=campaign.pk, lead_ids=[first.pk, second.pk])
    assert fired
    assert (result.invited, result.already) == (1, 1)
    assert CampaignMember.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_recordings_of_one_win_at_once_count_once(org):
    import threading

    from django.db import connection
    from django.utils import timezone

    from l2c.apps.marketing.attribution import campaign_record_won
    from l2c.apps.marketing.models import CampaignAttribution
    from l2c.apps.marketing.services import member_register
    from tests.apps.marketing.helpers import open_registration
    from tests.conftest import make_account, make_contact

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    user = org["marketing"]
    campaign = open_registration(user, make_campaign(user))
    account = make_account(org["rep1"], "杭州云帆信息技术有限公司")
    member_register(campaign_id=campaign.pk, contact_id=make_contact(org["rep1"], account, "王强").pk)
    won_at = timezone.now()
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def record():
        try:
            barrier.wait(timeout=10)
            counts.append(campaign_record_won(account_id=account.pk, amount=1000, currency="CNY", won_at=won_at,
                                              source="transaction", source_id=42))
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(counts) == [0, 3] and CampaignAttribution.objects.count() == 3
