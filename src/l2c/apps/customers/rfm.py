"""RFM of accounts: customer transactions (writes and reads), settings, segment names and the
set-based recompute that writes `AccountRfm` (definitions in `l2c.engines.rfm` and docs/rfm.md).

- recency   = whole days from the last transaction date in the window to the as-of date;
- frequency = number of transactions in the window;
- monetary  = sum of their amounts (negative amounts, refunds, reduce it);
- window    = the last `window_days` days up to the as-of date (both inclusive), or all history.
Only transactions in the settings currency count: amounts in different currencies are never added
up (there is no exchange rate here); an account whose only transactions are in another currency
gets no RFM row. Transactions dated after the as-of date are ignored.

Transactions delegate their visibility to their account (object type "transaction"): a user sees
the transactions of the accounts they may see, and adds one to an account they may edit.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.imports import rows_insert
from l2c.apps.activity.models import AuditEvent, JobRun
from l2c.apps.identity import access
from l2c.engines.rfm import SEGMENTS, RfmValues, rfm_scores
from l2c.kernel.errors import Conflict, FieldError, PermissionDenied, ValidationFailed
from l2c.kernel.money import CURRENCY_EXPONENTS, Money

from . import pool as pool_service
from .models import Account, AccountRfm, CustomerTransaction, RfmSegmentName, RfmSettings, TransactionSource

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

SEGMENT_CODES: tuple[str, ...] = tuple(SEGMENTS.values())
# Built-in names of the engine's segment codes, in the order they are listed.
SEGMENT_LABELS: dict[str, Any] = {
    "important_value": pgettext_lazy("rfm segment", "重要价值客户"),
    "important_development": pgettext_lazy("rfm segment", "重要发展客户"),
    "important_retention": pgettext_lazy("rfm segment", "重要保持客户"),
    "important_recovery": pgettext_lazy("rfm segment", "重要挽留客户"),
    "general_value": pgettext_lazy("rfm segment", "一般价值客户"),
    "general_development": pgettext_lazy("rfm segment", "一般发展客户"),
    "general_retention": pgettext_lazy("rfm segment", "一般保持客户"),
    "general_recovery": pgettext_lazy("rfm segment", "一般挽留客户"),
}
# The list filter value for accounts without an RFM row (no transaction in the settings currency).
NO_SEGMENT = "none"
DEFINITIONS: dict[str, Any] = {
    "recency": gettext_lazy("最近一次消费（R）：从统计窗口内最后一笔交易的日期到计算基准日的整天数，越小越好。"),
    "frequency": gettext_lazy("消费频率（F）：统计窗口内的交易笔数。"),
    "monetary": gettext_lazy("消费金额（M）：统计窗口内交易金额之和（退款为负数，会减少金额）。"),
    "window": gettext_lazy("统计窗口：计算基准日及之前的最近 N 天（含当天）；未设置时为全部历史。"
                           "只统计设置币种的交易，基准日之后的交易不计入。"),
    "scores": gettext_lazy("评分：每个维度按所有有交易客户的分位数打 1 到 N 分（默认五分位），越高越好；"
                           "数值相同得分相同。某维度得分高于中间值即为“高”，三个维度的高低组合成八个分群。"),
}
RECOMPUTE_JOB = "customers.rfm_recompute"
MAX_WINDOW_DAYS = 36_500
# One transaction at most 10^13 minor units (1,000亿 yuan): a realistic bound that keeps any sum of
# transactions of one account far inside 64-bit integers (the recompute adds them up in SQL).
MAX_MINOR = 10**13
REFERENCE_MAX = 100
NOTE_MAX = 255
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT_NOISE = str.maketrans("", "", " ,，¥￥\u00a0")


# --- settings and segment names --------------------------------------------------------------------
def settings_get() -> RfmSettings:
    """The RFM settings (the single row pk=1, created with the defaults when missing)."""
    settings, _created = RfmSettings.objects.get_or_create(pk=1)
    return settings


def _require_admin(actor: User) -> None:
    if not access.is_admin(actor):
        raise PermissionDenied(_("只有管理员可以修改 RFM 设置和分群名称。"))


def clean_currency(raw: Any, field: str = "currency") -> str:
    """An ISO 4217 code the product knows (upper-cased); ValueError with the reason otherwise."""
    code = str(raw or "").strip().upper()
    if not _CURRENCY.match(code) or code not in CURRENCY_EXPONENTS:
        raise ValueError(_("不支持的币种“%(code)s”：请填写 ISO 4217 三位字母代码，如 CNY、USD。")
                         % {"code": str(raw or "")[:10]})
    return code


@transaction.atomic
def settings_update(*, actor: User, data: Mapping[str, Any]) -> RfmSettings:
    """Change the window (days; None = all history), the number of score bins (2–10) and the
    currency. Admins only; audited. Takes effect at the next recompute."""
    _require_admin(actor)
    settings = RfmSettings.objects.select_for_update().filter(pk=1).first() or settings_get()
    errors: list[FieldError] = []
    updates: dict[str, Any] = {}
    if "window_days" in data:
        window = data["window_days"]
        if window in (None, ""):
            updates["window_days"] = None
        else:
            try:
                value = int(window)
            except (TypeError, ValueError):
                value = 0
            if not 1 <= value <= MAX_WINDOW_DAYS:
                message = _("统计窗口必须是 1 到 %(max)s 之间的整数天，留空表示全部历史。") % {"max": MAX_WINDOW_DAYS}
                errors.append(FieldError("window_days", message, "out_of_range"))
            else:
                updates["window_days"] = value
    if "bins" in data and data["bins"] is not None:
        try:
            bins = int(data["bins"])
        except (TypeError, ValueError):
            bins = 0
        if not 2 <= bins <= 10:
            errors.append(FieldError("bins", _("分档数必须是 2 到 10 之间的整数。"), "out_of_range"))
        else:
            updates["bins"] = bins
    if "currency" in data and data["currency"] is not None:
        try:
            updates["currency"] = clean_currency(data["currency"])
        except ValueError as error:
            errors.append(FieldError("currency", str(error), "invalid"))
    if errors:
        raise ValidationFailed(_("RFM 设置填写有误。"), errors=errors)
    changes = {name: [getattr(settings, name), value] for name, value in updates.items()
               if getattr(settings, name) != value}
    if changes:
        for name, value in updates.items():
            setattr(settings, name, value)
        settings.save()
        audit_record(object_type="rfm_settings", object_id=settings.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk, object_repr="RFM", changes=changes)
    return settings


def segment_names() -> dict[str, str]:
    """The shown name of every segment code, in the engine's order: the admin's name, else the
    built-in one in the active language. One query."""
    custom = dict(RfmSegmentName.objects.values_list("code", "name"))
    return {code: custom.get(code) or str(SEGMENT_LABELS[code]) for code in SEGMENT_CODES}


def segment_name_rows() -> list[dict[str, Any]]:
    """Per segment: code, shown name, built-in name and whether an admin renamed it."""
    custom = dict(RfmSegmentName.objects.values_list("code", "name"))
    return [{"code": code, "name": custom.get(code) or str(SEGMENT_LABELS[code]),
             "default_name": str(SEGMENT_LABELS[code]), "is_custom": code in custom} for code in SEGMENT_CODES]


@transaction.atomic
def segment_names_set(*, actor: User, names: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rename segments: {code: name}; a blank name restores the built-in name. Admins only; all
    or nothing; audited."""
    _require_admin(actor)
    errors: list[FieldError] = []
    clean: dict[str, str] = {}
    for code, raw in names.items():
        if code not in SEGMENT_CODES:
            errors.append(FieldError(f"names.{code}", _("未知的分群代码“%(code)s”。") % {"code": str(code)[:40]},
                                     "unknown_segment"))
            continue
        name = str(raw or "").strip()
        if len(name) > 50:
            errors.append(FieldError(f"names.{code}", _("分群名称不能超过 50 个字符。"), "too_long"))
            continue
        clean[code] = name
    shown = [name for name in clean.values() if name]
    if len(set(shown)) != len(shown):
        errors.append(FieldError("names", _("不同分群不能使用相同的名称。"), "duplicate"))
    if errors:
        raise ValidationFailed(_("分群名称填写有误。"), errors=errors)
    before = dict(RfmSegmentName.objects.values_list("code", "name"))
    changes: dict[str, list[Any]] = {}
    for code, name in clean.items():
        if not name or name == str(SEGMENT_LABELS[code]):
            if code in before:
                RfmSegmentName.objects.filter(code=code).delete()
                changes[code] = [before[code], None]
        elif before.get(code) != name:
            RfmSegmentName.objects.update_or_create(code=code, defaults={"name": name})
            changes[code] = [before.get(code), name]
    if changes:
        audit_record(object_type="rfm_settings", object_id=1, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                     object_repr="RFM", summary=_("修改了 RFM 分群名称"), changes=changes)
    return segment_name_rows()


