"""Discovery of a big simulated building, device properties included: seconds.

A simulated building of N devices (default 1,000, a few objects each, --processes 2) answers
Who-Is on loopback. Measured, in this order, against the same building:
  1. engine, who_is(expected=N): the lower bound when the count is known in advance;
  2. engine, who_is() as the worker sends it (no `expected`): then read_device_info of every
     device, all started at once and paced by the client's own limits, as the discover job
     does;
  3. the worker's discover task (`manage.py bacnet_task discover --force --wait`, PostgreSQL):
     task run time from the task row (started_at -> completed_at) and end to end
     (created_at -> completed_at).
Target: <= 5 s.

    .venv/bin/python bench/discovery.py [--quick]
"""

from __future__ import annotations

import time
from typing import Any

from _common import (
    PYTHON,
    BenchError,
    Processes,
    emit,
    free_udp_port,
    manage,
    parser,
    peer_cmd,
    postgres_database,
    print_table,
    run_json,
    sql,
    start_worker,
)

TARGET_SECONDS = 5.0


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--objects", type=int, default=5, help="objects per simulated device (5)")
    args = p.parse_args()
    if args.quick:
        args.devices = 30
    started = time.monotonic()
    port = free_udp_port()
    runs: dict[str, dict[str, Any]] = {}
    # Processes stop before their database is dropped (last entered, first left).
    with postgres_database() as database, Processes(args.keep_logs) as procs:
        manage(database, "migrate", "--no-input")
        simulator = procs.start(
            "simulator",
            [
                PYTHON,
                "-m",
                "bms.simulator",
                "--devices",
                str(args.devices),
                "--objects",
                str(args.objects),
                "--port",
                str(port),
                "--processes",
                "2",
            ],
        )
        simulator.wait_for("ready:", timeout=240)
        address = f"127.0.0.1/8:{port}"
        runs["engine who_is(expected=N) + info"] = run_json(
            peer_cmd(
                "discover",
                "--address",
                address,
                "--expected",
                str(args.devices),
                "--concurrency",
                str(args.devices),
            ),
            timeout=180,
        )
        runs["engine who_is() + info"] = run_json(
            peer_cmd("discover", "--address", address, "--concurrency", str(args.devices)),
            timeout=180,
        )
        start_worker(procs, database, address)
        runs["worker discover task"] = worker_discover(database, args.devices)
        if not simulator.alive():
            raise BenchError(f"the simulator died:\n{simulator.output()[-2000:]}")
    rows = []
    for name, run in runs.items():
        rows.append(
            [
                name,
                run["found"],
                run.get("infos", ""),
                run.get("who_is_s", ""),
                run.get("info_s", ""),
                run["total_s"],
                run.get("end_to_end_s", ""),
                "yes" if run["total_s"] <= TARGET_SECONDS else "NO",
            ]
        )
    print_table(
        f"Discovery of {args.devices} simulated devices with their properties, seconds "
        f"(target <= {TARGET_SECONDS:g} s)",
        ["path", "found", "infos", "who-is s", "info s", "total s", "e2e s", "target"],
        rows,
    )
    emit(
        "discovery",
        args.quick,
        seconds=round(time.monotonic() - started, 1),
        devices=args.devices,
        target_s=TARGET_SECONDS,
        results=runs,
    )
    return 0


def worker_discover(database: str, devices: int) -> dict[str, Any]:
    manage(
        database, "bacnet_task", "discover", "--force", "--wait", "--timeout", "300", timeout=330
    )
    ((result, created, started, completed),) = sql(
        database,
        "SELECT result, created_at, started_at, completed_at FROM tasks_bacnettask "
        "WHERE task_type = 'discover' ORDER BY id DESC LIMIT 1",
    )
    ((stored,),) = sql(database, "SELECT count(*) FROM devices_bacnetdevice WHERE name <> ''")
    return {
        "found": result["devices_found"],
        "infos": int(stored),
        "unreadable": len(result["unreadable"]),
        "total_s": round((completed - started).total_seconds(), 3),
        "end_to_end_s": round((completed - created).total_seconds(), 3),
        "expected": devices,
    }


if __name__ == "__main__":
    raise SystemExit(main())
