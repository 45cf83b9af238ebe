"""The demo campaigns build a tree with costs and members in every status."""

from __future__ import annotations

from django.utils import timezone

from tests.conftest import make_account, make_contact


def test_campaigns_demo(org):
    from l2c.apps.marketing.demo import campaigns_demo
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.roi import campaign_tree_roi

    account = make_account(org["rep1"], "杭州云帆信息技术有限公司")
    contacts = [make_contact(org["rep1"], account, f"联系人{index}", mobile=f"1380000{index:04d}")
                for index in range(24)]
    created = campaigns_demo(users=org.users, anchor=timezone.now(), accounts=[account], contacts=contacts)
    parent = created[0]
    assert parent.name == "2026 华东行业峰会系列" and len(created) == 5
    assert all(campaign.parent_id == parent.pk for campaign in created[1:])
    assert {status for status in CampaignMember.objects.values_list("status", flat=True)} == {
        "invited", "registered", "checked_in", "no_show"}
    figures = campaign_tree_roi(parent).root.rollup
    assert figures.cost == 2_800_000 + (5_800_000 + 2_350_000 + 2_780_000) + (9_000_000 + 3_600_000) \
        + (5_000_000 + 1_500_000) + 800_000
