"""Batch duplicate detection over the whole base (ADR 0003): candidate pairs set-based from the
blocking index, scored in chunks from the stored profiles, grouped (union–find) into the review
queue (`DuplicateGroup` / `DuplicateCandidate`), and the review actions on a group.

Pairs come from one ordered read of the blocking index inside the object type (no temporary table):
two records meet when they share a key of a kind some active rule compares. A core name is joined
as its own deletion, so a record meets those one character longer (their deletion equals its core)
as well as those one substitution away (a shared deletion); a Chinese brand's pinyin meets the Latin
brand of the same spelling, never another Chinese record of the same brand. Keys held by more than
`KEY_CAP` records are skipped: a phone shared by 500 branches or a two-character core name says
nothing about any one pair. Grams of long names are not joined (their deletions still are), so a
long-name pair two edits apart is not found by the batch job.

A run replaces the object type's OPEN groups; merged and dismissed groups stay. A dismissed group
is remembered by its members: a later run drops every pair of records that were dismissed
together, so the same group never comes back unchanged; a new record matching one of them forms a
new group (which then contains the dismissed members only through that new record).
"""

from __future__ import annotations

import json
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.imports import rows_insert
from l2c.apps.activity.jobs import job_enqueue, job_log, job_progress
from l2c.apps.activity.models import AuditEvent, JobRun
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines import dedup
from l2c.kernel.errors import Conflict, NotFound, PermissionDenied
from l2c.kernel.gcpause import gc_paused

from . import duplicates
from .models import DuplicateCandidate, DuplicateGroup, DuplicateGroupStatus, DuplicateKey

JOB_NAME = "customers.duplicates_batch"
KEY_CAP = 50  # keys held by more records than this make no pairs
SCORE_CHUNK = 20_000  # pairs scored per chunk (one profile query per 2,000 of their records)
PRELOAD_LIMIT = 2_000_000  # records whose profiles are read at once (about 1 KB each)
# Kinds that are joined, and how: a stored core name meets deletions; brand keys of the two scripts
# meet each other (side 1 and 2), never their own script.
JOINED_KINDS = (dedup.KeyKind.CREDIT_CODE, dedup.KeyKind.PHONE, dedup.KeyKind.EMAIL, dedup.KeyKind.CORE,
                dedup.KeyKind.DELETION, dedup.KeyKind.BRAND_PINYIN, dedup.KeyKind.LATIN_BRAND,
                dedup.KeyKind.ADDRESS)


@dataclass(frozen=True)
class BatchResult:
    pairs: int
    scored_pairs: int
    matched_pairs: int
    groups: int
    records: int
    dismissed_pairs_skipped: int
    region_pairs_skipped: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # by phase: pairs, scoring, writing


# --- candidate pairs --------------------------------------------------------------------------------
def _joined_kinds(rules: Sequence[dedup.Rule]) -> list[str]:
    kinds = dedup.key_kinds(rules)
    return [str(kind) for kind in JOINED_KINDS if kind in kinds]


def candidate_pairs(object_type: str, rules: Sequence[dedup.Rule], *, key_cap: int = KEY_CAP) -> tuple[array[int],
                                                                                                       array[int]]:
    """Distinct (low id, high id) record pairs sharing a joinable key, ordered; two parallel arrays
    (16 bytes a pair) so 10 million pairs fit in 160 MB.

    The blocking index is read once, kind by kind, in its own key order (a range scan of the
    (object_type, key, record_id) index: no temporary table, no sort), and each run of equal keys
    is a group. A core name joins the group of the equal deletion (`core:X` with `del:X`), so the
    cores are held in memory (one entry per distinct core) while the deletions stream past; a
    group counts the records of both, and makes no pairs above `key_cap`. Brand keys pair across
    scripts only (a Latin brand with the Chinese brands of the same pinyin)."""
    kinds = set(_joined_kinds(rules))
    pairs: set[int] = set()  # low << 64 | high: one int a pair, unambiguous for 64-bit ids

    def add(members: Sequence[int]) -> None:
        ordered = sorted(members)
        for index, low in enumerate(ordered):
            for high in ordered[index + 1:]:
                if low != high:
                    pairs.add(low << 64 | high)

    with connection.cursor() as cursor:
        cores: dict[str, list[int]] = {}
        if dedup.KeyKind.CORE in kinds:
            for value, members in _key_groups(cursor, object_type, dedup.KeyKind.CORE):
                cores[value] = members
        if dedup.KeyKind.DELETION in kinds or cores:
            streamed = _key_groups(cursor, object_type, dedup.KeyKind.DELETION) \
                if dedup.KeyKind.DELETION in kinds else iter(())
            for value, members in streamed:
                same_core = cores.pop(value, None)
                group = members + same_core if same_core else members
                if 2 <= len(group) <= key_cap:
                    add(group)
            for members in cores.values():  # cores that are nobody's deletion
                if 2 <= len(members) <= key_cap:
                    add(members)
        del cores
        for kind in (dedup.KeyKind.CREDIT_CODE, dedup.KeyKind.PHONE, dedup.KeyKind.EMAIL, dedup.KeyKind.ADDRESS):
            if kind in kinds:
                for _value, members in _key_groups(cursor, object_type, kind):
                    if 2 <= len(members) <= key_cap:
                        add(members)
        if dedup.KeyKind.LATIN_BRAND in kinds and dedup.KeyKind.BRAND_PINYIN in kinds:
            latin = dict(_key_groups(cursor, object_type, dedup.KeyKind.LATIN_BRAND))
            for value, chinese in _key_groups(cursor, object_type, dedup.KeyKind.BRAND_PINYIN):
                latin_members = latin.get(value)
                if latin_members and len(latin_members) + len(chinese) <= key_cap:
                    for first in latin_members:
                        for second in chinese:
                            if first != second:
                                pairs.add(min(first, second) << 64 | max(first, second))
    mask = (1 << 64) - 1
    ordered = sorted(pairs)
    pairs.clear()
    return array("q", (pair >> 64 for pair in ordered)), array("q", (pair & mask for pair in ordered))


