"""Duplicate rules, scoring and blocking keys. Pure: records come in as `Fingerprint`s.

A rule is data: exact rules compare one normalised key (credit code, phone, e-mail, core name);
fuzzy rules score name or address similarity 0–100 and fire at or above a threshold. Each rule
carries an action (block / warn / report) that the services apply. `best_match` explains itself
with reasons that carry codes and values, so the UI can word them in either language.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import process
from rapidfuzz.distance import Indel

from .normalize import NameKey, company_name, email, phone
from .normalize import address as normalize_address

MIN_GRAM_NAME_LENGTH = 2


class RuleKind(StrEnum):
    EXACT = "exact"
    FUZZY = "fuzzy"


class RuleAction(StrEnum):
    BLOCK = "block"  # the write is refused
    WARN = "warn"  # the user sees the candidates and confirms
    REPORT = "report"  # recorded for the review queue only


class RuleField(StrEnum):
    CREDIT_CODE = "credit_code"
    PHONE = "phone"
    EMAIL = "email"
    NAME = "name"
    ADDRESS = "address"


EXACT_FIELDS = frozenset({RuleField.CREDIT_CODE, RuleField.PHONE, RuleField.EMAIL, RuleField.NAME})
FUZZY_FIELDS = frozenset({RuleField.NAME, RuleField.ADDRESS})
ACTION_ORDER = {RuleAction.BLOCK: 3, RuleAction.WARN: 2, RuleAction.REPORT: 1}


@dataclass(frozen=True)
class Rule:
    """One duplicate rule. `threshold` (0–100) is used by fuzzy rules only."""

    key: str
    kind: RuleKind
    field: RuleField
    action: RuleAction
    threshold: int = 100

    def __post_init__(self) -> None:
        allowed = EXACT_FIELDS if self.kind == RuleKind.EXACT else FUZZY_FIELDS
        if self.field not in allowed:
            raise ValueError(f"a {self.kind} rule cannot compare {self.field}")
        if not 1 <= self.threshold <= 100:
            raise ValueError("threshold must be 1..100")


@dataclass(frozen=True)
class Fingerprint:
    """The comparable form of one record (or of a record being entered, `record_id` None)."""

    record_id: int | None
    name: NameKey
    credit_code: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    address: str = ""


@dataclass(frozen=True)
class Reason:
    """Why a rule fired: `code` names the comparison, `values` its inputs and score."""

    code: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Match:
    record_id: int
    score: int
    rule: Rule
    reasons: tuple[Reason, ...]


def fingerprint(*, record_id: int | None, name: str, credit_code: str = "", phones: Iterable[str] = (),
                emails: Iterable[str] = (), address: str = "") -> Fingerprint:
    """Normalise a record's raw values into a `Fingerprint` (empty keys are left out)."""
    return Fingerprint(
        record_id=record_id,
        name=company_name(name),
        credit_code="".join((credit_code or "").split()).upper(),
        phones=tuple(dict.fromkeys(key for key in (phone(value) for value in phones) if key)),
        emails=tuple(dict.fromkeys(key for key in (email(value) for value in emails) if key)),
        address=_address(address),
    )


def _address(text: str) -> str:
    return normalize_address(text) if text else ""


def _is_latin(key: NameKey) -> bool:
    return key.core.isascii()


def name_score(a: NameKey, b: NameKey) -> int:
    """Similarity 0–100 of two company names: identical full names 100; same script, the Indel
    ratio of the cores; a Chinese and a Latin name, 60 % the ratio of their brands' pinyin and 40 %
    that of the cores' (星河智能科技 vs "Xinghe Technology Co., Ltd." → 85)."""
    if not a.core or not b.core:
        return 0
    if a.full == b.full or a.core == b.core:
        return 100
    if _is_latin(a) == _is_latin(b):
        return round(Indel.normalized_similarity(a.core, b.core) * 100)
    brand = Indel.normalized_similarity(a.brand_pinyin, b.brand_pinyin)
    core = Indel.normalized_similarity(a.pinyin, b.pinyin)
    return round((0.6 * brand + 0.4 * core) * 100)


def name_scores(probe: NameKey, names: Sequence[NameKey]) -> list[int]:
    """`name_score(probe, name)` of each name, the same-script core ratios in one rapidfuzz `cdist`
    call (a check scores hundreds of candidates' names)."""
    scores = [0] * len(names)
    if not probe.core:
        return scores
    latin = _is_latin(probe)
    same_script: list[int] = []
    for index, name in enumerate(names):
        if not name.core:
            continue
        if probe.full == name.full or probe.core == name.core:
            scores[index] = 100
        elif _is_latin(name) == latin:
            same_script.append(index)
        else:
            scores[index] = name_score(probe, name)
    if same_script:
        ratios = process.cdist([probe.core], [names[index].core for index in same_script],
                               scorer=Indel.normalized_similarity)[0]
        for index, ratio in zip(same_script, ratios.tolist(), strict=True):
            scores[index] = round(ratio * 100)
    return scores


