"""Device 8888's read path with Django attached: the real worker versus bare bacpypes3.

The worker (`manage.py bacnet_worker`, SQLite database migrated here) serves ~50 virtual objects
created with `manage.py bacnet_virtual create` (7 air-handling units + 1 temperature sensor).
A bare bacpypes3 device serves the same objects (same types, instances, names) in another
process. An external plain bacpypes3 client measures ReadProperty/s and RPM properties/s
(RPM of 25 objects x present-value), 1 and 50 requests in flight, alternating between the two.
Target: ratio >= 1.0 (values come from memory, never from a query per read).
Also printed: each device's CPU time (user + system, psutil) per 1,000 properties served, and
its ratio (bare / worker: above 1 the worker spends less). With 50 requests in flight the one
client process is the bottleneck and both devices run at its pace, so the throughput ratio is
~1.0 +- noise there; the CPU per property still compares the two devices' own work.

    .venv/bin/python bench/read_path.py [--quick]
"""

from __future__ import annotations

import json
import time
from typing import Any

from _common import (
    BenchError,
    Processes,
    cpu_seconds,
    create_virtual_devices,
    emit,
    free_udp_port,
    median,
    migrated_sqlite,
    parser,
    peer_cmd,
    print_table,
    ratio,
    run_json,
    start_worker,
    virtual_objects,
)

HOSTS = {"worker": "127.0.0.2", "bare": "127.0.0.3"}
TARGET_RATIO = 1.0


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per measurement (4)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (3; median)")
    args = p.parse_args()
    templates = ["air_handling_unit"] * 7 + ["temperature_sensor"]
    modes = {
        "rp-1": ("1", "0"),
        "rp-50": ("50", "0"),
        "rpm25-1": ("1", "25"),
        "rpm25-50": ("50", "25"),
    }
    if args.quick:
        args.seconds, args.rounds, templates = 0.5, 1, ["air_handling_unit"] * 2
        modes = {"rp-50": ("50", "0"), "rpm25-1": ("1", "25")}
    started = time.monotonic()
    port = free_udp_port()
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        m: {"worker": [], "bare": []} for m in modes
    }
    with Processes(args.keep_logs) as procs:
        database = migrated_sqlite(procs.logdir)
        create_virtual_devices(database, templates)
        objects = virtual_objects(database)
        objects_file = procs.logdir / "objects.json"
        objects_file.write_text(json.dumps(objects))
        bare = procs.start(
            "bare",
            peer_cmd(
                "serve",
                "--kind",
                "bare",
                "--address",
                f"{HOSTS['bare']}/8:{port}",
                "--objects-json",
                str(objects_file),
                "--max-seconds",
                "900",
            ),
        )
        worker = start_worker(procs, database, f"{HOSTS['worker']}/8:{port}")
        bare.wait_for("ready", timeout=30)
        devices = {"worker": worker, "bare": bare}
        for round_number in range(args.rounds):
            order = ["worker", "bare"] if round_number % 2 == 0 else ["bare", "worker"]
            for mode, (inflight, rpm_objects) in modes.items():
                for kind in order:
                    cpu_before = cpu_seconds(devices[kind].pid)
                    run = run_json(
                        peer_cmd(
                            "rp-load",
                            "--address",
                            f"127.0.0.1/8:{port}",
                            "--target",
                            f"{HOSTS[kind]}:{port}",
                            "--inflight",
                            inflight,
                            "--rpm-objects",
                            rpm_objects,
                            "--seconds",
                            str(args.seconds),
                        ),
                        timeout=args.seconds + 60,
                    )
                    served = max(1, run["properties_per_s"] * run["seconds"])
                    run["cpu_ms_per_1000"] = round(
                        1e6 * (cpu_seconds(devices[kind].pid) - cpu_before) / served, 1
                    )
                    results[mode][kind].append(run)
        for name, proc in (("worker", worker), ("bare", bare)):
            if not proc.alive():
                raise BenchError(f"{name} died during the run:\n{proc.output()[-2000:]}")
    rows, figures = [], {}
    for mode, by_kind in results.items():
        served = median([r["properties_per_s"] for r in by_kind["worker"]])
        bare_rate = median([r["properties_per_s"] for r in by_kind["bare"]])
        errors = sum(r["errors"] + r["timeouts"] for runs in by_kind.values() for r in runs)
        objects_seen = by_kind["worker"][0]["objects"]
        cpu = {kind: median([r["cpu_ms_per_1000"] for r in runs]) for kind, runs in by_kind.items()}
        rows.append(
            [
                mode,
                served,
                bare_rate,
                ratio(served, bare_rate),
                errors,
                objects_seen,
                cpu["worker"],
                cpu["bare"],
                ratio(cpu["bare"], cpu["worker"]),
            ]
        )
        figures[mode] = {
            "worker_per_s": served,
            "bare_per_s": bare_rate,
            "ratio": ratio(served, bare_rate),
            "errors": errors,
            "meets_target": ratio(served, bare_rate) >= TARGET_RATIO,
            "cpu_ms_per_1000": cpu,
            "cpu_ratio_bare_over_worker": ratio(cpu["bare"], cpu["worker"]),
        }
    print_table(
        f"Device 8888 in the worker ({len(objects)} virtual objects) vs bare bacpypes3, "
        f"properties/s (median of {args.rounds}; target ratio >= {TARGET_RATIO})",
        [
            "mode",
            "worker/s",
            "bare/s",
            "ratio",
            "errors",
            "objects",
            "worker CPU ms/1000",
            "bare CPU ms/1000",
            "CPU bare/worker",
        ],
        rows,
    )
    emit(
        "read_path",
        args.quick,
        seconds=round(time.monotonic() - started, 1),
        objects=len(objects),
        target_ratio=TARGET_RATIO,
        results=figures,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
