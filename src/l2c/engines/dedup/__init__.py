"""Duplicate control engine: normalisation of names, phones and e-mails; rules, scores and the keys
of the blocking index. Pure (no Django, no I/O beyond static reference data)."""

from .match import (
    Fingerprint,
    KeyKind,
    Match,
    Reason,
    Rule,
    RuleAction,
    RuleField,
    RuleKind,
    best_match,
    blocking_keys,
    deletions,
    fingerprint,
    key_kinds,
    min_shared_grams,
    name_grams,
    name_score,
    name_scores,
    probe_keys,
    rank,
)
from .normalize import NORMALIZATION_VERSION, NameKey, company_name, email, phone, simplified

__all__ = [
    "NORMALIZATION_VERSION", "Fingerprint", "KeyKind", "Match", "NameKey", "Reason", "Rule", "RuleAction",
    "RuleField", "RuleKind", "best_match", "blocking_keys", "company_name", "deletions", "email",
    "fingerprint", "key_kinds", "min_shared_grams", "name_grams", "name_score", "name_scores", "phone", "probe_keys",
    "rank",
    "simplified",
]
