"""Risk alerts (风险预警, ADR 0003): risk events about accounts, the rules that grade them, the
account's risk level and the alerts to its owner and their manager.

- Events come in by API batch (`risk_events_ingest`) and by file import (`risk_importer`); both
  write through `_events_write`. `(source, event_id)` identifies an event: sending it again
  creates nothing and is reported as `unchanged` (or `duplicate` when a batch repeats itself).
- A batch is validated completely first: any bad item (which item, which field, why) rejects the
  whole batch and nothing is written.
- An event's severity is its kind's `RiskRule` severity at ingest time; changing a rule grades new
  events only. `Account.risk_level` is the highest severity among the account's open events (None
  when there is none), recomputed set-based for the accounts a write touched.
- Alerts: when the kind's rule says so, the owner and the manager above the owner (the manager of
  the nearest department, from the owner's own upwards, whose manager is not the owner) each get
  one in-app notification per account and batch, in their own language, linking to the account.
- Who may ingest: administrators and holders of the `import` permission on `risk_event` records
  (sales managers by default; give an integration user a role with it). Every item's account must
  be visible to the ingester. Resolving and reopening need `edit` on the event (the account must
  be editable). Rules are changed by administrators only. Every write is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from l2c.apps.activity.audit import audit_bulk, audit_record
from l2c.apps.activity.models import AuditEvent, Notification
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from l2c.kernel.uscc import normalize_uscc

from .models import (
    RISK_KIND_CATEGORY,
    RISK_SEVERITY_RANK,
    Account,
    RiskEvent,
    RiskEventStatus,
    RiskKind,
    RiskRule,
    RiskSeverity,
)

MAX_BATCH = 1000  # events per API request
NOTIFICATION_KIND = "risk_alert"
NOTIFICATION_EVENTS_LISTED = 10  # event lines in one alert's body

# Created after migrate for every kind without a rule (admins may change them afterwards).
DEFAULT_RULES: dict[str, tuple[str, bool]] = {
    RiskKind.DISHONEST_DEBTOR: (RiskSeverity.CRITICAL, True),
    RiskKind.ENFORCEMENT: (RiskSeverity.HIGH, True),
    RiskKind.LAWSUIT: (RiskSeverity.MEDIUM, True),
    RiskKind.OVERDUE_PAYMENT: (RiskSeverity.HIGH, True),
    RiskKind.ABNORMAL_OPERATION: (RiskSeverity.HIGH, True),
    RiskKind.REGISTRATION_CHANGE: (RiskSeverity.LOW, True),
    RiskKind.OTHER: (RiskSeverity.LOW, True),
}

FIELD_LIMITS = {"source": 50, "event_id": 100, "title": 200, "detail": 5000, "url": 500}


# --- rules ----------------------------------------------------------------------------------------
def risk_rules_ensure_defaults() -> int:
    """Give every kind without a rule its default rule; returns how many were created."""
    present = set(RiskRule.objects.values_list("kind", flat=True))
    missing = [RiskRule(kind=kind, severity=severity, notify=notify)
               for kind, (severity, notify) in DEFAULT_RULES.items() if kind not in present]
    RiskRule.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


def risk_rules() -> list[RiskRule]:
    """One rule per kind, in the order of `RiskKind` (defaults created when missing)."""
    risk_rules_ensure_defaults()
    order = {kind: position for position, kind in enumerate(RiskKind.values)}
    return sorted(RiskRule.objects.all(), key=lambda rule: order.get(rule.kind, len(order)))


def _rules_by_kind() -> dict[str, RiskRule]:
    rules = {rule.kind: rule for rule in RiskRule.objects.all()}
    for kind, (severity, notify) in DEFAULT_RULES.items():  # a deleted rule falls back to the default
        rules.setdefault(kind, RiskRule(kind=kind, severity=severity, notify=notify))
    return rules


@transaction.atomic
def risk_rule_update(*, actor: User, kind: str, severity: str | None = None, notify: bool | None = None) -> RiskRule:
    """Change the severity and/or alerting of one kind's rule; administrators only; audited.
    Events already stored keep the severity they were given."""
    if not access.is_admin(actor):
        raise PermissionDenied(_("只有管理员可以修改风险规则。"))
    if kind not in RiskKind.values:
        raise NotFound(_("没有事件类型为 %(kind)s 的风险规则。") % {"kind": kind})
    if severity is not None and severity not in RiskSeverity.values:
        message = _("必须是以下之一：%(values)s。") % {"values": ", ".join(RiskSeverity.values)}
        raise ValidationFailed(_("风险规则无效。"), errors=[FieldError("severity", message, "invalid_choice")])
    risk_rules_ensure_defaults()
    rule = RiskRule.objects.select_for_update().get(kind=kind)
    before = {"severity": rule.severity, "notify": rule.notify}
    if severity is not None:
        rule.severity = severity
    if notify is not None:
        rule.notify = notify
    after = {"severity": rule.severity, "notify": rule.notify}
    changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
    if changes:
        rule.save()
        audit_record(object_type="risk_rule", object_id=rule.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                     object_repr=rule.kind, changes=changes)
    return rule


@transaction.atomic
def risk_rules_update(*, actor: User, changes: Sequence[Mapping[str, Any]]) -> list[RiskRule]:
    """Change several rules ({kind, severity?, notify?} each) in one transaction: all or nothing."""
    return [risk_rule_update(actor=actor, kind=str(change.get("kind")), severity=change.get("severity"),
                             notify=change.get("notify")) for change in changes]


# --- reading --------------------------------------------------------------------------------------
def severity_rank_expression(field: str = "severity") -> Case:
    """SQL rank of a severity column (low 1 … critical 4; unknown 0), for ordering."""
    return Case(*[When(**{field: severity}, then=Value(rank)) for severity, rank in RISK_SEVERITY_RANK.items()],
                default=Value(0), output_field=IntegerField())


def _ordered(events: QuerySet[RiskEvent]) -> QuerySet[RiskEvent]:
    """Open first, then the most severe, then the most recent."""
    status_rank = Case(When(status=RiskEventStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
    return events.annotate(status_rank=status_rank, severity_rank=severity_rank_expression()).order_by(
        "status_rank", "-severity_rank", "-occurred_on", "-id")


def account_risk_events(*, user: User, account_id: int, status: str | None = None) -> tuple[Account, list[RiskEvent]]:
    """The account (404 when the user may not see it) and its risk events the user may see."""
    account: Account = access.get_for_action(user, "account", account_id, "view")
    events = access.restrict(RiskEvent.objects.filter(account_id=account.pk), user, "risk_event", "view")
    if status:
        events = events.filter(status=status)
    return account, list(_ordered(events.select_related("resolved_by")))


RISK_EVENT_SORTS = {"-id": "-id", "id": "id"}


def risk_event_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[RiskEvent]:
    """Risk events of the accounts the user may see, narrowed by allow-listed filters
    (status, severity, kind, category, account_id, source)."""
    filters = filters or {}
    events = access.restrict(RiskEvent.objects.all(), user, "risk_event", "view")
    for name in ("status", "severity", "kind", "source"):
        if filters.get(name):
            events = events.filter(**{name: filters[name]})
    if filters.get("category"):
        kinds = [kind for kind, category in RISK_KIND_CATEGORY.items() if category == filters["category"]]
        events = events.filter(kind__in=kinds)
    if filters.get("account_id") not in (None, ""):
        try:
            events = events.filter(account_id=int(filters["account_id"]))
        except (TypeError, ValueError):
            return events.none()
    return events


def risk_event_get(*, user: User, event_id: int) -> RiskEvent:
    return access.get_for_action(user, "risk_event", event_id, "view",
                                 queryset=RiskEvent.objects.select_related("account", "resolved_by"))


def category_of(kind: str) -> str:
    return str(RISK_KIND_CATEGORY.get(kind, "other"))  # type: ignore[call-overload]


# --- cleaning -------------------------------------------------------------------------------------
def kind_from_text(text: str) -> str | None:
    """A kind from its value or its label in Chinese or English (case-insensitive)."""
    value = (text or "").strip()
    if value in RiskKind.values:
        return value
    lowered = value.lower()
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for kind, label in RiskKind.choices:
                if str(label).lower() == lowered:
                    return str(kind)
    return None


def _text(values: Mapping[str, Any], name: str) -> str:
    raw = values.get(name)
    return "" if raw is None else str(raw).strip()


def clean_event(values: Mapping[str, Any], *, prefix: str = "", row: int | None = None,
                today: dt.date | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """The event fields of one item, except its account: (clean values, errors). Field names of
    errors are `prefix + name`; `row` is set on them for import rows."""
    errors: list[FieldError] = []

    def error(name: str, message: str, code: str = "invalid") -> None:
        errors.append(FieldError(prefix + name, message, code, row))

    clean: dict[str, Any] = {}
    for name in ("source", "event_id", "title", "detail", "url"):
        text = _text(values, name)
        if not text and name in ("source", "event_id", "title"):
            error(name, _("此项为必填项。"), "required")
        elif len(text) > FIELD_LIMITS[name]:
            error(name, _("最多 %(limit)s 个字符（现有 %(length)s 个）。")
                  % {"limit": FIELD_LIMITS[name], "length": len(text)}, "too_long")
        clean[name] = text
    if clean.get("url"):
        try:
            URLValidator(schemes=["http", "https"])(clean["url"])
        except DjangoValidationError:
            error("url", _("必须是以 http:// 或 https:// 开头的网址。"), "invalid_url")
    kind_text = _text(values, "kind")
    kind = kind_from_text(kind_text)
    if not kind_text:
        error("kind", _("此项为必填项。"), "required")
    elif kind is None:
        error("kind", _("未知的事件类型“%(value)s”；可选：%(values)s。")
              % {"value": kind_text[:50], "values": ", ".join(RiskKind.values)}, "invalid_choice")
    clean["kind"] = kind
    occurred = values.get("occurred_on")
    clean["occurred_on"] = None
    if isinstance(occurred, dt.datetime):
        occurred = occurred.date()
    if isinstance(occurred, dt.date):
        clean["occurred_on"] = occurred
    elif occurred not in (None, ""):
        try:
            clean["occurred_on"] = dt.date.fromisoformat(str(occurred).strip())
        except ValueError:
            error("occurred_on", _("日期格式应为 YYYY-MM-DD。"), "invalid_date")
    today = today or timezone.localdate()
    if clean["occurred_on"] is not None and clean["occurred_on"] > today:
        error("occurred_on", _("发生日期不能晚于今天（%(today)s）。") % {"today": today.isoformat()}, "in_future")
    amount = values.get("amount_minor")
    clean["amount_minor"] = None
    if amount not in (None, ""):
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0 or amount > 2**62:
            error("amount_minor", _("必须是不小于 0 的整数（单位：分）。"), "invalid_amount")
        else:
            clean["amount_minor"] = amount
    currency = _text(values, "currency").upper() or "CNY"
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        error("currency", _("必须是三位字母的币种代码，如 CNY。"), "invalid_currency")
    clean["currency"] = currency
    return clean, errors


# --- accounts of incoming events ------------------------------------------------------------------
@dataclass(frozen=True)
class AccountRef:
    """How an incoming item names its account: any of id, credit code, exact name (all must agree)."""

    account_id: int | None = None
    credit_code: str = ""
    name: str = ""


@dataclass(frozen=True)
class AccountLookup:
    """The visible accounts named by a batch's items, from one query."""

    by_id: dict[int, int]
    by_code: dict[str, list[int]]
    by_name: dict[str, list[int]]


