"""Database upkeep the product does itself: query-planner statistics.

SQLite has no autovacuum/autoanalyze: without `sqlite_stat1` its planner takes every indexed
condition for selective and, at a million accounts, a sales manager's list collects every visible row
(~1 s) instead of walking the sort index (~1 ms). ANALYZE costs ~2 s per million rows, so it runs
after each sizeable import, daily in housekeeping, and at `l2c serve` start when never run.
PostgreSQL's autovacuum keeps its statistics itself.
"""

from __future__ import annotations

from django.db import connection

# An import this large (rows) re-analyses its table; smaller ones wait for the daily run.
IMPORT_ANALYZE_ROWS = 1_000


def refresh_planner_statistics(table: str | None = None) -> bool:
    """ANALYZE one table (or all) on SQLite; False where the database keeps its own statistics."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        if table is None:
            cursor.execute("ANALYZE")
        else:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return True


def planner_statistics_missing() -> bool:
    """Whether SQLite has never been analysed (no sqlite_stat1 table)."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        return cursor.fetchone()[0] == 0
