"""Product structures (BOM, 物料清单): option groups, components, cycle refusal, the nested tree and
its rolled-up cost (ADR 0006).

A product's BOM lists component SKUs per unit of the product; a component SKU's product may have its
own BOM, to any depth. A structure may never reach itself: product A → a component SKU of product B
→ … → a component SKU of A is refused with the path ("A → B → A"). The walk loads the edges
product → component product once per check (one query) and searches them in Python.

Rolled-up cost of a product's BOM (per unit): the cost of its *default configuration* — every
required component (an item with no option group and `required`) and, in each option group that
needs a choice (required, or `min_choices` > 0), its first `max(1 if required, min_choices)` items
by position — each at quantity × (its SKU's cost + the rolled-up cost of the SKU's product's BOM),
recursively. Priced and included components both count: it is what the default configuration costs.
Decimal throughout, never rounded here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, NotFound

from .models import BomItem, BomOptionGroup, ChoiceMode, Product, Sku
from .services import (
    clean_code,
    clean_decimal,
    clean_position,
    clean_text,
    product_for_action,
    raise_errors,
    rules_version_bump,
)

QUANTITY_LIMIT = Decimal("99999999")  # max_digits 12, decimal_places 4
ZERO = Decimal(0)


# --- the product graph ------------------------------------------------------------------------------
def product_edges() -> dict[int, set[int]]:
    """Product id → the products of its components' SKUs (one query over every BOM row)."""
    edges: dict[int, set[int]] = {}
    for parent_id, component_product_id in BomItem.objects.values_list("parent_id", "component__product_id"):
        edges.setdefault(parent_id, set()).add(component_product_id)
    return edges


def find_path(edges: Mapping[int, Iterable[int]], start: int, goal: int) -> list[int] | None:
    """The shortest path of product ids from `start` to `goal` (both included), ties broken by id;
    None when `goal` cannot be reached."""
    if start == goal:
        return [start]
    previous: dict[int, int] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        current = queue.popleft()
        for following in sorted(edges.get(current, ())):
            if following in seen:
                continue
            previous[following] = current
            if following == goal:
                path = [goal]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return list(reversed(path))
            seen.add(following)
            queue.append(following)
    return None


def cycle_path(edges: Mapping[int, Iterable[int]], product_id: int, component_product_id: int) -> list[int] | None:
    """The cycle that a component of product `component_product_id` under `product_id` would close:
    [product, component product, …, product]; None when it is safe."""
    path = find_path(edges, component_product_id, product_id)
    return None if path is None else [product_id, *path]


def path_text(product_ids: Sequence[int]) -> str:
    codes = dict(Product.objects.filter(pk__in=set(product_ids)).values_list("pk", "code"))
    return " → ".join(codes.get(product_id, f"#{product_id}") for product_id in product_ids)


def _cycle_error(field: str, path: Sequence[int]) -> FieldError:
    return FieldError(field, _("不能加入这个组件：它会形成循环（%(path)s）。") % {"path": path_text(path)}, "cycle")


# --- cleaning -----------------------------------------------------------------------------------------
def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "是", "y")


def _quantity(value: Any, field: str, errors: list[FieldError], *, positive: bool) -> Decimal | None:
    return clean_decimal(value, field, errors, places=4, positive=positive, limit=QUANTITY_LIMIT)


def _group_fields(data: Mapping[str, Any], field: str, errors: list[FieldError]) -> dict[str, Any]:
    code = clean_code(data.get("code"), f"{field}code", errors)
    name = clean_text(data.get("name") or code, f"{field}name", errors, max_length=100, required=True)
    choice = str(data.get("choice") or ChoiceMode.SINGLE)
    if choice not in ChoiceMode.values:
        errors.append(FieldError(f"{field}choice", _("选择方式只能是 single（单选）或 multiple（多选）。"),
                                 "invalid_choice"))
    required = _bool(data.get("required"), False)
    min_choices = clean_position(data.get("min_choices"), f"{field}min_choices", errors)
    raw_max = data.get("max_choices")
    max_choices = None if raw_max in (None, "") else clean_position(raw_max, f"{field}max_choices", errors)
    if max_choices is not None and max_choices < max(min_choices, 1):
        errors.append(FieldError(f"{field}max_choices", _("最多选择数不能小于最少选择数，且至少为 1。"), "invalid"))
    if choice == ChoiceMode.SINGLE and (min_choices > 1 or (max_choices or 1) > 1):
        errors.append(FieldError(f"{field}choice", _("单选组最多只能选 1 个。"), "invalid"))
    return {"code": code, "name": name, "choice": choice, "required": required, "min_choices": min_choices,
            "max_choices": max_choices, "position": clean_position(data.get("position"), f"{field}position", errors)}


