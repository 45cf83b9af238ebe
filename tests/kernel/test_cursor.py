import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2c.kernel.cursor import MAX_TOKEN_LENGTH, Cursor, Direction, decode_cursor, encode_cursor
from l2c.kernel.errors import FieldError, ValidationFailed

D = Decimal

cursor_values = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12),
    st.datetimes(timezones=st.just(UTC)),
)


def _token_for(document: object) -> str:
    """A token with a correct checksum around an arbitrary JSON document."""
    payload = json.dumps(document, separators=(",", ":")).encode()
    checksum = hashlib.blake2b(payload, digest_size=4).digest()
    return base64.urlsafe_b64encode(checksum + payload).rstrip(b"=").decode()


def test_round_trip_keeps_values_types_and_direction():
    created_at = datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    values = (created_at, 42, D("1234.50"), None, "上海浦东 Ltd.")

    cursor = decode_cursor(encode_cursor(values, Direction.PREVIOUS))

    assert cursor == Cursor(values=values, direction=Direction.PREVIOUS)
    assert type(cursor.values[1]) is int
    assert str(cursor.values[2]) == "1234.50"
    assert cursor.values[0].tzinfo is not None


def test_direction_defaults_to_next():
    assert decode_cursor(encode_cursor((1,))) == Cursor(values=(1,), direction=Direction.NEXT)


def test_empty_values_round_trip():
    assert decode_cursor(encode_cursor(())) == Cursor(values=())


def test_datetime_offset_survives_the_round_trip():
    moment = datetime(2025, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))

    (decoded,) = decode_cursor(encode_cursor((moment,))).values

    assert decoded == moment
    assert decoded.utcoffset() == timedelta(hours=8)


def test_token_is_url_safe_and_unpadded():
    token = encode_cursor(("?&/+=", 10**15, D("-0.01")))

    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)


def test_encoding_is_deterministic():
    assert encode_cursor((1, "a")) == encode_cursor((1, "a"))
    assert encode_cursor((1, "a")) != encode_cursor((1, "a"), Direction.PREVIOUS)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ((True,), TypeError),
        ((1.5,), TypeError),
        ((datetime(2025, 1, 1),), ValueError),  # naive on purpose
        ((D("NaN"),), ValueError),
        (("x" * MAX_TOKEN_LENGTH,), ValueError),
    ],
)
def test_encode_rejects_unsupported_values(values, error):
    with pytest.raises(error):
        encode_cursor(values)


def _assert_invalid(token):
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(token)
    assert caught.value.errors == [
        FieldError(field="cursor", message="The pagination cursor is invalid.", code="invalid_cursor")
    ]
    assert caught.value.to_problem()["status"] == 422


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a cursor!",
        "abc",
        "====",
        "A",
        "x" * (MAX_TOKEN_LENGTH + 1),
        base64.urlsafe_b64encode(b'{"d":"next","v":[1]}').decode().rstrip("="),  # no checksum
        base64.b64encode(b"\xfb\xff" * 10).decode(),  # standard alphabet '+' and '/'
    ],
)
def test_malformed_tokens_raise_validation_failed(token):
    _assert_invalid(token)


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"d": "next"},
        {"d": "next", "v": [], "x": 1},
        {"d": "sideways", "v": []},
        {"d": 1, "v": []},
        {"d": "next", "v": {}},
        {"d": "next", "v": [1.5]},
        {"d": "next", "v": [True]},
        {"d": "next", "v": [[1]]},
        {"d": "next", "v": [{"$d": "NaN"}]},
        {"d": "next", "v": [{"$d": "twelve"}]},
        {"d": "next", "v": [{"$d": 12}]},
        {"d": "next", "v": [{"$t": "2025-01-01T00:00:00"}]},
        {"d": "next", "v": [{"$t": "yesterday"}]},
        {"d": "next", "v": [{"$x": "1"}]},
        {"d": "next", "v": [{"$d": "1", "$t": "2025-01-01T00:00:00+00:00"}]},
    ],
)
def test_well_checksummed_but_malformed_documents_raise_validation_failed(document):
    _assert_invalid(_token_for(document))


def test_truncated_token_raises_validation_failed():
    token = encode_cursor((datetime(2025, 1, 1, tzinfo=UTC), 12345))

    _assert_invalid(token[:-3])


@given(values=st.lists(cursor_values, max_size=5), direction=st.sampled_from(Direction))
def test_round_trip_property(values, direction):
    assert decode_cursor(encode_cursor(values, direction)) == Cursor(tuple(values), direction)


@given(
    values=st.lists(cursor_values, min_size=1, max_size=3),
    data=st.data(),
)
def test_any_single_character_edit_is_rejected_or_harmless(values, data):
    token = encode_cursor(values)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_").filter(
            lambda char: char != token[position]
        )
    )
    tampered = token[:position] + replacement + token[position + 1 :]

    try:
        cursor = decode_cursor(tampered)
    except ValidationFailed:
        return
    # Only the unused low bits of the final base64 character can change without detection.
    assert position == len(token) - 1
    assert cursor == Cursor(tuple(values))
