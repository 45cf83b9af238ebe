"""Lead scoring services (线索评分, ADR 0004 "Scoring"; definitions in docs/lead-scoring.md).

- Configuration: event kinds (points, half-life), attribute rules, the active model, the applied
  weights. Read through `scoring_config()`: an in-process cache reloaded when older than
  `CONFIG_TTL_SECONDS` (4 small queries, at most every 5 s per process) and dropped at once by every
  service here that changes the configuration (`scoring_config_invalidate`). A lead's rescore costs
  no configuration query and no model loading; other processes see a change within 5 s.
- Rescoring: `leads_rescore` (set-based: one query per chunk reads the lead fields with their
  behaviour digest and its staleness, the engine scores the chunk with numpy, one `UPDATE … FROM` a
  staging table writes the rows that changed) and `lead_rescore` (one lead: the same query with its
  stored score, the same engine, one UPDATE of the score fields when they changed). Rescoring is not
  a user edit: neither `version` nor `updated_at` move; `scored_at` is when the score last changed.
- Events: `lead_events_ingest` stores behaviour events once per event id and rescores their leads.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent, JobRun
from l2c.apps.identity import access
from l2c.engines.scoring import (
    DIGEST_DTYPE,
    OPS,
    RECENT_WINDOW_DAYS,
    AttributeRuleSpec,
    EventKindRule,
    LeadColumns,
    LinearModel,
    ScoringConfig,
    Weights,
    digest_inputs,
    field_text,
    kind_key,
    micros,
    score_batch,
)
from l2c.engines.scoring.attributes import LIST_OPS, NUMBER_OPS, VALUELESS_OPS
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed

from .models import AttributeRule, Lead, LeadEvent, ScoringEventKind, ScoringModel, ScoringWeights

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

CONFIG_TTL_SECONDS = 5.0
CHUNK = 20_000
IN_CHUNK = 2_000
STAGE_ROWS = 500
MAX_BATCH = 1000
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_PROPERTIES_BYTES = 4096
SCORE_FIELDS = ["behaviour_score", "attribute_score", "predicted_score", "score", "score_band", "score_explanation",
                "scored_at"]
# Lead fields attribute rules may test (besides `custom.<key>`).
RULE_FIELDS = ("name", "company", "title", "mobile", "phone", "email", "wechat", "province", "city", "industry",
               "size", "source", "status")
CUSTOM_PREFIX = "custom."
MAX_CUSTOM_KEY = 50
RESCORE_JOB = "leads.scoring_rescore"
RETRAIN_JOB = "leads.scoring_retrain"
RECALIBRATE_JOB = "leads.scoring_recalibrate"

# Built-in behaviour kinds, created when missing after migrate (admins change points and half-lives).
DEFAULT_EVENT_KINDS: tuple[tuple[str, Any, int, int], ...] = (
    ("website_visit", gettext_lazy("访问官网"), 2, 14),
    ("page_view", gettext_lazy("浏览页面"), 1, 7),
    ("form_fill", gettext_lazy("提交表单"), 20, 30),
    ("email_open", gettext_lazy("打开邮件"), 2, 14),
    ("email_click", gettext_lazy("点击邮件链接"), 5, 14),
    ("campaign_registration", gettext_lazy("活动报名"), 10, 30),
    ("campaign_checkin", gettext_lazy("活动签到"), 15, 45),
    ("content_download", gettext_lazy("下载资料"), 10, 30),
    ("demo_request", gettext_lazy("预约演示"), 30, 45),
    ("unsubscribe", gettext_lazy("退订"), -20, 90),
)
OP_LABELS: dict[str, Any] = {
    "eq": gettext_lazy("等于"), "ne": gettext_lazy("不等于"), "in": gettext_lazy("属于"),
    "not_in": gettext_lazy("不属于"), "gt": gettext_lazy("大于"), "gte": gettext_lazy("大于等于"),
    "lt": gettext_lazy("小于"), "lte": gettext_lazy("小于等于"), "contains": gettext_lazy("包含"),
    "is_empty": gettext_lazy("为空"), "is_not_empty": gettext_lazy("不为空"),
}
PART_LABELS: dict[str, Any] = {
    "behaviour": gettext_lazy("行为积分"), "attribute": gettext_lazy("属性评分"), "predicted": gettext_lazy("智能评分"),
}
TITLE_GROUP_LABELS: dict[str, Any] = {
    "executive": gettext_lazy("职务为高管"), "manager": gettext_lazy("职务为经理/主管"),
    "procurement": gettext_lazy("职务与采购相关"), "technical": gettext_lazy("职务与技术相关"),
}


# --- configuration cache ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cached:
    config: ScoringConfig
    loaded_at: float


_cache: dict[str, _Cached] = {}


def scoring_config_invalidate() -> None:
    """Drop this process's cached configuration (other processes reload within CONFIG_TTL_SECONDS)."""
    _cache.pop("config", None)


def scoring_config() -> ScoringConfig:
    """The configuration every score uses, cached in memory (see the module docstring)."""
    cached = _cache.get("config")
    now = time.monotonic()
    if cached is not None and now - cached.loaded_at < CONFIG_TTL_SECONDS:
        return cached.config
    config = _load_config()
    _cache["config"] = _Cached(config, now)
    return config


def _load_config() -> ScoringConfig:
    kinds = tuple(EventKindRule(kind.kind, float(kind.points), float(kind.half_life_days), kind.label)
                  for kind in ScoringEventKind.objects.filter(is_active=True).order_by("kind"))
    rules = tuple(_rule_spec(rule) for rule in AttributeRule.objects.filter(is_active=True).order_by("position", "id"))
    model = None
    active = ScoringModel.objects.filter(is_active=True).order_by("-version").first()
    if active is not None:
        try:
            model = LinearModel.from_json(active.version, active.parameters)
        except (KeyError, TypeError, ValueError):
            model = None  # parameters of another encoding: not used (a retrain replaces it)
    return ScoringConfig(kinds, rules, model, weights_current())


def _rule_spec(rule: AttributeRule) -> AttributeRuleSpec:
    value: Any = rule.value
    if rule.op in LIST_OPS:
        value = tuple(field_text(item) for item in (value if isinstance(value, list) else [value]))
    elif rule.op in NUMBER_OPS:
        value = float(value)
    else:
        value = field_text(value)
    return AttributeRuleSpec(rule.pk, rule.field, rule.op, value, rule.points, rule.name)


def weights_current() -> Weights:
    """The applied weights (the latest applied row), else the default 40/30/30."""
    row = ScoringWeights.objects.filter(status=ScoringWeights.Status.APPLIED).order_by("-id").first()
    if row is None:
        return Weights()
    return Weights(*_basis_points(row.behaviour, row.attribute, row.predicted))


def _basis_points(*values: Decimal) -> tuple[int, int, int]:
    """Stored weights (4 decimals, summing to 1) in 1/10,000; the predicted weight takes the rest."""
    behaviour, attribute = (int((Decimal(value) * 10_000).to_integral_value()) for value in values[:2])
    return behaviour, attribute, 10_000 - behaviour - attribute


