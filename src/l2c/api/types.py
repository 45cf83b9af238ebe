"""Shared field types of API schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_RECORD_ID = 2**63 - 1

# A primary key as sent by clients: positive and within a 64-bit integer, so that `id IN (...)`
# lookups never overflow the database driver (SQLite raises OverflowError beyond 64 bits).
RecordId = Annotated[int, Field(ge=1, le=MAX_RECORD_ID)]
