"""History at scale (issue 15): readings generated into a private PostgreSQL database, then
one point's week and year at screen width through the product's series query (bms.history),
on the product's table partitioned by day (devices 0008) against the same query on a plain
unpartitioned copy of the same rows, and the time column's btree index against a BRIN one.

What is generated (in the product's raw table, BACnetReading, partitioned by day):
- dense points: a reading every 30 s for a year (1,051,200 each), the points that are queried;
- bulk points: `--per-point` readings each, 30 s apart, up to `--rows` readings in all or until
  `--max-seconds` of generation have passed (whichever first; the JSON says which);
- a live slice: 1,000 points x 1 hour, rolled up by the product's own roll-up (its rate).
Rows are generated in time order (all points of an instant together), as polling stores them,
with the table's indexes dropped and made again afterwards (the fast way to load; the JSON
gives both times). The dense points' roll-ups (1 min / 15 min / 1 h) are built in SQL with the
same aggregates as the product (bms.history.buckets), because the product's Python roll-up
would take hours over a year of data; its own rate is measured on the live slice.

Same run, four tables/indexes compared: (1) partitioned, btree on timestamp (what devices 0008
makes); (2) a plain table holding the same rows (copied, with the product's primary key, its
(point, timestamp) and its timestamp btree indexes), swapped in under the product's table name;
(3) partitioned with the timestamp btree replaced by a BRIN index. Per variant: the product's
series for one point's week and year at width 1,000 (p50/p95) and the same ranges aggregated
to the width in SQL over raw rows; time-range reads of all points (the roll-up's read of raw
rows, the oldest reading, an hour's count); ingest through the product's hot path
(bms.worker.store.save_readings, waves of 5,000 points) in readings/s. Bytes per stored reading
(raw table + its indexes). Targets: week <= 100 ms, year <= 300 ms (p95); ingest >= the polling
benchmark's 2,322 points/s. The database is created and dropped by the run; the server is never
reconfigured (maintenance_work_mem is raised for this session only).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    emit,
    manage,
    parser,
    percentile,
    postgres_database,
    print_table,
)

WEEK, YEAR, DAY = timedelta(days=7), timedelta(days=365), timedelta(days=1)
WIDTH = 1000
STEP = 30  # seconds between a point's readings
TABLE = "devices_bacnetreading"
PLAIN = "bench_plain_readings"
POLLING_POINTS_PER_SECOND = 2322  # bench/README.md, polling benchmark (the rate to keep up with)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=100_000_000, help="readings to generate in all")
    p.add_argument("--dense-points", type=int, default=4)
    p.add_argument("--per-point", type=int, default=10_000)
    p.add_argument("--max-seconds", type=float, default=1800.0, help="bound on generation")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    if args.quick:
        args.rows, args.dense_points, args.per_point, args.repeats = 60_000, 1, 500, 5
    with postgres_database("bms_bench_history") as url:
        manage(url, "migrate", "--no-input", timeout=300)
        os.environ.update(
            DATABASE_URL=url,
            SECRET_KEY="bench-only",
            DJANGO_SETTINGS_MODULE="bms.settings",
            BACNET_BACKEND="native",
            # Nothing is dropped during the run: the raw table is the baseline.
            BMS_HISTORY_RAW_DAYS="0",
            BMS_HISTORY_1MIN_DAYS="0",
            BMS_HISTORY_15MIN_DAYS="0",
        )
        import django

        django.setup()
        results = run(args)
    report(args, results)


def run(args: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    device = _device()
    span = DAY if args.quick else YEAR
    results: dict[str, Any] = {"phases": {}}
    phases = results["phases"]
    _sql("SET maintenance_work_mem = '1GB'")  # this session only: index builds
    results["rollup"] = product_rollup_rate(device, now, quick=args.quick)
    phases["partitions"] = _timed(lambda: _make_partitions(now - span - DAY, now + 4 * DAY))
    indexes = _drop_indexes()
    dense = _points(device, "analog-value", args.dense_points)
    started = time.monotonic()
    dense_rows = _generate(dense, now - span, now)
    bulk_rows, bounded_by = _generate_bulk(device, args, now, dense_rows, started)
    phases["generate"] = round(time.monotonic() - started, 1)
    phases["indexes"] = _timed(lambda: _make_indexes(indexes))
    phases["rollups_sql"] = _timed(lambda: _rollups_in_sql(dense, now))
    phases["plain_copy"] = _timed(_plain_copy)
    phases["analyze"] = _timed(_analyze)
    rows = _count(TABLE)
    results.update(
        rows=rows,
        dense_rows=dense_rows,
        bulk_rows=bulk_rows,
        bounded_by=bounded_by,
        bytes=storage(rows),
    )
    variants: dict[str, Any] = {}
    variants["partitioned_btree"] = measure(dense, now, args, span)
    _swap_plain()
    variants["plain_btree"] = measure(dense, now, args, span)
    _swap_plain()
    results["btree_time_index_bytes"] = _time_index_bytes()
    phases["brin"] = _timed(_use_brin)
    results["brin_time_index_bytes"] = _time_index_bytes()
    variants["partitioned_brin"] = measure(dense, now, args, span)
    results["variants"] = variants
    return results


def _timed(action: Callable[[], Any]) -> float:
    started = time.monotonic()
    action()
    return round(time.monotonic() - started, 1)


def _sql(statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return list(cursor.fetchall()) if cursor.description else []


# ---- setup ---------------------------------------------------------------------------------


def _device() -> Any:
    from bms.devices.models import BACnetDevice

    return BACnetDevice.objects.create(device_instance=1, address="127.0.0.2", name="bench")


def _points(device: Any, kind: str, count: int, first: int = 0) -> list[Any]:
    from bms.devices.models import BACnetPoint

    return BACnetPoint.objects.bulk_create(
        BACnetPoint(device=device, object_type=kind, instance=first + n, units="degrees-celsius")
        for n in range(count)
    )


def _make_partitions(start: datetime, end: datetime) -> None:
    """Daily partitions of the readings and weekly ones of the 1-minute buckets over the
    generated span, as the upkeep would have made them (bms.history.partitions)."""
    from bms.history import partitions

    for table in partitions.BY_LEVEL.values():
        covered = [p for p in partitions.partitions(table) if not p.is_default]
        step = timedelta(days=table.period_days)
        first = table.period_start(start.date())
        at = datetime(first.year, first.month, first.day, tzinfo=UTC)
        while at < end:
            if not any(
                p.start is not None and p.end is not None and p.start < at + step and at < p.end
                for p in covered
            ):
                partitions.create_partition(at, at + step, table)
            at += step


def _drop_indexes() -> list[str]:
    """Drop the raw table's primary key and indexes (made again after loading); their SQL."""
    definitions = [
        row[0]
        for row in _sql(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass "
            "AND NOT indisprimary",
            [TABLE],
        )
    ]
    names = _sql(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary",
        [TABLE],
    )
    _sql(f"ALTER TABLE {TABLE} DROP CONSTRAINT {TABLE}_pkey")
    for (name,) in names:
        _sql(f"DROP INDEX {name}")
    return definitions