def accounts_lookup(actor: User, refs: Iterable[AccountRef]) -> AccountLookup:
    refs = list(refs)
    ids = {ref.account_id for ref in refs if ref.account_id is not None}
    codes = {normalize_uscc(ref.credit_code) for ref in refs if ref.credit_code} - {""}
    names = {ref.name for ref in refs if ref.name}
    lookup = AccountLookup({}, {}, {})
    if not (ids or codes or names):
        return lookup
    condition = Q(pk__in=sorted(ids)) | Q(credit_code__in=sorted(codes)) | Q(name__in=sorted(names))
    rows = access.restrict(Account.objects.filter(condition), actor, "account", "view").values_list(
        "pk", "credit_code", "name")
    for pk, code, name in rows:
        if pk in ids:
            lookup.by_id[pk] = pk
        if code and code in codes:
            lookup.by_code.setdefault(code, []).append(pk)
        if name in names:
            lookup.by_name.setdefault(name, []).append(pk)
    return lookup


def account_resolve(ref: AccountRef, lookup: AccountLookup, *, prefix: str = "", row: int | None = None,
                    name_field: str = "account_name") -> tuple[int | None, list[FieldError]]:
    """The one visible account an item names, or the errors saying why there is none. An account
    the actor may not see is reported exactly like one that does not exist."""
    errors: list[FieldError] = []
    found: list[tuple[str, int]] = []
    if ref.account_id is None and not ref.credit_code and not ref.name:
        message = _("请填写客户 ID（account_id）或统一社会信用代码（credit_code）。")
        return None, [FieldError(prefix + "account_id", message, "required", row)]
    if ref.account_id is not None:
        if ref.account_id in lookup.by_id:
            found.append(("account_id", ref.account_id))
        else:
            errors.append(FieldError(prefix + "account_id", _("没有 ID 为 %(id)s 且你可以查看的客户。")
                                     % {"id": ref.account_id}, "not_found", row))
    if ref.credit_code:
        code = normalize_uscc(ref.credit_code)
        matches = lookup.by_code.get(code, [])
        if len(matches) == 1:
            found.append(("credit_code", matches[0]))
        elif matches:
            message = _("有多个统一社会信用代码为 %(code)s 的客户，请改用客户 ID。") % {"code": code}
            errors.append(FieldError(prefix + "credit_code", message, "ambiguous", row))
        else:
            message = _("没有统一社会信用代码为 %(code)s 且你可以查看的客户。") % {"code": ref.credit_code[:30]}
            errors.append(FieldError(prefix + "credit_code", message, "not_found", row))
    if ref.name:
        matches = lookup.by_name.get(ref.name, [])
        if len(matches) == 1:
            found.append((name_field, matches[0]))
        elif matches:
            message = _("有多个名为“%(name)s”的客户，请改用统一社会信用代码或客户 ID。") % {"name": ref.name[:100]}
            errors.append(FieldError(prefix + name_field, message, "ambiguous", row))
        else:
            errors.append(FieldError(prefix + name_field, _("没有名为“%(name)s”且你可以查看的客户。")
                                     % {"name": ref.name[:100]}, "not_found", row))
    if errors:
        return None, errors
    if len({account_id for _field, account_id in found}) > 1:
        fields = "、".join(field for field, _account_id in found)
        return None, [FieldError(prefix + found[-1][0], _("%(fields)s 指向不同的客户。") % {"fields": fields},
                                 "mismatch", row)]
    return found[0][1], []


