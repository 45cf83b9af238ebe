"""Writes of tender intelligence (招投标, ADR 0004): ingest batches, incremental matching and pushes,
subscriptions and the inbox.

- Ingest (`tender_batch_ingest`, API batch and file import): every item is validated first; any bad
  item (index, source notice id, field, why) rejects the whole batch and nothing is stored. A notice
  is identified by (source, source_notice_id): one stored before is reported `unchanged` and left
  as it was; the same pair twice in one batch is a `duplicate` of the first. New notices are inserted
  set-based, the batch audited, and the matching job enqueued after commit.
- Matching (`tender_notices_match`) is incremental: it claims the notices not matched yet
  (`matched_at IS NULL`) in id order, chunk by chunk, matches them against the active subscriptions
  with one automaton built per run, stores the matches (unique per subscription and notice: a
  notice is never pushed twice, even by two concurrent runs) and marks the notices matched. A new
  subscription therefore sees notices arriving after it, not older ones (use "search existing").
- Pushes (an outbox on TenderMatch): after matching, each run notifies every match not notified
  yet — ONE in-app notification per user summarising their count, written in the transaction that
  marks the matches (compare-and-set: never twice) — and POSTs the webhooks due (claimed before
  sending; failures are logged on the job run, never undo the matching and are retried with a
  back-off up to WEBHOOK_MAX_ATTEMPTS). A run that died after committing matches therefore loses
  no push: the next run (or the periodic job) sends it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from l2c.apps.activity.audit import audit_record, snapshot
from l2c.apps.activity.models import AuditEvent, Notification
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines.matching import Matcher, MatchResult, Notice, Subscription, split_region
from l2c.kernel.errors import FieldError, PermissionDenied, ValidationFailed

from .models import NoticeKind, TenderBatch, TenderMatch, TenderNotice, TenderSubscription

logger = logging.getLogger(__name__)

MAX_BATCH = 1000  # notices per API request
MATCH_CHUNK = 1000  # notices claimed and matched per transaction
NOTIFICATION_KIND = "tender_match"
NOTIFICATION_NOTICES_LISTED = 10
WEBHOOK_TIMEOUT_SECONDS = 5
WEBHOOK_NOTICES_MAX = 500  # matches per POST; more go in further POSTs
WEBHOOK_MAX_ATTEMPTS = 5  # per match; then it is given up (it stays in the inbox)
WEBHOOK_RETRY_AFTER = dt.timedelta(minutes=1)  # doubled after each failed attempt
WEBHOOK_LEASE = dt.timedelta(minutes=5)  # a claimed POST in flight; after a crash it is due again
NOTICE_LIMITS = {"source": 50, "source_notice_id": 100, "title": 300, "buyer_name": 200, "province": 30,
                 "city": 30, "url": 500, "content": 100_000}
CATEGORY_MAX = 20
CATEGORY_LENGTH = 50
SUBSCRIPTION_WORDS_MAX = 20
WORD_LENGTH = 50
REGIONS_MAX = 30
MAX_AMOUNT = 10**16  # fen
SEARCH_DAYS_MAX = 90
YEAR_MIN, YEAR_MAX = 1900, 2200  # of publish dates and deadlines: anything else is a typo
NUL = "\x00"  # PostgreSQL text cannot hold it
SEARCH_SCAN_MAX = 20_000
SEARCH_RESULTS_MAX = 200


class BatchRejected(ValidationFailed):
    """A batch with invalid items: nothing was stored. `items` lists each problem with the item's
    index and source notice id (also in `errors`, field `items.<index>.<name>`)."""

    def __init__(self, detail: str, *, errors: Sequence[FieldError], items: list[dict[str, Any]]) -> None:
        super().__init__(detail, errors=errors)
        self.items = items

    def to_problem(self, instance: str | None = None) -> Any:
        problem: dict[str, Any] = dict(super().to_problem(instance))
        problem["items"] = self.items
        return problem


# --- cleaning -------------------------------------------------------------------------------------
def kind_from_text(text: str) -> str | None:
    """A notice kind from its value or its label in Chinese or English (case-insensitive)."""
    value = (text or "").strip()
    if value in NoticeKind.values:
        return value
    lowered = value.lower()
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for kind, label in NoticeKind.choices:
                if str(label).lower() == lowered:
                    return str(kind)
    return None


def _text(values: Mapping[str, Any], name: str) -> str:
    raw = values.get(name)
    return "" if raw is None else str(raw).strip()


def split_words(raw: Any) -> list[str]:
    """Words from a list or from text separated by commas, semicolons, 、 or new lines."""
    if raw is None:
        return []
    if isinstance(raw, str):
        for separator in ("，", "；", ";", "、", "\n", "\r"):
            raw = raw.replace(separator, ",")
        raw = raw.split(",")
    return [str(item).strip() for item in raw if str(item).strip()]


def amount_from_yuan(text: str) -> int | None:
    """元 with at most two decimals (thousands separators and ¥ allowed) → fen; ValueError when invalid."""
    cleaned = (text or "").strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(cleaned) from None
    if not value.is_finite() or value < 0 or value.as_tuple().exponent < -2 or value * 100 > MAX_AMOUNT:  # type: ignore[operator]
        raise ValueError(cleaned)
    return int(value * 100)


def clean_notice(values: Mapping[str, Any], *, prefix: str = "", row: int | None = None) -> tuple[dict[str, Any],
                                                                                                  list[FieldError]]:
    """One incoming notice: (clean values, errors named `prefix + field`, `row` set for import rows)."""
    errors: list[FieldError] = []

    def error(name: str, message: str, code: str = "invalid") -> None:
        errors.append(FieldError(prefix + name, message, code, row))

    clean: dict[str, Any] = {}
    for name, limit in NOTICE_LIMITS.items():
        text = _text(values, name) if name != "content" else str(values.get("content") or "")
        if not text.strip() and name in ("source", "source_notice_id", "title"):
            error(name, _("此项为必填项。"), "required")
        elif len(text) > limit:
            error(name, _("最多 %(limit)s 个字符（现有 %(length)s 个）。") % {"limit": limit, "length": len(text)},
                  "too_long")
        if NUL in text:
            error(name, _("不能包含 NUL 字符。"), "null_character")
        clean[name] = text
    if clean.get("url") and NUL not in clean["url"]:
        try:
            URLValidator(schemes=["http", "https"])(clean["url"])
        except DjangoValidationError:
            error("url", _("必须是以 http:// 或 https:// 开头的网址。"), "invalid_url")
    kind_text = _text(values, "kind")
    clean["kind"] = NoticeKind.TENDER
    if NUL in kind_text:
        error("kind", _("不能包含 NUL 字符。"), "null_character")
    elif kind_text:
        kind = kind_from_text(kind_text)
        if kind is None:
            error("kind", _("未知的公告类型“%(value)s”；可选：%(values)s。")
                  % {"value": kind_text[:50], "values": ", ".join(NoticeKind.values)}, "invalid_choice")
        else:
            clean["kind"] = kind
    amount = values.get("budget_amount")
    clean["budget_amount"] = None
    if amount not in (None, ""):
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0 or amount > MAX_AMOUNT:
            error("budget_amount", _("必须是不小于 0 的整数（单位：分）。"), "invalid_amount")
        else:
            clean["budget_amount"] = amount
    currency = _text(values, "currency").upper() or "CNY"
    if NUL in currency:
        error("currency", _("不能包含 NUL 字符。"), "null_character")
    elif len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        error("currency", _("必须是三位字母的币种代码，如 CNY。"), "invalid_currency")
    clean["currency"] = currency
    published = values.get("published_on")
    clean["published_on"] = None
    if isinstance(published, dt.datetime):
        published = published.date()
    if not isinstance(published, dt.date) and published not in (None, ""):
        try:
            published = dt.date.fromisoformat(str(published).strip())
        except ValueError:
            published = None
            error("published_on", _("日期格式应为 YYYY-MM-DD。"), "invalid_date")
    if isinstance(published, dt.date):
        if YEAR_MIN <= published.year <= YEAR_MAX:
            clean["published_on"] = published
        else:
            error("published_on", _("年份须在 %(low)s 到 %(high)s 之间。") % {"low": YEAR_MIN, "high": YEAR_MAX},
                  "invalid_date")
    deadline = values.get("deadline_at")
    clean["deadline_at"] = None
    parsed: dt.datetime | None = deadline if isinstance(deadline, dt.datetime) else None
    if parsed is None and deadline not in (None, ""):
        text = str(deadline).strip()
        try:
            parsed = parse_datetime(text) or (dt.datetime.fromisoformat(text) if len(text) == 10 else None)
        except ValueError:
            parsed = None
        if parsed is None:
            error("deadline_at", _("时间格式应为 YYYY-MM-DD HH:MM。"), "invalid_datetime")
    if parsed is not None:
        # Stored in UTC: converted here, so that a time the database cannot hold (year 1 in a zone
        # east of UTC, say) is an error of this field and never a failed save.
        try:
            utc = (parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)).astimezone(dt.UTC)
        except (OverflowError, ValueError):
            utc = None
        if utc is None or not YEAR_MIN <= parsed.year <= YEAR_MAX or not YEAR_MIN <= utc.year <= YEAR_MAX:
            error("deadline_at", _("年份须在 %(low)s 到 %(high)s 之间。") % {"low": YEAR_MIN, "high": YEAR_MAX},
                  "invalid_datetime")
        else:
            clean["deadline_at"] = utc
    categories = split_words(values.get("categories"))
    if len(categories) > CATEGORY_MAX:
        error("categories", _("最多 %(limit)s 个品目。") % {"limit": CATEGORY_MAX}, "too_many")
    elif any(len(category) > CATEGORY_LENGTH for category in categories):
        error("categories", _("每个品目最多 %(limit)s 个字符。") % {"limit": CATEGORY_LENGTH}, "too_long")
    if any(NUL in category for category in categories):
        error("categories", _("不能包含 NUL 字符。"), "null_character")
    clean["categories"] = list(dict.fromkeys(categories))
    return clean, errors


# --- ingest ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestItem:
    """What became of one incoming item: `created`, `unchanged` (stored before, left as it was) or
    `duplicate` (repeats the item `duplicate_of` of the same batch)."""

    index: int
    source: str
    source_notice_id: str
    status: str
    id: int | None
    duplicate_of: int | None = None


@dataclass(frozen=True)
class IngestResult:
    batch_id: int
    items: list[IngestItem]

    @property
    def created(self) -> int:
        return sum(1 for item in self.items if item.status == "created")

    @property
    def unchanged(self) -> int:
        return len(self.items) - self.created


def _stored_ids(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int | None]]:
    """{(source, source notice id): (notice id, batch id)} of the stored notices among `pairs`."""
    by_source: dict[str, list[str]] = {}
    for source, notice_id in pairs:
        by_source.setdefault(source, []).append(notice_id)
    found: dict[tuple[str, str], tuple[int, int | None]] = {}
    for source, notice_ids in by_source.items():
        for start in range(0, len(notice_ids), 5000):
            rows = TenderNotice.objects.filter(source=source, source_notice_id__in=notice_ids[start:start + 5000])
            for pk, notice_id, batch_id in rows.values_list("pk", "source_notice_id", "batch_id"):
                found[(source, notice_id)] = (pk, batch_id)
    return found


def notices_write(*, actor: User | None, items: Sequence[Mapping[str, Any]], via: str) -> IngestResult:
    """Store the clean items that are new, in one batch; audit it; enqueue matching after commit.
    Call inside a transaction. Concurrent batches holding the same notices are safe: the insert
    ignores conflicts and a notice counts as created only by the batch that stored it."""
    batch = TenderBatch.objects.create(created_by=actor, via=via, received_count=len(items))
    first_index: dict[tuple[str, str], int] = {}
    new_rows: list[TenderNotice] = []
    for index, item in enumerate(items):
        key = (item["source"], item["source_notice_id"])
        if key not in first_index:
            first_index[key] = index
            new_rows.append(TenderNotice(
                source=item["source"], source_notice_id=item["source_notice_id"], kind=item["kind"],
                title=item["title"], buyer_name=item.get("buyer_name") or "", province=item.get("province") or "",
                city=item.get("city") or "", budget_amount=item.get("budget_amount"),
                currency=item.get("currency") or "CNY", published_on=item.get("published_on"),
                deadline_at=item.get("deadline_at"), categories=item.get("categories") or [],
                content=item.get("content") or "", url=item.get("url") or "", batch=batch,
            ))
    # In key order, so two batches holding the same notices in other orders cannot deadlock.
    TenderNotice.objects.bulk_create(sorted(new_rows, key=lambda row: (row.source, row.source_notice_id)),
                                     batch_size=500, ignore_conflicts=True)
    stored = _stored_ids(first_index)
    results = []
    for index, item in enumerate(items):
        key = (item["source"], item["source_notice_id"])
        notice_id, batch_id = stored.get(key, (None, None))
        if first_index[key] != index:
            status, duplicate_of = "duplicate", first_index[key]
        else:
            status, duplicate_of = ("created" if batch_id == batch.pk else "unchanged"), None
        results.append(IngestItem(index, key[0], key[1], status, notice_id, duplicate_of))
    result = IngestResult(batch.pk, results)
    batch.created_count = result.created
    batch.unchanged_count = result.unchanged
    if not result.created:
        batch.matched_at = timezone.now()  # nothing of its own to match
    batch.save(update_fields=["created_count", "unchanged_count", "matched_at"])
    audit_record(object_type="tender_batch", object_id=batch.pk, action=AuditEvent.Kind.IMPORT,
                 actor_id=actor.pk if actor else None, object_repr=f"#{batch.pk}",
                 changes={"via": [None, via], "received": [None, len(items)], "created": [None, result.created],
                          "unchanged": [None, result.unchanged]},
                 summary=f"tender batch via {via}: {result.created} created, {result.unchanged} unchanged")
    if result.created:
        matching_enqueue(actor=actor)
    return result


def matching_enqueue(*, actor: User | None = None) -> None:
    """Enqueue the matching job once the surrounding transaction commits."""
    from l2c.apps.activity.jobs import job_enqueue

    from .tasks import tender_notices_match_task

    job_enqueue(task=tender_notices_match_task, name="tenders.notices_match", actor=actor)


def _require_import(actor: User) -> None:
    if not access.can(actor, "tender_notice", "import"):
        raise PermissionDenied(_("你没有写入招投标公告的权限（需要招投标公告的导入权限）。"))


@transaction.atomic
def tender_batch_ingest(*, actor: User, items: Sequence[Mapping[str, Any]], via: str = "api") -> IngestResult:
    """Ingest a batch of notices: all or nothing. Every item is validated first; any error rejects
    the batch (422 listing every problem: index, source notice id, field, message)."""
    _require_import(actor)
    if not items:
        raise ValidationFailed(_("没有要写入的招投标公告。"),
                               errors=[FieldError("items", _("请至少提供一条公告。"), "required")])
    if len(items) > MAX_BATCH:
        message = _("一次最多 %(limit)s 条公告（收到 %(count)s 条）。") % {"limit": MAX_BATCH, "count": len(items)}
        raise ValidationFailed(message, errors=[FieldError("items", message, "too_many")])
    errors: list[FieldError] = []
    problems: list[dict[str, Any]] = []
    cleans = []
    for index, values in enumerate(items):
        clean, item_errors = clean_notice(values, prefix=f"items.{index}.")
        cleans.append(clean)
        errors.extend(item_errors)
        problems.extend({"index": index, "source_notice_id": clean.get("source_notice_id", "")[:100],
                         "field": error.field.rsplit(".", 1)[-1], "message": error.message, "code": error.code}
                        for error in item_errors)
    if errors:
        bad = len({problem["index"] for problem in problems})
        message = ngettext("%(count)s 条公告有误，整批都没有写入。", "%(count)s 条公告有误，整批都没有写入。", bad)
        raise BatchRejected(message % {"count": bad}, errors=errors, items=problems)
    return notices_write(actor=actor, items=cleans, via=via)


# --- matching -------------------------------------------------------------------------------------
def subscription_spec(subscription: TenderSubscription) -> Subscription:
    """The engine's view of a subscription."""
    return Subscription(
        subscription_id=subscription.pk, keywords=tuple(subscription.keywords or ()),
        match_all=subscription.match_all, excluded_words=tuple(subscription.excluded_words or ()),
        regions=tuple(subscription.regions or ()), budget_min=subscription.budget_min,
        budget_max=subscription.budget_max, kinds=tuple(subscription.kinds or ()),
    )


