"""The OpenAPI document is complete and every operation conforms to it (schemathesis, in-process WSGI).

The schema is loaded at module level (no schemathesis pytest fixture mode); each test drives one
operation through hypothesis inside the `db` fixture's transaction.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from l2c.api.root import api
from tests.conftest import make_account, make_contact

SCHEMA = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1"))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
PUBLIC_OPERATIONS = {"POST /api/v1/auth/token"}
HYPOTHESIS = {
    "derandomize": True, "deadline": None, "database": None,
    "suppress_health_check": list(HealthCheck), "phases": [Phase.explicit, Phase.generate, Phase.shrink],
}


@pytest.fixture
def wsgi_app() -> Any:
    """The real WSGI application, without closing the test transaction's connection per request
    (what Django's test client does too)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from l2c.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _seed(org: Any, username: str) -> dict[str, int]:
    """Records the caller may reach, so that fixed path parameters also exercise the 2xx paths."""
    from l2c.apps.activity.services import followup_create, todo_create
    from l2c.apps.customers.services import account_team_set
    from l2c.apps.identity.services import api_token_create

    user = org[username]
    account = make_account(user, "北京模糊测试科技有限公司")
    empty_account = make_account(user, "北京空客户有限公司")
    contact = make_contact(user, account, "赵敏")
    account_team_set(actor=user, account_id=account.pk, user_id=org["rep2"].pk)
    todo = todo_create(actor=user, title="回访")
    followup_create(actor=user, object_type="account", object_id=account.pk, kind="call", content="电话沟通")
    token, _secret = api_token_create(user=user, name="spare")
    return {"account_id": account.pk, "contact_id": contact.pk, "todo_id": todo.pk, "token_id": token.pk,
            "user_id": org["rep2"].pk, "empty_account_id": empty_account.pk}


def _strategy(operation: Any, known: dict[str, int], mode: Any = None) -> Any:
    kwargs = {"generation_mode": mode} if mode is not None else {}
    free = operation.as_strategy(**kwargs)
    names = [parameter.name for parameter in operation.path_parameters]
    if not names or not all(name in known for name in names):
        return free
    fixed = operation.as_strategy(path_parameters={name: known[name] for name in names}, **kwargs)
    return st.one_of(fixed, free)


def _label(operation: Any) -> str:
    return operation.label


@pytest.mark.parametrize("username", ["admin", "rep1"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_operation_conforms_to_the_schema_for_an_authenticated_user(org, wsgi_app, username, operation):
    from l2c.apps.identity.services import api_token_create

    known = _seed(org, username)
    _token, secret = api_token_create(user=org[username], name="fuzz")
    headers = {"Authorization": f"Bearer {secret}"}

    @settings(max_examples=12, **HYPOTHESIS)
    @given(case=_strategy(operation, known))
    def run(case: Any) -> None:
        case.headers = {key: value for key, value in (case.headers or {}).items()
                        if key.lower() not in ("authorization", "cookie")}
        case.call_and_validate(app=wsgi_app, headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_invalid_input_never_causes_a_server_error(org, wsgi_app, operation):
    from schemathesis import GenerationMode

    from l2c.apps.identity.services import api_token_create

    known = _seed(org, "rep1")
    _token, secret = api_token_create(user=org["rep1"], name="fuzz")
    headers = {"Authorization": f"Bearer {secret}"}

    @settings(max_examples=8, **HYPOTHESIS)
    @given(case=_strategy(operation, known, GenerationMode.NEGATIVE))
    def run(case: Any) -> None:
        case.headers = {key: value for key, value in (case.headers or {}).items()
                        if key.lower() not in ("authorization", "cookie")}
        case.call_and_validate(app=wsgi_app, headers=headers, checks=[not_a_server_error])

    run()


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_anonymous_callers_get_401_except_on_the_token_endpoint(org, wsgi_app, operation):
    statuses: set[int] = set()

    @settings(max_examples=5, **HYPOTHESIS)
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        case.headers = {key: value for key, value in (case.headers or {}).items()
                        if key.lower() not in ("authorization", "cookie")}
        response = case.call_and_validate(app=wsgi_app, checks=CHECKS)
        statuses.add(response.status_code)
        if operation.label not in PUBLIC_OPERATIONS:
            assert response.status_code == 401
            assert response.headers["content-type"] == ["application/problem+json"]

    run()

    if operation.label in PUBLIC_OPERATIONS:
        assert statuses <= {401, 422, 429}
    else:
        assert statuses == {401}


def _django_api_routes() -> set[tuple[str, str]]:
    """(path template, view name) of every URL pattern under /api/v1/, as in the OpenAPI document."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: list[Any], prefix: str) -> Any:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.name

    routes = set()
    for route, name in walk(get_resolver().url_patterns, "/"):
        if route.startswith("/api/v1/"):
            routes.add((re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), name))
    return routes


def test_every_api_route_is_in_the_openapi_document():
    document = api.get_openapi_schema(path_prefix="/api/v1")
    helper_routes = {"/api/v1/", "/api/v1/openapi.json", "/api/v1/docs"}

    missing = sorted(path for path, _name in _django_api_routes()
                     if path not in helper_routes and path not in document["paths"])

    assert missing == []
    assert len(document["paths"]) >= 20


def test_every_documented_operation_is_reachable_at_its_path():
    """A route with a path parameter must not shadow a later static route (e.g. /accounts/{id} vs
    /accounts/transfer): each documented path resolves to the pattern that documents it."""
    from django.urls import resolve

    document = api.get_openapi_schema(path_prefix="/api/v1")
    wrong = []
    for path in document["paths"]:
        concrete = re.sub(r"\{\w+\}", "1", path)
        match = resolve(concrete)
        resolved = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", match.route)
        if resolved != path:
            wrong.append((path, resolved))

    assert wrong == []


def test_the_openapi_document_is_served(org):
    from django.test import Client

    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")
    assert set(response.json()["paths"]) == set(api.get_openapi_schema(path_prefix="/api/v1")["paths"])
