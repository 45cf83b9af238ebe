"""Bulk writes and the SQLite full-text index (migration customers 0003).

Each insert into an account or contact table fires the FTS5 insert trigger, which costs ~70 µs a
row — more than the insert itself. Bulk paths (import commit, demo load) instead drop that trigger
inside their transaction, insert, add the new rows to the index with ONE set-based statement
(~4x faster) and re-create the trigger from its stored SQL before the transaction ends. SQLite
has a single writer and DDL is transactional, so no other connection ever sees the table without
its trigger or a row without its index entry. PostgreSQL's GIN expression index needs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection, models


@contextmanager
def search_index_deferred(model: type[models.Model], ids: Sequence[int]) -> Iterator[None]:
    """Within the current transaction: insert the rows `ids` of `model` in the body; they are added
    to the full-text index at the end in one statement instead of one trigger run each."""
    table = model._meta.db_table
    if connection.vendor != "sqlite" or not ids:
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("search_index_deferred needs a transaction: the trigger must never be missing outside it")
    trigger = f"{table}_fts_insert"
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [trigger])
        row = cursor.fetchone()
    if row is None:  # no full-text index on this table
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {trigger}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(row[0])  # the trigger comes back even when the body failed (its transaction rolls back)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table}_fts(rowid, search_text) "  # noqa: S608 (table names from the model)
            f"SELECT id, search_text FROM {table} WHERE id IN (SELECT value FROM json_each(%s))",
            [json.dumps(list(ids))])
