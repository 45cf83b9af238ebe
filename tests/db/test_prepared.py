"""Prepared queries: the ORM's SQL compiled once, run with new values, rows converted as the ORM does."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.apps.identity.models import User
from l2c.db.prepared import PreparedQuery

pytestmark = pytest.mark.django_db


def _user(username: str, **fields: object) -> User:
    return User.objects.create(username=username, display_name=username, **fields)


def test_each_run_binds_its_values_and_converts_like_the_orm():
    first = _user("first", is_staff=True)
    second = _user("second")
    query = PreparedQuery(
        lambda username: User.objects.filter(username=username, is_active=True).values_list(
            "pk", "is_staff", "date_joined"),
        username=str,
    )

    rows = {name: query.rows(username=name) for name in ("first", "second", "nobody")}

    expected = {name: list(User.objects.filter(username=name).values_list("pk", "is_staff", "date_joined"))
                for name in ("first", "second", "nobody")}
    assert rows == expected
    assert rows["first"][0][0] == first.pk and rows["second"][0][0] == second.pk
    assert rows["first"][0][1] is True
    assert rows["first"][0][2].utcoffset() == dt.timedelta(0)  # aware, as the ORM returns it


def test_the_query_is_compiled_once_and_costs_one_round_trip_per_run():
    _user("one")
    compiled: list[str] = []

    def build(user_id: int) -> object:
        compiled.append("built")
        return User.objects.filter(pk=user_id).values_list("username")

    query = PreparedQuery(build, user_id=int)
    query.rows(user_id=1)
    with CaptureQueriesContext(connection) as captured:
        for user_id in range(3):
            query.rows(user_id=user_id)

    assert compiled == ["built"]
    assert len(captured) == 3


def test_a_value_the_orm_would_transform_is_refused():
    query = PreparedQuery(lambda name: User.objects.filter(username__icontains=name).values_list("pk"), name=str)

    with pytest.raises(ImproperlyConfigured):
        query.rows(name="x")


def test_a_slot_that_does_not_reach_the_query_is_refused():
    query = PreparedQuery(lambda user_id: User.objects.filter(pk=1).values_list("pk"), user_id=int)

    with pytest.raises(ImproperlyConfigured):
        query.rows(user_id=1)
