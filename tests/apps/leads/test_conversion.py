"""Conversion of a qualified lead into an account and a contact: new or existing account, links
kept, duplicate control, exactly once (also under concurrent double-submits on both databases)."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest
from django.db import OperationalError, connection

from l2c.apps.customers.models import Account, Contact
from l2c.apps.leads import conversion, services
from l2c.apps.leads.models import Lead, LeadStatus
from l2c.kernel.errors import Conflict, DuplicateFound, ValidationFailed
from tests.conftest import make_account

pytestmark = pytest.mark.django_db


def qualified_lead(actor: Any, **data: Any) -> Lead:
    lead = services.lead_create(actor=actor, data={
        "name": "张伟", "company": "杭州云帆信息技术有限公司", "title": "IT 经理", "mobile": "13800138000",
        "email": "zw@example.com", "province": "浙江", "city": "杭州", "industry": "I", "source": "website",
        "confirm_duplicates": True, **data})
    return services.lead_update(actor=actor, lead_id=lead.pk, data={"status": "qualified"})


def test_conversion_creates_account_and_contact_and_keeps_the_links(org: Any) -> None:
    lead = qualified_lead(org["rep1"])
    result = conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk)
    account = Account.objects.get(pk=result.account_id)
    contact = Contact.objects.get(pk=result.contact_id)
    assert (account.name, account.owner_id, account.province, account.industry, account.source) == (
        "杭州云帆信息技术有限公司", org["rep1"].pk, "浙江", "I", "website")
    assert (contact.name, contact.account_id, contact.mobile, contact.email, contact.title) == (
        "张伟", account.pk, "13800138000", "zw@example.com", "IT 经理")
    lead.refresh_from_db()
    assert (lead.status, lead.converted_account_id, lead.converted_contact_id, lead.converted_by_id) == (
        LeadStatus.CONVERTED, account.pk, contact.pk, org["rep1"].pk)
    assert result.account_created


def test_conversion_into_an_existing_account_found_by_duplicate_control(org: Any) -> None:
    existing = make_account(org["rep1"], name="杭州云帆信息技术有限公司")
    lead = qualified_lead(org["rep1"])
    candidates = conversion.account_candidates(actor=org["rep1"], lead=lead)
    assert [candidate["id"] for candidate in candidates["visible"]] == [existing.pk]
    result = conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk, account_id=existing.pk)
    assert (result.account_id, result.account_created) == (existing.pk, False)
    assert Account.objects.count() == 1
    assert Contact.objects.get(pk=result.contact_id).account_id == existing.pk


def test_a_new_account_like_an_existing_one_warns_and_rolls_everything_back(org: Any) -> None:
    make_account(org["rep2"], name="杭州云帆信息技术有限公司")
    lead = qualified_lead(org["rep1"])
    with pytest.raises(DuplicateFound):
        conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk)
    lead.refresh_from_db()
    assert (lead.status, lead.converted_account_id) == (LeadStatus.QUALIFIED, None)
    assert Account.objects.count() == 1 and Contact.objects.count() == 0
    result = conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk, confirm_duplicates=True)
    assert result.account_created and Account.objects.count() == 2


def test_only_a_qualified_lead_converts(org: Any) -> None:
    lead = services.lead_create(actor=org["rep1"], data={"name": "张伟", "company": "云帆"})
    with pytest.raises(ValidationFailed) as caught:
        conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk)
    assert caught.value.errors[0].code == "not_qualified"
    assert Account.objects.count() == 0


def test_converting_twice_is_refused(org: Any) -> None:
    lead = qualified_lead(org["rep1"])
    conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk)
    with pytest.raises(Conflict):
        conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk, confirm_duplicates=True)
    assert (Account.objects.count(), Contact.objects.count()) == (1, 1)


def test_a_converted_lead_is_read_only(org: Any, api_client_for: Any) -> None:
    lead = qualified_lead(org["rep1"])
    conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk)
    client = api_client_for("rep1")
    response = client.patch(f"/api/v1/leads/{lead.pk}", data=json.dumps({"title": "CTO"}),
                            content_type="application/json")
    assert response.status_code == 409
    assert api_client_for("manager").delete(f"/api/v1/leads/{lead.pk}").status_code == 409


def test_conversion_api_preview_and_convert(org: Any, api_client_for: Any) -> None:
    lead = qualified_lead(org["rep1"])
    client = api_client_for("rep1")
    preview = client.get(f"/api/v1/leads/{lead.pk}/conversion").json()
    assert preview["account"]["name"] == "杭州云帆信息技术有限公司"
    assert (preview["account_candidates"], preview["hidden_account_candidates"]) == ([], 0)
    response = client.post(f"/api/v1/leads/{lead.pk}/convert", data=json.dumps({"contact": {"title": "CIO"}}),
                           content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lead"]["status"] == "converted" and body["account_created"] is True
    assert Contact.objects.get(pk=body["contact_id"]).title == "CIO"
    assert api_client_for("rep2").post(f"/api/v1/leads/{lead.pk}/convert", data="{}",
                                       content_type="application/json").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_converts_once(org: Any) -> None:
    lead = qualified_lead(org["rep1"])
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> str:
        deadline = time.monotonic() + 60
        while True:
            try:
                conversion.lead_convert(actor=org["rep1"], lead_id=lead.pk, confirm_duplicates=True)
                return "ok"
            except Conflict:
                return "conflict"
            except OperationalError as error:
                # The SQLite test database is in memory with a shared cache: a busy table is reported at
                # once instead of waited for (the file database has a busy timeout). Retry like a client.
                if connection.vendor != "sqlite" or "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.001, 0.01))

    def convert() -> None:
        try:
            barrier.wait()
            outcomes.append(attempt())
        except Exception as error:  # reported by the assertion below
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=convert) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    assert (Account.objects.count(), Contact.objects.count()) == (1, 1)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED


def test_conversion_input_errors_name_their_part(org: Any, api_client_for: Any) -> None:
    lead = qualified_lead(org["rep1"])
    client = api_client_for("rep1")
    response = client.post(f"/api/v1/leads/{lead.pk}/convert", data=json.dumps({"account": {"custom": [1]}}),
                           content_type="application/json")
    assert response.status_code == 422
    response = client.post(f"/api/v1/leads/{lead.pk}/convert", data=json.dumps({"contact": {"email": "bad@"}}),
                           content_type="application/json")
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["contact.email"]
    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED
    assert (Account.objects.count(), Contact.objects.count()) == (0, 0)


def test_the_conversion_page_proposes_only_an_exact_account(org: Any, client: Any) -> None:
    similar = make_account(org["rep1"], name="杭州云帆智能讯息技术有限公司")  # similar, not the same company
    lead = qualified_lead(org["rep1"], company="杭州云帆智能信息技术有限公司")
    client.force_login(org["rep1"])
    html = client.get(f"/leads/{lead.pk}/convert/").content.decode()
    assert f'name="account_choice" value="{similar.pk}">' in html  # offered, not chosen
    assert 'value="new" checked' in html
