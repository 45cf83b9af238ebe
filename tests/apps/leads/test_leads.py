"""Leads: create, edit, status moves, duplicate control, capture, delete — through the API and the
services, for each role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from l2c.apps.activity.models import AuditEvent
from l2c.apps.leads import services
from l2c.apps.leads.models import Lead, LeadStatus

pytestmark = pytest.mark.django_db


def post(client: Any, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def patch(client: Any, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json", **headers)


def make_lead(actor: Any, **data: Any) -> Lead:
    return services.lead_create(actor=actor, data={"name": "张伟", "company": "杭州云帆信息技术有限公司",
                                                   "confirm_duplicates": True, **data})


# --- create ---------------------------------------------------------------------------------------
def test_a_rep_creates_a_lead_they_own(org: Any, api_client_for: Any) -> None:
    response = post(api_client_for("rep1"), "/api/v1/leads", {
        "name": "张伟", "company": "杭州云帆信息技术有限公司", "mobile": "138 0013 8000", "email": "ZW@Example.com",
        "province": "浙江", "industry": "I", "source": "website"})
    assert response.status_code == 201, response.content
    body = response.json()
    lead = Lead.objects.get(pk=body["id"])
    assert (lead.owner_id, lead.department_id, lead.status) == (org["rep1"].pk, org.north.pk, "new")
    assert (body["owner_id"], body["mobile"], body["score_band"]) == (org["rep1"].pk, "138 0013 8000", lead.score_band)
    assert AuditEvent.objects.filter(object_type="lead", object_id=lead.pk, action="create").count() == 1


def test_a_lead_needs_a_name_or_a_company_and_valid_fields(org: Any, api_client_for: Any) -> None:
    response = post(api_client_for("rep1"), "/api/v1/leads", {"mobile": "not a phone", "email": "x@", "industry": "Z"})
    assert response.status_code == 422
    fields = sorted(error["field"] for error in response.json()["errors"])
    assert fields == ["email", "industry", "mobile", "name"]
    assert Lead.objects.count() == 0


def test_finance_may_not_create_leads(org: Any, api_client_for: Any) -> None:
    response = post(api_client_for("finance"), "/api/v1/leads", {"name": "张伟"})
    assert response.status_code == 403
    assert Lead.objects.count() == 0


def test_a_rep_may_not_give_a_lead_to_a_colleague_without_transfer_rights(org: Any, api_client_for: Any) -> None:
    response = post(api_client_for("rep1"), "/api/v1/leads", {"name": "张伟", "owner_id": org["rep2"].pk})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "owner_id"
    assert Lead.objects.count() == 0


def test_a_manager_creates_a_lead_for_a_rep_of_their_department(org: Any, api_client_for: Any) -> None:
    response = post(api_client_for("manager"), "/api/v1/leads", {"name": "张伟", "owner_id": org["rep2"].pk})
    assert response.status_code == 201
    assert Lead.objects.get().owner_id == org["rep2"].pk


def test_the_same_mobile_warns_and_saves_only_when_confirmed(org: Any, api_client_for: Any) -> None:
    make_lead(org["rep2"], mobile="13800138000")
    client = api_client_for("rep1")
    response = post(client, "/api/v1/leads", {"name": "张先生", "mobile": "+86 138-0013-8000"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate_unconfirmed"
    assert body["duplicates"] == [] and body["hidden_duplicates"] == 1  # rep1 may not see rep2's lead
    assert Lead.objects.count() == 1
    response = post(client, "/api/v1/leads", {"name": "张先生", "mobile": "+86 138-0013-8000",
                                              "confirm_duplicates": True})
    assert response.status_code == 201
    assert Lead.objects.count() == 2


# --- visibility -----------------------------------------------------------------------------------
def test_each_role_sees_the_leads_of_its_scope(org: Any, api_client_for: Any) -> None:
    own = make_lead(org["rep1"], mobile="13800000001")
    colleague = make_lead(org["rep2"], mobile="13800000002")
    east = make_lead(org["rep3"], mobile="13800000003")
    expected = {"rep1": {own.pk}, "rep2": {colleague.pk}, "manager": {own.pk, colleague.pk},
                "director": {own.pk, colleague.pk, east.pk}, "marketing": {own.pk, colleague.pk, east.pk},
                "admin": {own.pk, colleague.pk, east.pk}, "finance": set(), "presales": set()}
    for username, ids in expected.items():
        response = api_client_for(username).get("/api/v1/leads")
        assert response.status_code == 200, username
        assert {item["id"] for item in response.json()["items"]} == ids, username
    assert api_client_for("rep1").get(f"/api/v1/leads/{colleague.pk}").status_code == 404


def test_list_filters_and_counts(org: Any, api_client_for: Any) -> None:
    first = make_lead(org["rep1"], mobile="13800000001", province="浙江")
    make_lead(org["rep1"], mobile="13800000002", province="江苏", name="李娜", company="南京数科")
    response = api_client_for("rep1").get("/api/v1/leads?province=浙江&with_count=true")
    assert [item["id"] for item in response.json()["items"]] == [first.pk]
    assert response.json()["count"] == 1
    response = api_client_for("rep1").get("/api/v1/leads?q=南京")
    assert [item["name"] for item in response.json()["items"]] == ["李娜"]
    assert api_client_for("rep1").get("/api/v1/leads?sort=bogus").status_code == 422


def test_the_list_costs_a_constant_number_of_queries(org: Any, api_client_for: Any,
                                                     django_assert_max_num_queries: Any) -> None:
    client = api_client_for("manager")
    for index in range(3):
        make_lead(org["rep1"], mobile=f"1380000000{index}")
    client.get("/api/v1/leads")  # warm the token's user lookup path
    with django_assert_max_num_queries(8) as captured:
        response = client.get("/api/v1/leads")
    small = len(captured.captured_queries)
    for index in range(3, 30):
        make_lead(org["rep1"], mobile=f"138000000{index:02d}")
    with django_assert_max_num_queries(small):
        response = client.get("/api/v1/leads")
    assert len(response.json()["items"]) == 30


# --- edit and status --------------------------------------------------------------------------------
def test_status_moves_follow_the_lifecycle(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    client = api_client_for("rep1")
    assert patch(client, f"/api/v1/leads/{lead.pk}", {"status": "contacted"}).json()["status"] == "contacted"
    assert patch(client, f"/api/v1/leads/{lead.pk}", {"status": "qualified"}).json()["status"] == "qualified"
    response = patch(client, f"/api/v1/leads/{lead.pk}", {"status": "new"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid_move"
    assert "已联系" in response.json()["errors"][0]["message"]
    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED


def test_disqualifying_needs_a_reason(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    client = api_client_for("rep1")
    response = patch(client, f"/api/v1/leads/{lead.pk}", {"status": "disqualified"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "disqualified_reason", "message": "标记为无效时必须填写原因。",
                                          "code": "required"}]
    response = patch(client, f"/api/v1/leads/{lead.pk}", {"status": "disqualified",
                                                          "disqualified_reason": "预算不足"})
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.status, lead.disqualified_reason) == ("disqualified", "预算不足")
    response = patch(client, f"/api/v1/leads/{lead.pk}", {"status": "new"})
    assert response.json()["status"] == "new" and response.json()["disqualified_reason"] == ""


def test_converted_is_reached_only_by_conversion(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    response = patch(api_client_for("rep1"), f"/api/v1/leads/{lead.pk}", {"status": "converted"})
    assert response.status_code == 422


def test_a_stale_if_match_is_refused(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    client = api_client_for("rep1")
    etag = client.get(f"/api/v1/leads/{lead.pk}")["ETag"]
    assert patch(client, f"/api/v1/leads/{lead.pk}", {"title": "CTO"}, HTTP_IF_MATCH=etag).status_code == 200
    response = patch(client, f"/api/v1/leads/{lead.pk}", {"title": "CIO"}, HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    lead.refresh_from_db()
    assert lead.title == "CTO"


def test_a_colleague_may_not_edit_or_delete(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    client = api_client_for("rep2")
    assert patch(client, f"/api/v1/leads/{lead.pk}", {"title": "CTO"}).status_code == 404
    assert client.delete(f"/api/v1/leads/{lead.pk}").status_code == 404
    lead.refresh_from_db()
    assert (lead.title, lead.version) == ("", 1)


def test_a_rep_may_not_delete_but_a_manager_may(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    assert api_client_for("rep1").delete(f"/api/v1/leads/{lead.pk}").status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert api_client_for("manager").delete(f"/api/v1/leads/{lead.pk}").status_code == 204
    assert not Lead.objects.filter(pk=lead.pk).exists()


# --- capture --------------------------------------------------------------------------------------
def test_capture_of_a_known_person_fills_their_lead_instead_of_adding_one(org: Any) -> None:
    lead = make_lead(org["rep1"], mobile="13800138000", title="")
    result = services.lead_capture(actor=None, via="registration", data={
        "name": "张伟（新）", "mobile": "+86 13800138000", "title": "信息中心主任", "email": "zw@example.com"})
    assert (result.created, result.lead.pk, result.filled) == (False, lead.pk, ["email", "title"])
    lead.refresh_from_db()
    assert (lead.name, lead.title, lead.email, lead.owner_id) == ("张伟", "信息中心主任", "zw@example.com",
                                                                  org["rep1"].pk)
    assert Lead.objects.count() == 1


def test_capture_of_a_new_person_creates_an_unowned_lead_routed_by_the_rules(org: Any) -> None:
    result = services.lead_capture(actor=None, via="registration", data={"name": "王芳", "mobile": "13900139000"})
    assert result.created
    lead = result.lead
    assert (lead.created_by_id, lead.source) == (None, "campaign")
    # No assignment rule exists: the lead stays unassigned (marketing routes it).
    assert (lead.owner_id, lead.pool_id) == (None, None)


def test_capture_rejects_bad_input_without_storing_anything(org: Any) -> None:
    from l2c.kernel.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        services.lead_capture(actor=None, via="registration", data={"name": "x" * 101, "email": "bad"})
    assert sorted(error.field for error in caught.value.errors) == ["email", "name"]
    assert Lead.objects.count() == 0


def test_capture_api_answers_200_for_a_known_person(org: Any, api_client_for: Any) -> None:
    client = api_client_for("marketing")
    first = post(client, "/api/v1/leads/capture", {"name": "王芳", "email": "wf@example.com"})
    assert first.status_code == 201 and first.json()["created"] is True
    again = post(client, "/api/v1/leads/capture", {"company": "苏州智造", "email": "WF@example.com"})
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["filled"], again.json()["lead"]["id"]) == (
        False, ["company"], first.json()["lead"]["id"])


# --- capture never crosses visibility, never merges two people --------------------------------------
def test_a_user_capture_of_a_person_held_out_of_reach_is_refused_naming_nobody(org: Any, api_client_for: Any) -> None:
    held = make_lead(org["rep2"], mobile="13800138000", description="内部备注：预算 500 万")
    response = post(api_client_for("rep3"), "/api/v1/leads/capture",
                    {"name": "x", "mobile": "13800138000", "email": "spy@example.com"})
    assert response.status_code == 409
    assert "内部备注" not in response.content.decode() and "rep2" not in response.content.decode()
    held.refresh_from_db()
    assert (held.email, held.version) == ("", 1)
    assert Lead.objects.count() == 1


def test_colleagues_sharing_a_switchboard_are_two_leads(org: Any) -> None:
    first = services.lead_capture(actor=None, via="registration", data={"name": "甲", "phone": "0755-12345678 转 101"})
    second = services.lead_capture(actor=None, via="registration",
                                   data={"name": "乙", "phone": "0755-12345678 转 102", "email": "yi@example.com"})
    assert first.created and second.created and first.lead.pk != second.lead.pk
    first.lead.refresh_from_db()
    assert (first.lead.name, first.lead.email) == ("甲", "")


def test_a_person_coming_back_after_conversion_makes_a_new_lead(org: Any) -> None:
    from l2c.apps.leads.conversion import lead_convert

    lead = make_lead(org["rep1"], mobile="13800138000")
    services.lead_update(actor=org["rep1"], lead_id=lead.pk, data={"status": "qualified"})
    lead_convert(actor=org["rep1"], lead_id=lead.pk, confirm_duplicates=True)
    again = services.lead_capture(actor=None, via="registration", data={"name": "张伟", "mobile": "13800138000",
                                                                        "email": "zw@example.com"})
    assert again.created and again.lead.pk != lead.pk
    lead.refresh_from_db()
    assert (lead.status, lead.email) == ("converted", "")


def test_a_new_lead_with_a_contacts_mobile_asks_for_confirmation(org: Any, api_client_for: Any) -> None:
    from tests.conftest import make_account, make_contact

    account = make_account(org["rep2"], "杭州云帆信息技术有限公司")
    make_contact(org["rep2"], account, "张伟", mobile="13800138000")
    client = api_client_for("rep1")
    response = post(client, "/api/v1/leads", {"name": "张伟", "mobile": "13800138000"})
    assert response.status_code == 409
    body = response.json()
    assert (body["duplicates"], body["hidden_duplicates"]) == ([], 1)
    assert "客户联系人" in body["detail"]
    assert Lead.objects.count() == 0
    assert post(client, "/api/v1/leads", {"name": "张伟", "mobile": "13800138000",
                                          "confirm_duplicates": True}).status_code == 201


def test_nul_in_list_filters_is_dropped(org: Any, client: Any) -> None:
    make_lead(org["rep1"])
    client.force_login(org["rep1"])
    assert client.get("/leads/?q=%00&province=%00").status_code == 200


def test_lead_subresources_follow_visibility(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    client = api_client_for("rep3")
    for path in ("matches", "timeline", "conversion"):
        assert client.get(f"/api/v1/leads/{lead.pk}/{path}").status_code == 404, path
    assert post(client, f"/api/v1/leads/{lead.pk}/convert", {}).status_code == 404
    assert api_client_for("rep1").get(f"/api/v1/leads/{lead.pk}/matches").json() == {
        "contacts": [], "hidden_contacts": 0, "accounts": [], "hidden_accounts": 0}


@pytest.mark.django_db(transaction=True)
def test_concurrent_captures_of_one_person_make_one_lead(org: Any) -> None:
    import random
    import threading
    import time

    from django.db import OperationalError, connection

    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def capture(index: int) -> None:
        deadline = time.monotonic() + 60
        try:
            barrier.wait()
            while True:
                try:
                    result = services.lead_capture(actor=None, via="registration",
                                                   data={"name": f"张伟{index}", "mobile": "13800138000"})
                    outcomes.append("created" if result.created else "merged")
                    return
                except OperationalError as error:  # the in-memory SQLite test database reports, never waits
                    if connection.vendor != "sqlite" or "locked" not in str(error) or time.monotonic() > deadline:
                        raise
                    time.sleep(random.uniform(0.001, 0.01))
        except Exception as error:  # reported by the assertion below
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=capture, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "merged", "merged", "merged"]
    assert Lead.objects.count() == 1
