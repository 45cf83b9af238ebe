"""Campaign services: the tree, the status lifecycle, cost items, members and permissions."""

from __future__ import annotations

import pytest

from l2c.apps.activity.models import AuditEvent
from l2c.kernel.errors import Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationFailed
from tests.apps.marketing.helpers import make_campaign, make_lead, open_registration
from tests.conftest import make_account, make_contact


def test_create_builds_the_path_and_the_department_and_audits(org):
    from l2c.apps.marketing.models import Campaign

    root = make_campaign(org["marketing"], budget="120000.50")
    child = make_campaign(org["marketing"], "杭州站", parent=root)
    grandchild = make_campaign(org["marketing"], "杭州站·分论坛", parent=child)
    assert Campaign.objects.get(pk=root.pk).path == f"/{root.pk}/"
    assert Campaign.objects.get(pk=grandchild.pk).path == f"/{root.pk}/{child.pk}/{grandchild.pk}/"
    assert root.budget_amount == 12_000_050
    assert root.owner == org["marketing"] and root.department == org.marketing_department
    assert root.status == "planned" and len(root.public_token) == 32
    event = AuditEvent.objects.get(object_type="campaign", object_id=root.pk)
    assert event.action == "create" and event.changes["budget_amount"] == [None, 12_000_050]


def test_reparenting_moves_the_whole_subtree_and_rejects_cycles(org):
    from l2c.apps.marketing.models import Campaign
    from l2c.apps.marketing.services import campaign_update

    user = org["marketing"]
    a = make_campaign(user, "A")
    b = make_campaign(user, "B", parent=a)
    c = make_campaign(user, "C", parent=b)
    other = make_campaign(user, "D")
    campaign_update(actor=user, campaign_id=b.pk, data={"parent_id": other.pk})
    assert Campaign.objects.get(pk=b.pk).path == f"/{other.pk}/{b.pk}/"
    assert Campaign.objects.get(pk=c.pk).path == f"/{other.pk}/{b.pk}/{c.pk}/"
    version = Campaign.objects.get(pk=b.pk).version
    for parent in (b, c):
        with pytest.raises(ValidationFailed) as failure:
            campaign_update(actor=user, campaign_id=b.pk, data={"parent_id": parent.pk})
        assert failure.value.errors[0].code == "cycle"
    assert Campaign.objects.get(pk=b.pk).version == version
    campaign_update(actor=user, campaign_id=b.pk, data={"parent_id": None})
    assert Campaign.objects.get(pk=c.pk).path == f"/{b.pk}/{c.pk}/"


def test_the_tree_has_a_depth_limit(org):
    from l2c.apps.marketing.services import MAX_DEPTH

    parent = make_campaign(org["marketing"], "L0")
    for level in range(1, MAX_DEPTH + 1):
        parent = make_campaign(org["marketing"], f"L{level}", parent=parent)
    with pytest.raises(ValidationFailed) as failure:
        make_campaign(org["marketing"], "too deep", parent=parent)
    assert failure.value.errors[0].code == "too_deep"


def test_a_stale_version_is_refused_and_nothing_changes(org):
    from l2c.apps.marketing.models import Campaign
    from l2c.apps.marketing.services import campaign_update

    campaign = make_campaign(org["marketing"])
    campaign_update(actor=org["marketing"], campaign_id=campaign.pk, data={"location": "杭州"}, expected_version=1)
    with pytest.raises(PreconditionFailed):
        campaign_update(actor=org["marketing"], campaign_id=campaign.pk, data={"location": "上海"},
                        expected_version=1)
    assert Campaign.objects.get(pk=campaign.pk).location == "杭州"


def test_status_moves_only_forward_and_closed_is_final(org):
    from l2c.apps.marketing.services import campaign_status_set

    user = org["marketing"]
    campaign = make_campaign(user)
    campaign = campaign_status_set(actor=user, campaign_id=campaign.pk, status="inviting")
    campaign = campaign_status_set(actor=user, campaign_id=campaign.pk, status="in_progress")
    with pytest.raises(ValidationFailed) as failure:
        campaign_status_set(actor=user, campaign_id=campaign.pk, status="registration_open")
    assert failure.value.errors[0].code == "invalid_transition"
    assert "已完成、已关闭" in failure.value.detail
    campaign = campaign_status_set(actor=user, campaign_id=campaign.pk, status="completed")
    campaign = campaign_status_set(actor=user, campaign_id=campaign.pk, status="closed")
    with pytest.raises(ValidationFailed) as failure:
        campaign_status_set(actor=user, campaign_id=campaign.pk, status="completed")
    assert "已关闭的活动不能再变更" in failure.value.detail
    assert campaign.status == "closed"