# --- writing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestItem:
    """What became of one incoming item: `created`, `unchanged` (stored before) or `duplicate` (the
    same source and event id as the earlier item `duplicate_of` of the same batch)."""

    index: int
    status: str
    id: int | None
    account_id: int
    severity: str
    duplicate_of: int | None = None


@dataclass(frozen=True)
class IngestResult:
    items: list[IngestItem]

    @property
    def created(self) -> int:
        return sum(1 for item in self.items if item.status == "created")

    @property
    def unchanged(self) -> int:
        return len(self.items) - self.created


def _existing(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], RiskEvent]:
    """Stored events among `pairs` of (source, event_id), in a few queries."""
    found: dict[tuple[str, str], RiskEvent] = {}
    by_source: dict[str, list[str]] = {}
    for source, event_id in pairs:
        by_source.setdefault(source, []).append(event_id)
    for source, event_ids in by_source.items():
        for start in range(0, len(event_ids), 5000):
            for event in RiskEvent.objects.filter(source=source, event_id__in=event_ids[start:start + 5000]).only(
                    "pk", "source", "event_id", "account_id", "severity"):
                found[(event.source, event.event_id)] = event
    return found


EVENT_ID_CONFLICT = gettext_lazy("这个数据来源的事件编号已用于另一个客户，不能重复使用。")


