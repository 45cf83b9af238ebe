"""Shell pages: health check, log-in/out, "my work" home, global search."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from l2c import __version__
from l2c.api.pagination import keyset_page
from l2c.apps.activity import selectors as activity_selectors
from l2c.apps.customers import selectors as customer_selectors
from l2c.apps.identity import services as identity_services


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and task-queue status; 503 when the database is unreachable."""
    status: dict[str, Any] = {"status": "ok", "version": __version__}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        status["database"] = {"status": "ok", "vendor": connection.vendor}
    except Exception as error:  # pragma: no cover - exercised by taking the database away
        status["status"] = "error"
        status["database"] = {"status": "error", "error": error.__class__.__name__}
        return JsonResponse(status, status=503)
    backend = settings.TASKS["default"]["BACKEND"]
    queue: dict[str, Any] = {"status": "ok", "backend": backend.rsplit(".", 1)[-1]}
    if backend == "django_tasks_db.DatabaseBackend":
        from django_tasks_db.models import DBTaskResult

        queue["ready"] = DBTaskResult.objects.filter(status="READY").count()
        queue["running"] = DBTaskResult.objects.filter(status="RUNNING").count()
        queue["failed"] = DBTaskResult.objects.filter(status="FAILED").count()
    status["task_queue"] = queue
    return JsonResponse(status)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses locked-out usernames/addresses before checking the password; counts failures."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = _client_ip(self.request) if self.request else None
        locked_until = identity_services.login_locked_until(username=username, ip=ip)
        if locked_until is not None:
            minutes = max(1, int((locked_until - timezone.now()).total_seconds() // 60) + 1)
            raise self.get_invalid_login_error().__class__(
                _("登录失败次数过多，请 %(minutes)s 分钟后再试。") % {"minutes": minutes}, code="locked"
            )
        try:
            cleaned = super().clean()
        except Exception:
            identity_services.login_record_failure(username=username, ip=ip)
            raise
        identity_services.login_record_success(username=username)
        return cleaned


class LoginView(auth_views.LoginView):
    """Log in; Django rotates the session key and CSRF token on login."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        from l2c.apps.demo.services import DEMO_USERS

        if settings.L2C_SHOW_DEMO_LOGINS:
            context["demo_logins"] = [(username, label) for username, _name, label in DEMO_USERS]
            context["demo_password"] = settings.DEMO_PASSWORD if settings.DEMO_PASSWORD_SHOWN else ""
        return context


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out: the session row is deleted server-side, so a copied cookie no longer works."""
    logout(request)
    messages.info(request, _("已退出登录。"))
    return redirect("login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    recent_accounts = list(customer_selectors.account_list(user=user).order_by("-updated_at", "-id")[:8])
    context = {
        "todos": activity_selectors.my_open_todos(user=user, limit=20),
        "overdue_count": activity_selectors.overdue_count(user=user),
        "notifications": activity_selectors.inbox(user=user, unread_only=True, limit=5),
        "recent_accounts": recent_accounts,
        "now": timezone.now(),
    }
    return render(request, "web/home.html", context)


SEARCH_LIMIT = 20


def _newest_matches(rows: Any, stream: Any, sorts: dict[str, str]) -> tuple[list[Any], bool]:
    """The SEARCH_LIMIT newest matches, and whether there are more. Newest first is the order of the
    full-text index, so this costs the same for "有限公司" as for a rare name."""
    page = keyset_page(rows, sort=customer_selectors.SEARCH_SORT, allowed_sorts=sorts, cursor=None,
                       limit=SEARCH_LIMIT, stream=stream)
    return page.items, page.next_cursor is not None


@login_required
def search(request: HttpRequest) -> HttpResponse:
    query = (request.GET.get("q") or "").strip()[:100]
    accounts: list[Any] = []
    contacts: list[Any] = []
    more_accounts = more_contacts = False
    if query:
        sort, user, filters = customer_selectors.SEARCH_SORT, request.user, {"q": query}
        rows, stream = customer_selectors.account_page_source(user=user, filters=filters, sort=sort)
        accounts, more_accounts = _newest_matches(rows, stream, customer_selectors.ACCOUNT_SORTS)
        rows, stream = customer_selectors.contact_page_source(user=user, filters=filters, sort=sort)
        contacts, more_contacts = _newest_matches(rows.select_related("account"), stream,
                                                  customer_selectors.CONTACT_SORTS)
    return render(request, "web/search.html",
                  {"search_query": query, "accounts": accounts, "contacts": contacts,
                   "more_accounts": more_accounts, "more_contacts": more_contacts})
