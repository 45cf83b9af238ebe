"""The leads' contribution to campaign ROI (marketing.roi extension point): per campaign the leads
whose `campaign` it is, and of them the qualified ones (status qualified or converted).
Opportunities and pipeline come from the opportunities app's source (opportunities.campaign_roi)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, Q

from l2c.apps.marketing.roi import RoiCounts

from .models import Lead, LeadStatus

QUALIFIED_STATUSES = (LeadStatus.QUALIFIED, LeadStatus.CONVERTED)


def campaign_lead_counts(campaign_ids: Sequence[int]) -> dict[int, RoiCounts]:
    """One grouped query for all the campaigns."""
    rows = (Lead.objects.filter(campaign_id__in=list(campaign_ids)).values_list("campaign_id")
            .annotate(leads=Count("pk"), qualified=Count("pk", filter=Q(status__in=QUALIFIED_STATUSES))).order_by())
    return {campaign_id: RoiCounts(leads=leads, qualified_leads=qualified) for campaign_id, leads, qualified in rows}
