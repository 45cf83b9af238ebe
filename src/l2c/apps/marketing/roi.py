"""Campaign ROI (投入产出比), per campaign and rolled up over its subtree (ADR 0004).

Figures of one campaign ("own"): cost (per item the actual amount, else the planned one), members
by status, leads, qualified leads, opportunities, pipeline amount (from registered sources: the
leads app counts leads; opportunities wait for issue 5), won amount per attribution model, ROI =
(won − cost) / cost (None when the cost is 0) and cost per lead (None without leads).
Roll-up over the campaign and all its descendants, never double-counted: cost, leads, pipeline and
won amounts are sums of "own" (each cost item, lead and attribution row belongs to exactly one
campaign; a linear split across sibling campaigns adds back up to at most the won amount);
members by status count distinct persons of the subtree, each at the furthest status they reached
in it (someone invited to one child and registered at another counts once, as registered); won
deals count distinct (source, source_id). `people` is the root roll-up's distinct persons. All
figures are in the campaign's currency: children share their parent's currency.

Cost: one query per figure for the whole tree (campaigns, costs, members, attribution, distinct
members, distinct deals, plus one per registered source), whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, F, Sum
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


# Lifecycle rank of a member status: a person in several campaigns of a subtree counts once, at the
# furthest status they reached anywhere in it (invited < registered < no-show < checked in; no-show
# comes after registered and before nothing better, a check-in anywhere beats everything).
STATUS_RANK = (MemberStatus.INVITED, MemberStatus.REGISTERED, MemberStatus.NO_SHOW, MemberStatus.CHECKED_IN)


def _subtree_sql(select: str, join: str) -> str:
    """Every campaign `a` of the subtree paired with each campaign `c` of its own subtree in its own
    currency (itself included), joined to `join`."""
    campaign = Campaign._meta.db_table
    # Table names come from the models; values are parameters.
    return (f"SELECT {select} FROM {campaign} a JOIN {campaign} c ON c.path LIKE a.path || '%%' "  # noqa: S608
            f"AND c.currency = a.currency {join} WHERE a.path LIKE %s")


def _rollup_members(root: Campaign) -> dict[int, dict[str, int]]:
    """Per campaign of the subtree: distinct persons (lead or contact) of its own subtree by their
    furthest status. One query for the whole tree."""
    rank = "CASE m.status " + " ".join(f"WHEN %s THEN {index}" for index in range(len(STATUS_RANK))) + " END"
    inner = _subtree_sql(f"a.id AS ancestor_id, MAX({rank}) AS status_rank",
                         f"JOIN {CampaignMember._meta.db_table} m ON m.campaign_id = c.id")
    sql = (f"SELECT t.ancestor_id, t.status_rank, COUNT(*) FROM ({inner} "  # noqa: S608
           "GROUP BY a.id, m.lead_id, m.contact_id) t GROUP BY t.ancestor_id, t.status_rank")
    result: dict[int, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*STATUS_RANK, root.path + "%"])
        for ancestor_id, status_rank, count in cursor.fetchall():
            result.setdefault(ancestor_id, dict.fromkeys(MemberStatus.values, 0))[STATUS_RANK[status_rank]] = count
    return result


def _rollup_deals(root: Campaign) -> dict[int, int]:
    """Per campaign of the subtree: distinct won deals (source, source_id) credited anywhere in its own
    subtree in its currency. One query for the whole tree."""
    inner = _subtree_sql("DISTINCT a.id AS ancestor_id, x.source, x.source_id",
                         f"JOIN {CampaignAttribution._meta.db_table} x ON x.campaign_id = c.id "
                         "AND x.model = %s AND x.currency = a.currency")
    sql = f"SELECT t.ancestor_id, COUNT(*) FROM ({inner}) t GROUP BY t.ancestor_id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, ["linear", root.path + "%"])
        return {ancestor_id: count for ancestor_id, count in cursor.fetchall()}


def campaign_tree_roi(campaign: Campaign) -> TreeRoi:
    """Figures for every campaign of the subtree of `campaign`, in a constant number of queries.

    Every figure is in the campaign's own currency (a child shares its parent's, see services); a
    node of another currency (data from before that rule) is left out of its ancestors' roll-ups."""
    rows = list(Campaign.objects.filter(path__startswith=campaign.path)
                .values_list("pk", "name", "parent_id", "path", "currency"))
    ids = [row[0] for row in rows]
    currency_of = {row[0]: row[4] for row in rows}
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
    # Each campaign's own won amounts count only in its own currency.
    for pk, model, amount, count in (CampaignAttribution.objects.filter(campaign_id__in=ids,
                                                                        currency=F("campaign__currency"))
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
    # Roll-up of amounts and lead counts (each cost item, lead and attribution row belongs to exactly
    # one campaign): each node adds its own figures to itself and to every ancestor of its currency.
    rollup: dict[int, Figures] = {pk: Figures() for pk in ids}
    for pk, _name, _parent, path, currency in rows:
        for ancestor in (int(part) for part in path.strip("/").split("/") if part):
            if ancestor in rollup and currency_of[ancestor] == currency:
                rollup[ancestor] = rollup[ancestor] + own[pk]
    # People and deals may appear in several campaigns of a subtree: distinct per subtree instead.
    rollup_members = _rollup_members(campaign)
    rollup_deals = _rollup_deals(campaign)
    for pk in ids:
        rollup[pk] = replace(rollup[pk], members=rollup_members.get(pk, dict.fromkeys(MemberStatus.values, 0)),
                             won_deals=rollup_deals.get(pk, 0))
    nodes = {pk: NodeRoi(pk, name, parent, path, own[pk], rollup[pk]) for pk, name, parent, path, _cur in rows}
    children = sorted((node for node in nodes.values() if node.parent_id == campaign.pk), key=lambda n: n.campaign_id)
    root = nodes[campaign.pk]
    return TreeRoi(root=root, children=children, nodes=nodes, people=root.rollup.member_total,
                   currency=campaign.currency)