# --- transactions -----------------------------------------------------------------------------------
def clean_amount_minor(raw: Any, currency: str) -> int:
    """An amount in major units (元; "1,234.50", "¥100" and full-width forms accepted) as integer
    minor units of `currency`. More decimals than the currency has, or not a number: ValueError."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(_("必填：金额"))
    if isinstance(raw, float):
        raw = repr(raw)
    text = str(raw).strip().translate(_AMOUNT_NOISE)
    if not text:
        raise ValueError(_("必填：金额"))
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("“%(value)s”不是有效的金额") % {"value": str(raw)[:30]}) from None
    if not amount.is_finite():
        raise ValueError(_("“%(value)s”不是有效的金额") % {"value": str(raw)[:30]})
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(_("金额最多 %(places)s 位小数（%(currency)s）") % {"places": exponent, "currency": currency})
    if abs(minor) > MAX_MINOR:
        raise ValueError(_("金额太大（单笔最多 %(max)s）") % {"max": f"{MAX_MINOR // 10**exponent:,}"})
    return int(minor)


def clean_date(raw: Any, *, today: dt.date | None = None) -> dt.date:
    """A transaction date: ISO (2026-03-01), 2026/3/1 or 2026年3月1日; not in the future."""
    if isinstance(raw, dt.datetime):
        value = raw.date()
    elif isinstance(raw, dt.date):
        value = raw
    else:
        text = str(raw or "").strip()
        if not text:
            raise ValueError(_("必填：交易日期"))
        match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?", text)
        try:
            if match is None:
                raise ValueError
            value = dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            message = _("“%(value)s”不是有效的日期，请使用 2026-03-01 这样的格式") % {"value": text[:30]}
            raise ValueError(message) from None
    if value > (today or timezone.localdate()):
        raise ValueError(_("交易日期不能晚于今天"))
    return value


def transaction_fields(data: Mapping[str, Any], *, row: int | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """Cleaned date, amount (minor units), currency, reference and note of one transaction, and
    the errors of the fields that are not valid (each field is checked)."""
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    try:
        cleaned["currency"] = clean_currency(data.get("currency") or "CNY")
    except ValueError as error:
        errors.append(FieldError("currency", str(error), "invalid", row))
    try:
        cleaned["occurred_on"] = clean_date(data.get("occurred_on"))
    except ValueError as error:
        errors.append(FieldError("occurred_on", str(error), "required" if not data.get("occurred_on") else "invalid",
                                 row))
    try:
        cleaned["amount_minor"] = clean_amount_minor(data.get("amount"), cleaned.get("currency", "CNY"))
    except ValueError as error:
        errors.append(FieldError("amount", str(error), "invalid", row))
    reference = str(data.get("reference") or "").strip()
    if len(reference) > REFERENCE_MAX:
        errors.append(FieldError("reference", _("单据号不能超过 %(max)s 个字符") % {"max": REFERENCE_MAX}, "too_long",
                                 row))
    cleaned["reference"] = reference
    note = str(data.get("note") or "").strip()
    if len(note) > NOTE_MAX:
        errors.append(FieldError("note", _("备注不能超过 %(max)s 个字符") % {"max": NOTE_MAX}, "too_long", row))
    cleaned["note"] = note
    return cleaned, errors


def amount_text(amount_minor: int, currency: str) -> str:
    """"CNY 1234.50": the exact amount, padded to the currency's decimals."""
    return str(Money.from_minor_units(amount_minor, currency)) if currency in CURRENCY_EXPONENTS else (
        f"{currency} {amount_minor}")


