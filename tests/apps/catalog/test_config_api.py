"""Configuration rules API and `POST /catalog/configurations/validate` (ADR 0006)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.apps.catalog import test_config_data as data
from tests.apps.catalog.test_config_data import Server
from tests.conftest import Org

server = data.server  # fixtures shared with the other configurator tests
_fresh_configurator_cache = data._fresh_configurator_cache

VALIDATE = "/api/v1/catalog/configurations/validate"
RULES = "/api/v1/catalog/rules"


def _post(client: Any, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def _patch(client: Any, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json", **headers)


def _violations(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(item["rule"], item["kind"], item["code"]) for item in body["violations"]]


# --- validate ----------------------------------------------------------------------------------------


def test_every_violation_is_returned_at_once_with_its_rule(org: Org, server: Server, api_client_for: Any) -> None:
    # given a configuration that breaks each kind of rule, with 10 memory modules
    body = {"product": "SRV", "quantity": "2", "attributes": {"voltage": "110"},
            "selections": [{"sku": "CPU-A", "quantity": 1}, {"sku": "MEM-16", "quantity": "6"},
                           {"sku": "MEM-32", "quantity": 4}, {"sku": "GPU-1", "quantity": 1}]}
    # when a sales rep validates it
    response = _post(api_client_for("rep1"), VALIDATE, body)
    # then every violation comes back, each with its rule code, kind and human message
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["valid"] is False
    assert _violations(answer) == [
        ("cpua-no-mem32", "excludes", "excludes_conflict"),
        ("gpu-needs-psu", "requires", "requires_missing"),
        ("mem-max-8", "quantity_limit", "quantity_above_max"),
        ("x-voltage", "attribute_constraint", "attribute_not_allowed"),
    ]
    assert [item["message"] for item in answer["violations"]] == [
        "CPU-A 不能与 MEM-32 同时选择。",
        "选择了 GPU-1 时必须同时选择 PSU-1200W。",
        "选项组“内存” 的数量 10 超过上限 8。",
        "型号=X 型 时 电压 不能是 110 V，只能是 220 V、380 V。",
    ]
    assert [item["skus"] for item in answer["violations"]] == [
        ["CPU-A", "MEM-32"], ["GPU-1"], ["MEM-16", "MEM-32"], ["SRV-X"]]
    # the auto-added power modules: ceil(10 / 2) × 1 = 5 per server, 10 for two
    assert [(line["sku"], line["quantity"], line["rule"], line["source"]) for line in answer["auto_added"]] == [
        ("PMOD-1", "10", "psu-per-2-mem", "auto_add")]
    assert [(line["sku"], line["quantity"], line["priced"]) for line in answer["lines"]] == [
        ("SRV-X", "2", True), ("CHASSIS-1", "2", False), ("CPU-A", "2", True), ("MEM-16", "12", True),
        ("MEM-32", "8", True), ("GPU-1", "2", True), ("PMOD-1", "10", True)]
    # rolled-up unit cost: the server and its included chassis; total: every line's cost
    assert answer["unit_cost"] == "1200"
    assert answer["total_cost"] == str(2 * (1000 + 200 + 300 + 6 * 50 + 4 * 90 + 800 + 5 * 30))


def test_a_valid_configuration_has_no_violation_and_exact_auto_add(org: Org, server: Server,
                                                                   api_client_for: Any) -> None:
    body = {"product": "SRV", "quantity": 1, "attributes": {"voltage": "220"},
            "selections": [{"sku": "CPU-B", "quantity": 1}, {"sku": "MEM-32", "quantity": 3},
                           {"sku": "GPU-1", "quantity": 1}, {"sku": "PSU-1200W", "quantity": 1}]}
    answer = _post(api_client_for("rep1"), VALIDATE, body).json()
    assert answer["valid"] is True and answer["violations"] == []
    assert [(line["sku"], line["quantity"]) for line in answer["auto_added"]] == [("PMOD-1", "2")]
    assert [(line["sku"], line["quantity"], line["parent"]) for line in answer["priced_lines"]] == [
        ("SRV-X", "1", None), ("CPU-B", "1", "SRV-X"), ("MEM-32", "3", "SRV-X"), ("GPU-1", "1", "SRV-X"),
        ("PSU-1200W", "1", "SRV-X"), ("PMOD-1", "2", "SRV-X")]
    assert answer["unit_cost"] == "1200"
    assert answer["total_cost"] == str(1000 + 200 + 500 + 3 * 90 + 800 + 120 + 2 * 30)


@pytest.mark.parametrize(("memory", "expected"), [(1, "1"), (2, "1"), (3, "2"), (4, "2"), (7, "4"), (8, "4")])
def test_auto_add_quantity_is_one_per_two_modules_rounded_up(org: Org, server: Server, api_client_for: Any,
                                                             memory: int, expected: str) -> None:
    body = {"sku": "SRV-X", "selections": [{"sku": "CPU-B"}, {"sku": "MEM-16", "quantity": memory}]}
    answer = _post(api_client_for("rep1"), VALIDATE, body).json()
    assert [(line["sku"], line["quantity"]) for line in answer["auto_added"]] == [("PMOD-1", expected)]


def test_structure_violations_and_option_states(org: Org, server: Server, api_client_for: Any) -> None:
    # no CPU chosen (required group); CPU-A chosen elsewhere would exclude MEM-32
    answer = _post(api_client_for("rep1"), VALIDATE, {"product": "SRV", "selections": [{"sku": "CPU-A"}]}).json()
    assert _violations(answer) == [("x-voltage", "attribute_constraint", "attribute_required")]
    options = {option["sku"]: option for option in answer["options"]}
    assert sorted(options) == ["CPU-A", "CPU-B", "GPU-1", "MEM-16", "MEM-32", "PSU-1200W"]
    assert (options["MEM-32"]["allowed"], [reason["rule"] for reason in options["MEM-32"]["reasons"]]) == (
        False, ["cpua-no-mem32"])
    assert options["MEM-32"]["reasons"][0]["message"] == "CPU-A 不能与 MEM-32 同时选择。"
    assert (options["MEM-16"]["allowed"], options["MEM-16"]["group"], options["MEM-16"]["group_name"]) == (
        True, "memory", "内存")
    assert (options["CPU-A"]["selected"], options["GPU-1"]["group"]) == (True, None)
    missing_cpu = _post(api_client_for("rep1"), VALIDATE, {"product": "SRV", "attributes": {"voltage": "380"}}).json()
    assert _violations(missing_cpu) == [(None, "structure", "group_min_choices")]
    assert missing_cpu["violations"][0]["message"] == "选项组“处理器” 至少要选 1 项，现在选了 0 项。"


@pytest.mark.parametrize(("body", "fields"), [
    ({}, ["product"]),
    ({"product": "NOPE"}, ["product"]),
    ({"sku": "NOPE"}, ["sku"]),
    ({"product": "SRV", "quantity": "0"}, ["quantity"]),
    ({"product": "SRV", "quantity": "abc", "selections": [{"sku": "CPU-A", "quantity": "-1"}]},
     ["quantity", "selections[0].quantity"]),
    ({"product": "SRV", "selections": [{"sku": "CPU-A"}, {"sku": "CPU-A"}]}, ["selections[1].sku"]),
    ({"product": "SRV", "quantity": "1e-999999999", "selections": [{"sku": "CPU-A", "quantity": "1e999999999"}]},
     ["quantity", "selections[0].quantity"]),
    ({"product": "SRV", "quantity": "NaN"}, ["quantity"]),
])
def test_bad_configuration_input_names_the_fields(org: Org, server: Server, api_client_for: Any,
                                                  body: dict[str, Any], fields: list[str]) -> None:
    response = _post(api_client_for("rep1"), VALIDATE, body)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == fields


def test_validate_queries_are_constant_in_the_selection_count(org: Org, server: Server,
                                                              api_client_for: Any) -> None:
    client = api_client_for("rep1")
    small = {"product": "SRV", "selections": [{"sku": "CPU-A"}]}
    large = {"product": "SRV", "attributes": {"voltage": "220"},
             "selections": [{"sku": "CPU-B"}, {"sku": "MEM-16", "quantity": 4}, {"sku": "MEM-32", "quantity": 2},
                            {"sku": "GPU-1"}, {"sku": "PSU-1200W"}, {"sku": "CHASSIS-1", "quantity": 1}]}
    assert _post(client, VALIDATE, small).status_code == 200  # compiles the catalogue once
    counts = []
    for body in (small, large, small):
        with CaptureQueriesContext(connection) as queries:
            assert _post(client, VALIDATE, body).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2]
    # a rule change moves the version: the next validation recompiles and sees it
    from l2c.apps.catalog.rules import rule_activate

    rule_activate(actor=org["admin"], rule_id=server.rules["psu-per-2-mem"].pk, is_active=False)
    answer = _post(client, VALIDATE, large).json()
    assert answer["auto_added"] == []


def test_permissions_of_validate_and_rules(org: Org, server: Server, api_client_for: Any) -> None:
    from l2c.apps.catalog.models import ConfigRule

    body = {"product": "SRV", "selections": [{"sku": "CPU-A"}]}
    assert _post(api_client_for(None), VALIDATE, body).status_code == 401
    assert api_client_for(None).get(RULES).status_code == 401
    rep = api_client_for("rep1")
    assert _post(rep, VALIDATE, body).status_code == 200
    assert rep.get(RULES).status_code == 200
    rule = {"code": "r1", "name": "r", "kind": "requires", "definition": {"if": "GPU-1", "then": ["CPU-B"]}}
    assert _post(rep, RULES, rule).status_code == 403
    target = server.rules["gpu-needs-psu"]
    assert _patch(rep, f"{RULES}/{target.pk}", {"name": "x"}).status_code == 403
    assert rep.delete(f"{RULES}/{target.pk}").status_code == 403
    assert _post(rep, f"{RULES}/{target.pk}/deactivate", {}).status_code == 403
    assert sorted(ConfigRule.objects.values_list("code", "name", "is_active", "version")) == sorted(
        (code, rule.name, True, 1) for code, rule in server.rules.items())
    assert _post(api_client_for("manager"), RULES, rule).status_code == 201


# --- rules CRUD ------------------------------------------------------------------------------------------


def test_rule_crud_with_etag_and_audit(org: Org, server: Server, api_client_for: Any) -> None:
    from l2c.apps.activity.models import AuditEvent
    from l2c.apps.catalog.models import ConfigRule
    from l2c.apps.catalog.selectors import rules_version

    client = api_client_for("manager")
    before = rules_version()
    created = _post(client, RULES, {"code": "gpu-needs-cpub", "name": "显卡需要处理器 B", "kind": "requires",
                                    "product_id": server.product.pk,
                                    "definition": {"if": "sku:GPU-1", "then": ["CPU-B"], "mode": "any"}})
    assert created.status_code == 201, created.content
    rule = created.json()
    assert (rule["code"], rule["product_code"], rule["version"], created["ETag"]) == (
        "gpu-needs-cpub", "SRV", 1, '"v1"')
    assert rules_version() == before + 1
    url = f"{RULES}/{rule['id']}"
    assert client.get(url)["ETag"] == '"v1"'
    listed = client.get(f"{RULES}?kind=requires&sort=code").json()
    assert [item["code"] for item in listed["items"]] == ["gpu-needs-cpub", "gpu-needs-psu"]
    patched = _patch(client, url, {"name": "显卡需要 B"}, HTTP_IF_MATCH='"v1"')
    assert (patched.status_code, patched.json()["version"], patched["ETag"]) == (200, 2, '"v2"')
    stale = _patch(client, url, {"name": "x"}, HTTP_IF_MATCH='"v1"')
    assert stale.status_code == 412
    assert ConfigRule.objects.get(pk=rule["id"]).name == "显卡需要 B"
    off = _post(client, f"{url}/deactivate", {})
    assert (off.status_code, off.json()["is_active"]) == (200, False)
    assert client.delete(url, HTTP_IF_MATCH='"v1"').status_code == 412
    assert client.delete(url, HTTP_IF_MATCH='"v3"').status_code == 204
    assert not ConfigRule.objects.filter(pk=rule["id"]).exists()
    assert list(AuditEvent.objects.filter(object_type="config_rule", object_id=rule["id"]).order_by("pk")
                .values_list("action", flat=True)) == ["create", "update", "update", "delete"]
    assert rules_version() == before + 4


@pytest.mark.parametrize(("rule", "fields"), [
    ({"code": "bad code", "name": "", "kind": "requires", "definition": {"if": "GPU-1", "then": ["CPU-B"]}},
     ["code", "name"]),
    ({"code": "gpu-needs-psu", "name": "n", "kind": "requires", "definition": {"if": "GPU-1", "then": []}},
     ["code", "definition.then"]),
    ({"code": "r", "name": "n", "kind": "requires", "definition": {"if": "GPU-1", "then": ["CPU-B", "NOPE"]}},
     ["definition.then[1]"]),
    ({"code": "r", "name": "n", "kind": "excludes", "definition": {"a": "product:NOPE", "b": "category:nope"}},
     ["definition.a", "definition.b"]),
    ({"code": "r", "name": "n", "kind": "auto_add", "definition": {"when": "MEM-16", "add": "product:PMOD",
                                                                    "per": 2}}, ["definition.add"]),
    ({"code": "r", "name": "n", "kind": "auto_add", "definition": {"when": "MEM-16", "add": "PMOD-1", "per": 0}},
     ["definition.per"]),
    ({"code": "r", "name": "n", "kind": "attribute_constraint",
      "definition": {"when": {"attribute": "model", "value": "Z"}, "attribute": "colour", "allowed": ["red"]}},
     ["definition.attribute", "definition.when.value"]),
    ({"code": "r", "name": "n", "kind": "attribute_constraint",
      "definition": {"when": {"attribute": "model", "value": "X"}, "attribute": "voltage", "allowed": ["220", "999"]}},
     ["definition.allowed[1]"]),
    ({"code": "r", "name": "n", "kind": "quantity_limit", "definition": {"target": {"group": "nope"}, "max": 2}},
     ["definition.target.group"]),
    ({"code": "r", "name": "n", "kind": "quantity_limit", "definition": {"target": "MEM-16", "min": 5, "max": 2}},
     ["definition.max"]),
    ({"code": "r", "name": "n", "kind": "quantity_limit", "definition": {"target": "MEM-16", "maximum": 2}},
     ["definition.maximum"]),
    ({"code": "r", "name": "n", "kind": "auto_add", "definition": {"when": "MEM-16", "add": "PMOD-1",
                                                                    "per": "1e-999999999", "quantity": 10**9}},
     ["definition.per", "definition.quantity"]),
])
def test_rule_refusals_name_the_fields_and_change_nothing(org: Org, server: Server, api_client_for: Any,
                                                          rule: dict[str, Any], fields: list[str]) -> None:
    from l2c.apps.catalog.models import ConfigRule
    from l2c.apps.catalog.selectors import rules_version

    before = (ConfigRule.objects.count(), rules_version())
    response = _post(api_client_for("admin"), RULES, {"product_id": server.product.pk, **rule})
    assert response.status_code == 422, response.content
    assert [error["field"] for error in response.json()["errors"]] == fields
    assert (ConfigRule.objects.count(), rules_version()) == before


def test_definition_error_messages_are_human(org: Org, server: Server, api_client_for: Any) -> None:
    response = _post(api_client_for("admin"), RULES, {
        "code": "r", "name": "n", "kind": "quantity_limit", "definition": {"target": "MEM-16", "min": 5, "max": 2}})
    assert [(error["field"], error["code"], error["message"]) for error in response.json()["errors"]] == [
        ("definition.max", "min_above_max", "下限 5 不能大于上限 2。")]


# --- rule test box -------------------------------------------------------------------------------------------


def test_an_unsaved_rule_is_tested_against_a_sample(org: Org, server: Server, api_client_for: Any) -> None:
    body = {"rule": {"kind": "auto_add", "product_id": server.product.pk,
                     "definition": {"when": "GPU-1", "add": "PSU-1200W", "quantity": 2}},
            "configuration": {"product": "SRV", "attributes": {"voltage": "220"},
                              "selections": [{"sku": "CPU-B"}, {"sku": "GPU-1"}]}}
    answer = _post(api_client_for("rep1"), "/api/v1/catalog/rules/test", body).json()
    assert (answer["rule"], answer["passes"], answer["violations"]) == ("__test__", True, [])
    assert [(line["sku"], line["quantity"], line["rule"]) for line in answer["auto_added"]] == [
        ("PSU-1200W", "2", "__test__")]
    # the saved rules are in force too: the added PSU satisfies gpu-needs-psu
    assert answer["result"]["valid"] is True


def test_a_saved_rule_is_tested_and_fails_with_its_violation(org: Org, server: Server, api_client_for: Any) -> None:
    body = {"rule_id": server.rules["mem-max-8"].pk,
            "configuration": {"product": "SRV", "selections": [{"sku": "CPU-B"}, {"sku": "MEM-16", "quantity": 9}]}}
    answer = _post(api_client_for("rep1"), "/api/v1/catalog/rules/test", body).json()
    assert (answer["rule"], answer["passes"]) == ("mem-max-8", False)
    assert [(item["code"], item["message"]) for item in answer["violations"]] == [
        ("quantity_above_max", "选项组“内存” 的数量 9 超过上限 8。")]
    # unsaved changes of the saved rule are what is tested
    body["rule"] = {"kind": "quantity_limit", "definition": {"target": {"group": "memory"}, "max": 10}}
    changed = _post(api_client_for("rep1"), "/api/v1/catalog/rules/test", body).json()
    assert (changed["rule"], changed["passes"]) == ("mem-max-8", True)


def test_rule_test_refusals_name_the_fields(org: Org, server: Server, api_client_for: Any) -> None:
    body = {"rule": {"kind": "requires", "definition": {"if": "GPU-1", "then": ["NOPE"]}},
            "configuration": {"product": "SRV", "quantity": "x"}}
    response = _post(api_client_for("rep1"), "/api/v1/catalog/rules/test", body)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [
        "definition.then[0]", "configuration.quantity"]


def test_a_product_with_several_skus_is_resolved_by_its_attributes(org: Org, server: Server,
                                                                   api_client_for: Any) -> None:
    from decimal import Decimal

    from django.db import transaction

    from l2c.apps.catalog.models import Sku
    from l2c.apps.catalog.services import rules_version_bump

    with transaction.atomic():
        Sku.objects.create(product=server.product, code="SRV-Y", name="服务器 Y 型", cost_price=Decimal("900"),
                           attribute_values={"model": "Y"}, attribute_key="model=Y")
        rules_version_bump()
    client = api_client_for("rep1")
    ambiguous = _post(client, VALIDATE, {"product": "SRV", "selections": [{"sku": "CPU-B"}]})
    assert ambiguous.status_code == 422
    assert [(error["field"], error["code"]) for error in ambiguous.json()["errors"]] == [("sku", "ambiguous")]
    model_y = _post(client, VALIDATE, {"product": "SRV", "attributes": {"model": "Y"},
                                       "selections": [{"sku": "CPU-B"}]}).json()
    # model Y is not restricted by x-voltage: no attribute is required
    assert (model_y["sku"], model_y["valid"], model_y["unit_cost"]) == ("SRV-Y", True, "1100")
