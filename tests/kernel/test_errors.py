import pytest

from l2c.kernel.errors import (
    Conflict,
    DomainError,
    FieldError,
    IdempotencyMismatch,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    ValidationFailed,
)


@pytest.mark.parametrize(
    ("error_class", "code", "status", "title"),
    [
        (DomainError, "domain_error", 400, "Request cannot be processed"),
        (ValidationFailed, "validation_error", 422, "Validation failed"),
        (NotFound, "not_found", 404, "Not found"),
        (PermissionDenied, "permission_denied", 403, "Permission denied"),
        (Conflict, "conflict", 409, "Conflict"),
        (PreconditionFailed, "precondition_failed", 412, "Precondition failed"),
        (IdempotencyMismatch, "idempotency_key_reused", 422, "Idempotency key reused"),
        (RateLimited, "rate_limited", 429, "Rate limited"),
    ],
)
def test_error_classes_table(error_class, code, status, title):
    error = error_class()

    assert issubclass(error_class, DomainError)
    assert issubclass(error_class, Exception)
    assert (error_class.code, error_class.status, error_class.title) == (code, status, title)
    assert error.detail == title
    assert error.errors == []
    assert error.to_problem() == {
        "type": f"https://l2c.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": title,
        "code": code,
        "errors": [],
    }


def test_validation_problem_document_with_field_errors_and_instance():
    error = ValidationFailed(
        "The import file has 2 invalid rows.",
        errors=[
            FieldError(field="phone", message="Enter a valid mobile number.", row=3),
            FieldError(field="uscc", message="check character should be '3'", code="checksum", row=7),
            FieldError(field="name", message="This field is required.", code="required"),
        ],
    )

    assert error.to_problem(instance="/api/v1/imports/42") == {
        "type": "https://l2c.dev/problems/validation_error",
        "title": "Validation failed",
        "status": 422,
        "detail": "The import file has 2 invalid rows.",
        "code": "validation_error",
        "instance": "/api/v1/imports/42",
        "errors": [
            {"field": "phone", "message": "Enter a valid mobile number.", "code": "invalid", "row": 3},
            {"field": "uscc", "message": "check character should be '3'", "code": "checksum", "row": 7},
            {"field": "name", "message": "This field is required.", "code": "required"},
        ],
    }


def test_detail_is_the_exception_message():
    error = NotFound("Lead 7 does not exist.")

    assert str(error) == "Lead 7 does not exist."
    assert error.detail == "Lead 7 does not exist."


def test_errors_are_copied_into_a_list():
    field_errors = (FieldError(field="name", message="Required."),)

    error = Conflict("Duplicate.", errors=field_errors)

    assert error.errors == [FieldError(field="name", message="Required.")]
    assert isinstance(error.errors, list)


def test_validation_failed_for_field():
    error = ValidationFailed.for_field("email", "Enter a valid email address.", code="invalid_email")

    assert error.detail == "Enter a valid email address."
    assert error.errors == [
        FieldError(field="email", message="Enter a valid email address.", code="invalid_email")
    ]


def test_field_error_is_frozen_and_defaults_code_and_row():
    field_error = FieldError(field="name", message="Required.")

    assert (field_error.code, field_error.row) == ("invalid", None)
    assert field_error.to_dict() == {"field": "name", "message": "Required.", "code": "invalid"}
    with pytest.raises(AttributeError):
        field_error.code = "other"  # type: ignore[misc]


def test_rate_limited_carries_retry_after():
    error = RateLimited("Slow down.", retry_after_seconds=30)

    assert error.retry_after_seconds == 30
    assert error.to_problem()["status"] == 429
    assert RateLimited().retry_after_seconds is None


def test_domain_errors_can_be_raised_and_caught_by_base_class():
    with pytest.raises(DomainError) as caught:
        raise PreconditionFailed("The quote changed since you loaded it.")

    assert caught.value.status == 412
    assert caught.value.code == "precondition_failed"
