"""Duplicate control (查重) of accounts and contacts: rules, the blocking index and the checks that
every write passes (ADR 0003). The engine (`l2c.engines.dedup`) normalises and scores; this module
reads and writes the database and applies visibility: a caller learns how many invisible records
match, never which.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, Case, Count, ExpressionWrapper, IntegerField, Model, Sum, Value, When
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from l2c.apps.activity.audit import audit_record, diff
from l2c.apps.activity.imports import rows_insert
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines import dedup
from l2c.kernel.errors import DuplicateFound, FieldError, NotFound, PermissionDenied, ValidationFailed

from .models import Account, Contact, DuplicateKey, DuplicateProfile, DuplicateRule

CANDIDATE_LIMIT = 500  # candidate ids read per check: a name matching more is not a useful warning
KEY_LENGTH = 220
NAME_KINDS = frozenset({dedup.KeyKind.CORE, dedup.KeyKind.DELETION, dedup.KeyKind.BRAND_PINYIN,
                        dedup.KeyKind.LATIN_BRAND, dedup.KeyKind.ADDRESS, dedup.KeyKind.GRAM})
LOOKUP_BATCH = 10_000  # keys per query of a batch check (SQLite allows 32,766 parameters)
MODELS: dict[str, type[Model]] = {"account": Account, "contact": Contact}

# Created by migration customers 0006 (and `rules_reset`): key, label, kind, field, threshold, action.
# Object types of higher apps (leads) add theirs through `register_object`, never here: migration
# 0006 reads this table and must not reach models that do not exist yet.
DEFAULT_RULES: dict[str, list[tuple[str, str, str, str, int, str]]] = {
    "account": [
        ("credit_code", "统一社会信用代码相同", "exact", "credit_code", 100, "block"),
        ("phone", "电话相同", "exact", "phone", 100, "warn"),
        ("name_close", "名称高度相似", "fuzzy", "name", 90, "warn"),
        ("name_similar", "名称相似", "fuzzy", "name", 85, "report"),
    ],
    "contact": [
        ("phone", "手机或电话相同", "exact", "phone", 100, "warn"),
        ("email", "邮箱相同", "exact", "email", 100, "warn"),
    ],
}


# --- fingerprints ---------------------------------------------------------------------------------
def account_fingerprint(record_id: int | None, values: Mapping[str, Any]) -> dedup.Fingerprint:
    return dedup.fingerprint(record_id=record_id, name=str(values.get("name") or ""),
                             credit_code=str(values.get("credit_code") or ""),
                             phones=[str(values.get("phone") or "")], address=str(values.get("address") or ""))


def contact_fingerprint(record_id: int | None, values: Mapping[str, Any]) -> dedup.Fingerprint:
    """Contacts are compared by their numbers and address only: a person's name alone identifies nobody."""
    return dedup.fingerprint(record_id=record_id, name="",
                             phones=[str(values.get("mobile") or ""), str(values.get("phone") or "")],
                             emails=[str(values.get("email") or "")])


FINGERPRINTS: dict[str, Callable[[int | None, Mapping[str, Any]], dedup.Fingerprint]] = {
    "account": account_fingerprint, "contact": contact_fingerprint}
# The fields a record is compared by; a change to one of them makes an update re-check and re-key it.
FINGERPRINT_FIELDS: dict[str, tuple[str, ...]] = {
    "account": ("name", "credit_code", "phone", "address"), "contact": ("mobile", "phone", "email")}
# Default rules of object types registered by higher apps.
REGISTERED_RULES: dict[str, list[tuple[str, str, str, str, int, str]]] = {}


def register_object(*, object_type: str, model: type[Model],
                    fingerprint: Callable[[int | None, Mapping[str, Any]], dedup.Fingerprint],
                    fields: tuple[str, ...], default_rules: list[tuple[str, str, str, str, int, str]]) -> None:
    """Put another object type (a lead) under duplicate control: the blocking index, rules and checks
    then serve it like accounts and contacts. Called from the owning app's `AppConfig.ready()`;
    `object_type` must be a `DuplicateObject` value and its model must have a `name` field."""
    MODELS[object_type] = model
    FINGERPRINTS[object_type] = fingerprint
    FINGERPRINT_FIELDS[object_type] = fields
    REGISTERED_RULES[object_type] = default_rules


def _default_rules(object_type: str) -> list[tuple[str, str, str, str, int, str]]:
    return DEFAULT_RULES.get(object_type) or REGISTERED_RULES.get(object_type, [])


