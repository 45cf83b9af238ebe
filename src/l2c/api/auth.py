"""API authentication: session (browser, with CSRF) or `Authorization: Bearer <personal token>`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from l2c.apps.identity.services import api_token_authenticate
from l2c.kernel import request_context


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(secret=token)
        if user is None:
            return None
        request.user = user
        request_context.set_source("api")
        return user


class ActiveSessionAuth(SessionAuth):
    """Session auth (CSRF-checked on unsafe methods) for logged-in, active users."""

    def __call__(self, request: HttpRequest) -> Any:
        # Without a logged-in session there is nothing to forge: answer 401, not a CSRF 403.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is not None and getattr(user, "is_active", False):
            request_context.set_source("api")
            return user
        return None


API_AUTH = [BearerTokenAuth(), ActiveSessionAuth()]