def test_cost_items_in_yuan_are_stored_in_fen_and_bad_input_saves_nothing(org):
    from l2c.apps.marketing.models import CampaignCost
    from l2c.apps.marketing.services import cost_create, cost_delete, cost_update

    user = org["marketing"]
    campaign = make_campaign(user)
    cost = cost_create(actor=user, campaign_id=campaign.pk, data={"category": "场地", "planned": "30,000.00"})
    assert (cost.planned_amount, cost.actual_amount) == (3_000_000, None)
    cost = cost_update(actor=user, campaign_id=campaign.pk, cost_id=cost.pk, data={"actual": "28888.88"})
    assert cost.actual_amount == 2_888_888
    with pytest.raises(ValidationFailed) as failure:
        cost_create(actor=user, campaign_id=campaign.pk, data={"category": "", "planned": "-5", "actual": "1.234"})
    assert {error.field for error in failure.value.errors} == {"category", "planned", "actual"}
    assert CampaignCost.objects.count() == 1
    with pytest.raises(PermissionDenied):
        cost_delete(actor=org["rep1"], campaign_id=campaign.pk, cost_id=cost.pk)
    cost_delete(actor=user, campaign_id=campaign.pk, cost_id=cost.pk)
    assert CampaignCost.objects.count() == 0


def test_invite_is_idempotent_and_all_or_nothing(org):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import members_invite

    campaign = make_campaign(org["marketing"])
    lead = make_lead(org["rep1"], "李雷", mobile="13800000001")
    account = make_account(org["rep1"], "杭州云帆信息技术有限公司")
    contact = make_contact(org["rep1"], account, "韩梅梅")
    result = members_invite(actor=org["rep1"], campaign_id=campaign.pk, lead_ids=[lead.pk], contact_ids=[contact.pk])
    assert (result.invited, result.already) == (2, 0)
    again = members_invite(actor=org["rep1"], campaign_id=campaign.pk, lead_ids=[lead.pk])
    assert (again.invited, again.already) == (0, 1)
    hidden = make_lead(org["rep3"], "王五")
    with pytest.raises(ValidationFailed) as failure:
        members_invite(actor=org["rep1"], campaign_id=campaign.pk, lead_ids=[hidden.pk, lead.pk])
    assert failure.value.errors[0].field == "lead_ids"
    assert CampaignMember.objects.count() == 2
    member = CampaignMember.objects.get(lead=lead)
    assert member.status == "invited" and member.invited_at is not None and len(member.checkin_token) == 32


def test_invite_all_leads_matching_a_filter(org):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import members_invite_matching

    campaign = make_campaign(org["marketing"])
    make_lead(org["rep1"], "杭州甲", city="杭州")
    make_lead(org["rep1"], "杭州乙", city="杭州")
    make_lead(org["rep1"], "上海丙", city="上海")
    result = members_invite_matching(actor=org["marketing"], campaign_id=campaign.pk, filters={"city": "杭州"})
    assert result.invited == 2
    assert sorted(CampaignMember.objects.values_list("lead__name", flat=True)) == ["杭州乙", "杭州甲"]
    with pytest.raises(ValidationFailed):
        members_invite_matching(actor=org["marketing"], campaign_id=campaign.pk, filters={"password": "x"})


