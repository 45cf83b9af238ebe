"""The NinjaAPI root at /api/v1: routers of every app, auth, and problem+json error handlers."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from l2c import __version__
from l2c.apps.activity.api import router as activity_router
from l2c.apps.activity.import_api import router as import_router
from l2c.apps.catalog.api import router as catalog_router
from l2c.apps.catalog.configuration_api import router as configuration_router
from l2c.apps.customers.api import contacts_router
from l2c.apps.customers.api import router as accounts_router
from l2c.apps.customers.duplicate_api import router as duplicates_router
from l2c.apps.customers.merge_api import router as merge_router
from l2c.apps.customers.pool_api import account_router as pool_account_router
from l2c.apps.customers.pool_api import router as pool_router
from l2c.apps.customers.profile_api import router as profile_router
from l2c.apps.customers.rfm_api import router as rfm_router
from l2c.apps.customers.risk_api import router as risk_router
from l2c.apps.identity.api import public_router as identity_public_router
from l2c.apps.identity.api import router as identity_router
from l2c.apps.leads.api import router as leads_router
from l2c.apps.leads.assignment_api import router as lead_assignment_router
from l2c.apps.leads.pool_api import router as lead_pool_router
from l2c.apps.leads.scoring_api import router as scoring_router
from l2c.apps.marketing.api import router as marketing_router
from l2c.apps.opportunities.api import router as opportunities_router
from l2c.apps.opportunities.forecast_api import router as forecast_router
from l2c.apps.opportunities.pipeline_api import router as pipeline_router
from l2c.apps.pricing.api import router as pricing_router
from l2c.apps.pricing.preview_api import router as pricing_preview_router
from l2c.apps.tenders.api import router as tenders_router
from l2c.kernel.errors import DomainError

from .auth import API_AUTH
from .parser import NulRejectingParser
from .problems import domain_error_response, problem_title, simple_problem, validation_error_response

api = NinjaAPI(
    title="L2C API",
    version="1",
    description="Lead-to-cash sales force automation. Authenticate with a session (browser) or "
    "`Authorization: Bearer <personal API token>` (POST /api/v1/auth/token).",
    auth=API_AUTH,
    urls_namespace="api-1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=NulRejectingParser(),
)

api.add_router("/", identity_public_router)
api.add_router("/", identity_router)
api.add_router("/", merge_router)  # before /accounts: POST /accounts/merge
api.add_router("/accounts", accounts_router)
api.add_router("/contacts", contacts_router)
api.add_router("/duplicates", duplicates_router)
api.add_router("/pools", pool_router)
api.add_router("/", pool_account_router)
api.add_router("/", profile_router)
api.add_router("/", rfm_router)
api.add_router("/", risk_router)
api.add_router("/", marketing_router)
api.add_router("/", tenders_router)
api.add_router("/", lead_pool_router)  # /lead-pools/…, /leads/{id}/claim|release
api.add_router("/lead-assignment-rules", lead_assignment_router)
api.add_router("/", scoring_router)
api.add_router("/", leads_router)
api.add_router("/", forecast_router)  # before /opportunities/{id}
api.add_router("/", opportunities_router)
api.add_router("/", pipeline_router)
api.add_router("/catalog", configuration_router)  # /catalog/configurations/…, /catalog/rules/test
api.add_router("/catalog", catalog_router)
api.add_router("/pricing", pricing_preview_router)  # /pricing/preview, /pricing/promotions/simulate
api.add_router("/pricing", pricing_router)
api.add_router("/", activity_router)
api.add_router("/", import_router)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    return domain_error_response(request, error)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, error: NinjaValidationError) -> HttpResponse:
    return validation_error_response(request, list(error.errors))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return simple_problem(request, 401, "not_authenticated", problem_title("not_authenticated"),
                          _("请先登录，或发送请求头 Authorization: Bearer <令牌>。"))


@api.exception_handler(AuthorizationError)
def _forbidden(request: HttpRequest, error: AuthorizationError) -> HttpResponse:
    return simple_problem(request, 403, "permission_denied", problem_title("permission_denied"),
                          _("你没有执行这个操作的权限。"))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return simple_problem(request, 404, "not_found", problem_title("not_found"), str(error) or _("未找到。"))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    if isinstance(error.__cause__, DomainError):  # raised by our body parser, wrapped by ninja
        return domain_error_response(request, error.__cause__)
    code = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 405: "method_not_allowed",
            429: "rate_limited"}.get(error.status_code, "error")
    # ninja's own messages are English; translate the ones it raises.
    detail = str(error)
    if detail.startswith("Cannot parse request body"):
        detail = _("无法解析请求正文。")
    elif detail.startswith("CSRF check"):
        detail = _("CSRF 校验失败：请刷新页面后重试。")
    elif error.status_code == 429:
        detail = _("请求过于频繁，请稍后再试。")
    return simple_problem(request, error.status_code, code, problem_title(code), detail)


__all__ = ["__version__", "api"]
