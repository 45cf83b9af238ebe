"""Risk events of the demo company: a few per sales owner, so that the risk badge, the account's
risk panel, the risk event list and the alerts in the inbox show something after `make run`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from l2c.apps.identity.models import User

from .models import Account
from .risk import IngestResult, risk_events_ingest

# (owner username, nth account of that owner, kind, title, days before today, amount in fen or None)
DEMO_RISK_EVENTS: tuple[tuple[str, int, str, str, int, int | None], ...] = (
    ("rep1", 0, "dishonest_debtor", "被列入失信被执行人名单", 12, 56_000_000),
    ("rep1", 0, "lawsuit", "买卖合同纠纷（被告）", 40, 12_800_000),
    ("rep1", 1, "overdue_payment", "应收账款逾期 45 天", 3, 3_650_000),
    ("rep1", 2, "registration_change", "法定代表人变更", 20, None),
    ("rep2", 0, "enforcement", "被列为被执行人", 8, 21_000_000),
    ("rep2", 1, "lawsuit", "劳动争议纠纷", 25, 480_000),
    ("rep3", 0, "abnormal_operation", "列入经营异常名录：未按时公示年报", 15, None),
    ("manager", 0, "registration_change", "注册资本变更", 30, None),
)


def risk_events_demo(*, accounts: Sequence[Account], actor: User, today: dt.date) -> IngestResult:
    """Ingest the demo risk events (as the API would: graded by the rules, alerts sent, audited)."""
    by_owner: dict[int, list[Account]] = {}
    for account in accounts:
        if account.owner_id is not None:
            by_owner.setdefault(account.owner_id, []).append(account)
    owners = dict(User.objects.filter(username__in={row[0] for row in DEMO_RISK_EVENTS}).values_list("username", "pk"))
    events = []
    for number, (username, nth, kind, title, days_ago, amount) in enumerate(DEMO_RISK_EVENTS, start=1):
        owned = by_owner.get(owners.get(username, 0), [])
        if len(owned) <= nth:
            continue
        events.append({"source": "demo", "event_id": f"DEMO-{number:04d}", "account_id": owned[nth].pk, "kind": kind,
                       "title": title, "occurred_on": today - dt.timedelta(days=days_ago), "amount_minor": amount,
                       "currency": "CNY"})
    return risk_events_ingest(actor=actor, events=events) if events else IngestResult([])
