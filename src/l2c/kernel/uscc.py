"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015).

Layout of the 18 characters (1-based positions):

* 1: registration authority (登记管理部门代码), 2: entity type (机构类别代码);
* 3-8: administrative division code (登记管理机关行政区划码), six digits;
* 9-17: organisation code (主体标识码);
* 18: check character over positions 1-17.

Characters come from ``USCC_CHARSET`` (digits and upper-case letters without I, O, S, V, Z).
The check character is ``USCC_CHARSET[(31 - sum(value * weight) % 31) % 31]``.

Unlike python-stdnum, positions 1 and 2 may be letters (GB 32100 allows e.g. ``Y`` "other"
authorities and ``N`` agricultural ones); positions 3-8 must be digits.
"""

from __future__ import annotations

__all__ = [
    "USCC_CHARSET",
    "USCC_LENGTH",
    "USCC_WEIGHTS",
    "normalize_uscc",
    "uscc_check_char",
    "uscc_error",
    "uscc_generate",
    "uscc_is_valid",
]

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_LENGTH = 18

_VALUES = {char: value for value, char in enumerate(USCC_CHARSET)}
_DIVISION_POSITIONS = range(2, 8)  # 0-based indices of positions 3-8

# Full-width ASCII (U+FF01-U+FF5E) to half-width, and the ideographic space to a space.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalize_uscc(code: str) -> str:
    """Full-width to half-width, surrounding whitespace removed, upper-cased."""
    return code.translate(_HALF_WIDTH).strip().upper()


def _body_error(body: str) -> str | None:
    """The first problem with the characters of ``body`` (positions 1..len(body)), if any."""
    for index, char in enumerate(body):
        if char not in _VALUES:
            return f"contains invalid character {char!r} at position {index + 1}"
    for index in _DIVISION_POSITIONS:
        if index < len(body) and not body[index].isdigit():
            return (
                f"administrative division code (positions 3-8) must be digits, "
                f"found {body[index]!r} at position {index + 1}"
            )
    return None


def uscc_check_char(first17: str) -> str:
    """The check character for 17 code characters (taken as given, not normalised).

    Raises ``ValueError`` when ``first17`` is not 17 valid characters.
    """
    if len(first17) != USCC_LENGTH - 1:
        raise ValueError(f"need {USCC_LENGTH - 1} characters, got {len(first17)}")
    problem = _body_error(first17)
    if problem is not None:
        raise ValueError(problem)
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_error(code: str) -> str | None:
    """Why ``code`` is not a valid USCC (after ``normalize_uscc``), or ``None`` when it is.

    Positions in the messages are 1-based in the normalised code.
    """
    normalized = normalize_uscc(code)
    if len(normalized) != USCC_LENGTH:
        return f"must be {USCC_LENGTH} characters"
    problem = _body_error(normalized)
    if problem is not None:
        return problem
    expected = uscc_check_char(normalized[:-1])
    if normalized[-1] != expected:
        return f"check character should be {expected!r}"
    return None


def uscc_is_valid(code: str) -> bool:
    """Whether ``code`` is a valid USCC after ``normalize_uscc``."""
    return uscc_error(code) is None


def uscc_generate(seed_digits: str) -> str:
    """A valid code made of 17 given characters plus their check character.

    Deterministic, for demo and test data; ``ValueError`` when the 17 characters are invalid.
    """
    return seed_digits + uscc_check_char(seed_digits)