def event_id_conflicts(items: Sequence[Mapping[str, Any]], *, prefix: str = "events.",
                       rows: Sequence[int] | None = None) -> list[FieldError]:
    """Items whose (source, event id) is stored already *for another account*: an error that names
    neither that account nor the event (the caller may not see it); a re-sent event of the same
    account stays "unchanged"."""
    stored = _existing({(item["source"], item["event_id"]) for item in items})
    errors = []
    for index, item in enumerate(items):
        event = stored.get((item["source"], item["event_id"]))
        if event is not None and event.account_id != item["account_id"]:
            field = f"{prefix}{index}.event_id" if rows is None else "event_id"
            errors.append(FieldError(field, str(EVENT_ID_CONFLICT), "event_conflict",
                                     None if rows is None else rows[index]))
    return errors


def _events_write(*, actor: User, items: Sequence[Mapping[str, Any]]) -> IngestResult:
    """Store the clean items (each with `account_id`) that are new; recompute levels, audit, alert.
    Call inside a transaction."""
    rules = _rules_by_kind()
    existing = _existing({(item["source"], item["event_id"]) for item in items})
    first_index: dict[tuple[str, str], int] = {}
    new_events: list[RiskEvent] = []
    outcomes: list[tuple[int, str, RiskEvent | None, int | None]] = []
    for index, item in enumerate(items):
        key = (item["source"], item["event_id"])
        if key in existing:
            outcomes.append((index, "unchanged", existing[key], None))
        elif key in first_index:
            outcomes.append((index, "duplicate", None, first_index[key]))
        else:
            first_index[key] = index
            event = RiskEvent(account_id=item["account_id"], source=item["source"], event_id=item["event_id"],
                              kind=item["kind"], severity=rules[item["kind"]].severity, title=item["title"],
                              detail=item.get("detail") or "", occurred_on=item.get("occurred_on"),
                              amount_minor=item.get("amount_minor"), currency=item.get("currency") or "CNY",
                              url=item.get("url") or "")
            new_events.append(event)
            outcomes.append((index, "created", event, None))
    if new_events:
        try:
            with transaction.atomic():
                # In key order, so two batches holding the same events in other orders cannot deadlock.
                RiskEvent.objects.bulk_create(sorted(new_events, key=lambda event: (event.source, event.event_id)),
                                              batch_size=1000)
        except IntegrityError:
            raise Conflict(
                _("另一个请求正在写入其中的部分风险事件，请稍后重试（已写入的事件会报告为未改变）。")) from None
        _after_create(actor=actor, events=new_events, rules=rules)
    results = []
    for index, status, event, duplicate_of in outcomes:
        if event is None:
            assert duplicate_of is not None
            source = outcomes[duplicate_of][2]
            assert source is not None
            results.append(IngestItem(index, status, source.pk, source.account_id, source.severity, duplicate_of))
        else:
            results.append(IngestItem(index, status, event.pk, event.account_id, event.severity))
    return IngestResult(results)


