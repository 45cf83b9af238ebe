"""Field cleaning shared by the API, the forms and the importers of accounts and contacts.

Each cleaner turns raw input (str from files and forms, JSON types from the API) into the stored
value or raises CleanError with a human reason in the active language (a stable `code` stays
machine-readable); `clean_fields` collects every error at once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.db.models import TextChoices
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin

from l2c.kernel.errors import FieldError
from l2c.kernel.uscc import USCC_CHARSET, normalize_uscc, uscc_check_char, uscc_error

from .models import AccountLevel, AccountSource, AccountStatus, BusinessStatus, CompanySize, Industry

Cleaner = Callable[[Any], Any]
EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
PHONE_RE = re.compile(r"^[0-9+()\-\s#转]+$")
PHONE_LENGTH = (5, 40)  # characters as written, separators included


class CleanError(ValueError):
    """A field value that cannot be stored: a translated message and a stable code."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def required_error() -> CleanError:
    return CleanError(_("此项为必填项。"), "required")


def text(max_length: int, required: bool = False) -> Cleaner:
    def clean(raw: Any) -> str:
        value = "" if raw is None else str(raw).strip()
        if "\x00" in value:
            raise CleanError(_("不能包含 NUL 字符。"))
        if required and not value:
            raise required_error()
        if len(value) > max_length:
            raise CleanError(
                _("最多 %(limit)s 个字符（现有 %(count)s 个）。") % {"limit": max_length, "count": len(value)}
            )
        return value

    return clean


def choice(choices: type[TextChoices]) -> Cleaner:
    """A cleaner accepting a value of `choices` or its label (imports may carry the Chinese label).
    The value set, label map and message are computed once here, not per cell; the cleaner's
    `lookup` attribute maps every accepted stripped text to its value (values win over labels)."""
    values = [str(value) for value in choices.values]
    lookup = {str(label): str(value) for value, label in choices.choices}
    lookup.update((value, value) for value in values)

    def clean(raw: Any) -> str:
        value = "" if raw is None else str(raw).strip()
        if not value:
            return ""
        found = lookup.get(value)
        if found is None:
            raise CleanError(_("必须是以下之一：%(values)s。") % {"values": ", ".join(values)})
        return found

    clean.lookup = lookup  # type: ignore[attr-defined]
    return clean


def credit_code(raw: Any) -> str:
    value = normalize_uscc("" if raw is None else str(raw))
    if not value:
        return ""
    reason = uscc_error(value)
    if reason:
        raise CleanError(_("不是有效的统一社会信用代码：%(reason)s") % {"reason": _uscc_reason(value, reason)})
    return value


def _uscc_reason(value: str, english_reason: str) -> str:
    """The kernel's reason in the user's language (the kernel is pure and speaks English)."""
    if len(value) != 18:
        return _("必须为 18 位（现有 %(count)s 位）。") % {"count": len(value)}
    for position, char in enumerate(value, start=1):
        if char not in USCC_CHARSET:
            return _("第 %(position)s 位的“%(char)s”不是有效字符。") % {"position": position, "char": char}
    if not value[2:8].isdigit():
        return _("第 3–8 位（登记管理机关行政区划码）必须是数字。")
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        return _("校验位应为“%(expected)s”。") % {"expected": expected}
    return english_reason  # a rule the kernel added later: shown as the kernel states it


def phone(raw: Any) -> str:
    value = "" if raw is None else str(raw).strip()
    if not value:
        return value
    if not PHONE_RE.match(value):
        raise CleanError(_("不是有效的电话号码（只能包含数字、空格、+ - ( ) 和分机号）。"))
    shortest, longest = PHONE_LENGTH
    if len(value) < shortest:
        raise CleanError(_("电话号码太短：至少 %(min)s 个字符（现有 %(count)s 个）。")
                         % {"min": shortest, "count": len(value)})
    if len(value) > longest:
        raise CleanError(_("电话号码太长：最多 %(max)s 个字符（现有 %(count)s 个）。")
                         % {"max": longest, "count": len(value)})
    return value


def email(raw: Any) -> str:
    value = "" if raw is None else str(raw).strip()
    if value and (len(value) > 254 or not EMAIL_RE.match(value)):
        raise CleanError(_("不是有效的邮箱地址。"))
    return value


def website(raw: Any) -> str:
    value = "" if raw is None else str(raw).strip()
    if not value:
        return ""
    if len(value) > 200:
        raise CleanError(_("最多 %(limit)s 个字符（现有 %(count)s 个）。") % {"limit": 200, "count": len(value)})
    lowered = value.lower()
    if lowered.startswith(("javascript:", "data:", "vbscript:")) or any(c in value for c in "<>\"' "):
        raise CleanError(_("不是有效的网址。"))
    if not lowered.startswith(("http://", "https://")):
        value = "https://" + value
    if "." not in value.split("//", 1)[1]:
        raise CleanError(_("不是有效的网址。"))
    return value