def _make_indexes(definitions: list[str]) -> None:
    _sql(f'ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, "timestamp")')
    for definition in definitions:
        # A partitioned table's index reads "ON ONLY table": made so, it would not recurse.
        _sql(definition.replace(" ON ONLY ", " ON "))


_VALUE = "to_jsonb(round((20 + 3 * sin(extract(epoch from t) / 13751) + random())::numeric, 2))"


def _generate(points: list[Any], start: datetime, end: datetime) -> int:
    """The points' readings every STEP s from start to end, a daily wave plus noise, in SQL,
    a day at a time, all points of an instant together."""
    rows, day = 0, start
    while day < end:
        rows += _insert([p.pk for p in points], day, min(end, day + DAY), _VALUE)
        day += DAY
    return rows


def _insert(point_ids: list[int], start: datetime, end: datetime, value: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (point_id, value, timestamp, source) "
            f"SELECT p, {value}, t, 'poll' FROM generate_series(%s::timestamptz, "
            "%s::timestamptz - interval '1 microsecond', make_interval(secs => %s)) AS t, "
            "unnest(%s::bigint[]) AS p",
            [start, end, STEP, point_ids],
        )
        return max(cursor.rowcount, 0)


def _generate_bulk(
    device: Any, args: Any, now: datetime, done: int, started: float
) -> tuple[int, str]:
    """Bulk points, 1,000 at a time, until --rows in all or --max-seconds."""
    rows, first = 0, 1000
    while done + rows < args.rows:
        if time.monotonic() - started > args.max_seconds:
            return rows, "time"
        batch = min(1000, max(1, (args.rows - done - rows) // args.per_point))
        points = _points(device, "analog-input", batch, first)
        first += batch
        start = now - timedelta(seconds=STEP * args.per_point)
        rows += _insert(
            [point.pk for point in points],
            start,
            now,
            "to_jsonb(round((random() * 40)::numeric, 2))",
        )
    return rows, "rows"


_ROLLUP_SQL = """
INSERT INTO history_readingrollup (resolution, point_id, start, count, numeric_count, total,
    minimum, maximum, last, last_at)
SELECT %(res)s, point_id, b, count(*), count(*), sum(v), min(v), max(v),
       (array_agg(value ORDER BY timestamp DESC, id DESC))[1], max(timestamp)
FROM (SELECT id, point_id, value, timestamp, (value #>> '{}')::float8 AS v,
             to_timestamp(floor(extract(epoch from timestamp) / %(res)s) * %(res)s) AS b
      FROM devices_bacnetreading WHERE point_id = ANY(%(points)s) AND timestamp < %(until)s) r
GROUP BY point_id, b
"""


def _rollups_in_sql(points: list[Any], now: datetime) -> None:
    """The dense points' buckets as the product's roll-up would store them (see the doc)."""
    from django.db import connection

    from bms.history.config import RESOLUTIONS
    from bms.history.models import RollupProgress

    until = now - timedelta(minutes=5)
    with connection.cursor() as cursor:
        for resolution in RESOLUTIONS:
            mark = datetime.fromtimestamp(until.timestamp() // resolution * resolution, tz=UTC)
            params = {"res": resolution, "points": [p.pk for p in points], "until": mark}
            cursor.execute(_ROLLUP_SQL, params)
            RollupProgress.objects.update_or_create(
                resolution=resolution, defaults={"rolled_until": mark}
            )


def _plain_copy() -> None:
    """The same rows in a plain table, rows in time order, with the product's primary key
    (id), its (point, timestamp) and timestamp btree indexes, built after the copy."""
    _sql(f"CREATE TABLE {PLAIN} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING IDENTITY)")
    _sql(f"INSERT INTO {PLAIN} SELECT * FROM {TABLE} ORDER BY timestamp")
    _sql(f"SELECT setval(pg_get_serial_sequence('{PLAIN}', 'id'), (SELECT max(id) FROM {PLAIN}))")
    _sql(f"ALTER TABLE {PLAIN} ADD CONSTRAINT {PLAIN}_pkey PRIMARY KEY (id)")
    _sql(f'CREATE INDEX {PLAIN}_point_time ON {PLAIN} (point_id, "timestamp")')
    _sql(f'CREATE INDEX {PLAIN}_time ON {PLAIN} ("timestamp")')


def _analyze() -> None:
    for table in (TABLE, PLAIN, "history_readingrollup"):
        _sql(f"VACUUM ANALYZE {table}")


def _swap_plain() -> None:
    """Swap the plain copy and the product's table under the product's name (and back)."""
    _sql(f"ALTER TABLE {TABLE} RENAME TO bench_swap")
    _sql(f"ALTER TABLE {PLAIN} RENAME TO {TABLE}")
    _sql(f"ALTER TABLE bench_swap RENAME TO {PLAIN}")


def _time_index_name() -> str:
    rows = _sql(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND i.indnatts = 1 "
        "AND pg_get_indexdef(i.indexrelid) LIKE %s",
        [TABLE, '%("timestamp")'],
    )
    return str(rows[0][0])


def _time_index_bytes() -> int:
    """The timestamp index's size over every partition."""
    rows = _sql(
        "SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0) FROM pg_index i "
        "JOIN pg_inherits h ON h.inhrelid = i.indrelid WHERE h.inhparent = %s::regclass "
        "AND i.indnatts = 1 AND pg_get_indexdef(i.indexrelid) LIKE %s",
        [TABLE, '%("timestamp")'],
    )
    return int(rows[0][0])


def _use_brin() -> None:
    _sql(f"DROP INDEX {_time_index_name()}")
    _sql(f'CREATE INDEX bench_time_brin ON {TABLE} USING brin ("timestamp")')
    _sql(f"ANALYZE {TABLE}")


# ---- measurements --------------------------------------------------------------------------


def measure(dense: list[Any], now: datetime, args: Any, span: timedelta) -> dict[str, Any]:
    return {
        "series": query_times(dense, now, args.repeats, span),
        "time_range": time_range_times(now, args.repeats, args.per_point),
        "ingest": ingest_rate(now, quick=args.quick),
    }


def ingest_rate(now: datetime, quick: bool) -> dict[str, float]:
    """Readings/s through the product's hot path: waves of N points stored as a collect does,
    at times of the last hour (today's partition)."""
    from bms.devices.models import BACnetDevice
    from bms.worker.store import save_readings

    device = BACnetDevice.objects.get(device_instance=1)
    first = 900_000 + 10_000 * random.randrange(1, 50)
    points = _points(device, "binary-value", 500 if quick else 5000, first=first)
    waves = 3 if quick else 20
    started = time.perf_counter()
    for wave in range(waves):
        at = now - timedelta(hours=1) + timedelta(seconds=STEP * wave)
        save_readings({p.pk: (20.0 + wave, None) for p in points}, at=at)
    seconds = time.perf_counter() - started
    per_second = round(len(points) * waves / seconds)
    return {
        "readings": len(points) * waves,
        "per_second": per_second,
        "vs_polling": round(per_second / POLLING_POINTS_PER_SECOND, 2),
    }


def product_rollup_rate(device: Any, now: datetime, quick: bool) -> dict[str, float]:
    """The product's roll-up (bms.history.maintenance) over 1,000 points x 1 hour at 30 s."""
    from bms.history.maintenance import run_once
    from bms.history.models import RollupProgress

    points = _points(device, "analog-output", 100 if quick else 1000, first=800_000)
    slice_end = now - timedelta(minutes=10)
    rows = _insert(
        [p.pk for p in points], slice_end - timedelta(hours=1), slice_end, "to_jsonb(random())"
    )
    for resolution in (60, 900, 3600):
        RollupProgress.objects.create(
            resolution=resolution, rolled_until=slice_end - timedelta(hours=1)
        )
    started, runs = time.perf_counter(), 0
    while True:
        runs += 1
        if not run_once(now)["more"]:
            break
    seconds = time.perf_counter() - started
    return {"readings": rows, "runs": runs, "per_second": round(rows / seconds)}


def _p(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1)}


def query_times(
    points: list[Any], now: datetime, repeats: int, year: timedelta
) -> dict[str, dict[str, dict[str, float]]]:
    ranges = {"week": min(WEEK, year), "year": year}
    kinds = {"product": _product_series, "raw_sql_width": _raw_sql_width}
    times: dict[str, dict[str, list[float]]] = {n: {k: [] for k in kinds} for n in ranges}
    rng = random.Random(1)
    for round_ in range(repeats + 1):  # the first round warms the caches and is not counted
        for name, span in ranges.items():
            point = rng.choice(points)
            for kind, query in kinds.items():
                started = time.perf_counter()
                query(point.pk, now - span, now)
                if round_:
                    times[name][kind].append((time.perf_counter() - started) * 1000)
    return {name: {kind: _p(values) for kind, values in by.items()} for name, by in times.items()}


def time_range_times(now: datetime, repeats: int, per_point: int) -> dict[str, dict[str, float]]:
    """Reads of all points by time (what the timestamp index serves): the roll-up's read of
    raw rows (levels.raw_rows' statement: 50,001 rows from a time in the bulk range, ordered
    by time; without the ORM's decoding, the same for every variant), the oldest reading
    (levels.earliest), and an hour's count."""
    from bms.history import levels
    from bms.history.config import RAW

    bulk_span = timedelta(seconds=STEP * per_point)
    rng = random.Random(2)
    times: dict[str, list[float]] = {"rollup_read": [], "earliest": [], "hour_count": []}
    for round_ in range(repeats + 1):
        at = now - bulk_span * rng.uniform(0.1, 0.9)
        queries: dict[str, Callable[[], Any]] = {
            "rollup_read": lambda at=at: _sql(
                f"SELECT point_id, virtual_object_id, value, timestamp FROM {TABLE} "
                "WHERE timestamp >= %s AND timestamp < %s ORDER BY timestamp, id LIMIT 50001",
                [at, now],
            ),
            "earliest": lambda: levels.earliest(RAW),
            "hour_count": lambda at=at: _sql(
                f"SELECT count(*) FROM {TABLE} WHERE timestamp >= %s AND timestamp < %s",
                [at, at + timedelta(hours=1)],
            ),
        }
        for name, query in queries.items():
            started = time.perf_counter()
            query()
            if round_:
                times[name].append((time.perf_counter() - started) * 1000)
    return {name: _p(values) for name, values in times.items()}


def _product_series(point_id: int, start: datetime, end: datetime) -> int:
    from bms.history.series import series

    return len(series((point_id, None), start, end, WIDTH, end).buckets)


def _raw_sql_width(point_id: int, start: datetime, end: datetime) -> int:
    """The same width from the raw table, aggregated by the database."""
    seconds = max(1, int((end - start).total_seconds() // WIDTH))
    return len(
        _sql(
            "SELECT floor(extract(epoch from timestamp) / %s) AS b, count(*), "
            "min((value #>> '{}')::float8), max((value #>> '{}')::float8), "
            f"avg((value #>> '{{}}')::float8) FROM {TABLE} "
            "WHERE point_id = %s AND timestamp >= %s AND timestamp < %s GROUP BY b ORDER BY b",
            [seconds, point_id, start, end],
        )
    )


def _count(table: str) -> int:
    return int(_sql(f"SELECT count(*) FROM {table}")[0][0])


def storage(rows: int) -> dict[str, float]:
    """Bytes per reading of the partitioned table (every partition, with its indexes), of the
    plain copy (with its three indexes), and per roll-up bucket."""
    ((partitioned, heap),) = _sql(
        "SELECT sum(pg_total_relation_size(relid)), sum(pg_relation_size(relid)) "
        "FROM pg_partition_tree(%s) WHERE isleaf",
        [TABLE],
    )
    ((rollups,),) = _sql(
        "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(%s) WHERE isleaf",
        ["history_readingrollup"],
    )
    ((plain,),) = _sql("SELECT pg_total_relation_size(%s)", [PLAIN])
    buckets = _count("history_readingrollup")
    per = (lambda total: round(int(total) / rows, 1)) if rows else (lambda total: 0.0)
    return {
        "raw_bytes_per_reading": per(partitioned),
        "raw_heap_bytes_per_reading": per(heap),
        "plain_bytes_per_reading": per(plain),
        "rollup_bytes_per_bucket": round(int(rollups) / buckets, 1) if buckets else 0.0,
        "raw_total_gb": round(int(partitioned) / 1e9, 2),
    }


def report(args: Any, r: dict[str, Any]) -> None:
    print_table(
        "history: readings",
        ["rows", "dense", "bulk", "bounded by", "bytes/reading", "plain bytes/reading"],
        [
            [
                r["rows"],
                r["dense_rows"],
                r["bulk_rows"],
                r["bounded_by"],
                r["bytes"]["raw_bytes_per_reading"],
                r["bytes"]["plain_bytes_per_reading"],
            ]
        ],
    )
    print_table("history: phases (s)", list(r["phases"]), [list(r["phases"].values())])
    rows = []
    for variant, figures in r["variants"].items():
        for name, kinds in figures["series"].items():
            for kind, stats in kinds.items():
                rows.append([variant, f"{name} {kind}", stats["p50_ms"], stats["p95_ms"]])
        for name, stats in figures["time_range"].items():
            rows.append([variant, name, stats["p50_ms"], stats["p95_ms"]])
        ingest = figures["ingest"]
        rows.append([variant, "ingest readings/s", ingest["per_second"], ingest["vs_polling"]])
    print_table(
        "history: queries (ingest: readings/s, x polling)",
        ["table", "query", "p50 ms", "p95 ms"],
        rows,
    )
    product = r["variants"]["partitioned_btree"]["series"]
    emit(
        "history",
        args.quick,
        rows=r["rows"],
        dense_rows=r["dense_rows"],
        bulk_rows=r["bulk_rows"],
        bounded_by=r["bounded_by"],
        phases=r["phases"],
        rollup_per_second=r["rollup"]["per_second"],
        storage=r["bytes"],
        time_index_bytes={"btree": r["btree_time_index_bytes"], "brin": r["brin_time_index_bytes"]},
        variants=r["variants"],
        week_p95_ok=product["week"]["product"]["p95_ms"] <= 100,
        year_p95_ok=product["year"]["product"]["p95_ms"] <= 300,
        ingest_ok=r["variants"]["partitioned_btree"]["ingest"]["per_second"]
        >= POLLING_POINTS_PER_SECOND,
    )


if __name__ == "__main__":
    main()
