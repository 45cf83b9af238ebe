"""The configurator in the app (ADR 0006): catalogue rows → the engine's facts, compiled once per
rules version and cached per process; configuration input → `engines.configurator.Configuration`;
the engine's result → plain dicts for the API and the pages, with human messages.

Compiling reads eight tables in eight queries whatever their size; a validation then costs one query
(the rules version) plus authentication, constant in the number of selections.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines.configurator import (
    BomItem,
    Configuration,
    ConfigurationResult,
    ConfiguratorCatalog,
    ConfigViolation,
    ExpandedLine,
    OptionGroup,
    Rule,
    SkuInfo,
    Structure,
    compile_configurator,
    expand,
    priced_lines,
)
from l2c.kernel.errors import FieldError, ValidationFailed

from . import config_messages
from .models import (
    Attribute,
    AttributeValue,
    BomOptionGroup,
    CatalogStatus,
    Category,
    ConfigRule,
    Product,
    Sku,
)
from .models import BomItem as BomItemRow
from .selectors import rules_version_key

MAX_SELECTIONS = 500
MAX_QUANTITY = Decimal("1000000")
QUANTITY_PLACES = 6  # bounded so that no quantity (or number in a rule) expands into a huge decimal


@dataclass(frozen=True)
class CompiledConfigurator:
    """The engine's catalogue plus the lookups the app needs (by code), for one rules version."""

    version: int
    catalog: ConfiguratorCatalog
    product_ids: Mapping[str, int]  # product code → id
    product_codes: Mapping[int, str]  # id → code
    product_names: Mapping[str, str]
    product_status: Mapping[str, str]
    skus_by_product: Mapping[str, tuple[str, ...]]  # product code → SKU codes, by code
    sku_status: Mapping[str, str]
    configurable: tuple[str, ...]  # product codes with a BOM, by code
    attribute_labels: Mapping[str, str]  # "attribute:<code>" → name, "value:<attribute>=<code>" → label

    def sku_name(self, code: str) -> str:
        info = self.catalog.skus.get(code)
        return info.name if info is not None else ""

    def group_name(self, product: str, group: str | None) -> str:
        if group is None:
            return ""
        found = self.catalog.groups.get(product, {}).get(group)
        return found.name if found is not None and found.name else group

    def labels(self) -> dict[str, str]:
        """Labels for human messages: option groups, attributes and attribute values by their names."""
        labels = {f"group:{code}": _("选项组“%(name)s”") % {"name": group.name or code}
                  for groups in self.catalog.groups.values() for code, group in groups.items()}
        labels.update(self.attribute_labels)
        return labels


_lock = threading.Lock()
_cache: dict[tuple[int, Any], CompiledConfigurator] = {}


def configurator_cache_clear() -> None:
    """Forget the compiled catalogue (tests; the version check makes it unnecessary otherwise)."""
    with _lock:
        _cache.clear()


def configurator_catalog() -> CompiledConfigurator:
    """The compiled configurator catalogue of the current rules version (1 query when cached; rows
    are read after the version, so a cached catalogue is never older than its number)."""
    key = rules_version_key()
    cached = _cache.get(key)
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        compiled = _compile(key[0])
        _cache.clear()  # one version at a time
        _cache[key] = compiled
    return compiled


def _category_paths() -> dict[int, tuple[str, ...]]:
    rows = {pk: (code, parent) for pk, code, parent in Category.objects.values_list("pk", "code", "parent_id")}
    paths: dict[int, tuple[str, ...]] = {}
    for pk in rows:
        path: list[str] = []
        seen: set[int] = set()
        current: int | None = pk
        while current is not None and current in rows and current not in seen:
            seen.add(current)
            code, parent = rows[current]
            path.append(code)
            current = parent
        paths[pk] = tuple(reversed(path))
    return paths


