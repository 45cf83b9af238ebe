"""Opportunity API: CRUD, the gate's 409 through the API, ETags, team, chain, health, board, processes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Org, make_account, make_contact


def _post(client: Any, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def _put(client: Any, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.put(url, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def rep1(api_client_for: Any) -> Any:
    return api_client_for("rep1")


@pytest.fixture
def created(org: Org, rep1: Any) -> dict[str, Any]:
    account = make_account(org["rep1"])
    response = _post(rep1, "/api/v1/opportunities", {"name": "星河 二期", "account_id": account.pk,
                                                     "amount": "128000.50", "close_date": "2026-12-31",
                                                     "competitors": ["华为", "新华三"]})
    assert response.status_code == 201, response.content
    return response.json()


def test_create_get_list_and_patch_with_etag(org: Org, rep1: Any, created: dict[str, Any],
                                             api_client_for: Any) -> None:
    assert (created["amount"], created["currency"], created["status"], created["owner_id"]) == (
        12800050, "CNY", "open", org["rep1"].pk)
    url = f"/api/v1/opportunities/{created['id']}"
    got = rep1.get(url)
    assert got.status_code == 200 and got["ETag"] == '"v1"'
    listed = rep1.get("/api/v1/opportunities?status=open&with_count=true").json()
    assert [item["id"] for item in listed["items"]] == [created["id"]] and listed["count"] == 1
    assert api_client_for("rep2").get(url).status_code == 404
    assert api_client_for("rep2").get("/api/v1/opportunities").json()["items"] == []
    patched = rep1.patch(url, data=json.dumps({"next_step": "技术交流"}), content_type="application/json",
                         HTTP_IF_MATCH='"v1"')
    assert patched.status_code == 200 and patched.json()["version"] == 2 and patched["ETag"] == '"v2"'
    stale = rep1.patch(url, data=json.dumps({"next_step": "x"}), content_type="application/json",
                       HTTP_IF_MATCH='"v1"')
    assert stale.status_code == 412


def test_bad_input_is_a_422_naming_each_field(org: Org, rep1: Any) -> None:
    response = _post(rep1, "/api/v1/opportunities", {"name": "x", "account_id": 999999, "amount": "abc"})
    assert response.status_code == 422
    assert sorted(error["field"] for error in response.json()["errors"]) == ["account_id", "amount"]


def test_a_blocked_move_is_a_409_with_the_missing_list_and_the_gate_preview_matches(
        org: Org, rep1: Any, created: dict[str, Any]) -> None:
    from l2c.apps.opportunities.models import Stage

    target = Stage.objects.get(process__code="project", name="需求确认").pk
    preview = rep1.get(f"/api/v1/opportunities/{created['id']}/gate?stage_id={target}").json()
    moved = _post(rep1, f"/api/v1/opportunities/{created['id']}/move", {"stage_id": target})
    assert moved.status_code == 409
    problem = moved.json()
    assert problem["code"] == "stage_gate" and problem["can_override"] is False
    assert [item["label"] for item in problem["missing"]] == ["确认客户需求与预算范围", "决策链联系人"]
    assert [item["label"] for item in preview["missing"]] == ["确认客户需求与预算范围", "决策链联系人"]


def test_tasks_chain_health_and_move_through_the_api(org: Org, rep1: Any, created: dict[str, Any]) -> None:
    from l2c.apps.opportunities.models import Stage

    base = f"/api/v1/opportunities/{created['id']}"
    tasks = rep1.get(f"{base}/tasks").json()
    first = next(task for task in tasks if task["title"] == "确认客户需求与预算范围")
    assert _put(rep1, f"{base}/tasks/{first['id']}", {"done": True}).json()["done"] is True
    contact = make_contact(org["rep1"], org["rep1"].owned_accounts.get())
    chain = _post(rep1, f"{base}/chain", {"contact_id": contact.pk, "role": "decision_maker",
                                          "attitude": "supporter", "influence": "high"}).json()
    assert [node["role"] for node in chain["nodes"]] == ["decision_maker"]
    assert [gap["code"] for gap in chain["gaps"]] == ["no_champion"] and chain["score"] == 55
    health = _put(rep1, f"{base}/health/need", {"level": 3, "evidence": "招标文件"}).json()
    need = next(item for item in health["dimensions"] if item["dimension"] == "need")
    assert (need["score"], need["source"]) == (75, "answer")
    assert _put(rep1, f"{base}/health/feelings", {"level": 3}).status_code == 422
    target = Stage.objects.get(process__code="project", name="需求确认").pk
    moved = _post(rep1, f"{base}/move", {"stage_id": target}, HTTP_IF_MATCH='"v1"')
    assert moved.status_code == 200, moved.content
    history = rep1.get(f"{base}/history").json()
    assert [(row["stage"], row["exited_at"] is None) for row in history] == [("初步接洽", False), ("需求确认", True)]


def test_lost_through_the_api_needs_reason_and_competitor(org: Org, rep1: Any, created: dict[str, Any]) -> None:
    from l2c.apps.opportunities.models import Stage

    lost = Stage.objects.get(process__code="project", kind="lost").pk
    base = f"/api/v1/opportunities/{created['id']}"
    refused = _post(rep1, f"{base}/move", {"stage_id": lost})
    assert [item["kind"] for item in refused.json()["missing"]] == ["lost_reason", "lost_competitor"]
    done = _post(rep1, f"{base}/move", {"stage_id": lost, "lost_reason": "price", "lost_to": "华为"})
    assert done.status_code == 200 and done.json()["status"] == "lost"


def test_board_columns_count_and_page(org: Org, rep1: Any, created: dict[str, Any]) -> None:
    from l2c.apps.opportunities.models import SalesProcess

    process = SalesProcess.objects.get(code="project")
    columns = rep1.get(f"/api/v1/opportunities/board?process_id={process.pk}").json()
    assert [(column["name"], column["count"]) for column in columns] == [
        ("初步接洽", 1), ("需求确认", 0), ("方案报价", 0), ("商务谈判", 0), ("赢单", 0), ("输单", 0)]
    assert columns[0]["items"][0]["account_name"] == "北京星河科技有限公司"
    assert columns[0]["amount"] == 12800050


def test_processes_are_admin_only_and_validated(org: Org, api_client_for: Any) -> None:
    body = {"name": "渠道", "code": "channel", "stages": [{"name": "报备"}, {"name": "赢单", "kind": "won"},
                                                         {"name": "输单", "kind": "lost"}]}
    assert _post(api_client_for("manager"), "/api/v1/sales-processes", body).status_code == 403
    created = _post(api_client_for("admin"), "/api/v1/sales-processes", body)
    assert created.status_code == 201 and [stage["name"] for stage in created.json()["stages"]] == [
        "报备", "赢单", "输单"]
    bad = _post(api_client_for("admin"), "/api/v1/sales-processes", {**body, "code": "c2", "name": "渠道2",
                                                                      "stages": [{"name": "报备"}]})
    assert bad.status_code == 422 and {error["code"] for error in bad.json()["errors"]} == {
        "won_stage_count", "lost_stage_count"}


def test_transfer_keeps_history(org: Org, api_client_for: Any, created: dict[str, Any]) -> None:
    from l2c.apps.identity.models import OwnershipTransfer

    manager = api_client_for("manager")
    response = _post(manager, "/api/v1/opportunities/transfer", {"ids": [created["id"]], "to_user_id": org["rep2"].pk,
                                                                 "reason": "区域调整"})
    assert response.json() == {"transferred": 1}
    assert api_client_for("rep2").get(f"/api/v1/opportunities/{created['id']}").status_code == 200
    assert OwnershipTransfer.objects.filter(object_type="opportunity", object_id=created["id"]).count() == 1
    assert _post(api_client_for("rep1"), "/api/v1/opportunities/transfer",
                 {"ids": [created["id"]], "to_user_id": org["rep1"].pk}).status_code == 403