# --- reading leads with their behaviour digests --------------------------------------------------------
def _needed_fields(config: ScoringConfig) -> tuple[list[str], list[str], frozenset[str]]:
    """Plain lead columns the rules and the model read, the custom keys the rules test, and the
    plain columns whose every use is a blankness test (`is_empty`/`is_not_empty` rules, `has:`
    features): those are read as flags (see `_select`)."""
    fields: set[str] = set()
    custom: set[str] = set()
    texts: set[str] = set()  # columns some use reads as text
    for rule in config.rules:
        if rule.field.startswith(CUSTOM_PREFIX):
            custom.add(rule.field[len(CUSTOM_PREFIX):])
        elif rule.field in RULE_FIELDS:
            fields.add(rule.field)
            if rule.op not in VALUELESS_OPS:
                texts.add(rule.field)
    if config.model is not None:
        for feature in config.model.features:
            if feature.family == "has":
                fields.add(feature.field)
            elif feature.family == "category":
                fields.add(feature.field)
                texts.add(feature.field)
            elif feature.family == "title":
                fields.add("title")
                texts.add("title")
    return sorted(fields), sorted(custom), frozenset(fields - texts)


# What str.strip() removes (every character c with c.isspace(); tested). A column read as a flag is
# NULL when its first character is none of these (nor NUL, which numpy's strip also removes): then
# it surely is not blank. Otherwise (empty, or starting with white space) its own text is read, so
# the engine's blankness test decides exactly as on the full text, without a Python string per lead.
BLANK_CHARACTERS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_WIDE_BLANKS = ", ".join(str(ord(character)) for character in BLANK_CHARACTERS if ord(character) > 32)
FILLED = "1"  # stands for the text of a column read as a flag when it is not blank


def _flag_sql(column: str) -> str:
    """`column` read as a flag (see BLANK_CHARACTERS): the code point of its first character (SQLite
    `unicode`, PostgreSQL `ascii`; NULL or 0 when empty) tells a surely filled column."""
    first = f"{'ascii' if connection.vendor == 'postgresql' else 'unicode'}({column})"
    return f"CASE WHEN {first} > 32 AND {first} NOT IN ({_WIDE_BLANKS}) THEN NULL ELSE {column} END"


@dataclass(frozen=True)
class _Query:
    sql: str
    fields: list[str]
    custom_keys: list[str]
    converted: bool
    extra: int
    flags: frozenset[str] = frozenset()  # fields read as flags (`_flag_sql`)


def _select(config: ScoringConfig, where: str, *, until_converted: bool = False,
            extra_columns: Sequence[str] = (), with_fields: Sequence[str] = ()) -> _Query:
    """SQL reading leads (filtered by `where` over alias l): the lead fields the configuration needs
    (columns only tested for blankness as flags), the custom values the rules test (as JSON text,
    extracted in SQL), the behaviour digest (alias b) and whether it is stale."""
    fields, custom_keys, flags = _needed_fields(config)
    fields = sorted(set(fields) | set(with_fields))
    flags = flags - set(with_fields)
    columns = ["l.id", *[_flag_sql(f"l.{name}") if name in flags else f"l.{name}" for name in fields]]
    for index in range(len(custom_keys)):
        columns.append(f"(l.custom -> %(ck{index})s::text)::text" if connection.vendor == "postgresql"
                       else f"l.custom -> %(ck{index})s")
    if until_converted:
        columns.append("l.converted_at")
    # 1 when the digest is missing or stale — the fingerprint of the lead's events (their count and
    # newest id: an index-only seek of lead_event_lead_id) differs from the digest's — else NULL. A
    # lead without events and without a digest row is current.
    stale = ("(SELECT CASE WHEN COUNT(*) <> COALESCE(b.event_count, 0) OR COALESCE(MAX(e.id), 0)"
             " <> COALESCE(b.last_event_id, 0) THEN 1 END FROM leads_leadevent e WHERE e.lead_id = l.id)")
    columns += [*extra_columns, "b.events", stale]
    # Names below come from code and the configuration (custom keys are parameters), never a request.
    sql = (f"SELECT {', '.join(columns)} FROM leads_lead l"  # noqa: S608
           f" LEFT JOIN leads_leadbehaviour b ON b.lead_id = l.id WHERE {where} ORDER BY l.id")
    return _Query(sql, fields, custom_keys, until_converted, len(extra_columns), flags)


def _custom_texts(values: Sequence[Any]) -> npt.NDArray[Any]:
    """`field_text` of custom values read as JSON texts (None: missing), decoding each distinct text once."""
    decoded: dict[Any, str] = {None: ""}
    out = []
    for value in values:
        text = decoded.get(value)
        if text is None:
            try:
                text = field_text(json.loads(value))
            except (TypeError, ValueError):
                text = ""
            decoded[value] = text
        out.append(text)
    column = np.empty(len(out), dtype=object)
    column[:] = out
    return column


def _text_column(values: Sequence[Any], missing: str = "") -> npt.NDArray[Any]:
    """An object array of texts, `missing` for NULL (the engine factorises it; no per-lead conversion)."""
    if None in values:
        values = [missing if value is None else value for value in values]
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _columns(config: ScoringConfig, query: _Query, rows: Sequence[Sequence[Any]], as_of: datetime,
             pending: list[_Digest] | None = None) -> tuple[list[int], LeadColumns, list[tuple[Any, ...]]]:
    """Engine inputs of fetched rows (stale digests rebuilt first: saved at once, or appended to
    `pending` for the caller to save); also the ids and the extra columns of each row."""
    count = len(rows)
    width = 1 + len(query.fields) + len(query.custom_keys) + int(query.converted) + query.extra + 2
    table: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]
    ids = [int(value) for value in table[0]]
    columns: dict[str, Any] = {}
    position = 1
    for name in query.fields:
        columns[name] = _text_column(table[position], FILLED if name in query.flags else "")
        position += 1
    for key in query.custom_keys:
        columns[CUSTOM_PREFIX + key] = _custom_texts(table[position])
        position += 1
    limits = None
    if query.converted:
        limits = np.fromiter((-1 if value is None else micros(value) for value in table[position]), dtype=np.int64,
                             count=count)
        position += 1
    extras: list[tuple[Any, ...]] = list(zip(*table[position:position + query.extra], strict=True)) \
        if query.extra else [() for _ in ids]
    position += query.extra
    digests, flags = table[position:position + 2]
    stale = [index for index, flag in enumerate(flags) if flag is not None] if flags.count(None) != count else []
    if stale:
        values = _digests_build([ids[index] for index in stale])
        if pending is None:
            _digests_upsert(values)
        else:
            pending += values
        rebuilt = {lead_id: digest for lead_id, digest, _count, _last in values}
        digests = list(digests)
        for index in stale:
            digests[index] = rebuilt.get(ids[index], b"")
    inputs = digest_inputs(digests, config.kinds, as_of, tolerance=FUTURE_TOLERANCE, limits=limits)
    return ids, LeadColumns(count, columns, inputs.decayed, inputs.recent_counts, inputs.days_since_last), extras


# Built SQL per configuration object (the cached configuration is one object until reloaded).
_queries: dict[tuple[Any, ...], tuple[ScoringConfig, _Query]] = {}


def _query(config: ScoringConfig, where: str, until_converted: bool,
           extra_columns: Sequence[str], with_fields: Sequence[str]) -> _Query:
    key = (id(config), connection.vendor, where, until_converted, tuple(extra_columns), tuple(with_fields))
    cached = _queries.get(key)
    if cached is not None and cached[0] is config:
        return cached[1]
    if len(_queries) > 64:
        _queries.clear()
    query = _select(config, where, until_converted=until_converted, extra_columns=extra_columns,
                    with_fields=with_fields)
    _queries[key] = (config, query)
    return query