def _component(data: Mapping[str, Any], field: str, errors: list[FieldError]) -> Sku | None:
    """The component SKU named by `component_sku` (code) or `component_id`."""
    code = str(data.get("component_sku") or data.get("sku") or "").strip()
    sku_id = data.get("component_id")
    sku = None
    if code:
        sku = Sku.objects.select_related("product").filter(code=code).first()
    elif sku_id not in (None, ""):
        try:
            sku = Sku.objects.select_related("product").filter(pk=int(sku_id)).first()
        except (TypeError, ValueError):
            sku = None
    else:
        errors.append(FieldError(field, _("请选择组件 SKU。"), "required"))
        return None
    if sku is None:
        errors.append(FieldError(field, _("没有编码为“%(code)s”的 SKU。") % {"code": (code or sku_id)}, "not_found"))
    return sku


def _item_fields(data: Mapping[str, Any], field: str, errors: list[FieldError],
                 groups: Mapping[str, Any], default_position: int) -> dict[str, Any]:
    """An item's fields except its component; `groups` maps option group codes to groups (or ids)."""
    raw_quantity = data.get("quantity")
    quantity = _quantity("1" if raw_quantity in (None, "") else raw_quantity, f"{field}quantity", errors,
                         positive=True)
    minimum = None if data.get("min_quantity") in (None, "") else _quantity(
        data.get("min_quantity"), f"{field}min_quantity", errors, positive=False)
    maximum = None if data.get("max_quantity") in (None, "") else _quantity(
        data.get("max_quantity"), f"{field}max_quantity", errors, positive=True)
    if minimum is not None and maximum is not None and minimum > maximum:
        errors.append(FieldError(f"{field}max_quantity", _("最大数量不能小于最小数量。"), "invalid"))
    group_code = str(data.get("option_group") or "").strip()
    group = None
    if group_code:
        group = groups.get(group_code)
        if group is None:
            errors.append(FieldError(f"{field}option_group", _("没有代码为“%(code)s”的选项组（可选：%(allowed)s）。")
                                     % {"code": group_code[:50], "allowed": "、".join(groups) or "—"}, "not_found"))
    return {"quantity": quantity, "required": _bool(data.get("required"), True),
            "priced": _bool(data.get("priced"), False), "min_quantity": minimum, "max_quantity": maximum,
            "option_group": group, "position": clean_position(data.get("position", default_position),
                                                              f"{field}position", errors)}


def _bom_snapshot(product: Product) -> dict[str, Any]:
    items = [f"{code}×{quantity.normalize():f}" for code, quantity in
             product.bom_items.order_by("position", "id").values_list("component__code", "quantity")]
    groups = list(product.option_groups.order_by("position", "code").values_list("code", flat=True))
    return {"items": items, "groups": groups}


def _changed(actor: User, product: Product, before: Mapping[str, Any], summary: str = "") -> None:
    after = _bom_snapshot(product)
    Product.objects.filter(pk=product.pk).update(version=F("version") + 1, updated_at=timezone.now())
    audit_record(object_type="product", object_id=product.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=str(product), summary=summary,
                 changes={f"bom_{key}": [before[key], after[key]] for key in after if before[key] != after[key]})
    rules_version_bump()