def amount_display(amount_minor: int, currency: str) -> str:
    """"CNY 1,234.50": the exact amount with thousands separators, for pages."""
    places = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{currency} {Decimal(amount_minor).scaleb(-places):,.{places}f}"


def _transaction_summary(record: CustomerTransaction) -> str:
    text = f"{record.occurred_on.isoformat()} {amount_text(record.amount_minor, record.currency)}"
    return f"{text} #{record.reference}" if record.reference else text


@transaction.atomic
def transaction_create(*, actor: User, account_id: int, data: Mapping[str, Any],
                       source: str = TransactionSource.MANUAL) -> CustomerTransaction:
    """Add a transaction to an account the actor may edit. Audited on the account. A reference
    already used on the account (same source) is a conflict: nothing is saved."""
    access.require(actor, "transaction", "create")
    account: Account = access.get_for_action(actor, "account", account_id, "edit")
    cleaned, errors = transaction_fields(data)
    if errors:
        raise ValidationFailed(_("交易记录填写有误。"), errors=errors)
    if cleaned["reference"] and CustomerTransaction.objects.filter(
            account=account, source=source, reference=cleaned["reference"]).exists():
        message = _("这个客户已有单据号为“%(reference)s”的交易记录。") % {"reference": cleaned["reference"]}
        raise Conflict(message, errors=[FieldError("reference", message, "duplicate")])
    try:
        with transaction.atomic():
            record = CustomerTransaction.objects.create(account=account, source=source, created_by=actor, **cleaned)
    except IntegrityError:  # the same reference saved by a concurrent request (a double submit)
        message = _("这个客户已有单据号为“%(reference)s”的交易记录。") % {"reference": cleaned["reference"]}
        raise Conflict(message, errors=[FieldError("reference", message, "duplicate")]) from None
    # A transaction is a won deal (until opportunities exist): the public pool's protection rule ends.
    pool_service.accounts_won(won={account.pk: pool_service.won_on(record.occurred_on)})
    pool_service.transactions_won(CustomerTransaction.objects.filter(pk=record.pk))
    audit_record(object_type="account", object_id=account.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=account.name, summary=_("新增交易记录：%(text)s") % {"text": _transaction_summary(record)},
                 changes={"transaction": [None, _transaction_changes(record)]})
    return record


