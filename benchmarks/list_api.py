"""List API at N accounts (default 1,000,000): filter + sort + page of 50, deep pages, name search.

Server time of `GET /api/v1/accounts` is measured in-process (django.test.Client, Bearer token:
the whole middleware + auth + handler + serialisation stack, no network) for a sales manager whose
data scope is "department and below", and compared with the raw SQL of the same page query run on
the same connection.

Targets (docs/performance.md, QUALITY.md): p50 ≤ 5 ms, p99 ≤ 20 ms, p50 ≤ 8× raw SQL, a deep
page ≤ 1.5× page 1, name search p95 ≤ 10 ms.

    .venv/bin/python benchmarks/list_api.py [--n 1000000] [--requests 200] [--searches 100] [--keep]
    .venv/bin/python benchmarks/list_api.py --n 1000000 --reuse var/bench/list_api-<pid>.sqlite3

`--reuse` times a database kept (`--keep`) by an earlier run of the same --n instead of building one
(migrations are applied first, so a new index is built there and timed as `migrate_seconds`).
Besides wall-clock percentiles, the CPU time of the process per request (`*_cpu_ms`) is reported:
it is less sensitive to other work on a shared machine.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

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

LIST_QUERY = {"industry": "C", "sort": "-updated_at", "limit": 50}
# Other lists a manager opens, reported one by one (p50): no filter, a city, an owner, other sorts.
OTHER_SHAPES = {
    "no filter, newest update": {"sort": "-updated_at"},
    "no filter, by name": {"sort": "name"},
    "city, newest update": {"city": "苏州市", "sort": "-updated_at"},
    "industry C, by name": {"industry": "C", "sort": "name"},
    "industry C, newest created": {"industry": "C", "sort": "-created_at"},
    "status potential, newest update": {"status": "potential", "sort": "-updated_at"},
}
TARGET_P50_MS = 5.0
TARGET_P99_MS = 20.0
TARGET_RATIO = 8.0
TARGET_DEEP_RATIO = 1.5
TARGET_SEARCH_P95_MS = 10.0


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per figure (default 200)")
    parser.add_argument("--searches", type=int, default=100, help="timed name searches (default 100)")
    parser.add_argument("--no-analyze", dest="analyze", action="store_false",
                        help="skip SQLite's ANALYZE after loading (the product runs it after imports and daily)")
    parser.add_argument("--reuse", metavar="SQLITE_FILE",
                        help="time a database kept by an earlier run with the same --n instead of building one")
    args = parser.parse_args()
    result: dict[str, Any] = {"name": "list_api", "n": args.n, "unit": "ms",
                              "target": f"p50 ≤ {TARGET_P50_MS} ms, p99 ≤ {TARGET_P99_MS} ms, "
                                        f"p50 ≤ {TARGET_RATIO}× raw SQL, deep page ≤ {TARGET_DEEP_RATIO}× page 1, "
                                        f"search p95 ≤ {TARGET_SEARCH_P95_MS} ms"}
    try:
        vendor = reuse_database(args.reuse, result) if args.reuse else bench_database("list_api", keep=args.keep).vendor
        result.update(run(args.n, args.requests, args.searches, analyze=args.analyze, reuse=bool(args.reuse)))
        result["database"] = vendor
        result["machine"] = machine()
    except Exception as error:  # the one JSON line must still be printed
        import traceback

        traceback.print_exc()
        result.update({"ok": False, "error": f"{type(error).__name__}: {error}"})
    emit(result)
    return 1 if "error" in result else 0  # a missed target is reported in the line, not the exit code


# --- data ---------------------------------------------------------------------------------------------
def reuse_database(path: str, result: dict[str, Any]) -> str:
    """Point Django at a kept SQLite benchmark database and migrate it (as `bench_database` does)."""
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    os.environ.pop("L2C_TESTING", None)
    os.environ["L2C_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "l2c.settings")
    os.environ.setdefault("L2C_LOG_LEVEL", "WARNING")
    os.environ["DATABASE_URL"] = f"sqlite:///{os.path.abspath(path)}"
    import django

    django.setup()
    from django.core.management import call_command

    log(f"migrating the kept database {path}")
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    result["migrate_seconds"] = round(time.perf_counter() - started, 1)
    result["reused"] = path
    return "sqlite"


def existing(n: int) -> tuple[Any, Any, list[Any]]:
    """What `build(n)` returned, for a database it built earlier: the same users, and the same sample
    (the seeded faker makes the same accounts again)."""
    from l2c.apps.identity.models import User

    faker = AccountFaker(SEED)
    every = max(1, n // 2000)
    sample = []
    for index in range(n):
        fake = faker.account()
        if index % every == 0:
            sample.append(fake)
    manager = User.objects.get(username="manager1")  # the manager of the first region, as in build()
    return manager, User.objects.get(username="bench_admin"), sample


def build(n: int, *, analyze: bool = False) -> tuple[Any, Any, list[Any]]:
    """The organisation, N accounts, a little sharing and team membership. Returns
    (region manager under test, admin, a sample of generated accounts for search terms)."""
    from l2c.apps.customers.models import Account, AccountTeamMember
    from l2c.apps.identity.models import Share

    org = organisation()
    manager = org.managers[org.region_ids[0]]
    owners = org.owners
    faker = AccountFaker(SEED)
    assign = random.Random(SEED + 1)
    sample: list[Any] = []
    every = max(1, n // 2000)

    def rows() -> Iterator[dict[str, Any]]:
        for index in range(n):
            fake = faker.account()
            if index % every == 0:
                sample.append(fake)
            owner = None if assign.random() < 0.03 else assign.choice(owners)  # 3 % in the public pool
            yield account_row(fake, owner=owner, created_by=owner or org.admin)

    log(f"generating and loading {n:,} accounts")
    insert_accounts(rows(), total=n, analyze=analyze)
    # The manager is on a few account teams and has a few shares, so those branches of the
    # visibility filter are not empty.
    picked = random.Random(SEED + 2).sample(range(1, n + 1), k=min(n, 40))
    existing = list(Account.objects.filter(pk__in=picked).values_list("pk", flat=True))
    AccountTeamMember.objects.bulk_create(
        AccountTeamMember(account_id=pk, user=manager, role="技术支持") for pk in existing[:20])
    Share.objects.bulk_create(
        Share(object_type="account", object_id=pk, user=manager, created_by=org.admin) for pk in existing[20:])
    return manager, org.admin, sample


# --- timing -------------------------------------------------------------------------------------------
def time_requests(client: Any, urls: list[str], *, warmup: int = 10, cpu: list[float] | None = None) -> list[float]:
    """Seconds per request (status must be 200); the first `warmup` URLs are run untimed first.
    `cpu`, when given, receives the process CPU seconds of each request."""
    for url in urls[:warmup]:
        client.get(url)
    samples = []
    for url in urls:
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - cpu_started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} → {response.status_code}: {response.content[:300]!r}")
    return samples


def time_calls(function: Callable[[], Any], count: int, *, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    return {"p50": ms(percentile(samples, 0.50)), "p95": ms(percentile(samples, 0.95)),
            "p99": ms(percentile(samples, 0.99))}


def search_terms(sample: list[Any], count: int) -> list[str]:
    """What people type: a trade name (2 chars), 3–4 characters of a name, pinyin initials of
    place+trade name or trade name+business, full pinyin of a trade name."""
    from _common import _pinyin

    rnd = random.Random(SEED + 3)
    terms = []
    for index in range(count):
        fake = rnd.choice(sample)
        name, brand = fake.fields["name"], fake.brand
        kind = index % 5
        if kind == 0:
            terms.append(brand)
        elif kind in (1, 2):
            length = rnd.randint(3, 4)
            start = rnd.randrange(0, max(1, len(name) - length))
            terms.append(name[start:start + length])
        elif kind == 3:
            initials = _pinyin(name)[1]  # initials of the whole name
            start = rnd.randrange(0, max(1, len(initials) - 3))
            terms.append(initials[start:start + rnd.randint(2, 4)])
        else:
            terms.append(_pinyin(brand)[0])
    return terms


def run(n: int, requests: int, searches: int, *, analyze: bool = False, reuse: bool = False) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from l2c.apps.customers import selectors
    from l2c.apps.identity.models import User
    from l2c.apps.identity.services import api_token_create
    from l2c.kernel.cursor import encode_cursor

    started = time.perf_counter()
    manager, admin, sample = existing(n) if reuse else build(n, analyze=analyze)
    load_seconds = time.perf_counter() - started
    _, manager_secret = api_token_create(user=manager, name="benchmark")
    _, admin_secret = api_token_create(user=admin, name="benchmark")
    manager_client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {manager_secret}")
    admin_client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {admin_secret}")
    page1_url = "/api/v1/accounts?" + urlencode(LIST_QUERY)

    # 1. page 1 through the API.
    log(f"timing {requests} × GET {page1_url} as a sales manager (subtree scope)")
    first = manager_client.get(page1_url).json()
    if len(first["items"]) != 50:
        raise RuntimeError(f"page 1 returned {len(first['items'])} items")
    statements: list[str] = []

    def count_queries(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_queries):
        manager_client.get(page1_url)
    api_cpu: list[float] = []
    api = summary(time_requests(manager_client, [page1_url] * requests, cpu=api_cpu))
    # The floor of any API request on this box: middleware, token check, a one-row answer.
    me_cpu: list[float] = []
    me = summary(time_requests(manager_client, ["/api/v1/me"] * requests, cpu=me_cpu))

    # 2. the same page query as raw SQL on the same connection.
    fresh_manager = User.objects.get(pk=manager.pk)
    queryset = selectors.account_list(user=fresh_manager, filters={"industry": "C"})
    page_query = queryset.order_by("-updated_at", "-pk")[:51]
    sql, params = page_query.query.get_compiler(using=page_query.db).as_sql()

    def raw() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    raw_times = summary(time_calls(raw, requests))
    raw_cpu: list[float] = []

    def raw_cpu_timed() -> None:
        cpu_started = time.process_time()
        raw()
        raw_cpu.append(time.process_time() - cpu_started)

    time_calls(raw_cpu_timed, requests, warmup=0)
    ratio = api["p50"] / raw_times["p50"] if raw_times["p50"] else None

    # 3. the last page of the manager's filtered list, through a cursor made for its boundary row.
    visible = queryset.count()
    deep_offset = max(1, visible - 50)
    boundary = queryset.order_by("-updated_at", "-pk").values_list("updated_at", "pk")[deep_offset - 1]
    deep_url = page1_url + "&" + urlencode({"cursor": encode_cursor(boundary)})
    deep_page = manager_client.get(deep_url).json()
    log(f"manager sees {visible:,} matching rows; deep page at offset {deep_offset:,} "
        f"returned {len(deep_page['items'])} items")
    deep = summary(time_requests(manager_client, [deep_url] * requests))

    # 4. "page 20,000": the unfiltered list (admin, every row) at offset N − 50 vs its page 1.
    admin_page1_url = "/api/v1/accounts?" + urlencode({"sort": "-updated_at", "limit": 50})
    from l2c.apps.customers.models import Account

    admin_boundary = Account.objects.order_by("-updated_at", "-pk").values_list("updated_at", "pk")[max(0, n - 51)]
    admin_deep_url = admin_page1_url + "&" + urlencode({"cursor": encode_cursor(admin_boundary)})
    admin_deep_items = len(admin_client.get(admin_deep_url).json()["items"])
    log(f"admin page {n // 50:,} (offset {n - 50:,}) returned {admin_deep_items} items")
    admin_page1 = summary(time_requests(admin_client, [admin_page1_url] * requests))
    admin_deep = summary(time_requests(admin_client, [admin_deep_url] * requests))

    # 5. other list shapes, fewer requests each.
    shapes = {}
    for label, query in OTHER_SHAPES.items():
        url = "/api/v1/accounts?" + urlencode({**query, "limit": 50})
        shapes[label] = summary(time_requests(manager_client, [url] * max(20, requests // 5), warmup=3))["p50"]
    log(f"other list shapes, p50 ms: {shapes}")

    # 6. name search (contains over name, short name, pinyin and initials).
    terms = search_terms(sample, searches)
    search_urls = ["/api/v1/accounts?" + urlencode({"q": term, "limit": 50}) for term in terms]
    log(f"timing {len(search_urls)} name searches, e.g. {terms[:6]}")
    search_cpu: list[float] = []
    search_samples = time_requests(manager_client, search_urls, warmup=5, cpu=search_cpu)
    search = summary(search_samples)
    slowest = sorted(zip(search_samples, terms, strict=True), reverse=True)[:3]

    deep_ratio = deep["p50"] / api["p50"] if api["p50"] else None
    admin_deep_ratio = admin_deep["p50"] / admin_page1["p50"] if admin_page1["p50"] else None
    checks = {
        "p50": api["p50"] <= TARGET_P50_MS,
        "p99": api["p99"] <= TARGET_P99_MS,
        "ratio": ratio is not None and ratio <= TARGET_RATIO,
        "deep_page": deep_ratio is not None and deep_ratio <= TARGET_DEEP_RATIO,
        "page_20000": admin_deep_ratio is not None and admin_deep_ratio <= TARGET_DEEP_RATIO,
        "search_p95": search["p95"] <= TARGET_SEARCH_P95_MS,
    }
    log(f"checks: {checks}")
    return {
        "figure": api["p50"],
        "baseline": raw_times["p50"],
        "ratio": round(ratio, 2) if ratio is not None else None,
        "ok": all(checks.values()),
        "p50_ms": api["p50"], "p95_ms": api["p95"], "p99_ms": api["p99"],
        "raw_sql_p50_ms": raw_times["p50"], "raw_sql_p99_ms": raw_times["p99"],
        "p50_cpu_ms": ms(percentile(api_cpu, 0.5)), "raw_sql_p50_cpu_ms": ms(percentile(raw_cpu, 0.5)),
        "cpu_ratio": round(percentile(api_cpu, 0.5) / max(percentile(raw_cpu, 0.5), 1e-9), 2),
        "me_p50_ms": me["p50"], "me_p50_cpu_ms": ms(percentile(me_cpu, 0.5)),
        "queries_per_request": len(statements),
        "manager_matching_rows": visible,
        "deep_page_offset": deep_offset, "deep_page_p50_ms": deep["p50"], "deep_page_p99_ms": deep["p99"],
        "deep_page_ratio": round(deep_ratio, 2) if deep_ratio is not None else None,
        "unfiltered_page1_p50_ms": admin_page1["p50"],
        "page_20000_offset": n - 50, "page_20000_p50_ms": admin_deep["p50"],
        "page_20000_ratio": round(admin_deep_ratio, 2) if admin_deep_ratio is not None else None,
        "search_p50_ms": search["p50"], "search_p95_ms": search["p95"], "search_p99_ms": search["p99"],
        "search_p95_cpu_ms": ms(percentile(search_cpu, 0.95)),
        "search_slowest": [{"q": term, "ms": ms(seconds)} for seconds, term in slowest],
        "other_shapes_p50_ms": shapes,
        "checks": checks,
        "load_seconds": round(load_seconds, 1),
        "sqlite_analyzed": analyze if connection.vendor == "sqlite" else None,
        "requests": requests,
    }


if __name__ == "__main__":
    sys.exit(main())