def _key_groups(cursor: Any, object_type: str, kind: str) -> Iterator[tuple[str, list[int]]]:
    """(value, record ids) of each stored key of one kind, in key order: one range scan of the
    blocking index (`kind:` up to `kind;`, the next character), fetched in batches."""
    prefix = f"{kind}:"
    if connection.vendor == "sqlite":  # byte order: a range of the index
        within, parameters = "key >= %s AND key < %s", [prefix, f"{kind};"]
    else:  # a locale's collation may not order punctuation by code point; kinds hold no % or _
        within, parameters = "key LIKE %s", [f"{prefix}%"]
    # Equal keys come out together whatever the collation, which is all the grouping needs.
    cursor.execute(f"SELECT key, record_id FROM {DuplicateKey._meta.db_table} "  # noqa: S608 (names from the model)
                   f"WHERE object_type = %s AND {within} ORDER BY key, record_id", [object_type, *parameters])
    start = len(prefix)
    current: str | None = None
    members: list[int] = []
    while rows := cursor.fetchmany(20_000):
        for key, record_id in rows:
            if key != current:
                if current is not None:
                    yield current[start:], members
                current, members = key, [record_id]
            else:
                members.append(record_id)
    if current is not None:
        yield current[start:], members


# --- scoring and grouping ---------------------------------------------------------------------------
def _profiles(object_type: str, ids: Sequence[int]) -> dict[int, dedup.Fingerprint]:
    """The stored profiles of these records as fingerprints (plain SQL, one query per 2,000 ids)."""
    columns = [column for column in duplicates.PROFILE_COLUMNS if column not in ("object_type", "record_id")]
    return {record_id: duplicates._from_profile(dict(zip(columns, values, strict=True)) | {"record_id": record_id})
            for record_id, values in duplicates._profile_rows(object_type, ids, columns).items()}


# Fields locating a record: a name-only match below 100 between records of two different cities is
# not a pair (trade names are registered per region, so 上海瑞创货运 and 广州创嘉货运 are two firms).
REGION_FIELDS: dict[str, tuple[str, ...]] = {"account": ("city",)}
NAME_ONLY_REASONS = frozenset({"name_similar"})


