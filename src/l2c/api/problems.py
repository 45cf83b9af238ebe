"""RFC 9457 problem+json rendering for every error the API returns."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Field, Schema

from l2c.kernel.errors import PROBLEM_TYPE_BASE, DomainError, FieldError

PROBLEM_CONTENT_TYPE = "application/problem+json"

# Problem titles in the active language, by stable code; the kernel's English class titles are the
# fallback for a code missing here.
PROBLEM_TITLES = {
    "domain_error": gettext_lazy("请求无法处理"),
    "validation_error": gettext_lazy("校验未通过"),
    "not_found": gettext_lazy("未找到"),
    "permission_denied": gettext_lazy("没有权限"),
    "conflict": gettext_lazy("冲突"),
    "duplicate": gettext_lazy("可能重复"),
    "already_claimed": gettext_lazy("已被领取"),
    "claim_quota_reached": gettext_lazy("已达今日领取上限"),
    "held_cap_reached": gettext_lazy("已达持有上限"),
    "claim_cooldown": gettext_lazy("冷却期内不能重新领取"),
    "precondition_failed": gettext_lazy("前提条件不成立"),
    "idempotency_key_reused": gettext_lazy("幂等键被重复使用"),
    "rate_limited": gettext_lazy("请求过于频繁"),
    "invalid_credentials": gettext_lazy("用户名或密码错误"),
    "file_too_large": gettext_lazy("文件太大"),
    "not_authenticated": gettext_lazy("未登录"),
    "method_not_allowed": gettext_lazy("不支持该请求方法"),
    "error": gettext_lazy("出错了"),
}


def problem_title(code: str, default: str = "") -> str:
    """The title of problem `code` in the active language."""
    title = PROBLEM_TITLES.get(code)
    return str(title) if title is not None else default or code.replace("_", " ").capitalize()


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


class ClaimableDuplicateOut(Schema):
    id: int
    name: str
    pool_id: int
    pool: str


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
    claimable_duplicates: list[ClaimableDuplicateOut] | None = Field(
        None, description="duplicate problems: hidden candidates lying in a public pool the caller may claim from")


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
    body = dict(error.to_problem(instance=request.path))
    body["title"] = problem_title(error.code, error.title)
    if error.detail == error.title:  # raised without a detail: the (translated) title says it all
        body["detail"] = body["title"]
    return problem_response(error.status, body, headers)


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


# The schema layer's (pydantic's) messages in the reader's language, by error type; `ctx` fills the
# placeholders. A type missing here keeps pydantic's English message.
SCHEMA_MESSAGES = {
    "missing": gettext_lazy("此项为必填项。"),
    "extra_forbidden": gettext_lazy("不认识的字段。"),
    "string_type": gettext_lazy("必须是文本。"),
    "string_too_short": gettext_lazy("至少 %(min_length)s 个字符。"),
    "string_too_long": gettext_lazy("最多 %(max_length)s 个字符。"),
    "string_pattern_mismatch": gettext_lazy("格式不正确。"),
    "int_type": gettext_lazy("必须是整数。"),
    "int_parsing": gettext_lazy("必须是整数。"),
    "int_from_float": gettext_lazy("必须是整数（不能有小数）。"),
    "float_type": gettext_lazy("必须是数字。"),
    "float_parsing": gettext_lazy("必须是数字。"),
    "decimal_type": gettext_lazy("必须是数字。"),
    "decimal_parsing": gettext_lazy("必须是数字。"),
    "decimal_max_digits": gettext_lazy("数字位数过多。"),
    "decimal_max_places": gettext_lazy("小数位数过多。"),
    "bool_type": gettext_lazy("必须是 true 或 false。"),
    "bool_parsing": gettext_lazy("必须是 true 或 false。"),
    "list_type": gettext_lazy("必须是列表。"),
    "dict_type": gettext_lazy("必须是对象。"),
    "model_type": gettext_lazy("必须是对象。"),
    "model_attributes_type": gettext_lazy("必须是对象。"),
    "too_short": gettext_lazy("至少 %(min_length)s 项。"),
    "too_long": gettext_lazy("最多 %(max_length)s 项。"),
    "literal_error": gettext_lazy("必须是以下之一：%(expected)s。"),
    "enum": gettext_lazy("必须是以下之一：%(expected)s。"),
    "greater_than": gettext_lazy("必须大于 %(gt)s。"),
    "greater_than_equal": gettext_lazy("必须大于或等于 %(ge)s。"),
    "less_than": gettext_lazy("必须小于 %(lt)s。"),
    "less_than_equal": gettext_lazy("必须小于或等于 %(le)s。"),
    "date_type": gettext_lazy("必须是日期（YYYY-MM-DD）。"),
    "date_parsing": gettext_lazy("必须是日期（YYYY-MM-DD）。"),
    "date_from_datetime_parsing": gettext_lazy("必须是日期（YYYY-MM-DD）。"),
    "datetime_type": gettext_lazy("必须是 ISO 8601 日期时间。"),
    "datetime_parsing": gettext_lazy("必须是 ISO 8601 日期时间。"),
    "datetime_from_date_parsing": gettext_lazy("必须是 ISO 8601 日期时间。"),
    "json_invalid": gettext_lazy("请求体不是有效的 JSON。"),
    "uuid_parsing": gettext_lazy("必须是 UUID。"),
}


def _schema_message(error: dict[str, Any]) -> str:
    template = SCHEMA_MESSAGES.get(str(error.get("type", "")))
    if template is None:
        return str(error.get("msg", "invalid"))
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    try:
        return str(template) % context if "%(" in str(template) else str(template)
    except (KeyError, ValueError, TypeError):
        return str(error.get("msg", "invalid"))


def validation_error_response(request: HttpRequest, raw_errors: list[dict[str, Any]]) -> HttpResponse:
    errors = [FieldError(_location(error.get("loc", ())), _schema_message(error), str(error.get("type", "invalid")))
              for error in raw_errors]
    return simple_problem(request, 422, "validation_error", _("请求内容无效。"),
                          "; ".join(f"{error.field}: {error.message}" for error in errors[:5]), errors)


# Declared error responses, so the OpenAPI document lists every status an operation returns.
def errors(*statuses: int) -> dict[int, type[Problem]]:
    return {status: Problem for status in statuses}


READ_ERRORS = errors(401, 403, 404, 422)
WRITE_ERRORS = errors(401, 403, 404, 409, 412, 422)
