"""History at scale (issue 15): readings generated into a private PostgreSQL database, then
one point's week and year at screen width through the product's series query (bms.history),
against the same ranges read from the plain raw table.

What is generated (all in one raw table, BACnetReading, as the product stores it):
- dense points: a reading every 30 s for a year (1,051,200 each), the points that are queried;
- bulk points: `--per-point` readings each, 30 s apart, up to `--rows` readings in all or until
  `--max-seconds` of generation have passed (whichever first; the JSON says which);
- a live slice: 1,000 points x 1 hour, rolled up by the product's own roll-up (its rate).
The dense points' roll-ups (1 min / 15 min / 1 h) are built in SQL with the same aggregates as
the product (bms.history.buckets), because the product's Python roll-up would take hours over a
year of data; its own rate is measured on the live slice.

Figures: ingest through the product's hot path (bms.worker.store.save_readings, PostgreSQL's one
statement per chunk) in readings/s; bytes per stored reading (raw table + its indexes, and the
roll-ups per summarised reading); p50/p95 of the week and year queries, product vs raw table
(rows fetched; and aggregated to the same width in SQL). Targets: week <= 100 ms, year <= 300
ms (p95). The database is created and dropped by the run; the server is never reconfigured.
"""

from __future__ import annotations

import os
import random
import sys
import time
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

WEEK, YEAR = timedelta(days=7), timedelta(days=365)
WIDTH = 1000
STEP = 30  # seconds between a point's readings


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=100_000_000, help="readings to generate in all")
    p.add_argument("--dense-points", type=int, default=4)
    p.add_argument("--per-point", type=int, default=10_000)
    p.add_argument("--max-seconds", type=float, default=1200.0, help="bound on generation")
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
    from django.db import connection

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    device = _device()
    year_span = timedelta(days=1) if args.quick else YEAR
    results: dict[str, Any] = {}
    results["ingest"] = ingest_rate(device, now, quick=args.quick)
    results["rollup"] = product_rollup_rate(device, now, quick=args.quick)
    dense = _points(device, "analog-value", args.dense_points)
    started = time.monotonic()
    dense_rows = sum(_generate(point, now - year_span, now, STEP) for point in dense)
    bulk_rows, bounded_by = _generate_bulk(device, args, now, dense_rows, started)
    results["generate_seconds"] = round(time.monotonic() - started, 1)
    _rollups_in_sql(dense, now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE devices_bacnetreading")
        cursor.execute("VACUUM ANALYZE history_readingrollup")
    results.update(
        rows=_count("devices_bacnetreading"),
        dense_rows=dense_rows,
        bulk_rows=bulk_rows,
        bounded_by=bounded_by,
        bytes=storage(),
    )
    results["queries"] = query_times(dense, now, args.repeats, year_span)
    return results


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


def _generate(point: Any, start: datetime, end: datetime, step: int) -> int:
    """A point's readings every `step` s from start to end, a daily wave plus noise, in SQL."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO devices_bacnetreading (point_id, value, timestamp, source) "
            "SELECT %s, to_jsonb(round((20 + 3 * sin(extract(epoch from t) / 13751) "
            "+ random())::numeric, 2)), t, 'poll' "
            "FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 microsecond', "
            "make_interval(secs => %s)) AS t",
            [point.pk, start, end, step],
        )
        return max(cursor.rowcount, 0)


def _generate_bulk(
    device: Any, args: Any, now: datetime, done: int, started: float
) -> tuple[int, str]:
    """Bulk points, 100 at a time, until --rows in all or --max-seconds."""
    from django.db import connection

    rows, first = 0, 1000
    while done + rows < args.rows:
        if time.monotonic() - started > args.max_seconds:
            return rows, "time"
        batch = min(100, max(1, (args.rows - done - rows) // args.per_point))
        points = _points(device, "analog-input", batch, first)
        first += batch
        start = now - timedelta(seconds=STEP * args.per_point)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO devices_bacnetreading (point_id, value, timestamp, source) "
                "SELECT p, to_jsonb(round((random() * 40)::numeric, 2)), t, 'poll' "
                "FROM unnest(%s::bigint[]) AS p, generate_series(%s::timestamptz, "
                "%s::timestamptz - interval '1 microsecond', make_interval(secs => %s)) AS t",
                [[point.pk for point in points], start, now, STEP],
            )
            rows += max(cursor.rowcount, 0)
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


# ---- measurements --------------------------------------------------------------------------


def ingest_rate(device: Any, now: datetime, quick: bool) -> dict[str, float]:
    """Readings/s through the product's hot path: waves of N points stored as a collect does."""
    from bms.worker.store import save_readings

    points = _points(device, "binary-value", 500 if quick else 5000, first=900_000)
    waves = 3 if quick else 20
    started = time.perf_counter()
    for wave in range(waves):
        at = now - timedelta(days=400) + timedelta(seconds=STEP * wave)
        save_readings({p.pk: (20.0 + wave, None) for p in points}, at=at)
    seconds = time.perf_counter() - started
    return {"readings": len(points) * waves, "per_second": round(len(points) * waves / seconds)}


def product_rollup_rate(device: Any, now: datetime, quick: bool) -> dict[str, float]:
    """The product's roll-up (bms.history.maintenance) over 1,000 points x 1 hour at 30 s."""
    from bms.history.maintenance import run_once

    points = _points(device, "analog-output", 100 if quick else 1000, first=800_000)
    slice_end = now - timedelta(minutes=10)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO devices_bacnetreading (point_id, value, timestamp, source) "
            "SELECT p, to_jsonb(random()), t, 'poll' FROM unnest(%s::bigint[]) AS p, "
            "generate_series(%s::timestamptz, %s::timestamptz - interval '1 microsecond', "
            "interval '30 seconds') AS t",
            [[p.pk for p in points], slice_end - timedelta(hours=1), slice_end],
        )
        rows = cursor.rowcount
    # The ingest waves above are 400 days old: start the roll-up at this slice.
    from bms.history.models import RollupProgress

    RollupProgress.objects.create(resolution=60, rolled_until=slice_end - timedelta(hours=1))
    RollupProgress.objects.create(resolution=900, rolled_until=slice_end - timedelta(hours=1))
    RollupProgress.objects.create(resolution=3600, rolled_until=slice_end - timedelta(hours=1))
    started, runs = time.perf_counter(), 0
    while True:
        runs += 1
        if not run_once(now)["more"]:
            break
    seconds = time.perf_counter() - started
    return {"readings": rows, "runs": runs, "per_second": round(rows / seconds)}