# --- replace the whole structure (the tree editor's save, PUT /bom) -----------------------------------
@transaction.atomic
def bom_replace(*, actor: User, product_id: int, items: Sequence[Mapping[str, Any]],
                groups: Sequence[Mapping[str, Any]] | None = None) -> Product:
    """Replace a product's direct components (and, when `groups` is given, its option groups) at once;
    all or nothing. Items: {component_sku | component_id, quantity, required, priced, min_quantity,
    max_quantity, option_group (code), position}. Errors name `items[i].<field>` / `groups[i].<field>`;
    a component that would close a cycle is refused with the path."""
    product = product_for_action(actor, product_id, "edit")
    errors: list[FieldError] = []
    before = _bom_snapshot(product)
    group_rows: list[dict[str, Any]] = []
    if groups is not None:
        seen: set[str] = set()
        for index, raw in enumerate(groups):
            row = _group_fields(raw, f"groups[{index}].", errors)
            if row["code"] in seen:
                errors.append(FieldError(f"groups[{index}].code",
                                         _("选项组代码“%(code)s”重复。") % {"code": row["code"]},
                                         "duplicate"))
            seen.add(row["code"])
            group_rows.append(row)
        group_codes: dict[str, Any] = {row["code"]: row for row in group_rows}
    else:
        group_codes = {group.code: group for group in product.option_groups.all()}
    edges = product_edges()
    edges[product.pk] = set()  # the product's old components are being replaced
    planned: list[tuple[Sku, dict[str, Any]]] = []
    components: set[int] = set()
    for index, raw in enumerate(items):
        field = f"items[{index}]."
        sku = _component(raw, f"{field}component", errors)
        fields = _item_fields(raw, field, errors, group_codes, index)
        if sku is None:
            continue
        if sku.pk in components:
            errors.append(FieldError(f"{field}component", _("组件 %(code)s 重复。") % {"code": sku.code}, "duplicate"))
            continue
        components.add(sku.pk)
        path = cycle_path(edges, product.pk, sku.product_id)
        if path is not None:
            errors.append(_cycle_error(f"{field}component", path))
            continue
        edges[product.pk].add(sku.product_id)
        planned.append((sku, fields))
    raise_errors(errors, _("BOM 有误，没有保存任何修改。"))
    product.bom_items.all().delete()
    if groups is not None:
        existing = {group.code: group for group in product.option_groups.all()}
        for row in group_rows:
            group = existing.pop(row["code"], None)
            if group is None:
                group = BomOptionGroup.objects.create(product=product, **row)
            else:
                for name, value in row.items():
                    setattr(group, name, value)
                group.save()
            group_codes[row["code"]] = group
        BomOptionGroup.objects.filter(pk__in=[group.pk for group in existing.values()]).delete()
    BomItem.objects.bulk_create([
        BomItem(parent=product, component=sku, **{**fields, "option_group": group_codes[fields["option_group"]["code"]]
                                                  if isinstance(fields["option_group"], dict)
                                                  else fields["option_group"]})
        for sku, fields in planned])
    _changed(actor, product, before)
    product.refresh_from_db()
    return product


# --- one item at a time (the tree editor's row actions) ---------------------------------------------
def _groups_of(product: Product) -> dict[str, BomOptionGroup]:
    return {group.code: group for group in product.option_groups.all()}


@transaction.atomic
def bom_item_add(*, actor: User, product_id: int, data: Mapping[str, Any]) -> BomItem:
    product = product_for_action(actor, product_id, "edit")
    errors: list[FieldError] = []
    sku = _component(data, "component", errors)
    position = (product.bom_items.aggregate(last=Max("position"))["last"] or 0) + 1
    fields = _item_fields(data, "", errors, _groups_of(product), position)
    if sku is not None:
        if product.bom_items.filter(component=sku).exists():
            errors.append(FieldError("component", _("%(code)s 已是这个产品的组件。") % {"code": sku.code}, "duplicate"))
        else:
            path = cycle_path(product_edges(), product.pk, sku.product_id)
            if path is not None:
                errors.append(_cycle_error("component", path))
    raise_errors(errors, _("BOM 组件有误。"))
    assert sku is not None
    before = _bom_snapshot(product)
    item = BomItem.objects.create(parent=product, component=sku, **fields)
    _changed(actor, product, before)
    return item


def _item(product: Product, item_id: int) -> BomItem:
    item = BomItem.objects.select_related("component").filter(pk=item_id, parent=product).first()
    if item is None:
        raise NotFound(_("产品 %(product)s 的 BOM 中没有 ID 为 %(id)s 的组件。")
                       % {"product": product.code, "id": item_id})
    return item


