"""Demo leads: ~120 prospects of the demo company in every status, from the website, campaigns,
tender notices and imports; some owned by reps, some routed by the assignment rules into pools;
a few qualified and converted. Made through the services, so keys, audit, routing and scores are
what a user would get. Deterministic (seeded)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from l2c.apps.identity import access
from l2c.apps.identity.models import User

from . import conversion, services
from .models import Lead, LeadStatus

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英",
         "华", "平"]
TITLES = ["IT 经理", "信息中心主任", "采购经理", "CTO", "运维主管", "财务总监", "总经理", "项目经理", "数据负责人"]
REGIONS = [("浙江", "杭州"), ("江苏", "南京"), ("江苏", "苏州"), ("上海", "上海"), ("北京", "北京"), ("广东", "深圳"),
           ("广东", "广州"), ("山东", "济南"), ("四川", "成都"), ("湖北", "武汉")]
COMPANY_WORDS = ["云帆", "数科", "智造", "恒通", "启明", "远景", "华信", "新峰", "锐达", "博远", "天工", "联创"]
COMPANY_TAILS = ["信息技术有限公司", "科技股份有限公司", "智能制造有限公司", "软件有限公司", "医疗器械有限公司"]
INDUSTRIES = ["I", "C", "F", "Q", "P", "M", "J"]
SIZES = ["small", "medium", "large", "enterprise", "micro"]
SOURCES = ["website", "website", "referral", "cold_call", "partner", "advertising", "campaign"]


def _person(rng: random.Random, index: int) -> dict[str, Any]:
    province, city = rng.choice(REGIONS)
    company = f"{city}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_TAILS)}"
    return {
        "name": rng.choice(SURNAMES) + rng.choice(GIVEN), "company": company, "title": rng.choice(TITLES),
        "mobile": f"139{index:08d}", "email": f"lead{index:03d}@demo-prospect.example.com",
        "province": province, "city": city, "industry": rng.choice(INDUSTRIES), "size": rng.choice(SIZES),
        "source": rng.choice(SOURCES),
    }


ICP_RULES = [  # the demo company's ideal customer profile (属性评分)
    {"name": "软件与制造业", "field": "industry", "op": "in", "value": ["I", "C"], "points": 30},
    {"name": "中大型企业", "field": "size", "op": "in", "value": ["medium", "large", "enterprise"], "points": 25},
    {"name": "决策层职务", "field": "title", "op": "contains", "value": "总", "points": 15},
    {"name": "留有邮箱", "field": "email", "op": "is_not_empty", "value": "", "points": 10},
    {"name": "重点区域", "field": "province", "op": "in", "value": ["上海", "江苏", "浙江", "北京", "广东"],
     "points": 10},
]
BEHAVIOUR = ["website_visit", "website_visit", "page_view", "page_view", "email_open", "email_click", "form_fill",
             "content_download", "demo_request"]


def _ideal_customer_profile(admin: User) -> None:
    from .scoring import attribute_rule_create

    for position, rule in enumerate(ICP_RULES):
        attribute_rule_create(actor=admin, data={**rule, "position": position})


def _behaviour(rng: random.Random, actor: User, leads: Sequence[Lead], anchor: dt.datetime) -> int:
    """Website, e-mail and content events for two leads in three over the last 60 days, ingested like
    the events API does (idempotent ids; the leads are rescored)."""
    from .scoring import lead_events_ingest

    events = []
    for lead in leads:
        if rng.random() < 0.34:
            continue
        for number in range(rng.randint(1, 8)):
            when = anchor - dt.timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 600))
            events.append({"event_id": f"demo-{lead.pk}-{number}", "lead_id": lead.pk, "kind": rng.choice(BEHAVIOUR),
                           "occurred_at": when, "properties": {}})
    for start in range(0, len(events), 1000):
        lead_events_ingest(actor=actor, events=events[start:start + 1000], now=anchor)
    return len(events)


def leads_demo(*, users: dict[str, User], anchor: dt.datetime, accounts: Sequence[Any] = (),
               campaign_ids: Sequence[int] = (), tender_notice_ids: Sequence[int] = ()) -> dict[str, int]:
    """Create the demo leads; returns counts by how they came in. Converted leads join existing
    `accounts` of their owner (the company is already a customer), so the demo's account base
    stays the curated one."""
    rng = random.Random(20261127)  # noqa: S311 - demo data, not secrets
    reps = [users[name] for name in ("rep1", "rep2", "rep3") if name in users]
    marketing = users["marketing"]
    _ideal_customer_profile(users["admin"])
    counts = {"owned": 0, "captured": 0, "qualified": 0, "converted": 0, "disqualified": 0}
    created: list[Lead] = []
    for index in range(1, 121):
        data = _person(rng, index)
        if campaign_ids and data["source"] == "campaign":
            data["campaign_id"] = rng.choice(list(campaign_ids))
        if index % 3 == 0:
            # Captured by marketing (registrations, web forms): routed by the assignment rules.
            result = services.lead_capture(actor=marketing, data={k: v for k, v in data.items() if k != "campaign_id"},
                                           via="api", campaign_id=data.get("campaign_id"))
            created.append(result.lead)
            counts["captured"] += 1
        else:
            owner = reps[counts["owned"] % len(reps)]  # every rep gets a share
            created.append(services.lead_create(actor=owner, data={**data, "confirm_duplicates": True}))
            counts["owned"] += 1
    for notice_id in list(tender_notice_ids)[:3]:
        from .tender_leads import lead_from_tender_notice

        created.append(lead_from_tender_notice(actor=reps[0], notice_id=notice_id).lead)
    owned = [lead for lead in created if lead.owner_id]
    converted_into: set[int] = set()
    for position, lead in enumerate(owned):
        owner = lead.owner
        assert owner is not None
        step = position % 10
        if step in (1, 2, 3):
            services.lead_update(actor=owner, lead_id=lead.pk, data={"status": LeadStatus.CONTACTED})
        elif step in (4, 5):
            services.lead_update(actor=owner, lead_id=lead.pk, data={"status": LeadStatus.QUALIFIED})
            counts["qualified"] += 1
        elif step == 6:
            reason = rng.choice(["预算不足", "无采购计划", "联系方式无效"])
            services.lead_update(actor=owner, lead_id=lead.pk,
                                 data={"status": LeadStatus.DISQUALIFIED, "disqualified_reason": reason})
            counts["disqualified"] += 1
        elif step == 7 and counts["converted"] < 6:
            # The account as it is now (the pool demo may have released it), held by this owner.
            target = access.visible(owner, "account").filter(
                pk__in=[account.pk for account in accounts], owner=owner).exclude(
                pk__in=converted_into).order_by("pk").first()
            if target is None:
                continue
            converted_into.add(target.pk)
            services.lead_update(actor=owner, lead_id=lead.pk, data={"status": LeadStatus.QUALIFIED,
                                                                     "company": target.name})
            conversion.lead_convert(actor=owner, lead_id=lead.pk, account_id=target.pk, confirm_duplicates=True)
            counts["converted"] += 1
    counts["events"] = _behaviour(rng, marketing, [lead for lead in created if lead.status != LeadStatus.CONVERTED],
                                  anchor)
    # Spread creation times over the last 90 days, so lists, ages and reclaim deadlines look lived-in.
    for lead in created:
        days = rng.randint(0, 90)
        created_at = anchor - dt.timedelta(days=days, hours=rng.randint(0, 20))
        Lead.objects.filter(pk=lead.pk).update(created_at=created_at,
                                               updated_at=created_at + dt.timedelta(days=rng.randint(0, days)))
    return counts
