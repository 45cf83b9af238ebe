"""A lead from a tender notice (招投标 → 线索): one click on a matched notice. The lead is the
buyer's, owned by whoever clicked, linked to the notice; a second click finds that lead again
instead of making another. The buyer is then matched to existing accounts by duplicate control
(shown on the lead page as conversion candidates)."""

from __future__ import annotations

from django.db import transaction

from l2c.apps.identity import access
from l2c.apps.identity.models import User

from .models import LeadSource
from .services import CaptureResult, lead_create

DESCRIPTION_LIMIT = 2000


@transaction.atomic
def lead_from_tender_notice(*, actor: User, notice_id: int) -> CaptureResult:
    notice = access.get_for_action(actor, "tender_notice", notice_id, "view")
    existing = access.visible(actor, "lead").filter(tender_notice_id=notice.pk).order_by("-pk").first()
    if existing is not None:
        return CaptureResult(lead=existing, created=False)
    description = f"{notice.title}\n{notice.url}".strip()[:DESCRIPTION_LIMIT]
    lead = lead_create(actor=actor, via="tender", data={
        "company": notice.buyer_name or notice.title[:200], "province": notice.province, "city": notice.city,
        "source": LeadSource.TENDER, "description": description, "tender_notice_id": notice.pk,
        # A company name like another lead's only informs (a report rule); say so, never block the click.
        "confirm_duplicates": True,
    })
    return CaptureResult(lead=lead, created=True)