NOTICE_MATCH_FIELDS = ("pk", "title", "buyer_name", "content", "province", "city", "budget_amount", "kind")


def notice_spec(row: Mapping[str, Any]) -> Notice:
    return Notice(notice_id=row["pk"], title=row["title"], buyer_name=row["buyer_name"], content=row["content"],
                  province=row["province"], city=row["city"], budget_amount=row["budget_amount"], kind=row["kind"])


def receiving_user_ids() -> set[int]:
    """Active users who may read notices: only their subscriptions are matched (set-based)."""
    granted = Q(is_superuser=True) | Q(roles__code="admin") | Q(
        roles__permissions__object_type="tender_notice", roles__permissions__can_view=True)
    return set(User.objects.filter(is_active=True).filter(granted).values_list("pk", flat=True).distinct())


def active_subscriptions() -> list[TenderSubscription]:
    receivers = receiving_user_ids()
    return [subscription for subscription in TenderSubscription.objects.filter(is_active=True).order_by("pk")
            if subscription.user_id in receivers]


@dataclass
class MatchRun:
    """What one matching run did: notices matched, matches stored (new ones), notifications written
    and webhook POSTs sent, failed (will be retried) and abandoned (matches given up on)."""

    notices: int = 0
    matches: int = 0
    notifications: int = 0
    webhooks_sent: int = 0
    webhook_failures: list[str] = field(default_factory=list)
    webhooks_abandoned: int = 0  # matches whose webhook failed WEBHOOK_MAX_ATTEMPTS times


