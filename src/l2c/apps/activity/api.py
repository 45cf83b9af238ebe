"""REST API for follow-ups, notes, to-dos, the inbox and job runs."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status

from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import InputDatetime, RecordId
from l2c.apps.identity import access
from l2c.kernel.errors import NotFound

from . import selectors, services

router = Router(tags=["activity"])

ObjectTypeName = Literal["account", "contact", "lead"]


class FollowUpIn(Schema):
    object_type: ObjectTypeName
    object_id: int
    kind: Literal["call", "visit", "meeting", "email", "wechat", "other"]
    content: str = Field(..., min_length=1, max_length=5000)
    occurred_at: InputDatetime | None = None
    outcome: str = Field("", max_length=500)
    next_step: str = Field("", max_length=500)
    next_step_at: InputDatetime | None = None


class FollowUpOut(Schema):
    id: int
    object_type: str
    object_id: int
    kind: str
    content: str
    occurred_at: dt.datetime
    outcome: str
    next_step: str
    next_step_at: dt.datetime | None
    owner_id: int


class NoteIn(Schema):
    object_type: ObjectTypeName
    object_id: int
    body: str = Field(..., min_length=1, max_length=10000)


class NoteOut(Schema):
    id: int
    object_type: str
    object_id: int
    body: str
    author_id: int
    created_at: dt.datetime


class TodoIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    due_at: InputDatetime | None = None
    object_type: ObjectTypeName | None = None
    object_id: int | None = None


class TodoOut(Schema):
    id: int
    title: str
    due_at: dt.datetime | None
    object_type: str
    object_id: int | None
    done_at: dt.datetime | None


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    read_at: dt.datetime | None
    created_at: dt.datetime


class MarkReadIn(Schema):
    ids: list[RecordId] | None = None


class MarkReadOut(Schema):
    marked: int


class UnreadOut(Schema):
    unread: int


class JobRunOut(Schema):
    id: int
    name: str
    label: str = Field(description="the job's name in the caller's language")
    status: str
    progress: int
    total: int
    log: str
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ShareIn(Schema):
    object_type: ObjectTypeName
    object_id: int
    user_id: int | None = None
    department_id: int | None = None
    access: Literal["read", "edit"] = "read"


class ShareOut(Schema):
    id: int
    object_type: str
    object_id: int
    user_id: int | None
    department_id: int | None
    access: str
    created_at: dt.datetime


@router.get("/shares", response={200: list[ShareOut], **READ_ERRORS}, summary="Shares of a record")
def list_shares(request: HttpRequest, object_type: ObjectTypeName, object_id: int) -> Any:
    from l2c.apps.identity.models import Share

    record = access.get_for_action(request.user, object_type, object_id, "view")
    return list(Share.objects.filter(object_type=object_type, object_id=record.pk).order_by("id"))


@router.post("/shares", response={201: ShareOut, **WRITE_ERRORS},
             summary="Share a record with a user or a department (needs edit access to the record)")
def create_share(request: HttpRequest, payload: ShareIn) -> Any:
    share = services.record_share(actor=request.user, object_type=payload.object_type, object_id=payload.object_id,
                                  user_id=payload.user_id, department_id=payload.department_id,
                                  access_level=payload.access)
    return Status(201, share)


@router.delete("/shares/{share_id}", response={204: None, **WRITE_ERRORS}, summary="Remove a share")
def delete_share(request: HttpRequest, share_id: int) -> Any:
    from l2c.apps.identity.models import Share

    share = Share.objects.filter(pk=share_id).first()
    if share is None:
        raise NotFound(_("没有 ID 为 %(id)s 的共享。") % {"id": share_id})
    services.record_unshare(actor=request.user, object_type=share.object_type, object_id=share.object_id,
                            share_id=share.pk)
    return Status(204, None)


@router.get("/followups", response={200: list[FollowUpOut], **READ_ERRORS}, summary="Follow-ups of a record")
def list_followups(request: HttpRequest, object_type: ObjectTypeName, object_id: int) -> Any:
    record = access.get_for_action(request.user, object_type, object_id, "view")
    return selectors.followups_for(object_type=object_type, object_id=record.pk)


@router.post("/followups", response={201: FollowUpOut, **WRITE_ERRORS}, summary="Record a follow-up")
def create_followup(request: HttpRequest, payload: FollowUpIn) -> Any:
    followup = services.followup_create(actor=request.user, **payload.model_dump())
    return Status(201, followup)


@router.post("/notes", response={201: NoteOut, **WRITE_ERRORS}, summary="Add a note to a record")
def create_note(request: HttpRequest, payload: NoteIn) -> Any:
    return Status(201, services.note_create(actor=request.user, **payload.model_dump()))


@router.get("/todos", response={200: list[TodoOut], **READ_ERRORS}, summary="My open to-dos")
def list_todos(request: HttpRequest) -> Any:
    return selectors.my_open_todos(user=request.user)


@router.post("/todos", response={201: TodoOut, **WRITE_ERRORS}, summary="Create a to-do for myself")
def create_todo(request: HttpRequest, payload: TodoIn) -> Any:
    data = payload.model_dump()
    data["object_type"] = data["object_type"] or ""
    return Status(201, services.todo_create(actor=request.user, **data))


@router.post("/todos/{todo_id}/complete", response={200: TodoOut, **WRITE_ERRORS}, summary="Complete a to-do")
def complete_todo(request: HttpRequest, todo_id: int) -> Any:
    return services.todo_complete(actor=request.user, todo_id=todo_id)


@router.get("/notifications", response={200: list[NotificationOut], **READ_ERRORS}, summary="My inbox")
def list_notifications(request: HttpRequest, unread_only: bool = False) -> Any:
    return selectors.inbox(user=request.user, unread_only=unread_only)


@router.get("/notifications/unread-count", response={200: UnreadOut, **READ_ERRORS}, summary="Unread count")
def unread_notifications(request: HttpRequest) -> Any:
    return {"unread": selectors.unread_count(user=request.user)}


@router.post("/notifications/mark-read", response={200: MarkReadOut, **WRITE_ERRORS}, summary="Mark read")
def mark_read(request: HttpRequest, payload: MarkReadIn) -> Any:
    return {"marked": services.notifications_mark_read(user=request.user, ids=payload.ids)}


@router.get("/jobs", response={200: list[JobRunOut], **READ_ERRORS}, summary="Job runs I may see")
def list_jobs(request: HttpRequest) -> Any:
    return list(selectors.job_runs(user=request.user)[:200])


@router.get("/jobs/{job_id}", response={200: JobRunOut, **READ_ERRORS}, summary="One job run")
def get_job(request: HttpRequest, job_id: int) -> Any:
    run = selectors.job_runs(user=request.user).filter(pk=job_id).first()
    if run is None:
        raise NotFound(_("没有 ID 为 %(id)s 的任务运行记录。") % {"id": job_id})
    return run


