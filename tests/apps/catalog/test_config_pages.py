"""Pages: the guided configurator and the rule editor with its "test this rule" box."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.apps.catalog import test_config_data as data
from tests.apps.catalog.test_config_data import Server
from tests.conftest import Org

server = data.server  # fixtures shared with the other configurator tests
_fresh_configurator_cache = data._fresh_configurator_cache


@pytest.fixture
def client_for(org: Org) -> Any:
    def build(username: str) -> Client:
        client = Client()
        client.force_login(org[username])
        return client

    return build


def test_configurator_index_lists_configurable_products(org: Org, server: Server, client_for: Any) -> None:
    response = client_for("rep1").get("/catalog/configurator/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "机架服务器" in body and f"/catalog/configurator/{server.product.pk}/" in body
    assert "CHASSIS" not in body  # a component without a BOM of its own is not configurable


def test_configurator_page_shows_one_step_per_group_and_the_cost(org: Org, server: Server, client_for: Any) -> None:
    response = client_for("rep1").get(f"/catalog/configurator/{server.product.pk}/")
    assert response.status_code == 200
    context = response.context
    assert [step["title"] for step in context["steps"]] == ["规格与数量", "处理器", "内存", "可选配件", "确认配置"]
    assert (context["state"]["unit_cost"], context["step"]) == ("1200", 0)
    assert [attribute["code"] for attribute in context["attributes"]] == ["voltage"]
    body = response.content.decode()
    assert 'id="live-price"' in body and 'data-price-request="{&quot;currency&quot;: &quot;CNY&quot;' in body


def test_a_step_post_returns_the_updated_state(org: Org, server: Server, client_for: Any) -> None:
    url = f"/catalog/configurator/{server.product.pk}/"
    form = {"sku": "SRV-X", "quantity": "2", "attr-voltage": "220", "radio-SRV-X-cpu": "CPU-A", "pick": ["MEM-16"],
            "qty-MEM-16": "3", "step": "1", "op": "next"}
    response = client_for("rep1").post(url, form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # the partial
    context = response.context
    assert context["step"] == 2 and context["current"]["title"] == "内存"
    state = context["state"]
    assert [(line["sku"], line["quantity"]) for line in state["auto_added"]] == [("PMOD-1", "4")]
    assert state["violations"] == [] and state["valid"] is True
    memory = {option["sku"]: option for option in context["current"]["options"]}
    assert (memory["MEM-16"]["selected"], memory["MEM-32"]["blocked"]) == (True, True)
    assert "不可选：CPU-A 不能与 MEM-32 同时选择。" in body
    assert state["total_cost"] == str(2 * (1000 + 200 + 300 + 3 * 50 + 2 * 30))
    assert context["price_request"] == {"currency": "CNY", "lines": [
        {"sku": "SRV-X", "quantity": "2", "unit_cost": "1200", "attributes": {"voltage": "220"}},
        {"sku": "CPU-A", "quantity": "2", "unit_cost": "300"}, {"sku": "MEM-16", "quantity": "6", "unit_cost": "50"},
        {"sku": "PMOD-1", "quantity": "4", "unit_cost": "30"}]}
    # the summary step lists the lines a quote would hold
    summary = client_for("rep1").post(url, {**form, "op": "goto:4"})
    assert summary.status_code == 200 and "<html" in summary.content.decode()
    assert [line["sku"] for line in summary.context["state"]["priced_lines"]] == ["SRV-X", "CPU-A", "MEM-16", "PMOD-1"]
    assert "配置有效，可以报价。" in summary.content.decode()


def test_bad_input_on_the_configurator_is_reported_not_refused(org: Org, server: Server, client_for: Any) -> None:
    response = client_for("rep1").post(f"/catalog/configurator/{server.product.pk}/", {
        "quantity": "abc", "radio-SRV-X-cpu": "CPU-B", "pick": ["MEM-16"], "qty-MEM-16": "-2"})
    assert response.status_code == 200
    assert response.context["problems"] == ["数量必须是数字。", "数量不能是负数。"]
    assert [line["sku"] for line in response.context["state"]["lines"]] == ["SRV-X", "CHASSIS-1", "CPU-B"]


def test_page_permissions(org: Org, server: Server, client_for: Any) -> None:
    anonymous = Client()
    assert anonymous.get("/catalog/configurator/").status_code == 302
    assert anonymous.get("/catalog/rules/").status_code == 302
    rep = client_for("rep1")
    listed = rep.get("/catalog/rules/")
    assert listed.status_code == 200 and "gpu-needs-psu" in listed.content.decode()
    assert "/catalog/rules/new/" not in listed.content.decode()
    rule = server.rules["gpu-needs-psu"]
    assert rep.get("/catalog/rules/new/").status_code == 403
    assert rep.get(f"/catalog/rules/{rule.pk}/").status_code == 403
    assert rep.post(f"/catalog/rules/{rule.pk}/delete/").status_code == 403
    assert rep.post(f"/catalog/rules/{rule.pk}/toggle/").status_code == 403
    assert client_for("admin").get("/catalog/configurator/999999/").status_code == 404


def test_rule_create_through_the_kind_form_and_refusals_next_to_fields(org: Org, server: Server,
                                                                         client_for: Any) -> None:
    from l2c.apps.catalog.models import ConfigRule

    admin = client_for("admin")
    form = {"code": "mem-pairs", "name": "内存成对", "product_id": str(server.product.pk), "kind": "quantity_limit",
            "is_active": "1", "d-target_kind": "group", "d-target": "memory", "d-multiple_of": "2", "op": "save"}
    bad = admin.post("/catalog/rules/new/", {**form, "d-target": "nope", "d-min": "4", "d-max": "2"})
    assert bad.status_code == 422
    assert not ConfigRule.objects.filter(code="mem-pairs").exists()
    inputs = {item["name"]: item["errors"] for item in bad.context["inputs"]}
    assert inputs["d-max"] == ["下限 4 不能大于上限 2。"]
    created = admin.post("/catalog/rules/new/", form)
    assert created.status_code == 302
    rule = ConfigRule.objects.get(code="mem-pairs")
    assert (rule.kind, rule.definition, rule.product_id) == (
        "quantity_limit", {"target": {"group": "memory"}, "multiple_of": 2}, server.product.pk)
    edit = admin.get(f"/catalog/rules/{rule.pk}/")
    assert {item["name"]: item["value"] for item in edit.context["inputs"]} == {
        "d-target_kind": "group", "d-target": "memory", "d-min": "", "d-max": "", "d-multiple_of": "2"}


def test_rule_edit_in_raw_json_with_a_stale_version(org: Org, server: Server, client_for: Any) -> None:
    admin = client_for("admin")
    rule = server.rules["gpu-needs-psu"]
    form = {"code": rule.code, "name": rule.name, "product_id": str(server.product.pk), "kind": "requires",
            "is_active": "1", "use_json": "1", "definition_json": '{"if": "GPU-1", "then": ["PSU-1200W", "CPU-B"]}',
            "version": "1", "op": "save"}
    assert admin.post(f"/catalog/rules/{rule.pk}/", form).status_code == 302
    rule.refresh_from_db()
    assert (rule.definition, rule.version) == ({"if": "GPU-1", "then": ["PSU-1200W", "CPU-B"]}, 2)
    stale = admin.post(f"/catalog/rules/{rule.pk}/", {**form, "name": "x"})
    assert stale.status_code == 422 and "已被其他人修改" in stale.content.decode()
    broken = admin.post(f"/catalog/rules/{rule.pk}/", {**form, "version": "2", "definition_json": "{"})
    assert broken.status_code == 422 and "JSON 无效" in broken.content.decode()
    rule.refresh_from_db()
    assert rule.name == "显卡需要大功率电源"


def test_the_rule_test_box_answers_through_htmx(org: Org, server: Server, client_for: Any) -> None:
    form = {"kind": "requires", "product_id": str(server.product.pk), "d-if": "GPU-1", "d-then": "PSU-1200W",
            "d-mode": "all", "t-product": str(server.product.pk), "t-quantity": "1",
            "t-selections": "CPU-B 1\nGPU-1 1", "t-attributes": "voltage=220"}
    response = client_for("rep1").post("/catalog/rules/test/", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "规则未通过" in body and "选择了 GPU-1 时必须同时选择 PSU-1200W。" in body
    passing = client_for("rep1").post("/catalog/rules/test/", {**form, "t-selections": "CPU-B 1\nGPU-1\nPSU-1200W"})
    assert "规则通过" in passing.content.decode()
    broken = client_for("rep1").post("/catalog/rules/test/", {**form, "d-then": ""})
    assert "definition.then" in broken.content.decode()


def test_toggle_and_delete_from_the_pages(org: Org, server: Server, client_for: Any) -> None:
    from l2c.apps.catalog.models import ConfigRule

    admin = client_for("admin")
    rule = server.rules["mem-max-8"]
    assert admin.post(f"/catalog/rules/{rule.pk}/toggle/").status_code == 302
    assert ConfigRule.objects.get(pk=rule.pk).is_active is False
    assert admin.get(f"/catalog/rules/{rule.pk}/delete/").status_code == 200
    assert admin.post(f"/catalog/rules/{rule.pk}/delete/").status_code == 302
    assert not ConfigRule.objects.filter(pk=rule.pk).exists()


def test_definition_fields_switch_per_kind(org: Org, client_for: Any) -> None:
    response = client_for("admin").get("/catalog/rules/definition-fields/?kind=auto_add", HTTP_HX_REQUEST="true")
    assert [item["name"] for item in response.context["inputs"]] == [
        "d-when", "d-add", "d-formula", "d-per", "d-quantity", "d-factor", "d-priced"]


def test_the_live_price_request_is_priced_by_the_pricing_preview(org: Org, server: Server, client_for: Any) -> None:
    """The page's price request (posted by static/catalog/configurator.js) is a valid preview body."""
    import json

    from django.db import transaction

    from l2c.apps.catalog.models import Sku
    from l2c.apps.catalog.services import rules_version_bump
    from l2c.apps.pricing.models import PriceBook, PriceBookEntry

    skus = {sku.code: sku for sku in Sku.objects.all()}
    with transaction.atomic():
        book = PriceBook.objects.create(code="base-cny", name="标准价", currency="CNY", is_base=True, status="active")
        for code, price in (("SRV-X", "5000"), ("CPU-A", "1000"), ("MEM-16", "200"), ("PMOD-1", "100")):
            PriceBookEntry.objects.create(book=book, sku=skus[code], unit_price=price)
        rules_version_bump()
    rep = client_for("rep1")
    page = rep.post(f"/catalog/configurator/{server.product.pk}/", {
        "quantity": "2", "attr-voltage": "220", "radio-SRV-X-cpu": "CPU-A", "pick": ["MEM-16"], "qty-MEM-16": "3"})
    request = page.context["price_request"]
    priced = rep.post("/api/v1/pricing/preview", data=json.dumps(request), content_type="application/json")
    assert priced.status_code == 200, priced.content
    answer = priced.json()
    assert [(line["sku"], line["quantity"], line["total_amount"]) for line in answer["lines"]] == [
        ("SRV-X", "2", "10000.00"), ("CPU-A", "2", "2000.00"), ("MEM-16", "6", "1200.00"), ("PMOD-1", "4", "400.00")]
    assert answer["totals"]["total_amount"] == "13600.00"