def _claim_chunk(after: int, size: int) -> list[dict[str, Any]]:
    """The next unmatched notices after id `after`, locked for this run (PostgreSQL: rows another
    run holds are skipped; SQLite: the IMMEDIATE transaction already excludes other writers)."""
    rows = TenderNotice.objects.filter(matched_at__isnull=True, pk__gt=after).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    return list(rows.values(*NOTICE_MATCH_FIELDS)[:size])


def tender_notices_match(*, chunk: int = MATCH_CHUNK, run_id: int | None = None) -> MatchRun:
    """Match every notice not matched yet against the active subscriptions and store the new
    matches; then push from the outbox: one notification per user for all their matches not
    notified yet, and the webhooks due. Incremental and idempotent: a notice is claimed by one run
    only, a (subscription, notice) match is stored once and notified once, even when a run died
    after committing matches (the next run, or the periodic job, pushes them)."""
    subscriptions = active_subscriptions()
    by_id = {subscription.pk: subscription for subscription in subscriptions}
    matcher = Matcher.build(subscription_spec(subscription) for subscription in subscriptions)
    run = MatchRun()
    after = 0
    while True:
        with transaction.atomic():
            rows = _claim_chunk(after, chunk)
            if not rows:
                break
            ids = [row["pk"] for row in rows]
            after = ids[-1]
            results: dict[int, list[MatchResult]] = {}
            if matcher.subscription_count:
                results = matcher.match_many(notice_spec(row) for row in rows)
            existing = set(TenderMatch.objects.filter(notice_id__in=ids).values_list("subscription_id", "notice_id"))
            now = timezone.now()
            new_rows = [
                TenderMatch(subscription_id=result.subscription_id, notice_id=notice_id,
                            user_id=by_id[result.subscription_id].user_id,
                            matched_keywords=list(result.matched_keywords),
                            # Without a webhook there is nothing to send: the step is done.
                            webhook_sent_at=None if by_id[result.subscription_id].webhook_url else now)
                for notice_id, found in results.items() for result in found
                if (result.subscription_id, notice_id) not in existing
            ]
            TenderMatch.objects.bulk_create(new_rows, batch_size=1000, ignore_conflicts=True)
            TenderNotice.objects.filter(pk__in=ids, matched_at__isnull=True).update(matched_at=now)
            run.notices += len(ids)
            run.matches += len(new_rows)
        if run_id is not None:
            from l2c.apps.activity.jobs import job_log, job_progress

            job_progress(run_id, run.notices)
            job_log(run_id, f"notices up to #{after}: {run.notices} matched so far, {run.matches} new matches")
    # A batch is matched once none of its notices waits any more.
    TenderBatch.objects.filter(matched_at__isnull=True).exclude(notices__matched_at__isnull=True).update(
        matched_at=timezone.now())
    notify_failure: Exception | None = None
    try:
        with transaction.atomic():
            run.notifications = _notify_pending()
    except Exception as error:  # the webhooks are still due; the job fails afterwards (visible, retried)
        notify_failure = error
        _log(run_id, f"notifications failed: {error.__class__.__name__}: {error}")
    _webhooks_deliver(run=run, run_id=run_id)
    if notify_failure is not None:
        raise notify_failure
    return run