def _regions(object_type: str, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    fields = REGION_FIELDS.get(object_type)
    if not fields:
        return {}
    found: dict[int, tuple[str, ...]] = {}
    model = duplicates.MODELS[object_type]
    for start in range(0, len(ids), 2000):
        for row in model._default_manager.filter(pk__in=ids[start:start + 2000]).values_list("pk", *fields):
            found[row[0]] = tuple(str(value or "").strip() for value in row[1:])
    return found


def _apart(match: dedup.Match, first: tuple[str, ...] | None, second: tuple[str, ...] | None) -> bool:
    """A name-only, not identical match between records of two known, different regions."""
    if match.score >= 100 or not first or not second:
        return False
    if any(reason.code not in NAME_ONLY_REASONS for reason in match.reasons):
        return False
    return any(a and b and a != b for a, b in zip(first, second, strict=True))


def scored_pairs(object_type: str, left: Sequence[int], right: Sequence[int], rules: Sequence[dedup.Rule],
                 *, chunk: int = SCORE_CHUNK, progress: Any = None,
                 apart: list[int] | None = None) -> Iterator[tuple[int, int, dedup.Match]]:
    """The pairs some rule matches, with the match (scored from the stored profiles), in chunks.
    Name-only matches between records of different regions are left out (counted in `apart`).
    Up to PRELOAD_LIMIT records, the profiles of every record in a pair are read once in id order
    (a near-sequential scan); beyond, per chunk (bounded memory, random reads)."""
    everyone = sorted(set(left) | set(right))
    preloaded = len(everyone) <= PRELOAD_LIMIT
    if preloaded:
        profiles = _profiles(object_type, everyone)
        regions = _regions(object_type, everyone)
    del everyone
    for start in range(0, len(left), chunk):
        lows, highs = left[start:start + chunk], right[start:start + chunk]
        if not preloaded:
            ids = sorted(set(lows) | set(highs))
            profiles = _profiles(object_type, ids)
            regions = _regions(object_type, ids)
        for low, high in zip(lows, highs, strict=True):
            first, second = profiles.get(low), profiles.get(high)
            if first is None or second is None:
                continue
            match = dedup.best_match(first, second, rules)
            if match is None:
                continue
            if _apart(match, regions.get(low), regions.get(high)):
                if apart is not None:
                    apart[0] += 1
                continue
            yield low, high, match
        if progress is not None:
            progress(min(start + chunk, len(left)))


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        root = item
        while parent != root:
            root = parent
            parent = self.parent[root]
        while self.parent[item] != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, first: int, second: int) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            if a < b:
                self.parent[b] = a
            else:
                self.parent[a] = b


@dataclass
class _Member:
    score: int
    match: dedup.Match


def _dismissed_together(object_type: str) -> dict[int, set[int]]:
    """record id → ids of the dismissed groups it belongs to."""
    memberships: dict[int, set[int]] = {}
    for group_id, record_id in (DuplicateCandidate.objects
                                .filter(group__object_type=object_type, group__status=DuplicateGroupStatus.DISMISSED)
                                .values_list("group_id", "record_id")):
        memberships.setdefault(record_id, set()).add(group_id)
    return memberships


def duplicates_batch_run(*, object_type: str = "account", run: JobRun | None = None,
                         key_cap: int = KEY_CAP) -> BatchResult:
    """Find every duplicate group of the object type and replace its open review groups."""
    rules = duplicates.active_rules(object_type)

    def log(line: str) -> None:
        if run is not None:
            job_log(run.pk, line)

    # The cyclic collector is paused while the pairs and the groups are found: the job builds a
    # million acyclic lists and profiles that all live to its end, and each full collection would
    # rescan them all (its cost grows with the base, so the job would grow faster than its data).
    with gc_paused():
        return _batch_run(object_type, rules, run, log, key_cap)


def _batch_run(object_type: str, rules: Sequence[dedup.Rule], run: JobRun | None, log: Callable[[str], None],
               key_cap: int) -> BatchResult:
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    left, right = candidate_pairs(object_type, rules, key_cap=key_cap)
    seconds["pairs"] = round(time.perf_counter() - started, 2)
    log(f"{len(left)} candidate pairs from the blocking index (keys held by more than {key_cap} records skipped) "
        f"in {seconds['pairs']} s")
    if run is not None:
        job_progress(run.pk, 0, len(left))
    dismissed = _dismissed_together(object_type)
    union = _UnionFind()
    best: dict[int, _Member] = {}
    matched = skipped = 0
    apart = [0]

    def progress(done: int) -> None:
        if run is not None:
            job_progress(run.pk, done)

    started = time.perf_counter()
    for low, high, match in scored_pairs(object_type, left, right, rules, progress=progress, apart=apart):
        if dismissed and dismissed.get(low, set()) & dismissed.get(high, set()):
            skipped += 1
            continue
        matched += 1
        union.union(low, high)
        for record_id, other in ((low, high), (high, low)):
            member = best.get(record_id)
            if member is None or match.score > member.score:
                best[record_id] = _Member(match.score, dedup.Match(other, match.score, match.rule, match.reasons))
    components: dict[int, list[int]] = {}
    for record_id in best:
        components.setdefault(union.find(record_id), []).append(record_id)
    groups = [sorted(members) for members in components.values() if len(members) >= 2]
    seconds["scoring"] = round(time.perf_counter() - started, 2)
    log(f"{matched} pairs matched a rule ({skipped} pairs dismissed before and {apart[0]} name-only pairs of "
        f"different cities skipped); {len(groups)} groups in {seconds['scoring']} s")
    started = time.perf_counter()
    with transaction.atomic():
        DuplicateCandidate.objects.filter(group__object_type=object_type,
                                          group__status=DuplicateGroupStatus.OPEN).delete()
        DuplicateGroup.objects.filter(object_type=object_type, status=DuplicateGroupStatus.OPEN).delete()
        _groups_write(object_type, groups, best, run.pk if run is not None else None)
    seconds["writing"] = round(time.perf_counter() - started, 2)
    result = BatchResult(pairs=len(left), scored_pairs=len(left), matched_pairs=matched, groups=len(groups),
                         records=sum(len(members) for members in groups), dismissed_pairs_skipped=skipped,
                         region_pairs_skipped=apart[0], seconds=seconds)
    log(f"wrote {result.groups} open groups with {result.records} records in {seconds['writing']} s")
    return result