def address_score(a: str, b: str) -> int:
    if not a or not b:
        return 0
    return round(Indel.normalized_similarity(a, b) * 100)


def _value(values: tuple[str, ...] | str) -> tuple[str, ...]:
    return values if isinstance(values, tuple) else ((values,) if values else ())


def rule_match(probe: Fingerprint, candidate: Fingerprint, rule: Rule,
               known_name_score: int | None = None) -> tuple[int, Reason] | None:
    """The score and reason with which `rule` finds `candidate` a duplicate of `probe`, or None
    (`known_name_score`: their `name_score`, when already computed)."""
    if rule.kind == RuleKind.EXACT:
        if rule.field == RuleField.NAME:
            left, right = _value(probe.name.core), _value(candidate.name.core)
        else:
            attribute = {RuleField.CREDIT_CODE: "credit_code", RuleField.PHONE: "phones",
                         RuleField.EMAIL: "emails"}[rule.field]
            left, right = _value(getattr(probe, attribute)), _value(getattr(candidate, attribute))
        shared = sorted(set(left) & set(right))
        if not shared:
            return None
        return 100, Reason(f"{rule.field}_equal", (("value", shared[0]),))
    if rule.field == RuleField.NAME:
        score = name_score(probe.name, candidate.name) if known_name_score is None else known_name_score
        reason = Reason("name_similar", (("score", str(score)), ("probe", probe.name.core),
                                         ("candidate", candidate.name.core)))
    else:
        score = address_score(probe.address, candidate.address)
        reason = Reason("address_similar", (("score", str(score)), ("probe", probe.address),
                                            ("candidate", candidate.address)))
    return (score, reason) if score >= rule.threshold else None


def best_match(probe: Fingerprint, candidate: Fingerprint, rules: Sequence[Rule],
               known_name_score: int | None = None) -> Match | None:
    """The strongest rule that finds `candidate` a duplicate of `probe` (strongest action first,
    then highest score), with the reasons of every rule that fired (`known_name_score`: their
    `name_score`, when already computed, e.g. by `name_scores`)."""
    if candidate.record_id is None or candidate.record_id == probe.record_id:
        return None
    fired: list[tuple[int, int, Rule, Reason]] = []
    for rule in rules:
        found = rule_match(probe, candidate, rule, known_name_score)
        if found is not None:
            fired.append((ACTION_ORDER[rule.action], found[0], rule, found[1]))
    if not fired:
        return None
    fired.sort(key=lambda item: (-item[0], -item[1], item[2].key))
    _, score, rule, _ = fired[0]
    reasons = tuple(dict.fromkeys(item[3] for item in fired))  # two name rules give one reason
    return Match(record_id=candidate.record_id, score=score, rule=rule, reasons=reasons)


def rank(probe: Fingerprint, candidates: Iterable[Fingerprint], rules: Sequence[Rule]) -> list[Match]:
    """Every candidate that some rule finds a duplicate, strongest first (action, score, id)."""
    matches = [match for candidate in candidates if (match := best_match(probe, candidate, rules)) is not None]
    matches.sort(key=lambda match: (-ACTION_ORDER[match.rule.action], -match.score, match.record_id))
    return matches


# --- blocking -----------------------------------------------------------------------------------------
# Candidates of a fuzzy name check come from deletion neighbourhoods (SymSpell): every record stores
# its core name with each single character left out; two cores one insertion, deletion or
# substitution apart then share a stored string, found with equality look-ups however common their
# characters are. That covers every pair at a similarity ≥ 90 up to 19 characters together; longer
# names are also stored by their grams, of which such pairs share many.
LONG_CORE = 9  # cores at least this long are also stored by grams
MAX_DELETION_CORE = 40  # longer cores store no deletions (their grams find them)


class KeyKind(StrEnum):
    CREDIT_CODE = "credit"
    PHONE = "phone"
    EMAIL = "email"
    CORE = "core"  # the whole core name
    DELETION = "del"  # the core name with one character left out
    GRAM = "gram"  # a bigram (Chinese) or trigram (Latin) of a long core name
    # Where Chinese and Latin spellings meet: a Chinese record stores its brand's pinyin, a Latin one
    # its brand; each script looks up the other's, so 1,000 records of one Chinese brand never come
    # back as candidates of a Chinese probe.
    BRAND_PINYIN = "brandpy"
    LATIN_BRAND = "latin"
    ADDRESS = "addr"


def name_grams(key: NameKey) -> tuple[str, ...]:
    """The grams of a core name: character pairs of a Chinese core (星河智能 → 星河 河智 智能),
    letter triples of a Latin one."""
    core = key.core
    size = 3 if _is_latin(key) else 2
    if len(core) < MIN_GRAM_NAME_LENGTH:
        return ()
    if len(core) <= size:
        return (core,)
    return tuple(dict.fromkeys(core[index:index + size] for index in range(len(core) - size + 1)))


