"""Shared field types of API schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from django.conf import settings
from pydantic import AfterValidator, Field

MAX_RECORD_ID = 2**63 - 1

# A primary key as sent by clients: positive and within a 64-bit integer, so that `id IN (...)`
# lookups never overflow the database driver (SQLite raises OverflowError beyond 64 bits).
RecordId = Annotated[int, Field(ge=1, le=MAX_RECORD_ID)]


def _to_utc(value: dt.datetime) -> dt.datetime:
    """Input datetimes are stored in UTC: naive ones are read in the site's time zone, offsets are
    converted (PostgreSQL rejects offsets beyond ±15:59, so they never reach the database)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("datetime out of range") from None


# A point in time sent by a client (input schemas only).
InputDatetime = Annotated[dt.datetime, AfterValidator(_to_utc)]
