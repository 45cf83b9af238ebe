"""Request context for audit, security headers with a strict CSP, the user's language, and no NUL
characters in page requests."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

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


class NulRejectingMiddleware:
    """Pages refuse a NUL character in the query string or a form field with a 400 before any view
    runs: PostgreSQL cannot store or compare NUL in text, and no page has a use for it. (The API
    has its own parser answering 422 with the field.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/") and self._has_nul(request):
            return HttpResponse(_("请求中含有不允许的 NUL 字符。"), status=400,
                                content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if "\x00" in request.path or any("\x00" in key or any("\x00" in value for value in values)
                                         for key, values in request.GET.lists()):
            return True
        content_type = request.content_type or ""
        if request.method == "POST" and content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return any("\x00" in key or any(isinstance(value, str) and "\x00" in value for value in values)
                       for key, values in request.POST.lists())
        return False