# --- rules ----------------------------------------------------------------------------------------
def active_rules(object_type: str) -> tuple[dedup.Rule, ...]:
    """The object type's active rules as engine rules, in their configured order. Read on every check
    (a rule changed in another process applies at once), in plain SQL: building the ORM query cost
    more than running it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, kind, field, action, threshold FROM {DuplicateRule._meta.db_table} "  # noqa: S608
                       "WHERE object_type = %s AND is_active = %s ORDER BY position, id", [object_type, True])
        return _rules(tuple(cursor.fetchall()))


@functools.lru_cache(maxsize=64)
def _rules(rows: tuple[tuple[str, str, str, str, int], ...]) -> tuple[dedup.Rule, ...]:
    return tuple(dedup.Rule(key=key, kind=dedup.RuleKind(kind), field=dedup.RuleField(rule_field),
                            action=dedup.RuleAction(action), threshold=threshold)
                 for key, kind, rule_field, action, threshold in rows)


RULE_FIELDS = ("label", "kind", "field", "threshold", "action", "is_active", "position")


@transaction.atomic
def duplicate_rule_save(*, actor: User, data: Mapping[str, Any], rule_id: int | None = None) -> DuplicateRule:
    """Create (`rule_id` None) or change a duplicate rule; administrators only; audited."""
    if not access.is_admin(actor):
        raise PermissionDenied(_("只有管理员可以修改查重规则。"))
    if rule_id is None:
        rule = DuplicateRule(object_type=str(data.get("object_type") or ""), key=str(data.get("key") or ""))
        before: dict[str, Any] = {}
    else:
        found = DuplicateRule.objects.filter(pk=rule_id).first()
        if found is None:
            raise NotFound(_("没有 ID 为 %(id)s 的查重规则。") % {"id": rule_id})
        rule = found
        before = {name: getattr(rule, name) for name in RULE_FIELDS}
    for name in RULE_FIELDS:
        if name in data and data[name] is not None:
            setattr(rule, name, data[name])
    try:
        rule.full_clean()
    except DjangoValidationError as error:
        raise ValidationFailed(_("查重规则无效。"), errors=[
            FieldError(name, str(message), "invalid") for name, messages in error.message_dict.items()
            for message in messages]) from None
    rule.save()
    after = {name: getattr(rule, name) for name in RULE_FIELDS}
    audit_record(object_type="duplicate_rule", object_id=rule.pk, action=AuditEvent.Kind.CREATE if not before
                 else AuditEvent.Kind.UPDATE, actor_id=actor.pk, object_repr=rule.label, changes=diff(before, after))
    return rule


def rules_ensure_defaults() -> None:
    """Give every object type that has no duplicate rule at all the default rules."""
    present = set(DuplicateRule.objects.values_list("object_type", flat=True).distinct())
    for object_type in [*DEFAULT_RULES, *REGISTERED_RULES]:
        if object_type not in present:
            rules_reset(object_type)


def rules_reset(object_type: str) -> None:
    """Replace the object type's rules by the defaults."""
    DuplicateRule.objects.filter(object_type=object_type).delete()
    DuplicateRule.objects.bulk_create(
        DuplicateRule(object_type=object_type, key=key, label=label, kind=kind, field=rule_field,
                      threshold=threshold, action=action, position=position)
        for position, (key, label, kind, rule_field, threshold, action) in enumerate(_default_rules(object_type)))


# --- the blocking index ---------------------------------------------------------------------------
def _stored(kind: str, value: str) -> str:
    return f"{kind}:{value}"[:KEY_LENGTH]


PROFILE_COLUMNS = ["object_type", "record_id", "name_full", "name_core", "name_brand", "name_pinyin", "brand_pinyin",
                   "credit_code", "phones", "emails", "address"]


def _profile_row(object_type: str, fp: dedup.Fingerprint) -> tuple[Any, ...]:
    name = fp.name
    return (object_type, fp.record_id, name.full[:200], name.core[:200], name.brand[:200], name.pinyin,
            name.brand_pinyin, fp.credit_code[:30], " ".join(fp.phones)[:200], " ".join(fp.emails)[:600],
            fp.address[:300])


def _from_profile(profile: Mapping[str, Any]) -> dedup.Fingerprint:
    name = dedup.NameKey(full=profile["name_full"], core=profile["name_core"], brand=profile["name_brand"],
                         pinyin=profile["name_pinyin"], brand_pinyin=profile["brand_pinyin"])
    return dedup.Fingerprint(record_id=profile["record_id"], name=name, credit_code=profile["credit_code"],
                             phones=tuple(profile["phones"].split()), emails=tuple(profile["emails"].split()),
                             address=profile["address"])


