"""Demo campaigns: a parent campaign (2026 华东行业峰会系列) with three city stops and a webinar,
cost items, and demo contacts as members in every status, so the campaign pages, the ROI report and
the attribution show something after `make run`. Leads are linked to campaigns by the leads demo.

Deterministic relative to `anchor`: the same contacts land in the same campaigns on every run.
Called by the demo app: `campaigns_demo(users=..., anchor=..., accounts=..., contacts=...)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import timezone

from l2c.apps.identity.models import User

from .models import Campaign, CampaignCost, CampaignMember, MemberSource, MemberStatus
from .services import campaign_create, campaign_status_set, new_token

# (name, kind, is_online, start in days from the anchor, status, location, budget 元,
#  [(category, planned 元, actual 元 or None)])
CHILDREN: list[tuple[str, str, bool, int, str, str, int, list[tuple[str, int, int | None]]]] = [
    ("华东行业峰会·杭州站", "conference", False, -60, "completed", "杭州国际博览中心", 150_000,
     [("场地", 60_000, 58_000), ("物料", 20_000, 23_500), ("餐饮", 30_000, 27_800)]),
    ("华东行业峰会·上海站", "conference", False, -20, "completed", "上海国家会展中心", 200_000,
     [("场地", 90_000, 90_000), ("广告投放", 40_000, 36_000)]),
    ("华东行业峰会·南京站", "conference", False, 25, "registration_open", "南京国际展览中心", 120_000,
     [("场地", 50_000, None), ("物料", 15_000, None)]),
    ("数字化转型网络研讨会", "webinar", True, -35, "completed", "", 20_000, [("直播平台", 8_000, 8_000)]),
]
STATUS_PATH = ["inviting", "registration_open", "in_progress", "completed", "closed"]


def _walk_to(actor: User, campaign: Campaign, status: str) -> Campaign:
    for step in STATUS_PATH[:STATUS_PATH.index(status) + 1]:
        campaign = campaign_status_set(actor=actor, campaign_id=campaign.pk, status=step)
    return campaign


def campaigns_demo(*, users: Mapping[str, User], anchor: dt.datetime, accounts: Sequence[Any],
                   contacts: Sequence[Any]) -> list[Campaign]:
    """Create the demo campaigns (owned by the marketing user) and their members; returns them, the
    parent first. `accounts` is unused for now (contacts carry their account)."""
    del accounts
    owner = users["marketing"]
    today = timezone.localtime(anchor).date()
    parent = campaign_create(actor=owner, data={
        "name": "2026 华东行业峰会系列", "kind": "conference", "budget": "500000",
        "starts_on": today - dt.timedelta(days=60), "ends_on": today + dt.timedelta(days=25),
        "description": "面向华东制造业与软件行业客户的年度系列峰会。"})
    parent = _walk_to(owner, parent, "in_progress")
    CampaignCost.objects.create(campaign=parent, category="品牌设计", planned_amount=3_000_000,
                                actual_amount=2_800_000)
    created = [parent]
    for index, (name, kind, online, start, status, location, budget, costs) in enumerate(CHILDREN):
        starts = today + dt.timedelta(days=start)
        child = campaign_create(actor=owner, data={
            "name": name, "kind": kind, "is_online": online, "starts_on": starts, "ends_on": starts,
            "location": location, "budget": str(budget), "parent_id": parent.pk,
            "registration_enabled": status == "registration_open",
            "registration_fields": [{"field": "company", "required": True}, {"field": "mobile", "required": True},
                                    {"field": "email", "required": False}, {"field": "title", "required": False}],
            "registration_capacity": 300})
        child = _walk_to(owner, child, status)
        CampaignCost.objects.bulk_create([
            CampaignCost(campaign=child, category=category, planned_amount=planned * 100,
                         actual_amount=None if actual is None else actual * 100,
                         incurred_on=starts if actual is not None else None)
            for category, planned, actual in costs])
        _members(child, contacts, index, anchor + dt.timedelta(days=start), upcoming=start > 0)
        created.append(child)
    return created


def _members(campaign: Campaign, contacts: Sequence[Any], index: int, event_at: dt.datetime, *,
             upcoming: bool) -> None:
    """Every fourth contact (shifted per campaign): invited two weeks before the event, most of them
    registered a week before; at a past event most registered people checked in, the others no-show."""
    chosen = [contact for position, contact in enumerate(contacts) if position % 4 == index % 4][:40]
    rows = []
    for position, contact in enumerate(chosen):
        invited_at = event_at - dt.timedelta(days=14)
        registered = position % 5 != 4
        status = MemberStatus.REGISTERED if registered else MemberStatus.INVITED
        checked_in_at = no_show_at = None
        if registered and not upcoming:
            if position % 6 == 5:
                status, no_show_at = MemberStatus.NO_SHOW, event_at + dt.timedelta(days=1)
            else:
                status, checked_in_at = MemberStatus.CHECKED_IN, event_at + dt.timedelta(hours=9)
        rows.append(CampaignMember(
            campaign=campaign, contact=contact, status=status,
            source=MemberSource.REGISTRATION if registered and position % 2 else MemberSource.INVITE,
            invited_at=invited_at, registered_at=event_at - dt.timedelta(days=7) if registered else None,
            checked_in_at=checked_in_at, no_show_at=no_show_at, checkin_token=new_token()))
    CampaignMember.objects.bulk_create(rows, ignore_conflicts=True)
