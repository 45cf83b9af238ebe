"""Pages of configuration rules and the guided configurator (ADR 0006).

- /catalog/configurator/ — pick a configurable product (one with a BOM).
- /catalog/configurator/<product id>/ — the guided configurator: one step per option group (and one
  for the optional items) of every line of the configuration, then a summary with the lines a quote
  would hold. Only valid options can be chosen (the others show why), auto-added items and the
  rolled-up cost follow every change, the live price comes from the pricing preview API
  (static/catalog/configurator.js; the page works without it). Each step posts the whole form (HTMX
  swaps the form, without JavaScript the page reloads): the configuration lives in the form.
- /catalog/rules/… — rule list, create/edit with a definition form per kind (or raw JSON for experts)
  and the "test this rule" box, delete, switch on/off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.apps.customers.view_helpers import domain_errors, error_text
from l2c.apps.identity import access
from l2c.engines.configurator import expand
from l2c.engines.configurator.rules import AttributeConstraint
from l2c.kernel.errors import DomainError, FieldError, ValidationFailed

from . import configurator, rules
from .models import AttributeValue, ConfigRule, Product, RuleKind

# --- the guided configurator ---------------------------------------------------------------------------


@login_required
@domain_errors
def configurator_index(request: HttpRequest) -> HttpResponse:
    """Configurable products: those with a BOM."""
    access.require(request.user, "product", "view")
    compiled = configurator.configurator_catalog()
    products = Product.objects.filter(code__in=compiled.configurable).select_related("category").order_by("code")
    rows = [{"product": product, "skus": len(compiled.skus_by_product.get(product.code, ())),
             "options": sum(1 for item in compiled.catalog.structures[product.code].items
                            if item.option_group is not None or not item.required),
             "groups": len(compiled.catalog.groups.get(product.code, {}))}
            for product in products if product.status != "retired"]
    return render(request, "catalog/configurator_index.html", {"rows": rows})


def _attribute_choices(compiled: configurator.CompiledConfigurator, product: str) -> list[dict[str, Any]]:
    """The attributes the product's configuration may choose: those its attribute constraints (and
    the global ones) restrict, with their values (one query)."""
    codes = sorted({rule.parsed.attribute for rule in compiled.catalog.rules.values()
                    if isinstance(rule.parsed, AttributeConstraint) and rule.rule.product in (None, product)})
    if not codes:
        return []
    values: dict[str, list[tuple[str, str]]] = {}
    names: dict[str, str] = {}
    for attribute, attribute_name, code, label in AttributeValue.objects.filter(attribute__code__in=codes).order_by(
            "attribute__position", "attribute__code", "position", "code").values_list(
            "attribute__code", "attribute__name", "code", "label"):
        values.setdefault(attribute, []).append((code, label))
        names[attribute] = attribute_name
    return [{"code": code, "name": names.get(code, code), "values": values.get(code, [])} for code in codes]


def _configuration_data(form: QueryDict, root_skus: tuple[str, ...]) -> dict[str, Any]:
    """The API-shaped configuration posted by the page's form."""
    picked: list[str] = [code for code in form.getlist("pick") if code]
    picked.extend(value for key, value in form.items() if key.startswith("radio-") and value)
    selections = [{"sku": code, "quantity": (form.get(f"qty-{code}") or "1").strip()[:20]}
                  for code in dict.fromkeys(picked)]
    sku = (form.get("sku") or "").strip()
    attributes = {key.removeprefix("attr-"): value.strip()[:50] for key, value in form.items()
                  if key.startswith("attr-") and value.strip()}
    return {"sku": sku if sku in root_skus else root_skus[0], "quantity": (form.get("quantity") or "1").strip()[:20],
            "selections": selections, "attributes": attributes}