def _compile(version: int) -> CompiledConfigurator:
    paths = _category_paths()
    products = list(Product.objects.values_list("pk", "code", "name", "status", "category_id"))
    product_code = {pk: code for pk, code, _name, _status, _category in products}
    product_category = {code: category for _pk, code, _name, _status, category in products}
    skus: list[SkuInfo] = []
    skus_by_product: dict[str, list[str]] = {}
    sku_status: dict[str, str] = {}
    for code, product_id, name, cost, attributes, status in Sku.objects.values_list(
            "code", "product_id", "name", "cost_price", "attribute_values", "status").order_by("code"):
        product = product_code[product_id]
        category = product_category.get(product)
        values = {str(key): str(value) for key, value in (attributes or {}).items()}
        skus.append(SkuInfo(code, product, paths.get(category, ()) if category is not None else (),
                            Decimal(cost), values, name))
        skus_by_product.setdefault(product, []).append(code)
        sku_status[code] = status
    groups: dict[str, list[OptionGroup]] = {}
    group_codes: dict[int, str] = {}
    for pk, product_id, code, name, choice, required, min_choices, max_choices in BomOptionGroup.objects.values_list(
            "pk", "product_id", "code", "name", "choice", "required", "min_choices", "max_choices"):
        group_codes[pk] = code
        groups.setdefault(product_code[product_id], []).append(
            OptionGroup(code, name, choice == "multiple", required, min_choices, max_choices))
    items: dict[str, list[BomItem]] = {}
    for parent_id, component, quantity, required, priced, minimum, maximum, group_id, position in \
            BomItemRow.objects.values_list("parent_id", "component__code", "quantity", "required", "priced",
                                           "min_quantity", "max_quantity", "option_group_id", "position"):
        items.setdefault(product_code[parent_id], []).append(BomItem(
            component, Decimal(quantity), required, priced, Decimal(minimum) if minimum is not None else None,
            Decimal(maximum) if maximum is not None else None,
            group_codes.get(group_id) if group_id is not None else None, position))
    structures = [Structure(product, tuple(product_items), tuple(groups.get(product, ())))
                  for product, product_items in sorted(items.items())]
    rules = [Rule(code, kind, definition if isinstance(definition, dict) else {}, product, message)
             for code, kind, definition, product, message in ConfigRule.objects.filter(is_active=True).values_list(
                 "code", "kind", "definition", "product__code", "message")]
    attribute_labels = {f"attribute:{code}": name for code, name in Attribute.objects.values_list("code", "name")}
    attribute_labels.update((f"value:{attribute}={code}", label) for attribute, code, label in
                            AttributeValue.objects.values_list("attribute__code", "code", "label"))
    catalog = compile_configurator(skus, structures, rules)
    return CompiledConfigurator(
        version=version, catalog=catalog,
        product_ids={code: pk for pk, code in product_code.items()}, product_codes=product_code,
        product_names={code: name for _pk, code, name, _status, _category in products},
        product_status={code: status for _pk, code, _name, status, _category in products},
        skus_by_product={product: tuple(codes) for product, codes in skus_by_product.items()},
        sku_status=sku_status, configurable=tuple(sorted(items)), attribute_labels=attribute_labels,
    )


# --- Input -----------------------------------------------------------------------------------------


def parse_quantity(raw: Any, field: str, errors: list[FieldError], *, allow_zero: bool) -> Decimal:
    """A quantity from a decimal string or an integer (never a float)."""
    if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal):
        errors.append(FieldError(field, _("数量必须是数字。"), "invalid"))
        return Decimal(0)
    try:
        value = Decimal(str(raw).strip()) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        errors.append(FieldError(field, _("数量必须是数字。"), "invalid"))
        return Decimal(0)
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        errors.append(FieldError(field, _("数量必须大于 0。") if not allow_zero else _("数量不能是负数。"), "invalid"))
        return Decimal(0)
    if value > MAX_QUANTITY:
        errors.append(FieldError(field, _("数量不能超过 %(max)s。") % {"max": MAX_QUANTITY}, "too_large"))
        return Decimal(0)
    if value != 0 and value.adjusted() < -QUANTITY_PLACES:  # before normalize(), which would round it to 0
        value = Decimal("1E-99")
    value = value.normalize()
    if value != 0 and int(value.as_tuple().exponent) < -QUANTITY_PLACES:
        errors.append(FieldError(field, _("数量最多 %(places)s 位小数。") % {"places": QUANTITY_PLACES}, "too_precise"))
        return Decimal(0)
    return value if value != 0 else Decimal(0)


