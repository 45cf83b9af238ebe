"""Lead visibility matrix: every role × own / same department / other department / shared / pooled
leads, through list, detail, count, update, delete and export, against an independent reference
written from the documented lead grants (ADR 0004) — it does not call the choke point. Every denied
write leaves the leads and the audit trail unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

USERNAMES = ["admin", "director", "manager", "rep1", "rep2", "rep3", "presales", "marketing", "finance"]

# The documented default grants of leads (restated so the test does not trust the code).
ROLE_GRANTS: dict[str, tuple[str, frozenset[str]]] = {
    "sales_manager": ("subtree", frozenset({"view", "create", "edit", "delete", "export", "import", "transfer"})),
    "sales_rep": ("own", frozenset({"view", "create", "edit", "export"})),
    "presales": ("own", frozenset({"view"})),
    "marketing": ("all", frozenset({"view", "create", "edit", "delete", "export", "import", "transfer"})),
    "finance": ("own", frozenset()),
}
SCOPE_WIDTH = {"none": 0, "own": 1, "department": 2, "subtree": 3, "all": 4}


@dataclass(frozen=True)
class LeadSpec:
    key: str
    owner: str | None  # None: lying unowned in the 华北 lead pool
    user_shares: dict[str, str] = field(default_factory=dict)
    department_shares: dict[str, str] = field(default_factory=dict)


SPECS = [
    LeadSpec("own-rep1", "rep1"),
    LeadSpec("own-rep2", "rep2"),
    LeadSpec("own-rep3", "rep3"),
    LeadSpec("own-manager", "manager"),
    LeadSpec("own-director", "director"),
    LeadSpec("own-marketing", "marketing"),
    LeadSpec("shared-read-rep1", "rep3", user_shares={"rep1": "read"}),
    LeadSpec("shared-edit-rep1", "rep3", user_shares={"rep1": "edit"}),
    LeadSpec("shared-north", "rep3", department_shares={"north": "read"}),
    LeadSpec("pooled-north", None),
]


@dataclass
class World:
    org: Any
    leads: dict[str, Any]
    specs: dict[str, LeadSpec]


def build_world(org: Any) -> World:
    from l2c.apps.activity.services import record_share
    from l2c.apps.leads.models import Lead, LeadPool
    from l2c.apps.leads.services import lead_create

    pool = LeadPool.objects.create(name="华北线索池")
    pool.member_departments.set([org.north])
    leads: dict[str, Any] = {}
    for index, spec in enumerate(SPECS):
        if spec.owner is None:
            lead = Lead.objects.create(name=f"池中线索{index}", pool=pool, department=org.north)
        else:
            owner = org[spec.owner]
            lead = lead_create(actor=owner, data={"name": f"矩阵线索{index}", "mobile": f"1390000{index:04d}"})
            for username, level in spec.user_shares.items():
                record_share(actor=owner, object_type="lead", object_id=lead.pk, user_id=org[username].pk,
                             access_level=level)
            for department, level in spec.department_shares.items():
                record_share(actor=owner, object_type="lead", object_id=lead.pk,
                             department_id=getattr(org, department).pk, access_level=level)
        leads[spec.key] = lead
    return World(org, leads, {spec.key: spec for spec in SPECS})


def _ancestors(department: Any) -> list[int]:
    ids = []
    while department is not None:
        ids.append(department.pk)
        department = department.parent
    return ids


def expected(user: Any, world: World, key: str, action: str) -> bool:
    lead, spec = world.leads[key], world.specs[key]
    roles = set(user.roles.values_list("code", flat=True))
    if user.is_superuser or "admin" in roles:
        return True
    grants = [ROLE_GRANTS[role] for role in roles if role in ROLE_GRANTS]
    actions = set().union(*(granted for _scope, granted in grants)) if grants else set()
    if action not in actions or "view" not in actions:
        return False
    scope = max((scope for scope, granted in grants if "view" in granted), key=SCOPE_WIDTH.__getitem__)
    owns = spec.owner is not None and world.org[spec.owner].pk == user.pk
    in_scope = {
        "own": owns,
        "department": owns or lead.department_id == user.department_id,
        "subtree": owns or (lead.department is not None and user.department_id in _ancestors(lead.department)),
        "all": True,
    }[scope]
    if action == "delete":
        return in_scope
    reached = [level for name, level in spec.user_shares.items() if name == user.username]
    reached += [level for name, level in spec.department_shares.items()
                if getattr(world.org, name).pk == user.department_id]
    if action in ("view", "export"):
        # Pool membership grants nothing here: members see pooled leads on the pool pages only.
        return in_scope or bool(reached)
    return in_scope or "edit" in reached


def _rows() -> dict[int, tuple[Any, ...]]:
    from l2c.apps.leads.models import Lead

    return {row[0]: row[1:] for row in Lead.objects.values_list("pk", "name", "title", "owner_id", "version")}


def _audit_count() -> int:
    from l2c.apps.activity.models import AuditEvent

    return AuditEvent.objects.count()


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERNAMES)
def test_lead_reads_match_the_reference(org: Any, api_client_for: Any, username: str) -> None:
    world = build_world(org)
    user, client = org[username], api_client_for(username)
    visible = {key for key in world.leads if expected(user, world, key, "view")}
    response = client.get("/api/v1/leads?limit=200&with_count=true")
    assert response.status_code == 200
    listed = {item["id"] for item in response.json()["items"]}
    assert listed == {world.leads[key].pk for key in visible}
    assert response.json()["count"] == len(visible)
    for key, lead in world.leads.items():
        status = client.get(f"/api/v1/leads/{lead.pk}").status_code
        assert status == (200 if key in visible else 404), (username, key)


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERNAMES)
def test_lead_updates_match_the_reference_and_denials_change_nothing(org: Any, api_client_for: Any,
                                                                    username: str) -> None:
    world = build_world(org)
    user, client = org[username], api_client_for(username)
    for key, lead in world.leads.items():
        before, audits = _rows(), _audit_count()
        response = client.patch(f"/api/v1/leads/{lead.pk}", data=json.dumps({"title": f"矩阵-{username}"}),
                                content_type="application/json")
        if expected(user, world, key, "edit"):
            assert response.status_code == 200, (username, key, response.content)
        else:
            assert response.status_code == (403 if expected(user, world, key, "view") else 404), (username, key)
            assert (_rows(), _audit_count()) == (before, audits), (username, key)


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERNAMES)
def test_lead_deletes_match_the_reference_and_denials_change_nothing(org: Any, api_client_for: Any,
                                                                    username: str) -> None:
    world = build_world(org)
    user, client = org[username], api_client_for(username)
    for key, lead in world.leads.items():
        before, audits = _rows(), _audit_count()
        response = client.delete(f"/api/v1/leads/{lead.pk}")
        if expected(user, world, key, "delete"):
            assert response.status_code == 204, (username, key)
        else:
            assert response.status_code == (403 if expected(user, world, key, "view") else 404), (username, key)
            assert (_rows(), _audit_count()) == (before, audits), (username, key)


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERNAMES)
def test_lead_export_matches_the_reference(org: Any, client: Any, username: str) -> None:
    import csv
    import io

    world = build_world(org)
    user = org[username]
    client.force_login(user)
    response = client.get("/export/?object_type=lead&format=csv")
    allowed = {world.leads[key].pk for key in world.leads if expected(user, world, key, "export")}
    if response.status_code != 200:
        assert not allowed and response.status_code in (302, 403), (username, response.status_code)
        return
    content = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    exported = {int(row[0]) for row in rows[1:] if row and row[0].isdigit()}
    assert exported == allowed, username


@pytest.mark.django_db
def test_reference_grants_match_the_shipped_defaults() -> None:
    from l2c.apps.leads.apps import LEAD_DEFAULTS

    assert {role: (scope, frozenset(actions)) for role, (scope, actions) in LEAD_DEFAULTS.items()} == ROLE_GRANTS