def _groups_write(object_type: str, groups: Sequence[list[int]], best: dict[int, _Member],
                  job_run_id: int | None) -> None:
    """Insert the open groups and their members set-based (multi-row INSERT / COPY, no model
    instances). The groups' ids are read back in insertion order: the job is the only writer of open
    groups of its object type (one run at a time, see duplicates_batch_start) and emptied them in
    this transaction; should another writer have slipped in, the counts differ and nothing is kept."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    heads = []
    for members in groups:
        strongest = max((best[record_id] for record_id in members), key=lambda member: member.score)
        heads.append((object_type, DuplicateGroupStatus.OPEN.value, strongest.score, strongest.match.rule.key,
                      len(members), job_run_id, now))
    rows_insert(DuplicateGroup, ["object_type", "status", "score", "rule", "size", "job_run_id", "created_at"], heads)
    ids = list(DuplicateGroup.objects.filter(object_type=object_type, status=DuplicateGroupStatus.OPEN)
               .order_by("pk").values_list("pk", flat=True))
    if len(ids) != len(groups):
        raise Conflict(_("另一个批量查重任务同时写入了疑似重复组，本次结果未保存。"))
    rows_insert(DuplicateCandidate, ["group_id", "record_id", "score", "reasons"], (
        (group_id, record_id, best[record_id].score, json.dumps(_reasons(best[record_id].match), ensure_ascii=False))
        for group_id, members in zip(ids, groups, strict=True) for record_id in members))


def _reasons(match: dedup.Match) -> list[dict[str, Any]]:
    """The reasons of a member's strongest pair, naming the other record of that pair."""
    return [{"code": reason.code, "values": dict(reason.values), "with": match.record_id, "rule": match.rule.key}
            for reason in match.reasons]


# --- starting the job -------------------------------------------------------------------------------
def may_run_batch(user: User) -> bool:
    """Administrators and managers (who may delete accounts, i.e. merge them) start the job."""
    return access.is_admin(user) or access.can(user, "account", "delete")


def duplicates_batch_start(*, actor: User | None, object_type: str = "account") -> JobRun:
    """Queue a batch run now (on demand). One at a time per object type: 409 while one is queued or running."""
    from .dedup_tasks import duplicates_batch

    if actor is not None and not may_run_batch(actor):
        raise PermissionDenied(_("只有管理员和销售经理可以运行批量查重。"))
    active = JobRun.objects.filter(name=JOB_NAME, arguments__object_type=object_type,
                                   status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING]).order_by("-pk").first()
    if active is not None:
        raise Conflict(_("批量查重任务 %(id)s 正在排队或运行，请等它结束。") % {"id": active.pk})
    # The check above races with a concurrent start; the unique key (one on-demand run per type and
    # minute) settles it in the database.
    run = job_enqueue(task=duplicates_batch, name=JOB_NAME, arguments={"object_type": object_type}, actor=actor,
                      unique_key=f"{JOB_NAME}:{object_type}:on-demand:{timezone.now():%Y%m%d%H%M}")
    if run is None:
        raise Conflict(_("批量查重任务刚刚已经开始，请等它结束。"))
    return run