def _log(run_id: int | None, line: str) -> None:
    logger.warning(line)
    if run_id is not None:
        from l2c.apps.activity.jobs import job_log

        job_log(run_id, line)


def _in_list(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _inbox_url() -> str:
    try:
        return reverse("tenders:inbox")
    except NoReverseMatch:
        return ""


def _claim_unnotified() -> list[tuple[int, int]]:
    """Mark every match not notified yet as notified, in one compare-and-set statement: (match id,
    user id) of the rows this call marked. A concurrent run blocks on the same rows (PostgreSQL
    re-checks `notified_at IS NULL` after the other commits; SQLite has one writer) and never gets
    a row twice. Call inside the transaction that writes the notifications."""
    table = connection.ops.quote_name(TenderMatch._meta.db_table)
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET notified_at = %s WHERE notified_at IS NULL "  # noqa: S608
                       f"RETURNING id, user_id", [stamp])
        return [(int(pk), int(user_id)) for pk, user_id in cursor.fetchall()]


def _notify_pending() -> int:
    """One in-app notification per user for all their matches not notified yet: how many, and
    the newest few titles. Written in the recipient's language (what
    `activity.services.notification_send` writes, in bulk). Matches of inactive users are marked
    without a notification. Call inside a transaction: the marks and the notifications commit
    together."""
    by_user: dict[int, list[int]] = {}
    for pk, user_id in _claim_unnotified():
        by_user.setdefault(user_id, []).append(pk)
    if not by_user:
        return 0
    users = {user.pk: user for user in User.objects.filter(pk__in=list(by_user), is_active=True)}
    newest: dict[int, list[tuple[Any, int, str]]] = {}
    match_ids = [pk for user_id, pks in by_user.items() if user_id in users for pk in pks]
    for start in range(0, len(match_ids), 5000):
        rows = (TenderMatch.objects.filter(pk__in=match_ids[start:start + 5000])
                .values_list("user_id", "notice__published_on", "notice_id", "notice__title"))
        for user_id, published_on, notice_id, title in rows:
            newest.setdefault(user_id, []).append((published_on or dt.date.min, notice_id, title))
    url = _inbox_url()
    notifications = []
    for user_id, pks in sorted(by_user.items()):
        user = users.get(user_id)
        if user is None:
            continue
        titles: list[str] = []
        for _published, _notice, title in sorted(newest.get(user_id, []), reverse=True):
            if title not in titles:
                titles.append(title)
                if len(titles) >= NOTIFICATION_NOTICES_LISTED:
                    break
        count = len(pks)
        with translation.override(user.language or settings.LANGUAGE_CODE):
            heading = ngettext("招投标订阅：%(count)s 条新匹配的公告", "招投标订阅：%(count)s 条新匹配的公告",
                               count) % {"count": count}
            lines = [f"· {text}" for text in titles]
            if count > len(lines):
                more = count - len(lines)
                lines.append(ngettext("另有 %(count)s 条", "另有 %(count)s 条", more) % {"count": more})
        notifications.append(Notification(recipient=user, kind=NOTIFICATION_KIND, title=heading[:200],
                                          body="\n".join(lines), url=url))
    Notification.objects.bulk_create(notifications, batch_size=1000)
    return len(notifications)