def _transaction_changes(record: CustomerTransaction) -> dict[str, Any]:
    return {"id": record.pk, "occurred_on": record.occurred_on.isoformat(), "amount_minor": record.amount_minor,
            "currency": record.currency, "reference": record.reference, "source": record.source, "note": record.note}


@transaction.atomic
def transaction_delete(*, actor: User, transaction_id: int) -> None:
    """Delete a transaction (the `delete` permission on transactions, the account in the actor's
    scope). Audited on the account."""
    record: CustomerTransaction = access.get_for_action(
        actor, "transaction", transaction_id, "delete",
        queryset=CustomerTransaction.objects.select_related("account"))
    audit_record(object_type="account", object_id=record.account_id, action=AuditEvent.Kind.UPDATE,
                 actor_id=actor.pk, object_repr=record.account.name,
                 summary=_("删除交易记录：%(text)s") % {"text": _transaction_summary(record)},
                 changes={"transaction": [_transaction_changes(record), None]})
    # A deleted transaction is no won deal any more: what higher apps credited for it goes too.
    pool_service.won_revoked(source="transaction", source_ids=[record.pk])
    record.delete()


def transactions_for(*, user: User, account_id: int, limit: int = 100) -> list[CustomerTransaction]:
    """The latest transactions of an account the user may see (NotFound otherwise), newest first."""
    account: Account = access.get_for_action(user, "account", account_id, "view")
    rows = access.restrict(CustomerTransaction.objects.filter(account_id=account.pk), user, "transaction", "view")
    return list(rows.order_by("-occurred_on", "-id")[:limit])