def keys_write(object_type: str, fingerprints: Sequence[dedup.Fingerprint], *, replace: bool = True) -> None:
    """Store the blocking keys and normalised profile of these records (replacing what they had
    unless `replace` is off, for records that have nothing yet). Set-based: one delete and one bulk
    insert per table and call."""
    stored = [fp for fp in fingerprints if fp.record_id is not None]
    if replace and stored:
        keys_delete(object_type, [fp.record_id for fp in stored if fp.record_id is not None])
    rows = ((object_type, _stored(kind, value), fp.record_id)
            for fp in stored for kind, value in dedup.blocking_keys(fp))
    rows_insert(DuplicateKey, ["object_type", "key", "record_id"], rows)
    rows_insert(DuplicateProfile, PROFILE_COLUMNS, (_profile_row(object_type, fp) for fp in stored))


def keys_delete(object_type: str, record_ids: Iterable[int]) -> None:
    """Remove the keys and profiles of these records: their keys are recomputed from the stored
    profiles, so the delete runs on the key index (there is no index by record)."""
    ids = list(record_ids)
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        profiles = DuplicateProfile.objects.filter(object_type=object_type, record_id__in=chunk)
        keys = {_stored(kind, value) for profile in profiles.values(*PROFILE_COLUMNS)
                for kind, value in dedup.blocking_keys(_from_profile(profile))}
        if keys:
            DuplicateKey.objects.filter(object_type=object_type, key__in=keys, record_id__in=chunk).delete()
        profiles.delete()


def keys_rebuild(object_type: str, *, record_ids: Sequence[int] | None = None, chunk: int = 5000) -> int:
    """Recompute the keys of every record of the type (or of `record_ids`), in chunks; returns the
    number of records keyed. For backfills, bulk loads and a change of NORMALIZATION_VERSION."""
    model = MODELS[object_type]
    make = FINGERPRINTS[object_type]
    fields = FINGERPRINT_FIELDS[object_type]
    queryset = model._default_manager.order_by("pk")
    if record_ids is not None:
        queryset = queryset.filter(pk__in=record_ids)
    done, last = 0, 0
    while True:
        rows = list(queryset.filter(pk__gt=last).values("pk", *fields)[:chunk])
        if not rows:
            return done
        keys_write(object_type, [make(row["pk"], row) for row in rows])
        done += len(rows)
        last = rows[-1]["pk"]


# --- checks ---------------------------------------------------------------------------------------
SHOWN_LIMIT = 50  # matches named per check (name, visibility, reasons); the others are only counted


@dataclass(frozen=True)
class Candidate:
    match: dedup.Match
    name: str
    visible: bool


@dataclass(frozen=True)
class DuplicateCheck:
    """The result of checking one record: the strongest SHOWN_LIMIT matches of the active rules as
    named candidates (strongest first: action, score, id), and counts over every match, named or not.
    A match the actor may not see is counted in `hidden_count`, never named outside `candidates`
    (whose `visible` flag the callers honour)."""

    object_type: str
    candidates: list[Candidate] = field(default_factory=list)
    match_count: int = 0  # every match, named or not
    hidden_count: int = 0  # matches the actor may not see, named or not
    actions: frozenset[dedup.RuleAction] = frozenset()  # the rule actions of every match
    unnamed_ids: tuple[int, ...] = ()  # matches beyond the named ones (for the pool look-up)

    @property
    def visible(self) -> list[Candidate]:
        return [candidate for candidate in self.candidates if candidate.visible]

    @property
    def blocks(self) -> bool:
        return dedup.RuleAction.BLOCK in self.actions

    @property
    def warns(self) -> bool:
        return dedup.RuleAction.WARN in self.actions


def _name_threshold(rules: Sequence[dedup.Rule]) -> int | None:
    """The lowest threshold of the fuzzy name rules (None without any): how far candidates reach."""
    thresholds = [rule.threshold for rule in rules
                  if rule.kind == dedup.RuleKind.FUZZY and rule.field == dedup.RuleField.NAME]
    return min(thresholds) if thresholds else None


def _own_core_key(probe: dedup.Fingerprint) -> str | None:
    """The stored `core:` key of the probe's own core name, when it is stored whole: a record found
    through it has exactly the probe's core, so its name scores 100 without reading its profile."""
    if not probe.name.core:
        return None
    key = f"{dedup.KeyKind.CORE}:{probe.name.core}"
    return key if len(key) < KEY_LENGTH else None


# Candidates of one probe: record id → True when the record shares the probe's core name.
Found = dict[int, bool]