# --- webhooks -------------------------------------------------------------------------------------
def webhook_allowed_hosts() -> set[str]:
    configured = getattr(settings, "L2C_WEBHOOK_ALLOWED_HOSTS", None)
    if configured is None:
        configured = ["127.0.0.1", "localhost", "::1"]
    return {str(host).strip().lower().strip("[]") for host in configured if str(host).strip()}


def webhook_url_problem(url: str) -> str | None:
    """Why a webhook URL may not be used (None when it may): http(s) only, and only to the hosts
    of the setting L2C_WEBHOOK_ALLOWED_HOSTS (default: this machine's loopback)."""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        return _("必须是以 http:// 或 https:// 开头的网址。")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        return _("网址中不能包含用户名或密码。")
    allowed = webhook_allowed_hosts()
    if host in allowed:
        return None
    try:
        if ipaddress.ip_address(host).is_loopback and {"127.0.0.1", "::1", "localhost"} & allowed:
            return None
    except ValueError:
        pass
    return _("不允许发送到主机 %(host)s；允许的主机：%(hosts)s。") % {"host": host or "?",
                                                                   "hosts": ", ".join(sorted(allowed)) or "—"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead anywhere: webhooks never follow one."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def webhook_payload(*, subscription: TenderSubscription, match_ids: Sequence[int]) -> dict[str, Any]:
    """The JSON body of one POST: the given matches of the subscription (at most WEBHOOK_NOTICES_MAX),
    each notice with its match id (receivers may drop a match id seen before: delivery is at least
    once)."""
    rows = (TenderMatch.objects.filter(pk__in=list(match_ids)[:WEBHOOK_NOTICES_MAX]).select_related("notice")
            .order_by("notice_id"))
    notices = []
    for match in rows:
        notice = match.notice
        notices.append({
            "id": notice.pk, "match_id": match.pk, "source": notice.source,
            "source_notice_id": notice.source_notice_id,
            "kind": notice.kind, "title": notice.title, "buyer_name": notice.buyer_name,
            "province": notice.province, "city": notice.city, "budget_amount": notice.budget_amount,
            "currency": notice.currency,
            "published_on": notice.published_on.isoformat() if notice.published_on else None,
            "deadline_at": notice.deadline_at.isoformat() if notice.deadline_at else None,
            "url": notice.url, "matched_keywords": match.matched_keywords,
        })
    return {"event": "tender.matched", "subscription_id": subscription.pk, "subscription_name": subscription.name,
            "count": len(notices), "notices": notices}


def _webhook_post(*, subscription: TenderSubscription, match_ids: Sequence[int]) -> None:
    """POST the matches to the subscription's webhook; raises on any failure."""
    url = subscription.webhook_url
    problem = webhook_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    body = json.dumps(webhook_payload(subscription=subscription, match_ids=match_ids), ensure_ascii=False).encode()
    # The scheme is http(s), checked by webhook_url_problem just above.
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "L2C-tenders-webhook/1"})
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        status = response.status
    if status >= 300:
        raise ValueError(f"HTTP {status}")