def resolve_root(compiled: CompiledConfigurator, *, product: str | None, sku: str | None,
                 attributes: Mapping[str, str], prefix: str = "") -> str:
    """The root SKU of a configuration: `sku` as given, or the SKU of `product` matching the chosen
    attributes (the only SKU when the product has one)."""
    if sku:
        if sku not in compiled.catalog.skus:
            raise ValidationFailed.for_field(f"{prefix}sku", _("SKU %(code)s 不存在。") % {"code": sku}, "not_found")
        return sku
    if not product:
        message = _("请填写产品（product）或根 SKU（sku）。")
        raise ValidationFailed(message, errors=[FieldError(f"{prefix}product", message, "required")])
    if product not in compiled.product_ids:
        raise ValidationFailed.for_field(f"{prefix}product", _("产品 %(code)s 不存在。") % {"code": product},
                                         "not_found")
    candidates = list(compiled.skus_by_product.get(product, ()))
    if not candidates:
        raise ValidationFailed.for_field(f"{prefix}product", _("产品 %(code)s 还没有 SKU。") % {"code": product},
                                         "no_sku")
    if len(candidates) > 1:
        matching = [code for code in candidates
                    if all(attributes.get(key) == value
                           for key, value in compiled.catalog.skus[code].attributes.items())]
        active = [code for code in matching if compiled.sku_status.get(code) == CatalogStatus.ACTIVE]
        chosen = active or matching
        if len(chosen) != 1:
            message = _("产品 %(code)s 有多个规格，请填写 sku，或在 attributes 中给出能唯一确定规格的属性值。") % {
                "code": product}
            raise ValidationFailed(message, errors=[FieldError(f"{prefix}sku", message, "ambiguous")])
        return chosen[0]
    return candidates[0]


def configuration_from_input(compiled: CompiledConfigurator, data: Mapping[str, Any], *,
                             prefix: str = "") -> Configuration:
    """A `Configuration` from the API body `{"product" | "sku", "quantity", "selections": [{"sku",
    "quantity"}], "attributes"}`; refuses bad input with every field named."""
    errors: list[FieldError] = []
    quantity = parse_quantity(data.get("quantity", 1), f"{prefix}quantity", errors, allow_zero=False)
    raw_selections = data.get("selections") or []
    selections: dict[str, Decimal] = {}
    if not isinstance(raw_selections, Sequence) or isinstance(raw_selections, str):
        errors.append(FieldError(f"{prefix}selections", _("必须是列表。"), "invalid"))
        raw_selections = []
    if len(raw_selections) > MAX_SELECTIONS:
        errors.append(FieldError(f"{prefix}selections", _("最多 %(max)s 项。") % {"max": MAX_SELECTIONS},
                                 "too_many"))
        raw_selections = []
    for index, item in enumerate(raw_selections):
        field = f"{prefix}selections[{index}]"
        if not isinstance(item, Mapping):
            errors.append(FieldError(field, _("必须是 {sku, quantity} 对象。"), "invalid"))
            continue
        code = str(item.get("sku") or "").strip()
        if not code:
            errors.append(FieldError(f"{field}.sku", _("请填写 SKU 编码。"), "required"))
            continue
        if code in selections:
            errors.append(FieldError(f"{field}.sku", _("SKU %(code)s 重复选择。") % {"code": code}, "duplicate"))
            continue
        selections[code] = parse_quantity(item.get("quantity", 1), f"{field}.quantity", errors, allow_zero=True)
    raw_attributes = data.get("attributes") or {}
    attributes: dict[str, str] = {}
    if not isinstance(raw_attributes, Mapping):
        errors.append(FieldError(f"{prefix}attributes", _("必须是 {属性代码: 值代码} 对象。"), "invalid"))
    else:
        for key, value in raw_attributes.items():
            if value is None or str(value).strip() == "":
                continue
            attributes[str(key).strip()] = str(value).strip()
    if errors:
        raise ValidationFailed(_("配置填写有误。"), errors=errors)
    product = data.get("product")
    sku = data.get("sku")
    root = resolve_root(compiled, product=str(product).strip() if product else None,
                        sku=str(sku).strip() if sku else None, attributes=attributes, prefix=prefix)
    return Configuration(root, quantity, selections, attributes)