def _candidate_ids(object_type: str, probe: dedup.Fingerprint, rules: Sequence[dedup.Rule]) -> Found:
    threshold = _name_threshold(rules)
    kinds = dedup.key_kinds(rules)
    keys = [_stored(kind, value) for kind, value in dedup.probe_keys(probe, threshold) if kind in kinds]
    own_core = _own_core_key(probe)
    found: Found = {}
    for key, record_id in _key_rows(object_type, keys, limit=CANDIDATE_LIMIT):
        found[record_id] = found.get(record_id, False) or key == own_core
    if threshold is not None and len(probe.name.core) >= dedup.match.LONG_CORE:
        shared = dedup.min_shared_grams(probe.name, threshold)
        grams = [_stored(dedup.KeyKind.GRAM, gram) for gram in dedup.name_grams(probe.name)]
        for record_id in (DuplicateKey.objects.filter(object_type=object_type, key__in=grams)
                          .values("record_id").annotate(shared=Count("id")).filter(shared__gte=shared)
                          .values_list("record_id", flat=True)[:CANDIDATE_LIMIT]):
            found.setdefault(record_id, False)
    found.pop(probe.record_id, None)  # type: ignore[arg-type]
    return found


# The profile columns a name is compared by (`name_score` reads the full name only to see it equal
# the probe's, the pinyin only across scripts), and those of the other rule fields.
def _key_rows(object_type: str, keys: Sequence[str], *, limit: int | None = None) -> list[tuple[str, int]]:
    """(key, record id) of the stored keys among `keys` (at most `limit` rows), in plain SQL: one
    covering-index look-up per key, cheaper than building the ORM query of a long IN list."""
    if not keys:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, record_id FROM {DuplicateKey._meta.db_table} "  # noqa: S608
                       f"WHERE object_type = %s AND key IN ({', '.join(['%s'] * len(keys))})"
                       + ("" if limit is None else f" LIMIT {int(limit)}"), [object_type, *keys])
        rows: list[tuple[str, int]] = cursor.fetchall()
    return rows


NAME_COLUMNS = ("name_core", "name_full", "name_pinyin", "brand_pinyin")
FIELD_COLUMNS = {dedup.RuleField.CREDIT_CODE: ("credit_code",), dedup.RuleField.PHONE: ("phones",),
                 dedup.RuleField.EMAIL: ("emails",), dedup.RuleField.ADDRESS: ("address",)}


def _compared_columns(probe: dedup.Fingerprint, rules: Sequence[dedup.Rule]) -> tuple[set[str], bool]:
    """The profile columns other than the name that `rules` compare with `probe`, and whether they
    compare names. A rule whose field the probe leaves empty matches nothing (an empty key is never
    shared, an empty name or address scores 0), so its column is not read."""
    probe_values = {dedup.RuleField.CREDIT_CODE: probe.credit_code, dedup.RuleField.PHONE: probe.phones,
                    dedup.RuleField.EMAIL: probe.emails, dedup.RuleField.ADDRESS: probe.address}
    columns = {column for rule in rules if rule.field != dedup.RuleField.NAME and probe_values[rule.field]
               for column in FIELD_COLUMNS[rule.field]}
    names = bool(probe.name.core) and any(rule.field == dedup.RuleField.NAME for rule in rules)
    return columns, names


def _profile_rows(object_type: str, record_ids: Iterable[int], columns: Sequence[str]) -> dict[int, tuple[Any, ...]]:
    """The `columns` of the stored profiles of these records: one query per 2,000, in plain SQL (the
    ORM's cost of a 2,000-value IN list is that of the query itself)."""
    ids = sorted(record_ids)
    select = ", ".join(["record_id", *columns])  # names from NAME_COLUMNS / FIELD_COLUMNS only
    table = DuplicateProfile._meta.db_table
    rows: dict[int, tuple[Any, ...]] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 2000):
            chunk = ids[start:start + 2000]
            cursor.execute(f"SELECT {select} FROM {table} WHERE object_type = %s "  # noqa: S608
                           f"AND record_id IN ({', '.join(['%s'] * len(chunk))})", [object_type, *chunk])
            for row in cursor.fetchall():
                rows[row[0]] = row[1:]
    return rows


def _fingerprint(record_id: int, values: Mapping[str, Any]) -> dedup.Fingerprint:
    """A fingerprint from some profile columns; a column not read stays empty."""
    core = values.get("name_core", "")
    name = dedup.NameKey(full=values.get("name_full", ""), core=core, brand=core,
                         pinyin=values.get("name_pinyin", ""), brand_pinyin=values.get("brand_pinyin", ""))
    return dedup.Fingerprint(record_id=record_id, name=name, credit_code=values.get("credit_code", ""),
                             phones=tuple(values.get("phones", "").split()),
                             emails=tuple(values.get("emails", "").split()), address=values.get("address", ""))


# A ranked match before the record is named: (−action order, −score, record id, the group's match).
Ranked = tuple[int, int, int, dedup.Match]


