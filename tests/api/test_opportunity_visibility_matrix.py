"""Opportunity visibility matrix: every role × own / same department / other department / shared /
deal-team deals, through list, detail, count, update and delete, against an independent reference
written from the documented grants (ADR 0005) — it does not call the choke point. Every denied write
leaves the deals and the audit trail unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

USERNAMES = ["admin", "director", "manager", "rep1", "rep2", "rep3", "presales", "marketing", "finance"]

# The documented default grants of opportunities (restated so the test does not trust the code).
ROLE_GRANTS: dict[str, tuple[str, frozenset[str]]] = {
    "sales_manager": ("subtree", frozenset({"view", "create", "edit", "delete", "export", "import", "transfer"})),
    "sales_rep": ("own", frozenset({"view", "create", "edit", "export"})),
    "presales": ("own", frozenset({"view", "edit"})),
    "marketing": ("all", frozenset({"view", "export"})),
    "finance": ("all", frozenset({"view", "export"})),
}
SCOPE_WIDTH = {"none": 0, "own": 1, "department": 2, "subtree": 3, "all": 4}


@dataclass(frozen=True)
class DealSpec:
    key: str
    owner: str
    user_shares: dict[str, str] = field(default_factory=dict)
    department_shares: dict[str, str] = field(default_factory=dict)
    team: dict[str, str] = field(default_factory=dict)  # username -> read / edit


SPECS = [
    DealSpec("own-rep1", "rep1"),
    DealSpec("own-rep2", "rep2"),
    DealSpec("own-rep3", "rep3"),
    DealSpec("own-manager", "manager"),
    DealSpec("own-director", "director"),
    DealSpec("shared-read-rep1", "rep3", user_shares={"rep1": "read"}),
    DealSpec("shared-edit-rep1", "rep3", user_shares={"rep1": "edit"}),
    DealSpec("shared-north", "rep3", department_shares={"north": "read"}),
    DealSpec("team-read-presales", "rep3", team={"presales": "read"}),
    DealSpec("team-edit-presales-rep2", "rep3", team={"presales": "edit", "rep2": "edit"}),
]


@dataclass
class World:
    org: Any
    deals: dict[str, Any]
    specs: dict[str, DealSpec]


def build_world(org: Any) -> World:
    from l2c.apps.activity.services import record_share
    from l2c.apps.opportunities.services import opportunity_create, team_member_set
    from tests.conftest import make_account

    deals: dict[str, Any] = {}
    accounts: dict[str, Any] = {}
    for index, spec in enumerate(SPECS):
        owner = org[spec.owner]
        if spec.owner not in accounts:
            accounts[spec.owner] = make_account(owner, name=f"矩阵客户{index}有限公司")
        deal = opportunity_create(actor=owner, data={"name": f"矩阵商机{index}", "account_id": accounts[spec.owner].pk})
        for username, level in spec.user_shares.items():
            record_share(actor=owner, object_type="opportunity", object_id=deal.pk, user_id=org[username].pk,
                         access_level=level)
        for department, level in spec.department_shares.items():
            record_share(actor=owner, object_type="opportunity", object_id=deal.pk,
                         department_id=getattr(org, department).pk, access_level=level)
        for username, level in spec.team.items():
            team_member_set(actor=owner, opportunity_id=deal.pk, user_id=org[username].pk, access_level=level)
        deals[spec.key] = deal
    return World(org, deals, {spec.key: spec for spec in SPECS})


def _ancestors(department: Any) -> list[int]:
    ids = []
    while department is not None:
        ids.append(department.pk)
        department = department.parent
    return ids


def expected(user: Any, world: World, key: str, action: str) -> bool:
    deal, spec = world.deals[key], world.specs[key]
    roles = set(user.roles.values_list("code", flat=True))
    if user.is_superuser or "admin" in roles:
        return True
    grants = [ROLE_GRANTS[role] for role in roles if role in ROLE_GRANTS]
    actions = set().union(*(granted for _scope, granted in grants)) if grants else set()
    if action not in actions or "view" not in actions:
        return False
    scope = max((scope for scope, granted in grants if "view" in granted), key=SCOPE_WIDTH.__getitem__)
    owns = world.org[spec.owner].pk == user.pk
    in_scope = {
        "own": owns,
        "department": owns or deal.department_id == user.department_id,
        "subtree": owns or (deal.department is not None and user.department_id in _ancestors(deal.department)),
        "all": True,
    }[scope]
    if action == "delete":
        return in_scope
    reached = [level for name, level in spec.user_shares.items() if name == user.username]
    reached += [level for name, level in spec.department_shares.items()
                if getattr(world.org, name).pk == user.department_id]
    reached += [level for name, level in spec.team.items() if name == user.username]
    if action in ("view", "export"):
        return in_scope or bool(reached)
    return in_scope or "edit" in reached


def _rows() -> dict[int, tuple[Any, ...]]:
    from l2c.apps.opportunities.models import Opportunity

    return {row[0]: row[1:] for row in Opportunity.objects.values_list("pk", "name", "next_step", "owner_id",
                                                                       "version")}


def _audit_count() -> int:
    from l2c.apps.activity.models import AuditEvent

    return AuditEvent.objects.count()


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERNAMES)
def test_opportunity_reads_match_the_reference(org: Any, api_client_for: Any, username: str) -> None:
    world = build_world(org)
    user, client = org[username], api_client_for(username)
    visible = {key for key in world.deals if expected(user, world, key, "view")}
    response = client.get("/api/v1/opportunities?limit=200&with_count=true")
    assert response.status_code == 200
    listed = {item["id"] for item in response.json()["items"]}
    assert listed == {world.deals[key].pk for key in visible}, username
    assert response.json()["count"] == len(visible)
    for key, deal in world.deals.items():
        status = client.get(f"/api/v1/opportunities/{deal.pk}").status_code
        assert status == (200 if key in visible else 404), (username, key)


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERNAMES)
def test_opportunity_updates_match_the_reference_and_denials_change_nothing(org: Any, api_client_for: Any,
                                                                           username: str) -> None:
    world = build_world(org)
    user, client = org[username], api_client_for(username)
    for key, deal in world.deals.items():
        before, audits = _rows(), _audit_count()
        response = client.patch(f"/api/v1/opportunities/{deal.pk}",
                                data=json.dumps({"next_step": f"矩阵-{username}"}), content_type="application/json")
        if expected(user, world, key, "edit"):
            assert response.status_code == 200, (username, key, response.content)
        else:
            assert response.status_code == (403 if expected(user, world, key, "view") else 404), (username, key)
            assert (_rows(), _audit_count()) == (before, audits), (username, key)


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERNAMES)
def test_opportunity_deletes_match_the_reference_and_denials_change_nothing(org: Any, api_client_for: Any,
                                                                           username: str) -> None:
    world = build_world(org)
    user, client = org[username], api_client_for(username)
    for key, deal in world.deals.items():
        before, audits = _rows(), _audit_count()
        response = client.delete(f"/api/v1/opportunities/{deal.pk}")
        if expected(user, world, key, "delete"):
            assert response.status_code == 204, (username, key)
        else:
            assert response.status_code == (403 if expected(user, world, key, "view") else 404), (username, key)
            assert (_rows(), _audit_count()) == (before, audits), (username, key)


@pytest.mark.django_db
def test_reference_grants_match_the_shipped_defaults() -> None:
    from l2c.apps.opportunities.apps import OPPORTUNITY_DEFAULTS

    shipped = {role: (scope, frozenset(actions)) for role, (scope, actions) in OPPORTUNITY_DEFAULTS.items()}
    assert shipped == ROLE_GRANTS