def test_register_check_in_and_no_show_stamp_their_times(org):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import (
        campaign_status_set,
        member_check_in,
        member_register,
        members_invite,
        members_mark_no_show,
    )

    user = org["marketing"]
    campaign = open_registration(user, make_campaign(user))
    came, stayed_away, walk_in = (make_lead(user, name) for name in ("到场", "缺席", "现场"))
    members_invite(actor=user, campaign_id=campaign.pk, lead_ids=[walk_in.pk])
    first = member_register(campaign_id=campaign.pk, lead_id=came.pk)
    assert first.created and first.member.status == "registered" and first.member.registered_at
    assert not member_register(campaign_id=campaign.pk, lead_id=came.pk).created  # idempotent
    member_register(campaign_id=campaign.pk, lead_id=stayed_away.pk)
    with pytest.raises(Conflict):
        members_mark_no_show(actor=user, campaign_id=campaign.pk)  # the event has not started
    campaign_status_set(actor=user, campaign_id=campaign.pk, status="in_progress")
    checked = member_check_in(actor=user, token=first.member.checkin_token)
    assert not checked.already and checked.member.status == "checked_in" and checked.member.checked_in_at
    assert member_check_in(actor=user, token=first.member.checkin_token).already
    walk = CampaignMember.objects.get(lead=walk_in)
    member_check_in(actor=user, member_id=walk.pk, campaign_id=campaign.pk)
    assert members_mark_no_show(actor=user, campaign_id=campaign.pk) == 1
    statuses = dict(CampaignMember.objects.values_list("lead__name", "status"))
    assert statuses == {"到场": "checked_in", "缺席": "no_show", "现场": "checked_in"}
    assert CampaignMember.objects.get(lead=stayed_away).no_show_at is not None


def test_check_in_needs_edit_on_the_campaign(org):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import member_check_in, member_register

    user = org["marketing"]
    campaign = open_registration(user, make_campaign(user))
    member = member_register(campaign_id=campaign.pk, lead_id=make_lead(user).pk).member
    with pytest.raises(PermissionDenied):
        member_check_in(actor=org["rep1"], token=member.checkin_token)
    with pytest.raises(NotFound):
        member_check_in(actor=user, token="no-such-token")
    assert CampaignMember.objects.get(pk=member.pk).status == "registered"


def test_capacity_counts_everyone_who_registered(org):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import member_register

    user = org["marketing"]
    campaign = open_registration(user, make_campaign(user), registration_capacity=1)
    member_register(campaign_id=campaign.pk, lead_id=make_lead(user, "一").pk)
    with pytest.raises(Conflict):
        member_register(campaign_id=campaign.pk, lead_id=make_lead(user, "二").pk)
    assert CampaignMember.objects.count() == 1


@pytest.mark.parametrize(("username", "view", "create", "edit", "export"), [
    ("admin", True, True, True, True),
    ("marketing", True, True, True, True),
    ("manager", True, False, False, True),
    ("rep1", True, False, False, False),
    ("presales", True, False, False, False),
    ("finance", True, False, False, True),
])
def test_permissions_per_role(org, username, view, create, edit, export):
    from l2c.apps.identity import access
    from l2c.apps.marketing.models import Campaign

    campaign = make_campaign(org["marketing"])
    user = org[username]
    assert access.visible(user, "campaign").filter(pk=campaign.pk).exists() is view
    assert access.can(user, "campaign", "create") is create
    assert access.restrict(Campaign.objects.all(), user, "campaign", "edit").filter(pk=campaign.pk).exists() is edit
    assert access.restrict(Campaign.objects.all(), user, "campaign", "export").filter(pk=campaign.pk).exists() is export


def test_a_rep_may_not_change_a_campaign_and_nothing_changes(org):
    from l2c.apps.marketing.models import Campaign
    from l2c.apps.marketing.services import campaign_create, campaign_update

    campaign = make_campaign(org["marketing"])
    with pytest.raises(PermissionDenied):
        campaign_update(actor=org["rep1"], campaign_id=campaign.pk, data={"name": "改名"})
    with pytest.raises(PermissionDenied):
        campaign_create(actor=org["rep1"], data={"name": "新活动"})
    assert list(Campaign.objects.values_list("name", "version")) == [("2026 华东行业峰会系列", 1)]


def test_members_list_hides_people_the_viewer_may_not_see(org):
    from l2c.apps.marketing.selectors import campaign_members
    from l2c.apps.marketing.services import members_invite

    campaign = make_campaign(org["marketing"])
    mine = make_lead(org["rep1"], "我的线索")
    theirs = make_lead(org["rep3"], "别人的线索")
    members_invite(actor=org["marketing"], campaign_id=campaign.pk, lead_ids=[mine.pk, theirs.pk])
    names = {member.lead.name for member in campaign_members(user=org["rep1"], campaign=campaign)}
    assert names == {"我的线索"}
    assert len(campaign_members(user=org["marketing"], campaign=campaign)) == 2