def _comparable(probe: dedup.NameKey, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A profile row (NAME_COLUMNS first) reduced to what the probe's name is compared by: the full
    name only when it equals the probe's, the pinyin only across scripts. Candidates with equal
    comparable rows get equal matches."""
    core, full, pinyin, brand_pinyin, *other = values
    if core.isascii() == probe.core.isascii():
        pinyin = brand_pinyin = ""
    return (core, full if full == probe.full else "", pinyin, brand_pinyin, *other)


def _ranked(probe: dedup.Fingerprint, found: Found, columns: Sequence[str], profiles: Mapping[int, tuple[Any, ...]],
            rules: Sequence[dedup.Rule]) -> list[Ranked]:
    """Every candidate some rule matches, strongest first (action, score, id). Candidates with equal
    comparable values get equal matches, so each distinct set is scored once (a core name recurs in
    hundreds of records), and the names of all sets in one vectorised call. A candidate sharing the
    probe's core and not read from its profile is compared by that core alone: nothing else the
    rules compare with this probe was needed."""
    names_read = tuple(columns[:len(NAME_COLUMNS)]) == NAME_COLUMNS
    shared_core = (probe.name.core,) + ("",) * (len(columns) - 1) if columns else ()
    groups: dict[tuple[Any, ...], list[int]] = {}
    for record_id, same_core in found.items():
        values = profiles.get(record_id)
        if values is None:
            if not same_core:
                continue  # no profile: the record is gone
            values = shared_core
        elif names_read:
            values = _comparable(probe.name, values)
        groups.setdefault(values, []).append(record_id)
    fingerprints = [_fingerprint(record_ids[0], dict(zip(columns, values, strict=True)))
                    for values, record_ids in groups.items()]
    scores: list[int | None] = [None] * len(fingerprints)
    if names_read:
        scores = list(dedup.name_scores(probe.name, [fp.name for fp in fingerprints]))
    ranked: list[Ranked] = []
    for fingerprint, score, record_ids in zip(fingerprints, scores, groups.values(), strict=True):
        match = dedup.best_match(probe, fingerprint, rules, score)
        if match is not None:
            order = -dedup.match.ACTION_ORDER[match.rule.action]
            ranked.extend((order, -match.score, record_id, match) for record_id in record_ids)
    ranked.sort(key=lambda item: item[:3])
    return ranked


def _checks(actor: User, object_type: str, probes: Sequence[dedup.Fingerprint], candidates: Mapping[int, Found],
            rules: Sequence[dedup.Rule]) -> list[DuplicateCheck]:
    """Score each probe's candidates (by probe index) from the profile columns its rules can compare,
    name the strongest SHOWN_LIMIT of each and count the others by visibility: a constant number of
    queries per 2,000 records."""
    columns: list[str] = []
    wanted: set[int] = set()
    for index, found in candidates.items():
        other, names = _compared_columns(probes[index], rules)
        if other:  # every candidate's profile is read
            wanted.update(found)
        elif names:  # only those of another core name
            wanted.update(record_id for record_id, same_core in found.items() if not same_core)
        columns.extend(column for column in (*(NAME_COLUMNS if names else ()), *sorted(other)) if column not in columns)
    if set(NAME_COLUMNS) <= set(columns):  # names first, as _comparable and the shared-core stand-in expect
        columns = [*NAME_COLUMNS, *(column for column in columns if column not in NAME_COLUMNS)]
    profiles = _profile_rows(object_type, wanted, columns) if wanted else {}
    ranked = {index: _ranked(probes[index], found, columns, profiles, rules) for index, found in candidates.items()}
    rows = _names_and_visibility(actor, object_type,
                                 sorted({item[2] for matches in ranked.values() for item in matches[:SHOWN_LIMIT]}))
    counts = _counted(actor, object_type, {index: [item[2] for item in matches[SHOWN_LIMIT:]]
                                           for index, matches in ranked.items() if len(matches) > SHOWN_LIMIT})
    checks = []
    for index in range(len(probes)):
        matched = ranked.get(index, [])
        shown = [Candidate(replace(match, record_id=record_id), *rows[record_id])
                 for _order, _score, record_id, match in matched[:SHOWN_LIMIT] if record_id in rows]
        rest = matched[SHOWN_LIMIT:]
        existing, hidden = counts.get(index, (0, 0))
        # A record's keys are deleted with it (same transaction), so the counted matches' actions
        # are those of existing records.
        actions = {candidate.match.rule.action for candidate in shown} | {item[3].rule.action for item in rest}
        checks.append(DuplicateCheck(
            object_type, shown, match_count=len(shown) + existing,
            hidden_count=sum(1 for candidate in shown if not candidate.visible) + hidden,
            actions=frozenset(actions), unnamed_ids=tuple(item[2] for item in rest)))
    return checks


def duplicates_find(*, actor: User, object_type: str, values: Mapping[str, Any],
                    record_id: int | None = None) -> DuplicateCheck:
    """Check a record (being created, or `record_id` being edited) against the stored ones."""
    rules = active_rules(object_type)
    if not rules:
        return DuplicateCheck(object_type)
    probe = FINGERPRINTS[object_type](record_id, values)
    found = _candidate_ids(object_type, probe, rules)
    return _checks(actor, object_type, [probe], {0: found} if found else {}, rules)[0]


def duplicates_find_many(*, actor: User, object_type: str, records: Sequence[Mapping[str, Any]],
                         blocking_only: bool = False) -> list[DuplicateCheck]:
    """`duplicates_find` for many records being created (an import chunk), set-based: one key query
    per LOOKUP_BATCH keys, one profile and one visibility query per 2,000 records.
    Candidates come from the exact and deletion-neighbourhood keys (not the grams of long names)."""
    rules = active_rules(object_type)
    if blocking_only:
        rules = tuple(rule for rule in rules if rule.action == dedup.RuleAction.BLOCK)
    if not rules or not records:
        return [DuplicateCheck(object_type) for _ in records]
    kinds = dedup.key_kinds(rules)
    if not kinds & NAME_KINDS:  # e.g. the commit's credit-code rule: no name normalisation needed
        records = [{**values, "name": ""} for values in records]
    probes = [FINGERPRINTS[object_type](None, values) for values in records]
    threshold = _name_threshold(rules)
    wanted: dict[str, list[int]] = {}
    own_core: dict[int, str | None] = {}
    for index, probe in enumerate(probes):
        own_core[index] = _own_core_key(probe)
        for kind, value in dedup.probe_keys(probe, threshold):
            if kind in kinds:
                wanted.setdefault(_stored(kind, value), []).append(index)
    candidates: dict[int, Found] = {}
    keys = list(wanted)
    for start in range(0, len(keys), LOOKUP_BATCH):
        chunk = keys[start:start + LOOKUP_BATCH]
        for key, record_id in _key_rows(object_type, chunk):
            for index in wanted[key]:
                found = candidates.setdefault(index, {})
                found[record_id] = found.get(record_id, False) or key == own_core[index]
    return _checks(actor, object_type, probes, candidates, rules)


def _visible_column(actor: User, object_type: str) -> ExpressionWrapper[Any]:
    """"The actor may see the record" as a column: the choke point's filter."""
    condition = access.record_filter(actor, object_type, "view")
    visible = Value(True) if condition is None else Case(When(condition, then=Value(True)), default=Value(False))
    return ExpressionWrapper(visible, output_field=BooleanField())


def _names(object_type: str, ids: Sequence[int]) -> dict[int, str]:
    """The name of each record (that still exists), for an actor who may see every record: in plain
    SQL, as there is no visibility filter to compile (one query per 2,000 records)."""
    model = MODELS[object_type]
    table, pk = model._meta.db_table, model._meta.pk.column
    name = model._meta.get_field("name").column  # type: ignore[union-attr]
    names: dict[int, str] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 2000):
            chunk = ids[start:start + 2000]
            cursor.execute(f"SELECT {pk}, {name} FROM {table} "  # noqa: S608 (names from the model)
                           f"WHERE {pk} IN ({', '.join(['%s'] * len(chunk))})", chunk)
            names.update(cursor.fetchall())
    return names