def query_times(
    points: list[Any], now: datetime, repeats: int, year: timedelta
) -> dict[str, dict[str, float]]:
    ranges = {"week": min(WEEK, year), "year": year}
    times: dict[str, dict[str, list[float]]] = {
        name: {"product": [], "raw_rows": [], "raw_sql_width": []} for name in ranges
    }
    rng = random.Random(1)
    for _ in range(repeats + 1):  # the first round warms the caches and is not counted
        for name, span in ranges.items():
            point = rng.choice(points)
            for kind, measure in (
                ("product", _product_series),
                ("raw_rows", _raw_rows),
                ("raw_sql_width", _raw_sql_width),
            ):
                started = time.perf_counter()
                measure(point.pk, now - span, now)
                times[name][kind].append((time.perf_counter() - started) * 1000)
    return {
        name: {
            f"{kind}_{stat}_ms": round(percentile(values[1:], pct), 1)
            for kind, values in kinds.items()
            for stat, pct in (("p50", 50), ("p95", 95))
        }
        for name, kinds in times.items()
    }


def _product_series(point_id: int, start: datetime, end: datetime) -> int:
    from bms.history.series import series

    return len(series((point_id, None), start, end, WIDTH, end).buckets)


def _raw_rows(point_id: int, start: datetime, end: datetime) -> int:
    """The plain raw table as the old chart read it: every reading in the range."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT timestamp, value FROM devices_bacnetreading WHERE point_id = %s "
            "AND timestamp >= %s AND timestamp < %s ORDER BY timestamp",
            [point_id, start, end],
        )
        return len(cursor.fetchall())


def _raw_sql_width(point_id: int, start: datetime, end: datetime) -> int:
    """The same width from the plain raw table, aggregated by the database."""
    from django.db import connection

    seconds = max(1, int((end - start).total_seconds() // WIDTH))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT floor(extract(epoch from timestamp) / %s) AS b, count(*), "
            "min((value #>> '{}')::float8), max((value #>> '{}')::float8), "
            "avg((value #>> '{}')::float8) FROM devices_bacnetreading "
            "WHERE point_id = %s AND timestamp >= %s AND timestamp < %s GROUP BY b ORDER BY b",
            [seconds, point_id, start, end],
        )
        return len(cursor.fetchall())


def _count(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return int(cursor.fetchone()[0])


def storage() -> dict[str, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('devices_bacnetreading'), "
            "pg_relation_size('devices_bacnetreading'), "
            "pg_total_relation_size('history_readingrollup')"
        )
        total, heap, rollups = cursor.fetchone()
    rows = _count("devices_bacnetreading")
    buckets = _count("history_readingrollup")
    return {
        "raw_bytes_per_reading": round(total / rows, 1) if rows else 0.0,
        "raw_heap_bytes_per_reading": round(heap / rows, 1) if rows else 0.0,
        "rollup_bytes_per_bucket": round(rollups / buckets, 1) if buckets else 0.0,
        "raw_total_gb": round(total / 1e9, 2),
    }


def report(args: Any, r: dict[str, Any]) -> None:
    print_table(
        "history: readings",
        ["rows", "dense", "bulk", "bounded by", "generate s", "ingest/s", "roll-up/s"],
        [
            [
                r["rows"],
                r["dense_rows"],
                r["bulk_rows"],
                r["bounded_by"],
                r["generate_seconds"],
                r["ingest"]["per_second"],
                r["rollup"]["per_second"],
            ]
        ],
    )
    rows = []
    for name, figures in r["queries"].items():
        for kind in ("product", "raw_rows", "raw_sql_width"):
            rows.append([name, kind, figures[f"{kind}_p50_ms"], figures[f"{kind}_p95_ms"]])
    print_table(
        "history: one point's range at width 1000", ["range", "query", "p50 ms", "p95 ms"], rows
    )
    emit(
        "history",
        args.quick,
        rows=r["rows"],
        dense_rows=r["dense_rows"],
        bulk_rows=r["bulk_rows"],
        bounded_by=r["bounded_by"],
        generate_seconds=r["generate_seconds"],
        ingest_per_second=r["ingest"]["per_second"],
        rollup_per_second=r["rollup"]["per_second"],
        storage=r["bytes"],
        queries=r["queries"],
        week_p95_ok=r["queries"]["week"]["product_p95_ms"] <= 100,
        year_p95_ok=r["queries"]["year"]["product_p95_ms"] <= 300,
    )


if __name__ == "__main__":
    main()
