"""The deterministic demo company (filled in below)."""

from __future__ import annotations

from typing import Any

DEMO_USERS: list[tuple[str, str, str]] = [
    ("admin", "系统管理员", "admin"),
    ("manager", "王经理", "sales manager (华北销售部)"),
    ("rep1", "李明", "sales rep (华北销售部)"),
    ("rep2", "张伟", "sales rep (华北销售部)"),
    ("rep3", "刘洋", "sales rep (华东销售部)"),
    ("presales", "陈静", "pre-sales (销售中心)"),
    ("marketing", "赵敏", "marketing (市场部)"),
    ("finance", "孙丽", "finance (财务部)"),
]


def demo_load(*, stdout: Any = None) -> None:
    raise NotImplementedError


def demo_load_if_empty(*, stdout: Any = None) -> bool:
    from l2c.apps.identity.models import User

    if User.objects.filter(username="admin").exists():
        return False
    demo_load(stdout=stdout)
    return True