def _existing(object_type: str, ids: Sequence[int]) -> int:
    """How many of these records still exist (plain SQL, one query per 2,000)."""
    model = MODELS[object_type]
    table, pk = model._meta.db_table, model._meta.pk.column
    count = 0
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 2000):
            chunk = ids[start:start + 2000]
            cursor.execute(f"SELECT COUNT(*) FROM {table} "  # noqa: S608 (names from the model)
                           f"WHERE {pk} IN ({', '.join(['%s'] * len(chunk))})", chunk)
            count += cursor.fetchone()[0]
    return count


def _names_and_visibility(actor: User, object_type: str, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
    """Name and "the actor may see it" of each record (that still exists)."""
    if not ids:
        return {}
    if access.record_filter(actor, object_type, "view") is None:
        return {pk: (name, True) for pk, name in _names(object_type, ids).items()}
    column = _visible_column(actor, object_type)
    rows: dict[int, tuple[str, bool]] = {}
    for start in range(0, len(ids), 2000):
        for pk, name, visible in (MODELS[object_type]._default_manager.filter(pk__in=ids[start:start + 2000])
                                  .annotate(visible=column).values_list("pk", "name", "visible")):
            rows[pk] = (name, bool(visible))
    return rows


def _counted(actor: User, object_type: str, ids_by_probe: Mapping[int, Sequence[int]]) -> dict[int, tuple[int, int]]:
    """By probe: how many of these records still exist and how many of those the actor may not see.
    One probe: one aggregate query (per 2,000 records); several: their visibility flags, one query
    per 2,000 records of all of them."""
    if not ids_by_probe:
        return {}
    manager = MODELS[object_type]._default_manager
    if len(ids_by_probe) == 1:
        [(index, ids)] = ids_by_probe.items()
        condition = access.record_filter(actor, object_type, "view")
        if condition is None:  # every record visible: count those that still exist
            return {index: (_existing(object_type, ids), 0)}
        hidden_column = Case(When(condition, then=Value(0)), default=Value(1))
        existing = hidden = 0
        for start in range(0, len(ids), 2000):
            counts = manager.filter(pk__in=ids[start:start + 2000]).aggregate(
                existing=Count("pk"), hidden=Sum(hidden_column, output_field=IntegerField()))
            existing += counts["existing"]
            hidden += counts["hidden"] or 0
        return {index: (existing, hidden)}
    column = _visible_column(actor, object_type)
    everyone = sorted({record_id for ids in ids_by_probe.values() for record_id in ids})
    visible: dict[int, bool] = {}
    for start in range(0, len(everyone), 2000):
        visible.update(manager.filter(pk__in=everyone[start:start + 2000]).annotate(visible=column)
                       .values_list("pk", "visible"))
    return {index: (sum(1 for record_id in ids if record_id in visible),
                    sum(1 for record_id in ids if record_id in visible and not visible[record_id]))
            for index, ids in ids_by_probe.items()}


def import_verdicts(*, actor: User, object_type: str, rows: Sequence[Mapping[str, Any]], row_numbers: Sequence[int],
                    blocking_only: bool = False) -> dict[int, tuple[list[FieldError], list[FieldError]]]:
    """Duplicate control of an import chunk's valid rows: a *block* match rejects the row (an
    error), warn and report matches keep it with a warning naming the visible candidates and
    counting the others."""
    verdicts: dict[int, tuple[list[FieldError], list[FieldError]]] = {}
    checks = duplicates_find_many(actor=actor, object_type=object_type, records=rows, blocking_only=blocking_only)
    for index, (check, number) in enumerate(zip(checks, row_numbers, strict=True)):
        if not check.candidates:
            continue
        strongest = check.candidates[0].match
        named = "、".join(f"{candidate.name}（{reason_message(candidate.match.reasons[0])}）"
                         for candidate in check.visible[:3])
        values = {"named": named, "hidden": check.hidden_count}
        if check.blocks:
            if check.hidden_count and named:
                text = _("与已有记录重复，不能导入：%(named)s；另有 %(hidden)s 条你无权查看") % values
            elif check.hidden_count:
                text = _("与 %(hidden)s 条你无权查看的记录重复，不能导入") % values
            else:
                text = _("与已有记录重复，不能导入：%(named)s") % values
        elif check.hidden_count and named:
            text = _("可能与已有记录重复：%(named)s；另有 %(hidden)s 条你无权查看") % values
        elif check.hidden_count:
            text = _("可能与 %(hidden)s 条你无权查看的记录重复") % values
        else:
            text = _("可能与已有记录重复：%(named)s") % values
        field_name = str(strongest.rule.field)
        if check.blocks:
            verdicts[index] = ([FieldError(field_name, text, "duplicate", number)], [])
        else:
            verdicts[index] = ([], [FieldError(field_name, text, "possible_duplicate", number)])
    return verdicts


REASON_MESSAGES = {  # translated when shown
    "credit_code_equal": gettext_noop("统一社会信用代码相同：%(value)s"),
    "phone_equal": gettext_noop("电话相同：%(value)s"),
    "email_equal": gettext_noop("邮箱相同：%(value)s"),
    "name_equal": gettext_noop("名称相同：%(value)s"),
    "name_similar": gettext_noop("名称相似度 %(score)s（%(probe)s ～ %(candidate)s）"),
    "address_equal": gettext_noop("地址相同：%(value)s"),
    "address_similar": gettext_noop("地址相似度 %(score)s"),
}


def reason_message(reason: dedup.Reason) -> str:
    values = dict(reason.values)
    template = REASON_MESSAGES.get(reason.code)
    return _(template) % values if template else reason.code


def candidate_dict(candidate: Candidate, object_type: str) -> dict[str, Any]:
    """A visible candidate as the API and the UI show it."""
    match = candidate.match
    return {
        "object": object_type, "id": match.record_id, "name": candidate.name, "score": match.score,
        "rule": match.rule.key, "action": str(match.rule.action),
        "reasons": [{"code": reason.code, "values": dict(reason.values), "message": reason_message(reason)}
                    for reason in match.reasons],
    }


def duplicates_guard(*, actor: User, object_type: str, values: Mapping[str, Any], record_id: int | None = None,
                     confirmed: bool = False) -> DuplicateCheck:
    """The check every create and edit passes: a *block* match (visible or not) refuses the write; a
    *warn* match refuses it until the caller confirms; *report* matches pass."""
    check = duplicates_find(actor=actor, object_type=object_type, values=values, record_id=record_id)
    if check.blocks or (check.warns and not confirmed):
        visible = [candidate_dict(candidate, object_type) for candidate in check.visible]
        count, hidden = check.match_count, check.hidden_count
        if check.blocks and hidden:
            detail = ngettext("已有 %(count)s 条记录与它重复（其中 %(hidden)s 条你无权查看），不能保存。",
                              "已有 %(count)s 条记录与它重复（其中 %(hidden)s 条你无权查看），不能保存。", count)
        elif check.blocks:
            detail = ngettext("已有 %(count)s 条记录与它重复，不能保存。",
                              "已有 %(count)s 条记录与它重复，不能保存。", count)
        elif hidden:
            detail = ngettext(
                "可能与 %(count)s 条已有记录重复（其中 %(hidden)s 条你无权查看）；确认后仍可保存。",
                "可能与 %(count)s 条已有记录重复（其中 %(hidden)s 条你无权查看）；确认后仍可保存。", count)
        else:
            detail = ngettext("可能与 %(count)s 条已有记录重复；确认后仍可保存。",
                              "可能与 %(count)s 条已有记录重复；确认后仍可保存。", count)
        raise DuplicateFound(detail % {"count": count, "hidden": hidden},
                             blocking=check.blocks, duplicates=visible, hidden_duplicates=check.hidden_count,
                             claimable_duplicates=_claimable(actor, object_type, check))
    return check


def _claimable(actor: User, object_type: str, check: DuplicateCheck) -> list[dict[str, object]]:
    """Hidden account candidates lying in a pool the actor is a member of: the actor may browse and
    claim them anyway, so naming them prevents a duplicate instead of leaking one (撞单)."""
    hidden = [candidate.match.record_id for candidate in check.candidates if not candidate.visible]
    if object_type != "account" or not check.hidden_count:
        return []
    from .pool import member_pools

    pooled = MODELS["account"]._default_manager.filter(owner__isnull=True, pool__in=member_pools(actor))
    if check.unnamed_ids:  # hidden ones among the counted matches too
        pooled = pooled.filter(pk__in=[*hidden, *check.unnamed_ids]).annotate(
            visible=_visible_column(actor, object_type)).filter(visible=False)
    else:
        pooled = pooled.filter(pk__in=hidden)
    rows = pooled.values("pk", "name", "pool_id", "pool__name").order_by("pk")
    return [{"id": row["pk"], "name": row["name"], "pool_id": row["pool_id"], "pool": row["pool__name"]}
            for row in rows]


EXACT_KINDS = frozenset({dedup.KeyKind.CREDIT_CODE, dedup.KeyKind.PHONE, dedup.KeyKind.EMAIL})


def exact_keys(object_type: str, values: Mapping[str, Any]) -> list[str]:
    """The stored form of the record's exact keys (credit code, phones, e-mails)."""
    probe = FINGERPRINTS[object_type](None, values)
    return sorted({_stored(kind, value) for kind, value in dedup.blocking_keys(probe) if kind in EXACT_KINDS})


def exact_key_rows(object_type: str, keys: Sequence[str]) -> list[tuple[str, int]]:
    """(key, record id) of every stored record holding one of the exact keys, whoever may see it:
    for system paths (a public registration, an import) that must find the same person before
    creating another record. Never shown to a user as such."""
    rows: list[tuple[str, int]] = []
    for start in range(0, len(keys), LOOKUP_BATCH):
        rows.extend(_key_rows(object_type, keys[start:start + LOOKUP_BATCH]))
    return rows


def record_ids_by_exact_keys(object_type: str, keys: Sequence[str]) -> list[int]:
    """Every stored record holding one of the exact keys (see exact_key_rows)."""
    return sorted({record_id for _key, record_id in exact_key_rows(object_type, keys)})


def record_keys_write(object_type: str, record_id: int, values: Mapping[str, Any]) -> None:
    """Re-key one record after its create or edit (same transaction)."""
    keys_write(object_type, [FINGERPRINTS[object_type](record_id, values)])


def touches_checked_fields(object_type: str, changed: Iterable[str]) -> bool:
    return bool(set(changed) & set(FINGERPRINT_FIELDS[object_type]))
