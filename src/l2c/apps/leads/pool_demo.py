"""Lead pools and assignment rules of the demo company (called by the demo loader): a department pool
for 华北, a company-wide 公共线索池, and three rules — band A → round robin among the 华北 reps (held
under the 华北 pool's rules), 上海/江苏/浙江 → rep3, everything else → 公共线索池."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from l2c.apps.identity.models import Department, User

from .assignment import assignment_rule_save
from .pools import lead_pool_save


def lead_pools_demo(*, users: Mapping[str, User], departments: Mapping[str, Department],
                    anchor: dt.datetime) -> dict[str, int]:
    """Create the demo lead pools and rules; returns their ids (north_pool, public_pool, rules count).
    `anchor` is the demo's "now" (kept for symmetry with the other demo modules: pools and rules
    carry no dates)."""
    admin = users["admin"]
    north = lead_pool_save(actor=admin, data={
        "name": "华北线索池", "description": "演示：华北销售部的线索池；14 天未跟进回收，提前 3 天提醒",
        "member_department_ids": [departments["north"].pk], "reclaim_after_days": 14, "reminder_days": 3,
        "max_held_per_rep": 100, "daily_claim_quota": 20, "reclaim_cooldown_days": 7})
    public = lead_pool_save(actor=admin, data={
        "name": "公共线索池", "description": "演示：未被规则分配的线索；全体销售可领取，30 天未跟进回收",
        "member_department_ids": [departments["center"].pk], "include_subdepartments": True,
        "reclaim_after_days": 30, "reminder_days": 5, "max_held_per_rep": 200, "daily_claim_quota": 30,
        "reclaim_cooldown_days": 7})
    assignment_rule_save(actor=admin, data={
        "name": "A 级线索 → 华北轮流", "action": "round_robin", "target_pool_id": north.pk,
        "user_ids": [users[name].pk for name in ("rep1", "rep2") if name in users],
        "conditions": [{"field": "score_band", "op": "eq", "value": "A"}]})
    assignment_rule_save(actor=admin, data={
        "name": "江浙沪 → 刘洋", "action": "user", "target_user_id": users["rep3"].pk,
        "conditions": [{"field": "province", "op": "in", "value": ["上海", "江苏", "浙江"]}]})
    assignment_rule_save(actor=admin, data={"name": "其余 → 公共线索池", "action": "pool", "target_pool_id": public.pk})
    return {"north_pool": north.pk, "public_pool": public.pk, "rules": 3}
