"""Writes for activity: follow-ups, notes, to-dos, notifications, sharing and ownership transfer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from l2c.apps.identity import access
from l2c.apps.identity.models import Department, OwnershipTransfer, Share, ShareAccess, User
from l2c.kernel.errors import FieldError, NotFound, PermissionDenied, ValidationFailed

from .audit import audit_bulk, audit_record
from .models import AuditEvent, FollowUp, Note, Notification, Todo

# Extension point: higher apps react to a recorded follow-up (e.g. the public pool extends a hold).
# Each listener gets (object_type, object_id, occurred_at) inside the follow-up's transaction.
FollowUpListener = Callable[[str, int, dt.datetime], None]
_FOLLOWUP_LISTENERS: list[FollowUpListener] = []


def followup_listen(listener: FollowUpListener) -> None:
    """Register a listener (from an AppConfig.ready()); registering the same one twice is a no-op."""
    if listener not in _FOLLOWUP_LISTENERS:
        _FOLLOWUP_LISTENERS.append(listener)


def _touch_followed_up(*, key: str, object_id: int, at: dt.datetime) -> None:
    """A follow-up on a record counts as "last followed up" for it and for its parent record."""
    spec = access.object_type(key)
    model = spec.model
    field_names = {field.name for field in model._meta.get_fields()}
    if "last_followed_up_at" in field_names:
        model._default_manager.filter(pk=object_id).exclude(last_followed_up_at__gt=at).update(
            last_followed_up_at=at
        )
    if spec.parent_type and spec.parent_field:
        parent_id = model._default_manager.filter(pk=object_id).values_list(
            f"{spec.parent_field}_id", flat=True
        ).first()
        if parent_id:
            _touch_followed_up(key=spec.parent_type, object_id=parent_id, at=at)


@transaction.atomic
def followup_create(
    *, actor: User, object_type: str, object_id: int, kind: str, content: str,
    occurred_at: dt.datetime | None = None, outcome: str = "", next_step: str = "",
    next_step_at: dt.datetime | None = None,
) -> FollowUp:
    """Record an interaction on a record the actor may see; a next step becomes a to-do."""
    record = access.get_for_action(actor, object_type, object_id, "view")
    errors = []
    if kind not in FollowUp.Kind.values:
        kinds = ", ".join(FollowUp.Kind.values)
        errors.append(FieldError("kind", _("必须是以下之一：%(values)s。") % {"values": kinds}))
    if not content.strip():
        errors.append(FieldError("content", _("此项为必填项。"), "required"))
    occurred_at = occurred_at or timezone.now()
    if occurred_at > timezone.now() + dt.timedelta(minutes=5):
        errors.append(FieldError("occurred_at", _("跟进时间不能晚于现在。"), "in_future"))
    if errors:
        raise ValidationFailed(_("跟进记录填写有误。"), errors=errors)
    followup = FollowUp.objects.create(
        object_type=object_type, object_id=record.pk, kind=kind, content=content.strip(),
        occurred_at=occurred_at, outcome=outcome.strip(), next_step=next_step.strip(),
        next_step_at=next_step_at, owner=actor,
    )
    _touch_followed_up(key=object_type, object_id=record.pk, at=occurred_at)
    for listener in _FOLLOWUP_LISTENERS:
        listener(object_type, record.pk, occurred_at)
    if next_step.strip() and next_step_at:
        Todo.objects.create(
            title=next_step.strip()[:200], due_at=next_step_at, assignee=actor, object_type=object_type,
            object_id=record.pk, created_by=actor,
        )
    audit_record(
        object_type=object_type, object_id=record.pk, action=AuditEvent.Kind.OTHER, actor_id=actor.pk,
        object_repr=str(record), summary=f"follow-up ({kind}): {content.strip()[:200]}",
    )
    return followup


@transaction.atomic
def note_create(*, actor: User, object_type: str, object_id: int, body: str) -> Note:
    record = access.get_for_action(actor, object_type, object_id, "view")
    if not body.strip():
        raise ValidationFailed(_("备注内容不能为空。"), errors=[FieldError("body", _("此项为必填项。"), "required")])
    note = Note.objects.create(object_type=object_type, object_id=record.pk, body=body.strip(), author=actor)
    audit_record(object_type=object_type, object_id=record.pk, action=AuditEvent.Kind.OTHER,
                 actor_id=actor.pk, object_repr=str(record), summary=f"note: {body.strip()[:200]}")
    return note


@transaction.atomic
def todo_create(*, actor: User, title: str, due_at: dt.datetime | None = None, assignee_id: int | None = None,
                object_type: str = "", object_id: int | None = None) -> Todo:
    if not title.strip():
        raise ValidationFailed(_("待办需要填写标题。"), errors=[FieldError("title", _("此项为必填项。"), "required")])
    if object_type:
        access.get_for_action(actor, object_type, object_id, "view")
    return Todo.objects.create(
        title=title.strip()[:200], due_at=due_at, assignee_id=assignee_id or actor.pk,
        object_type=object_type, object_id=object_id, created_by=actor,
    )


def todo_complete(*, actor: User, todo_id: int) -> Todo:
    todo = Todo.objects.filter(pk=todo_id, assignee=actor).first()
    if todo is None:
        raise NotFound(_("你没有 ID 为 %(id)s 的待办。") % {"id": todo_id})
    Todo.objects.filter(pk=todo.pk, done_at__isnull=True).update(done_at=timezone.now())
    todo.refresh_from_db()
    return todo


# --- notifications --------------------------------------------------------------------------------
def notification_send(*, recipient: User, kind: str, title: str, body: str = "", url: str = "",
                      email: bool = False) -> Notification:
    """The one way to notify somebody: an inbox entry, plus an e-mail after commit when asked."""
    notification = Notification.objects.create(
        recipient=recipient, kind=kind, title=title[:200], body=body, url=url[:500]
    )
    if email and recipient.email:
        address = recipient.email
        transaction.on_commit(lambda: send_mail(title[:200], body or title, None, [address], fail_silently=True))
    return notification


def notifications_mark_read(*, user: User, ids: Sequence[int] | None = None) -> int:
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


# --- sharing and ownership -------------------------------------------------------------------------
@transaction.atomic
def record_share(*, actor: User, object_type: str, object_id: int, user_id: int | None = None,
                 department_id: int | None = None, access_level: str = ShareAccess.READ) -> Share:
    """Share a record the actor may edit with one user or one department."""
    record = access.get_for_action(actor, object_type, object_id, "edit")
    spec = access.object_type(object_type)
    if spec.parent_type:
        names = {"object": access.noun(object_type), "parent": access.noun(spec.parent_type)}
        raise ValidationFailed(
            _("%(object)s随所属%(parent)s共享，请共享%(parent)s。") % names,
            errors=[FieldError("object_type", _("请共享所属%(parent)s。") % names, "follows_parent")],
        )
    errors = []
    if (user_id is None) == (department_id is None):
        errors.append(FieldError("user_id", _("请指定 user_id 或 department_id 之一。")))
    elif user_id is not None and not User.objects.filter(pk=user_id, is_active=True).exists():
        errors.append(FieldError("user_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": user_id}, "not_found"))
    elif department_id is not None and not Department.objects.filter(pk=department_id).exists():
        errors.append(FieldError("department_id", _("没有 ID 为 %(id)s 的部门。") % {"id": department_id}, "not_found"))
    if access_level not in ShareAccess.values:
        errors.append(FieldError("access", _("必须是 read 或 edit。")))
    if errors:
        raise ValidationFailed(_("共享设置有误。"), errors=errors)
    share, _created = Share.objects.update_or_create(
        object_type=object_type, object_id=record.pk, user_id=user_id, department_id=department_id,
        defaults={"access": access_level, "created_by": actor},
    )
    audit_record(object_type=object_type, object_id=record.pk, action=AuditEvent.Kind.SHARE, actor_id=actor.pk,
                 object_repr=str(record), changes={"share": [None, {"user_id": user_id,
                 "department_id": department_id, "access": access_level}]})
    return share


@transaction.atomic
def record_unshare(*, actor: User, object_type: str, object_id: int, share_id: int) -> None:
    record = access.get_for_action(actor, object_type, object_id, "edit")
    deleted, _by_model = Share.objects.filter(pk=share_id, object_type=object_type, object_id=record.pk).delete()
    if not deleted:
        raise NotFound(_("这条记录上没有 ID 为 %(id)s 的共享。") % {"id": share_id})
    audit_record(object_type=object_type, object_id=record.pk, action=AuditEvent.Kind.SHARE, actor_id=actor.pk,
                 object_repr=str(record), summary=f"share {share_id} removed")


def owner_assignable(*, actor: User, object_type: str, owner: User) -> bool:
    """Whether the actor may make `owner` the owner of a record: themselves always (if they may create);
    anybody else only with the transfer permission and the new owner inside the actor's scope."""
    if owner.pk == actor.pk:
        return True
    return access.assignable_owners(actor, object_type).filter(pk=owner.pk).exists()