def _fetch(config: ScoringConfig, as_of: datetime, *, where: str, params: Mapping[str, Any],
           until_converted: bool = False, extra_columns: Sequence[str] = (), with_fields: Sequence[str] = (),
           pending: list[_Digest] | None = None) -> tuple[list[int], LeadColumns, list[tuple[Any, ...]]]:
    query = _query(config, where, until_converted, extra_columns, with_fields)
    parameters = dict(params)
    parameters.update({f"ck{index}": key for index, key in enumerate(query.custom_keys)})
    with connection.cursor() as cursor:
        cursor.execute(query.sql, parameters)
        rows = cursor.fetchall()
    return _columns(config, query, rows, as_of, pending)


def _id_filter(chunk: Sequence[int]) -> tuple[str, str, dict[str, Any], int]:
    """WHERE clauses (leads, events) of sorted ids: an id range when dense (filtered afterwards),
    else an IN list of at most IN_CHUNK ids (integers, written inline); and how many ids it covers."""
    low, high = chunk[0], chunk[-1]
    if high - low + 1 <= 2 * len(chunk):
        return ("l.id >= %(low)s AND l.id <= %(high)s", "e.lead_id >= %(low)s AND e.lead_id <= %(high)s",
                {"low": low, "high": high}, len(chunk))
    listed = ", ".join(str(int(lead_id)) for lead_id in chunk[:IN_CHUNK])
    return f"l.id IN ({listed})", f"e.lead_id IN ({listed})", {}, min(len(chunk), IN_CHUNK)


def lead_columns_for_ids(config: ScoringConfig, ids: Sequence[int], as_of: datetime, *, until_converted: bool = False,
                         extra_columns: Sequence[str] = (), with_fields: Sequence[str] = ()
                         ) -> tuple[list[int], LeadColumns, list[tuple[Any, ...]]]:
    """Engine inputs of the given leads (any number; read in chunks of consecutive ids), ordered by
    id. `until_converted`: events after a lead's conversion are left out (training)."""
    all_ids: list[int] = []
    parts: list[LeadColumns] = []
    extras: list[tuple[Any, ...]] = []
    ordered = sorted({int(lead_id) for lead_id in ids})
    start = 0
    while start < len(ordered):
        chunk = ordered[start:start + CHUNK]
        where, _event_where, params, covered = _id_filter(chunk)
        chunk = chunk[:covered]
        start += covered
        got_ids, columns, got_extras = _fetch(
            config, as_of, where=where, params=params, until_converted=until_converted,
            extra_columns=extra_columns, with_fields=with_fields)
        wanted = set(chunk)
        keep = [index for index, lead_id in enumerate(got_ids) if lead_id in wanted]
        all_ids += [got_ids[index] for index in keep]
        extras += [got_extras[index] for index in keep]
        parts.append(_subset(columns, keep))
    return all_ids, _concat(parts, len(config.kinds)), extras


# --- behaviour digests -----------------------------------------------------------------------------------
def _event_micros(values: Sequence[Any]) -> npt.NDArray[np.int64]:
    """Event times read by `_digest_select` as microseconds since the epoch."""
    if connection.vendor == "postgresql":
        return np.asarray(values, dtype=np.int64)
    try:  # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]': numpy parses it in C
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    except ValueError:
        return np.fromiter((micros(parse_datetime(value)) for value in values),  # type: ignore[arg-type]
                           dtype=np.int64, count=len(values))


def _digest_select(where: str) -> str:
    at = "(EXTRACT(EPOCH FROM e.occurred_at) * 1000000)::bigint" if connection.vendor == "postgresql" \
        else "CAST(e.occurred_at AS TEXT)"
    return (f"SELECT e.lead_id, e.id, e.kind, {at} FROM leads_leadevent e WHERE {where}"  # noqa: S608
            " ORDER BY e.lead_id, e.id")


_Digest = tuple[int, bytes, int, int]  # lead id, packed events, event count, newest event id


def lead_behaviour_rebuild(*, lead_ids: Sequence[int] | None = None) -> dict[int, bytes]:
    """(Re)build the behaviour digests (LeadBehaviour) of the given leads (None: every lead with
    events) from their events, set-based, and return them by lead id (b"" for a lead without
    events). A rescore does this for exactly the leads whose digest is missing or stale, so the
    code that writes events never has to maintain digests; a bulk loader may call it once after
    loading to spare the first rescore the work."""
    if lead_ids is None:
        ordered = list(LeadEvent.objects.order_by("lead_id").values_list("lead_id", flat=True).distinct())
    else:
        ordered = sorted({int(lead_id) for lead_id in lead_ids})
    result: dict[int, bytes] = {}
    for start in range(0, len(ordered), CHUNK):
        values = _digests_build(ordered[start:start + CHUNK])
        _digests_upsert(values)
        result.update((lead_id, digest) for lead_id, digest, _count, _last in values)
    return result


def _digests_build(lead_ids: Sequence[int]) -> list[_Digest]:
    """Digests of sorted lead ids read from their events (an id range when dense, else IN lists)."""
    values: list[_Digest] = []
    start = 0
    while start < len(lead_ids):
        _where, event_where, params, covered = _id_filter(lead_ids[start:])
        part = lead_ids[start:start + covered]
        start += covered
        with connection.cursor() as cursor:
            cursor.execute(_digest_select(event_where), params)
            rows = cursor.fetchall()
        values += _digests_pack(part, rows)
    return values


def _digests_pack(lead_ids: Sequence[int], rows: Sequence[Sequence[Any]]) -> list[_Digest]:
    """Pack fetched events (ordered by lead, id) of some leads (others in `rows` are ignored)."""
    wanted = set(lead_ids)
    found: dict[int, tuple[bytes, int, int]] = {}
    if rows:
        leads, event_ids, kinds, times = zip(*rows, strict=True)
        owners = np.asarray(leads, dtype=np.int64)
        keys = {kind: kind_key(kind) for kind in set(kinds)}
        packed = np.empty(len(rows), dtype=DIGEST_DTYPE)
        packed["kind"] = np.fromiter(map(keys.__getitem__, kinds), dtype=np.int64, count=len(rows))
        packed["at"] = _event_micros(times)
        raw = packed.tobytes()
        size = DIGEST_DTYPE.itemsize
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]).tolist()
        ends = [*starts[1:], len(rows)]
        found = {int(owners[begin]): (raw[begin * size:end * size], end - begin, int(event_ids[end - 1]))
                 for begin, end in zip(starts, ends, strict=True) if int(owners[begin]) in wanted}
    return [(lead_id, *found.get(lead_id, (b"", 0, 0))) for lead_id in sorted(wanted)]


def _digests_upsert(values: Sequence[_Digest]) -> None:
    if not values:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO leads_leadbehaviour (lead_id, events, event_count, last_event_id) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (lead_id) DO UPDATE SET events = excluded.events, event_count = excluded.event_count,"
            " last_event_id = excluded.last_event_id", list(values))


def _subset(columns: LeadColumns, keep: Sequence[int]) -> LeadColumns:
    if len(keep) == columns.count:
        return columns
    index = np.asarray(keep, dtype=np.int64)
    return LeadColumns(len(keep), {name: values[index] for name, values in columns.fields.items()},
                       columns.decayed[index], columns.recent_counts[index], columns.days_since_last[index])