@transaction.atomic
def bom_item_update(*, actor: User, product_id: int, item_id: int, data: Mapping[str, Any]) -> BomItem:
    """Change an item's quantity, flags, limits, option group or position (not its component)."""
    product = product_for_action(actor, product_id, "edit")
    item = _item(product, item_id)
    errors: list[FieldError] = []
    current = {"quantity": item.quantity, "required": item.required, "priced": item.priced,
               "min_quantity": item.min_quantity, "max_quantity": item.max_quantity,
               "option_group": item.option_group.code if item.option_group_id else "", "position": item.position}
    fields = _item_fields({**current, **data}, "", errors, _groups_of(product), item.position)
    raise_errors(errors, _("BOM 组件有误。"))
    before = _bom_snapshot(product)
    for name, value in fields.items():
        setattr(item, name, value)
    item.save()
    _changed(actor, product, before, summary=f"{item.component.code}")
    return item


@transaction.atomic
def bom_item_remove(*, actor: User, product_id: int, item_id: int) -> None:
    product = product_for_action(actor, product_id, "edit")
    item = _item(product, item_id)
    before = _bom_snapshot(product)
    item.delete()
    _changed(actor, product, before)


@transaction.atomic
def bom_item_move(*, actor: User, product_id: int, item_id: int, offset: int) -> None:
    """Move an item up (offset −1) or down (+1) among the product's items; positions renumbered 0…n."""
    product = product_for_action(actor, product_id, "edit")
    item = _item(product, item_id)
    ordered = list(product.bom_items.order_by("position", "id"))
    index = next(i for i, row in enumerate(ordered) if row.pk == item.pk)
    target = max(0, min(len(ordered) - 1, index + offset))
    if target == index:
        return
    before = _bom_snapshot(product)
    ordered.insert(target, ordered.pop(index))
    for position, row in enumerate(ordered):
        row.position = position
    BomItem.objects.bulk_update(ordered, ["position"])
    _changed(actor, product, before)


# --- option groups ------------------------------------------------------------------------------------
@transaction.atomic
def bom_group_create(*, actor: User, product_id: int, data: Mapping[str, Any]) -> BomOptionGroup:
    product = product_for_action(actor, product_id, "edit")
    errors: list[FieldError] = []
    row = _group_fields(data, "", errors)
    if row["code"] and product.option_groups.filter(code=row["code"]).exists():
        errors.append(FieldError("code", _("已有代码为“%(code)s”的选项组。") % {"code": row["code"]}, "duplicate"))
    raise_errors(errors, _("选项组有误。"))
    before = _bom_snapshot(product)
    group = BomOptionGroup.objects.create(product=product, **row)
    _changed(actor, product, before)
    return group


def _group(product: Product, group_id: int) -> BomOptionGroup:
    group = BomOptionGroup.objects.filter(pk=group_id, product=product).first()
    if group is None:
        raise NotFound(_("产品 %(product)s 没有 ID 为 %(id)s 的选项组。") % {"product": product.code, "id": group_id})
    return group


@transaction.atomic
def bom_group_update(*, actor: User, product_id: int, group_id: int, data: Mapping[str, Any]) -> BomOptionGroup:
    product = product_for_action(actor, product_id, "edit")
    group = _group(product, group_id)
    errors: list[FieldError] = []
    current = {"code": group.code, "name": group.name, "choice": group.choice, "required": group.required,
               "min_choices": group.min_choices, "max_choices": group.max_choices, "position": group.position}
    row = _group_fields({**current, **data}, "", errors)
    if row["code"] != group.code and product.option_groups.filter(code=row["code"]).exists():
        errors.append(FieldError("code", _("已有代码为“%(code)s”的选项组。") % {"code": row["code"]}, "duplicate"))
    raise_errors(errors, _("选项组有误。"))
    before = _bom_snapshot(product)
    for name, value in row.items():
        setattr(group, name, value)
    group.save()
    _changed(actor, product, before)
    return group


@transaction.atomic
def bom_group_delete(*, actor: User, product_id: int, group_id: int) -> None:
    """Delete an option group; its items stay as plain components (their group is cleared)."""
    product = product_for_action(actor, product_id, "edit")
    group = _group(product, group_id)
    before = _bom_snapshot(product)
    group.delete()
    _changed(actor, product, before)


# --- reading: the nested tree and its rolled-up cost -------------------------------------------------
@dataclass
class BomNode:
    """One component in the expanded tree. `quantity` is per unit of its parent; `in_default`: part
    of the default configuration; `unit_cost`: the SKU's cost plus its own BOM's rolled-up cost;
    `line_cost`: quantity × unit_cost (the node's share of its parent's rolled-up cost when in the
    default configuration)."""

    item_id: int
    sku_id: int
    sku_code: str
    sku_name: str
    product_id: int
    product_code: str
    quantity: Decimal
    required: bool
    priced: bool
    min_quantity: Decimal | None
    max_quantity: Decimal | None
    option_group: str | None
    position: int
    cost_price: Decimal
    in_default: bool = False
    cycle: bool = False
    unit_cost: Decimal = ZERO
    line_cost: Decimal = ZERO
    children: list[BomNode] = field(default_factory=list)


