"""Shared helpers of the benchmark scripts.

* `bench_database()` points Django at a throwaway database before `django.setup()`: a fresh
  SQLite file under var/bench/ by default, or a fresh `l2c_bench_<pid>` database on the server
  named by a PostgreSQL `DATABASE_URL`; it is migrated here and removed at exit.
* `emit()` prints the one JSON result line on stdout; `log()` writes progress to stderr.
* `AccountFaker` makes seeded, realistic Chinese company records fast: names are composed from a
  few hundred parts whose pinyin is computed once, so 1,000,000 rows cost seconds, not minutes.
* `organisation()` builds a small sales organisation (10 departments, ~50 users) through the
  identity services; `insert_accounts()` bulk-loads account rows with executemany / COPY.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_DIR / "var" / "bench"
SEED = 2026
_STARTED = time.perf_counter()


# --- output -----------------------------------------------------------------------------------------
def log(message: str) -> None:
    """Progress on stderr, stamped with seconds since start."""
    print(f"[{time.perf_counter() - _STARTED:8.1f}s] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """The single JSON result line on stdout (required keys first, extra figures after)."""
    head = ("name", "n", "figure", "unit", "baseline", "ratio", "target", "ok")
    ordered = {key: result.get(key) for key in head}
    ordered.update({key: value for key, value in result.items() if key not in head})
    sys.stdout.write(json.dumps(ordered, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def arguments(description: str, default_n: int = 1_000_000) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--n", type=int, default=default_n, help=f"number of rows (default {default_n:,})")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    return parser


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples` (fraction in 0..1)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# --- database ---------------------------------------------------------------------------------------
@dataclass
class BenchDatabase:
    vendor: str  # "sqlite" or "postgresql"
    label: str  # file path or database name, for the report
    cleanup: Callable[[], None]


def _is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "postgis"}


def bench_database(name: str, *, keep: bool = False) -> BenchDatabase:
    """Create a throwaway database, point Django at it, `django.setup()` and migrate it."""
    os.environ.pop("L2C_TESTING", None)
    os.environ["L2C_DEBUG"] = "0"  # DEBUG would record every query
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "l2c.settings")
    os.environ.setdefault("L2C_LOG_LEVEL", "WARNING")
    configured = os.environ.get("DATABASE_URL", "")
    if configured and _is_postgres(configured):
        database = _postgres_database(configured, keep=keep)
    else:
        database = _sqlite_database(name, keep=keep)

    import django

    django.setup()
    from django.core.management import call_command

    log(f"migrating {database.vendor} database {database.label}")
    call_command("migrate", verbosity=0, interactive=False)
    return database


def _sqlite_database(name: str, *, keep: bool) -> BenchDatabase:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"{name}-{os.getpid()}.sqlite3"
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    for file in files:
        file.unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"

    def cleanup() -> None:
        _close_connections()
        if not keep:
            for file in files:
                file.unlink(missing_ok=True)

    atexit.register(cleanup)
    return BenchDatabase("sqlite", str(path.relative_to(PROJECT_DIR)), cleanup)


def _postgres_database(url: str, *, keep: bool) -> BenchDatabase:
    import psycopg

    parts = urlsplit(url)
    database_name = f"l2c_bench_{os.getpid()}"
    server_url = urlunsplit((parts.scheme.replace("postgis", "postgres"), parts.netloc, "/postgres", parts.query, ""))
    maintenance = parts.path.lstrip("/") or "postgres"
    try:
        connection = psycopg.connect(server_url, autocommit=True)
    except psycopg.Error:  # no "postgres" database to reach: use the one named in the URL
        connection = psycopg.connect(urlunsplit((*parts[:2], f"/{maintenance}", parts.query, "")), autocommit=True)
    with connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database_name}"')
        connection.execute(f'CREATE DATABASE "{database_name}"')
    os.environ["DATABASE_URL"] = urlunsplit((parts.scheme, parts.netloc, f"/{database_name}", parts.query, ""))

    def cleanup() -> None:
        _close_connections()
        if keep:
            return
        try:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
        except psycopg.Error as error:  # pragma: no cover - best effort
            log(f"could not drop {database_name}: {error}")

    atexit.register(cleanup)
    return BenchDatabase("postgresql", database_name, cleanup)


def _close_connections() -> None:
    with contextlib.suppress(Exception):  # Django may not be set up yet
        from django.db import connections

        connections.close_all()


def machine() -> dict[str, Any]:
    """What the figures came from."""
    import platform

    from django.db import connection

    info: dict[str, Any] = {
        "database": connection.vendor,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        # Other work on a shared box skews absolute times (ratios much less): record how busy it was.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if connection.vendor == "sqlite":
        import sqlite3

        info["sqlite"] = sqlite3.sqlite_version
    else:
        info["postgresql"] = ".".join(str(part) for part in divmod(connection.pg_version, 10000))
    return info


# --- realistic Chinese company data -----------------------------------------------------------------
# (place prefix of the name, province, city); weights roughly follow where companies are registered.
PLACES: list[tuple[str, str, str, int]] = [
    ("上海", "上海市", "上海市", 10), ("北京", "北京市", "北京市", 9), ("深圳", "广东省", "深圳市", 9),
    ("广州", "广东省", "广州市", 7), ("杭州", "浙江省", "杭州市", 6), ("苏州", "江苏省", "苏州市", 6),
    ("南京", "江苏省", "南京市", 5), ("成都", "四川省", "成都市", 5), ("武汉", "湖北省", "武汉市", 5),
    ("天津", "天津市", "天津市", 4), ("重庆", "重庆市", "重庆市", 4), ("西安", "陕西省", "西安市", 4),
    ("宁波", "浙江省", "宁波市", 4), ("无锡", "江苏省", "无锡市", 3), ("东莞", "广东省", "东莞市", 4),
    ("佛山", "广东省", "佛山市", 3), ("青岛", "山东省", "青岛市", 3), ("济南", "山东省", "济南市", 3),
    ("郑州", "河南省", "郑州市", 3), ("长沙", "湖南省", "长沙市", 3), ("合肥", "安徽省", "合肥市", 3),
    ("福州", "福建省", "福州市", 2), ("厦门", "福建省", "厦门市", 2), ("沈阳", "辽宁省", "沈阳市", 2),
    ("大连", "辽宁省", "大连市", 2), ("昆明", "云南省", "昆明市", 2), ("南昌", "江西省", "南昌市", 2),
    ("石家庄", "河北省", "石家庄市", 2), ("哈尔滨", "黑龙江省", "哈尔滨市", 2), ("温州", "浙江省", "温州市", 2),
    ("常州", "江苏省", "常州市", 2), ("南宁", "广西壮族自治区", "南宁市", 1), ("贵阳", "贵州省", "贵阳市", 1),
    ("太原", "山西省", "太原市", 1), ("兰州", "甘肃省", "兰州市", 1), ("乌鲁木齐", "新疆维吾尔自治区", "乌鲁木齐市", 1),
]
DISTRICTS = ["高新区", "经开区", "浦东新区", "朝阳区", "南山区", "天河区", "西湖区", "工业园区", "江宁区",
             "武侯区", "洪山区", "滨海新区", "渝北区", "雁塔区", "鄞州区", "新吴区", "松山湖", "顺德区"]
ROADS = ["人民路", "建设路", "中山路", "解放路", "科技路", "创业路", "长江路", "黄河路", "东方大道",
         "学府路", "工业大道", "新华路", "和平路", "迎宾大道", "世纪大道", "金桥路"]
# Trade names (字号) are two characters: first × second gives ~900 of them.
BRAND_FIRST = "华恒鑫泰瑞宏金盛隆新海天中永嘉安德信达博远通万鼎正联创佳明凯东"
BRAND_SECOND = "信达通源泰丰盛华兴宇科邦诚利和康辉昌腾瑞杰成峰祥越航威润星顺"
# Industry (GB/T 4754 section) → weight and words that name the business (行业表述).
INDUSTRIES: dict[str, tuple[int, list[str]]] = {
    "C": (30, ["精密机械", "电子科技", "化工", "汽车零部件", "纺织", "食品", "医疗器械", "新材料", "电气",
               "塑胶制品", "模具", "光电", "包装材料", "五金制品", "智能装备", "生物制药", "环保设备", "不锈钢"]),
    "F": (18, ["贸易", "商贸", "供应链管理", "医药连锁", "进出口", "电子商务", "物资", "百货"]),
    "I": (10, ["信息技术", "软件", "网络科技", "数据服务", "智能科技", "云计算", "通信技术"]),
    "E": (8, ["建设工程", "建筑安装", "装饰工程", "市政工程", "钢结构"]),
    "L": (7, ["企业管理咨询", "商务服务", "人力资源", "广告传媒", "会展服务"]),
    "M": (6, ["检测技术", "工程设计", "生物技术", "环境科技", "技术研究院"]),
    "K": (4, ["置业", "房地产开发", "物业管理"]),
    "G": (4, ["物流", "运输", "仓储", "国际货运代理"]),
    "D": (2, ["能源", "新能源", "燃气", "水务"]),
    "H": (2, ["餐饮管理", "酒店管理"]),
    "J": (2, ["融资租赁", "投资管理"]),
    "Q": (2, ["医院管理", "健康管理"]),
    "R": (2, ["文化传播", "体育发展"]),
    "A": (1, ["农业科技", "生态农业"]),
    "B": (1, ["矿业"]),
    "N": (1, ["园林绿化"]),
    "P": (1, ["教育科技"]),
}
FORMS: list[tuple[str, int]] = [("有限公司", 62), ("有限责任公司", 14), ("股份有限公司", 14), ("集团有限公司", 6),
                                ("科技有限公司", 4)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰文辉斌宇浩鹏飞俊峰晨"
SIZES = [("micro", 25), ("small", 35), ("medium", 22), ("large", 10), ("enterprise", 8)]
SOURCES = [("referral", 20), ("website", 15), ("exhibition", 15), ("tender", 10), ("cold_call", 20),
           ("partner", 10), ("advertising", 5), ("other", 5)]
LEVELS = [("key", 10), ("important", 25), ("normal", 65)]
STATUSES = [("potential", 55), ("active", 30), ("dormant", 10), ("lost", 5)]
BUSINESS_STATUSES = [("operating", 92), ("revoked", 3), ("cancelled", 3), ("suspended", 2)]
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@cache
def _pinyin(part: str) -> tuple[str, str]:
    """(full pinyin, initials) of one name part, lower case — computed once per distinct part."""
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(part)).lower(), "".join(lazy_pinyin(part, style=Style.FIRST_LETTER)).lower()


def _weighted(pairs: Sequence[tuple[Any, int]]) -> tuple[list[Any], list[int]]:
    values = [value for value, _ in pairs]
    cumulative, total = [], 0
    for _, weight in pairs:
        total += weight
        cumulative.append(total)
    return values, cumulative


@dataclass(frozen=True)
class FakeAccount:
    """One generated account: the stored field values (already cleaned) plus `search_text`."""

    fields: dict[str, Any]
    search_text: str
    brand: str  # the trade name (字号), handy for search terms


class AccountFaker:
    """Seeded generator of realistic Chinese company records.

    `search_text` is `customers.validation.search_text(name, short_name)`, what the product stores
    (call only after `bench_database()`: it needs Django set up).
    """

    def __init__(self, seed: int = SEED, *, now: dt.datetime | None = None) -> None:
        self.random = random.Random(seed)
        self.now = now or dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
        self.brands = [a + b for a in BRAND_FIRST for b in BRAND_SECOND if a != b]
        self.places = _weighted([((p, prov, city), w) for p, prov, city, w in PLACES])
        self.industries = _weighted([(code, weight) for code, (weight, _) in INDUSTRIES.items()])
        self.forms = _weighted(FORMS)
        self.sizes = _weighted(SIZES)
        self.sources = _weighted(SOURCES)
        self.levels = _weighted(LEVELS)
        self.statuses = _weighted(STATUSES)
        self.business_statuses = _weighted(BUSINESS_STATUSES)

    def _pick(self, table: tuple[list[Any], list[int]]) -> Any:
        values, cumulative = table
        return self.random.choices(values, cum_weights=cumulative, k=1)[0]

    def account(self) -> FakeAccount:
        from l2c.apps.customers.validation import search_text

        rnd = self.random
        place, province, city = self._pick(self.places)
        industry = self._pick(self.industries)
        trade = rnd.choice(INDUSTRIES[industry][1])
        brand = rnd.choice(self.brands)
        form = self._pick(self.forms)
        name_parts = (place, brand, trade, form) if rnd.random() < 0.85 else (brand, trade, form)
        name = "".join(name_parts)
        short_parts = (brand, trade[:2])
        short_name = "".join(short_parts)
        search = search_text(name, short_name)
        division = f"{rnd.randint(110000, 659000):06d}"
        body = "91" + division + "".join(rnd.choices(USCC_CHARS, k=9))
        created = self.now - dt.timedelta(seconds=rnd.randint(0, 5 * 365 * 86400), microseconds=rnd.randint(1, 999999))
        updated = created + (self.now - created) * rnd.random()
        fields: dict[str, Any] = {
            "name": name,
            "short_name": short_name,
            "credit_code": _uscc(body) if rnd.random() < 0.7 else "",
            "industry": industry,
            "size": self._pick(self.sizes),
            "province": province,
            "city": city,
            "district": rnd.choice(DISTRICTS),
            "address": f"{city}{rnd.choice(DISTRICTS)}{rnd.choice(ROADS)}{rnd.randint(1, 999)}号",
            "phone": f"0{rnd.randint(10, 999)}-{rnd.randint(20000000, 89999999)}",
            "website": f"https://www.{_pinyin(brand)[0]}{rnd.randint(1, 9999)}.com" if rnd.random() < 0.3 else "",
            "source": self._pick(self.sources),
            "level": self._pick(self.levels),
            "status": self._pick(self.statuses),
            "legal_representative": rnd.choice(SURNAMES) + "".join(rnd.choices(GIVEN, k=rnd.randint(1, 2))),
            "registered_capital": Decimal(rnd.choice((50, 100, 200, 500, 1000, 3000, 5000, 10000))),
            "founded_on": dt.date(2026, 1, 1) - dt.timedelta(days=rnd.randint(180, 30 * 365)),
            "business_status": self._pick(self.business_statuses),
            "created_at": created,
            "updated_at": updated,
        }
        return FakeAccount(fields=fields, search_text=search, brand=brand)

    def accounts(self, count: int) -> Iterator[FakeAccount]:
        for _ in range(count):
            yield self.account()


def _uscc(first17: str) -> str:
    from l2c.kernel.uscc import uscc_generate

    return uscc_generate(first17)


# --- organisation -----------------------------------------------------------------------------------
@dataclass
class Organisation:
    """Departments and users of the benchmark company."""

    root_id: int
    region_ids: list[int]
    team_ids: list[int]
    managers: dict[int, Any]  # department id -> sales manager heading it
    reps: list[Any]  # sales reps, each in a team
    admin: Any

    @property
    def owners(self) -> list[Any]:
        """Everyone who owns accounts: reps and team managers."""
        return self.reps + [self.managers[team] for team in self.team_ids]


def organisation() -> Organisation:
    """10 departments (company → 3 regions → 6 teams) and 50 users: 1 admin, 9 sales managers
    (regions and teams), 40 sales reps; built through the identity services."""
    from l2c.apps.identity import services

    root = services.department_create(name="销售中心")
    regions = [services.department_create(name=name, parent_id=root.pk)
               for name in ("华东大区", "华北大区", "华南大区")]
    teams = []
    for region, team_names in zip(regions, (("上海一部", "杭州二部"), ("北京一部", "天津二部"),
                                            ("深圳一部", "广州二部")), strict=True):
        teams += [services.department_create(name=name, parent_id=region.pk) for name in team_names]
    admin = services.user_create(username="bench_admin", password=None, display_name="系统管理员",
                                 department_id=root.pk, role_codes=["admin"])
    managers: dict[int, Any] = {}
    person = random.Random(SEED)
    for index, department in enumerate(regions + teams):
        managers[department.pk] = services.user_create(
            username=f"manager{index + 1}", password=None,
            display_name=person.choice(SURNAMES) + person.choice(GIVEN) + "经理",
            department_id=department.pk, role_codes=["sales_manager"],
        )
    reps = []
    for index in range(40):
        team = teams[index % len(teams)]
        reps.append(services.user_create(
            username=f"rep{index + 1}", password=None,
            display_name=person.choice(SURNAMES) + "".join(person.choices(GIVEN, k=2)),
            department_id=team.pk, role_codes=["sales_rep"],
        ))
    return Organisation(root.pk, [r.pk for r in regions], [t.pk for t in teams], managers, reps, admin)


# --- bulk load ----------------------------------------------------------------------------------------
def account_columns() -> list[str]:
    from l2c.apps.customers.models import Account

    return [field.column for field in Account._meta.concrete_fields if not field.primary_key]


def insert_accounts(rows: Iterable[dict[str, Any]], *, total: int, chunk: int = 50_000,
                    drop_indexes: bool = True, analyze: bool = False) -> float:
    """Bulk-load account rows (column name → Python value) with executemany (SQLite) or COPY
    (PostgreSQL); secondary indexes are dropped first and rebuilt at the end. Returns seconds.

    PostgreSQL tables are ANALYZEd afterwards (autovacuum would do it within a minute); SQLite's with
    `analyze=True`, through the product's own `refresh_planner_statistics`, which it runs after each
    import of 1,000 rows or more and daily (activity.maintenance)."""
    from django.db import connection, transaction

    columns = account_columns()
    started = time.perf_counter()
    saved = _drop_indexes("customers_account") if drop_indexes else []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _copy(rows, columns, total)
        else:
            # The full-text insert trigger costs more than the insert: index every row at the end.
            with connection.cursor() as cursor:
                cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'customers_account_fts_insert'")
                trigger = cursor.fetchone()[0]
                cursor.execute("DROP TRIGGER customers_account_fts_insert")
            _executemany(rows, columns, total, chunk)
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO customers_account_fts(customers_account_fts) VALUES ('rebuild')")
                cursor.execute(trigger)
    for statement in saved:
        connection.cursor().execute(statement)
    if connection.vendor == "postgresql":
        connection.cursor().execute("ANALYZE")
    elif analyze:
        from l2c.apps.activity.maintenance import refresh_planner_statistics

        refresh_planner_statistics()
    log(f"loaded {total:,} accounts in {time.perf_counter() - started:.1f}s (indexes rebuilt)")
    return time.perf_counter() - started


def _executemany(rows: Iterable[dict[str, Any]], columns: list[str], total: int, chunk: int) -> None:
    from django.db import connection

    ops = connection.ops
    datetimes = {"created_at", "updated_at", "last_followed_up_at"}
    sql = (f"INSERT INTO customers_account ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    raw = connection.connection  # the sqlite3 connection under Django's wrapper
    batch: list[tuple[Any, ...]] = []
    done = 0
    for row in rows:
        values = []
        for column in columns:
            value = row.get(column)
            if column in datetimes:
                value = ops.adapt_datetimefield_value(value)
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            values.append(value)
        batch.append(tuple(values))
        if len(batch) >= chunk:
            raw.executemany(sql, batch)
            done += len(batch)
            batch.clear()
            log(f"  inserted {done:,}/{total:,}")
    if batch:
        raw.executemany(sql, batch)


def _copy(rows: Iterable[dict[str, Any]], columns: list[str], total: int) -> None:
    from django.db import connection

    done = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg cursor
        with raw.copy(f"COPY customers_account ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row.get(column) for column in columns])
                done += 1
                if done % 100_000 == 0:
                    log(f"  copied {done:,}/{total:,}")


def _drop_indexes(table: str) -> list[str]:
    """Drop the secondary indexes of `table`; returns the statements that recreate them."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", [table])
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                           "AND sql IS NOT NULL", [table])
        found = cursor.fetchall()
        for index_name, _ in found:
            cursor.execute(f'DROP INDEX "{index_name}"')
    return [statement for _, statement in found]


def account_row(fake: FakeAccount, *, owner: Any, created_by: Any, custom: str = "{}") -> dict[str, Any]:
    """A full customers_account row (column → value) for `fake` owned by `owner` (None: the pool)."""
    row = dict(fake.fields)
    row.update({
        "owner_id": owner.pk if owner else None, "department_id": owner.department_id if owner else None,
        "created_by_id": created_by.pk, "search_text": fake.search_text, "custom": custom, "version": 1,
        "last_followed_up_at": None,
    })
    return row


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result