# --- the review queue -------------------------------------------------------------------------------
def groups_visible(*, user: User, object_type: str = "account",
                   status: str = DuplicateGroupStatus.OPEN) -> Any:
    """Groups of which the user may see at least two records, annotated with `visible_count`;
    strongest first. One query."""
    condition = access.record_filter(user, object_type, "view")
    queryset = DuplicateGroup.objects.filter(object_type=object_type, status=status)
    if condition is None:
        return queryset.annotate(visible_count=Count("candidates")).order_by("-score", "id")
    visible_ids = duplicates.MODELS[object_type]._default_manager.filter(condition).values("pk")
    return (queryset.annotate(visible_count=Count("candidates", filter=Q(candidates__record_id__in=visible_ids)))
            .filter(visible_count__gte=2).order_by("-score", "id"))


@dataclass(frozen=True)
class GroupRecord:
    record_id: int
    name: str
    score: int
    reasons: list[dict[str, Any]]


@dataclass(frozen=True)
class GroupView:
    group: DuplicateGroup
    records: list[GroupRecord]  # the visible ones
    hidden_count: int


def groups_view(*, user: User, groups: Sequence[DuplicateGroup]) -> list[GroupView]:
    """The visible members (names, scores, reasons) of a page of groups: two queries for any page."""
    if not groups:
        return []
    object_type = groups[0].object_type
    candidates = list(DuplicateCandidate.objects.filter(group__in=[group.pk for group in groups])
                      .order_by("-score", "record_id").values("group_id", "record_id", "score", "reasons"))
    names = duplicates._names_and_visibility(user, object_type, sorted({row["record_id"] for row in candidates}))
    by_group: dict[int, list[dict[str, Any]]] = {}
    for row in candidates:
        by_group.setdefault(row["group_id"], []).append(row)
    views = []
    for group in groups:
        rows = by_group.get(group.pk, [])
        seen = {pk for pk, (_name, visible) in names.items() if visible}
        # A reason names the other record of its pair (and quotes its name): only when that one is
        # visible too, else the hidden record would leak through its visible partner.
        visible = [GroupRecord(row["record_id"], names[row["record_id"]][0], row["score"],
                               [reason for reason in row["reasons"] if reason.get("with") in seen])
                   for row in rows if row["record_id"] in seen]
        # Records deleted since the run are neither shown nor counted as hidden.
        hidden = sum(1 for row in rows if row["record_id"] in names and row["record_id"] not in seen)
        views.append(GroupView(group, visible, hidden))
    return views


def group_get(*, user: User, group_id: int) -> GroupView:
    """One group the user may see (two visible records at least), else 404."""
    group = DuplicateGroup.objects.filter(pk=group_id).first()
    if group is None or not groups_visible(user=user, object_type=group.object_type, status=group.status) \
            .filter(pk=group.pk).exists():
        raise NotFound(_("没有 ID 为 %(id)s 的疑似重复组。") % {"id": group_id})
    return groups_view(user=user, groups=[group])[0]


def reason_text(reason: dict[str, Any]) -> str:
    template = duplicates.REASON_MESSAGES.get(str(reason.get("code")))
    values = reason.get("values") or {}
    try:
        return _(template) % values if template else str(reason.get("code"))
    except (KeyError, TypeError, ValueError):
        return str(reason.get("code"))


@transaction.atomic
def duplicate_group_dismiss(*, actor: User, group_id: int) -> DuplicateGroup:
    """Mark an open group "not duplicates": it leaves the queue and the batch job no longer pairs
    its members with each other. The actor must see every record of the group and may edit records."""
    view = group_get(user=actor, group_id=group_id)
    group = view.group
    if group.status != DuplicateGroupStatus.OPEN:
        raise Conflict(_("这个疑似重复组已处理（%(status)s）。") % {"status": group.get_status_display()})
    if view.hidden_count:
        raise PermissionDenied(_("这个组里有 %(count)s 条你无权查看的记录，不能由你判定为不重复。")
                               % {"count": view.hidden_count})
    if not access.can(actor, group.object_type, "edit"):
        raise PermissionDenied(_("你没有编辑%(object)s的权限。") % {"object": access.noun(group.object_type)})
    updated = DuplicateGroup.objects.filter(pk=group.pk, status=DuplicateGroupStatus.OPEN).update(
        status=DuplicateGroupStatus.DISMISSED, resolved_at=timezone.now(), resolved_by=actor)
    if not updated:
        raise Conflict(_("这个疑似重复组刚被其他人处理。"))
    ids = [record.record_id for record in view.records]
    audit_record(object_type="duplicate_group", object_id=group.pk, action=AuditEvent.Kind.STATUS, actor_id=actor.pk,
                 object_repr=" / ".join(record.name for record in view.records)[:255],
                 changes={"status": [DuplicateGroupStatus.OPEN, DuplicateGroupStatus.DISMISSED],
                          "records": [None, ids]})
    group.refresh_from_db()
    return group