def _after_create(*, actor: User, events: Sequence[RiskEvent], rules: Mapping[str, RiskRule]) -> None:
    account_ids = sorted({event.account_id for event in events})
    risk_levels_recompute(account_ids=account_ids, actor=actor)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "account", "object_id": event.account_id, "action": AuditEvent.Kind.OTHER,
         "changes": {"risk_event": [None, {"id": event.pk, "source": event.source, "event_id": event.event_id,
                                           "kind": event.kind, "severity": event.severity}]},
         "summary": f"risk event {event.kind} ({event.severity}): {event.title}"}
        for event in events
    ])
    alerting = [event for event in events if rules[event.kind].notify]
    if alerting:
        _alert(events=alerting)


def risk_levels_recompute(*, account_ids: Sequence[int], actor: User | None = None) -> dict[int, tuple[Any, Any]]:
    """Set `risk_level` of the accounts to the highest severity of their open events (None when
    none) with one UPDATE per 5,000 accounts; audit and return the changes {id: (old, new)}."""
    changes: dict[int, tuple[Any, Any]] = {}
    top = (RiskEvent.objects.filter(account_id=OuterRef("pk"), status=RiskEventStatus.OPEN)
           .annotate(rank=severity_rank_expression()).order_by("-rank", "-id").values("severity")[:1])
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        # Lock the accounts first (PostgreSQL; in id order, so no deadlock): a concurrent ingest or
        # resolve on the same account then waits, and the UPDATE below — a new statement — sees its
        # committed events, so the level never lags behind an open event.
        with transaction.atomic():
            before = dict(Account.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
                          .values_list("pk", "risk_level"))
            # Not a user edit: neither `version` nor `updated_at` moves, so no editor loses their save.
            Account.objects.filter(pk__in=chunk).update(risk_level=Subquery(top))
            after = dict(Account.objects.filter(pk__in=chunk).values_list("pk", "risk_level"))
        changes.update({pk: (before.get(pk), level) for pk, level in after.items() if before.get(pk) != level})
    if changes:
        audit_bulk(actor_id=actor.pk if actor else None, events=[
            {"object_type": "account", "object_id": pk, "action": AuditEvent.Kind.UPDATE,
             "changes": {"risk_level": [old, new]}}
            for pk, (old, new) in sorted(changes.items())
        ])
    return changes


