"""Browser input of the pricing pages shaped into the `data` the services take. The services' cleaners
decide; their field errors are shown next to the fields (`errors_by_field`). No rules live here.

Promotion params are edited through one field per param of the chosen kind (`PARAM_FIELDS`); the list
params take one line per item: bundle "SKU,数量", tiered spend "门槛,减免"."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from l2c.kernel.errors import FieldError

from .models import PromotionKind

MAX_TIER_ROWS = 20
SPLIT = re.compile(r"[\n,，;；、]")


@dataclass(frozen=True)
class ParamField:
    """One param of a promotion kind: `kind` is decimal, integer, boolean, sku, items or tiers."""

    name: str
    label: Any
    kind: str = "decimal"
    required: bool = True
    help: Any = ""


_PERCENT = ParamField("percent", _("折扣 %（如 15 表示减 15%）"))
PARAM_FIELDS: dict[str, list[ParamField]] = {
    PromotionKind.PERCENT_OFF: [_PERCENT],
    PromotionKind.AMOUNT_OFF: [ParamField("amount", _("每件立减（元）"))],
    PromotionKind.FIXED_PRICE: [ParamField("price", _("促销单价（元）"))],
    PromotionKind.FLASH_PRICE: [ParamField("price", _("秒杀单价（元）"), help=_("必须填写开始和结束时间。"))],
    PromotionKind.GROUP_PRICE: [ParamField("price", _("会员价（元）"), required=False),
                                ParamField("percent", _("或折扣 %"), required=False,
                                           help=_("会员价与折扣二选一；必须指定适用客户组。"))],
    PromotionKind.QUANTITY_DISCOUNT: [ParamField("min_quantity", _("起订数量")), _PERCENT],
    PromotionKind.BUY_N_GET_M: [ParamField("n", _("买 N 件"), "integer"), ParamField("m", _("送 M 件"), "integer")],
    PromotionKind.NTH_ITEM: [ParamField("n", _("第 N 件"), "integer", help=_("第二件半价：N=2，折扣 50%。")), _PERCENT],
    PromotionKind.GIFT: [ParamField("min_quantity", _("购买满（件）")), ParamField("gift_sku", _("赠品 SKU"), "sku"),
                         ParamField("gift_quantity", _("赠送数量"), required=False),
                         ParamField("repeat", _("按倍数重复赠送"), "boolean", required=False)],
    PromotionKind.FREE_ACCESSORY: [ParamField("accessory_sku", _("赠送配件/服务 SKU"), "sku"),
                                   ParamField("quantity_per_unit", _("每件赠送数量"), required=False)],
    PromotionKind.BUNDLE: [ParamField("items", _("组合商品"), "items", help=_("每行一个：SKU 编码,数量")),
                           ParamField("price", _("组合价（元）"))],
    PromotionKind.SPEND_SAVE: [ParamField("threshold", _("满（元）")), ParamField("amount", _("减（元）")),
                               ParamField("repeat", _("每满重复减"), "boolean", required=False)],
    PromotionKind.SPEND_PERCENT: [ParamField("threshold", _("满（元）")), _PERCENT],
    PromotionKind.TIERED_SPEND: [ParamField("tiers", _("阶梯"), "tiers", help=_("每行一档：门槛,减免，如 1000,100"))],
    PromotionKind.COUPON: [ParamField("amount", _("立减（元）"), required=False),
                           ParamField("percent", _("或折扣 %"), required=False, help=_("金额与折扣二选一。")),
                           ParamField("threshold", _("使用门槛（元）"), required=False)],
}


def _lines(raw: str) -> list[list[str]]:
    return [[part.strip() for part in re.split(r"[,，:：xX×\t]", line) if part.strip()]
            for line in (raw or "").splitlines() if line.strip()]


def params_from_post(kind: str, post: Mapping[str, Any]) -> dict[str, Any]:
    """The params dict of `kind` from the editor's `param_<name>` inputs (blank optional ones left out)."""
    params: dict[str, Any] = {}
    for spec in PARAM_FIELDS.get(kind, []):
        raw = post.get(f"param_{spec.name}")
        if spec.kind == "boolean":
            params[spec.name] = bool(raw)
            continue
        text = str(raw or "").strip()
        if spec.kind == "items":
            params[spec.name] = [{"sku": parts[0], "quantity": parts[1] if len(parts) > 1 else 1}
                                 for parts in _lines(text)]
        elif spec.kind == "tiers":
            params[spec.name] = [{"threshold": parts[0], "amount": parts[1] if len(parts) > 1 else ""}
                                 for parts in _lines(text)]
        elif text or spec.required:
            params[spec.name] = text
    return {name: value for name, value in params.items() if value not in ([], "") or name in {
        spec.name for spec in PARAM_FIELDS.get(kind, []) if spec.required}}


