"""Campaign REST API: CRUD with ETag/If-Match, tree, status, costs, members, check-in, ROI, roles."""

from __future__ import annotations

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.apps.marketing.helpers import make_campaign, make_lead, open_registration


def _post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def _patch(client, url, body, **headers):
    return client.patch(url, json.dumps(body), content_type="application/json", **headers)


def test_create_get_and_update_with_if_match(org, api_client_for):
    from l2c.apps.marketing.models import Campaign

    client = api_client_for("marketing")
    response = _post(client, "/api/v1/campaigns", {"name": "2026 华东行业峰会系列", "kind": "conference",
                                                  "budget": "500000.00", "starts_on": "2026-04-01"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["budget_amount"] == 50_000_000 and body["status"] == "planned" and body["depth"] == 0
    assert body["allowed_next_statuses"] == ["inviting", "registration_open", "in_progress", "completed", "closed"]
    assert body["public_path"].startswith("/r/")
    detail = client.get(f"/api/v1/campaigns/{body['id']}")
    assert detail["ETag"] == '"v1"'
    ok = _patch(client, f"/api/v1/campaigns/{body['id']}", {"location": "杭州"}, HTTP_IF_MATCH='"v1"')
    assert ok.status_code == 200 and ok["ETag"] == '"v2"'
    stale = _patch(client, f"/api/v1/campaigns/{body['id']}", {"location": "上海"}, HTTP_IF_MATCH='"v1"')
    assert stale.status_code == 412
    assert Campaign.objects.get(pk=body["id"]).location == "杭州"


def test_bad_input_is_a_422_with_field_messages_and_nothing_is_stored(org, api_client_for):
    from l2c.apps.marketing.models import Campaign

    client = api_client_for("marketing")
    response = _post(client, "/api/v1/campaigns", {"name": "x" * 201, "kind": "party"})
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"name", "kind"} <= fields
    response = _post(client, "/api/v1/campaigns", {"name": "A", "starts_on": "2026-05-02", "ends_on": "2026-05-01",
                                                  "registration_fields": [{"field": "company"}]})
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"ends_on", "registration_fields"}
    assert Campaign.objects.count() == 0


def test_roles_through_the_api(org, api_client_for):
    from l2c.apps.marketing.models import Campaign

    campaign = make_campaign(org["marketing"])
    for username, status in (("rep1", 200), ("manager", 200), ("finance", 200), ("presales", 200)):
        assert api_client_for(username).get(f"/api/v1/campaigns/{campaign.pk}").status_code == status
        assert _patch(api_client_for(username), f"/api/v1/campaigns/{campaign.pk}",
                      {"name": "改名"}).status_code == 403
        assert _post(api_client_for(username), "/api/v1/campaigns", {"name": "新"}).status_code == 403
    assert api_client_for(None).get("/api/v1/campaigns").status_code == 401
    assert list(Campaign.objects.values_list("name", flat=True)) == ["2026 华东行业峰会系列"]


def test_tree_list_filters_and_status(org, api_client_for):
    client = api_client_for("marketing")
    root = make_campaign(org["marketing"], "总")
    child = make_campaign(org["marketing"], "分", parent=root)
    make_campaign(org["marketing"], "孙", parent=child)
    tree = client.get("/api/v1/campaigns/tree").json()
    assert [(node["name"], node["depth"]) for node in tree] == [("总", 0), ("分", 1), ("孙", 2)]
    roots = client.get("/api/v1/campaigns?root=true").json()["items"]
    assert [item["name"] for item in roots] == ["总"]
    children = client.get(f"/api/v1/campaigns?parent_id={root.pk}").json()["items"]
    assert [item["name"] for item in children] == ["分"]
    bad = _post(client, f"/api/v1/campaigns/{root.pk}/status", {"status": "planned"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "invalid_transition"
    good = _post(client, f"/api/v1/campaigns/{root.pk}/status", {"status": "inviting"})
    assert good.status_code == 200 and good.json()["status"] == "inviting"


def test_list_costs_a_constant_number_of_queries(org, api_client_for):
    client = api_client_for("marketing")
    make_campaign(org["marketing"], "一")
    client.get("/api/v1/campaigns")  # warm-up: the token's last-use stamp is written once
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/v1/campaigns").status_code == 200
    for index in range(10):
        make_campaign(org["marketing"], f"活动{index}")
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/campaigns").json()["items"]) == 11
    assert len(many) == len(few)


def test_costs_members_checkin_and_roi(org, api_client_for):
    client = api_client_for("marketing")
    campaign = open_registration(org["marketing"], make_campaign(org["marketing"]))
    cost = _post(client, f"/api/v1/campaigns/{campaign.pk}/costs", {"category": "场地", "planned": "1000.00"})
    assert cost.status_code == 201 and cost.json()["planned_amount"] == 100_000
    changed = _patch(client, f"/api/v1/campaigns/{campaign.pk}/costs/{cost.json()['id']}", {"actual": "800.50"})
    assert changed.json()["actual_amount"] == 80_050
    lead = make_lead(org["marketing"], "张三", mobile="13900000000", campaign=campaign)
    invited = _post(client, f"/api/v1/campaigns/{campaign.pk}/members", {"lead_ids": [lead.pk]})
    assert invited.json() == {"invited": 1, "already": 0}
    members = client.get(f"/api/v1/campaigns/{campaign.pk}/members?q=1390").json()
    assert [item["person"]["name"] for item in members["items"]] == ["张三"]
    assert members["counts"] == {"invited": 1, "registered": 0, "checked_in": 0, "no_show": 0}
    token = members["items"][0]["checkin_path"].split("/")[-2]
    assert _post(api_client_for("rep1"), f"/api/v1/campaigns/checkin/{token}", {}).status_code == 403
    checked = _post(client, f"/api/v1/campaigns/checkin/{token}", {})
    assert checked.status_code == 200 and checked.json()["member"]["status"] == "checked_in"
    assert _post(client, f"/api/v1/campaigns/checkin/{token}", {}).json()["already"] is True
    roi = client.get(f"/api/v1/campaigns/{campaign.pk}/roi?rollup=true").json()
    assert roi["figures"]["cost"] == 80_050 and roi["figures"]["leads"] == 1
    assert roi["figures"]["cost_per_lead"] == 80_050 and roi["figures"]["roi"]["linear"] == "-1.0000"
    assert roi["people"] == 1 and roi["children"] == []
    assert client.get(f"/api/v1/campaigns/{campaign.pk}/attributions").json()["items"] == []
