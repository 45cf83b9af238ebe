"""Import/export of tender notices (招投标公告), registered with the activity import machinery as
object type "tender_notice" (the generic pages at /imports/ and /api/v1/imports serve it).

Columns: source and source notice id (together they identify the notice), kind (value or label,
e.g. `tender` or 招标公告; default tender), title, buyer, province, city, budget (元, at most 2
decimals), currency, publish date, deadline, categories (separated by , ; 、), content, link.

All or nothing per file, like an API batch: a file holds at most `MAX_FILE_ROWS` rows (one chunk of
the import machinery, so it is validated and committed in one transaction), and when any row has an
error every other row is reported as not imported — the dry run then shows no valid row and the
commit is refused; fix the file and upload it again. Rows whose source and id are stored already, or
repeat an earlier row of the file, are warnings and skipped (importing a file twice creates its
notices once). Committed rows go through the API's write (`services.notices_write`): one batch,
audited, matched after commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.imports import (
    CHUNK_ROWS,
    ROW_NUMBER_KEY,
    SOURCE_LANGUAGE,
    ColumnSpec,
    ImportContext,
    TabularSpec,
    register,
)
from l2c.apps.activity.models import ImportJob
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError

from . import services
from .models import NoticeKind, TenderNotice

MAX_FILE_ROWS = CHUNK_ROWS
ALIASES: dict[str, tuple[str, ...]] = {
    "source": ("来源", "数据源", "信息来源", "source"),
    "source_notice_id": ("公告编号", "项目编号", "编号", "notice id", "source notice id", "id"),
    "kind": ("类型", "公告类型", "kind", "type"),
    "title": ("标题", "公告标题", "项目名称", "title"),
    "buyer_name": ("采购人", "采购单位", "招标人", "buyer", "buyer name"),
    "province": ("省份", "省", "province"),
    "city": ("城市", "市", "city"),
    "budget": ("预算", "预算金额", "预算金额(元)", "预算（元）", "budget"),
    "currency": ("币种", "货币", "currency"),
    "published_on": ("发布日期", "发布时间", "公告日期", "published on", "published"),
    "deadline_at": ("截止时间", "投标截止时间", "开标时间", "deadline"),
    "categories": ("品目", "采购品目", "分类", "categories", "category"),
    "content": ("正文", "内容", "公告内容", "content", "body"),
    "url": ("链接", "原文链接", "网址", "url", "link"),
}
EXAMPLE = {"source": "ccgp", "source_notice_id": "GD-2026-0001", "kind": "招标公告",
           "title": "深圳市第一中学智慧校园建设项目招标公告", "buyer_name": "深圳市第一中学", "province": "广东省",
           "city": "深圳市", "budget": "3500000.00", "currency": "CNY", "published_on": "2026-11-20",
           "deadline_at": "2026-12-10 09:30", "categories": "信息化设备、服务器",
           "content": "采购内容：服务器、交换机、网络安全设备……", "url": "https://example.com/notice/1"}
LABELS = {"source": gettext_lazy("信息来源"), "source_notice_id": gettext_lazy("来源公告编号"),
          "kind": gettext_lazy("公告类型"), "title": gettext_lazy("标题"), "buyer_name": gettext_lazy("采购单位"),
          "province": gettext_lazy("省份"), "city": gettext_lazy("城市"), "budget": gettext_lazy("预算金额（元）"),
          "currency": gettext_lazy("币种"), "published_on": gettext_lazy("发布日期"),
          "deadline_at": gettext_lazy("截止时间"), "categories": gettext_lazy("品目"), "content": gettext_lazy("正文"),
          "url": gettext_lazy("原文链接")}
REQUIRED = {"source", "source_notice_id", "title"}


def _columns() -> list[ColumnSpec]:
    columns = [ColumnSpec(key="id", label=gettext_lazy("编号"), importable=False)]
    columns += [ColumnSpec(key=key, label=label, aliases=(key, *ALIASES[key]), required=key in REQUIRED,
                           example=EXAMPLE[key]) for key, label in LABELS.items()]
    columns.append(ColumnSpec(key="created_at", label=gettext_lazy("入库时间"), importable=False))
    return columns


def _validate(row: dict[str, str], number: int,
              context: ImportContext) -> tuple[dict[str, Any] | None, list[FieldError]]:
    errors: list[FieldError] = []
    # Rows are counted, not taken from the row number: blank lines are skipped but numbered.
    context.cache["rows"] = rows = context.cache.get("rows", 0) + 1
    if rows > MAX_FILE_ROWS:
        if not context.cache.get("too_many"):
            context.cache["too_many"] = True
            errors.append(FieldError("file", _("一个文件最多 %(limit)s 条公告，请拆分后分别导入。")
                                     % {"limit": MAX_FILE_ROWS}, "too_many", number))
        else:
            errors.append(FieldError("file", _("超出单个文件的行数上限。"), "too_many", number))
    values: dict[str, Any] = dict(row)
    try:
        values["budget_amount"] = services.amount_from_yuan(row.get("budget", ""))
    except ValueError:
        values["budget_amount"] = None
        errors.append(FieldError("budget", _("预算必须是不小于 0 的数字，最多两位小数（单位：元）。"), "invalid_amount",
                                 number))
    clean, field_errors = services.clean_notice(values, row=number)
    errors.extend(field_errors)
    if errors:
        context.cache["error_rows"] = context.cache.get("error_rows", 0) + 1
        return None, errors
    return clean, []


def _check(context: ImportContext, rows: list[dict[str, Any]]) -> dict[int, tuple[list[FieldError],
                                                                                  list[FieldError]]]:
    """All or nothing: with any bad row every row is rejected. Otherwise rows stored already or
    repeating an earlier row of the file are warned about and skipped."""
    verdicts: dict[int, tuple[list[FieldError], list[FieldError]]] = {}
    bad = context.cache.get("error_rows", 0)
    if context.committing and not bad and context.import_job_id is not None:
        # The commit sees one chunk at a time: a file whose dry run found errors (in any chunk, e.g.
        # rows beyond the limit) is refused whole here, before its first chunk is written.
        bad = ImportJob.objects.filter(pk=context.import_job_id).values_list("error_count", flat=True).first() or 0
    if bad:
        message = _("文件中有 %(count)s 处错误，整个文件都不会导入：请改正后重新上传。") % {"count": bad}
        for index, row in enumerate(rows):
            verdicts[index] = ([FieldError("file", message, "file_rejected", row[ROW_NUMBER_KEY])], [])
        return verdicts
    stored = services._stored_ids((row["source"], row["source_notice_id"]) for row in rows)
    seen: dict[tuple[str, str], int] = context.cache.setdefault("seen", {})
    for index, row in enumerate(rows):
        key = (row["source"], row["source_notice_id"])
        number = row[ROW_NUMBER_KEY]
        if key in stored:
            message = _("已有信息来源为 %(source)s、编号为 %(id)s 的公告，将跳过。") % {"source": key[0], "id": key[1]}
            verdicts[index] = ([], [FieldError("source_notice_id", message, "unchanged", number)])
        elif seen.setdefault(key, number) != number:
            verdicts[index] = ([], [FieldError("source_notice_id", _("与第 %(row)s 行的信息来源和编号相同，将跳过。")
                                               % {"row": seen[key]}, "duplicate", number)])
    return verdicts


def _commit(actor: User, rows: list[dict[str, Any]]) -> int:
    return services.notices_write(actor=actor, items=rows, via="import").created


def _export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[TenderNotice]:
    from .selectors import tender_notice_list

    notices = access.restrict(tender_notice_list(user=user, filters=filters), user, "tender_notice", "export")
    return notices.order_by("id")


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _export_rows(queryset: QuerySet[TenderNotice]) -> Iterator[dict[str, Any]]:
    with translation.override(SOURCE_LANGUAGE):
        kinds = {value: str(label) for value, label in NoticeKind.choices}
    for notice in queryset.defer(None).iterator(chunk_size=1000):
        budget = "" if notice.budget_amount is None else f"{Decimal(notice.budget_amount) / 100:.2f}"
        yield {
            "id": notice.pk, "source": notice.source, "source_notice_id": notice.source_notice_id,
            "kind": kinds.get(notice.kind, notice.kind), "title": notice.title, "buyer_name": notice.buyer_name,
            "province": notice.province, "city": notice.city, "budget": budget, "currency": notice.currency,
            "published_on": notice.published_on.isoformat() if notice.published_on else "",
            "deadline_at": _local(notice.deadline_at), "categories": "、".join(notice.categories or []),
            "content": notice.content, "url": notice.url, "created_at": _local(notice.created_at), "custom": {},
        }


def register_notices() -> None:
    """Register the tender notice importer/exporter with the activity import machinery."""
    register(TabularSpec(
        object_type="tender_notice", label=gettext_lazy("招投标公告"), fields=tuple(_columns()),
        validate_row=_validate, commit_rows=_commit, check_valid_rows=_check,
        export_rows=_export_rows, export_queryset=_export_queryset,
        export_filters=("q", "kind", "province", "published_from", "published_to"),
    ))


__all__ = ["MAX_FILE_ROWS", "register_notices"]
