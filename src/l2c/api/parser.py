"""Request parsing for the API: JSON bodies and query strings, refusing NUL characters.

PostgreSQL text cannot hold NUL (0x00); a NUL reaching a query or an INSERT is a database error.
No stored value contains one, so the API rejects such input up front with a 422 naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from ninja.parser import Parser

from l2c.kernel.errors import FieldError, ValidationFailed

NUL = "\x00"


def _nul_fields(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path or "body"] if NUL in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                found.append(child)
            found.extend(_nul_fields(item, child))
        return found
    if isinstance(value, list):
        return [field for index, item in enumerate(value) for field in _nul_fields(item, f"{path}.{index}")]
    return []


def _reject(fields: list[str]) -> None:
    if fields:
        raise ValidationFailed(
            _("文本不能包含 NUL 字符。"),
            errors=[FieldError(field.replace(NUL, "\\x00"), _("不能包含 NUL 字符。"), "null_character")
                    for field in fields[:20]],
        )


class NulRejectingParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        _reject(_nul_fields(data, ""))
        return data  # type: ignore[no-any-return]

    def parse_querydict(self, data: MultiValueDict[str, Any], list_fields: list[str],
                        request: HttpRequest) -> dict[str, Any]:
        _reject([key for key, values in data.lists() for value in values if isinstance(value, str) and NUL in value]
                + [key for key in data if NUL in key])
        return super().parse_querydict(data, list_fields, request)