def transaction_count(*, account_id: int) -> int:
    return CustomerTransaction.objects.filter(account_id=account_id).count()


# --- reading RFM --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountRfmView:
    """What the account page and the API show of one account's RFM (None fields: no score yet)."""

    account_id: int
    rfm: AccountRfm | None
    segment_name: str | None
    settings: RfmSettings

    @property
    def monetary_text(self) -> str:
        return amount_display(self.rfm.monetary_minor, self.rfm.currency) if self.rfm else ""


def account_rfm(*, user: User, account_id: int) -> AccountRfmView:
    """The stored RFM of an account the user may see (NotFound otherwise)."""
    account: Account = access.get_for_action(user, "account", account_id, "view")
    rfm = AccountRfm.objects.filter(account_id=account.pk).first()
    name = None
    if rfm is not None:
        custom = RfmSegmentName.objects.filter(code=rfm.segment).values_list("name", flat=True).first()
        name = custom or str(SEGMENT_LABELS.get(rfm.segment, rfm.segment))
    return AccountRfmView(account_id=account.pk, rfm=rfm, segment_name=name, settings=settings_get())


def no_score_message(settings: RfmSettings) -> str:
    """Why an account has no RFM score, in words."""
    window = (_("最近 %(days)s 天内") % {"days": settings.window_days}) if settings.window_days else _("全部历史中")
    return _("暂无 RFM 评分：这个客户在%(window)s没有币种为 %(currency)s 的交易记录，或新增交易后还没有重新计算"
             "（每晚自动计算）。") % {"window": window, "currency": settings.currency}


def segment_counts(*, user: User) -> dict[str, int]:
    """Visible accounts per segment code."""
    rows = access.restrict(Account.objects.filter(rfm__isnull=False), user, "account", "view")
    return dict(rows.values_list("rfm__segment").annotate(total=Count("pk")).order_by())


def segment_filter(queryset: QuerySet[Account], segment: str) -> QuerySet[Account]:
    """Accounts in a segment (or, for NO_SEGMENT, without RFM). Unknown codes match nothing."""
    if segment == NO_SEGMENT:
        return queryset.filter(rfm__isnull=True)
    if segment not in SEGMENT_CODES:
        return queryset.none()
    return queryset.filter(rfm__segment=segment)


# --- the recompute ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecomputeResult:
    as_of: dt.date
    window_start: dt.date | None
    currency: str
    bins: int
    accounts: int
    transactions: int
    seconds: float
    segments: dict[str, int]


def window_start(settings: RfmSettings, as_of: dt.date) -> dt.date | None:
    """First day of the window: `window_days` days up to and including as-of (None: all history)."""
    return as_of - dt.timedelta(days=settings.window_days - 1) if settings.window_days else None


def _aggregate(*, as_of: dt.date, start: dt.date | None, currency: str) -> list[tuple[int, dt.date, int, int]]:
    """(account id, last date, count, sum of minor units) per account in ONE grouped query."""
    rows = CustomerTransaction.objects.filter(currency=currency, occurred_on__lte=as_of)
    if start is not None:
        rows = rows.filter(occurred_on__gte=start)
    return list(rows.order_by().values("account_id").annotate(
        last=Max("occurred_on"), count=Count("id"), total=Sum("amount_minor"),
    ).values_list("account_id", "last", "count", "total"))