def _concat(parts: Sequence[LeadColumns], kinds: int) -> LeadColumns:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return LeadColumns(0, {}, np.zeros((0, kinds)), np.zeros((0, kinds)), np.zeros(0))
    names = parts[0].fields.keys()
    return LeadColumns(sum(part.count for part in parts),
                       {name: np.concatenate([part.fields[name] for part in parts]) for name in names},
                       np.vstack([part.decayed for part in parts]), np.vstack([part.recent_counts for part in parts]),
                       np.concatenate([part.days_since_last for part in parts]))


# --- rescoring -------------------------------------------------------------------------------------------
_STAGE = "l2c_lead_score_stage"


def _stage_create(cursor: Any) -> None:
    if connection.vendor == "postgresql":
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (id bigint PRIMARY KEY, b smallint, a smallint,"
                       " p smallint, s smallint, band varchar(1), expl text)")
    else:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (id INTEGER PRIMARY KEY, b INTEGER, a INTEGER,"
                       " p INTEGER, s INTEGER, band TEXT, expl TEXT)")
    cursor.execute(f"DELETE FROM {_STAGE}")  # noqa: S608


# A row is written only when something the rescore computes differs from what it holds (or it was
# never scored): an unchanged lead costs no row rewrite, no index update and no WAL page. The
# explanation holds every part and the combined score, and is compared as stored (jsonb equality on
# PostgreSQL; on SQLite the text, always written in the engine's one compact form).
_CHANGED = ("{l}.scored_at IS NULL OR {l}.score {ne} st.s OR {l}.score_band {ne} st.band"
            " OR {l}.behaviour_score {ne} st.b OR {l}.attribute_score {ne} st.a OR {l}.predicted_score {ne} st.p"
            " OR {l}.score_explanation {ne} st.expl{cast}")


