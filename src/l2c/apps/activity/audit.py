"""The audit trail: append-only events written in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from l2c.kernel import request_context

from .models import AuditEvent


def jsonable(value: Any) -> Any:
    """A JSON-safe rendering of a field value for the `changes` column."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple | set):
        return [jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """Field values of `instance` keyed by field name (FKs by id) for later diffing."""
    values = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attribute = field.attname if isinstance(field, models.ForeignKey) else name
        values[name] = jsonable(getattr(instance, attribute))
    return values


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


def _event(*, object_type: str, object_id: int, action: str, object_repr: str = "",
           changes: Mapping[str, Any] | None = None, summary: str = "", actor_id: int | None,
           now: dt.datetime | None = None) -> AuditEvent:
    context = request_context.current()
    return AuditEvent(
        object_type=object_type, object_id=object_id, object_repr=object_repr[:255], action=action,
        changes=dict(changes or {}), summary=summary[:500], actor_id=actor_id,
        request_id=context.request_id, client_ip=context.client_ip, source=context.source,
        created_at=now or timezone.now(),
    )


def audit_record(*, object_type: str, object_id: int, action: str, actor_id: int | None,
                 object_repr: str = "", changes: Mapping[str, Any] | None = None, summary: str = "") -> AuditEvent:
    """Write one audit event. Call it inside the service's transaction."""
    event = _event(object_type=object_type, object_id=object_id, action=action, object_repr=object_repr,
                   changes=changes, summary=summary, actor_id=actor_id)
    event.save(force_insert=True)
    return event


def audit_bulk(*, events: Iterable[Mapping[str, Any]], actor_id: int | None) -> int:
    """Write many events in one statement; each mapping has the keyword arguments of audit_record."""
    now = timezone.now()
    rows = [_event(actor_id=actor_id, now=now, **event) for event in events]
    AuditEvent.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
