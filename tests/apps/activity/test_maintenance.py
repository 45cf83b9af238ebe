"""SQLite's query-planner statistics are kept by the product: daily housekeeping, after a sizeable
import, at `l2c serve` start when never made. PostgreSQL keeps its own (nothing is run there)."""

from __future__ import annotations

import pytest
from django.db import connection

from l2c.apps.activity import maintenance
from l2c.apps.activity.jobs import job_enqueue
from l2c.apps.activity.models import JobRun
from tests.apps.activity.test_imports import commit, csv_bytes, upload

sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'")


def stat_tables() -> set[str]:
    if maintenance.planner_statistics_missing():
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1")
        return {row[0] for row in cursor.fetchall()}


def forget_statistics() -> None:
    with connection.cursor() as cursor:
        if not maintenance.planner_statistics_missing():
            cursor.execute("DELETE FROM sqlite_stat1")


@sqlite_only
def test_housekeeping_refreshes_the_statistics(org, make_account_rows, django_capture_on_commit_callbacks):
    from l2c.apps.activity.tasks import housekeeping

    forget_statistics()
    with django_capture_on_commit_callbacks(execute=True):
        run = job_enqueue(task=housekeeping, name="activity.housekeeping", unique_key="stats")

    run = JobRun.objects.get(pk=run.pk)
    assert run.status == "succeeded"
    assert "customers_account" in stat_tables()
    assert "refreshed the query planner's statistics (ANALYZE)" in run.log


@sqlite_only
@pytest.mark.parametrize(("threshold", "analysed"), [(2, True), (3, False)])
def test_an_import_of_enough_rows_refreshes_its_table(org, make_account_rows, monkeypatch, threshold, analysed,
                                                       django_capture_on_commit_callbacks):
    from l2c.apps.activity import imports

    monkeypatch.setattr(imports, "IMPORT_ANALYZE_ROWS", threshold)
    forget_statistics()
    job = upload(org["manager"], csv_bytes([["客户名称"], ["北京甲公司"], ["北京乙公司"]]))
    imports.import_validate(actor=org["manager"], import_id=job.pk)

    job = commit(org["manager"], job, django_capture_on_commit_callbacks)

    assert job.created_rows == 2
    assert ("customers_account" in stat_tables()) is analysed
    log = JobRun.objects.get(pk=job.job_run_id).log
    assert ("refreshed the query planner's statistics of the table (ANALYZE)" in log) is analysed


def test_postgresql_needs_no_statistics_run(db):
    if connection.vendor == "sqlite":
        assert maintenance.refresh_planner_statistics("customers_account") is True
    else:
        assert maintenance.refresh_planner_statistics() is False
        assert maintenance.planner_statistics_missing() is False


@pytest.fixture
def make_account_rows(org):
    """A few accounts, so ANALYZE has rows to describe."""
    from tests.conftest import make_account

    return [make_account(org["rep1"], f"北京统计{index}公司") for index in range(3)]
