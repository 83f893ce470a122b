"""ReadRange of a trend log of device 8888 (issue 15): records/s and ms per request.

The real worker (PostgreSQL, one virtual device from `bacnet_virtual create`) serves a trend
log of a virtual object whose 10,000 readings are in the database; a bacpypes3 client in this
process (our TrendLogClient) reads them all by sequence number, page after page as the device
sizes them (more-items), for --rounds rounds. Baseline, same run: the same records from an
in-memory source on a bare device in this process (the cost of the protocol alone).

    .venv/bin/python bench/readrange.py [--quick] [--records N] [--rounds N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import (
    ROOT,
    Processes,
    create_virtual_devices,
    emit,
    free_udp_port,
    manage,
    median,
    parser,
    percentile,
    postgres_database,
    print_table,
    ratio,
    sql,
    start_worker,
)

sys.path.insert(0, str(ROOT))

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import serve_device
from bms.bacnet.local.trendlog import TrendLogSpec
from bms.bacnet.read_range import BySequence, MemoryRecords
from bms.bacnet.requester import Requester, parse_peer
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.trendlog_client import TrendLogClient
from bms.bacnet.types import ObjectRef

LOG = ObjectRef("trend-log", 1)
START = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 10_000  # asked for; the device answers what fits (at most 2,000) with more-items


def seed_database(database: str, records: int) -> None:
    """One virtual device, `records` readings of its first object, a trend log of it."""
    create_virtual_devices(database, ["air_handling_unit"])
    ((object_id,),) = sql(database, "SELECT min(id) FROM virtual_virtualobject")
    sql(
        database,
        "INSERT INTO devices_bacnetreading (virtual_object_id, value, timestamp, source) "
        "SELECT %s, to_jsonb(n::float), %s::timestamptz + n * interval '1 minute', 'poll' "
        "FROM generate_series(1, %s) AS n RETURNING id",
        object_id,
        START,
        records,
    )
    sql(
        database,
        "INSERT INTO virtual_virtualtrendlog (instance, name, description, logged_object_id, "
        "logging_type, log_interval, buffer_size, enabled, updated_at) "
        "VALUES (1, 'Bench_Log', '', %s, 'cov', 60, %s, true, now()) RETURNING id",
        object_id,
        records,
    )


async def read_all(address: str, port: int, records: int) -> tuple[float, list[float]]:
    """Seconds to read every record, and each request's milliseconds."""
    config = EngineConfig(address=f"127.0.0.4/8:{port}", device_instance=9100)
    client = await open_application(config)
    try:
        reader = TrendLogClient(Requester(client, config), UTC)
        peer, sequence, got, latencies = parse_peer(address), 1, 0, []
        started = time.perf_counter()
        while got < records:
            before = time.perf_counter()
            page = await reader.read_range(peer, LOG, BySequence(sequence, PAGE))
            latencies.append((time.perf_counter() - before) * 1000)
            if not page.entries:
                raise RuntimeError(f"no records from {sequence}: read {got} of {records}")
            got += len(page.entries)
            sequence = page.entries[-1].sequence + 1
        return time.perf_counter() - started, latencies
    finally:
        close_application(client)


async def baseline(port: int, records: int) -> tuple[float, list[float]]:
    app, device = await serve_device(EngineConfig(address=f"127.0.0.3/8:{port}"))
    try:
        memory = MemoryRecords(keep=records)
        for n in range(1, records + 1):
            memory.append(LOG, START + timedelta(minutes=n), float(n))
        device.trend_logs.source = memory
        device.trend_logs.put(
            TrendLogSpec(1, "Bench_Log", ObjectRef("analog-value", 1), buffer_size=records)
        )
        return await read_all(f"127.0.0.3:{port}", port, records)
    finally:
        close_application(app)


def summary(name: str, runs: list[tuple[float, list[float]]], records: int) -> dict[str, Any]:
    latencies = [ms for _, round_ms in runs for ms in round_ms]
    seconds = median([s for s, _ in runs])
    return {
        "name": name,
        "records_per_s": round(records / seconds),
        "requests": len(runs[0][1]),
        "ms_p50": round(percentile(latencies, 50), 1),
        "ms_p95": round(percentile(latencies, 95), 1),
    }


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--records", type=int, default=10_000, help="records in the log (10,000)")
    p.add_argument("--rounds", type=int, default=3, help="full reads of the log (3; median)")
    args = p.parse_args()
    if args.quick:
        args.records, args.rounds = 1_000, 1
    port = free_udp_port()
    with Processes(args.keep_logs) as procs, postgres_database() as database:
        manage(database, "migrate", "--no-input")
        seed_database(database, args.records)
        start_worker(procs, database, f"127.0.0.2/8:{port}")
        worker_runs = [
            asyncio.run(read_all(f"127.0.0.2:{port}", port, args.records))
            for _ in range(args.rounds)
        ]
    base_runs = [asyncio.run(baseline(port, args.records)) for _ in range(args.rounds)]
    worker = summary("device 8888 (PostgreSQL)", worker_runs, args.records)
    base = summary("bare device (in memory)", base_runs, args.records)
    rows = [
        [r["name"], r["records_per_s"], r["requests"], r["ms_p50"], r["ms_p95"]]
        for r in (worker, base)
    ]
    print_table(
        f"ReadRange of {args.records:,} records, {args.rounds} round(s)",
        ["source", "records/s", "requests", "ms p50", "ms p95"],
        rows,
    )
    emit(
        "readrange",
        args.quick,
        records=args.records,
        rounds=args.rounds,
        worker=worker,
        baseline=base,
        ratio=ratio(worker["records_per_s"], base["records_per_s"]),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