def _configure(compiled: configurator.CompiledConfigurator,
               data: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    """Expand the posted configuration; input errors are dropped (and reported) rather than refused,
    so the page always shows a state."""
    problems: list[str] = []
    try:
        configuration = configurator.configuration_from_input(compiled, data)
    except ValidationFailed as error:
        problems = [item.message for item in error.errors] or [error.detail]
        bad = {item.field for item in error.errors}
        data = {**data, "quantity": "1" if "quantity" in bad else data["quantity"],
                "selections": [item for index, item in enumerate(data["selections"])
                               if not any(field.startswith(f"selections[{index}]") for field in bad)]}
        configuration = configurator.configuration_from_input(compiled, data)
    return configuration, expand(compiled.catalog, configuration), problems


def _steps(compiled: configurator.CompiledConfigurator, state: dict[str, Any]) -> list[dict[str, Any]]:
    """The configurator's steps: specification, one per (line, option group) and one per line's
    optional items, then the summary."""
    steps: list[dict[str, Any]] = [{"key": "spec", "title": _("规格与数量"), "options": []}]
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    lines = {line["key"]: line for line in state["lines"]}
    root_key = state["lines"][0]["key"] if state["lines"] else ""
    for option in state["options"]:
        key = (option["parent"] or "", option["group"] or "")
        step = by_key.get(key)
        if step is None:
            parent = lines.get(option["parent"] or "")
            title = option["group_name"] if option["group"] else _("可选配件")
            if parent is not None and parent["key"] != root_key:
                title = f"{parent['name'] or parent['sku']} · {title}"
            group = compiled.catalog.groups.get(parent["product"] if parent else "", {}).get(option["group"] or "")
            step = {"key": f"{key[0]}|{key[1]}", "title": title, "options": [], "group": option["group"],
                    "single": group is not None and not group.multiple, "required": bool(group and group.required),
                    "radio": f"radio-{key[0]}-{key[1]}"}
            by_key[key] = step
            steps.append(step)
        info = compiled.catalog.skus.get(option["sku"])
        step["options"].append({**option, "unit_cost": configurator.amount_text(info.unit_cost) if info else "",
                                "blocked": not option["allowed"] and not option["selected"]})
    for step in steps:
        step["selected"] = [option for option in step["options"] if option["selected"]]
        step["problems"] = any(not option["allowed"] for option in step["selected"])
    steps.append({"key": "summary", "title": _("确认配置"), "options": []})
    return steps


@login_required
@domain_errors
def configurator_product(request: HttpRequest, product_id: int) -> HttpResponse:
    """The guided configurator of one product; a POST (a step, a change) answers the updated state."""
    access.require(request.user, "product", "view")
    compiled = configurator.configurator_catalog()
    code = compiled.product_codes.get(product_id)
    if code is None or code not in compiled.configurable:
        raise Http404(_("这个产品没有可配置的结构。"))
    root_skus = compiled.skus_by_product.get(code, ())
    if not root_skus:
        raise Http404(_("这个产品还没有 SKU。"))
    active = tuple(sku for sku in root_skus if compiled.sku_status.get(sku) == "active") or root_skus
    form = request.POST if request.method == "POST" else request.GET
    data = _configuration_data(form, active)
    configuration, result, problems = _configure(compiled, data)
    state = configurator.result_dict(compiled, configuration, result)
    steps = _steps(compiled, state)
    step = _int(form.get("step"), 0)
    op = form.get("op") or ""
    if op == "next":
        step += 1
    elif op == "back":
        step -= 1
    elif op.startswith("goto:"):
        step = _int(op.removeprefix("goto:"), step)
    step = max(0, min(step, len(steps) - 1))
    selected_attributes = dict(data["attributes"])
    context = {
        "product": Product.objects.select_related("category").get(pk=product_id), "state": state, "steps": steps,
        "step": step, "current": steps[step], "problems": problems,
        "root_skus": [{"code": sku, "name": compiled.sku_name(sku)} for sku in active],
        "root_sku": configuration.root_sku, "quantity": data["quantity"],
        "attributes": [{**attribute, "selected": selected_attributes.get(attribute["code"], "")}
                       for attribute in _attribute_choices(compiled, code)],
        # The pricing preview's body (ADR 0006 API); `unit_cost` (rolled up over included components)
        # is for a preview that accepts it (the engine's LineInput.unit_cost) and ignored otherwise.
        "price_request": {"currency": "CNY", "lines": [
            {"sku": line["sku"], "quantity": line["quantity"], "unit_cost": line["unit_cost"],
             **({"attributes": selected_attributes} if line["parent"] is None and selected_attributes else {})}
            for line in state["priced_lines"]]},
        "price_url": "/api/v1/pricing/preview",
        "last_step": len(steps) - 1,
    }
    context["price_request_json"] = json.dumps(context["price_request"], ensure_ascii=False, default=str)
    template = "catalog/configurator_state.html" if request.htmx else "catalog/configurator.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _int(raw: Any, default: int) -> int:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) < 6 else default


# --- rules: definition form per kind -------------------------------------------------------------------

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "requires": ("if", "then", "mode"),
    "excludes": ("a", "b"),
    "auto_add": ("when", "add", "formula", "per", "quantity", "factor", "priced"),
    "attribute_constraint": ("when_kind", "when_attribute", "when_value", "when_ref", "attribute", "allowed"),
    "quantity_limit": ("target_kind", "target", "min", "max", "multiple_of"),
}
KIND_HELP = {
    "requires": gettext_lazy("选择了“如果”中的内容时，必须同时选择“则需要”中的全部（或任一）内容。"),
    "excludes": gettext_lazy("A 与 B 中的任一项不能同时选择。"),
    "auto_add": gettext_lazy("选择了触发项时自动添加 SKU，数量按公式：每 N 个加 M 个、固定数量，或按比例向上取整。"),
    "attribute_constraint": gettext_lazy("条件成立时（属性等于某值，或选择了某项），另一个属性只能取允许的值。"),
    "quantity_limit": gettext_lazy("某项（或分类、选项组的合计）的数量在上下限之内，可要求是某数的倍数。"),
}
REF_HELP = gettext_lazy("引用：SKU 编码，或 product:产品编码、category:分类编码。")
_SPLIT = re.compile(r"[\s,，、;；]+")