def risk_levels_repair(*, chunk: int = 5000) -> tuple[int, int]:
    """Recompute the level of every account that has one or has open events (the nightly check;
    the writes keep levels current, so it normally changes nothing). One transaction per chunk.
    Returns (accounts checked, levels changed)."""
    candidates = sorted(set(Account.objects.filter(risk_level__isnull=False).values_list("pk", flat=True))
                        | set(RiskEvent.objects.filter(status=RiskEventStatus.OPEN)
                              .values_list("account_id", flat=True).distinct()))
    changed = 0
    for start in range(0, len(candidates), chunk):
        with transaction.atomic():
            changed += len(risk_levels_recompute(account_ids=candidates[start:start + chunk]))
    return len(candidates), changed


@transaction.atomic
def risk_events_ingest(*, actor: User, events: Sequence[Mapping[str, Any]]) -> IngestResult:
    """Ingest a batch of risk events. All or nothing: every item is validated first and any error
    (field `events.<index>.<name>`) rejects the batch with a 422 listing them all."""
    if not access.can(actor, "risk_event", "import"):
        raise PermissionDenied(_("你没有写入风险事件的权限（需要风险事件的导入权限）。"))
    if not events:
        raise ValidationFailed(_("没有要写入的风险事件。"),
                               errors=[FieldError("events", _("请至少提供一条风险事件。"), "required")])
    if len(events) > MAX_BATCH:
        message = _("一次最多 %(limit)s 条风险事件（收到 %(count)s 条）。") % {"limit": MAX_BATCH, "count": len(events)}
        raise ValidationFailed(message, errors=[FieldError("events", message, "too_many")])
    errors: list[FieldError] = []
    cleans: list[dict[str, Any]] = []
    refs: list[AccountRef] = []
    for index, values in enumerate(events):
        prefix = f"events.{index}."
        clean, item_errors = clean_event(values, prefix=prefix)
        errors.extend(item_errors)
        raw_id = values.get("account_id")
        account_id: int | None = None
        if raw_id not in (None, ""):
            try:
                account_id = int(raw_id)
            except (TypeError, ValueError):
                errors.append(FieldError(prefix + "account_id", _("必须是整数。"), "invalid"))
        refs.append(AccountRef(account_id=account_id, credit_code=_text(values, "credit_code")))
        cleans.append(clean)
    lookup = accounts_lookup(actor, refs)
    for index, (clean, ref) in enumerate(zip(cleans, refs, strict=True)):
        if any(error.field == f"events.{index}.account_id" for error in errors):
            continue
        account_id, account_errors = account_resolve(ref, lookup, prefix=f"events.{index}.")
        errors.extend(account_errors)
        clean["account_id"] = account_id
    if not errors:
        errors.extend(event_id_conflicts(cleans))
    if errors:
        bad = len({error.field.split(".")[1] for error in errors})
        raise ValidationFailed(ngettext("%(count)s 条风险事件有误，整批都没有写入。",
                                        "%(count)s 条风险事件有误，整批都没有写入。", bad) % {"count": bad},
                               errors=errors)
    return _events_write(actor=actor, items=cleans)


