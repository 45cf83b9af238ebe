"""ETag / If-Match (optimistic concurrency) and Idempotency-Key replay for POSTs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from l2c.apps.activity.models import IdempotencyRecord
from l2c.kernel.errors import Conflict, FieldError, IdempotencyMismatch, PreconditionFailed

MAX_KEY_LENGTH = 255
_ETAG_RE = re.compile(r'(?:W/)?"v([0-9]{1,18})"')


def etag_for(version: int) -> str:
    return f'"v{version}"'


def expected_version(request: HttpRequest) -> int | None:
    """The version named by If-Match, None when absent. A malformed or `*`-less list → 412."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    # An entity-tag is quoted (RFC 9110); ASCII digits only ("v²" passes str.isdigit but not int()).
    match = _ETAG_RE.fullmatch(header.strip())
    if match is None:
        raise PreconditionFailed(_("If-Match 的值 %(value)s 不是这个资源的 ETag。") % {"value": repr(header[:100])})
    return int(match.group(1))


def idempotent(request: HttpRequest, status: int, produce: Callable[[], dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """Run `produce` once per (user, Idempotency-Key). A repeat with the same body replays the first
    response; the same key with another body is rejected with 422."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        return status, produce()
    if len(key) > MAX_KEY_LENGTH:
        message = _("Idempotency-Key 最多 %(limit)s 个字符。") % {"limit": MAX_KEY_LENGTH}
        raise IdempotencyMismatch(message, errors=[FieldError("Idempotency-Key", message, "too_long")])
    body_hash = hashlib.sha256(request.method.encode() + request.path.encode() + request.body).hexdigest()
    user = request.user
    existing = IdempotencyRecord.objects.filter(user_id=user.pk, key=key).first()
    if existing is None:
        try:
            with transaction.atomic():
                existing = IdempotencyRecord.objects.create(
                    user_id=user.pk, key=key, method=request.method or "", path=request.path[:500],
                    body_hash=body_hash,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(user_id=user.pk, key=key).first()
        else:
            try:
                with transaction.atomic():
                    body = produce()
                    IdempotencyRecord.objects.filter(pk=existing.pk).update(
                        status_code=status, response_body=json.dumps(body, default=str).encode(),
                        content_type="application/json",
                    )
            except Exception:
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
                raise
            return status, body
    assert existing is not None
    if existing.body_hash != body_hash:
        raise IdempotencyMismatch(
            _("这个 Idempotency-Key 已用于另一个请求。"),
            errors=[FieldError("Idempotency-Key", _("已用于请求正文不同的另一个请求。"), "reused")],
        )
    if existing.status_code is None:
        raise Conflict(_("使用这个 Idempotency-Key 的请求仍在处理中。"))
    return existing.status_code, json.loads(bytes(existing.response_body or b"{}"))
