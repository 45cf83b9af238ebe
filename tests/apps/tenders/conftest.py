"""Helpers of the tender tests: notice items and subscriptions."""

from __future__ import annotations

from typing import Any

import pytest


def item(number: int, **fields: Any) -> dict[str, Any]:
    """A valid incoming notice; `number` makes its source notice id."""
    values: dict[str, Any] = {
        "source": "ccgp", "source_notice_id": f"N-{number}", "kind": "tender",
        "title": f"深圳市第一中学智慧校园建设项目{number}", "buyer_name": "深圳市第一中学", "province": "广东省",
        "city": "深圳市", "budget_amount": 350_000_00, "published_on": "2026-11-20",
        "content": "采购内容：服务器、交换机、网络安全设备。", "categories": ["信息化设备"],
    }
    values.update(fields)
    return values


@pytest.fixture
def subscribe() -> Any:
    from l2c.apps.tenders.services import tender_subscription_create

    def make(user: Any, keywords: Any = ("智慧校园",), **fields: Any) -> Any:
        return tender_subscription_create(actor=user, data={"name": "订阅", "keywords": list(keywords), **fields})

    return make