def _number(text: str) -> int | str:
    """A form number as stored in a definition: an integer when integral, else its decimal string."""
    text = text.strip()
    return int(text) if re.fullmatch(r"-?[0-9]{1,12}", text) else text


def _refs(text: str) -> list[str]:
    return [part for part in _SPLIT.split(text.strip()) if part]


def definition_from_fields(kind: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """The JSON definition of the kind-specific form (blank fields are left out, so the parser names
    what is missing)."""
    value = {name: (fields.get(name) or "").strip() for name in KIND_FIELDS.get(kind, ())}
    definition: dict[str, Any] = {}
    if kind == "requires":
        definition = {"if": value["if"], "then": _refs(value["then"]), "mode": value["mode"] or "all"}
    elif kind == "excludes":
        definition = {"a": value["a"], "b": _refs(value["b"])}
    elif kind == "auto_add":
        definition = {"when": value["when"], "add": value["add"]}
        formula = value["formula"] or "per"
        if formula == "per":
            definition["per"] = _number(value["per"]) if value["per"] else None
            if value["quantity"]:
                definition["quantity"] = _number(value["quantity"])
        elif formula == "factor":
            definition["factor"] = _number(value["factor"]) if value["factor"] else None
        else:
            definition["quantity"] = _number(value["quantity"]) if value["quantity"] else None
        if not fields.get("priced"):
            definition["priced"] = False
    elif kind == "attribute_constraint":
        when: Any = value["when_ref"] if value["when_kind"] == "ref" else {
            "attribute": value["when_attribute"], "value": value["when_value"]}
        definition = {"when": when, "attribute": value["attribute"], "allowed": _refs(value["allowed"])}
    elif kind == "quantity_limit":
        target_kind = value["target_kind"] or "ref"
        definition = {"target": value["target"] if target_kind == "ref" else {target_kind: value["target"]}}
        for name in ("min", "max", "multiple_of"):
            if value[name]:
                definition[name] = _number(value[name])
    return {key: item for key, item in definition.items() if item not in ("", None)}


def fields_from_definition(kind: str, definition: Any) -> dict[str, str]:
    """The kind-specific form's values of a stored definition."""
    if not isinstance(definition, Mapping):
        return {}

    def text(value: Any) -> str:
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return "" if value is None else str(value)

    fields: dict[str, str] = {}
    if kind in ("requires", "excludes"):
        fields = {name: text(definition.get(name)) for name in KIND_FIELDS[kind]}
    elif kind == "auto_add":
        fields = {name: text(definition.get(name)) for name in ("when", "add", "per", "quantity", "factor")}
        fields["formula"] = "per" if definition.get("per") is not None else "factor" if definition.get(
            "factor") is not None else "fixed"
        fields["priced"] = "" if definition.get("priced") is False else "1"
    elif kind == "attribute_constraint":
        when = definition.get("when")
        if isinstance(when, Mapping) and when.get("sku") is None:
            fields.update(when_kind="attribute", when_attribute=text(when.get("attribute")),
                          when_value=text(when.get("value")))
        else:
            fields.update(when_kind="ref", when_ref=text(when.get("sku") if isinstance(when, Mapping) else when))
        fields.update(attribute=text(definition.get("attribute")), allowed=", ".join(
            str(item) for item in definition.get("allowed") or []))
    elif kind == "quantity_limit":
        target = definition.get("target")
        if isinstance(target, Mapping) and target:
            name = next(iter(target))
            fields.update(target_kind=str(name) if name in ("category", "group") else "ref",
                          target=text(target[name]) if name in ("category", "group") else f"{name}:{target[name]}")
        else:
            fields.update(target_kind="ref", target=text(target))
        fields.update({name: text(definition.get(name)) for name in ("min", "max", "multiple_of")})
    return fields


# (name, label, input type, choices or help)
_INPUTS: dict[str, list[tuple[str, Any, str, Any]]] = {
    "requires": [
        ("if", gettext_lazy("如果选择了"), "text", REF_HELP),
        ("then", gettext_lazy("则需要"), "textarea", gettext_lazy("每行（或用逗号分隔）一个引用。")),
        ("mode", gettext_lazy("需要"), "select", [("all", gettext_lazy("全部")), ("any", gettext_lazy("任一"))]),
    ],
    "excludes": [
        ("a", gettext_lazy("选择了"), "text", REF_HELP),
        ("b", gettext_lazy("就不能选择"), "textarea", gettext_lazy("每行（或用逗号分隔）一个引用。")),
    ],
    "auto_add": [
        ("when", gettext_lazy("当选择了"), "text", REF_HELP),
        ("add", gettext_lazy("自动添加 SKU"), "text", gettext_lazy("SKU 编码。")),
        ("formula", gettext_lazy("数量公式"), "select", [
            ("per", gettext_lazy("每 N 个加 M 个（向上取整）")), ("fixed", gettext_lazy("固定数量")),
            ("factor", gettext_lazy("按比例（向上取整）"))]),
        ("per", gettext_lazy("每 N 个"), "text", gettext_lazy("公式为“每 N 个”时填写。")),
        ("quantity", gettext_lazy("加 M 个 / 固定数量"), "text", gettext_lazy("“每 N 个”默认加 1 个。")),
        ("factor", gettext_lazy("比例"), "text", gettext_lazy("公式为“按比例”时填写，如 0.5。")),
        ("priced", gettext_lazy("单独计价"), "checkbox", gettext_lazy("不勾选：只计成本，含在上级价格中。")),
    ],
    "attribute_constraint": [
        ("when_kind", gettext_lazy("条件"), "select", [
            ("attribute", gettext_lazy("属性等于某值")), ("ref", gettext_lazy("选择了某项"))]),
        ("when_attribute", gettext_lazy("当属性"), "text", gettext_lazy("属性代码，如 model。")),
        ("when_value", gettext_lazy("等于"), "text", gettext_lazy("属性值代码，如 X。")),
        ("when_ref", gettext_lazy("或当选择了"), "text", REF_HELP),
        ("attribute", gettext_lazy("则属性"), "text", gettext_lazy("属性代码，如 voltage。")),
        ("allowed", gettext_lazy("只能取"), "text", gettext_lazy("属性值代码，用逗号分隔，如 220, 380。")),
    ],
    "quantity_limit": [
        ("target_kind", gettext_lazy("对象"), "select", [
            ("ref", gettext_lazy("SKU / 产品 / 分类引用")), ("category", gettext_lazy("分类合计")),
            ("group", gettext_lazy("选项组合计"))]),
        ("target", gettext_lazy("引用或代码"), "text", REF_HELP),
        ("min", gettext_lazy("下限"), "text", ""),
        ("max", gettext_lazy("上限"), "text", ""),
        ("multiple_of", gettext_lazy("必须是其倍数"), "text", ""),
    ],
}


def definition_inputs(kind: str, fields: Mapping[str, str], errors: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """The kind-specific inputs with their values and errors, in display order."""
    inputs = []
    for name, label, input_type, extra in _INPUTS.get(kind, []):
        inputs.append({"name": f"d-{name}", "id": f"rule-d-{name}", "label": label, "type": input_type,
                       "value": fields.get(name, ""), "errors": errors.get(f"d-{name}", []),
                       "choices": extra if input_type == "select" else [],
                       "help": extra if input_type != "select" else ""})
    return inputs


def _input_of(kind: str, field: str) -> str | None:
    """The form input showing the error of definition field `field` ("then[1]" → then)."""
    head = re.split(r"\[", field, maxsplit=1)[0].replace(".", "_")
    head = {"when_sku": "when_ref", "target_sku": "target", "target_product": "target", "target_category": "target",
            "target_group": "target"}.get(head, head)
    if kind == "attribute_constraint" and head == "when":
        head = "when_ref"
    return head if head in KIND_FIELDS.get(kind, ()) else None


# --- rules: pages --------------------------------------------------------------------------------------


@login_required
@domain_errors
def rule_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "product", "view")
    rows = ConfigRule.objects.select_related("product").order_by("position", "code")
    product = _int(request.GET.get("product"), 0)
    kind = request.GET.get("kind") or ""
    if product:
        rows = rows.filter(product_id=product)
    if kind in RuleKind.values:
        rows = rows.filter(kind=kind)
    query = (request.GET.get("q") or "").strip()[:100]
    if query:
        rows = rows.filter(Q(code__icontains=query) | Q(name__icontains=query))
    return render(request, "catalog/rule_list.html", {
        "rules": [{"rule": rule, "summary": json.dumps(rule.definition, ensure_ascii=False)[:160]}
                  for rule in rows[:500]],
        "kinds": RuleKind.choices, "kind": kind, "product": product, "query": query,
        "products": Product.objects.filter(bom_items__isnull=False).distinct().order_by("code"),
        "may_create": access.can(user, "product", "create"), "may_edit": access.can(user, "product", "edit"),
        "may_delete": access.can(user, "product", "delete")})


def _header(post: QueryDict) -> dict[str, Any]:
    product = _int(post.get("product_id"), 0)
    return {"code": (post.get("code") or "").strip()[:60], "name": (post.get("name") or "").strip()[:200],
            "product_id": product or None, "kind": post.get("kind") or "requires",
            "message": (post.get("message") or "").strip()[:300], "is_active": bool(post.get("is_active")),
            "position": _int(post.get("position"), 0)}


def _definition_from_post(post: QueryDict, kind: str) -> tuple[Any, list[str]]:
    """The definition the form holds: the raw JSON when "use JSON" is ticked, else the kind's fields."""
    if post.get("use_json"):
        raw = post.get("definition_json") or ""
        try:
            return json.loads(raw), []
        except ValueError as error:
            return None, [_("JSON 无效：%(error)s") % {"error": error}]
    fields = {name.removeprefix("d-"): value for name, value in post.items() if name.startswith("d-")}
    return definition_from_fields(kind, fields), []


def _test_configuration(post: QueryDict) -> dict[str, Any]:
    """The sample configuration of the test box: product, root SKU, quantity, "SKU 数量" lines,
    "attribute=value" pairs."""
    selections = []
    for line in (post.get("t-selections") or "").splitlines()[:configurator.MAX_SELECTIONS]:
        parts = [part for part in re.split(r"[\s×*=,，]+", line.strip()) if part]
        if parts:
            selections.append({"sku": parts[0], "quantity": parts[1] if len(parts) > 1 else "1"})
    attributes = {}
    for pair in _SPLIT.split((post.get("t-attributes") or "").strip()):
        name, separator, value = pair.partition("=")
        if separator and name.strip():
            attributes[name.strip()] = value.strip()
    product = _int(post.get("t-product"), 0)
    code = Product.objects.filter(pk=product).values_list("code", flat=True).first() if product else None
    return {"product": code, "sku": (post.get("t-sku") or "").strip() or None,
            "quantity": (post.get("t-quantity") or "1").strip(), "selections": selections, "attributes": attributes}


def _run_test(request: HttpRequest, rule: ConfigRule | None) -> dict[str, Any]:
    """The test box's answer (or its errors) for the form as posted."""
    header = _header(request.POST)
    definition, problems = _definition_from_post(request.POST, header["kind"])
    if problems:
        return {"errors": problems}
    try:
        answer = rules.rule_test(user=request.user, configuration=_test_configuration(request.POST),
                                 rule_id=rule.pk if rule else None, kind=header["kind"], definition=definition,
                                 product_id=header["product_id"], message=header["message"])
    except ValidationFailed as error:
        return {"errors": [f"{item.field}: {item.message}" for item in error.errors] or [error.detail]}
    return {"answer": answer}


def _form_context(request: HttpRequest, rule: ConfigRule | None, header: dict[str, Any], fields: dict[str, str],
                  definition: Any, errors: list[FieldError], general: list[str]) -> dict[str, Any]:
    kind = header["kind"]
    field_errors: dict[str, list[str]] = {}
    definition_general: list[str] = []
    for error in errors:
        if error.field.startswith("definition"):
            name = _input_of(kind, error.field.removeprefix("definition").lstrip("."))
            if name is None:
                definition_general.append(f"{error.field}: {error.message}" if error.field != "definition"
                                          else error.message)
            else:
                field_errors.setdefault(f"d-{name}", []).append(error.message)
        else:
            field_errors.setdefault(error.field, []).append(error.message)
    compiled = configurator.configurator_catalog()
    return {"rule": rule, "header": header, "fields": fields, "kind": kind, "kinds": RuleKind.choices,
            "kind_help": KIND_HELP.get(kind, ""), "ref_help": REF_HELP,
            "definition_json": json.dumps(definition, ensure_ascii=False, indent=2) if definition is not None else "",
            "use_json": bool(request.POST.get("use_json")) if request.method == "POST" else False,
            "errors": field_errors, "definition_errors": definition_general,
            "inputs": definition_inputs(kind, fields, field_errors), "general_errors": general,
            "products": Product.objects.order_by("code").only("pk", "code", "name"),
            "configurable": Product.objects.filter(code__in=compiled.configurable).order_by("code").only(
                "pk", "code", "name"),
            "test": {"product": request.POST.get("t-product") or (str(header["product_id"] or "")),
                     "sku": request.POST.get("t-sku", ""), "quantity": request.POST.get("t-quantity", "1"),
                     "selections": request.POST.get("t-selections", ""),
                     "attributes": request.POST.get("t-attributes", "")},
            "version": rule.version if rule else ""}


@login_required
@domain_errors
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    """Create or edit a rule. POST `op`: save (default), test (the test box without JavaScript),
    kind (switch the definition form to another kind, keeping what fits)."""
    user = request.user
    access.require(user, "product", "edit" if rule_id is not None else "create")
    rule = rules.rule_get(rule_id) if rule_id is not None else None
    errors: list[FieldError] = []
    general: list[str] = []
    test: dict[str, Any] | None = None
    if request.method == "POST":
        header = _header(request.POST)
        fields = {name.removeprefix("d-"): value for name, value in request.POST.items() if name.startswith("d-")}
        definition, problems = _definition_from_post(request.POST, header["kind"])
        if request.POST.get("use_json") and definition is not None:
            fields = fields_from_definition(header["kind"], definition)
        op = request.POST.get("op") or "save"
        if op == "test":
            test = _run_test(request, rule)
        elif op == "save" and problems:
            errors.append(FieldError("definition", problems[0], "invalid_json"))
        elif op == "save":
            data = {**header, "definition": definition}
            version = request.POST.get("version") or ""
            try:
                if rule is None:
                    saved = rules.rule_create(actor=user, data=data)
                else:
                    saved = rules.rule_update(actor=user, rule_id=rule.pk, data=data,
                                              expected_version=int(version) if version.isdigit() else None)
            except ValidationFailed as error:
                errors = error.errors
                if not errors:
                    general.append(error.detail)
            except DomainError as error:  # a stale version
                general.append(error_text(error))
            else:
                messages.success(request, _("配置规则“%(name)s”已保存。") % {"name": saved.name})
                return redirect("catalog:rule_edit", rule_id=saved.pk)
    elif rule is not None:
        header = {"code": rule.code, "name": rule.name, "product_id": rule.product_id, "kind": rule.kind,
                  "message": rule.message, "is_active": rule.is_active, "position": rule.position}
        definition = rule.definition
        fields = fields_from_definition(rule.kind, definition)
    else:
        kind = request.GET.get("kind") or "requires"
        header = {"code": "", "name": "", "product_id": _int(request.GET.get("product"), 0) or None,
                  "kind": kind if kind in RuleKind.values else "requires", "message": "", "is_active": True,
                  "position": 0}
        definition = None
        fields = {"mode": "all", "formula": "per", "priced": "1", "when_kind": "attribute", "target_kind": "ref"}
    context = _form_context(request, rule, header, fields, definition, errors, general)
    context["test_result"] = test
    status = 422 if errors or general else 200
    return render(request, "catalog/rule_form.html", context, status=status)


@login_required
@domain_errors
def rule_definition_fields(request: HttpRequest) -> HttpResponse:
    """The definition form of another kind (HTMX, when the kind select changes)."""
    access.require(request.user, "product", "view")
    kind = request.GET.get("kind") or "requires"
    if kind not in RuleKind.values:
        kind = "requires"
    fields = {"mode": "all", "formula": "per", "priced": "1", "when_kind": "attribute", "target_kind": "ref"}
    return render(request, "catalog/rule_definition_fields.html", {
        "kind": kind, "inputs": definition_inputs(kind, fields, {}), "definition_errors": [],
        "kind_help": KIND_HELP.get(kind, "")})


@login_required
@domain_errors
@require_POST
def rule_test_box(request: HttpRequest) -> HttpResponse:
    """The "test this rule" box (HTMX): the rule as the form holds it against the sample."""
    access.require(request.user, "product", "view")
    rule_id = _int(request.POST.get("rule_id"), 0)
    rule = rules.rule_get(rule_id) if rule_id else None
    return render(request, "catalog/rule_test_result.html", {"test_result": _run_test(request, rule)})


@login_required
@domain_errors
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    access.require(request.user, "product", "delete")
    rule = rules.rule_get(rule_id)
    if request.method == "POST":
        rules.rule_delete(actor=request.user, rule_id=rule.pk)
        messages.success(request, _("配置规则“%(name)s”已删除。") % {"name": rule.name})
        return redirect("catalog:rule_list")
    return render(request, "catalog/rule_delete.html", {"rule": rule})


@login_required
@domain_errors
@require_POST
def rule_toggle(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Switch a rule on or off from the list."""
    access.require(request.user, "product", "edit")
    rule = rules.rule_get(rule_id)
    try:
        rules.rule_activate(actor=request.user, rule_id=rule.pk, is_active=not rule.is_active)
    except ValidationFailed as error:
        messages.error(request, "；".join(item.message for item in error.errors) or error.detail)
    else:
        messages.success(request, (_("已启用规则“%(name)s”。") if not rule.is_active else _("已停用规则“%(name)s”。"))
                         % {"name": rule.name})
    return redirect("catalog:rule_list")


urlpatterns: list[URLPattern | URLResolver] = [
    path("catalog/configurator/", configurator_index, name="configurator"),
    path("catalog/configurator/<int:product_id>/", configurator_product, name="configurator_product"),
    path("catalog/rules/", rule_list, name="rule_list"),
    path("catalog/rules/new/", rule_edit, name="rule_create"),
    path("catalog/rules/test/", rule_test_box, name="rule_test"),
    path("catalog/rules/definition-fields/", rule_definition_fields, name="rule_definition_fields"),
    path("catalog/rules/<int:rule_id>/", rule_edit, name="rule_edit"),
    path("catalog/rules/<int:rule_id>/delete/", rule_delete, name="rule_delete"),
    path("catalog/rules/<int:rule_id>/toggle/", rule_toggle, name="rule_toggle"),
]
