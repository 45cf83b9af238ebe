"""Every periodic job, declared in one place. `l2c scheduler` enqueues each occurrence once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str  # dotted path of a Django task taking one JobRun id
    every: timedelta
    # Occurrences start `offset` after each multiple of `every` since the Unix epoch (UTC).
    offset: timedelta = timedelta(0)


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("activity.todo_reminders", "l2c.apps.activity.tasks.todo_reminders", timedelta(minutes=5)),
    PeriodicJob("activity.housekeeping", "l2c.apps.activity.tasks.housekeeping", timedelta(days=1)),
    # Public pools: reclaim overdue held accounts and send reminders.
    PeriodicJob("customers.pool_reclaim", "l2c.apps.customers.pool_tasks.pool_reclaim", timedelta(hours=1)),
    # Lead pools: reclaim held leads left untouched and remind their holders, hourly at :30.
    PeriodicJob("leads.pool_reclaim", "l2c.apps.leads.pool_tasks.lead_pools_reclaim_task", timedelta(hours=1),
                offset=timedelta(minutes=30)),
    # Nightly at 02:00 Asia/Shanghai (18:00 UTC).
    PeriodicJob("customers.rfm_recompute", "l2c.apps.customers.rfm_tasks.rfm_recompute_task", timedelta(days=1),
                offset=timedelta(hours=18)),
    # Risk levels of accounts checked against their open risk events, nightly at 01:30 Asia/Shanghai.
    PeriodicJob("customers.risk_levels_check", "l2c.apps.customers.risk_tasks.risk_levels_check", timedelta(days=1),
                offset=timedelta(hours=17, minutes=30)),
    # Batch duplicate detection of accounts, nightly at 03:00 Asia/Shanghai (19:00 UTC).
    PeriodicJob("customers.duplicates_batch", "l2c.apps.customers.dedup_tasks.duplicates_batch", timedelta(days=1),
                offset=timedelta(hours=19)),
    # Tender notices not matched yet (a lost enqueue, a worker restart): matched within 10 minutes.
    PeriodicJob("tenders.notices_match", "l2c.apps.tenders.tasks.tender_notices_match_task", timedelta(minutes=10)),
    # Lead scoring, weekly on Sunday night Asia/Shanghai (epoch + 2 days = Saturday UTC): retrain
    # the predicted model at 03:30, then recalibrate the weights at 04:30.
    PeriodicJob("leads.scoring_retrain", "l2c.apps.leads.scoring_tasks.scoring_retrain_task", timedelta(days=7),
                offset=timedelta(days=2, hours=19, minutes=30)),
    PeriodicJob("leads.scoring_recalibrate", "l2c.apps.leads.scoring_tasks.scoring_recalibrate_task",
                timedelta(days=7), offset=timedelta(days=2, hours=20, minutes=30)),
    # Forecast: nightly rescore of open deals at 02:30 Asia/Shanghai (and a pipeline snapshot on the
    # 1st of a month); weekly snapshot + model training on Sunday night at 05:00.
    # Deal health, nightly at 01:00 Asia/Shanghai (17:00 UTC): days in stage, close dates and days
    # without activity move with the calendar.
    PeriodicJob("opportunities.health_refresh", "l2c.apps.opportunities.tasks.health_refresh_task",
                timedelta(days=1), offset=timedelta(hours=17)),
    PeriodicJob("opportunities.forecast_nightly", "l2c.apps.opportunities.forecast_tasks.forecast_nightly_task",
                timedelta(days=1), offset=timedelta(hours=18, minutes=30)),
    PeriodicJob("opportunities.forecast_weekly", "l2c.apps.opportunities.forecast_tasks.forecast_weekly_task",
                timedelta(days=7), offset=timedelta(days=2, hours=21)),
)
