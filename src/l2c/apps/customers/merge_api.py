"""Batch duplicate detection, the review queue, merges and undo over the API (ADR 0003)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.apps.identity import access
from l2c.kernel.errors import FieldError, ValidationFailed

from . import dedup_batch, merge
from .models import DuplicateGroupStatus, RecordMerge

router = Router(tags=["duplicates"])

MAX_GROUP_PAGE = 200


class GroupReasonOut(Schema):
    code: str
    message: str
    with_id: int | None = Field(None, description="the other record of the pair this reason comes from")


class GroupRecordOut(Schema):
    id: int
    name: str
    score: int = Field(description="the record's best score against another member, 0–100")
    reasons: list[GroupReasonOut]


class GroupOut(Schema):
    id: int
    object: str
    status: str = Field(description="open, merged or dismissed")
    score: int = Field(description="the best pair score inside the group")
    rule: str
    size: int = Field(description="records in the group, visible or not")
    records: list[GroupRecordOut] = Field(description="the records the caller may see, strongest first")
    hidden_records: int = Field(description="records of the group the caller may not see (counted, never named)")
    created_at: dt.datetime
    job_run_id: int | None


class GroupPageOut(Schema):
    items: list[GroupOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class GroupQuery(Schema):
    object: Literal["account", "contact"] = "account"
    status: Literal["open", "merged", "dismissed"] = "open"
    limit: int = Field(50, ge=1, le=MAX_GROUP_PAGE)
    cursor: str | None = None


def _group_out(view: dedup_batch.GroupView) -> dict[str, Any]:
    group = view.group
    return {
        "id": group.pk, "object": group.object_type, "status": group.status, "score": group.score,
        "rule": group.rule, "size": group.size, "hidden_records": view.hidden_count,
        "created_at": group.created_at, "job_run_id": group.job_run_id,
        "records": [{"id": record.record_id, "name": record.name, "score": record.score,
                     "reasons": [{"code": str(reason.get("code")), "message": dedup_batch.reason_text(reason),
                                  "with_id": reason.get("with")} for reason in record.reasons]}
                    for record in view.records],
    }


def _parse_cursor(cursor: str) -> tuple[int, int]:
    try:
        score, group_id = (int(part) for part in cursor.split(".", 1))
    except ValueError:
        message = _("分页游标无效。")
        raise ValidationFailed(message, errors=[FieldError("cursor", message, "invalid_cursor")]) from None
    return score, group_id


@router.get("/duplicates/groups", response={200: GroupPageOut, **READ_ERRORS},
            summary="Review queue: duplicate groups of which the caller may see two records or more")
def groups(request: HttpRequest, query: Query[GroupQuery]) -> Any:
    from django.db.models import Q

    queryset = dedup_batch.groups_visible(user=request.user, object_type=query.object, status=query.status)
    if query.cursor:
        score, group_id = _parse_cursor(query.cursor)
        queryset = queryset.filter(Q(score__lt=score) | Q(score=score, id__gt=group_id))
    page = list(queryset[:query.limit + 1])
    more = len(page) > query.limit
    page = page[:query.limit]
    views = dedup_batch.groups_view(user=request.user, groups=page)
    return {"items": [_group_out(view) for view in views],
            "next_cursor": f"{page[-1].score}.{page[-1].pk}" if more and page else None}


@router.get("/duplicates/groups/{group_id}", response={200: GroupOut, **READ_ERRORS}, summary="One duplicate group")
def group_detail(request: HttpRequest, group_id: int) -> Any:
    return _group_out(dedup_batch.group_get(user=request.user, group_id=group_id))


@router.post("/duplicates/groups/{group_id}/dismiss", response={200: GroupOut, **WRITE_ERRORS},
             summary="Mark a group “not duplicates”: it leaves the queue and does not come back unchanged")
def group_dismiss(request: HttpRequest, group_id: int) -> Any:
    group = dedup_batch.duplicate_group_dismiss(actor=request.user, group_id=group_id)
    view = dedup_batch.groups_view(user=request.user, groups=[group])[0]
    return _group_out(view)


class BatchIn(Schema):
    object: Literal["account"] = "account"


class BatchRunOut(Schema):
    id: int
    name: str
    status: str
    progress: int
    total: int
    created_at: dt.datetime


@router.post("/duplicates/batch", response={202: BatchRunOut, **WRITE_ERRORS},
             summary="Start batch duplicate detection now (administrators and managers); follow it at /jobs/{id}")
def batch_start(request: HttpRequest, payload: BatchIn) -> Any:
    return Status(202, dedup_batch.duplicates_batch_start(actor=request.user, object_type=payload.object))


class MergeIn(Schema):
    survivor_id: int = Field(description="the account that stays")
    merged_ids: list[int] = Field(..., min_length=1, max_length=20, description="accounts folded into the survivor")
    field_choices: dict[str, int] = Field(
        default_factory=dict,
        description="field name (or custom.<key>) → id of the record whose value wins; unnamed fields keep the "
                    "survivor's value, or the first non-empty one when the survivor's is empty")
    group_id: int | None = Field(None, description="the review-queue group this merge resolves")


class MergeOut(Schema):
    id: int
    object: str
    survivor_id: int
    merged_id: int
    survivor_before: dict[str, Any] = Field(description="the survivor's values this merge replaced")
    repointed: dict[str, list[int]] = Field(description="ids of the re-pointed rows by app_label.Model.field")
    kept_aside: dict[str, int] = Field(description="rows not moved (already on the survivor) by relation, restored "
                                                   "by undo")
    actor_id: int | None
    created_at: dt.datetime
    undone_at: dt.datetime | None
    undone_by_id: int | None


class MergeResultOut(Schema):
    survivor_id: int
    merges: list[MergeOut]


def _merge_out(record: RecordMerge) -> dict[str, Any]:
    kept = (record.merged_snapshot or {}).get("kept_aside") or {}
    return {"id": record.pk, "object": record.object_type, "survivor_id": record.survivor_id,
            "merged_id": record.merged_id, "survivor_before": record.survivor_before, "repointed": record.repointed,
            "kept_aside": {key: len(rows) for key, rows in kept.items()}, "actor_id": record.actor_id,
            "created_at": record.created_at, "undone_at": record.undone_at, "undone_by_id": record.undone_by_id}


@router.post("/accounts/merge", response={200: MergeResultOut, **WRITE_ERRORS},
             summary="Merge accounts into a survivor (edit on the survivor, delete on each merged account)")
def accounts_merge(request: HttpRequest, payload: MergeIn) -> Any:
    merges = merge.accounts_merge(actor=request.user, survivor_id=payload.survivor_id, merged_ids=payload.merged_ids,
                                  field_choices=payload.field_choices, group_id=payload.group_id)
    return {"survivor_id": payload.survivor_id, "merges": [_merge_out(item) for item in merges]}


@router.post("/contacts/merge", response={200: MergeResultOut, **WRITE_ERRORS},
             summary="Merge contacts into a survivor (edit on the survivor, delete on each merged contact)")
def contacts_merge(request: HttpRequest, payload: MergeIn) -> Any:
    merges = merge.contacts_merge(actor=request.user, survivor_id=payload.survivor_id, merged_ids=payload.merged_ids,
                                  field_choices=payload.field_choices, group_id=payload.group_id)
    return {"survivor_id": payload.survivor_id, "merges": [_merge_out(item) for item in merges]}


@router.get("/merges/{merge_id}", response={200: MergeOut, **READ_ERRORS}, summary="One merge")
def merge_detail(request: HttpRequest, merge_id: int) -> Any:
    record = merge.merge_get(actor=request.user, merge_id=merge_id)
    body = _merge_out(record)
    # The survivor's former values belong to the survivor: only for those who may see it (one may
    # reach a merge through its merged record alone, e.g. after an undo).
    if not (record.actor_id == request.user.pk
            or access.visible(request.user, record.object_type).filter(pk=record.survivor_id).exists()):
        body["survivor_before"] = {}
    return body


@router.post("/merges/{merge_id}/undo", response={200: MergeResultOut, **WRITE_ERRORS},
             summary="Undo a merge (with the other merges of the same operation); 409 if the survivor changed "
                     "since or it is already undone")
def merge_undo(request: HttpRequest, merge_id: int) -> Any:
    merges = merge.merge_undo(actor=request.user, merge_id=merge_id)
    return {"survivor_id": merges[0].survivor_id, "merges": [_merge_out(item) for item in merges]}


__all__ = ["DuplicateGroupStatus", "router"]