def params_display(kind: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The editor's input values for stored params."""
    values: dict[str, str] = {}
    for spec in PARAM_FIELDS.get(kind, []):
        value = params.get(spec.name)
        if spec.kind == "items" and isinstance(value, list):
            values[spec.name] = "\n".join(f"{item.get('sku', '')},{item.get('quantity', 1)}" for item in value
                                          if isinstance(item, Mapping))
        elif spec.kind == "tiers" and isinstance(value, list):
            values[spec.name] = "\n".join(f"{item.get('threshold', '')},{item.get('amount', '')}" for item in value
                                          if isinstance(item, Mapping))
        elif spec.kind == "boolean":
            values[spec.name] = "1" if value else ""
        else:
            values[spec.name] = "" if value is None else str(value)
    return values


def split_list(raw: Any) -> list[str]:
    return [part.strip() for part in SPLIT.split(str(raw or "")) if part.strip()]


def groups_from_post(post: Any, prefix: str) -> list[str]:
    """Customer groups from the level checkboxes and the tag text box."""
    levels = [f"level:{level}" for level in post.getlist(f"{prefix}levels")]
    tags = [f"tag:{tag}" for tag in split_list(post.get(f"{prefix}tags"))]
    return levels + tags


def scope_from_post(post: Any, prefix: str) -> dict[str, Any]:
    """The four customer dimensions ("scope_" of books, "eligible_" of promotions)."""
    return {f"{prefix}accounts": split_list(post.get(f"{prefix}accounts")),
            f"{prefix}groups": groups_from_post(post, prefix),
            f"{prefix}departments": post.getlist(f"{prefix}departments"),
            f"{prefix}regions": split_list(post.get(f"{prefix}regions"))}


def scope_display(record: Any, prefix: str) -> dict[str, Any]:
    groups = list(getattr(record, f"{prefix}groups") or [])
    return {"accounts": ", ".join(str(pk) for pk in getattr(record, f"{prefix}accounts") or []),
            "levels": [group.removeprefix("level:") for group in groups if group.startswith("level:")],
            "tags": ", ".join(group.removeprefix("tag:") for group in groups if group.startswith("tag:")),
            "departments": [int(pk) for pk in getattr(record, f"{prefix}departments") or []],
            "regions": ", ".join(getattr(record, f"{prefix}regions") or [])}


def book_from_post(post: Any) -> dict[str, Any]:
    return {"code": (post.get("code") or "").strip(), "name": (post.get("name") or "").strip(),
            "currency": (post.get("currency") or "CNY").strip().upper(), "is_base": bool(post.get("is_base")),
            "priority": (post.get("priority") or "0").strip(), "valid_from": post.get("valid_from") or None,
            "valid_to": post.get("valid_to") or None, "description": post.get("description") or "",
            **scope_from_post(post, "scope_")}


def tier_rows_from_post(post: Any) -> list[dict[str, str]]:
    count = min(int(post.get("tier_count") or 0) if str(post.get("tier_count") or "").isdigit() else 0,
                MAX_TIER_ROWS)
    rows = []
    for index in range(count):
        if post.get(f"tiers-{index}-remove"):
            continue
        row = {name: (post.get(f"tiers-{index}-{name}") or "").strip()
               for name in ("min_quantity", "unit_price", "flat_fee")}
        rows.append(row)
    return rows


def entry_from_post(post: Any) -> dict[str, Any]:
    tiers = [row for row in tier_rows_from_post(post) if row["min_quantity"] or row["unit_price"]]
    return {"method": post.get("method") or "fixed", "unit_price": post.get("unit_price"),
            "block_size": post.get("block_size"), "markup_percent": post.get("markup_percent"),
            "percent": post.get("percent"), "percent_of": split_list(post.get("percent_of")),
            "tier_mode": post.get("tier_mode") or "none", "floor_price": post.get("floor_price"),
            "tiers": [{**row, "flat_fee": row["flat_fee"] or "0"} for row in tiers]}


def errors_by_field(errors: Sequence[FieldError]) -> dict[str, list[str]]:
    """Field errors keyed by the first part of the field ("tiers.1.unit_price" → "tiers.1.unit_price" and
    also under "tiers.1"), for showing next to inputs and rows."""
    result: dict[str, list[str]] = {}
    for error in errors:
        result.setdefault(error.field, []).append(error.message)
        parts = error.field.split(".")
        if len(parts) > 2:
            result.setdefault(".".join(parts[:2]), []).append(error.message)
    return result