def _claim_webhook(match_ids: Sequence[int], now: dt.datetime) -> list[tuple[int, int]]:
    """Claim the due matches among `match_ids` for one POST, compare-and-set: count the attempt and
    hold them for WEBHOOK_LEASE (another run skips them meanwhile; after a crash they are due again
    when the lease ends). Returns (match id, attempts including this one) of the rows claimed."""
    ops = connection.ops
    table = ops.quote_name(TenderMatch._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET webhook_attempts = webhook_attempts + 1, webhook_next_at = %s "  # noqa: S608
            f"WHERE id IN ({_in_list(match_ids)}) AND webhook_sent_at IS NULL AND webhook_attempts < %s "
            f"AND (webhook_next_at IS NULL OR webhook_next_at <= %s) RETURNING id, webhook_attempts",
            [ops.adapt_datetimefield_value(now + WEBHOOK_LEASE), *match_ids, WEBHOOK_MAX_ATTEMPTS,
             ops.adapt_datetimefield_value(now)])
        return sorted((int(pk), int(attempts)) for pk, attempts in cursor.fetchall())


def _webhooks_deliver(*, run: MatchRun, run_id: int | None) -> None:
    """Send the webhooks due: per subscription, its matches not sent yet, WEBHOOK_NOTICES_MAX per POST,
    each POST claimed first (`_claim_webhook`). A failure is logged (job run log and the application
    log), never undoes the matching, and is retried by a later run after a back-off (1, 2, 4, 8
    minutes) until WEBHOOK_MAX_ATTEMPTS; then those matches are given up (logged; they stay in the
    inbox). Delivery is at least once: a crash between the POST and its mark sends it again."""
    now = timezone.now()
    # Matches of subscriptions that have no webhook (any more): nothing to send.
    TenderMatch.objects.filter(webhook_sent_at__isnull=True, subscription__webhook_url="").update(webhook_sent_at=now)
    due = (TenderMatch.objects.filter(webhook_sent_at__isnull=True, webhook_attempts__lt=WEBHOOK_MAX_ATTEMPTS)
           .filter(Q(webhook_next_at__isnull=True) | Q(webhook_next_at__lte=now)))
    subscription_ids = sorted(set(due.values_list("subscription_id", flat=True)))
    subscriptions = TenderSubscription.objects.in_bulk(subscription_ids)
    for subscription_id in subscription_ids:
        subscription = subscriptions.get(subscription_id)
        if subscription is None:
            continue
        after = 0
        while True:
            candidates = list(due.filter(subscription_id=subscription_id, pk__gt=after).order_by("pk")
                              .values_list("pk", flat=True)[:WEBHOOK_NOTICES_MAX])
            if not candidates:
                break
            after = candidates[-1]
            claimed = _claim_webhook(candidates, now)
            if not claimed:
                continue
            claimed_ids = [pk for pk, _attempts in claimed]
            try:
                _webhook_post(subscription=subscription, match_ids=claimed_ids)
            except Exception as error:  # any failure of the receiver must not break matching
                attempts = max(count for _pk, count in claimed)
                line = (f"webhook of subscription #{subscription.pk} failed (attempt {attempts} of "
                        f"{WEBHOOK_MAX_ATTEMPTS}, {len(claimed_ids)} matches): {error.__class__.__name__}: {error}")
                run.webhook_failures.append(line)
                _log(run_id, line)
                retry_at = timezone.now() + WEBHOOK_RETRY_AFTER * 2 ** (attempts - 1)
                TenderMatch.objects.filter(pk__in=claimed_ids).update(webhook_next_at=retry_at)
                abandoned = sum(1 for _pk, count in claimed if count >= WEBHOOK_MAX_ATTEMPTS)
                if abandoned:
                    run.webhooks_abandoned += abandoned
                    _log(run_id, f"webhook of subscription #{subscription.pk}: gave up on {abandoned} matches "
                                 f"after {WEBHOOK_MAX_ATTEMPTS} attempts (they stay in the inbox)")
                break  # the receiver is failing: its other matches wait for the retry
            TenderMatch.objects.filter(pk__in=claimed_ids).update(webhook_sent_at=timezone.now(), webhook_next_at=None)
            run.webhooks_sent += 1


