"""Helpers of the forecast tests: deals written straight to the tables (the forecast reads them; the
stage gate and its services are tested elsewhere), and a seeded closed history of known structure."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def stage(name: str, code: str = "project") -> Any:
    from l2c.apps.opportunities.models import Stage

    return Stage.objects.get(process__code=code, name=name)


def at(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=SHANGHAI)


def deal(owner: Any, account: Any, stage_name: str, *, amount: int = 0, close_date: dt.date | None = None,
         closed_at: dt.datetime | None = None, currency: str = "CNY", win_probability: int | None = None,
         source: str = "stage", name: str = "商机") -> Any:
    """A deal in `stage_name` of the project process; a won/lost stage closes it at `closed_at`."""
    from l2c.apps.opportunities.models import Opportunity, StageHistory

    target = stage(stage_name)
    status = {"open": "open", "won": "won", "lost": "lost"}[target.kind]
    entered = closed_at or timezone.now()
    row = Opportunity.objects.create(
        name=name, account=account, owner=owner, department_id=owner.department_id, amount=amount,
        currency=currency, close_date=close_date, process=target.process, stage=target, status=status,
        stage_entered_at=entered, closed_at=closed_at if status != "open" else None,
        lost_reason="price" if status == "lost" else "",
        win_probability=win_probability if win_probability is not None else None,
        probability_source=source if win_probability is not None else "")
    StageHistory.objects.create(opportunity=row, stage=target, entered_at=entered)
    return row


def close(row: Any, stage_name: str, closed_at: dt.datetime) -> None:
    """Move a deal to its won/lost stage at `closed_at`, with the history the service would write."""
    from l2c.apps.opportunities.models import Opportunity, StageHistory

    target = stage(stage_name)
    StageHistory.objects.filter(opportunity=row, exited_at__isnull=True).update(exited_at=closed_at)
    StageHistory.objects.create(opportunity=row, stage=target, entered_at=closed_at)
    Opportunity.objects.filter(pk=row.pk).update(stage=target, status=target.kind, closed_at=closed_at,
                                                 stage_entered_at=closed_at,
                                                 lost_reason="price" if target.kind == "lost" else "")


# The truth of the seeded history: the win rate depends on the rep's "need" answer only (5 % … 90 %),
# not on the stage the deal reached, so the stage probability is a poor forecast and a model that
# reads the health dimensions must beat it.
WIN_RATE_BY_NEED = (0.05, 0.2, 0.45, 0.7, 0.9)


def seed_history(owner: Any, account: Any, count: int, seed: int = 7) -> None:
    from l2c.apps.opportunities.models import HealthAnswer, Opportunity, StageHistory

    rng = random.Random(seed)
    open_stages = [stage(name) for name in ("初步接洽", "需求确认", "方案报价", "商务谈判")]
    won, lost = stage("赢单"), stage("输单")
    now = timezone.now()
    plans = []
    for _index in range(count):
        need = rng.randrange(5)
        is_won = rng.random() < WIN_RATE_BY_NEED[need]
        closed_at = now - dt.timedelta(days=rng.randint(5, 400), hours=rng.randint(0, 23))
        plans.append((need, is_won, closed_at, rng.choice(open_stages), rng.randint(1, 60)))
    deals = Opportunity.objects.bulk_create([
        Opportunity(name=f"历史商机{index}", account=account, owner=owner, department_id=owner.department_id,
                    amount=rng.randint(1, 500) * 100_000, close_date=closed_at.date(), process=won.process,
                    stage=won if is_won else lost, status="won" if is_won else "lost", stage_entered_at=closed_at,
                    closed_at=closed_at, lost_reason="" if is_won else "price")
        for index, (_need, is_won, closed_at, _stage, _days) in enumerate(plans)])
    history = []
    answers = []
    for row, (need, is_won, closed_at, last_open, days) in zip(deals, plans, strict=True):
        history.append(StageHistory(opportunity=row, stage=last_open, entered_at=closed_at - dt.timedelta(days=days),
                                    exited_at=closed_at))
        history.append(StageHistory(opportunity=row, stage=won if is_won else lost, entered_at=closed_at))
        answers.append(HealthAnswer(opportunity=row, dimension="need", level=need,
                                    answered_at=closed_at - dt.timedelta(days=1)))
    StageHistory.objects.bulk_create(history)
    HealthAnswer.objects.bulk_create(answers)
