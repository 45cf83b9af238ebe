"""Typed business errors with a stable machine code and an HTTP status.

Services raise these; the API layer renders them as RFC 9457 problem documents
(``application/problem+json``) via ``DomainError.to_problem``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, NotRequired, TypedDict

__all__ = [
    "PROBLEM_TYPE_BASE",
    "Conflict",
    "DomainError",
    "FieldError",
    "IdempotencyMismatch",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "ProblemDocument",
    "ProblemFieldError",
    "RateLimited",
    "ValidationFailed",
]

PROBLEM_TYPE_BASE = "https://l2c.dev/problems/"


class ProblemFieldError(TypedDict):
    field: str
    message: str
    code: str
    row: NotRequired[int]


class ProblemDocument(TypedDict):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: NotRequired[str]
    errors: list[ProblemFieldError]
    duplicates: NotRequired[list[dict[str, object]]]
    hidden_duplicates: NotRequired[int]
    claimable_duplicates: NotRequired[list[dict[str, object]]]


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; ``row`` is the 1-based data row of an import file."""

    field: str
    message: str
    code: str = "invalid"
    row: int | None = None

    def to_dict(self) -> ProblemFieldError:
        entry: ProblemFieldError = {"field": self.field, "message": self.message, "code": self.code}
        if self.row is not None:
            entry["row"] = self.row
        return entry


class DomainError(Exception):
    """Base of all business errors: a stable ``code``, an HTTP ``status`` and a ``title``.

    ``detail`` explains this occurrence (defaults to the title); ``errors`` lists per-field
    problems.
    """

    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request cannot be processed"

    detail: str
    errors: list[FieldError]

    def __init__(self, detail: str | None = None, *, errors: Sequence[FieldError] = ()) -> None:
        self.detail = self.title if detail is None else detail
        self.errors = list(errors)
        super().__init__(self.detail)

    def to_problem(self, instance: str | None = None) -> ProblemDocument:
        """The RFC 9457 problem document; ``instance`` is included only when given."""
        problem: ProblemDocument = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "errors": [error.to_dict() for error in self.errors],
        }
        if instance is not None:
            problem["instance"] = instance
        return problem


class ValidationFailed(DomainError):
    """The input is well-formed but breaks a business or field rule."""

    code = "validation_error"
    status = 422
    title = "Validation failed"

    @classmethod
    def for_field(cls, field: str, message: str, code: str = "invalid") -> ValidationFailed:
        """A validation error about a single field; ``detail`` is the field message."""
        return cls(message, errors=[FieldError(field=field, message=message, code=code)])


class NotFound(DomainError):
    """The object does not exist or is not visible to the caller."""

    code = "not_found"
    status = 404
    title = "Not found"


class PermissionDenied(DomainError):
    """The caller may see the object but not perform this action."""

    code = "permission_denied"
    status = 403
    title = "Permission denied"


class Conflict(DomainError):
    """The action conflicts with the current state (lost compare-and-set, duplicate, ...)."""

    code = "conflict"
    status = 409
    title = "Conflict"


class PreconditionFailed(DomainError):
    """An ``If-Match`` version or other stated precondition no longer holds."""

    code = "precondition_failed"
    status = 412
    title = "Precondition failed"


class IdempotencyMismatch(DomainError):
    """An ``Idempotency-Key`` was reused with a different request body."""

    code = "idempotency_key_reused"
    status = 422
    title = "Idempotency key reused"


class RateLimited(DomainError):
    """Too many requests; ``retry_after_seconds`` feeds the ``Retry-After`` header."""

    code = "rate_limited"
    status = 429
    title = "Rate limited"

    retry_after_seconds: int | None

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(detail, errors=errors)
        self.retry_after_seconds = retry_after_seconds


class DuplicateFound(Conflict):
    """The record looks like existing ones. ``blocking``: a rule forbids saving it; otherwise the
    caller may save it anyway by confirming (``confirm_duplicates``). ``duplicates`` lists the
    candidates the caller may see; ``hidden_duplicates`` counts those they may not (never named);
    ``claimable_duplicates`` names the hidden ones lying in a public pool the caller may claim from
    (their pool pages show them anyway), so the caller claims instead of duplicating."""

    code = "duplicate"
    title = "Possible duplicate"

    def __init__(self, detail: str | None = None, *, blocking: bool, duplicates: Sequence[dict[str, object]],
                 hidden_duplicates: int, claimable_duplicates: Sequence[dict[str, object]] = ()) -> None:
        super().__init__(detail)
        self.blocking = blocking
        self.duplicates = list(duplicates)
        self.hidden_duplicates = hidden_duplicates
        self.claimable_duplicates = list(claimable_duplicates)

    def to_problem(self, instance: str | None = None) -> ProblemDocument:
        problem = super().to_problem(instance)
        problem["code"] = "duplicate" if self.blocking else "duplicate_unconfirmed"
        problem["type"] = PROBLEM_TYPE_BASE + problem["code"]
        problem["duplicates"] = self.duplicates
        problem["hidden_duplicates"] = self.hidden_duplicates
        problem["claimable_duplicates"] = self.claimable_duplicates
        return problem
