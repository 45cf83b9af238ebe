"""The deals' contribution to campaign ROI (marketing.roi extension point): per campaign the deals
whose `campaign` it is, and the pipeline — the amount of those still open, in the campaign's
currency only (a campaign tree has one currency; deals in another are counted, not summed)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, F, Q, Sum

from l2c.apps.marketing.roi import RoiCounts

from .models import Opportunity, OpportunityStatus


def campaign_deal_counts(campaign_ids: Sequence[int]) -> dict[int, RoiCounts]:
    """One grouped query for all the campaigns."""
    open_same_currency = Q(status=OpportunityStatus.OPEN, currency=F("campaign__currency"))
    rows = (Opportunity.objects.filter(campaign_id__in=list(campaign_ids)).values_list("campaign_id")
            .annotate(deals=Count("pk"), pipeline=Sum("amount", filter=open_same_currency)).order_by())
    return {campaign_id: RoiCounts(opportunities=deals, pipeline_amount=pipeline or 0)
            for campaign_id, deals, pipeline in rows}
