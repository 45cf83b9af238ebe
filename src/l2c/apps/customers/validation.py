"""Field cleaning shared by the API, the forms and the importers of accounts and contacts.

Each cleaner turns raw input (str from files and forms, JSON types from the API) into the stored
value or raises ValueError with a human reason; `clean_fields` collects every error at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.db.models import TextChoices
from pypinyin import Style, lazy_pinyin

from l2c.kernel.errors import FieldError
from l2c.kernel.uscc import normalize_uscc, uscc_error

from .models import AccountLevel, AccountSource, AccountStatus, BusinessStatus, CompanySize, Industry

Cleaner = Callable[[Any], Any]
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
PHONE_RE = re.compile(r"^[0-9+()\-\s#转]{5,40}$")


def text(max_length: int, required: bool = False) -> Cleaner:
    def clean(raw: Any) -> str:
        value = "" if raw is None else str(raw).strip()
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        if required and not value:
            raise ValueError("required")
        if len(value) > max_length:
            raise ValueError(f"at most {max_length} characters (got {len(value)})")
        return value

    return clean


def choice(choices: type[TextChoices]) -> Cleaner:
    labels = {str(label): value for value, label in choices.choices}

    def clean(raw: Any) -> str:
        value = "" if raw is None else str(raw).strip()
        if not value:
            return ""
        if value in choices.values:
            return value
        if value in labels:  # imports may carry the Chinese label
            return labels[value]
        raise ValueError(f"must be one of {', '.join(choices.values)}")

    return clean


def credit_code(raw: Any) -> str:
    value = normalize_uscc("" if raw is None else str(raw))
    if not value:
        return ""
    reason = uscc_error(value)
    if reason:
        raise ValueError(f"not a valid unified social credit code: {reason}")
    return value


def phone(raw: Any) -> str:
    value = "" if raw is None else str(raw).strip()
    if value and not PHONE_RE.match(value):
        raise ValueError("not a phone number (digits, spaces, + - ( ) and an extension only)")
    return value


def email(raw: Any) -> str:
    value = "" if raw is None else str(raw).strip()
    if value and (len(value) > 254 or not EMAIL_RE.match(value)):
        raise ValueError("not an e-mail address")
    return value


def website(raw: Any) -> str:
    value = "" if raw is None else str(raw).strip()
    if not value:
        return ""
    if len(value) > 200:
        raise ValueError("at most 200 characters")
    lowered = value.lower()
    if lowered.startswith(("javascript:", "data:", "vbscript:")) or any(c in value for c in "<>\"' "):
        raise ValueError("not a web address")
    if not lowered.startswith(("http://", "https://")):
        value = "https://" + value
    if "." not in value.split("//", 1)[1]:
        raise ValueError("not a web address")
    return value


def money_amount(raw: Any) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, float):
        raw = repr(raw)
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e14"):
        raise ValueError("must be a non-negative amount below 10^14")
    return value.quantize(Decimal("0.01"))


def date(raw: Any) -> dt.date | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip().replace("/", "-"))
    except ValueError:
        raise ValueError("must be a date like 2026-01-31") from None


def boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = "" if raw is None else str(raw).strip().lower()
    if word in {"1", "true", "yes", "y", "是"}:
        return True
    if word in {"0", "false", "no", "n", "否", ""}:
        return False
    raise ValueError("must be yes or no")


ACCOUNT_FIELDS: dict[str, Cleaner] = {
    "name": text(200, required=True),
    "short_name": text(100),
    "credit_code": credit_code,
    "industry": choice(Industry),
    "size": choice(CompanySize),
    "province": text(30),
    "city": text(30),
    "district": text(30),
    "address": text(255),
    "phone": phone,
    "website": website,
    "source": choice(AccountSource),
    "level": choice(AccountLevel),
    "status": choice(AccountStatus),
    "legal_representative": text(50),
    "registered_capital": money_amount,
    "founded_on": date,
    "business_status": choice(BusinessStatus),
}

CONTACT_FIELDS: dict[str, Cleaner] = {
    "name": text(100, required=True),
    "title": text(100),
    "department": text(100),
    "mobile": phone,
    "phone": phone,
    "email": email,
    "wechat": text(100),
    "is_primary": boolean,
}


def clean_fields(
    spec: Mapping[str, Cleaner], data: Mapping[str, Any], *, partial: bool, row: int | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Clean the fields of `spec` present in `data` (all of them unless partial)."""
    cleaned: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, cleaner in spec.items():
        if partial and name not in data:
            continue
        try:
            cleaned[name] = cleaner(data.get(name))
        except ValueError as error:
            code = "required" if str(error) == "required" else "invalid"
            errors.append(FieldError(name, str(error), code, row))
    if "status" in cleaned and cleaned["status"] == "" and not partial:
        cleaned["status"] = AccountStatus.POTENTIAL
    return cleaned, errors


@lru_cache(maxsize=262144)
def _chunk_pinyin(chunk: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(lazy_pinyin(chunk)), tuple(lazy_pinyin(chunk, style=Style.FIRST_LETTER))


def _pinyin(text: str) -> tuple[str, str]:
    """Full pinyin and initials. Converted in cached two-character chunks: company names reuse a
    small vocabulary, so this is ~50x faster than converting whole names (bulk imports) while
    two-character words (重庆 chongqing, 银行 yinhang) keep their phrase reading."""
    full: list[str] = []
    initials: list[str] = []
    for start in range(0, len(text), 2):
        chunk_full, chunk_initials = _chunk_pinyin(text[start:start + 2])
        full.extend(chunk_full)
        initials.extend(chunk_initials)
    return "".join(full), "".join(initials)


def search_text(*parts: str) -> str:
    """Lower-case words plus full pinyin and pinyin initials, for search by name or 拼音首字母."""
    words: list[str] = []
    for part in parts:
        if not part:
            continue
        words.append(part.lower())
        if any("\u4e00" <= char <= "\u9fff" for char in part):
            full, initials = _pinyin(part)
            words.append(full.lower())
            words.append(initials.lower())
    return " ".join(words)[:1000]
