"""Reads of tender intelligence: notices (everybody with the grant reads all), the user's own
subscriptions, the inbox of matches with its unread count, and "search existing notices"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines.matching import Matcher, split_region

from .models import NoticeKind, TenderMatch, TenderNotice, TenderSubscription
from .services import (
    NOTICE_MATCH_FIELDS,
    SEARCH_DAYS_MAX,
    SEARCH_RESULTS_MAX,
    SEARCH_SCAN_MAX,
    notice_spec,
    subscription_spec,
)

NOTICE_SORTS = {"-id": "-id", "id": "id"}
LIST_FIELDS = ("id", "source", "source_notice_id", "kind", "title", "buyer_name", "province", "city",
               "budget_amount", "currency", "published_on", "deadline_at", "categories", "url", "created_at")


def tender_notice_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[TenderNotice]:
    """Notices the user may read, narrowed by allow-listed filters: q (title or buyer contains),
    kind, province (starts with, so "广东" finds "广东省"), published_from/published_to (inclusive, ISO
    dates; other text is ignored). NUL characters in the filters are dropped. Raises PermissionDenied
    without the view grant. The body is left out (`defer("content")`)."""
    access.require(user, "tender_notice", "view")
    filters = filters or {}
    notices = access.restrict(TenderNotice.objects.defer("content"), user, "tender_notice", "view")
    # Without NUL characters: PostgreSQL cannot compare text with them and no stored value has one.
    query = str(filters.get("q") or "").replace("\x00", "").strip()
    if query:
        notices = notices.filter(Q(title__icontains=query) | Q(buyer_name__icontains=query))
    if filters.get("kind") in NoticeKind.values:
        notices = notices.filter(kind=filters["kind"])
    province = str(filters.get("province") or "").replace("\x00", "").strip()
    if province:
        notices = notices.filter(province__startswith=split_region(province)[0] or province)
    published_from, published_to = _date(filters.get("published_from")), _date(filters.get("published_to"))
    if published_from:
        notices = notices.filter(published_on__gte=published_from)
    if published_to:
        notices = notices.filter(published_on__lte=published_to)
    return notices


def _date(value: Any) -> dt.date | None:
    """A filter's date; text that is not an ISO date (e.g. from an export link) is no filter."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def tender_notice_get(*, user: User, notice_id: int) -> TenderNotice:
    """One notice (404 when the user may not read notices or it does not exist)."""
    notice: TenderNotice = access.get_for_action(user, "tender_notice", notice_id, "view")
    return notice


def tender_subscription_list(*, user: User) -> QuerySet[TenderSubscription]:
    """The subscriptions the user may see (their own; administrators: all)."""
    return access.restrict(TenderSubscription.objects.all(), user, "tender_subscription", "view").order_by("-id")


def tender_subscription_get(*, user: User, subscription_id: int) -> TenderSubscription:
    subscription: TenderSubscription = access.get_for_action(user, "tender_subscription", subscription_id, "view")
    return subscription


def tender_inbox(*, user: User, unread_only: bool = False) -> QuerySet[TenderMatch]:
    """The user's matches, newest first (empty when they may no longer read notices)."""
    if not access.can(user, "tender_notice", "view"):
        return TenderMatch.objects.none()
    matches = TenderMatch.objects.filter(user=user)
    if unread_only:
        matches = matches.filter(read_at__isnull=True)
    return matches


def tender_unread_count(*, user: User) -> int:
    if not access.can(user, "tender_notice", "view"):
        return 0
    return TenderMatch.objects.filter(user=user, read_at__isnull=True).count()


def tender_subscription_search(*, user: User, subscription_id: int, days: int = 30,
                               as_of: dt.date | None = None) -> tuple[list[tuple[TenderNotice, tuple[str, ...]]], int]:
    """Stored notices of the last `days` days (by publication, else arrival) that the subscription
    matches — shown on demand, never pushed or stored. Scans at most SEARCH_SCAN_MAX of the newest
    candidates (kinds, budget and provinces pre-filtered in SQL); returns (up to SEARCH_RESULTS_MAX
    (notice, matched keywords), notices scanned)."""
    access.require(user, "tender_notice", "view")
    subscription = tender_subscription_get(user=user, subscription_id=subscription_id)
    days = max(1, min(int(days), SEARCH_DAYS_MAX))
    since = (as_of or timezone.localdate()) - dt.timedelta(days=days)
    since_at = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    candidates = TenderNotice.objects.filter(Q(published_on__gte=since) | Q(published_on__isnull=True,
                                                                              created_at__gte=since_at))
    if subscription.kinds:
        candidates = candidates.filter(kind__in=subscription.kinds)
    if subscription.budget_min is not None:
        candidates = candidates.filter(budget_amount__gte=subscription.budget_min)
    if subscription.budget_max is not None:
        candidates = candidates.filter(budget_amount__lte=subscription.budget_max)
    provinces = {split_region(region)[0] for region in subscription.regions or ()} - {""}
    if provinces:
        condition = Q()
        for province in sorted(provinces):
            condition |= Q(province__startswith=province)
        candidates = candidates.filter(condition)
    matcher = Matcher.build([subscription_spec(subscription)])
    found: list[tuple[int, tuple[str, ...]]] = []
    scanned = 0
    rows = candidates.order_by("-id").values(*NOTICE_MATCH_FIELDS)[:SEARCH_SCAN_MAX]
    for row in rows.iterator(chunk_size=1000):
        scanned += 1
        results = matcher.match(notice_spec(row))
        if results:
            found.append((row["pk"], results[0].matched_keywords))
            if len(found) >= SEARCH_RESULTS_MAX:
                break
    notices = TenderNotice.objects.defer("content").in_bulk([pk for pk, _keywords in found])
    return [(notices[pk], keywords) for pk, keywords in found if pk in notices], scanned
