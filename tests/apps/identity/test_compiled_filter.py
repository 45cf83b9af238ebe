"""The choke point's memoised SQL (`access.restrict`): it selects exactly the rows of the record filter
it was compiled from, for every user and action, also inside a subquery; and a change of roles,
department or activity takes effect on the very next request, while shares and team membership
(read when the query runs) need no recompiling."""

from __future__ import annotations

from typing import Any

import pytest

from l2c.apps.customers.models import Account, AccountTeamMember, Contact
from l2c.apps.identity import access
from l2c.apps.identity.models import Role, Share, User
from tests.conftest import make_account, make_contact

ACTIONS = ("view", "edit", "delete", "transfer", "export")


def _fresh(user: Any) -> User:
    """The user as the next request loads it: role codes and grants read again."""
    return User.objects.get(pk=user.pk)


def _ids(queryset: Any) -> list[int]:
    return sorted(queryset.values_list("pk", flat=True))


def _reference(model: Any, user: User, key: str, action: str) -> list[int]:
    """The record filter applied as a Q, without the memoised SQL."""
    condition = access.record_filter(user, key, action)
    queryset = model.objects.all() if condition is None else model.objects.filter(condition)
    return _ids(queryset)


@pytest.fixture
def records(org: Any) -> dict[str, Any]:
    accounts = {name: make_account(org[name], f"北京{name}测试公司") for name in ("rep1", "rep2", "rep3", "manager")}
    shared = make_account(org["rep3"], "上海共享测试公司")
    Share.objects.create(object_type="account", object_id=shared.pk, user=org["rep1"], access="edit")
    team = make_account(org["rep3"], "上海团队测试公司")
    AccountTeamMember.objects.create(account=team, user=org["rep1"], access="read")
    contacts = [make_contact(account.owner, account, f"联系人{index}")
                for index, account in enumerate([*accounts.values(), shared, team])]
    return {"accounts": accounts, "shared": shared, "team": team, "contacts": contacts}


def test_restrict_selects_the_rows_of_the_record_filter_for_every_user_and_action(org, records):
    for username in org.users:
        for action in ACTIONS:
            user = _fresh(org[username])
            for model, key in ((Account, "account"), (Contact, "contact")):
                # twice: compiled on the first call, from the memo on the second
                first = _ids(access.restrict(model.objects.all(), user, key, action))
                second = _ids(access.restrict(model.objects.all(), _fresh(user), key, action))
                assert first == second == _reference(model, user, key, action), (username, action, key)


def test_a_restricted_queryset_inside_a_subquery_keeps_its_filter(org, records):
    rep1 = _fresh(org["rep1"])
    visible = access.restrict(Account.objects.all(), rep1, "account")

    contacts = _ids(Contact.objects.filter(account__in=visible.values("pk")))

    expected_accounts = {records["accounts"]["rep1"].pk, records["shared"].pk, records["team"].pk}
    assert contacts == sorted(c.pk for c in records["contacts"] if c.account_id in expected_accounts)


def test_a_revoked_role_takes_effect_on_the_next_request(org, records, api_client_for):
    client = api_client_for("manager")
    north = {records["accounts"][name].pk for name in ("rep1", "rep2", "manager")}
    assert {item["id"] for item in client.get("/api/v1/accounts").json()["items"]} == north

    org["manager"].roles.set([Role.objects.get(code="sales_rep")])
    assert {item["id"] for item in client.get("/api/v1/accounts").json()["items"]} == {
        records["accounts"]["manager"].pk}

    org["manager"].roles.set([])
    response = client.get("/api/v1/accounts")
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_a_moved_user_sees_the_new_department_on_the_next_request(org, records, api_client_for):
    client = api_client_for("manager")
    client.get("/api/v1/accounts")

    User.objects.filter(pk=org["manager"].pk).update(department=org.east)

    items = client.get("/api/v1/accounts").json()["items"]
    assert {item["id"] for item in items} == {records["accounts"]["rep3"].pk, records["accounts"]["manager"].pk,
                                             records["shared"].pk, records["team"].pk}


def test_a_deactivated_user_is_refused_on_the_next_request(org, records, api_client_for):
    client = api_client_for("rep1")
    assert client.get("/api/v1/accounts").status_code == 200

    User.objects.filter(pk=org["rep1"].pk).update(is_active=False)

    assert client.get("/api/v1/accounts").status_code == 401


def test_shares_and_team_membership_count_without_recompiling(org, records, api_client_for):
    client = api_client_for("rep2")
    before = {item["id"] for item in client.get("/api/v1/accounts").json()["items"]}
    assert before == {records["accounts"]["rep2"].pk}

    Share.objects.create(object_type="account", object_id=records["shared"].pk, user=org["rep2"])
    AccountTeamMember.objects.create(account=records["team"], user=org["rep2"])
    after = {item["id"] for item in client.get("/api/v1/accounts").json()["items"]}

    assert after == {records["accounts"]["rep2"].pk, records["shared"].pk, records["team"].pk}
