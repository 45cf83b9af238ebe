"""Shared fixtures: a small organisation with one user per role, API clients, factories."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

os.environ.setdefault("L2C_TESTING", "1")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _default_language() -> Any:
    """Each test starts in the default language (zh-hans): a request made in English by an earlier
    test in the same worker must not leak into the messages this test checks."""
    from django.utils import translation

    translation.activate("zh-hans")
    yield
    translation.deactivate()


@dataclass
class Org:
    """销售中心 ├ 华北销售部 (manager, rep1, rep2) └ 华东销售部 (rep3); 市场部 (marketing); 财务部 (finance)."""

    center: Any
    north: Any
    east: Any
    marketing_department: Any
    finance_department: Any
    users: dict[str, Any]

    def __getitem__(self, username: str) -> Any:
        return self.users[username]


@pytest.fixture
def org(db: Any) -> Org:
    from l2c.apps.identity.services import department_create, roles_ensure_builtin, user_create

    roles_ensure_builtin()
    center = department_create(name="销售中心")
    north = department_create(name="华北销售部", parent_id=center.pk)
    east = department_create(name="华东销售部", parent_id=center.pk)
    marketing_department = department_create(name="市场部")
    finance_department = department_create(name="财务部")
    spec = {
        "admin": (None, ["admin"], True),
        "director": (center.pk, ["sales_manager"], False),
        "manager": (north.pk, ["sales_manager"], False),
        "rep1": (north.pk, ["sales_rep"], False),
        "rep2": (north.pk, ["sales_rep"], False),
        "rep3": (east.pk, ["sales_rep"], False),
        "presales": (center.pk, ["presales"], False),
        "marketing": (marketing_department.pk, ["marketing"], False),
        "finance": (finance_department.pk, ["finance"], False),
    }
    users = {}
    for username, (department_id, roles, superuser) in spec.items():
        users[username] = user_create(
            username=username, password="pw-" + username, display_name=username, email=f"{username}@example.com",
            department_id=department_id, role_codes=roles, is_superuser=superuser,
        )
    north.manager = users["manager"]
    north.save()
    return Org(center, north, east, marketing_department, finance_department, users)


def make_account(owner: Any, name: str = "北京星河科技有限公司", **fields: Any) -> Any:
    """An account as a user makes it who confirms duplicate warnings (blocking rules still apply)."""
    from l2c.apps.customers.services import account_create

    return account_create(actor=owner, data={"name": name, "confirm_duplicates": True, **fields})


def make_contact(owner: Any, account: Any, name: str = "王强", **fields: Any) -> Any:
    from l2c.apps.customers.services import contact_create

    return contact_create(actor=owner, data={"name": name, "account_id": account.pk, "confirm_duplicates": True,
                                             **fields})


@pytest.fixture
def api_client_for(org: Org) -> Any:
    """A Django test client authenticated with a bearer token of the named user."""
    from django.test import Client

    from l2c.apps.identity.services import api_token_create

    def build(username: str | None) -> Client:
        if username is None:
            return Client()
        _token, secret = api_token_create(user=org[username], name="tests")
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return build
