"""A deal from a tender notice (招投标 → 商机): one click on a matched notice. The buyer is matched to
the accounts by duplicate control: an account the actor picked, else the one exact match they can
see, else a new account made from the buyer (duplicate control applies to it, so a buyer held by a
colleague is a 409, never a second account). A second click finds the deal again."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from l2c.apps.customers import duplicates
from l2c.apps.customers import services as customer_services
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, ValidationFailed

from .models import Opportunity, OpportunitySource
from .services import opportunity_create


@dataclass(frozen=True)
class TenderDeal:
    opportunity: Opportunity
    created: bool
    account_created: bool


def buyer_accounts(*, actor: User, notice_id: int) -> list[dict[str, object]]:
    """The visible accounts the notice's buyer may be (strongest first), for the picker."""
    notice = access.get_for_action(actor, "tender_notice", notice_id, "view")
    if not notice.buyer_name:
        return []
    check = duplicates.duplicates_find(actor=actor, object_type="account", values={"name": notice.buyer_name})
    return [{"id": candidate.match.record_id, "name": candidate.name, "score": candidate.match.score}
            for candidate in check.visible]


@transaction.atomic
def opportunity_from_tender_notice(*, actor: User, notice_id: int, account_id: int | None = None,
                                   confirm_duplicates: bool = False) -> TenderDeal:
    notice = access.get_for_action(actor, "tender_notice", notice_id, "view")
    access.require(actor, "opportunity", "create")
    # The notice row is locked while we look for its deal: a double click makes one deal.
    type(notice)._default_manager.select_for_update().filter(pk=notice.pk).first()
    existing = Opportunity.objects.filter(tender_notice_id=notice.pk).order_by("-pk")
    mine = access.visible(actor, "opportunity").filter(pk__in=existing.values("pk")).first()
    if mine is not None:
        return TenderDeal(mine, created=False, account_created=False)
    if existing.exists():
        raise Conflict(_("这条公告已有商机，由你看不到的同事跟进；请联系其负责人或管理员，避免撞单。"))
    account_created = False
    if account_id is None:
        exact = [row for row in buyer_accounts(actor=actor, notice_id=notice.pk) if row["score"] == 100]
        if len(exact) == 1:
            account_id = int(str(exact[0]["id"]))
        elif not notice.buyer_name:
            raise ValidationFailed.for_field("account_id", _("公告没有采购单位；请选择客户。"), "required")
        else:
            account = customer_services.account_create(actor=actor, data={
                "name": notice.buyer_name, "province": notice.province, "city": notice.city, "source": "tender",
                "confirm_duplicates": confirm_duplicates})
            account_id, account_created = account.pk, True
    budget = notice.budget_amount or 0
    deal = opportunity_create(actor=actor, data={
        "name": notice.title[:200], "account_id": account_id, "amount": f"{budget // 100}.{budget % 100:02d}",
        "currency": notice.currency or "CNY",
        "close_date": notice.deadline_at.date() if notice.deadline_at else None,
        "tender_notice_id": notice.pk, "source": OpportunitySource.TENDER,
        "description": f"{notice.title}\n{notice.url}".strip()[:2000]})
    return TenderDeal(deal, created=True, account_created=account_created)