def _write(ids: Sequence[int], batch: Any, scored_at: datetime) -> int:
    """Write the scores of a chunk (sorted ids): rows into a staging table (COPY / executemany),
    then one UPDATE … FROM of the rows that changed (`scored_at` moves only there). Returns the
    number of rows written. The UPDATE is driven by the staged ids (PostgreSQL: bounded by their
    range; SQLite: `id IN (stage)`, a rowid lookup per staged row — otherwise its planner scans
    every lead's index entry per chunk, quadratic over a full rescore)."""
    explanations = batch.explanation_texts()
    predicted = [None if value < 0 else value for value in batch.predicted.tolist()]
    rows = zip(ids, batch.behaviour.tolist(), batch.attribute.tolist(), predicted, batch.score.tolist(), batch.bands,
               explanations, strict=True)
    stamp = connection.ops.adapt_datetimefield_value(scored_at)
    bounds = [stamp, ids[0], ids[-1]]
    with connection.cursor() as cursor:
        _stage_create(cursor)
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {_STAGE} (id, b, a, p, s, band, expl) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            changed = _CHANGED.format(l="l", ne="IS DISTINCT FROM", cast="::jsonb")
            cursor.execute(
                f"UPDATE leads_lead l SET behaviour_score = st.b, attribute_score = st.a, predicted_score = st.p,"  # noqa: S608
                f" score = st.s, score_band = st.band, score_explanation = st.expl::jsonb, scored_at = %s"
                f" FROM {_STAGE} st WHERE l.id = st.id AND l.id >= %s AND l.id <= %s AND ({changed})", bounds)
        else:
            # One prepared INSERT run over all rows by sqlite3 in C (the staging table is in memory).
            cursor.executemany(f"INSERT INTO {_STAGE} (id, b, a, p, s, band, expl) VALUES (%s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                               list(rows))
            changed = _CHANGED.format(l="leads_lead", ne="IS NOT", cast="")
            cursor.execute(
                f"UPDATE leads_lead SET behaviour_score = st.b, attribute_score = st.a, predicted_score = st.p,"  # noqa: S608
                f" score = st.s, score_band = st.band, score_explanation = st.expl, scored_at = %s"
                f" FROM {_STAGE} st WHERE leads_lead.id = st.id AND leads_lead.id IN (SELECT id FROM {_STAGE})"
                f" AND ({changed})", [stamp])
        written = max(int(cursor.rowcount), 0)
        cursor.execute(f"DELETE FROM {_STAGE}")  # noqa: S608
    return written


def leads_rescore(*, lead_ids: Sequence[int] | None = None, as_of: datetime | None = None,
                  progress: Callable[[int, int], None] | None = None, stats: dict[str, int] | None = None) -> int:
    """Rescore the given leads (None: all) as of `as_of` (default now), set-based, one transaction
    per chunk of CHUNK leads. Returns the number of leads scored; `progress(done, total)` after each
    chunk; `stats` (when given) receives "scored" and "written" (rows whose score changed)."""
    as_of = as_of or timezone.now()
    config = scoring_config()
    done = written = 0
    if lead_ids is not None:
        ordered = sorted({int(lead_id) for lead_id in lead_ids})
        total = len(ordered)
        for start in range(0, total, CHUNK):
            chunk = ordered[start:start + CHUNK]
            with transaction.atomic():
                ids, columns, _extras = lead_columns_for_ids(config, chunk, as_of)
                if ids:
                    written += _write(ids, score_batch(config, columns), as_of)
            done += len(ids)
            if progress:
                progress(done, total)
    else:
        total = Lead.objects.count() if progress else 0
        # Outside a transaction a second thread reads (and scores) the next chunk while this one
        # writes: the database works while Python computes. Inside one (a test, a caller's
        # transaction) another connection could not see its rows: one thread then.
        pipelined = not connection.in_atomic_block
        chunks = _read_chunks(config, as_of, threaded=pipelined)
        try:
            for ids, batch, pending in chunks:
                with transaction.atomic():
                    _digests_upsert(pending)
                    if ids:
                        written += _write(ids, batch, as_of)
                done += len(ids)
                if progress:
                    progress(done, max(total, done))
        finally:
            chunks.close()
    if stats is not None:
        stats.update(scored=done, written=written)
    return done


_Chunk = tuple[list[int], Any, list[_Digest]]


def _read_chunk(config: ScoringConfig, as_of: datetime, last: int) -> tuple[_Chunk, int | None]:
    """Read and score the next CHUNK leads after id `last`; also the id to continue after (None: done)."""
    edge = list(Lead.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[CHUNK - 1:CHUNK])
    high = edge[0] if edge else None
    if high is None:
        where, params = "l.id > %(low)s", {"low": last}
    else:
        where = "l.id > %(low)s AND l.id <= %(high)s"
        params = {"low": last, "high": high}
    pending: list[_Digest] = []
    ids, columns, _extras = _fetch(config, as_of, where=where, params=params, pending=pending)
    batch = score_batch(config, columns) if ids else None
    if batch is not None:
        batch.explanation_texts()  # built here (cached), in the reading thread when pipelined
    return (ids, batch, pending), (None if high is None or not ids else ids[-1])


def _read_chunks(config: ScoringConfig, as_of: datetime, *, threaded: bool) -> Generator[_Chunk, None, None]:
    if not threaded:
        last: int | None = 0
        while last is not None:
            chunk, last = _read_chunk(config, as_of, last)
            yield chunk
        return
    from concurrent.futures import ThreadPoolExecutor

    def read(after: int) -> tuple[_Chunk, int | None]:
        return _read_chunk(config, as_of, after)

    def close() -> None:
        connection.close()  # the reading thread's own connection (thread-local), kept across chunks

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lead-rescore") as pool:
        try:
            future = pool.submit(read, 0)
            while True:
                chunk, after = future.result()
                if after is not None:
                    future = pool.submit(read, after)
                yield chunk
                if after is None:
                    return
        finally:
            pool.submit(close).result()


# The stored score of a lead, read with it by `lead_rescore` (an unchanged score is not written).
_STORED = ("l.behaviour_score", "l.attribute_score", "l.predicted_score", "l.score", "l.score_band",
           "l.score_explanation", "l.scored_at")


def lead_rescore(*, lead: Lead, as_of: datetime | None = None) -> None:
    """Rescore one lead in-process and set the score fields on `lead` too: one SELECT (the lead's
    fields, behaviour digest and fingerprint, stored score; the model is the cached configuration),
    then one UPDATE of the score fields only — none when nothing changed (then `scored_at` keeps
    the time the score was last computed differently). A stale digest is rebuilt first."""
    as_of = as_of or timezone.now()
    config = scoring_config()
    ids, columns, extras = _fetch(config, as_of, where="l.id = %(lead)s", params={"lead": lead.pk},
                                  extra_columns=_STORED)
    if not ids:
        return
    batch = score_batch(config, columns)
    predicted = int(batch.predicted[0])
    text = batch.explanation_texts()[0]
    values = (int(batch.behaviour[0]), int(batch.attribute[0]), None if predicted < 0 else predicted,
              int(batch.score[0]), batch.bands[0])
    explanation = json.loads(text)
    stored = extras[0]
    old_explanation = json.loads(stored[5]) if isinstance(stored[5], str) else stored[5]
    if stored[6] is not None and tuple(stored[:5]) == values and old_explanation == explanation:
        scored_at = stored[6]
        if isinstance(scored_at, str):  # a raw SQLite cursor hands over naive UTC, as a datetime or text
            scored_at = parse_datetime(scored_at)
        if scored_at is not None and timezone.is_naive(scored_at):
            scored_at = scored_at.replace(tzinfo=UTC)
    else:
        scored_at = as_of
        cast = "::jsonb" if connection.vendor == "postgresql" else ""
        with connection.cursor() as cursor:  # the score fields only: no signals, no version/updated_at
            cursor.execute("UPDATE leads_lead SET behaviour_score = %s, attribute_score = %s, predicted_score = %s,"  # noqa: S608
                           f" score = %s, score_band = %s, score_explanation = %s{cast}, scored_at = %s WHERE id = %s",
                           [*values, text, connection.ops.adapt_datetimefield_value(as_of), lead.pk])
    (lead.behaviour_score, lead.attribute_score, lead.predicted_score, lead.score, lead.score_band) = values
    lead.score_explanation = explanation
    lead.scored_at = scored_at


# --- behaviour events --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventItem:
    """What became of one incoming event: created, unchanged (stored before) or duplicate (repeats
    the earlier item `duplicate_of` of the same batch)."""

    index: int
    event_id: str
    status: str
    lead_id: int
    duplicate_of: int | None = None


@dataclass(frozen=True)
class EventsResult:
    items: list[EventItem]
    rescored: int

    @property
    def created(self) -> int:
        return sum(1 for item in self.items if item.status == "created")

    @property
    def unchanged(self) -> int:
        return len(self.items) - self.created


def may_ingest_events(user: User) -> bool:
    return access.can(user, "lead", "import")


@transaction.atomic
def lead_events_ingest(*, actor: User, events: Sequence[Mapping[str, Any]], now: datetime | None = None
                       ) -> EventsResult:
    """Store a batch of behaviour events (needs `import` on leads; each lead visible to the actor).
    All or nothing: any invalid item (unknown or invisible lead, unknown kind, time more than 5
    minutes ahead, event id already used for another lead) rejects the batch with a 422 listing
    every error at `events.<index>.<field>`. An event id stored before is reported unchanged and
    stored once. Then the leads of the new events are rescored, set-based."""
    if not may_ingest_events(actor):
        raise PermissionDenied(_("你没有写入线索行为的权限（需要线索的导入权限）。"))
    if not events:
        raise ValidationFailed(_("没有要写入的线索行为。"),
                               errors=[FieldError("events", _("请至少提供一条线索行为。"), "required")])
    if len(events) > MAX_BATCH:
        message = _("一次最多 %(limit)s 条线索行为（收到 %(count)s 条）。") % {"limit": MAX_BATCH, "count": len(events)}
        raise ValidationFailed(message, errors=[FieldError("events", message, "too_many")])
    now = now or timezone.now()
    known_kinds = set(ScoringEventKind.objects.values_list("kind", flat=True))
    lead_ids = {int(item["lead_id"]) for item in events if isinstance(item.get("lead_id"), int)}
    visible = set(access.restrict(Lead.objects.filter(pk__in=lead_ids), actor, "lead", "view")
                  .values_list("pk", flat=True)) if lead_ids else set()
    event_ids = [str(item.get("event_id") or "") for item in events]
    stored = dict(LeadEvent.objects.filter(event_id__in=event_ids).values_list("event_id", "lead_id"))
    errors: list[FieldError] = []
    clean: list[dict[str, Any]] = []
    for index, item in enumerate(events):
        prefix = f"events.{index}."
        event_id = event_ids[index].strip()
        lead_id = item.get("lead_id")
        kind = str(item.get("kind") or "")
        occurred_at = item.get("occurred_at")
        properties = item.get("properties") or {}
        if not event_id or len(event_id) > 100:
            errors.append(FieldError(prefix + "event_id", _("事件编号必填，最多 100 个字符。"), "invalid"))
        if not isinstance(lead_id, int) or lead_id not in visible:
            errors.append(FieldError(prefix + "lead_id", _("没有 ID 为 %(id)s 的线索。") % {"id": str(lead_id)[:30]},
                                     "not_found"))
        if kind not in known_kinds:
            errors.append(FieldError(prefix + "kind", _("未知的行为类型“%(kind)s”：请先在线索评分设置中添加。")
                                     % {"kind": kind[:40]}, "unknown_kind"))
        if not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
            errors.append(FieldError(prefix + "occurred_at", _("必须是带时区的时间。"), "invalid"))
        elif occurred_at > now + FUTURE_TOLERANCE:
            errors.append(FieldError(prefix + "occurred_at", _("发生时间不能晚于当前时间 5 分钟以上。"), "in_future"))
        if not isinstance(properties, dict):
            errors.append(FieldError(prefix + "properties", _("必须是 JSON 对象。"), "invalid"))
        elif len(json.dumps(properties, ensure_ascii=False)) > MAX_PROPERTIES_BYTES:
            errors.append(FieldError(prefix + "properties", _("属性最多 %(max)s 个字符（JSON）。")
                                     % {"max": MAX_PROPERTIES_BYTES}, "too_long"))
        if event_id in stored and isinstance(lead_id, int) and stored[event_id] != lead_id:
            errors.append(FieldError(prefix + "event_id", _("这个事件编号已用于另一条线索，不能重复使用。"),
                                     "event_conflict"))
        clean.append({"event_id": event_id, "lead_id": lead_id, "kind": kind, "occurred_at": occurred_at,
                      "properties": properties})
    first: dict[str, int] = {}
    for index, item in enumerate(clean):
        earlier = first.setdefault(item["event_id"], index)
        if earlier != index and clean[earlier]["lead_id"] != item["lead_id"]:
            errors.append(FieldError(f"events.{index}.event_id", _("同一批次中这个事件编号已用于另一条线索。"),
                                     "event_conflict"))
    if errors:
        bad = len({error.field.split(".")[1] for error in errors})
        raise ValidationFailed(ngettext("%(count)s 条线索行为有误，整批都没有写入。",
                                        "%(count)s 条线索行为有误，整批都没有写入。", bad) % {"count": bad},
                               errors=errors)
    items: list[EventItem] = []
    new: list[LeadEvent] = []
    for index, item in enumerate(clean):
        if item["event_id"] in stored:
            items.append(EventItem(index, item["event_id"], "unchanged", item["lead_id"]))
        elif first[item["event_id"]] != index:
            items.append(EventItem(index, item["event_id"], "duplicate", item["lead_id"], first[item["event_id"]]))
        else:
            new.append(LeadEvent(**item))
            items.append(EventItem(index, item["event_id"], "created", item["lead_id"]))
    rescored = 0
    if new:
        try:
            with transaction.atomic():
                # In id order, so two batches holding the same events in other orders cannot deadlock.
                LeadEvent.objects.bulk_create(sorted(new, key=lambda event: event.event_id), batch_size=1000)
        except IntegrityError:
            raise Conflict(_("另一个请求正在写入其中的部分线索行为，请稍后重试（已写入的行为会报告为未改变）。")
                           ) from None
        rescored = leads_rescore(lead_ids=sorted({event.lead_id for event in new}), as_of=now)
    return EventsResult(items, rescored)


# --- reading a score -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreItem:
    code: str
    label: str
    points: int


@dataclass(frozen=True)
class ScorePart:
    part: str
    label: str
    score: int | None
    weight: float
    points: int
    items: list[ScoreItem]


@dataclass(frozen=True)
class LeadScoreView:
    lead_id: int
    score: int
    band: str
    behaviour_score: int
    attribute_score: int
    predicted_score: int | None
    scored_at: datetime | None
    model_version: int | None
    parts: list[ScorePart]


def item_label(code: str, config: ScoringConfig | None = None) -> str:
    """The shown name of an explanation item code (kinds and rules from the cached configuration)."""
    config = config or scoring_config()
    if code == "other":
        return _("其他")
    if code == "baseline":
        return _("平均线索的基准分")
    if code.startswith("r") and code[1:].isdigit():
        for rule in config.rules:
            if rule.rule_id == int(code[1:]):
                return rule.name or _("规则 #%(id)s") % {"id": code[1:]}
        return _("规则 #%(id)s（已停用或删除）") % {"id": code[1:]}
    if ":" in code:
        family, _sep, value = code.partition(":")
        if family == "has":
            return _("已填写%(field)s") % {"field": _field_label(value)}
        if family == "title":
            return str(TITLE_GROUP_LABELS.get(value, value))
        if family == "recent":
            return _("近 %(days)s 天%(kind)s次数") % {"days": RECENT_WINDOW_DAYS, "kind": _kind_label(value, config)}
    if "=" in code:
        field, _sep, value = code.partition("=")
        return f"{_field_label(field)}：{_choice_label(field, value)}"
    if code == "recency":
        return _("距最近一次行为的天数")
    if code == "no_events":
        return _("没有行为记录")
    return _kind_label(code, config)


def _kind_label(kind: str, config: ScoringConfig) -> str:
    for rule in config.kinds:
        if rule.kind == kind:
            return rule.label or kind
    return kind


def _field_label(name: str) -> str:
    if name.startswith(CUSTOM_PREFIX):
        return name
    try:
        return str(Lead._meta.get_field(name).verbose_name)
    except Exception:  # an unknown field name is shown as it is
        return name


def _choice_label(field: str, value: str) -> str:
    if field == "industry":
        from l2c.apps.customers.models import Industry

        return str(dict(Industry.choices).get(value, value))
    if field == "size":
        from l2c.apps.customers.models import CompanySize

        return str(dict(CompanySize.choices).get(value, value))
    try:
        choices = Lead._meta.get_field(field).choices
    except Exception:
        choices = None
    return str(dict(choices).get(value, value)) if choices else value


def score_view(lead: Lead) -> LeadScoreView:
    """The stored score of a lead with labelled explanation items (no query: labels come from the
    cached configuration)."""
    config = scoring_config()
    explanation = lead.score_explanation or {}
    parts = []
    for part in ("behaviour", "attribute", "predicted"):
        data = (explanation.get("parts") or {}).get(part)
        if not isinstance(data, dict):
            continue
        items = [ScoreItem(str(code), item_label(str(code), config), int(points))
                 for code, points in data.get("items", [])]
        parts.append(ScorePart(part, str(PART_LABELS[part]), data.get("score"), float(data.get("weight", 0)),
                               int(data.get("points", 0)), items))
    return LeadScoreView(lead.pk, lead.score, lead.score_band, lead.behaviour_score, lead.attribute_score,
                         lead.predicted_score, lead.scored_at, explanation.get("model"), parts)


def lead_score_get(*, user: User, lead_id: int) -> LeadScoreView:
    """The score of a lead the user may see (NotFound otherwise)."""
    lead: Lead = access.get_for_action(user, "lead", lead_id, "view", queryset=Lead.objects.only(
        "id", "owner_id", "department_id", "pool_id", *SCORE_FIELDS))
    return score_view(lead)


# --- configuration services --------------------------------------------------------------------------------
def may_manage(user: User) -> bool:
    """Admins change the scoring configuration and decide weights."""
    return access.is_admin(user)


def may_view_settings(user: User) -> bool:
    return access.is_admin(user) or access.can(user, "lead", "import")


def settings_denied_message() -> str:
    return _("只有管理员和有线索导入权限的用户可以查看线索评分设置。")


def _require_manage(actor: User) -> None:
    if not may_manage(actor):
        raise PermissionDenied(_("只有管理员可以修改线索评分设置。"))


def event_kinds_ensure_defaults() -> int:
    """Create the built-in behaviour kinds that are missing (post_migrate). Returns how many."""
    existing = set(ScoringEventKind.objects.values_list("kind", flat=True))
    missing = [ScoringEventKind(kind=kind, label=str(label), points=Decimal(points), half_life_days=Decimal(days))
               for kind, label, points, days in DEFAULT_EVENT_KINDS if kind not in existing]
    ScoringEventKind.objects.bulk_create(missing, ignore_conflicts=True)
    if missing:
        scoring_config_invalidate()
    return len(missing)


def _decimal(raw: Any, field: str, *, low: Decimal, high: Decimal, errors: list[FieldError],
             positive: bool = False) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        errors.append(FieldError(field, _("必须是数字。"), "invalid"))
        return None
    if not value.is_finite() or value < low or value > high or (positive and value <= 0) \
            or value != value.quantize(Decimal("0.01")):
        errors.append(FieldError(field, _("必须在 %(low)s 到 %(high)s 之间，最多两位小数。")
                                 % {"low": low, "high": high}, "out_of_range"))
        return None
    return value


def _kind_values(data: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "label" in data and data["label"] is not None:
        label = str(data["label"]).strip()
        if not label or len(label) > 100:
            errors.append(FieldError("label", _("名称必填，最多 100 个字符。"), "invalid"))
        values["label"] = label
    if "points" in data and data["points"] is not None:
        values["points"] = _decimal(data["points"], "points", low=Decimal(-1000), high=Decimal(1000), errors=errors)
    if "half_life_days" in data and data["half_life_days"] is not None:
        values["half_life_days"] = _decimal(data["half_life_days"], "half_life_days", low=Decimal("0.01"),
                                            high=Decimal(3650), errors=errors, positive=True)
    if "is_active" in data and data["is_active"] is not None:
        values["is_active"] = bool(data["is_active"])
    return values


@transaction.atomic
def event_kind_create(*, actor: User, data: Mapping[str, Any]) -> ScoringEventKind:
    _require_manage(actor)
    errors: list[FieldError] = []
    kind = str(data.get("kind") or "").strip()
    from django.core.validators import validate_slug

    try:
        validate_slug(kind)
        if len(kind) > 40:
            raise ValueError
    except Exception:  # any invalid slug
        message = _("行为类型代码只能包含字母、数字、下划线和连字符，最多 40 个字符。")
        errors.append(FieldError("kind", message, "invalid"))
    values = _kind_values({"half_life_days": 30, **data}, errors)
    for required in ("label", "points"):
        if required not in values:
            errors.append(FieldError(required, _("必填。"), "required"))
    if not errors and ScoringEventKind.objects.filter(kind=kind).exists():
        errors.append(FieldError("kind", _("行为类型“%(kind)s”已存在。") % {"kind": kind}, "duplicate"))
    if errors:
        raise ValidationFailed(_("行为积分规则填写有误。"), errors=errors)
    record = ScoringEventKind.objects.create(kind=kind, **values)
    audit_record(object_type="scoring_event_kind", object_id=record.pk, action=AuditEvent.Kind.CREATE,
                 actor_id=actor.pk, object_repr=record.kind,
                 changes={name: [None, str(value)] for name, value in values.items()})
    transaction.on_commit(scoring_config_invalidate)
    scoring_config_invalidate()
    return record


@transaction.atomic
def event_kind_update(*, actor: User, kind: str, data: Mapping[str, Any]) -> ScoringEventKind:
    _require_manage(actor)
    record = ScoringEventKind.objects.select_for_update().filter(kind=kind).first()
    if record is None:
        raise NotFound(_("没有行为类型“%(kind)s”。") % {"kind": kind[:40]})
    errors: list[FieldError] = []
    values = _kind_values(data, errors)
    if errors:
        raise ValidationFailed(_("行为积分规则填写有误。"), errors=errors)
    changes = {name: [str(getattr(record, name)), str(value)] for name, value in values.items()
               if getattr(record, name) != value}
    if changes:
        for name, value in values.items():
            setattr(record, name, value)
        record.save()
        audit_record(object_type="scoring_event_kind", object_id=record.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk, object_repr=record.kind, changes=changes)
        transaction.on_commit(scoring_config_invalidate)
        scoring_config_invalidate()
    return record


def _rule_values(data: Mapping[str, Any], errors: list[FieldError], current: AttributeRule | None = None
                 ) -> dict[str, Any]:
    values: dict[str, Any] = {}
    merged = {"name": current.name, "field": current.field, "op": current.op, "value": current.value,
              "points": current.points, "is_active": current.is_active, "position": current.position} \
        if current else {"value": "", "is_active": True, "position": 0}
    merged.update({key: value for key, value in data.items() if value is not None or key == "value"})
    name = str(merged.get("name") or "").strip()
    if not name or len(name) > 100:
        errors.append(FieldError("name", _("名称必填，最多 100 个字符。"), "invalid"))
    field = str(merged.get("field") or "").strip()
    if field.startswith(CUSTOM_PREFIX):
        key = field[len(CUSTOM_PREFIX):]
        if not key or len(key) > MAX_CUSTOM_KEY or not all(ch.isalnum() or ch == "_" for ch in key):
            errors.append(FieldError("field", _("自定义字段写作 custom.<字段代码>（字母、数字、下划线）。"), "invalid"))
    elif field not in RULE_FIELDS:
        errors.append(FieldError("field", _("不能按“%(field)s”评分：可用字段为 %(fields)s 或 custom.<字段代码>。")
                                 % {"field": field[:60], "fields": ", ".join(RULE_FIELDS)}, "invalid"))
    op = str(merged.get("op") or "")
    value = merged.get("value")
    if op not in OPS:
        errors.append(FieldError("op", _("比较方式必须是 %(ops)s 之一。") % {"ops": ", ".join(OPS)}, "invalid"))
    elif op in LIST_OPS:
        if isinstance(value, str):
            value = [part.strip() for part in value.replace("，", ",").split(",") if part.strip()]
        if not isinstance(value, list) or not value or len(value) > 200 \
                or any(not isinstance(item, str | int | float) or len(str(item)) > 200 for item in value):
            errors.append(FieldError("value", _("请填写 1 到 200 个值（列表，或用逗号分隔）。"), "invalid"))
        else:
            value = [str(item).strip() for item in value]
    elif op in NUMBER_OPS:
        try:
            number = float(str(value).strip())
            if not math.isfinite(number):
                raise ValueError
            value = number
        except (TypeError, ValueError):
            errors.append(FieldError("value", _("这个比较方式需要一个数字。"), "invalid"))
    elif op in VALUELESS_OPS:
        value = ""
    else:
        value = "" if value is None else str(value).strip()
        if len(value) > 200:
            errors.append(FieldError("value", _("值最多 200 个字符。"), "too_long"))
        if op == "contains" and not value:
            errors.append(FieldError("value", _("请填写要包含的文字。"), "required"))
    try:
        points = int(merged.get("points"))  # type: ignore[arg-type]
        if not -100 <= points <= 100:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(FieldError("points", _("分值必须是 -100 到 100 之间的整数。"), "out_of_range"))
        points = 0
    try:
        position = int(merged.get("position") or 0)
        if not 0 <= position <= 100_000:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(FieldError("position", _("顺序必须是 0 到 100000 之间的整数。"), "out_of_range"))
        position = 0
    values.update(name=name, field=field, op=op, value=value, points=points, is_active=bool(merged.get("is_active")),
                  position=position)
    return values


@transaction.atomic
def attribute_rule_create(*, actor: User, data: Mapping[str, Any]) -> AttributeRule:
    _require_manage(actor)
    errors: list[FieldError] = []
    values = _rule_values(data, errors)
    if errors:
        raise ValidationFailed(_("属性评分规则填写有误。"), errors=errors)
    rule = AttributeRule.objects.create(**values)
    audit_record(object_type="scoring_attribute_rule", object_id=rule.pk, action=AuditEvent.Kind.CREATE,
                 actor_id=actor.pk, object_repr=rule.name, changes={k: [None, v] for k, v in values.items()})
    scoring_config_invalidate()
    transaction.on_commit(scoring_config_invalidate)
    return rule


@transaction.atomic
def attribute_rule_update(*, actor: User, rule_id: int, data: Mapping[str, Any]) -> AttributeRule:
    _require_manage(actor)
    rule = AttributeRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("没有 ID 为 %(id)s 的属性评分规则。") % {"id": rule_id})
    errors: list[FieldError] = []
    values = _rule_values(data, errors, current=rule)
    if errors:
        raise ValidationFailed(_("属性评分规则填写有误。"), errors=errors)
    changes = {name: [getattr(rule, name), value] for name, value in values.items() if getattr(rule, name) != value}
    if changes:
        for name, value in values.items():
            setattr(rule, name, value)
        rule.save()
        audit_record(object_type="scoring_attribute_rule", object_id=rule.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk, object_repr=rule.name, changes=changes)
        scoring_config_invalidate()
        transaction.on_commit(scoring_config_invalidate)
    return rule


@transaction.atomic
def attribute_rule_delete(*, actor: User, rule_id: int) -> None:
    _require_manage(actor)
    rule = AttributeRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("没有 ID 为 %(id)s 的属性评分规则。") % {"id": rule_id})
    audit_record(object_type="scoring_attribute_rule", object_id=rule.pk, action=AuditEvent.Kind.DELETE,
                 actor_id=actor.pk, object_repr=rule.name,
                 changes={"rule": [{"field": rule.field, "op": rule.op, "value": rule.value, "points": rule.points},
                                   None]})
    rule.delete()
    scoring_config_invalidate()
    transaction.on_commit(scoring_config_invalidate)