# --- subscriptions --------------------------------------------------------------------------------
SUBSCRIPTION_FIELDS = ("name", "keywords", "match_all", "excluded_words", "regions", "budget_min", "budget_max",
                       "kinds", "webhook_url", "is_active")


def _bounded_words(raw: Any, name: str, errors: list[FieldError], *, required: bool = False) -> list[str]:
    words = list(dict.fromkeys(split_words(raw)))
    if required and not words:
        errors.append(FieldError(name, _("请至少填写一个关键词。"), "required"))
    if len(words) > SUBSCRIPTION_WORDS_MAX:
        errors.append(FieldError(name, _("最多 %(limit)s 个。") % {"limit": SUBSCRIPTION_WORDS_MAX}, "too_many"))
    too_long = [word for word in words if len(word) > WORD_LENGTH]
    if too_long:
        errors.append(FieldError(name, _("“%(word)s…”太长：每个最多 %(limit)s 个字符。")
                                 % {"word": too_long[0][:10], "limit": WORD_LENGTH}, "too_long"))
    return words


def _amount(raw: Any, name: str, errors: list[FieldError]) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0 or raw > MAX_AMOUNT:
        errors.append(FieldError(name, _("必须是不小于 0 的整数（单位：分）。"), "invalid_amount"))
        return None
    return raw


def _has_nul(raw: Any) -> bool:
    """Whether text, or an item of a list of texts, holds a NUL character."""
    if isinstance(raw, str):
        return NUL in raw
    if isinstance(raw, list | tuple):
        return any(isinstance(item, str) and NUL in item for item in raw)
    return False


