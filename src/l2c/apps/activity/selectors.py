"""Reads for activity: record timelines, inbox, my work, job runs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils import timezone

from l2c.apps.identity import access

from .models import AuditEvent, FollowUp, JobRun, Note, Notification, Todo

if TYPE_CHECKING:
    from l2c.apps.identity.models import User


def _actor_names(ids: set[int]) -> dict[int, str]:
    from l2c.apps.identity.models import User

    return {user.pk: str(user) for user in User.objects.filter(pk__in=ids).only("username", "display_name")}


def timeline_for(*, object_type: str, object_id: int, limit: int = 100,
                 related: Mapping[str, Collection[int]] | None = None) -> list[dict[str, Any]]:
    """Audit events, follow-ups and notes of one record merged newest first; with `related`
    (object type → ids: a product's SKUs), those records' audit events too, each entry naming its
    `object_type` and `object_repr`. The caller has already checked that the user may see the record
    (and so its parts)."""
    events = list(AuditEvent.objects.filter(object_type=object_type, object_id=object_id)
                  .order_by("-created_at", "-id")[:limit])
    for related_type, ids in (related or {}).items():
        if ids:
            events += AuditEvent.objects.filter(object_type=related_type, object_id__in=list(ids)).order_by(
                "-created_at", "-id")[:limit]
    followups = list(FollowUp.objects.filter(object_type=object_type, object_id=object_id)
                     .order_by("-occurred_at", "-id")[:limit])
    notes = list(Note.objects.filter(object_type=object_type, object_id=object_id).order_by("-created_at")[:limit])
    names = _actor_names({e.actor_id for e in events if e.actor_id} | {f.owner_id for f in followups}
                         | {n.author_id for n in notes})
    entries: list[dict[str, Any]] = []
    for event in events:
        entries.append({"kind": "audit", "at": event.created_at, "actor_id": event.actor_id,
                        "actor_name": names.get(event.actor_id or 0, ""), "action": event.action,
                        "summary": event.summary, "changes": event.changes, "object_type": event.object_type,
                        "object_repr": event.object_repr})
    for followup in followups:
        summary = followup.content
        if followup.outcome:
            summary += f" → {followup.outcome}"
        entries.append({"kind": "followup", "at": followup.occurred_at, "actor_id": followup.owner_id,
                        "actor_name": names.get(followup.owner_id, ""), "action": followup.kind,
                        "summary": summary, "changes": {"next_step": [None, followup.next_step]}
                        if followup.next_step else {}})
    for note in notes:
        entries.append({"kind": "note", "at": note.created_at, "actor_id": note.author_id,
                        "actor_name": names.get(note.author_id, ""), "action": "note", "summary": note.body,
                        "changes": {}})
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries[:limit]


def followups_for(*, object_type: str, object_id: int, limit: int = 50) -> list[FollowUp]:
    return list(FollowUp.objects.filter(object_type=object_type, object_id=object_id)
                .select_related("owner").order_by("-occurred_at", "-id")[:limit])


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def inbox(*, user: User, unread_only: bool = False, limit: int = 100) -> list[Notification]:
    rows = Notification.objects.filter(recipient=user)
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return list(rows.order_by("-created_at", "-id")[:limit])


def my_open_todos(*, user: User, limit: int = 50) -> list[Todo]:
    return list(Todo.objects.filter(assignee=user, done_at__isnull=True).order_by("due_at", "id")[:limit])


def overdue_count(*, user: User) -> int:
    return Todo.objects.filter(assignee=user, done_at__isnull=True, due_at__lt=timezone.now()).count()


def job_runs(*, user: User) -> QuerySet[JobRun]:
    """Admins see every run; others the runs they started."""
    rows = JobRun.objects.all()
    if not access.is_admin(user):
        rows = rows.filter(created_by=user)
    return rows
