"""Importing a campaign's member list: each row captured as a lead (duplicate control) and invited or
registered; bad rows reported; importing twice adds nobody twice; export of members."""

from __future__ import annotations

import pytest

from l2c.apps.activity import imports
from tests.apps.activity.test_imports import commit, csv_bytes, upload
from tests.apps.marketing.helpers import make_campaign

pytestmark = pytest.mark.django_db

HEADER = ["活动编号", "姓名", "公司", "手机", "邮箱", "成员状态"]


def _file(campaign, other):
    return csv_bytes([
        HEADER,
        [str(campaign.pk), "张伟", "杭州云帆信息技术有限公司", "13800138000", "", "邀约"],
        [str(campaign.pk), "李娜", "上海星海科技有限公司", "", "lina@example.com", "报名"],
        [str(campaign.pk), "无联系方式", "某公司", "", "", ""],
        [str(other.pk), "王强", "北京某公司", "13900000000", "", ""],
        ["999999", "赵敏", "某公司", "13700000000", "", ""],
        [str(campaign.pk), "孙七", "某公司", "13600000000", "", "签到"],
    ])


def test_rows_become_leads_and_members_and_a_second_import_adds_nobody(org, django_capture_on_commit_callbacks):
    from l2c.apps.leads.models import Lead
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import campaign_status_set

    user = org["marketing"]
    campaign = make_campaign(user, "杭州站")
    closed = make_campaign(user, "已关闭")
    campaign_status_set(actor=user, campaign_id=closed.pk, status="closed")
    job = upload(user, _file(campaign, closed), "members.csv", "campaign_member")
    job = imports.import_validate(actor=user, import_id=job.pk)
    assert sorted((error["row"], error["field"]) for error in job.errors) == [
        (3, "mobile"), (4, "campaign"), (5, "campaign"), (6, "status")]
    job = commit(user, job, django_capture_on_commit_callbacks)
    assert job.created_rows == 2
    members = {member.lead.name: member for member in CampaignMember.objects.select_related("lead")}
    assert {name: member.status for name, member in members.items()} == {"张伟": "invited", "李娜": "registered"}
    assert {member.source for member in members.values()} == {"import"}
    assert set(Lead.objects.values_list("name", "campaign_id")) == {("张伟", campaign.pk), ("李娜", campaign.pk)}

    again = upload(user, _file(campaign, closed), "members.csv", "campaign_member")
    again = imports.import_validate(actor=user, import_id=again.pk)
    commit(user, again, django_capture_on_commit_callbacks)
    assert (Lead.objects.count(), CampaignMember.objects.count()) == (2, 2)


def test_only_importers_with_the_permission_may_import(org):
    from l2c.kernel.errors import PermissionDenied

    content = csv_bytes([HEADER, ["1", "张伟", "公司", "13800138000", "", ""]])
    with pytest.raises(PermissionDenied):
        upload(org["rep1"], content, "members.csv", "campaign_member")


def test_member_export_lists_the_campaigns_members(org):
    from l2c.apps.activity import exports
    from l2c.apps.marketing.services import members_invite
    from tests.apps.marketing.helpers import make_lead

    campaign = make_campaign(org["marketing"], "杭州站")
    lead = make_lead(org["marketing"], "=HYPERLINK(1)", mobile="13800000000")
    members_invite(actor=org["marketing"], campaign_id=campaign.pk, lead_ids=[lead.pk])
    prepared = exports.export_prepare(user=org["marketing"], object_type="campaign_member", fmt="csv",
                                      params={"campaign_id": str(campaign.pk)})
    text = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode()
                    for chunk in exports.export_csv_stream(prepared)).decode("utf-8-sig")
    assert "杭州站" in text and "13800000000" in text and "已邀约" in text
    assert ",=HYPERLINK" not in text  # formula cells neutralised


def test_a_person_whose_lead_the_importer_may_not_edit_is_a_row_error_in_the_dry_run(
        org, django_capture_on_commit_callbacks):
    from l2c.apps.identity.models import RolePermission, User
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.services import lead_create
    from l2c.apps.marketing.models import CampaignMember

    lead_create(actor=org["rep1"], data={"name": "张伟", "company": "云帆", "mobile": "13800138000"})
    RolePermission.objects.filter(role__code="marketing", object_type="lead").update(scope="own")
    user = User.objects.get(pk=org["marketing"].pk)
    campaign = make_campaign(user, "杭州站")
    content = csv_bytes([HEADER, [str(campaign.pk), "张伟", "杭州云帆信息技术有限公司", "13800138000", "", "邀约"],
                         [str(campaign.pk), "李娜", "上海星海科技有限公司", "", "lina@example.com", "报名"]])
    job = imports.import_validate(actor=user, import_id=upload(user, content, "members.csv", "campaign_member").pk)
    assert [(error["row"], error["field"]) for error in job.errors] == [(1, "mobile")]
    assert "无权查看或编辑" in job.errors[0]["message"]
    job = commit(user, job, django_capture_on_commit_callbacks)
    assert job.created_rows == 1
    assert list(CampaignMember.objects.values_list("lead__name", flat=True)) == ["李娜"]
    assert Lead.objects.filter(mobile="13800138000").count() == 1


def test_a_person_twice_in_the_file_is_captured_once(org, django_capture_on_commit_callbacks):
    from l2c.apps.leads.models import Lead
    from l2c.apps.marketing.models import CampaignMember

    user = org["marketing"]
    campaign = make_campaign(user, "杭州站")
    content = csv_bytes([HEADER, [str(campaign.pk), "张伟", "杭州云帆信息技术有限公司", "13800138000", "", "邀约"],
                         [str(campaign.pk), "张伟", "杭州云帆", "13800138000", "", "报名"]])
    job = imports.import_validate(actor=user, import_id=upload(user, content, "members.csv", "campaign_member").pk)
    assert job.errors == []
    job = commit(user, job, django_capture_on_commit_callbacks)
    assert Lead.objects.filter(mobile="13800138000").count() == 1
    assert CampaignMember.objects.count() == 1