def rule_text(rule: AttributeRule) -> str:
    """"行业 等于 I"-style description of a rule."""
    value = "" if rule.op in VALUELESS_OPS else (
        "、".join(str(item) for item in rule.value) if isinstance(rule.value, list) else str(rule.value))
    return " ".join(part for part in (_field_label(rule.field), str(OP_LABELS.get(rule.op, rule.op)), value) if part)


# --- weights -----------------------------------------------------------------------------------------------
def _weights_from(data: Mapping[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    errors: list[FieldError] = []
    values = []
    for name in ("behaviour", "attribute", "predicted"):
        try:
            value = Decimal(str(data.get(name)).strip())
            if not value.is_finite() or value < 0 or value > 1 or value != value.quantize(Decimal("0.0001")):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors.append(FieldError(name, _("权重必须是 0 到 1 之间的数，最多四位小数。"), "invalid"))
            value = Decimal(0)
        values.append(value)
    if not errors and sum(values) != 1:
        errors.append(FieldError("behaviour", _("三个权重之和必须等于 1（现在是 %(sum)s）。") % {"sum": sum(values)},
                                 "sum"))
    if not errors and values[0] + values[1] == 0:
        errors.append(FieldError("behaviour", _("行为积分和属性评分的权重不能都是 0。"), "invalid"))
    if errors:
        raise ValidationFailed(_("评分权重填写有误。"), errors=errors)
    return values[0], values[1], values[2]


@transaction.atomic
def weights_propose(*, actor: User | None, data: Mapping[str, Any], quality_before: float | None = None,
                    quality_after: float | None = None, sample_count: int = 0,
                    apply: bool = False) -> ScoringWeights:
    """Record proposed weights (an admin's, or the recalibration's with actor None). `apply`
    applies them at once (the recalibration when L2C_SCORING_WEIGHTS_AUTO_APPLY is on)."""
    if actor is not None:
        _require_manage(actor)
    behaviour, attribute, predicted = _weights_from(data)
    row = ScoringWeights.objects.create(behaviour=behaviour, attribute=attribute, predicted=predicted,
                                        quality_before=quality_before, quality_after=quality_after,
                                        sample_count=sample_count)
    audit_record(object_type="scoring_weights", object_id=row.pk, action=AuditEvent.Kind.CREATE,
                 actor_id=actor.pk if actor else None, object_repr=str(row),
                 changes={"weights": [None, [str(behaviour), str(attribute), str(predicted)]],
                          "quality": [quality_before, quality_after]})
    if apply:
        return _weights_decide(actor=actor, row=row, approve=True)
    return row


def _weights_decide(*, actor: User | None, row: ScoringWeights, approve: bool) -> ScoringWeights:
    now = timezone.now()
    # Compare-and-set: only a proposed row is decided, once.
    status = ScoringWeights.Status.APPLIED if approve else ScoringWeights.Status.REJECTED
    updated = ScoringWeights.objects.filter(pk=row.pk, status=ScoringWeights.Status.PROPOSED).update(
        status=status, decided_at=now, decided_by=actor)
    if updated != 1:
        raise Conflict(_("这组权重已经处理过了。"))
    if approve:
        ScoringWeights.objects.filter(status=ScoringWeights.Status.APPLIED).exclude(pk=row.pk).update(
            status=ScoringWeights.Status.SUPERSEDED)
    row.refresh_from_db()
    audit_record(object_type="scoring_weights", object_id=row.pk, action=AuditEvent.Kind.UPDATE,
                 actor_id=actor.pk if actor else None, object_repr=str(row),
                 changes={"status": [ScoringWeights.Status.PROPOSED, status]})
    if approve:
        scoring_config_invalidate()
        transaction.on_commit(scoring_config_invalidate)
        rescore_all_request(actor=actor)
    return row


@transaction.atomic
def weights_approve(*, actor: User, weights_id: int) -> ScoringWeights:
    """Apply proposed weights (admins): the previous applied row is superseded; all leads are
    rescored by a job."""
    _require_manage(actor)
    row = ScoringWeights.objects.filter(pk=weights_id).first()
    if row is None:
        raise NotFound(_("没有 ID 为 %(id)s 的评分权重。") % {"id": weights_id})
    return _weights_decide(actor=actor, row=row, approve=True)


@transaction.atomic
def weights_reject(*, actor: User, weights_id: int) -> ScoringWeights:
    _require_manage(actor)
    row = ScoringWeights.objects.filter(pk=weights_id).first()
    if row is None:
        raise NotFound(_("没有 ID 为 %(id)s 的评分权重。") % {"id": weights_id})
    return _weights_decide(actor=actor, row=row, approve=False)


# --- jobs ----------------------------------------------------------------------------------------------------
def _request(*, actor: User | None, name: str, task: Any, trigger: str) -> JobRun:
    from l2c.apps.activity.jobs import job_enqueue

    waiting = JobRun.objects.filter(name=name, status=JobRun.Status.QUEUED).order_by("-id").first()
    if waiting is not None:
        return waiting
    run = job_enqueue(task=task, name=name, actor=actor, arguments={"trigger": trigger})
    assert run is not None  # no unique key: always created
    return run


def rescore_all_request(*, actor: User | None, trigger: str = "manual") -> JobRun:
    """Queue a rescore of every lead (one already queued is returned instead)."""
    from .scoring_tasks import scoring_rescore_task

    if actor is not None:
        _require_manage(actor)
    return _request(actor=actor, name=RESCORE_JOB, task=scoring_rescore_task, trigger=trigger)


def retrain_request(*, actor: User) -> JobRun:
    from .scoring_tasks import scoring_retrain_task

    _require_manage(actor)
    return _request(actor=actor, name=RETRAIN_JOB, task=scoring_retrain_task, trigger="manual")


def recalibrate_request(*, actor: User) -> JobRun:
    from .scoring_tasks import scoring_recalibrate_task

    _require_manage(actor)
    return _request(actor=actor, name=RECALIBRATE_JOB, task=scoring_recalibrate_task, trigger="manual")


def last_runs() -> dict[str, JobRun | None]:
    return {name: JobRun.objects.filter(name=name).order_by("-id").first()
            for name in (RESCORE_JOB, RETRAIN_JOB, RECALIBRATE_JOB)}


def band_counts() -> dict[str, int]:
    return dict(Lead.objects.values_list("score_band").annotate(total=Count("pk")).order_by())
