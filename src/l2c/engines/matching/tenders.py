"""The tender matcher: frozen dataclasses in and out; see the package docstring for the rules.

`Matcher.build(subscriptions)` compiles every keyword and excluded word of the subscriptions into
one automaton; `Matcher.match(notice)` scans the notice's text once and then looks only at the
subscriptions holding a word that occurred (candidates), so the cost of a notice grows with the
words it contains, not with the number of subscriptions. `naive_match` is the plain loop over all
subscriptions with `in`: the oracle of the tests and the baseline of the benchmark.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, groupby
from typing import Any

import ahocorasick  # type: ignore[import-not-found]

# Joins the fields of a notice: normalisation removes it from every word, so no keyword spans two fields.
FIELD_SEPARATOR = "\x00"
# Control characters and invisible format characters (zero-width space/joiners, BOM, word joiner)
# that could otherwise hide a word ("服\u200b务器").
# (The white-space controls \t \n \v \f \r, \x1c–\x1f and \x85 are spaces, not removed.)
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200b-\u200f\u2060\ufeff]")
# Full-width ASCII (U+FF01–U+FF5E) and the ideographic space → their NFKC forms.
_FULL_WIDTH = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
_FULL_WIDTH_CHARACTER = re.compile("[\uff01-\uff5e\u3000]")
# Administrative suffixes, longest first: "广西壮族自治区" → "广西", "深圳市" → "深圳".
_REGION_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "自治州", "地区", "省", "市",
                    "盟")


def normalize(text: str) -> str:
    """Comparison form of a text or a word: NFKC (full-width → half-width, compatibility forms),
    lower case, white space runs → one space, invisible characters removed, trimmed."""
    # NFKC costs ~0.2 ms on 2 KB of Chinese, which is full of full-width punctuation: those (and the
    # ideographic space) are replaced first — by what NFKC maps them to, a few str.replace calls as a
    # text holds only a few distinct ones — so that the full NFKC runs only on the texts the quick
    # check still finds unnormalised.
    value = text
    for character in set(_FULL_WIDTH_CHARACTER.findall(text)):
        value = value.replace(character, _FULL_WIDTH[character])
    if not unicodedata.is_normalized("NFKC", value):
        value = unicodedata.normalize("NFKC", value)
    if _INVISIBLE.search(value):
        value = _INVISIBLE.sub("", value)
    return " ".join(value.lower().split())


def region_key(name: str) -> str:
    """A province or city name without spaces and administrative suffix: "广东省" → "广东"."""
    value = normalize(name).replace(" ", "")
    for suffix in _REGION_SUFFIXES:
        if value.endswith(suffix) and len(value) > len(suffix):
            return value[: -len(suffix)]
    return value


def split_region(spec: str) -> tuple[str, str]:
    """A subscription's region "省" or "省/市" as (province key, city key or "")."""
    province, _slash, city = normalize(spec).partition("/")
    return region_key(province), region_key(city)


@dataclass(frozen=True)
class Notice:
    """What the matcher reads of a tender notice; `budget_amount` in fen, None when not stated."""

    notice_id: int
    title: str
    buyer_name: str = ""
    content: str = ""
    province: str = ""
    city: str = ""
    budget_amount: int | None = None
    kind: str = "tender"


@dataclass(frozen=True)
class Subscription:
    """A standing search. Empty `regions`/`kinds` and None budget bounds do not filter."""

    subscription_id: int
    keywords: tuple[str, ...]
    match_all: bool = False
    excluded_words: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    budget_min: int | None = None
    budget_max: int | None = None
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchResult:
    """A notice matched one subscription; `matched_keywords` as the subscription wrote them, in its order."""

    subscription_id: int
    matched_keywords: tuple[str, ...]


def notice_text(notice: Notice) -> str:
    """The searched text: title, buyer and content, each normalised, joined by FIELD_SEPARATOR."""
    return FIELD_SEPARATOR.join((normalize(notice.title), normalize(notice.buyer_name), normalize(notice.content)))


