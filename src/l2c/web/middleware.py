"""Request context for audit, security headers with a strict CSP, and the user's language."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from l2c.kernel import request_context

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
# The interactive API docs page loads its own inline bootstrap; allow only that page what it needs.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


class RequestContextMiddleware:
    """Bind a request id and the client address for audit events; echo the id in X-Request-ID."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else request_context.new_request_id()
        context = request_context.RequestContext(request_id=request_id, client_ip=request.META.get("REMOTE_ADDR"))
        with request_context.bind(context):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_docs = request.path.startswith("/api/v1/docs")
        response.setdefault("Content-Security-Policy", DOCS_CSP if is_docs else CSP)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("X-Content-Type-Options", "nosniff")
        if request.user.is_authenticated if hasattr(request, "user") else False:
            response.setdefault("Cache-Control", "private, no-store")
        return response


class UserLanguageMiddleware:
    """A logged-in user's saved language wins over the browser's when no explicit choice was made."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        cookie = request.COOKIES.get("django_language")
        if user is not None and user.is_authenticated and user.language and not cookie:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)
