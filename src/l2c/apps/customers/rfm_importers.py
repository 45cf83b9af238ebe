"""Import/export of customer transactions (historical orders), registered with the activity import
machinery as object type "transaction".

Columns: account (an account id, a credit code or the exact account name, of an account the
importer may edit; a name shared by several such accounts is ambiguous: use the credit code or the
id), date, amount (major units, e.g. 元 with at most 2 decimals), currency (default CNY),
reference, note. Every cell is checked and each bad cell reported on its own.
Idempotent on reference: a row whose reference the account already has from an import is reported
as a warning and skipped, so importing the same file twice creates its rows once. Rows without a
reference cannot be recognised again and are created each time. A reference repeated for the same
account within one file is an error on the later row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.imports import (
    ROW_NUMBER_KEY,
    ColumnSpec,
    ImportContext,
    TabularSpec,
    audit_insert,
    register,
    rows_insert,
)
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, ValidationFailed
from l2c.kernel.uscc import normalize_uscc

from .models import Account, CustomerTransaction, TransactionSource
from .pool import accounts_won, transactions_won, won_on
from .rfm import amount_text, transaction_fields

ALIASES: dict[str, tuple[str, ...]] = {
    "account": ("客户名称", "客户编号", "客户ID", "所属客户", "公司", "公司名称", "单位名称", "统一社会信用代码",
                "信用代码", "account", "account id", "account name", "customer", "company"),
    "occurred_on": ("日期", "交易日期", "订单日期", "下单日期", "付款日期", "date", "order date", "occurred on"),
    "amount": ("金额", "金额(元)", "订单金额", "交易金额", "含税金额", "amount", "total", "order amount"),
    "currency": ("币种", "货币", "currency"),
    "reference": ("单据号", "订单号", "订单编号", "发票号", "reference", "order number", "order no", "ref"),
    "note": ("备注", "说明", "note", "remark", "memo"),
}
EXAMPLE = {"account": "北京星河科技有限公司", "occurred_on": "2026-03-01", "amount": "12800.00", "currency": "CNY",
           "reference": "SO-2026-0001", "note": "历史订单"}
AMBIGUOUS = -1
_ID_MAX_DIGITS = 12  # an all-digit cell this short is an account id; credit codes have 18 characters


def _columns() -> list[ColumnSpec]:
    labels = {"account": gettext_lazy("客户"), "occurred_on": gettext_lazy("交易日期"),
              "amount": gettext_lazy("金额（元）"), "currency": gettext_lazy("币种"),
              "reference": gettext_lazy("单据号"), "note": gettext_lazy("备注")}
    columns = [ColumnSpec(key="id", label=gettext_lazy("编号"), importable=False)]
    for key, label in labels.items():
        columns.append(ColumnSpec(key=key, label=label, aliases=(key, *ALIASES[key]),
                                  required=key in ("account", "occurred_on", "amount"), example=EXAMPLE[key]))
    columns += [
        ColumnSpec(key="account_id", label=gettext_lazy("客户编号"), importable=False),
        ColumnSpec(key="account_credit_code", label=gettext_lazy("客户统一社会信用代码"), importable=False),
        ColumnSpec(key="source", label=gettext_lazy("来源"), importable=False),
        ColumnSpec(key="created_at", label=gettext_lazy("创建时间"), importable=False),
    ]
    return columns


def _reference_kind(ref: str) -> str:
    if ref.isascii() and ref.isdigit() and len(ref) <= _ID_MAX_DIGITS:
        return "id"
    if len(normalize_uscc(ref)) == 18:
        return "code"
    return "name"


def _preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    """Resolve the chunk's account cells to editable account ids (AMBIGUOUS / None) in one query."""
    resolved: dict[str, int | None] = context.cache.setdefault("accounts", {})
    names: dict[int, str] = context.cache.setdefault("account_names", {})
    refs = {(row.get("account") or "").strip() for row in rows} - resolved.keys() - {""}
    if not refs:
        return
    kinds = {ref: _reference_kind(ref) for ref in refs}
    ids = [int(ref) for ref, kind in kinds.items() if kind == "id"]
    codes = [normalize_uscc(ref) for ref, kind in kinds.items() if kind == "code"]
    plain = [ref for ref, kind in kinds.items() if kind == "name"]
    candidates = Account.objects.filter(Q(pk__in=ids) | Q(credit_code__in=codes) | Q(name__in=plain))
    editable = access.restrict(candidates, context.actor, "account", "edit").values_list("pk", "name", "credit_code")
    by_id: dict[int, int] = {}
    by_name: dict[str, list[int]] = {}
    by_code: dict[str, list[int]] = {}
    for pk, name, code in editable:
        by_id[pk] = pk
        names[pk] = name
        by_name.setdefault(name, []).append(pk)
        if code:
            by_code.setdefault(code, []).append(pk)
    for ref, kind in kinds.items():
        if kind == "id":
            resolved[ref] = by_id.get(int(ref))
            continue
        matches = by_code.get(normalize_uscc(ref)) if kind == "code" else by_name.get(ref)
        resolved[ref] = matches[0] if matches and len(matches) == 1 else (AMBIGUOUS if matches else None)