def _distinct_keywords(keywords: Iterable[str]) -> list[tuple[str, str]]:
    """(normalised, as written) of each keyword, empty ones dropped, the first of equal ones kept."""
    seen: dict[str, str] = {}
    for keyword in keywords:
        key = normalize(keyword)
        if key and key not in seen:
            seen[key] = keyword.strip()
    return list(seen.items())


def _region_set(regions: Iterable[str]) -> frozenset[str] | None:
    """Province keys ("广东") and province/city keys ("广东/深圳"); None when there is no region."""
    keys = set()
    for spec in regions:
        province, city = split_region(spec)
        if province:
            keys.add(f"{province}/{city}" if city else province)
    return frozenset(keys) if keys else None


def _notice_places(notice: Notice) -> tuple[str, str]:
    province = region_key(notice.province)
    return province, f"{province}/{region_key(notice.city)}"


# --- the reference loop ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Prepared:
    subscription: Subscription
    keywords: tuple[tuple[str, str], ...]
    excluded: tuple[str, ...]
    regions: tuple[tuple[str, str], ...]


class NaiveMatcher:
    """Every subscription checked one by one with `in`: slow, obviously right. The words are
    normalised once up front (as a sensible loop would), so the benchmark's baseline is fair."""

    __slots__ = ("_prepared",)

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        self._prepared = [
            _Prepared(
                subscription=subscription,
                keywords=tuple(_distinct_keywords(subscription.keywords)),
                excluded=tuple(word for word in (normalize(item) for item in subscription.excluded_words) if word),
                regions=tuple(region for region in (split_region(spec) for spec in subscription.regions)
                              if region[0]),
            )
            for subscription in sorted(subscriptions, key=lambda item: item.subscription_id)
        ]

    def match(self, notice: Notice) -> list[MatchResult]:
        text = notice_text(notice)
        province = region_key(notice.province)
        city = region_key(notice.city)
        results = []
        for prepared in self._prepared:
            subscription = prepared.subscription
            if not prepared.keywords:
                continue
            hits = tuple(written for key, written in prepared.keywords if key in text)
            if not hits or (subscription.match_all and len(hits) != len(prepared.keywords)):
                continue
            if any(word in text for word in prepared.excluded):
                continue
            if prepared.regions and not (
                    province and any(p == province and (not c or c == city) for p, c in prepared.regions)):
                continue
            if subscription.budget_min is not None or subscription.budget_max is not None:
                if notice.budget_amount is None:
                    continue
                if subscription.budget_min is not None and notice.budget_amount < subscription.budget_min:
                    continue
                if subscription.budget_max is not None and notice.budget_amount > subscription.budget_max:
                    continue
            if subscription.kinds and notice.kind not in subscription.kinds:
                continue
            results.append(MatchResult(subscription.subscription_id, hits))
        return results


def naive_match(subscriptions: Sequence[Subscription], notice: Notice) -> list[MatchResult]:
    """The reference loop over all subscriptions: the same results as
    `Matcher.build(subscriptions).match(notice)`, in subscription id order."""
    return NaiveMatcher(subscriptions).match(notice)