def clean_subscription(data: Mapping[str, Any], *, current: TenderSubscription | None = None) -> dict[str, Any]:
    """Validated subscription fields (the keys of `data` only when updating `current`)."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    keys = [key for key in SUBSCRIPTION_FIELDS if current is None or key in data]
    for key in keys:
        raw = data.get(key)
        if _has_nul(raw):
            errors.append(FieldError(key, _("不能包含 NUL 字符。"), "null_character"))
            continue
        if key == "name":
            name = str(raw or "").strip()
            if not name:
                errors.append(FieldError("name", _("此项为必填项。"), "required"))
            elif len(name) > 100:
                errors.append(FieldError("name", _("最多 %(limit)s 个字符（现有 %(length)s 个）。")
                                         % {"limit": 100, "length": len(name)}, "too_long"))
            values["name"] = name
        elif key == "keywords":
            values["keywords"] = _bounded_words(raw, "keywords", errors, required=True)
        elif key == "excluded_words":
            values["excluded_words"] = _bounded_words(raw, "excluded_words", errors)
        elif key == "regions":
            regions = list(dict.fromkeys(split_words(raw)))
            if len(regions) > REGIONS_MAX:
                errors.append(FieldError("regions", _("最多 %(limit)s 个。") % {"limit": REGIONS_MAX}, "too_many"))
            for region in regions:
                parts = region.replace("／", "/").split("/")
                if not split_region(region)[0] or len(parts) > 2 or any(len(part.strip()) > 30 for part in parts):
                    message = _("地区“%(region)s”无效：请写“省”或“省/市”，如“广东”或“广东/深圳”。") % {
                        "region": region[:40]}
                    errors.append(FieldError("regions", message, "invalid_region"))
                    break
            values["regions"] = [region.replace("／", "/").replace(" ", "") for region in regions]
        elif key in ("budget_min", "budget_max"):
            values[key] = _amount(raw, key, errors)
        elif key == "kinds":
            kinds = list(dict.fromkeys(split_words(raw)))
            unknown = [kind for kind in kinds if kind not in NoticeKind.values]
            if unknown:
                errors.append(FieldError("kinds", _("未知的公告类型“%(value)s”；可选：%(values)s。")
                                         % {"value": unknown[0][:50], "values": ", ".join(NoticeKind.values)},
                                         "invalid_choice"))
            values["kinds"] = kinds
        elif key == "webhook_url":
            url = str(raw or "").strip()
            if len(url) > 500:
                errors.append(FieldError("webhook_url", _("最多 %(limit)s 个字符（现有 %(length)s 个）。")
                                         % {"limit": 500, "length": len(url)}, "too_long"))
            elif url:
                problem = webhook_url_problem(url)
                if problem:
                    errors.append(FieldError("webhook_url", problem, "webhook_not_allowed"))
            values["webhook_url"] = url
        elif key in ("match_all", "is_active"):
            values[key] = bool(raw) if raw is not None else (key == "is_active")
    low = values.get("budget_min", current.budget_min if current else None)
    high = values.get("budget_max", current.budget_max if current else None)
    if low is not None and high is not None and low > high:
        errors.append(FieldError("budget_max", _("预算上限不能小于预算下限。"), "invalid_range"))
    if errors:
        raise ValidationFailed(_("订阅填写有误。"), errors=errors)
    return values


AUDITED = SUBSCRIPTION_FIELDS


@transaction.atomic
def tender_subscription_create(*, actor: User, data: Mapping[str, Any]) -> TenderSubscription:
    """A subscription of the actor's own. It is matched against notices arriving from now on."""
    access.require(actor, "tender_subscription", "create")
    values = clean_subscription(data)
    subscription = TenderSubscription.objects.create(user=actor, **values)
    audit_record(object_type="tender_subscription", object_id=subscription.pk, action=AuditEvent.Kind.CREATE,
                 actor_id=actor.pk, object_repr=subscription.name,
                 changes={name: [None, value] for name, value in snapshot(subscription, AUDITED).items()})
    return subscription


@transaction.atomic
def tender_subscription_update(*, actor: User, subscription_id: int, data: Mapping[str, Any]) -> TenderSubscription:
    """Change the given fields of a subscription the actor may edit (their own)."""
    subscription: TenderSubscription = access.get_for_action(
        actor, "tender_subscription", subscription_id, "edit",
        queryset=TenderSubscription.objects.select_for_update())
    values = clean_subscription(data, current=subscription)
    before = snapshot(subscription, AUDITED)
    for name, value in values.items():
        setattr(subscription, name, value)
    after = snapshot(subscription, AUDITED)
    changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
    if changes:
        subscription.save()
        audit_record(object_type="tender_subscription", object_id=subscription.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk, object_repr=subscription.name, changes=changes)
    return subscription


@transaction.atomic
def tender_subscription_delete(*, actor: User, subscription_id: int) -> None:
    """Delete a subscription the actor may delete, with its matches (the notices stay)."""
    subscription: TenderSubscription = access.get_for_action(actor, "tender_subscription", subscription_id, "delete")
    audit_record(object_type="tender_subscription", object_id=subscription.pk, action=AuditEvent.Kind.DELETE,
                 actor_id=actor.pk, object_repr=subscription.name,
                 changes={name: [value, None] for name, value in snapshot(subscription, AUDITED).items()})
    subscription.delete()


# --- inbox ----------------------------------------------------------------------------------------
def tender_matches_mark_read(*, user: User, ids: Sequence[int] | None = None,
                             notice_id: int | None = None) -> int:
    """Mark the user's unread matches read: the given ones, those of one notice, or all."""
    rows = TenderMatch.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    if notice_id is not None:
        rows = rows.filter(notice_id=notice_id)
    return rows.update(read_at=timezone.now())


__all__ = [
    "BatchRejected", "IngestItem", "IngestResult", "MatchRun", "clean_notice", "clean_subscription",
    "matching_enqueue", "notices_write", "tender_batch_ingest", "tender_matches_mark_read", "tender_notices_match",
    "tender_subscription_create", "tender_subscription_delete", "tender_subscription_update",
    "webhook_url_problem",
]
