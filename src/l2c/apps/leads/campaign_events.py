"""Campaign behaviour becomes lead behaviour (线索行为): a lead who registers for or checks in to a
campaign gets a `campaign_registration` / `campaign_checkin` event and is rescored. Heard from
marketing's member-status extension point after commit; idempotent (one event per member and
status, event id `campaign:<member>:<status>`)."""

from __future__ import annotations

from django.db import transaction

from l2c.apps.marketing.services import MemberMoved

from .models import LeadEvent, ScoringEventKind
from .scoring import leads_rescore

EVENT_KINDS = {"registered": "campaign_registration", "checked_in": "campaign_checkin"}


def campaign_member_events(moved: list[MemberMoved]) -> None:
    active = set(ScoringEventKind.objects.filter(kind__in=EVENT_KINDS.values(), is_active=True)
                 .values_list("kind", flat=True))
    events = [LeadEvent(event_id=f"campaign:{item.member_id}:{item.status}", lead_id=item.lead_id,
                        kind=EVENT_KINDS[item.status], occurred_at=item.at,
                        properties={"campaign_id": item.campaign_id})
              for item in moved if item.lead_id is not None and EVENT_KINDS.get(item.status) in active]
    if not events:
        return
    with transaction.atomic():
        LeadEvent.objects.bulk_create(events, ignore_conflicts=True)
        leads_rescore(lead_ids=sorted({event.lead_id for event in events}))