def money_amount(raw: Any) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, float):
        raw = repr(raw)
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise CleanError(_("必须是数字。")) from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e14"):
        raise CleanError(_("必须是小于 10^14 的非负金额。"))
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
        raise CleanError(_("必须是日期，例如 2026-01-31。")) from None


def boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = "" if raw is None else str(raw).strip().lower()
    if word in {"1", "true", "yes", "y", "是"}:
        return True
    if word in {"0", "false", "no", "n", "否", ""}:
        return False
    raise CleanError(_("必须是“是”或“否”。"))


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
            errors.append(FieldError(name, str(error), getattr(error, "code", "invalid"), row))
    if "status" in cleaned and cleaned["status"] == "" and not partial:
        cleaned["status"] = AccountStatus.POTENTIAL
    return cleaned, errors


def _letters(syllables: list[str]) -> str:
    # Characters pypinyin does not know come back as themselves: they are no pinyin.
    return "".join(syllable for syllable in syllables if syllable.isascii() and syllable.isalpha()).lower()


@lru_cache(maxsize=262144)
def _chunk_pinyin(chunk: str) -> tuple[str, str]:
    """Full pinyin and initials of a chunk of at most two characters, letters a–z only."""
    return _letters(lazy_pinyin(chunk)), _letters(lazy_pinyin(chunk, style=Style.FIRST_LETTER))


def _pinyin(text: str) -> tuple[str, str]:
    """Full pinyin and initials of Chinese text, letters a–z only. Converted in cached two-character
    chunks: company names reuse a small vocabulary, so this is ~50x faster than converting whole
    names (bulk imports) while two-character words (重庆 chongqing, 银行 yinhang) keep their phrase
    reading."""
    chunks = [_chunk_pinyin(text[start:start + 2]) for start in range(0, len(text), 2)]
    return "".join(full for full, _ in chunks), "".join(initials for _, initials in chunks)


# --- search text ------------------------------------------------------------------------------------
# `search_text` columns are what the full-text indexes see: SQLite FTS5 (unicode61 tokenizer) and
# PostgreSQL to_tsvector('simple', …) (migration customers 0003). Both split on spaces and punctuation
# but not between Chinese characters, so every Chinese character is stored as its own token (a query
# of one character), and so is every pair of neighbouring characters: a query of n ≥ 2 characters is
# the phrase of its n − 1 pairs ("州金 金盛 盛建"), whose postings are short even when the single
# characters (有, 限, 公, 司) are in almost every name — a phrase of single characters would have
# to walk those long lists (10–25 ms at a million names).
SEARCH_TEXT_MAX_LENGTH = 600  # fits both columns (Account 1000, Contact 600)
INITIALS_SUFFIXES = 16  # initials plus at most 15 of their suffixes per part
SEARCH_QUERY_MAX_GROUPS = 16
_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RE = re.compile(f"[{_HAN}]")
# A token: one Chinese character, or a run of other letters and digits (Unicode \w minus "_").
_TOKEN_RE = re.compile(f"[{_HAN}]|[^\\W_{_HAN}]+")
_PHONE_PART_RE = re.compile(r"^[0-9+()\-\s]+$")


def _tokens(value: str) -> list[str]:
    """Index tokens of `value`: NFKC-folded (full-width letters become ASCII), lower case."""
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", value).lower())


@lru_cache(maxsize=65536)
def _part_tokens(part: str) -> tuple[tuple[str, ...], str, tuple[str, ...], str, str, tuple[str, ...]] | None:
    """What `search_text` takes from one part, computed once per distinct part (names and company
    names repeat across a file): its tokens, their folded form (" a b "), its pairs of neighbouring
    Chinese characters, the pinyin and initials of its Chinese characters and the initials'
    suffixes. None when the part has no token."""
    tokens = _tokens(part)
    if not tokens:
        return None
    if _PHONE_PART_RE.match(part):
        tokens = ["".join(tokens)]
    han_tokens = [_HAN_RE.match(token) is not None for token in tokens]  # a Chinese token is one character
    pairs = [tokens[index] + tokens[index + 1] for index in range(len(tokens) - 1)
             if han_tokens[index] and han_tokens[index + 1]]
    han = "".join(token for token, is_han in zip(tokens, han_tokens, strict=True) if is_han)
    full, initials = _pinyin(han) if han else ("", "")
    suffixes = [initials[start:] for start in range(1, min(len(initials) - 1, INITIALS_SUFFIXES))]
    return tuple(tokens), f" {' '.join(tokens)} ", tuple(pairs), full, initials, tuple(suffixes)