# --- the automaton --------------------------------------------------------------------------------
def _bits(positions: Iterable[int], size: int) -> int:
    """A bit set (Python int) with the given bit positions set."""
    buffer = bytearray((size + 7) // 8)
    for position in positions:
        buffer[position >> 3] |= 1 << (position & 7)
    return int.from_bytes(buffer, "little")


def _positions(bits: int) -> list[int]:
    """The positions of the set bits, ascending (one C-level scan of the binary string)."""
    text = bin(bits)
    top = len(text) - 1
    positions = []
    found = text.find("1", 2)
    while found != -1:
        positions.append(top - found)
        found = text.find("1", found + 1)
    positions.reverse()
    return positions


class Matcher:
    """All active subscriptions compiled once per matching run; `match` is then called per notice.

    Subscriptions are numbered 0..n-1 in id order and every filter is a bit set over them (a Python
    int): per word, the subscriptions using it as an any-keyword, as the anchor of their
    all-keywords, or as an excluded word; per region key, kind and budget threshold, the subscriptions it lets through.
    A notice's matches are then a few big-integer ORs and ANDs — C speed whatever the number of
    subscriptions — and Python only touches the subscriptions that actually match.
    """

    __slots__ = ("_all", "_any", "_automaton", "_excluding", "_ids", "_keywords", "_kind_open", "_kinds",
                 "_max_bits", "_max_values", "_min_bits", "_min_values", "_region_open", "_regions",
                 "_results", "_single", "_unbounded", "word_count")

    def __init__(self) -> None:
        self._automaton: Any = None
        self._ids: list[int] = []
        self._keywords: list[tuple[tuple[int, ...], tuple[str, ...]]] = []
        self._single: list[MatchResult | None] = []
        self._results: dict[tuple[int, tuple[str, ...]], MatchResult] = {}
        self._any: list[int] = []
        self._all: list[int] = []
        self._excluding: list[int] = []
        self._region_open = 0
        self._regions: dict[str, int] = {}
        self._kind_open = 0
        self._kinds: dict[str, int] = {}
        self._unbounded = 0
        self._min_values: list[int] = []
        self._min_bits: list[int] = []
        self._max_values: list[int] = []
        self._max_bits: list[int] = []
        self.word_count = 0

    @property
    def subscription_count(self) -> int:
        return len(self._ids)

    @classmethod
    def build(cls, subscriptions: Iterable[Subscription]) -> Matcher:
        matcher = cls()
        words: dict[str, int] = {}
        any_positions: list[list[int]] = []
        all_positions: list[list[int]] = []
        excluding_positions: list[list[int]] = []
        region_positions: dict[str, list[int]] = {}
        kind_positions: dict[str, list[int]] = {}
        open_regions: list[int] = []
        open_kinds: list[int] = []
        unbounded: list[int] = []
        minimums: list[tuple[int, int]] = []  # (bound or -1 for none, position)
        maximums: list[tuple[int, int]] = []

        def word_index(word: str) -> int:
            index = words.get(word)
            if index is None:
                index = words[word] = len(words)
                any_positions.append([])
                all_positions.append([])
                excluding_positions.append([])
            return index

        # Subscriptions in id order: set bits read in ascending order come out in id order.
        for subscription in sorted(subscriptions, key=lambda item: item.subscription_id):
            keywords = _distinct_keywords(subscription.keywords)
            if not keywords:
                continue  # never matches
            position = len(matcher._ids)
            indexes = tuple(word_index(key) for key, _written in keywords)
            if subscription.match_all and len(indexes) > 1:
                # Anchored by its longest keyword (likely the rarest): only when that one occurs are
                # the others checked.
                anchor = max(range(len(keywords)), key=lambda item: len(keywords[item][0]))
                all_positions[indexes[anchor]].append(position)
            else:  # "all" of one keyword is "any" of it
                for index in indexes:
                    any_positions[index].append(position)
            for word in sorted({normalize(word) for word in subscription.excluded_words} - {""}):
                excluding_positions[word_index(word)].append(position)
            regions = _region_set(subscription.regions)
            if regions is None:
                open_regions.append(position)
            else:
                for key in regions:
                    region_positions.setdefault(key, []).append(position)
            if subscription.kinds:
                for kind in set(subscription.kinds):
                    kind_positions.setdefault(kind, []).append(position)
            else:
                open_kinds.append(position)
            low, high = subscription.budget_min, subscription.budget_max
            if low is None and high is None:
                unbounded.append(position)
            minimums.append((-1 if low is None else low, position))
            maximums.append((-1 if high is None else high, position))
            matcher._ids.append(subscription.subscription_id)
            written = tuple(written for _key, written in keywords)
            matcher._keywords.append((indexes, written))
            # One keyword: the result is always the same (immutable) object.
            matcher._single.append(MatchResult(subscription.subscription_id, written) if len(written) == 1 else None)
        size = len(matcher._ids)
        matcher._any = [_bits(positions, size) for positions in any_positions]
        matcher._all = [_bits(positions, size) for positions in all_positions]
        matcher._excluding = [_bits(positions, size) for positions in excluding_positions]
        matcher._region_open = _bits(open_regions, size)
        matcher._regions = {key: _bits(positions, size) for key, positions in region_positions.items()}
        matcher._kind_open = _bits(open_kinds, size)
        matcher._kinds = {kind: _bits(positions, size) for kind, positions in kind_positions.items()}
        matcher._unbounded = _bits(unbounded, size)
        # Budget thresholds: _min_bits[i] = subscriptions whose minimum is absent or ≤ _min_values[i-1]
        # (i = 0: absent only); _max_bits[i] = those whose maximum is absent or ≥ _max_values[i].
        no_minimum = _bits((position for low, position in minimums if low < 0), size)
        running = no_minimum
        matcher._min_bits = [running]
        for value, group in _grouped(sorted(item for item in minimums if item[0] >= 0)):
            running |= _bits(group, size)
            matcher._min_values.append(value)
            matcher._min_bits.append(running)
        no_maximum = _bits((position for high, position in maximums if high < 0), size)
        running = no_maximum
        descending: list[tuple[int, int]] = []
        for value, group in _grouped(sorted((item for item in maximums if item[0] >= 0), reverse=True)):
            running |= _bits(group, size)
            descending.append((value, running))
        descending.reverse()
        matcher._max_values = [value for value, _bits_ in descending]
        matcher._max_bits = [bits for _value, bits in descending] + [no_maximum]
        matcher.word_count = len(words)
        if words:
            automaton = ahocorasick.Automaton()
            for word, index in words.items():
                automaton.add_word(word, index)
            automaton.make_automaton()
            matcher._automaton = automaton
        return matcher

    def words_in(self, text: str) -> set[int]:
        """Indexes of the distinct words occurring in a normalised text (one scan)."""
        if self._automaton is None:
            return set()
        return {index for _end, index in self._automaton.iter(text)}

    def _budget_bits(self, budget: int | None) -> int:
        if budget is None:
            return self._unbounded
        low_ok = self._min_bits[bisect_right(self._min_values, budget)]
        high_ok = self._max_bits[bisect_left(self._max_values, budget)]
        return low_ok & high_ok

    def match(self, notice: Notice) -> list[MatchResult]:
        """The subscriptions the notice matches, in subscription id order."""
        found = self.words_in(notice_text(notice))
        if not found:
            return []
        candidates = 0
        every = 0
        excluded = 0
        any_bits, all_bits, excluding_bits = self._any, self._all, self._excluding
        for index in found:
            candidates |= any_bits[index]
            every |= all_bits[index]
            excluded |= excluding_bits[index]
        if every:
            # "All" subscriptions holding at least one of the words: keep those holding all of them.
            keywords = self._keywords
            complete = [position for position in _positions(every) if found.issuperset(keywords[position][0])]
            if complete:
                candidates |= _bits(complete, len(self._ids))
        if not candidates:
            return []
        province, place = _notice_places(notice)
        regions = self._regions
        candidates &= ~excluded
        candidates &= self._region_open | (regions.get(province, 0) if province else 0) | regions.get(place, 0)
        candidates &= self._kind_open | self._kinds.get(notice.kind, 0)
        candidates &= self._budget_bits(notice.budget_amount)
        if not candidates:
            return []
        results = []
        ids, keywords, single, cache = self._ids, self._keywords, self._single, self._results
        contains = found.__contains__
        for position in _positions(candidates):
            result = single[position]
            if result is None:
                indexes, written = keywords[position]
                key = (position, tuple(compress(written, map(contains, indexes))))
                result = cache.get(key)
                if result is None:  # results are immutable: equal ones are shared across notices
                    result = cache[key] = MatchResult(ids[position], key[1])
            results.append(result)
        return results

    def match_many(self, notices: Iterable[Notice]) -> dict[int, list[MatchResult]]:
        """{notice id: its matches} for the notices with at least one match."""
        matched = {}
        for notice in notices:
            results = self.match(notice)
            if results:
                matched[notice.notice_id] = results
        return matched


def _grouped(pairs: Iterable[tuple[int, int]]) -> Iterator[tuple[int, list[int]]]:
    """(value, positions) for runs of equal values in sorted (value, position) pairs."""
    for value, group in groupby(pairs, key=lambda pair: pair[0]):
        yield value, [position for _value, position in group]
