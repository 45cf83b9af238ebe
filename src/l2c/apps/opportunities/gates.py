"""What a stage may require of a deal (the field catalogue) and the facts of a deal the gate engine
reads. Field keys: the built-in ones below and `cf.<key>` for an opportunity custom field."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.engines import stages as gate_engine

from .models import ChainRole, Opportunity

FIELD_CATALOGUE = {
    "amount": gettext_lazy("金额"),
    "close_date": gettext_lazy("预计成交日期"),
    "next_step": gettext_lazy("下一步"),
    "description": gettext_lazy("备注"),
    "competitors": gettext_lazy("竞争对手"),
    "contacts": gettext_lazy("决策链联系人"),
    "decision_maker": gettext_lazy("决策者"),
    "champion": gettext_lazy("支持者（内线）"),
}
CUSTOM_PREFIX = "cf."


def field_label(key: str) -> str:
    if key.startswith(CUSTOM_PREFIX):
        from l2c.apps.activity.models import CustomField

        field = CustomField.objects.filter(object_type="opportunity", key=key[len(CUSTOM_PREFIX):]).first()
        return field.label if field is not None else key
    return str(FIELD_CATALOGUE.get(key, key))


def field_keys_problems(keys: object) -> list[str]:
    """Messages for field keys a stage cannot require (unknown keys, not a list)."""
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        return [_("必填字段必须是字段代码的列表。")]
    from l2c.apps.activity.models import CustomField

    custom = set(CustomField.objects.filter(object_type="opportunity").values_list("key", flat=True))
    unknown = [key for key in keys if key not in FIELD_CATALOGUE
               and not (key.startswith(CUSTOM_PREFIX) and key[len(CUSTOM_PREFIX):] in custom)]
    if unknown:
        return [_("未知的字段：%(keys)s。可选：%(allowed)s，或 cf.<自定义字段代码>。")
                % {"keys": ", ".join(unknown[:5]), "allowed": ", ".join(FIELD_CATALOGUE)}]
    return []


def filled_fields(deal: Opportunity, *, roles: Iterable[str], competitor_count: int) -> frozenset[str]:
    """The catalogue keys (and cf.<key>) the deal holds a value for."""
    role_set = set(roles)
    filled = set()
    if deal.amount > 0:
        filled.add("amount")
    for key in ("close_date", "next_step", "description"):
        value = getattr(deal, key)
        if value not in (None, ""):
            filled.add(key)
    if competitor_count:
        filled.add("competitors")
    if role_set:
        filled.add("contacts")
    if ChainRole.DECISION_MAKER in role_set:
        filled.add("decision_maker")
    if ChainRole.CHAMPION in role_set:
        filled.add("champion")
    for key, value in (deal.custom or {}).items():
        if value not in (None, "", []):
            filled.add(CUSTOM_PREFIX + key)
    return frozenset(filled)


def deal_facts(deal: Opportunity, *, lost_reason: str = "", lost_to_id: int | None = None) -> gate_engine.DealFacts:
    """Facts of a saved deal for the gate (three queries: chain roles, competitors, tasks done)."""
    roles = list(deal.chain.values_list("role", flat=True))
    competitor_count = deal.competitors.count()
    done = frozenset(deal.tasks_done.values_list("task_id", flat=True))
    return gate_engine.DealFacts(filled=filled_fields(deal, roles=roles, competitor_count=competitor_count),
                                 done_tasks=done, lost_reason=bool(lost_reason or deal.lost_reason),
                                 lost_competitor=lost_to_id is not None or deal.lost_to_id is not None)
