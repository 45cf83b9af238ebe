"""Fixed-window rate limits counted in the database (`RateLimitCounter`), so every web process and
machine shares them (the cache is per-process locmem by default). Used by the public registration
page: per client address and per campaign."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import RateLimitCounter

KEEP = dt.timedelta(hours=2)  # windows older than this are deleted as new ones start


def throttle_hit(*, key: str, limit: int, window_seconds: int, now: dt.datetime | None = None) -> int | None:
    """Count one request under `key`; return the seconds until the window ends when this request is
    over `limit` (the caller answers 429 with Retry-After), else None."""
    now = now or timezone.now()
    epoch = int(now.timestamp())
    start_epoch = epoch - epoch % window_seconds
    start = dt.datetime.fromtimestamp(start_epoch, tz=dt.UTC)
    key = key[:200]
    with transaction.atomic():
        RateLimitCounter.objects.bulk_create([RateLimitCounter(key=key, window_start=start, hits=0)],
                                             ignore_conflicts=True)
        counter = RateLimitCounter.objects.filter(key=key, window_start=start)
        counter.update(hits=F("hits") + 1)  # atomic increment: concurrent requests never lose a count
        hits = counter.values_list("hits", flat=True).first() or 0
        if hits == 1:  # a new window of this key: drop the long-expired ones of every key
            RateLimitCounter.objects.filter(window_start__lt=now - KEEP).delete()
    if hits > limit:
        return max(start_epoch + window_seconds - epoch, 1)
    return None
