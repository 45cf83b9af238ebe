"""Import/export of opportunities (商机), registered with the activity import machinery as object type
"opportunity" (the generic import pages, /api/v1/imports and the export endpoint serve it).

Columns: name; account (an account id, a credit code or the exact name of an account the importer
may see); owner (username, or empty for the importer; others need the transfer permission and must
be in the importer's scope); amount (元, at most 2 decimals); currency (default CNY); expected close
date; process (name or code, default the default process); stage (an open stage of that process by
name, default its first); next step; description; competitors (separated by 、 , ; or |). Every cell
is checked and each bad cell reported on its own. Committed rows are written set-based with their
stage history, competitors, audit records ("import") and health.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.audit import audit_bulk
from l2c.apps.activity.imports import SOURCE_LANGUAGE, ColumnSpec, ImportContext, TabularSpec, register
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import owner_assignable
from l2c.apps.customers import risk
from l2c.apps.customers.rfm import clean_amount_minor, clean_currency
from l2c.apps.customers.risk_importers import account_ref
from l2c.apps.customers.validation import date as clean_date
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError

from . import selectors
from .health import health_refresh
from .models import (
    Competitor,
    LostReason,
    Opportunity,
    OpportunitySource,
    OpportunityStatus,
    SalesProcess,
    StageHistory,
    StageKind,
)

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("商机名称", "名称", "项目名称", "name", "opportunity", "deal"),
    "account": ("客户", "客户名称", "客户ID", "统一社会信用代码", "公司", "account", "account name", "company"),
    "owner": ("负责人", "销售", "owner", "owner username"),
    "amount": ("金额", "金额(元)", "预计金额", "amount"),
    "currency": ("币种", "货币", "currency"),
    "close_date": ("预计成交日期", "成交日期", "close date", "expected close"),
    "process": ("销售流程", "流程", "process"),
    "stage": ("阶段", "销售阶段", "stage"),
    "next_step": ("下一步", "next step"),
    "description": ("备注", "说明", "description", "notes"),
    "competitors": ("竞争对手", "competitors"),
}
EXAMPLE = {"name": "星河 数据中心扩容", "account": "北京星河科技有限公司", "owner": "", "amount": "1280000.00",
           "currency": "CNY", "close_date": "2026-12-31", "process": "项目型销售", "stage": "需求确认",
           "next_step": "安排技术交流", "description": "", "competitors": "华为、新华三"}
LABELS = {"name": gettext_lazy("商机名称"), "account": gettext_lazy("客户"), "owner": gettext_lazy("负责人"),
          "amount": gettext_lazy("金额（元）"), "currency": gettext_lazy("币种"),
          "close_date": gettext_lazy("预计成交日期"), "process": gettext_lazy("销售流程"),
          "stage": gettext_lazy("阶段"), "next_step": gettext_lazy("下一步"), "description": gettext_lazy("备注"),
          "competitors": gettext_lazy("竞争对手")}
REQUIRED = {"name", "account"}
SEPARATORS = re.compile(r"[、,，;；|]")


def _columns() -> list[ColumnSpec]:
    columns = [ColumnSpec(key="id", label=gettext_lazy("编号"), importable=False)]
    columns += [ColumnSpec(key=key, label=label, aliases=(key, *ALIASES[key]), required=key in REQUIRED,
                           example=EXAMPLE[key]) for key, label in LABELS.items()]
    columns += [ColumnSpec(key=key, label=label, importable=False) for key, label in (
        ("status", gettext_lazy("状态")), ("win_probability", gettext_lazy("赢率 %")),
        ("health_index", gettext_lazy("健康度")), ("source", gettext_lazy("来源")),
        ("lost_reason", gettext_lazy("输单原因")), ("created_at", gettext_lazy("创建时间")),
        ("updated_at", gettext_lazy("更新时间")))]
    return columns


def _preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    context.cache["accounts"] = risk.accounts_lookup(context.actor, [account_ref(row.get("account", ""))
                                                                     for row in rows])
    if "processes" not in context.cache:
        processes: dict[str, Any] = {}
        for process in SalesProcess.objects.filter(is_active=True).prefetch_related("stages"):
            processes[process.name] = processes[process.code] = process
        context.cache["processes"] = processes
        context.cache["default_process"] = next((process for process in processes.values() if process.is_default),
                                                None)
        context.cache["owners"] = {}
    names = {(row.get("owner") or "").strip() for row in rows} - {""} - set(context.cache["owners"])
    for user in User.objects.filter(username__in=names, is_active=True):
        context.cache["owners"][user.username] = (
            user if owner_assignable(actor=context.actor, object_type="opportunity", owner=user) else False)


def _validate(row: dict[str, str], number: int,
              context: ImportContext) -> tuple[dict[str, Any] | None, list[FieldError]]:
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    name = " ".join((row.get("name") or "").split())
    if not name or len(name) > 200:
        errors.append(FieldError("name", _("必填：商机名称，最多 200 个字。"), "required", number))
    clean["name"] = name
    cell = (row.get("account") or "").strip()
    if not cell:
        errors.append(FieldError("account", _("必填：客户 ID、统一社会信用代码或客户名称。"), "required", number))
    else:
        account_id, account_errors = risk.account_resolve(account_ref(cell), context.cache["accounts"], row=number)
        errors.extend(FieldError("account", error.message, error.code, number) for error in account_errors)
        clean["account_id"] = account_id
    owner_name = (row.get("owner") or "").strip()
    owner = context.actor if not owner_name else context.cache["owners"].get(owner_name)
    if owner is None:
        errors.append(FieldError("owner", _("没有用户名为“%(name)s”的在职用户。") % {"name": owner_name[:50]},
                                 "not_found", number))
    elif owner is False:
        errors.append(FieldError("owner", _("你不能把商机分配给“%(name)s”。") % {"name": owner_name[:50]},
                                 "forbidden", number))
    else:
        clean["owner"] = owner
    try:
        clean["currency"] = clean_currency(row.get("currency") or "CNY")
    except ValueError as error:
        errors.append(FieldError("currency", str(error), "invalid", number))
        clean["currency"] = "CNY"
    try:
        clean["amount"] = clean_amount_minor(row.get("amount") or "0", clean["currency"])
        if clean["amount"] < 0:
            errors.append(FieldError("amount", _("金额不能为负数。"), "negative", number))
    except ValueError as error:
        errors.append(FieldError("amount", str(error), "invalid", number))
    try:
        clean["close_date"] = clean_date(row.get("close_date"))
    except ValueError as error:
        errors.append(FieldError("close_date", str(error), "invalid", number))
    process_cell = (row.get("process") or "").strip()
    process = context.cache["processes"].get(process_cell) if process_cell else context.cache["default_process"]
    if process is None:
        errors.append(FieldError("process", _("没有名称或代码为“%(name)s”的启用中的销售流程。")
                                 % {"name": process_cell[:50]}, "not_found", number))
    else:
        open_stages = sorted((stage for stage in process.stages.all() if stage.kind == StageKind.OPEN),
                             key=lambda stage: stage.position)
        stage_cell = (row.get("stage") or "").strip()
        stage = next((stage for stage in open_stages if stage.name == stage_cell), None) if stage_cell else (
            open_stages[0] if open_stages else None)
        if stage is None:
            errors.append(FieldError("stage", _("“%(stage)s”不是流程“%(process)s”中进行中的阶段，可选：%(allowed)s。")
                                     % {"stage": stage_cell[:50], "process": process.name,
                                        "allowed": "、".join(item.name for item in open_stages)}, "invalid", number))
        clean.update(process=process, stage=stage)
    for key, limit in (("next_step", 300), ("description", 5000)):
        value = (row.get(key) or "").strip()
        if len(value) > limit:
            errors.append(FieldError(key, _("最多 %(limit)s 个字。") % {"limit": limit}, "too_long", number))
        clean[key] = value
    clean["competitors"] = [part.strip()[:100] for part in SEPARATORS.split(row.get("competitors") or "")
                            if part.strip()]
    if errors:
        return None, errors
    return clean, []


@transaction.atomic
def _commit(actor: User, rows: list[dict[str, Any]]) -> int:
    now = timezone.now()
    deals = [Opportunity(
        name=row["name"], account_id=row["account_id"], owner=row["owner"], department_id=row["owner"].department_id,
        amount=row["amount"], currency=row["currency"], close_date=row["close_date"], process=row["process"],
        stage=row["stage"], status=OpportunityStatus.OPEN, stage_entered_at=now, source=OpportunitySource.IMPORT,
        next_step=row["next_step"], description=row["description"], custom=row.get("custom") or {},
        win_probability=row["stage"].probability * 10, probability_source="stage", created_by=actor)
        for row in rows]
    Opportunity.objects.bulk_create(deals, batch_size=1000)
    StageHistory.objects.bulk_create([StageHistory(opportunity=deal, stage=deal.stage, entered_at=now, moved_by=actor)
                                      for deal in deals], batch_size=1000)
    names = sorted({name for row in rows for name in row["competitors"]})
    if names:
        Competitor.objects.bulk_create([Competitor(name=name) for name in names], ignore_conflicts=True)
        by_name = dict(Competitor.objects.filter(name__in=names).values_list("name", "pk"))
        through = Opportunity.competitors.through
        through.objects.bulk_create([through(opportunity_id=deal.pk, competitor_id=by_name[name])
                                     for deal, row in zip(deals, rows, strict=True) for name in row["competitors"]],
                                    ignore_conflicts=True)
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "opportunity", "object_id": deal.pk, "action": AuditEvent.Kind.IMPORT,
         "object_repr": deal.name, "changes": {"name": [None, deal.name], "amount": [None, deal.amount],
                                               "stage": [None, deal.stage_id]}} for deal in deals])
    health_refresh([deal.pk for deal in deals])
    return len(deals)


def _export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[Opportunity]:
    deals = access.restrict(selectors.opportunity_list(user=user, filters=filters), user, "opportunity", "export")
    return deals.order_by("id")


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _export_rows(queryset: QuerySet[Opportunity]) -> Iterator[dict[str, Any]]:
    with translation.override(SOURCE_LANGUAGE):
        statuses = {value: str(label) for value, label in OpportunityStatus.choices}
        sources = {value: str(label) for value, label in OpportunitySource.choices}
        reasons = {value: str(label) for value, label in LostReason.choices}
    deals = queryset.select_related("account", "owner", "process", "stage").prefetch_related("competitors")
    for deal in deals.iterator(chunk_size=1000):
        yield {
            "id": deal.pk, "name": deal.name, "account": deal.account.name, "owner": deal.owner.username,
            "amount": f"{Decimal(deal.amount) / 100:.2f}", "currency": deal.currency,
            "close_date": deal.close_date.isoformat() if deal.close_date else "", "process": deal.process.name,
            "stage": deal.stage.name, "next_step": deal.next_step, "description": deal.description,
            "competitors": "、".join(competitor.name for competitor in deal.competitors.all()),
            "status": statuses.get(deal.status, deal.status),
            "win_probability": "" if deal.win_probability is None else f"{deal.win_probability / 10:.1f}",
            "health_index": "" if deal.health_index is None else deal.health_index,
            "source": sources.get(deal.source, deal.source), "lost_reason": reasons.get(deal.lost_reason, ""),
            "created_at": _local(deal.created_at), "updated_at": _local(deal.updated_at), "custom": deal.custom or {},
        }


def register_opportunities() -> None:
    """Register the opportunity importer/exporter with the activity import machinery."""
    register(TabularSpec(
        object_type="opportunity", label=gettext_lazy("商机"), fields=tuple(_columns()),
        validate_row=_validate, preload=_preload, commit_rows=_commit,
        export_rows=_export_rows, export_queryset=_export_queryset,
        export_filters=("q", "status", "owner_id", "process_id", "stage_id", "account_id", "close_from", "close_to",
                        "health_below", "flag"),
    ))