def search_text(*parts: str) -> str:
    """The indexed search text of a record's name-like parts (name, short name; a contact's name,
    mobile and e-mail), space-separated tokens in order of importance:

    1. per part: each Chinese character, each other word (lower case; a phone number as its
       digits), then the part's full pinyin (北京星河 → beijingxinghe, found by prefix);
    2. per part: each pair of neighbouring Chinese characters, in order (北京 京星 星河);
    3. per part: the pinyin initials (bjxh);
    4. per part: suffixes of the initials (jxh, xh), so initials typed from inside a name (xhzn)
       are found by a prefix query; at most INITIALS_SUFFIXES tokens per part.

    A part repeating an earlier one (a short name inside the name) adds only its pinyin. Tokens
    that would take the text beyond SEARCH_TEXT_MAX_LENGTH are left out, whole.
    """
    words: list[str] = []
    pairs: list[str] = []
    spelled: list[str] = []
    suffixes: list[str] = []
    seen: set[str] = set()
    folded_parts: list[str] = []

    def once(target: list[str], token: str) -> None:
        if token and token not in seen:
            seen.add(token)
            target.append(token)

    for part in parts:
        part = part or ""
        # Mobiles and e-mails are mostly unique: computed directly, they do not crowd the cache.
        analysis = _part_tokens.__wrapped__(part) if part.isascii() else _part_tokens(part)
        if analysis is None:
            continue
        tokens, folded, part_pairs, full, initials, part_suffixes = analysis
        if not any(folded in earlier for earlier in folded_parts):  # whole tokens, in order
            words.extend(tokens)
            pairs.extend(part_pairs)
        folded_parts.append(folded)
        if not full and not initials:
            continue
        once(words, full)
        if len(initials) > 1:
            once(spelled, initials)
        for suffix in part_suffixes:
            once(suffixes, suffix)
    everything = words + pairs + spelled + suffixes
    text = " ".join(everything)
    if len(text) <= SEARCH_TEXT_MAX_LENGTH:
        return text
    kept: list[str] = []
    length = -1
    for token in everything:
        if length + 1 + len(token) <= SEARCH_TEXT_MAX_LENGTH:  # an overlong token does not hide shorter ones
            kept.append(token)
            length += 1 + len(token)
    return " ".join(kept)


def _han_pairs(tokens: list[str]) -> list[str]:
    """Each pair of neighbouring Chinese-character tokens: 北 京 星 → 北京 京星."""
    return [first + second for first, second in itertools.pairwise(tokens)
            if _HAN_RE.fullmatch(first) and _HAN_RE.fullmatch(second)]


@dataclass(frozen=True)
class SearchGroup:
    """One required part of a full-text search: `tokens` in this order (a phrase), the last one
    matched as a prefix when `prefix` is set."""

    tokens: tuple[str, ...]
    prefix: bool


def search_query_groups(q: str) -> list[SearchGroup]:
    """The groups a search term asks for, all of them required: a run of Chinese characters is a
    phrase of its character pairs (州金盛建 → 州金 金盛 盛建; one character alone is itself), so it
    matches names containing the run; any other word a prefix (bjxh matches the initials bjxhzn…
    and, through their stored suffixes, xhzn matches them too).
    Everything else — quotes, operators, punctuation — is dropped, so no input is query syntax."""
    groups: list[SearchGroup] = []
    run: list[str] = []
    previous_end = 0
    normal = unicodedata.normalize("NFKC", q).lower()
    for match in _TOKEN_RE.finditer(normal):
        token = match.group()
        if run and (match.start() != previous_end or not _HAN_RE.fullmatch(token)):
            groups.append(SearchGroup(tuple(run), prefix=False))
            run = []
        if _HAN_RE.fullmatch(token):
            run.append(token)
        else:
            groups.append(SearchGroup((token,), prefix=True))
        previous_end = match.end()
    if run:
        groups.append(SearchGroup(tuple(run), prefix=False))
    return [SearchGroup(tuple(_han_pairs(list(group.tokens))), prefix=False)
            if len(group.tokens) > 1 and _HAN_RE.fullmatch(group.tokens[0]) else group
            for group in groups[:SEARCH_QUERY_MAX_GROUPS]]


def search_phone_digits(q: str) -> str:
    """The digits of a term that looks like a phone number (digits with - + ( ) and spaces, at least
    5 digits), else "". `search_text` stores a phone-number part as this one digit token."""
    if not _PHONE_PART_RE.match(q):
        return ""
    digits = "".join(char for char in q if char.isdigit())
    return digits if len(digits) >= 5 else ""