def _validate(row: dict[str, str], number: int,
              context: ImportContext) -> tuple[dict[str, Any] | None, list[FieldError]]:
    cleaned, errors = transaction_fields(row, row=number)
    ref = (row.get("account") or "").strip()
    account_id = context.cache.get("accounts", {}).get(ref) if ref else None
    if not ref:
        errors.insert(0, FieldError("account", _("必填：客户编号、统一社会信用代码或客户名称"), "required", number))
    elif account_id == AMBIGUOUS:
        errors.insert(0, FieldError("account", _("有多个名为“%(name)s”的客户，请改用统一社会信用代码或客户编号")
                                    % {"name": ref}, "ambiguous", number))
    elif account_id is None:
        errors.insert(0, FieldError("account", _("没有编号、统一社会信用代码或名称为“%(name)s”且你可以编辑的客户")
                                    % {"name": ref}, "not_found", number))
    if not errors and cleaned["reference"]:
        seen: dict[tuple[int, str], int] = context.cache.setdefault("references", {})
        first = seen.setdefault((account_id, cleaned["reference"]), number)
        if first != number:
            errors.append(FieldError("reference", _("与第 %(row)s 行是同一客户的同一单据号") % {"row": first},
                                     "duplicate", number))
    if errors:
        return None, errors
    return {**cleaned, "account_id": account_id}, []


def _existing(rows: list[dict[str, Any]]) -> set[tuple[int, str]]:
    """(account id, reference) pairs of these rows already imported, in one query."""
    referenced = [row for row in rows if row["reference"]]
    if not referenced:
        return set()
    found = CustomerTransaction.objects.filter(
        source=TransactionSource.IMPORT, account_id__in={row["account_id"] for row in referenced},
        reference__in={row["reference"] for row in referenced},
    ).values_list("account_id", "reference")
    return set(found)


def _check(context: ImportContext, rows: list[dict[str, Any]]) -> dict[int, tuple[list[FieldError],
                                                                               list[FieldError]]]:
    """Rows whose reference the account already has from an import: a warning; the commit skips them."""
    existing = _existing(rows)
    verdicts: dict[int, tuple[list[FieldError], list[FieldError]]] = {}
    for index, row in enumerate(rows):
        if (row["account_id"], row["reference"]) in existing:
            verdicts[index] = ([], [FieldError("reference", _("这个客户已导入过单据号“%(reference)s”，将跳过这一行")
                                               % {"reference": row["reference"]}, "already_imported",
                                               row[ROW_NUMBER_KEY])])
    return verdicts


TRANSACTION_COLUMNS = ("account", "occurred_on", "amount_minor", "currency", "reference", "source", "note",
                       "created_by", "created_at")


def _commit(actor: User, rows: list[dict[str, Any]]) -> int:
    """Insert the rows not imported before (one insert) and one "import" audit event per
    transaction on its account (one insert)."""
    existing = _existing(rows)
    new = [row for row in rows if (row["account_id"], row["reference"]) not in existing]
    if not new:
        return 0
    ops = connection.ops
    now = timezone.now()
    stamp = ops.adapt_datetimefield_value(now)
    meta = CustomerTransaction._meta
    source = TransactionSource.IMPORT.value
    rows_insert(CustomerTransaction, [meta.get_field(name).column for name in TRANSACTION_COLUMNS], (
        (row["account_id"], ops.adapt_datefield_value(row["occurred_on"]), row["amount_minor"], row["currency"],
         row["reference"], source, row["note"], actor.pk, stamp) for row in new))
    latest: dict[int, Any] = {}
    for row in new:
        latest[row["account_id"]] = max(latest.get(row["account_id"], row["occurred_on"]), row["occurred_on"])
    accounts_won(won={account_id: won_on(day) for account_id, day in latest.items()})
    transactions_won(CustomerTransaction.objects.filter(source=source, created_by=actor, created_at=now,
                                                        account_id__in=list(latest)))
    names = dict(Account.objects.filter(pk__in={row["account_id"] for row in new}).values_list("pk", "name"))
    action = AuditEvent.Kind.IMPORT.value
    audit_insert(actor_id=actor.pk, events=[
        ("account", row["account_id"], names.get(row["account_id"], ""), action,
         {"transaction": [None, {"occurred_on": row["occurred_on"].isoformat(), "amount_minor": row["amount_minor"],
                                 "currency": row["currency"], "reference": row["reference"], "source": source,
                                 "note": row["note"]}]})
        for row in new])
    return len(new)


def _export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[CustomerTransaction]:
    rows = access.restrict(CustomerTransaction.objects.all(), user, "transaction", "export")
    if filters.get("account_id") not in (None, ""):
        try:
            account_id = int(filters["account_id"])
        except (TypeError, ValueError):
            raise ValidationFailed.for_field("account_id", _("必须是整数。")) from None
        rows = rows.filter(account_id=account_id)
    return rows.order_by("id")


def _export_rows(queryset: QuerySet[CustomerTransaction]) -> Iterator[dict[str, Any]]:
    for record in queryset.select_related("account").iterator(chunk_size=2000):
        amount = amount_text(record.amount_minor, record.currency).split(" ", 1)[-1]
        yield {
            "id": record.pk, "account": record.account.name, "account_id": record.account_id,
            "account_credit_code": record.account.credit_code, "occurred_on": record.occurred_on.isoformat(),
            "amount": amount, "currency": record.currency, "reference": record.reference, "note": record.note,
            "source": record.source,
            "created_at": timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M:%S"),
        }


def register_transactions() -> None:
    register(TabularSpec(
        object_type="transaction", label=gettext_lazy("交易记录"), fields=tuple(_columns()),
        validate_row=_validate, preload=_preload, commit_rows=_commit, check_valid_rows=_check,
        export_rows=_export_rows, export_queryset=_export_queryset, export_filters=("account_id",),
    ))


__all__ = ["register_transactions"]
