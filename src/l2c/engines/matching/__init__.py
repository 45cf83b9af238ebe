"""Tender notice matching (招投标订阅匹配, ADR 0004): one Aho–Corasick automaton over every keyword and
excluded word of the active subscriptions, each notice scanned once. Pure (no Django, no clock).

Business meaning, shared by the automaton (`Matcher`) and the reference loop (`naive_match`):

- Text: title, buyer and content of the notice, normalised — NFKC (full-width → half-width), lower
  case, runs of white space as one space, control characters removed — and searched as substrings
  (Chinese has no word boundaries: "服务器" also matches inside "服务器集群").
- Keywords: `match_all=False` (any) matches when at least one keyword occurs; `match_all=True` (all)
  when every keyword occurs. A subscription without keywords never matches.
- Excluded words: any occurrence of one rejects the notice for that subscription.
- Regions: "广东" (a province) matches every notice in 广东, whatever its city; "广东/深圳" only
  notices in 深圳, 广东. Names compare without their administrative suffix (省, 市, 自治区 …), so
  "广东省/深圳市" = "广东/深圳". No regions = everywhere. A notice without a province matches only
  subscriptions without regions.
- Budget: `budget_min` ≤ budget ≤ `budget_max` (inclusive, fen); a missing bound is open. A notice
  *without* a budget matches only subscriptions with neither bound: whoever asked for a budget range
  wants notices known to be inside it.
- Kinds: the notice's kind must be one of `kinds`; no kinds = every kind.
"""

from __future__ import annotations

from .tenders import (
    Matcher,
    MatchResult,
    NaiveMatcher,
    Notice,
    Subscription,
    naive_match,
    normalize,
    notice_text,
    region_key,
    split_region,
)

__all__ = [
    "MatchResult", "Matcher", "NaiveMatcher", "Notice", "Subscription", "naive_match", "normalize", "notice_text",
    "region_key", "split_region",
]
