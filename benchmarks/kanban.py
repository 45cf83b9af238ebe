"""Kanban column: the first page of a stage holding N deals (default 10,000), server time.

A company of 50 users (benchmarks/_common.py) with 5,000 accounts and N + 3N deals: N of them in
one open stage ("需求确认" of the project process), the rest spread over the other stages. Timed
in-process with django.test.Client and a Bearer token (middleware + auth + visibility + keyset page
+ column totals + serialisation) for the sales manager heading the company (subtree scope) and for
one rep (own scope), against the raw SQL of the same page query run on the same connection.

Target (issue 5): first page of a column of 10,000 deals ≤ 20 ms server time (p50).

    .venv/bin/python benchmarks/kanban.py [--n 10000] [--requests 200]
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from typing import Any

from _common import (
    SEED,
    AccountFaker,
    account_row,
    arguments,
    bench_database,
    emit,
    insert_accounts,
    log,
    machine,
    ms,
    organisation,
    percentile,
)

TARGET_MS = 20.0
ACCOUNTS = 5_000


def build(n: int) -> tuple[Any, Any]:
    from django.utils import timezone

    from l2c.apps.customers.models import Account
    from l2c.apps.opportunities.models import Opportunity, SalesProcess, StageKind

    org = organisation()
    faker = AccountFaker(SEED)
    owners = org.owners
    insert_accounts((account_row(faker.account(), owner=owners[index % len(owners)], created_by=org.admin)
                     for index in range(ACCOUNTS)), total=ACCOUNTS)
    account_owner = list(Account.objects.values_list("pk", "owner_id"))
    process = SalesProcess.objects.get(code="project")
    stages = list(process.stages.order_by("position"))
    target = next(stage for stage in stages if stage.name == "需求确认")
    others = [stage for stage in stages if stage.pk != target.pk]
    departments = {user.pk: user.department_id for user in owners}
    rng = random.Random(SEED)
    now = timezone.now()
    total = 4 * n
    batch: list[Opportunity] = []
    for index in range(total):
        account_id, owner_id = account_owner[rng.randrange(len(account_owner))]
        stage = target if index < n else others[index % len(others)]
        status = {StageKind.OPEN: "open", StageKind.WON: "won", StageKind.LOST: "lost"}[StageKind(stage.kind)]
        batch.append(Opportunity(
            name=f"商机 {index}", account_id=account_id, owner_id=owner_id, department_id=departments[owner_id],
            amount=rng.randrange(1, 500) * 1_000_000, currency="CNY", process=process, stage=stage, status=status,
            stage_entered_at=now - dt.timedelta(days=rng.randrange(1, 90)), lost_reason="price" if status == "lost"
            else "", win_probability=stage.probability * 10, probability_source="stage"))
        if len(batch) == 5000:
            Opportunity.objects.bulk_create(batch)
            batch = []
    Opportunity.objects.bulk_create(batch)
    # updated_at is automatic: spread it so the keyset order is realistic.
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("UPDATE opportunities_opportunity "
                           "SET updated_at = created_at - (id % 5000) * interval '1 minute'")
        else:
            cursor.execute("UPDATE opportunities_opportunity "
                           "SET updated_at = datetime(created_at, '-' || (id % 5000) || ' minutes')")
        cursor.execute("ANALYZE")
    log(f"loaded {total:,} deals, {n:,} in stage {target.name}")
    return org, target


def time_requests(client: Any, url: str, count: int, warmup: int = 10) -> list[float]:
    import time

    for _ in range(warmup):
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(url)
        samples.append(time.perf_counter() - started)
    return samples


def run(n: int, requests: int) -> dict[str, Any]:
    import time

    from django.db import connection
    from django.test import Client

    from l2c.apps.identity.services import api_token_create
    from l2c.apps.opportunities.board import BOARD_FIELDS
    from l2c.apps.opportunities.models import Opportunity

    org, stage = build(n)
    # A region's manager (subtree scope over a third of the company), a rep (own) and the admin (all).
    region_manager = org.managers[org.region_ids[0]]
    rep = org.reps[0]
    results: dict[str, Any] = {}
    url = f"/api/v1/opportunities/board/{stage.pk}?limit=20"
    for label, user in (("admin", org.admin), ("region_manager", region_manager), ("rep", rep)):
        _token, secret = api_token_create(user=user, name="bench")
        client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
        body = client.get(url).json()
        samples = time_requests(client, url, requests)
        results[label] = {"p50_ms": ms(percentile(samples, 0.5)), "p95_ms": ms(percentile(samples, 0.95)),
                          "column_count": body["count"], "items": len(body["items"])}
        log(f"{label}: column of {body['count']:,} deals, first page p50 {results[label]['p50_ms']} ms")
    # The raw SQL of the admin's page query, for the ratio.
    queryset = Opportunity.objects.filter(stage_id=stage.pk).order_by("-updated_at", "-pk").values(
        *BOARD_FIELDS)[:21]
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    raw = []
    for _ in range(requests):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()
        raw.append(time.perf_counter() - started)
    admin_p50 = results["admin"]["p50_ms"]
    raw_p50 = ms(percentile(raw, 0.5))
    return {"figure": admin_p50, "baseline": raw_p50, "ratio": round(admin_p50 / raw_p50, 1) if raw_p50 else None,
            "ok": all(result["p50_ms"] <= TARGET_MS for result in results.values()), "by_user": results}


def main() -> int:
    parser = arguments(__doc__.splitlines()[0], default_n=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    result: dict[str, Any] = {"name": "kanban_column", "n": args.n, "unit": "ms",
                              "target": f"first page of a {args.n:,}-deal column ≤ {TARGET_MS:.0f} ms (p50)"}
    database = bench_database("kanban", keep=args.keep)
    result["database"] = database.vendor
    result.update(run(args.n, args.requests))
    result["machine"] = machine()
    emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
