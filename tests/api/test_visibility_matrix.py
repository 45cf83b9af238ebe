"""Visibility matrix: every role × own / same department / other department / shared / team / public
pool records, through list, detail, count, search, update, delete and export, against an independent
reference.

The reference (`expected`) is written from the rules in the docstring of `identity/access.py` and the
default grants of sales records; it does not call the choke point. Every denied write must leave the
database (name, owner, version of every row and the audit trail) unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import make_account, make_contact

USERNAMES = ["admin", "director", "manager", "rep1", "rep2", "rep3", "presales", "marketing", "finance"]

# The documented default grants of a sales record (restated here so the test does not trust the code).
ROLE_GRANTS: dict[str, tuple[str, frozenset[str]]] = {
    "sales_manager": ("subtree", frozenset({"view", "create", "edit", "delete", "export", "import", "transfer"})),
    "sales_rep": ("own", frozenset({"view", "create", "edit", "export"})),
    "presales": ("own", frozenset({"view", "create", "edit"})),
    "marketing": ("all", frozenset({"view", "export"})),
    "finance": ("all", frozenset({"view", "export"})),
}
SCOPE_WIDTH = {"none": 0, "own": 1, "department": 2, "subtree": 3, "all": 4}


@dataclass(frozen=True)
class RecordSpec:
    """One account of the matrix: its owner and who else reaches it (username/department → access)."""

    key: str
    owner: str
    user_shares: dict[str, str] = field(default_factory=dict)
    department_shares: dict[str, str] = field(default_factory=dict)
    team: dict[str, str] = field(default_factory=dict)
    # Released by its owner into the 华北 pool (members: 华北销售部): no owner, the owner's department
    # kept, shares and team dropped.
    pooled: bool = False


SPECS = [
    RecordSpec("own-rep1", "rep1"),
    RecordSpec("own-rep2", "rep2"),  # same department (华北) as rep1 and manager
    RecordSpec("own-rep3", "rep3"),  # other department (华东)
    RecordSpec("own-manager", "manager"),
    RecordSpec("own-director", "director"),  # 销售中心, above 华北 and 华东
    RecordSpec("own-presales", "presales"),
    RecordSpec("own-admin", "admin"),  # no department
    RecordSpec("shared-read-rep1", "rep3", user_shares={"rep1": "read"}),
    RecordSpec("shared-edit-rep1", "rep3", user_shares={"rep1": "edit"}),
    RecordSpec("shared-north", "rep3", department_shares={"north": "read"}),
    RecordSpec("shared-edit-manager", "rep3", user_shares={"manager": "edit"}),
    RecordSpec("team-read-rep1", "rep3", team={"rep1": "read"}),
    RecordSpec("team-edit-rep1", "rep3", team={"rep1": "edit"}),
    RecordSpec("team-edit-manager", "rep3", team={"manager": "edit"}),
    RecordSpec("pooled-north", "rep2", pooled=True),
    RecordSpec("pooled-was-shared", "rep1", user_shares={"rep2": "edit"}, team={"rep3": "edit"}, pooled=True),
    RecordSpec("pooled-east", "rep3", pooled=True),
]
POOL_MEMBERS = {"admin", "manager", "rep1", "rep2"}  # 华北销售部 (and its sub-departments) and admins


def _token(index: int) -> str:
    """A search token unique to one record (no other record's name or pinyin contains it)."""
    return f"qvx{index:03d}k"


@dataclass
class World:
    org: Any
    accounts: dict[str, Any]  # spec key → Account
    contacts: dict[str, Any]  # spec key → Contact (only when built with contacts)
    specs: dict[str, RecordSpec]
    tokens: dict[str, str]
    pool: Any = None


def build_world(org: Any, *, with_contacts: bool = False) -> World:
    from l2c.apps.activity.services import record_share
    from l2c.apps.customers.pool import pool_release, pool_save
    from l2c.apps.customers.services import account_team_set

    departments = {"north": org.north, "east": org.east, "center": org.center}
    accounts: dict[str, Any] = {}
    contacts: dict[str, Any] = {}
    tokens: dict[str, str] = {}
    pool = None
    for index, spec in enumerate(SPECS):
        owner = org[spec.owner]
        tokens[spec.key] = _token(index)
        account = make_account(owner, f"矩阵客户{tokens[spec.key]}")
        for username, access_level in spec.user_shares.items():
            record_share(actor=owner, object_type="account", object_id=account.pk, user_id=org[username].pk,
                         access_level=access_level)
        for department_key, access_level in spec.department_shares.items():
            record_share(actor=owner, object_type="account", object_id=account.pk,
                         department_id=departments[department_key].pk, access_level=access_level)
        for username, access_level in spec.team.items():
            account_team_set(actor=owner, account_id=account.pk, user_id=org[username].pk, access_level=access_level)
        if with_contacts:
            contacts[spec.key] = make_contact(owner, account, f"矩阵联系人{tokens[spec.key]}")
        if spec.pooled:
            pool = pool or pool_save(actor=org["admin"], data={"name": "矩阵公海",
                                                                "member_department_ids": [org.north.pk]})
            account = pool_release(actor=org["admin"], account_id=account.pk, reason="矩阵", pool_id=pool.pk)
        accounts[spec.key] = account
    return World(org, accounts, contacts, {spec.key: spec for spec in SPECS}, tokens, pool)


# --- the reference --------------------------------------------------------------------------------
def _department_and_ancestors(department: Any) -> list[int]:
    ids = []
    node = department
    while node is not None:
        ids.append(node.pk)
        node = node.parent
    return ids


def expected(user: Any, world: World, key: str, action: str) -> bool:
    """May `user` perform `action` (view, edit, delete, export, transfer) on account `key`?"""
    account = world.accounts[key]
    spec = world.specs[key]
    roles = set(user.roles.values_list("code", flat=True))
    if user.is_superuser or "admin" in roles:
        return True
    grants = [ROLE_GRANTS[role] for role in roles if role in ROLE_GRANTS]
    actions = set().union(*(actions for _scope, actions in grants)) if grants else set()
    if action not in actions or "view" not in actions:
        return False
    scope = max((scope for scope, actions in grants if "view" in actions), key=SCOPE_WIDTH.__getitem__)
    owner = world.org[spec.owner]
    owns = owner.pk == user.pk and not spec.pooled  # a pooled account has no owner
    in_scope = {
        "own": owns,
        "department": owns or (
            account.department_id is not None and account.department_id == user.department_id),
        "subtree": owns or (
            account.department is not None and user.department_id is not None
            and user.department_id in _department_and_ancestors(account.department)),
        "all": True,
    }[scope]
    if action in ("delete", "transfer"):
        return in_scope  # shares and teams never grant them
    departments = {"north": world.org.north, "east": world.org.east, "center": world.org.center}
    reached = [level for name, level in spec.user_shares.items() if name == user.username]
    reached += [level for name, level in spec.department_shares.items()
                if departments[name].pk == user.department_id]
    reached += [level for name, level in spec.team.items() if name == user.username]
    if spec.pooled:
        reached = []  # going into the pool dropped its shares and team
    if action in ("view", "export"):
        return in_scope or bool(reached)
    assert action == "edit"
    return in_scope or "edit" in reached


def expected_contact(user: Any, world: World, key: str, action: str) -> bool:
    """Contacts follow their account; with the default grants the contact permissions equal the account's."""
    return expected(user, world, key, action)


# --- helpers --------------------------------------------------------------------------------------
def _account_rows() -> dict[int, tuple[str, int | None, int]]:
    from l2c.apps.customers.models import Account

    return {row[0]: row[1:] for row in Account.objects.values_list("pk", "name", "owner_id", "version")}


def _contact_rows() -> dict[int, tuple[str, int, int]]:
    from l2c.apps.customers.models import Contact

    return {row[0]: row[1:] for row in Contact.objects.values_list("pk", "name", "account_id", "version")}


def _audit_count() -> int:
    from l2c.apps.activity.models import AuditEvent

    return AuditEvent.objects.count()


def _denied_status(user: Any, world: World, key: str, *, contact: bool = False) -> int:
    reference = expected_contact if contact else expected
    return 403 if reference(user, world, key, "view") else 404


def test_reference_grants_match_the_shipped_defaults():
    from l2c.apps.identity.defaults import SALES_RECORD_DEFAULTS

    shipped = {role: (scope, frozenset(actions)) for role, (scope, actions) in SALES_RECORD_DEFAULTS.items()}

    assert shipped == ROLE_GRANTS


def test_the_world_covers_every_relation(org):
    """Sanity of the fixture: own, same department, other department, shares and teams all exist."""
    world = build_world(org)

    assert world.accounts["own-rep1"].department_id == org.north.pk
    assert world.accounts["own-rep2"].department_id == org.north.pk
    assert world.accounts["own-rep3"].department_id == org.east.pk
    assert world.accounts["own-admin"].department_id is None
    assert expected(org["rep1"], world, "shared-read-rep1", "view") is True
    assert expected(org["rep1"], world, "shared-read-rep1", "edit") is False
    assert expected(org["rep2"], world, "shared-north", "view") is True
    assert expected(org["manager"], world, "shared-edit-manager", "edit") is True
    assert expected(org["manager"], world, "shared-edit-manager", "delete") is False
    assert expected(org["director"], world, "shared-edit-manager", "delete") is True


@pytest.mark.parametrize("username", USERNAMES)
def test_account_reads_match_the_reference(org, api_client_for, username):
    from l2c.apps.customers.models import Account
    from l2c.apps.identity import access

    world = build_world(org)
    user = org[username]
    client = api_client_for(username)
    visible = {world.accounts[key].pk for key in world.accounts if expected(user, world, key, "view")}
    exportable = {world.accounts[key].pk for key in world.accounts if expected(user, world, key, "export")}
    rows_before, audit_before = _account_rows(), _audit_count()
    mismatches = []

    listed = client.get("/api/v1/accounts", {"limit": 200, "with_count": "true"})
    counted = client.get("/api/v1/accounts/count")
    for key, account in world.accounts.items():
        should_see = expected(user, world, key, "view")
        detail = client.get(f"/api/v1/accounts/{account.pk}")
        if detail.status_code != (200 if should_see else 404):
            mismatches.append(("detail", key, detail.status_code))
        found = client.get("/api/v1/accounts", {"q": world.tokens[key], "limit": 200})
        if [item["id"] for item in found.json()["items"]] != ([account.pk] if should_see else []):
            mismatches.append(("search", key, found.json()["items"]))
    exported = set(access.restrict(Account.objects.all(), user, "account", "export").values_list("pk", flat=True))
    browsed = client.get(f"/api/v1/pools/{world.pool.pk}/accounts", {"limit": 200})

    assert listed.status_code == 200
    assert {item["id"] for item in listed.json()["items"]} == visible
    # Pool members browse every pooled account (the pool's fields only); others do not reach the pool.
    if username in POOL_MEMBERS:
        assert browsed.status_code == 200
        assert {item["id"] for item in browsed.json()["items"]} == {
            world.accounts[key].pk for key in world.accounts if world.specs[key].pooled}
        assert all("phone" not in item for item in browsed.json()["items"])
    else:
        assert browsed.status_code == 404
    assert listed.json()["count"] == len(visible)
    assert counted.status_code == 200
    assert counted.json() == {"count": len(visible)}
    assert exported == exportable
    assert mismatches == []
    assert _account_rows() == rows_before
    assert _audit_count() == audit_before


@pytest.mark.parametrize("username", USERNAMES)
def test_account_updates_match_the_reference_and_denials_change_nothing(org, api_client_for, username):
    world = build_world(org)
    user = org[username]
    client = api_client_for(username)
    mismatches = []

    for key, account in world.accounts.items():
        rows_before, audit_before = _account_rows(), _audit_count()
        new_name = f"矩阵客户{world.tokens[key]}·{username}改"
        response = client.patch(f"/api/v1/accounts/{account.pk}", {"name": new_name, "confirm_duplicates": True},
                                content_type="application/json")
        if expected(user, world, key, "edit"):
            rows_after = _account_rows()
            if (response.status_code, response.json()["name"], response.json()["version"]) != (
                    200, new_name, rows_before[account.pk][2] + 1):
                mismatches.append(("update", key, response.status_code))
            if rows_after[account.pk] != (new_name, rows_before[account.pk][1], rows_before[account.pk][2] + 1):
                mismatches.append(("update-row", key, rows_after[account.pk]))
            if _audit_count() != audit_before + 1:
                mismatches.append(("update-audit", key, _audit_count() - audit_before))
        else:
            if response.status_code != _denied_status(user, world, key):
                mismatches.append(("update-denied", key, response.status_code))
            if _account_rows() != rows_before or _audit_count() != audit_before:
                mismatches.append(("update-denied-changed", key, None))

    assert mismatches == []


@pytest.mark.parametrize("username", USERNAMES)
def test_account_deletes_match_the_reference_and_denials_change_nothing(org, api_client_for, username):
    from l2c.apps.customers.models import Account

    world = build_world(org)
    user = org[username]
    client = api_client_for(username)
    mismatches = []

    for key, account in world.accounts.items():
        rows_before, audit_before = _account_rows(), _audit_count()
        response = client.delete(f"/api/v1/accounts/{account.pk}")
        if expected(user, world, key, "delete"):
            expected_rows = {pk: row for pk, row in rows_before.items() if pk != account.pk}
            if response.status_code != 204 or Account.objects.filter(pk=account.pk).exists():
                mismatches.append(("delete", key, response.status_code))
            if _account_rows() != expected_rows or _audit_count() != audit_before + 1:
                mismatches.append(("delete-side-effects", key, None))
        else:
            if response.status_code != _denied_status(user, world, key):
                mismatches.append(("delete-denied", key, response.status_code))
            if _account_rows() != rows_before or _audit_count() != audit_before:
                mismatches.append(("delete-denied-changed", key, None))

    assert mismatches == []


@pytest.mark.parametrize("username", USERNAMES)
def test_account_transfer_permission_matches_the_reference(org, username):
    """Transfer reach (the choke point's "transfer" filter) is the scope only: shares never grant it."""
    from l2c.apps.customers.models import Account
    from l2c.apps.identity import access

    world = build_world(org)
    user = org[username]

    transferable = set(access.restrict(Account.objects.all(), user, "account", "transfer").values_list("pk", flat=True))

    assert transferable == {world.accounts[key].pk for key in world.accounts if expected(user, world, key, "transfer")}


@pytest.mark.parametrize("username", USERNAMES)
def test_contacts_follow_their_account(org, api_client_for, username):
    from l2c.apps.customers.models import Contact
    from l2c.apps.identity import access

    world = build_world(org, with_contacts=True)
    user = org[username]
    client = api_client_for(username)
    visible = {world.contacts[key].pk for key in world.contacts if expected_contact(user, world, key, "view")}
    exportable = {world.contacts[key].pk for key in world.contacts if expected_contact(user, world, key, "export")}
    mismatches = []

    listed = client.get("/api/v1/contacts", {"limit": 200, "with_count": "true"})
    exported = set(access.restrict(Contact.objects.all(), user, "contact", "export").values_list("pk", flat=True))
    for key, contact in world.contacts.items():
        should_see = expected_contact(user, world, key, "view")
        detail = client.get(f"/api/v1/contacts/{contact.pk}")
        if detail.status_code != (200 if should_see else 404):
            mismatches.append(("detail", key, detail.status_code))
        found = client.get("/api/v1/contacts", {"q": world.tokens[key], "limit": 200})
        if [item["id"] for item in found.json()["items"]] != ([contact.pk] if should_see else []):
            mismatches.append(("search", key, found.json()["items"]))
        timeline = client.get(f"/api/v1/contacts/{contact.pk}/timeline")
        if timeline.status_code != (200 if should_see else 404):
            mismatches.append(("timeline", key, timeline.status_code))
    for key, contact in world.contacts.items():
        rows_before, audit_before = _contact_rows(), _audit_count()
        new_name = f"矩阵联系人{world.tokens[key]}改"
        response = client.patch(f"/api/v1/contacts/{contact.pk}", {"name": new_name},
                                content_type="application/json")
        if expected_contact(user, world, key, "edit"):
            if response.status_code != 200 or _contact_rows()[contact.pk][0] != new_name:
                mismatches.append(("update", key, response.status_code))
        elif (response.status_code != _denied_status(user, world, key, contact=True)
              or _contact_rows() != rows_before or _audit_count() != audit_before):
            mismatches.append(("update-denied", key, response.status_code))
    for key, contact in world.contacts.items():
        rows_before, audit_before = _contact_rows(), _audit_count()
        response = client.delete(f"/api/v1/contacts/{contact.pk}")
        if expected_contact(user, world, key, "delete"):
            if response.status_code != 204 or Contact.objects.filter(pk=contact.pk).exists():
                mismatches.append(("delete", key, response.status_code))
        elif (response.status_code != _denied_status(user, world, key, contact=True)
              or _contact_rows() != rows_before or _audit_count() != audit_before):
            mismatches.append(("delete-denied", key, response.status_code))

    assert mismatches == []
    assert listed.status_code == 200
    assert {item["id"] for item in listed.json()["items"]} == visible
    assert listed.json()["count"] == len(visible)
    assert exported == exportable


@pytest.mark.parametrize("username", USERNAMES)
def test_account_timeline_and_team_follow_view(org, api_client_for, username):
    world = build_world(org)
    user = org[username]
    client = api_client_for(username)
    mismatches = []

    for key, account in world.accounts.items():
        want = 200 if expected(user, world, key, "view") else 404
        for suffix in ("timeline", "team"):
            response = client.get(f"/api/v1/accounts/{account.pk}/{suffix}")
            if response.status_code != want:
                mismatches.append((suffix, key, response.status_code))

    assert mismatches == []


@pytest.mark.parametrize("username", USERNAMES)
def test_web_search_page_shows_only_visible_accounts(org, username):
    from django.test import Client

    world = build_world(org)
    user = org[username]
    client = Client()
    client.force_login(user)

    response = client.get("/search/", {"q": "qvx"})

    shown = {key for key in world.accounts if world.tokens[key] in response.content.decode()}
    assert response.status_code == 200
    assert shown == {key for key in world.accounts if expected(user, world, key, "view")}


@pytest.mark.parametrize("username", USERNAMES)
def test_account_transfers_through_the_api_match_the_reference(org, api_client_for, username):
    from l2c.apps.customers.models import Account

    world = build_world(org)
    user = org[username]
    client = api_client_for(username)
    mismatches = []

    for key, account in world.accounts.items():
        rows_before, audit_before = _account_rows(), _audit_count()
        response = client.post("/api/v1/accounts/transfer", {"ids": [account.pk], "to_user_id": user.pk},
                               content_type="application/json")
        if expected(user, world, key, "transfer"):
            moved = Account.objects.values_list("owner_id", "department_id").get(pk=account.pk)
            if response.status_code != 200 or moved != (user.pk, user.department_id):
                mismatches.append(("transfer", key, response.status_code, moved))
        elif (response.status_code != 403 or _account_rows() != rows_before
              or _audit_count() != audit_before):
            mismatches.append(("transfer-denied", key, response.status_code))

    assert mismatches == []


def _export_endpoint_mounted() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/v1/exports/account")
    except Resolver404:
        return False
    return True


def _exported_ids(response: Any) -> set[int]:
    import csv
    import io

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "编号"
    return {int(row[0]) for row in rows[1:]}


@pytest.mark.parametrize("username", USERNAMES)
def test_export_endpoint_matches_the_reference(org, api_client_for, username):
    """GET /api/v1/exports/<type>?format=csv exports exactly the records the reference allows."""
    if not _export_endpoint_mounted():
        pytest.skip("GET /api/v1/exports/<type> is not mounted in the API root yet")
    world = build_world(org, with_contacts=True)
    user = org[username]
    client = api_client_for(username)
    audit_before = _audit_count()

    accounts = client.get("/api/v1/exports/account", {"format": "csv"})
    contacts = client.get("/api/v1/exports/contact", {"format": "csv"})

    expected_accounts = {world.accounts[key].pk for key in world.accounts if expected(user, world, key, "export")}
    expected_contacts = {world.contacts[key].pk for key in world.contacts
                         if expected_contact(user, world, key, "export")}
    may_export = user.is_superuser or bool({"sales_manager", "sales_rep", "marketing", "finance"}
                                           & set(user.roles.values_list("code", flat=True)))
    if may_export:
        assert (accounts.status_code, contacts.status_code) == (200, 200)
        assert _exported_ids(accounts) == expected_accounts
        assert _exported_ids(contacts) == expected_contacts
    else:
        assert (accounts.status_code, contacts.status_code) == (403, 403)
        assert expected_accounts == set()
    assert _audit_count() == audit_before
