"""A lead from a tender notice through the API: one lead per notice (a second call returns it), owned
by the caller, linked to the notice; roles that may not create leads change nothing; a notice whose
lead a colleague out of reach works is refused naming nobody (撞单)."""

from __future__ import annotations

from typing import Any

import pytest

from l2c.apps.leads.models import Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice(org: Any) -> Any:
    from l2c.apps.tenders.services import tender_batch_ingest

    tender_batch_ingest(actor=org["marketing"], items=[{
        "source": "t", "source_notice_id": "N-1", "title": "深圳市第一中学智慧校园建设项目",
        "buyer_name": "深圳市第一中学", "province": "广东省", "city": "深圳市", "budget_amount": 350_000_00}])
    from l2c.apps.tenders.models import TenderNotice

    return TenderNotice.objects.get()


def test_one_lead_per_notice(org: Any, api_client_for: Any, notice: Any) -> None:
    client = api_client_for("rep1")
    first = client.post(f"/api/v1/tenders/notices/{notice.pk}/lead")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["created"], body["lead"]["company"], body["lead"]["owner_id"], body["lead"]["tender_notice_id"],
            body["lead"]["source"]) == (True, "深圳市第一中学", org["rep1"].pk, notice.pk, "tender")
    again = client.post(f"/api/v1/tenders/notices/{notice.pk}/lead")
    assert (again.status_code, again.json()["lead"]["id"]) == (200, body["lead"]["id"])
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("username", ["presales", "finance"])
def test_roles_without_lead_creation_change_nothing(org: Any, api_client_for: Any, notice: Any,
                                                    username: str) -> None:
    response = api_client_for(username).post(f"/api/v1/tenders/notices/{notice.pk}/lead")
    assert response.status_code in (403, 404)
    assert Lead.objects.count() == 0


def test_a_notice_worked_by_a_colleague_out_of_reach_is_refused(org: Any, api_client_for: Any,
                                                                notice: Any) -> None:
    assert api_client_for("rep1").post(f"/api/v1/tenders/notices/{notice.pk}/lead").status_code == 201
    response = api_client_for("rep3").post(f"/api/v1/tenders/notices/{notice.pk}/lead")
    assert response.status_code == 409
    assert "rep1" not in response.content.decode()
    assert Lead.objects.count() == 1
