"""Batch duplicate detection over N accounts (default 1,000,000, and N/2 to show scaling), against
Splink (record linkage on DuckDB) on the same labelled data in the same run.

Data: N accounts of E distinct companies (unique trade name + business per company); a fifth of the
companies get one or two duplicate records — legal form changed, region moved into brackets, one
character inserted or deleted, traditional characters, or renamed but keeping phone and credit
code — which keep the original's phone half the time and its credit code a third of the time.
The labels are the companies: a pair of records is a true duplicate iff they are of one company.

Ours: `customers.dedup_batch.duplicates_batch_run` over the blocking index the product keeps (its
build time is reported separately: the product writes keys with every save). Splink 5 on DuckDB
gets the same records with the product's normalised core names (so it does not have to strip
regions and legal forms itself), phone, credit code and city; it is trained (u by random sampling,
m by EM on two blocking rules), predicts over blocking on exact core / phone / credit code and the
core's first or last three characters within a city, and clusters at match probability 0.9
(precision and recall at 0.5 are reported too, untimed).

Both run in a fresh worker process each, so peak memory (VmHWM) is the job's own. Precision and
recall are pairwise over the groups each produces. Figure: our time; baseline: Splink's time;
ratio: Splink ÷ ours. Targets: ratio ≥ 1 at every size, our precision and recall ≥ Splink's − 0.02.

    .venv/bin/python benchmarks/dedup_batch.py [--n 1000000] [--single] [--duplicate-share 0.2]
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_DIR,
    SEED,
    AccountFaker,
    FakeAccount,
    account_row,
    arguments,
    bench_database,
    emit,
    insert_accounts,
    log,
    organisation,
)

SPLINK_THRESHOLD = 0.9
SPLINK_LOW_THRESHOLD = 0.5  # also reported: Splink's recall at 0.9 falls as N grows (its prior shrinks)
TRADITIONAL = str.maketrans("东华电气国际业发贸实广区门长车", "東華電氣國際業發貿實廣區門長車")
BRAND_CHARS = ("华恒鑫泰瑞宏金盛隆新海天中永嘉安德信达博远通万鼎正联创佳明凯东"
               "丰源兴宇科邦诚利和康辉昌腾杰成峰祥越航威润星顺")


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not inherit the high-water
    mark of the process that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- workers (fresh processes) ------------------------------------------------------------------------
def worker_ours() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "l2c.settings")
    import django

    django.setup()
    from l2c.apps.customers.dedup_batch import duplicates_batch_run

    started = time.perf_counter()
    result = duplicates_batch_run(object_type="account")
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "pairs": result.pairs,
                      "matched_pairs": result.matched_pairs, "groups": result.groups,
                      "region_pairs_skipped": result.region_pairs_skipped, "phase_seconds": result.seconds}))


def worker_splink(source: str, target: str) -> None:
    import duckdb
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE records AS SELECT * FROM read_parquet('{source}')")
    api = DuckDBAPI(connection)
    frame = api.register("records")
    # Fuzzy-name blocks within a city: without the city, the three-character blocks make 46 M
    # comparisons at 100,000 records and grow with the square of N.
    rules = [block_on("name_core"), block_on("phone"), block_on("credit_code"),
             block_on("substr(name_core, 1, 3)", "city"), block_on("substr(name_core, -3, 3)", "city")]
    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id",
        comparisons=[cl.JaroWinklerAtThresholds("name_core", [0.95, 0.88, 0.8]), cl.ExactMatch("phone"),
                     cl.ExactMatch("credit_code"), cl.ExactMatch("city")],
        blocking_rules_to_generate_predictions=rules, retain_intermediate_calculation_columns=False,
    )
    linker = Linker(frame, settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("credit_code"), block_on("name_core", "phone")], recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_core"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    predictions = linker.inference.predict(threshold_match_probability=SPLINK_THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, SPLINK_THRESHOLD)
    clusters.as_duckdbpyrelation().select("cluster_id, unique_id").write_parquet(target)
    seconds = time.perf_counter() - started
    low = linker.inference.predict(threshold_match_probability=SPLINK_LOW_THRESHOLD)
    low_clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(low, SPLINK_LOW_THRESHOLD)
    low_clusters.as_duckdbpyrelation().select("cluster_id, unique_id").write_parquet(target + ".low")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counted = count_comparisons_from_blocking_rules(frame, blocking_rules=rules, link_type="dedupe_only")
    last = counted[-1]
    total = last["cumulative_comparison_count"] if isinstance(last, dict) else last.cumulative_comparison_count
    # Comparisons are estimated from a 5 % sample (Splink's default), outside the timed part.
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "pairs": int(total)}))


def _worker(arguments: list[str]) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, *arguments], env=os.environ.copy(), check=True,
                            capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


# --- data -------------------------------------------------------------------------------------------
def variant(fake: FakeAccount, brand: str, trade: str, place: str, rnd: random.Random,
            fresh_brand: Any) -> dict[str, Any]:
    """Fields of a duplicate record of `fake` (a company named place + brand + trade + form)."""
    fields = dict(fake.fields)
    kind = rnd.randrange(12)
    core = brand + trade
    if kind < 3:
        name = place + core + rnd.choice(("股份有限公司", "有限责任公司", "集团有限公司"))
    elif kind < 5:
        name = core + f"（{place}）有限公司"
    elif kind < 7:
        position = rnd.randrange(1, len(core) + 1)
        name = place + core[:position] + rnd.choice("新兴达信") + core[position:] + "有限公司"
    elif kind < 9 and len(core) > 5:
        position = rnd.randrange(1, len(core))
        name = place + core[:position] + core[position + 1:] + "有限公司"
    elif kind < 11:
        name = (place + core + "有限公司").translate(TRADITIONAL)
    else:  # renamed: only the phone and credit code tell
        name = place + fresh_brand(trade) + trade + "有限公司"
        fields["phone"] = fake.fields["phone"]
    fields["name"] = name
    if kind < 11 and rnd.random() >= 0.5:
        fields["phone"] = f"0{rnd.randint(10, 999)}-{rnd.randint(20000000, 89999999)}"
    if kind < 11 and rnd.random() >= 1 / 3:
        fields["credit_code"] = ""
    return fields


def generate(n: int, duplicate_share: float) -> tuple[list[dict[str, Any]], list[int]]:
    """N account field dicts and, for each, its company number."""
    from _common import INDUSTRIES, PLACES

    faker = AccountFaker(SEED)
    rnd = random.Random(SEED + 7)
    seen: set[str] = set()
    records: list[dict[str, Any]] = []
    labels: list[int] = []
    company = 0
    places = [(place, province, city) for place, province, city, _weight in PLACES]
    trades = [trade for _weight, words in INDUSTRIES.values() for trade in words]
    def fresh_brand(trade: str) -> str:
        """A brand whose core (brand + trade) is at least two edits from every core made so far,
        so a label never contradicts the names."""
        while True:
            brand = "".join(rnd.choices(BRAND_CHARS, k=rnd.choice((2, 3, 3, 4))))
            core = brand + trade
            shorter = {core[:index] + core[index + 1:] for index in range(len(core))}
            if core not in seen and not shorter & seen:
                seen.add(core)
                seen.update(shorter)
                return brand

    while len(records) < n:
        fake = faker.account()
        trade = rnd.choice(trades)
        brand = fresh_brand(trade)
        place, province, city = rnd.choice(places)
        fields = dict(fake.fields)
        fields.update({"name": place + brand + trade + "有限公司", "province": province, "city": city})
        records.append(fields)
        labels.append(company)
        if rnd.random() < duplicate_share:
            for _ in range(1 if rnd.random() < 0.8 else 2):
                if len(records) < n:
                    records.append(variant(FakeAccount(fields, "", brand), brand, trade, place, rnd, fresh_brand))
                    labels.append(company)
        company += 1
    return records, labels


# --- evaluation ---------------------------------------------------------------------------------------
def pairwise(groups: list[list[int]], label_of: dict[int, int], true_pairs: int,
             names: dict[int, str] | None = None) -> dict[str, Any]:
    predicted = correct = 0
    wrong: list[list[str]] = []
    for members in groups:
        if names is not None and len(wrong) < 8 and len({label_of[member] for member in members}) > 1:
            wrong.append([f"{names.get(member, member)}#{label_of[member]}" for member in members][:4])
        size = len(members)
        predicted += size * (size - 1) // 2
        for count in Counter(label_of[member] for member in members).values():
            correct += count * (count - 1) // 2
    precision = correct / predicted if predicted else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "predicted_pairs": predicted,
            "correct_pairs": correct, "groups": len(groups), "largest_group": max(map(len, groups), default=0),
            **({"wrong_groups_sample": wrong} if names is not None else {})}


def run_size(n: int, duplicate_share: float) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from django.db import connection

    from l2c.apps.activity.maintenance import refresh_planner_statistics
    from l2c.apps.customers import duplicates
    from l2c.apps.customers.models import Account, DuplicateCandidate, DuplicateProfile
    from l2c.apps.customers.validation import search_text

    org = organisation()
    owners = org.owners
    assign = random.Random(SEED + 1)
    log(f"generating {n:,} labelled accounts")
    records, labels = generate(n, duplicate_share)

    def rows() -> Any:
        for fields in records:
            fake = FakeAccount(fields, search_text(fields["name"], fields["short_name"]), "")
            yield account_row(fake, owner=assign.choice(owners), created_by=org.admin)

    insert_accounts(rows(), total=n, analyze=True)
    ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    label_of = dict(zip(ids, labels, strict=True))
    true_pairs = sum(count * (count - 1) // 2 for count in Counter(labels).values())
    started = time.perf_counter()
    duplicates.keys_rebuild("account")
    key_seconds = time.perf_counter() - started
    refresh_planner_statistics()
    log(f"blocking index of {n:,} accounts built in {key_seconds:.1f}s; {true_pairs:,} true pairs")

    cities = dict(Account.objects.values_list("pk", "city"))
    table: dict[str, list[Any]] = {"unique_id": [], "name_core": [], "phone": [], "credit_code": [], "city": []}
    for record_id, core, phones, credit in DuplicateProfile.objects.filter(object_type="account").values_list(
            "record_id", "name_core", "phones", "credit_code").iterator(chunk_size=20_000):
        table["unique_id"].append(record_id)
        table["name_core"].append(core or None)
        table["phone"].append(phones.split()[0] if phones else None)
        table["credit_code"].append(credit or None)
        table["city"].append(cities.get(record_id) or None)
    del cities
    source = BENCH_DIR / f"dedup_batch-{os.getpid()}-{n}.parquet"
    target = BENCH_DIR / f"dedup_batch-{os.getpid()}-{n}-clusters.parquet"
    pq.write_table(pa.table(table), source)
    del table
    connection.close()  # the worker opens its own

    log("running our batch job (fresh process)")
    ours = _worker(["--worker", "ours"])
    log(f"ours: {ours}")
    groups: dict[int, list[int]] = {}
    for group_id, record_id in DuplicateCandidate.objects.values_list("group_id", "record_id").iterator(
            chunk_size=50_000):
        groups.setdefault(group_id, []).append(record_id)
    sample_ids = [member for members in list(groups.values())[:5000] for member in members]
    names = dict(Account.objects.filter(pk__in=sample_ids[:20_000]).values_list("pk", "name"))
    ours.update(pairwise(list(groups.values()), label_of, true_pairs, names))

    log("running Splink on DuckDB (fresh process)")
    try:
        splink = _worker(["--worker", "splink", str(source), str(target)])

        def clustered(path: Path) -> list[list[int]]:
            clusters: dict[Any, list[int]] = {}
            for batch in pq.read_table(path).to_batches():
                for cluster_id, unique_id in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(),
                                                 strict=True):
                    clusters.setdefault(cluster_id, []).append(unique_id)
            return [members for members in clusters.values() if len(members) > 1]

        splink.update(pairwise(clustered(target), label_of, true_pairs))
        low = pairwise(clustered(Path(str(target) + ".low")), label_of, true_pairs)
        splink[f"at_{SPLINK_LOW_THRESHOLD}"] = {key: low[key] for key in ("precision", "recall", "predicted_pairs")}
    except subprocess.CalledProcessError as error:
        splink = {"error": (error.stderr or "")[-2000:]}
    finally:
        source.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        Path(str(target) + ".low").unlink(missing_ok=True)
    log(f"splink: {splink}")
    for result in (ours, splink):
        if "seconds" in result:
            result["pairs_per_second"] = round(result["pairs"] / result["seconds"]) if result["seconds"] else None
            result["seconds"] = round(result["seconds"], 1)
    return {"n": n, "companies": len(set(labels)), "true_pairs": true_pairs,
            "key_build_seconds": round(key_seconds, 1), "ours": ours, "splink": splink}


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        if sys.argv[2] == "ours":
            worker_ours()
        else:
            worker_splink(sys.argv[3], sys.argv[4])
        return 0
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--single", action="store_true", help="only N (no N/2 run for scaling)")
    parser.add_argument("--duplicate-share", type=float, default=0.2, help="companies with duplicates (0.2)")
    args = parser.parse_args()
    if args.single:
        result: dict[str, Any] = {"name": "dedup_batch_size", "n": args.n}
        try:
            database = bench_database("dedup_batch", keep=args.keep)
            result.update(run_size(args.n, args.duplicate_share))
            result["database"] = database.vendor
        except Exception as error:  # the one JSON line must still be printed
            import traceback

            traceback.print_exc()
            result["error"] = f"{type(error).__name__}: {error}"
        emit(result)
        return 1 if "error" in result else 0
    sizes = [args.n, args.n // 2]
    runs = []
    for size in sizes:
        command = [sys.executable, __file__, "--single", "--n", str(size), "--duplicate-share",
                   str(args.duplicate_share), *(["--keep"] if args.keep else [])]
        completed = subprocess.run(command, env=os.environ.copy(), capture_output=True, text=True, check=False)
        sys.stderr.write(completed.stderr[-4000:])
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    first = runs[0]
    ours, splink = first.get("ours", {}), first.get("splink", {})
    ratio = (splink["seconds"] / ours["seconds"]) if ours.get("seconds") and splink.get("seconds") else None
    checks = {
        "faster_at_every_size": all(run.get("ours", {}).get("seconds", 1e9) <= run.get("splink", {}).get("seconds", 0)
                                    for run in runs),
        "precision": ours.get("precision", 0) >= splink.get("precision", 0) - 0.02,
        "recall": ours.get("recall", 0) >= splink.get("recall", 0) - 0.02,
    }
    emit({"name": "dedup_batch", "n": args.n, "figure": ours.get("seconds"), "unit": "s",
          "baseline": splink.get("seconds"), "ratio": round(ratio, 2) if ratio else None,
          "target": "faster than Splink (DuckDB) at every size, precision and recall within 0.02 of Splink's or better",
          # This process never sets Django up (each size runs in its own process): report what the
          # runs measured on.
          "ok": all(checks.values()), "checks": checks, "runs": runs, "machine": first.get("machine")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