@transaction.atomic
def records_transfer(*, actor: User, object_type: str, object_ids: Sequence[int], to_user: User,
                     reason: str = "") -> int:
    """Transfer ownership of records (single or bulk). All-or-nothing: every id must be transferable
    by the actor, else nothing changes. Each change is kept in OwnershipTransfer and the audit trail."""
    spec = access.object_type(object_type)
    if spec.owner_field is None:
        raise ValidationFailed(_("%(object)s没有负责人，不能转移。") % {"object": access.noun(object_type)})
    ids = sorted({int(i) for i in object_ids})
    if not ids:
        raise ValidationFailed(_("没有要转移的记录。"),
                               errors=[FieldError("ids", _("请至少指定一个 ID。"), "required")])
    if not owner_assignable(actor=actor, object_type=object_type, owner=to_user):
        raise PermissionDenied(_("你不能把%(object)s分配给“%(user)s”。")
                               % {"object": access.noun(object_type), "user": to_user})
    allowed = access.restrict(spec.model._default_manager.filter(pk__in=ids), actor, object_type, "transfer")
    rows = list(allowed.values("pk", spec.owner_field, spec.department_field or "pk"))
    if len(rows) != len(ids):
        missing = sorted(set(ids) - {row["pk"] for row in rows})
        raise PermissionDenied(
            _("你没有转移这些%(object)s的权限：%(ids)s；没有转移任何记录。")
            % {"object": access.noun(object_type), "ids": ", ".join(map(str, missing[:20]))}
        )
    changed = [row for row in rows if row[spec.owner_field] != to_user.pk]
    changed_ids = [row["pk"] for row in changed]
    updates: dict[str, Any] = {spec.owner_field: to_user.pk}
    if spec.department_field:
        updates[spec.department_field] = to_user.department_id
    if hasattr(spec.model, "version"):
        from django.db.models import F

        updates["version"] = F("version") + 1
    spec.model._default_manager.filter(pk__in=changed_ids).update(**updates)
    OwnershipTransfer.objects.bulk_create([
        OwnershipTransfer(object_type=object_type, object_id=row["pk"], from_user_id=row[spec.owner_field],
                          to_user_id=to_user.pk, reason=reason[:255], actor=actor)
        for row in changed
    ])
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": object_type, "object_id": row["pk"], "action": AuditEvent.Kind.TRANSFER,
         "changes": {spec.owner_field: [row[spec.owner_field], to_user.pk]}, "summary": reason[:500]}
        for row in changed
    ])
    if changed and to_user.pk != actor.pk:
        # Stored text: written in the recipient's language, not the actor's.
        with translation.override(to_user.language or settings.LANGUAGE_CODE):
            title = ngettext("%(count)s 条%(object)s记录已转移给你", "%(count)s 条%(object)s记录已转移给你",
                             len(changed)) % {"count": len(changed), "object": access.noun(object_type)}
        notification_send(recipient=to_user, kind="transfer", title=title, body=reason)
    return len(changed)
