"""Duplicate control (查重) of accounts and contacts: rules, the blocking index and the checks that
every write passes (ADR 0003). The engine (`l2c.engines.dedup`) normalises and scores; this module
reads and writes the database and applies visibility: a caller learns how many invisible records
match, never which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import BooleanField, Case, Count, ExpressionWrapper, Model, Value, When
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
    """The object type's active rules as engine rules, in their configured order."""
    rules = DuplicateRule.objects.filter(object_type=object_type, is_active=True).order_by("position", "id")
    return tuple(dedup.Rule(key=rule.key, kind=dedup.RuleKind(rule.kind), field=dedup.RuleField(rule.field),
                            action=dedup.RuleAction(rule.action), threshold=rule.threshold) for rule in rules)


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
@dataclass(frozen=True)
class Candidate:
    match: dedup.Match
    name: str
    visible: bool


@dataclass(frozen=True)
class DuplicateCheck:
    """The result of checking one record: every candidate some active rule matched, strongest first."""

    object_type: str
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def visible(self) -> list[Candidate]:
        return [candidate for candidate in self.candidates if candidate.visible]

    @property
    def hidden_count(self) -> int:
        return sum(1 for candidate in self.candidates if not candidate.visible)

    def _with(self, action: dedup.RuleAction) -> bool:
        return any(candidate.match.rule.action == action for candidate in self.candidates)

    @property
    def blocks(self) -> bool:
        return self._with(dedup.RuleAction.BLOCK)

    @property
    def warns(self) -> bool:
        return self._with(dedup.RuleAction.WARN)


def _name_threshold(rules: Sequence[dedup.Rule]) -> int | None:
    """The lowest threshold of the fuzzy name rules (None without any): how far candidates reach."""
    thresholds = [rule.threshold for rule in rules
                  if rule.kind == dedup.RuleKind.FUZZY and rule.field == dedup.RuleField.NAME]
    return min(thresholds) if thresholds else None


def _candidate_ids(object_type: str, probe: dedup.Fingerprint, rules: Sequence[dedup.Rule]) -> set[int]:
    threshold = _name_threshold(rules)
    kinds = dedup.key_kinds(rules)
    keys = [_stored(kind, value) for kind, value in dedup.probe_keys(probe, threshold) if kind in kinds]
    ids = set(DuplicateKey.objects.filter(object_type=object_type, key__in=keys)
              .values_list("record_id", flat=True)[:CANDIDATE_LIMIT])
    if threshold is not None and len(probe.name.core) >= dedup.match.LONG_CORE:
        shared = dedup.min_shared_grams(probe.name, threshold)
        grams = [_stored(dedup.KeyKind.GRAM, gram) for gram in dedup.name_grams(probe.name)]
        ids.update(DuplicateKey.objects.filter(object_type=object_type, key__in=grams)
                   .values("record_id").annotate(shared=Count("id")).filter(shared__gte=shared)
                   .values_list("record_id", flat=True)[:CANDIDATE_LIMIT])
    ids.discard(probe.record_id)  # type: ignore[arg-type]
    return ids


def _checks(actor: User, object_type: str, probes: Sequence[dedup.Fingerprint], candidates: Mapping[int, set[int]],
            rules: Sequence[dedup.Rule]) -> list[DuplicateCheck]:
    """Score each probe's candidates (by probe index) from their stored profiles and split the
    matches by visibility: one profile and one visibility query per 2,000 records."""
    ids = sorted(set().union(*candidates.values())) if candidates else []
    profiles: dict[int, dedup.Fingerprint] = {}
    for start in range(0, len(ids), 2000):
        for profile in DuplicateProfile.objects.filter(object_type=object_type,
                                                       record_id__in=ids[start:start + 2000]).values(*PROFILE_COLUMNS):
            profiles[profile["record_id"]] = _from_profile(profile)
    matches = {index: dedup.rank(probes[index], (profiles[pk] for pk in found if pk in profiles), rules)
               for index, found in candidates.items()}
    rows = _names_and_visibility(actor, object_type, sorted({match.record_id for found in matches.values()
                                                             for match in found}))
    return [DuplicateCheck(object_type, [Candidate(match, rows[match.record_id][0], rows[match.record_id][1])
                                         for match in matches.get(index, []) if match.record_id in rows])
            for index in range(len(probes))]


def duplicates_find(*, actor: User, object_type: str, values: Mapping[str, Any],
                    record_id: int | None = None) -> DuplicateCheck:
    """Check a record (being created, or `record_id` being edited) against the stored ones."""
    rules = active_rules(object_type)
    if not rules:
        return DuplicateCheck(object_type)
    probe = FINGERPRINTS[object_type](record_id, values)
    ids = _candidate_ids(object_type, probe, rules)
    return _checks(actor, object_type, [probe], {0: ids} if ids else {}, rules)[0]


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
    for index, probe in enumerate(probes):
        for kind, value in dedup.probe_keys(probe, threshold):
            if kind in kinds:
                wanted.setdefault(_stored(kind, value), []).append(index)
    candidates: dict[int, set[int]] = {}
    keys = list(wanted)
    for start in range(0, len(keys), LOOKUP_BATCH):
        chunk = keys[start:start + LOOKUP_BATCH]
        for key, record_id in (DuplicateKey.objects.filter(object_type=object_type, key__in=chunk)
                               .values_list("key", "record_id")):
            for index in wanted[key]:
                candidates.setdefault(index, set()).add(record_id)
    return _checks(actor, object_type, probes, candidates, rules)


def _names_and_visibility(actor: User, object_type: str, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
    """Name and "the actor may see it" of each record, the choke point's filter as a column."""
    if not ids:
        return {}
    condition = access.record_filter(actor, object_type, "view")
    visible_column = Value(True) if condition is None else Case(When(condition, then=Value(True)), default=Value(False))
    rows: dict[int, tuple[str, bool]] = {}
    for start in range(0, len(ids), 2000):
        for pk, name, visible in (MODELS[object_type]._default_manager.filter(pk__in=ids[start:start + 2000])
                                  .annotate(visible=ExpressionWrapper(visible_column, output_field=BooleanField()))
                                  .values_list("pk", "name", "visible")):
            rows[pk] = (name, bool(visible))
    return rows


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
        count, hidden = len(check.candidates), check.hidden_count
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
    if object_type != "account" or not hidden:
        return []
    from .pool import member_pools

    rows = (MODELS["account"]._default_manager.filter(pk__in=hidden, owner__isnull=True,
                                                     pool__in=member_pools(actor))
            .values("pk", "name", "pool_id", "pool__name").order_by("pk"))
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
        rows.extend(DuplicateKey.objects.filter(object_type=object_type, key__in=keys[start:start + LOOKUP_BATCH])
                    .values_list("key", "record_id"))
    return rows


def record_ids_by_exact_keys(object_type: str, keys: Sequence[str]) -> list[int]:
    """Every stored record holding one of the exact keys (see exact_key_rows)."""
    return sorted({record_id for _key, record_id in exact_key_rows(object_type, keys)})


def record_keys_write(object_type: str, record_id: int, values: Mapping[str, Any]) -> None:
    """Re-key one record after its create or edit (same transaction)."""
    keys_write(object_type, [FINGERPRINTS[object_type](record_id, values)])


def touches_checked_fields(object_type: str, changed: Iterable[str]) -> bool:
    return bool(set(changed) & set(FINGERPRINT_FIELDS[object_type]))
