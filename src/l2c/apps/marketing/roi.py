"""Campaign ROI (投入产出比), per campaign and rolled up over its subtree (ADR 0004).

Figures of one campaign ("own"): cost (per item the actual amount, else the planned one), members
by status, leads, qualified leads, opportunities, pipeline amount (from registered sources: the
leads app counts leads; opportunities wait for issue 5), won amount per attribution model, ROI =
(won − cost) / cost (None when the cost is 0) and cost per lead (None without leads).
Roll-up: the sums of "own" over the campaign and all its descendants. Each member, lead and
attribution row belongs to exactly one campaign, so nothing is counted twice; a linear split
across sibling campaigns adds back up to at most the won amount. `people` of a roll-up counts
distinct persons (someone in two child campaigns counts once).

Cost: one query per figure for the whole tree (campaigns, costs, members, attribution, distinct
people, plus one per registered source), whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from l2c.engines.attribution import MODELS

from .models import Campaign, CampaignAttribution, CampaignCost, CampaignMember, MemberStatus


@dataclass(frozen=True)
class RoiCounts:
    """What a source adds to a campaign's ROI: leads, qualified leads, opportunities, pipeline (fen)."""

    leads: int = 0
    qualified_leads: int = 0
    opportunities: int = 0
    pipeline_amount: int = 0

    def __add__(self, other: RoiCounts) -> RoiCounts:
        return RoiCounts(self.leads + other.leads, self.qualified_leads + other.qualified_leads,
                         self.opportunities + other.opportunities, self.pipeline_amount + other.pipeline_amount)


RoiSource = Callable[[Sequence[int]], Mapping[int, RoiCounts]]
_SOURCES: list[RoiSource] = []


def register_source(fn: RoiSource) -> None:
    """Register a source of ROI counts (from a higher app's ready()); `fn(campaign_ids)` returns
    {campaign_id: RoiCounts} for those campaigns (missing ids count 0). Registering twice is a no-op."""
    if fn not in _SOURCES:
        _SOURCES.append(fn)


RATIO_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Figures:
    cost: int = 0
    planned_cost: int = 0
    actual_cost: int = 0
    members: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(MemberStatus.values, 0))
    counts: RoiCounts = RoiCounts()
    won: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(MODELS, 0))
    won_deals: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            cost=self.cost + other.cost, planned_cost=self.planned_cost + other.planned_cost,
            actual_cost=self.actual_cost + other.actual_cost,
            members={key: self.members.get(key, 0) + other.members.get(key, 0) for key in MemberStatus.values},
            counts=self.counts + other.counts,
            won={model: self.won.get(model, 0) + other.won.get(model, 0) for model in MODELS},
            won_deals=self.won_deals + other.won_deals,
        )

    @property
    def member_total(self) -> int:
        return sum(self.members.values())

    @property
    def registered_total(self) -> int:
        """Everyone who registered (still registered, checked in, or no-show)."""
        return sum(self.members.get(key, 0) for key in (MemberStatus.REGISTERED, MemberStatus.CHECKED_IN,
                                                        MemberStatus.NO_SHOW))

    def roi(self, model: str) -> Decimal | None:
        """(won − cost) / cost under `model`, 4 decimal places half-up; None when the cost is 0."""
        if self.cost == 0:
            return None
        return (Decimal(self.won.get(model, 0) - self.cost) / Decimal(self.cost)).quantize(RATIO_PLACES,
                                                                                          ROUND_HALF_UP)

    @property
    def cost_per_lead(self) -> int | None:
        """Fen per lead, half-up; None without leads."""
        if self.counts.leads == 0:
            return None
        return int((Decimal(self.cost) / Decimal(self.counts.leads)).quantize(Decimal(1), ROUND_HALF_UP))

    def as_dict(self) -> dict[str, Any]:
        return {
            "cost": self.cost, "planned_cost": self.planned_cost, "actual_cost": self.actual_cost,
            "members": dict(self.members), "member_total": self.member_total,
            "registered_total": self.registered_total,
            "leads": self.counts.leads, "qualified_leads": self.counts.qualified_leads,
            "opportunities": self.counts.opportunities, "pipeline_amount": self.counts.pipeline_amount,
            "won": dict(self.won), "won_deals": self.won_deals,
            "roi": {model: self.roi(model) for model in MODELS}, "cost_per_lead": self.cost_per_lead,
        }


