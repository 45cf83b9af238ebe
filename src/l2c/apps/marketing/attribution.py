"""Won revenue → campaigns (ADR 0004). A won deal of an account (a customer transaction now, a won
opportunity from issue 5) is credited to the campaigns that touched the account before the win,
under three models (engines.attribution): first touch, last touch and linear.

Touches: memberships in status registered or checked_in of the account's contacts and of leads
converted into the account. An invitation alone is no touch (the person never engaged), nor is a
no-show (registered but did not come). A touch is dated when the person engaged: the earlier of
registration and check-in (a walk-in has only the check-in), else when the membership was made.

Idempotent by (source, source_id): recording the same win twice writes nothing the second time.
Amounts stay in the currency of the win; ROI adds up only amounts in the campaign's currency.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q

from l2c.apps.customers.pool import Won
from l2c.engines.attribution import Touch, attribute

from .models import CampaignAttribution, CampaignMember, MemberStatus

logger = logging.getLogger(__name__)
TOUCH_STATUSES = (MemberStatus.REGISTERED, MemberStatus.CHECKED_IN)


def _touching(account_ids: Sequence[int]) -> Q:
    return (Q(contact__account_id__in=account_ids) | Q(lead__converted_account_id__in=account_ids)) & Q(
        status__in=TOUCH_STATUSES)


def account_touches(account_id: int) -> list[Touch]:
    """The campaign touches of one account (unfiltered by time; the engine keeps those before the win)."""
    touches = []
    for campaign_id, registered_at, checked_in_at, created_at in CampaignMember.objects.filter(
            _touching([account_id])).values_list("campaign_id", "registered_at", "checked_in_at", "created_at"):
        engaged = [at for at in (registered_at, checked_in_at) if at is not None]
        touches.append(Touch(campaign_id=campaign_id, touched_at=min(engaged) if engaged else created_at))
    return touches


@transaction.atomic
def campaign_record_won(*, account_id: int, amount: int, currency: str, won_at: datetime, source: str,
                        source_id: int) -> int:
    """Credit a won deal (`amount` fen of `currency`) to the campaigns that touched the account before
    `won_at`. Returns the number of attribution rows written (0: already recorded, or no touch)."""
    _source_lock(source, source_id)
    if CampaignAttribution.objects.filter(source=source, source_id=source_id).exists():
        return 0
    credits = attribute(amount, account_touches(account_id), won_at)
    rows = [CampaignAttribution(campaign_id=credit.campaign_id, model=credit.model, source=source,
                                source_id=source_id, account_id=account_id, amount=credit.amount, currency=currency,
                                won_at=won_at) for credit in credits]
    if not rows:
        return 0
    # The unique constraint stays the last guard; bulk_create counts skipped rows too, so count what
    # the win now has (nobody else writes it while we hold its lock).
    CampaignAttribution.objects.bulk_create(rows, ignore_conflicts=True)
    return CampaignAttribution.objects.filter(source=source, source_id=source_id).count()


def _source_lock(source: str, source_id: int) -> None:
    """Serialise recordings of one win until the transaction ends (PostgreSQL advisory lock; SQLite
    writers are serialised already)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       [f"marketing:attribution:{source}:{source_id}"])


def campaigns_won(wins: Sequence[Won]) -> None:
    """Listener of customers' won deals (registered in MarketingConfig.ready()): one query finds the
    accounts with any campaign touch; only their wins are attributed, each in its own transaction
    (an error on one is logged and leaves the others)."""
    if not wins:
        return
    account_ids = sorted({win.account_id for win in wins})
    touched: set[int] = set()
    for contact_account, lead_account in CampaignMember.objects.filter(_touching(account_ids)).values_list(
            "contact__account_id", "lead__converted_account_id"):
        touched.update(pk for pk in (contact_account, lead_account) if pk is not None)
    for win in wins:
        if win.account_id not in touched:
            continue
        try:
            campaign_record_won(account_id=win.account_id, amount=win.amount, currency=win.currency,
                                won_at=win.won_at, source=win.source, source_id=win.source_id)
        except Exception:
            logger.exception("campaign attribution of %s %s failed", win.source, win.source_id)


def campaigns_won_revoked(source: str, source_ids: Sequence[int]) -> None:
    """Listener of customers' revoked wins (registered in MarketingConfig.ready()): the attribution of
    a deleted won record goes, in the deleting transaction, so ROI no longer counts its revenue."""
    CampaignAttribution.objects.filter(source=source, source_id__in=list(source_ids)).delete()