RFM_COLUMNS = ("account_id", "as_of", "recency_days", "frequency", "monetary_minor", "currency", "recency_score",
               "frequency_score", "monetary_score", "segment", "computed_at")


@transaction.atomic
def rfm_recompute(*, as_of: dt.date | None = None, log: Any = None) -> RecomputeResult:
    """Recompute the RFM of every account from its transactions and rewrite `AccountRfm` in one
    transaction: one grouped query for the raw values, the engine for edges and scores, one
    DELETE and a bulk insert (COPY on PostgreSQL). Accounts without a transaction in the window
    and currency get no row. Idempotent: the same data and as-of give the same rows."""
    started = time.perf_counter()
    as_of = as_of or timezone.localdate()
    # The settings row lock serialises concurrent recomputes (PostgreSQL; SQLite has one writer).
    settings = RfmSettings.objects.select_for_update().filter(pk=1).first() or settings_get()
    start = window_start(settings, as_of)
    aggregated = _aggregate(as_of=as_of, start=start, currency=settings.currency)
    values = [RfmValues(account_id, (as_of - last).days, count, Decimal(total))
              for account_id, last, count, total in aggregated]
    scores = rfm_scores(values, bins=settings.bins)
    if log:
        log(f"{len(scores)} accounts with transactions in {settings.currency}, as of {as_of.isoformat()}"
            + (f", window from {start.isoformat()}" if start else ", all history"))
    AccountRfm.objects.all().delete()
    ops = connection.ops
    as_of_db = ops.adapt_datefield_value(as_of)
    stamp = ops.adapt_datetimefield_value(timezone.now())
    currency = settings.currency
    meta = AccountRfm._meta
    columns = [meta.get_field(name).column if name != "account_id" else meta.pk.column for name in RFM_COLUMNS]
    rows_insert(AccountRfm, columns, (
        (score.customer_id, as_of_db, score.recency_days, score.frequency, int(score.monetary), currency,
         score.recency_score, score.frequency_score, score.monetary_score, score.segment, stamp)
        for score in scores))
    segments: dict[str, int] = dict.fromkeys(SEGMENT_CODES, 0)
    for score in scores:
        segments[score.segment] += 1
    result = RecomputeResult(as_of=as_of, window_start=start, currency=currency, bins=settings.bins,
                             accounts=len(scores), transactions=sum(value.frequency for value in values),
                             seconds=round(time.perf_counter() - started, 3), segments=segments)
    if log:
        log(f"wrote {result.accounts} RFM rows from {result.transactions} transactions in {result.seconds} s")
    return result


def rfm_recompute_request(*, actor: User) -> JobRun:
    """Queue an on-demand recompute (whoever may import transactions: admins and sales managers by
    default). A recompute already queued is returned instead of queueing another."""
    from l2c.apps.activity.jobs import job_enqueue

    from .rfm_tasks import rfm_recompute_task

    if not may_recompute(actor):
        raise PermissionDenied(_("只有管理员和销售经理可以立即重新计算 RFM。"))
    waiting = JobRun.objects.filter(name=RECOMPUTE_JOB, status=JobRun.Status.QUEUED).order_by("-id").first()
    if waiting is not None:
        return waiting
    run = job_enqueue(task=rfm_recompute_task, name=RECOMPUTE_JOB, actor=actor, arguments={"trigger": "manual"})
    assert run is not None  # no unique key: always created
    return run


def may_recompute(user: User) -> bool:
    return access.is_admin(user) or access.can(user, "transaction", "import")


def last_recompute() -> JobRun | None:
    return JobRun.objects.filter(name=RECOMPUTE_JOB).order_by("-created_at", "-id").first()