@dataclass(frozen=True)
class NodeRoi:
    campaign_id: int
    name: str
    parent_id: int | None
    path: str
    own: Figures
    rollup: Figures


@dataclass(frozen=True)
class TreeRoi:
    """ROI of a campaign: its own and rolled-up figures, its direct children's (rolled up), and every
    node of the subtree; `people` counts distinct persons over the subtree."""

    root: NodeRoi
    children: list[NodeRoi]
    nodes: dict[int, NodeRoi]
    people: int
    currency: str


def campaign_tree_roi(campaign: Campaign) -> TreeRoi:
    """Figures for every campaign of the subtree of `campaign`, in a constant number of queries."""
    rows = list(Campaign.objects.filter(path__startswith=campaign.path).values_list("pk", "name", "parent_id", "path"))
    ids = [row[0] for row in rows]
    own: dict[int, Figures] = {pk: Figures() for pk in ids}
    for pk, cost, planned, actual in (CampaignCost.objects.filter(campaign_id__in=ids).values_list("campaign_id")
                                      .annotate(cost=Sum(Coalesce("actual_amount", "planned_amount")),
                                                planned=Sum("planned_amount"), actual=Sum("actual_amount"))
                                      .order_by()):
        own[pk] = replace(own[pk], cost=int(cost or 0), planned_cost=int(planned or 0), actual_cost=int(actual or 0))
    members: dict[int, dict[str, int]] = {pk: dict.fromkeys(MemberStatus.values, 0) for pk in ids}
    for pk, status, count in (CampaignMember.objects.filter(campaign_id__in=ids).values_list("campaign_id", "status")
                              .annotate(count=Count("pk")).order_by()):
        members[pk][status] = count
    won: dict[int, dict[str, int]] = {pk: dict.fromkeys(MODELS, 0) for pk in ids}
    deals: dict[int, int] = dict.fromkeys(ids, 0)
    for pk, model, amount, count in (CampaignAttribution.objects.filter(campaign_id__in=ids,
                                                                        currency=campaign.currency)
                                     .values_list("campaign_id", "model")
                                     .annotate(amount=Sum("amount"), count=Count("pk")).order_by()):
        won[pk][model] = int(amount or 0)
        if model == "linear":
            deals[pk] = count
    counts: dict[int, RoiCounts] = dict.fromkeys(ids, RoiCounts())
    for source in _SOURCES:
        for pk, value in source(ids).items():
            if pk in counts:
                counts[pk] = counts[pk] + value
    for pk in ids:
        own[pk] = replace(own[pk], members=members[pk], won=won[pk], counts=counts[pk], won_deals=deals[pk])
    # Roll-up: each node adds its own figures to itself and to every ancestor on its path.
    rollup: dict[int, Figures] = {pk: Figures() for pk in ids}
    for pk, _name, _parent, path in rows:
        for ancestor in (int(part) for part in path.strip("/").split("/") if part):
            if ancestor in rollup:
                rollup[ancestor] = rollup[ancestor] + own[pk]
    # A deal touched by two campaigns of the subtree counts once in the roll-up's deal count.
    rollup_deals = (CampaignAttribution.objects.filter(campaign_id__in=ids, model="linear", currency=campaign.currency)
                    .values("source", "source_id").distinct().count())
    rollup[campaign.pk] = replace(rollup[campaign.pk], won_deals=rollup_deals)
    nodes = {pk: NodeRoi(pk, name, parent, path, own[pk], rollup[pk]) for pk, name, parent, path in rows}
    people = (CampaignMember.objects.filter(campaign_id__in=ids).values("lead_id", "contact_id").distinct().count())
    children = sorted((node for node in nodes.values() if node.parent_id == campaign.pk), key=lambda n: n.campaign_id)
    return TreeRoi(root=nodes[campaign.pk], children=children, nodes=nodes, people=people, currency=campaign.currency)
