"""Who is acting and on behalf of which request, for audit events (a contextvar, no Django)."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    client_ip: str | None = None
    source: str = "web"  # web | api | job | cli


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("l2c_request", default=None)


def current() -> RequestContext:
    """The context of the running request or job; a fresh CLI context outside of both."""
    context = _current.get()
    if context is None:
        return RequestContext(request_id=new_request_id(), source="cli")
    return context


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bind(context: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def set_source(source: str) -> None:
    """Mark the bound request as reached through another channel (the API sets "api")."""
    context = _current.get()
    if context is not None:
        _current.set(RequestContext(context.request_id, context.client_ip, source))
