"""Transactions of the demo company over the past two years, then one RFM computation, so the
account's RFM panel, the segment filter and the export show something after `make run`.

Deterministic: the same accounts get the same transactions relative to `today` on every run.
Active customers buy often and recently, dormant ones stopped a year or more ago, lost ones long
ago; about half of the potential customers have a single trial order. A few orders are in USD
(which the default CNY settings leave out of RFM)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from l2c.apps.activity.imports import rows_insert
from l2c.apps.identity.models import User

from .models import Account, AccountStatus, CustomerTransaction, TransactionSource
from .rfm import RecomputeResult, rfm_recompute

SEED = 2026
HISTORY_DAYS = 730
# status → (share of accounts with transactions, (min, max) orders, (latest, earliest) days ago)
PROFILES: dict[str, tuple[float, tuple[int, int], tuple[int, int]]] = {
    AccountStatus.ACTIVE: (0.95, (2, 24), (0, HISTORY_DAYS)),
    AccountStatus.DORMANT: (0.9, (1, 8), (300, HISTORY_DAYS)),
    AccountStatus.LOST: (0.8, (1, 5), (420, HISTORY_DAYS)),
    AccountStatus.POTENTIAL: (0.45, (1, 1), (0, 200)),
}


def _amount_minor(rng: random.Random, level: str) -> int:
    """An order between ¥2,000 and about ¥800,000, larger for important accounts; whole yuan mostly."""
    scale = {"key": 8.0, "important": 3.0}.get(level, 1.0)
    yuan = min(800_000, 2_000 + rng.lognormvariate(9.6, 0.9) * scale)
    cents = 0 if rng.random() < 0.7 else rng.randrange(100)
    return int(yuan) * 100 + cents


def rfm_transactions_demo(*, accounts: Sequence[Account], actor: User, today: dt.date) -> int:
    """Insert the demo transactions (one set-based insert); returns their number."""
    rng = random.Random(SEED)  # noqa: S311 (demo data, not secrets)
    rows = []
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    for account in sorted(accounts, key=lambda item: item.pk):
        share, (low, high), (latest, earliest) = PROFILES.get(account.status, PROFILES[AccountStatus.POTENTIAL])
        if rng.random() >= share:
            continue
        count = rng.randint(low, high)
        days = sorted({rng.randint(latest, earliest) for _ in range(count)})
        for number, days_ago in enumerate(days, start=1):
            day = today - dt.timedelta(days=days_ago)
            currency = "USD" if rng.random() < 0.02 else "CNY"
            rows.append((account.pk, connection.ops.adapt_datefield_value(day), _amount_minor(rng, account.level),
                         currency, f"SO-{day:%Y%m}-{account.pk:05d}-{number:02d}", TransactionSource.IMPORT.value,
                         "", actor.pk, stamp))
    meta = CustomerTransaction._meta
    columns = [meta.get_field(name).column for name in ("account", "occurred_on", "amount_minor", "currency",
                                                         "reference", "source", "note", "created_by",
                                                         "created_at")]
    rows_insert(CustomerTransaction, columns, rows)
    return len(rows)


def rfm_demo(*, accounts: Sequence[Account], actor: User, today: dt.date) -> tuple[int, RecomputeResult]:
    """The demo transactions and the first RFM computation as of `today`."""
    count = rfm_transactions_demo(accounts=accounts, actor=actor, today=today)
    return count, rfm_recompute(as_of=today)