@transaction.atomic
def risk_event_resolve(*, actor: User, event_id: int, note: str = "") -> RiskEvent:
    """Mark an open event resolved (解除); needs edit access to the event's account."""
    return _status_change(actor=actor, event_id=event_id, to=RiskEventStatus.RESOLVED, note=note)


@transaction.atomic
def risk_event_reopen(*, actor: User, event_id: int, note: str = "") -> RiskEvent:
    """Open a resolved event again; needs edit access to the event's account."""
    return _status_change(actor=actor, event_id=event_id, to=RiskEventStatus.OPEN, note=note)


def _status_change(*, actor: User, event_id: int, to: str, note: str) -> RiskEvent:
    event: RiskEvent = access.get_for_action(actor, "risk_event", event_id, "edit")
    source = RiskEventStatus.OPEN if to == RiskEventStatus.RESOLVED else RiskEventStatus.RESOLVED
    resolved = to == RiskEventStatus.RESOLVED
    # Compare-and-set on the status: of two concurrent resolutions exactly one changes the event.
    updated = RiskEvent.objects.filter(pk=event.pk, status=source).update(
        status=to, resolved_at=timezone.now() if resolved else None, resolved_by=actor if resolved else None)
    if not updated:
        raise Conflict(_("这条风险事件已经解除。") if resolved else _("这条风险事件未解除，无需重新打开。"))
    note = note.strip()[:300]
    audit_record(object_type="account", object_id=event.account_id, action=AuditEvent.Kind.STATUS,
                 actor_id=actor.pk, object_repr=event.title,
                 changes={"risk_event_status": [str(source), str(to)]},
                 summary=f"risk event {event.source}/{event.event_id} {'resolved' if resolved else 'reopened'}"
                         + (f": {note}" if note else ""))
    risk_levels_recompute(account_ids=[event.account_id], actor=actor)
    event.refresh_from_db()
    return event


# --- alerts ---------------------------------------------------------------------------------------
_URL_PLACEHOLDER = 987654321987


def _account_url_pattern() -> str:
    """The account page's risk panel URL with a placeholder id: reverse() costs ~2 ms, once per batch."""
    try:
        return reverse("customers:account_detail", args=[_URL_PLACEHOLDER]) + "#risk"
    except NoReverseMatch:
        return ""


