"""A lead from a tender notice (招投标 → 线索): one click on a matched notice. The lead is the
buyer's, owned by whoever clicked, linked to the notice; a second click finds that lead again
instead of making another. The buyer is then matched to existing accounts by duplicate control
(shown on the lead page as conversion candidates)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict

from .models import Lead, LeadSource
from .services import CaptureResult, lead_create

DESCRIPTION_LIMIT = 2000


@transaction.atomic
def lead_from_tender_notice(*, actor: User, notice_id: int, confirm_duplicates: bool = False) -> CaptureResult:
    notice = access.get_for_action(actor, "tender_notice", notice_id, "view")
    access.require(actor, "lead", "create")
    # The notice row is locked while we look for its lead: a double click makes one lead.
    type(notice)._default_manager.select_for_update().filter(pk=notice.pk).first()
    existing = Lead.objects.filter(tender_notice_id=notice.pk).order_by("-pk")
    mine = access.visible(actor, "lead").filter(pk__in=existing.values("pk")).first()
    if mine is not None:
        return CaptureResult(lead=mine, created=False)
    if existing.exists():
        raise Conflict(_("这条公告已有线索，由你看不到的同事跟进；请联系其负责人或管理员，避免撞单。"))
    description = f"{notice.title}\n{notice.url}".strip()[:DESCRIPTION_LIMIT]
    lead = lead_create(actor=actor, via="tender", data={
        "company": notice.buyer_name or notice.title[:200], "province": notice.province, "city": notice.city,
        "source": LeadSource.TENDER, "description": description, "tender_notice_id": notice.pk,
        "confirm_duplicates": confirm_duplicates,
    })
    return CaptureResult(lead=lead, created=True)
