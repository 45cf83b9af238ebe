"""Import/export of risk events (风险事件), registered with the activity import machinery as object
type "risk_event" (the generic import pages and /api/v1/imports serve it).

Columns: data source and event id (together they identify the event), account (an account id, a
credit code or the exact account name, of an account the importer may see; a name or code shared by
several accounts is ambiguous), kind (value or label, e.g. `lawsuit` or 诉讼), title, detail, date,
amount (元, at most 2 decimals), currency (default CNY), link. Every cell is checked and each bad
cell reported on its own. Idempotent: a row whose source and event id are already stored, or
repeat an earlier row of the file, is a warning and is skipped, so importing a file twice creates
its events once. Committed rows go through the same write as the API (`risk._events_write`):
severity from the rules, the accounts' risk levels, audit and alerts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.imports import (
    ROW_NUMBER_KEY,
    SOURCE_LANGUAGE,
    ColumnSpec,
    ImportContext,
    TabularSpec,
    register,
)
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError
from l2c.kernel.uscc import normalize_uscc

from . import risk
from .models import RiskEvent, RiskEventStatus, RiskKind, RiskSeverity

ALIASES: dict[str, tuple[str, ...]] = {
    "source": ("来源", "数据源", "source", "provider"),
    "event_id": ("事件ID", "编号", "案号", "event id", "event_id", "id"),
    "account": ("客户名称", "客户编号", "客户ID", "公司", "公司名称", "企业名称", "统一社会信用代码", "信用代码",
                "account", "account id", "account name", "company", "credit code"),
    "kind": ("类型", "风险类型", "kind", "type", "event type"),
    "title": ("事件标题", "风险标题", "title", "summary"),
    "detail": ("内容", "说明", "描述", "detail", "details", "description"),
    "occurred_on": ("日期", "立案日期", "公告日期", "date", "occurred on"),
    "amount": ("金额", "涉及金额", "金额(元)", "标的金额", "amount"),
    "currency": ("币种", "货币", "currency"),
    "url": ("网址", "来源链接", "url", "link"),
}
EXAMPLE = {"source": "qcc", "event_id": "LAW-2026-0001", "account": "北京星河科技有限公司", "kind": "诉讼",
           "title": "买卖合同纠纷", "detail": "原告：某供应商；案号（2026）京0108民初1234号",
           "occurred_on": "2026-03-01",
           "amount": "128000.00", "currency": "CNY", "url": "https://example.com/case/1234"}
_ID_MAX_DIGITS = 12  # an all-digit cell this short is an account id; credit codes have 18 characters


def _columns() -> list[ColumnSpec]:
    labels = {"source": gettext_lazy("数据来源"), "event_id": gettext_lazy("事件编号"), "account": gettext_lazy("客户"),
              "kind": gettext_lazy("事件类型"), "title": gettext_lazy("标题"), "detail": gettext_lazy("详情"),
              "occurred_on": gettext_lazy("发生日期"), "amount": gettext_lazy("涉及金额（元）"),
              "currency": gettext_lazy("币种"), "url": gettext_lazy("链接")}
    required = {"source", "event_id", "account", "kind", "title"}
    columns = [ColumnSpec(key="id", label=gettext_lazy("编号"), importable=False)]
    columns += [ColumnSpec(key=key, label=label, aliases=(key, *ALIASES[key]), required=key in required,
                           example=EXAMPLE[key]) for key, label in labels.items()]
    columns += [
        ColumnSpec(key="account_credit_code", label=gettext_lazy("客户统一社会信用代码"), importable=False),
        ColumnSpec(key="category", label=gettext_lazy("风险类别"), importable=False),
        ColumnSpec(key="severity", label=gettext_lazy("严重程度"), importable=False),
        ColumnSpec(key="status", label=gettext_lazy("状态"), importable=False),
        ColumnSpec(key="resolved_at", label=gettext_lazy("解除时间"), importable=False),
        ColumnSpec(key="created_at", label=gettext_lazy("接收时间"), importable=False),
    ]
    return columns


def account_ref(cell: str) -> risk.AccountRef:
    """How an account cell names its account: a short all-digit cell is an id, an 18-character
    code a credit code, anything else the exact name."""
    text = (cell or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= _ID_MAX_DIGITS:
        return risk.AccountRef(account_id=int(text))
    if len(normalize_uscc(text)) == 18:
        return risk.AccountRef(credit_code=text)
    return risk.AccountRef(name=text) if text else risk.AccountRef()


def amount_minor(text: str) -> int | None:
    """元 with at most two decimals (thousands separators allowed) → 分; ValueError when invalid."""
    cleaned = (text or "").strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(cleaned) from None
    if not value.is_finite() or value < 0 or value.as_tuple().exponent < -2 or value > Decimal(10) ** 16:  # type: ignore[operator]
        raise ValueError(cleaned)
    return int(value * 100)


def _preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    refs = [account_ref(row.get("account", "")) for row in rows]
    context.cache["lookup"] = risk.accounts_lookup(context.actor, refs)


def _validate(row: dict[str, str], number: int,
              context: ImportContext) -> tuple[dict[str, Any] | None, list[FieldError]]:
    values: dict[str, Any] = dict(row)
    errors: list[FieldError] = []
    try:
        values["amount_minor"] = amount_minor(row.get("amount", ""))
    except ValueError:
        values["amount_minor"] = None
        errors.append(FieldError("amount", _("金额必须是不小于 0 的数字，最多两位小数（单位：元）。"), "invalid_amount",
                                 number))
    clean, field_errors = risk.clean_event(values, row=number)
    errors.extend(field_errors)
    cell = (row.get("account") or "").strip()
    if not cell:
        errors.append(FieldError("account", _("必填：客户 ID、统一社会信用代码或客户名称。"), "required", number))
    else:
        account_id, account_errors = risk.account_resolve(account_ref(cell), context.cache["lookup"], row=number)
        errors.extend(FieldError("account", error.message, error.code, number) for error in account_errors)
        clean["account_id"] = account_id
    if errors:
        return None, errors
    return clean, []


def _check(context: ImportContext, rows: list[dict[str, Any]]) -> dict[int, tuple[list[FieldError],
                                                                                  list[FieldError]]]:
    """Rows already stored or repeating an earlier row of the file are warned about and skipped."""
    stored = risk._existing({(row["source"], row["event_id"]) for row in rows})
    seen: dict[tuple[str, str], int] = context.cache.setdefault("seen", {})
    verdicts: dict[int, tuple[list[FieldError], list[FieldError]]] = {}
    for index, row in enumerate(rows):
        key = (row["source"], row["event_id"])
        number = row[ROW_NUMBER_KEY]
        if key in stored and stored[key].account_id != row["account_id"]:
            # Used for another account (maybe one the importer may not see): an error naming neither.
            verdicts[index] = ([FieldError("event_id", str(risk.EVENT_ID_CONFLICT), "event_conflict", number)], [])
        elif key in stored:
            message = _("已有数据来源为 %(source)s、事件编号为 %(event_id)s 的风险事件，将跳过。") % {
                "source": key[0], "event_id": key[1]}
            verdicts[index] = ([], [FieldError("event_id", message, "unchanged", number)])
        elif seen.setdefault(key, number) != number:
            verdicts[index] = ([], [FieldError("event_id", _("与第 %(row)s 行的数据来源和事件编号相同，将跳过。")
                                               % {"row": seen[key]}, "duplicate", number)])
    return verdicts


def _commit(actor: User, rows: list[dict[str, Any]]) -> int:
    return risk._events_write(actor=actor, items=rows).created


def _export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[RiskEvent]:
    events = access.restrict(risk.risk_event_list(user=user, filters=filters), user, "risk_event", "export")
    return events.order_by("id")


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _export_rows(queryset: QuerySet[RiskEvent]) -> Iterator[dict[str, Any]]:
    with translation.override(SOURCE_LANGUAGE):
        kinds = {value: str(label) for value, label in RiskKind.choices}
        severities = {value: str(label) for value, label in RiskSeverity.choices}
        statuses = {value: str(label) for value, label in RiskEventStatus.choices}
        categories = {kind: str(category.label) for kind, category in risk.RISK_KIND_CATEGORY.items()}
    for event in queryset.select_related("account").iterator(chunk_size=1000):
        amount = "" if event.amount_minor is None else f"{Decimal(event.amount_minor) / 100:.2f}"
        yield {
            "id": event.pk, "source": event.source, "event_id": event.event_id, "account": event.account.name,
            "account_credit_code": event.account.credit_code, "kind": kinds.get(event.kind, event.kind),
            "category": categories.get(event.kind, ""), "title": event.title, "detail": event.detail,
            "occurred_on": event.occurred_on.isoformat() if event.occurred_on else "", "amount": amount,
            "currency": event.currency, "url": event.url, "severity": severities.get(event.severity, event.severity),
            "status": statuses.get(event.status, event.status), "resolved_at": _local(event.resolved_at),
            "created_at": _local(event.created_at), "custom": {},
        }


def register_risk_events() -> None:
    """Register the risk event importer/exporter with the activity import machinery."""
    register(TabularSpec(
        object_type="risk_event", label=gettext_lazy("风险事件"), fields=tuple(_columns()),
        validate_row=_validate, preload=_preload, commit_rows=_commit, check_valid_rows=_check,
        export_rows=_export_rows, export_queryset=_export_queryset,
        export_filters=("status", "severity", "kind", "category", "account_id", "source"),
    ))


__all__ = ["account_ref", "amount_minor", "register_risk_events"]