def configuration_validate(*, user: User, data: Mapping[str, Any]) -> tuple[CompiledConfigurator, Configuration,
                                                                             ConfigurationResult]:
    """Expand and validate a configuration (anyone who may view products)."""
    access.require(user, "product", "view")
    compiled = configurator_catalog()
    configuration = configuration_from_input(compiled, data)
    return compiled, configuration, expand(compiled.catalog, configuration)


# --- Output ----------------------------------------------------------------------------------------


def amount_text(value: Decimal) -> str:
    """A Decimal as a plain string: no exponent, no trailing zeros ("1350", "0.4", "1000.1")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def violation_dict(violation: ConfigViolation, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"code": violation.code, "rule": violation.rule, "kind": violation.kind, "skus": list(violation.skus),
            "message_key": violation.message, "params": _jsonable(violation.params),
            "message": config_messages.violation_text(violation, labels),
            "explanation": config_messages.render(violation.message, violation.params, labels)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return amount_text(value)
    return value


def line_dict(compiled: CompiledConfigurator, line: ExpandedLine) -> dict[str, Any]:
    info = compiled.catalog.skus.get(line.sku)
    return {"key": line.key, "sku": line.sku, "name": info.name if info else "",
            "product": info.product_code if info else "", "quantity": amount_text(line.quantity),
            "parent": line.parent, "priced": line.priced, "source": line.source, "rule": line.rule,
            "unit_cost": amount_text(line.unit_cost), "depth": line.key.count("/")}


def result_dict(compiled: CompiledConfigurator, configuration: Configuration,
                result: ConfigurationResult) -> dict[str, Any]:
    """The validation answer of the API (and the pages' context)."""
    labels = compiled.labels()
    lines = [line_dict(compiled, line) for line in result.lines]
    by_key = {line.key: line for line in result.lines}
    options = []
    for option in result.options:
        parent = by_key.get(option.parent) if option.parent is not None else None
        parent_product = compiled.catalog.skus[parent.sku].product_code if parent is not None else ""
        options.append({
            "group": option.group, "group_name": compiled.group_name(parent_product, option.group),
            "sku": option.sku, "name": compiled.sku_name(option.sku), "allowed": option.allowed,
            "selected": option.selected, "quantity": amount_text(option.quantity), "parent": option.parent,
            "parent_sku": parent.sku if parent is not None else None,
            "reasons": [violation_dict(reason, labels) for reason in option.reasons]})
    root = compiled.catalog.skus.get(configuration.root_sku)
    return {
        "valid": result.is_valid, "rules_version": compiled.version,
        "product": root.product_code if root else "", "sku": configuration.root_sku,
        "quantity": amount_text(configuration.quantity),
        "lines": lines, "auto_added": [line_dict(compiled, line) for line in result.auto_added],
        "priced_lines": [line_dict(compiled, line) for line in priced_lines(result)],
        "violations": [violation_dict(violation, labels) for violation in result.violations],
        "unit_cost": amount_text(result.unit_cost), "total_cost": amount_text(result.total_cost),
        "options": options,
    }
