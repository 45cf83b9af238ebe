"""Datetimes from clients are stored in UTC whatever offset they carry (PostgreSQL itself rejects
offsets beyond ±15:59); naive ones are read in the site's time zone."""

from __future__ import annotations

import datetime as dt

from l2c.apps.activity.models import Todo
from l2c.apps.identity.models import ApiToken


def test_extreme_offset_is_converted_to_utc(org, api_client_for):
    response = api_client_for("rep1").post(
        "/api/v1/auth/tokens", {"name": "far future", "expires_at": "3717-07-27T15:03:51-17:50"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert token.expires_at == dt.datetime(3717, 7, 28, 8, 53, 51, tzinfo=dt.UTC)


def test_naive_datetime_is_read_in_the_site_time_zone(org, api_client_for):
    response = api_client_for("rep1").post(
        "/api/v1/todos", {"title": "回访", "due_at": "2026-12-01T09:00:00"}, content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert Todo.objects.get(pk=response.json()["id"]).due_at == dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