def deletions(core: str) -> tuple[str, ...]:
    """The core with each single character left out (星河智能 → 河智能 星智能 星河能 星河智), for cores of
    3 to MAX_DELETION_CORE characters."""
    if not 3 <= len(core) <= MAX_DELETION_CORE:
        return ()
    return tuple(dict.fromkeys(core[:index] + core[index + 1:] for index in range(len(core))))


def blocking_keys(record: Fingerprint) -> set[tuple[str, str]]:
    """The (kind, value) keys under which a record is stored in the blocking index."""
    keys: set[tuple[str, str]] = set()
    if record.credit_code:
        keys.add((KeyKind.CREDIT_CODE, record.credit_code))
    keys.update((KeyKind.PHONE, value) for value in record.phones)
    keys.update((KeyKind.EMAIL, value) for value in record.emails)
    core = record.name.core
    if core:
        keys.add((KeyKind.CORE, core))
        keys.update((KeyKind.DELETION, variant) for variant in deletions(core))
        if len(core) >= LONG_CORE:
            keys.update((KeyKind.GRAM, gram) for gram in name_grams(record.name))
        if len(record.name.brand_pinyin) >= 4:
            kind = KeyKind.LATIN_BRAND if _is_latin(record.name) else KeyKind.BRAND_PINYIN
            keys.add((kind, record.name.brand_pinyin))
    if record.address:
        keys.add((KeyKind.ADDRESS, record.address))
    return keys


def probe_keys(probe: Fingerprint, name_threshold: int | None = None) -> set[tuple[str, str]]:
    """The stored keys that lead to `probe`'s candidates: its exact keys and core name; the other
    script's brand key; and, for fuzzy name rules down to `name_threshold`, the deletion-neighbourhood
    keys of the edits that can still reach it — a core one character shorter (stored core = a
    deletion of the probe's) scores 2(n−1)/(2n−1), one longer (a stored deletion = the probe's core)
    2n/(2n+1), one substitution apart (a shared deletion) (n−1)/n. Edits that cannot reach the
    threshold are not looked up, so short names do not drag in every name sharing three characters.
    Grams are looked up separately (`name_grams`, `min_shared_grams`)."""
    keys = {key for key in blocking_keys(probe)
            if key[0] not in (KeyKind.DELETION, KeyKind.GRAM, KeyKind.BRAND_PINYIN, KeyKind.LATIN_BRAND)}
    core = probe.name.core
    if len(probe.name.brand_pinyin) >= 4:
        other_script = KeyKind.BRAND_PINYIN if _is_latin(probe.name) else KeyKind.LATIN_BRAND
        keys.add((other_script, probe.name.brand_pinyin))
    if not core or name_threshold is None:
        return keys
    length = len(core)

    def reaches(similarity: float) -> bool:  # as name_score rounds it
        return round(similarity * 100) >= name_threshold

    shorter = deletions(core)
    if shorter and reaches(2 * (length - 1) / (2 * length - 1)):
        keys.update((KeyKind.CORE, value) for value in shorter)
    if reaches(2 * length / (2 * length + 1)):
        keys.add((KeyKind.DELETION, core))
    if shorter and reaches((length - 1) / length):
        keys.update((KeyKind.DELETION, value) for value in shorter)
    return keys


def key_kinds(rules: Sequence[Rule]) -> frozenset[str]:
    """The key kinds whose candidates some of `rules` can match: a rule on credit codes needs only
    credit-code keys, so its checks do not pull in every record of a similar name."""
    kinds: set[str] = set()
    for rule in rules:
        if rule.field == RuleField.CREDIT_CODE:
            kinds.add(KeyKind.CREDIT_CODE)
        elif rule.field == RuleField.PHONE:
            kinds.add(KeyKind.PHONE)
        elif rule.field == RuleField.EMAIL:
            kinds.add(KeyKind.EMAIL)
        elif rule.field == RuleField.ADDRESS:
            kinds.update((KeyKind.ADDRESS, KeyKind.CORE, KeyKind.DELETION))  # fuzzy addresses: via names
        elif rule.kind == RuleKind.EXACT:
            kinds.add(KeyKind.CORE)
        else:
            kinds.update((KeyKind.CORE, KeyKind.DELETION, KeyKind.BRAND_PINYIN, KeyKind.LATIN_BRAND))
    return frozenset(kinds)


def min_shared_grams(probe: NameKey, threshold: int) -> int:
    """A lower bound on the grams that any name scoring ≥ `threshold` against `probe` (same script)
    shares with it, from the q-gram lemma: an insertion breaks at most one of the probe's grams and
    a deletion at most q, and the Indel distance of such a pair is at most 2(1 − t)·|a| / t."""
    grams = name_grams(probe)
    if not grams:
        return 0
    size = 3 if _is_latin(probe) else 2
    ratio = threshold / 100
    edits = math.floor(2 * (1 - ratio) * len(probe.core) / ratio + 1e-9)
    return max(1, len(grams) - size * edits)
