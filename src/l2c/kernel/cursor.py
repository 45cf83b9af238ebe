"""Opaque keyset-pagination cursors.

A cursor holds the sort-key values of the last row of a page and the direction to continue in.
The token is URL-safe base64 (unpadded) of a 4-byte BLAKE2b checksum followed by compact JSON.
The checksum catches truncated or edited tokens; it is not a signature, and it need not be:
a forged cursor only moves the page boundary inside rows the caller may already see.

Values keep their type across the round trip: ``str``, ``int``, ``None``, ``Decimal`` and
aware ``datetime`` (encoded as ISO 8601 text with a type tag).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from .errors import ValidationFailed

__all__ = ["MAX_TOKEN_LENGTH", "Cursor", "CursorValue", "Direction", "decode_cursor", "encode_cursor"]

CursorValue = str | int | Decimal | datetime | None

MAX_TOKEN_LENGTH = 2048

_CHECKSUM_BYTES = 4
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
_DECIMAL_TAG = "$d"
_DATETIME_TAG = "$t"


class Direction(enum.StrEnum):
    """Which way to page from the cursor's row."""

    NEXT = "next"
    PREVIOUS = "previous"


@dataclass(frozen=True)
class Cursor:
    """Sort-key values of the boundary row, in ``ORDER BY`` order, and the paging direction."""

    values: tuple[CursorValue, ...]
    direction: Direction = Direction.NEXT


def _encode_value(value: CursorValue) -> object:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("cursor values must not be bool")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("cursor Decimal values must be finite")
        return {_DECIMAL_TAG: str(value)}
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("cursor datetime values must be timezone-aware")
        return {_DATETIME_TAG: value.isoformat()}
    raise TypeError(f"unsupported cursor value type {type(value).__name__}")


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECKSUM_BYTES).digest()


def encode_cursor(values: Sequence[CursorValue], direction: Direction = Direction.NEXT) -> str:
    """The opaque token for ``values`` (sort-key values of the boundary row) and ``direction``."""
    document = {"d": Direction(direction).value, "v": [_encode_value(value) for value in values]}
    payload = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    token = base64.urlsafe_b64encode(_checksum(payload) + payload).rstrip(b"=").decode("ascii")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError(f"cursor token longer than {MAX_TOKEN_LENGTH} characters")
    return token


class _BadCursor(Exception):
    pass


def _decode_value(raw: object) -> CursorValue:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, (bool, float)):
        raise _BadCursor
    if isinstance(raw, int):
        return raw
    if isinstance(raw, dict) and len(raw) == 1:
        ((tag, text),) = raw.items()
        if not isinstance(text, str):
            raise _BadCursor
        if tag == _DECIMAL_TAG:
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise _BadCursor from None
            if not number.is_finite():
                raise _BadCursor
            return number
        if tag == _DATETIME_TAG:
            moment = datetime.fromisoformat(text)
            if moment.utcoffset() is None:
                raise _BadCursor
            return moment
    raise _BadCursor


def _parse(token: str) -> Cursor:
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise _BadCursor
    if not _TOKEN_PATTERN.fullmatch(token):
        raise _BadCursor
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    checksum, payload = raw[:_CHECKSUM_BYTES], raw[_CHECKSUM_BYTES:]
    if len(checksum) != _CHECKSUM_BYTES or checksum != _checksum(payload):
        raise _BadCursor
    document = json.loads(payload.decode("utf-8"))
    if not isinstance(document, dict) or set(document) != {"d", "v"}:
        raise _BadCursor
    direction, values = document["d"], document["v"]
    if not isinstance(direction, str) or not isinstance(values, list):
        raise _BadCursor
    return Cursor(values=tuple(_decode_value(value) for value in values), direction=Direction(direction))


def decode_cursor(token: str) -> Cursor:
    """Parse a token made by ``encode_cursor``; anything else raises ``ValidationFailed``
    with a single error on field ``"cursor"`` (code ``"invalid_cursor"``)."""
    try:
        return _parse(token)
    except (_BadCursor, ValueError, binascii.Error, RecursionError):
        # json.JSONDecodeError, UnicodeDecodeError and an unknown Direction are ValueErrors.
        raise ValidationFailed.for_field(
            "cursor", "The pagination cursor is invalid.", code="invalid_cursor"
        ) from None
