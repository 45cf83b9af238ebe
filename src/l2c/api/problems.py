"""RFC 9457 problem+json rendering for every error the API returns."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema

from l2c.kernel.errors import PROBLEM_TYPE_BASE, DomainError, FieldError

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemFieldErrorOut(Schema):
    field: str
    message: str
    code: str
    row: int | None = None


class DuplicateReasonOut(Schema):
    code: str = Field(description="credit_code_equal, phone_equal, email_equal, name_equal, name_similar, …")
    values: dict[str, str]
    message: str


class DuplicateOut(Schema):
    object: str
    id: int
    name: str
    score: int = Field(description="0–100")
    rule: str
    action: str = Field(description="block, warn or report")
    reasons: list[DuplicateReasonOut]


class Problem(Schema):
    """An RFC 9457 problem document with a stable machine `code` and per-field `errors`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[ProblemFieldErrorOut] = []
    duplicates: list[DuplicateOut] | None = Field(
        None, description="duplicate problems: the candidates the caller may see, strongest first")
    hidden_duplicates: int | None = Field(
        None, description="duplicate problems: candidates the caller may not see (counted, never named)")


def problem_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def domain_error_response(request: HttpRequest, error: DomainError) -> HttpResponse:
    headers = {}
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return problem_response(error.status, dict(error.to_problem(instance=request.path)), headers)


def simple_problem(request: HttpRequest, status: int, code: str, title: str, detail: str,
                   errors: list[FieldError] | None = None) -> HttpResponse:
    body = {
        "type": PROBLEM_TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code,
        "instance": request.path, "errors": [error.to_dict() for error in errors or []],
    }
    return problem_response(status, body)


def _location(loc: Any) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header", "payload", "data")]
    return ".".join(parts) or "body"


def validation_error_response(request: HttpRequest, raw_errors: list[dict[str, Any]]) -> HttpResponse:
    errors = [
        FieldError(_location(error.get("loc", ())), str(error.get("msg", "invalid")), str(error.get("type", "invalid")))
        for error in raw_errors
    ]
    return simple_problem(request, 422, "validation_error", "The request is not valid.",
                          "; ".join(f"{error.field}: {error.message}" for error in errors[:5]), errors)


# Declared error responses, so the OpenAPI document lists every status an operation returns.
def errors(*statuses: int) -> dict[int, type[Problem]]:
    return {status: Problem for status in statuses}


READ_ERRORS = errors(401, 403, 404, 422)
WRITE_ERRORS = errors(401, 403, 404, 409, 412, 422)