@dataclass
class BomTree:
    product_id: int
    product_code: str
    groups: dict[int, list[dict[str, Any]]]  # product id → its option groups
    children: list[BomNode]
    rolled_up_cost: Decimal


def _load_structures(root_id: int) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[dict[str, Any]]]]:
    """Items and groups of the root product and every product below it, level by level (one query
    for items and one for groups per level)."""
    items: dict[int, list[dict[str, Any]]] = {}
    groups: dict[int, list[dict[str, Any]]] = {}
    frontier = {root_id}
    while frontier:
        rows = list(BomItem.objects.filter(parent_id__in=frontier).order_by("position", "component__code").values(
            "id", "parent_id", "component_id", "component__code", "component__name", "component__product_id",
            "component__product__code", "component__cost_price", "quantity", "required", "priced", "min_quantity",
            "max_quantity", "option_group__code", "position"))
        for product_id in frontier:
            items[product_id] = []
            groups[product_id] = []
        for row in rows:
            items[row["parent_id"]].append(row)
        for group in BomOptionGroup.objects.filter(product_id__in=frontier).order_by("position", "code").values(
                "id", "product_id", "code", "name", "choice", "required", "min_choices", "max_choices", "position"):
            groups[group["product_id"]].append(group)
        frontier = {row["component__product_id"] for row in rows} - set(items)
    return items, groups


def _defaults(rows: Sequence[dict[str, Any]], groups: Sequence[dict[str, Any]]) -> set[int]:
    """Item ids of the default configuration of one structure."""
    chosen = {row["id"] for row in rows if row["option_group__code"] is None and row["required"]}
    for group in groups:
        needed = max(1 if group["required"] else 0, group["min_choices"])
        members = [row["id"] for row in rows if row["option_group__code"] == group["code"]]
        chosen.update(members[:needed])
    return chosen


def bom_tree(*, product: Product) -> BomTree:
    """The product's structure expanded to every depth, each node with its cost, and the rolled-up
    cost of the default configuration (see the module docstring)."""
    items, groups = _load_structures(product.pk)

    def build(product_id: int, path: tuple[int, ...]) -> tuple[list[BomNode], Decimal]:
        rows = items.get(product_id, [])
        defaults = _defaults(rows, groups.get(product_id, []))
        nodes: list[BomNode] = []
        total = ZERO
        for row in rows:
            node = BomNode(
                item_id=row["id"], sku_id=row["component_id"], sku_code=row["component__code"],
                sku_name=row["component__name"], product_id=row["component__product_id"],
                product_code=row["component__product__code"], quantity=row["quantity"], required=row["required"],
                priced=row["priced"], min_quantity=row["min_quantity"], max_quantity=row["max_quantity"],
                option_group=row["option_group__code"], position=row["position"],
                cost_price=row["component__cost_price"], in_default=row["id"] in defaults)
            below = ZERO
            if node.product_id in path:  # a stored cycle (refused on save; kept safe on read)
                node.cycle = True
            else:
                node.children, below = build(node.product_id, (*path, node.product_id))
            node.unit_cost = node.cost_price + below
            node.line_cost = node.quantity * node.unit_cost
            if node.in_default:
                total += node.line_cost
            nodes.append(node)
        return nodes, total

    children, cost = build(product.pk, (product.pk,))
    return BomTree(product_id=product.pk, product_code=product.code, groups=groups, children=children,
                   rolled_up_cost=cost)


def exact(value: Decimal) -> Decimal:
    """`value` without trailing zeros beyond 4 decimals (products of quantities and costs carry 8, 12 …
    places): the same number, shown as the cost columns are."""
    normal = value.normalize()
    return normal.quantize(Decimal("0.0001")) if normal.as_tuple().exponent > -4 else normal  # type: ignore[operator]


def bom_rolled_up_cost(*, product: Product) -> Decimal:
    """The rolled-up cost of one unit of the product's default configuration."""
    return bom_tree(product=product).rolled_up_cost