def _managers(owners: Mapping[int, int | None]) -> dict[int, int]:
    """{owner id: manager id} for owners (id → department id): the manager of the nearest
    department, from the owner's own upwards, who is not the owner. Two queries."""
    department_ids = {department_id for department_id in owners.values() if department_id}
    if not department_ids:
        return {}
    paths = dict(Department.objects.filter(pk__in=department_ids).values_list("pk", "path"))
    chains = {pk: [int(part) for part in reversed((path or f"/{pk}/").strip("/").split("/")) if part]
              for pk, path in paths.items()}
    every = {pk for chain in chains.values() for pk in chain}
    managers = dict(Department.objects.filter(pk__in=every, manager__isnull=False, manager__is_active=True)
                    .values_list("pk", "manager_id"))
    result = {}
    for owner_id, department_id in owners.items():
        for pk in chains.get(department_id or 0, []):
            manager_id = managers.get(pk)
            if manager_id is not None and manager_id != owner_id:
                result[owner_id] = manager_id
                break
    return result


def _alert(*, events: Sequence[RiskEvent]) -> int:
    """One notification per recipient and account: the owner and the owner's manager, each once,
    in their own language. Returns how many were sent. Written with one multi-row INSERT per 1,000
    (what `activity.services.notification_send` writes, without its optional e-mail copy)."""
    by_account: dict[int, list[RiskEvent]] = {}
    for event in events:
        by_account.setdefault(event.account_id, []).append(event)
    accounts = {row["pk"]: row for row in Account.objects.filter(pk__in=list(by_account)).values(
        "pk", "name", "owner_id", "owner__department_id", "department_id")}
    owners = {row["owner_id"]: row["owner__department_id"] for row in accounts.values() if row["owner_id"]}
    # An account lying in a public pool has no owner: its department's manager is told instead (keyed
    # by the negated account id, which no user id can equal).
    owners.update({-row["pk"]: row["department_id"] for row in accounts.values() if row["owner_id"] is None})
    managers = _managers(owners)
    users = {user.pk: user for user in User.objects.filter(pk__in={*(pk for pk in owners if pk > 0),
                                                                   *managers.values()}, is_active=True)}
    url_pattern = _account_url_pattern()
    notifications: list[Notification] = []
    for account_id, account_events in sorted(by_account.items()):
        row = accounts.get(account_id)
        if row is None:
            continue
        recipients = ([row["owner_id"], managers.get(row["owner_id"])] if row["owner_id"] is not None
                      else [managers.get(-account_id)])
        ordered = sorted(account_events, key=lambda e: (-RISK_SEVERITY_RANK.get(e.severity, 0), e.pk))  # type: ignore[call-overload]
        for recipient_id in dict.fromkeys(r for r in recipients if r is not None):
            recipient = users.get(recipient_id)
            if recipient is None:
                continue
            title, body = _alert_text(recipient, row["name"], ordered)
            notifications.append(Notification(recipient=recipient, kind=NOTIFICATION_KIND, title=title[:200],
                                              body=body,
                                              url=url_pattern.replace(str(_URL_PLACEHOLDER), str(account_id))))
    Notification.objects.bulk_create(notifications, batch_size=1000)
    return len(notifications)


def _alert_text(recipient: User, account_name: str, events: Sequence[RiskEvent]) -> tuple[str, str]:
    # Stored text: written in the recipient's language, not the actor's.
    with translation.override(recipient.language or settings.LANGUAGE_CODE):
        top = RiskSeverity(events[0].severity).label
        title = ngettext("风险预警：%(account)s 新增 %(count)s 条风险事件（最高：%(severity)s）",
                         "风险预警：%(account)s 新增 %(count)s 条风险事件（最高：%(severity)s）",
                         len(events)) % {"account": account_name, "count": len(events), "severity": top}
        lines = []
        for event in events[:NOTIFICATION_EVENTS_LISTED]:
            line = _("[%(severity)s] %(kind)s：%(title)s") % {
                "severity": RiskSeverity(event.severity).label, "kind": RiskKind(event.kind).label,
                "title": event.title}
            if event.occurred_on:
                line += f" ({event.occurred_on.isoformat()})"
            lines.append(line)
        if len(events) > NOTIFICATION_EVENTS_LISTED:
            more = len(events) - NOTIFICATION_EVENTS_LISTED
            lines.append(ngettext("另有 %(count)s 条", "另有 %(count)s 条", more) % {"count": more})
        return title, "\n".join(lines)
