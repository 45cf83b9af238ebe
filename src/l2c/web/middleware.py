"""Request context for audit, security headers with a strict CSP, the user's language, and no NUL
characters in page requests."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict
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


class NulStrippingMiddleware:
    """Pages never see a NUL character: it is dropped from the query string and from form fields
    before any view runs. PostgreSQL cannot store or compare NUL in text, no page has a use for it,
    and a search with one answers like the search without it. (The API refuses it with a 422 naming
    the field.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get("QUERY_STRING", ""):
                request.GET = _without_nul(request.GET)
            is_form = request.method == "POST" and request.content_type in (
                "application/x-www-form-urlencoded", "multipart/form-data")
            if is_form and any("\x00" in key or any(isinstance(value, str) and "\x00" in value for value in values)
                               for key, values in request.POST.lists()):
                request.POST = _without_nul(request.POST)
        return self.get_response(request)


def _without_nul(data: QueryDict) -> QueryDict:
    cleaned = QueryDict(mutable=True, encoding=data.encoding)
    for key, values in data.lists():
        cleaned.setlist(key.replace("\x00", ""), [value.replace("\x00", "") if isinstance(value, str) else value
                                                 for value in values])
    cleaned._mutable = False
    return cleaned
