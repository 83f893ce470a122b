"""Polling end to end: the worker's collect task, simulated devices -> PostgreSQL.

Setup: a fresh PostgreSQL database (migrated here), a simulated building of D devices x P points
run with --processes so the devices are not the bottleneck, and the worker
(`manage.py bacnet_worker`). A discover task finds the devices; a first collect reads their
point lists (read_points); then the timed collect tasks read present-value + status-flags of
every point and store one BACnetReading per point.

Figures: points/s of each timed collect, from the task row (started_at -> completed_at, and
created_at -> completed_at end to end including the queue pick-up), checked against the
readings actually stored. Baselines in the same run:
  (a) a raw bacpypes3 RPM loop over the same points and properties that stores nothing
      (24 objects per RPM, every device at once), in plain bacpypes3 (the target's baseline)
      and, for context, with the product's bms.bacnet.speedups installed as the worker has;
  (b) BAC0's read loop over the same points (and two faster ways to use BAC0, for context), if
      BAC0 is installed in its own venv
      (BMS_BENCH_BAC0_PYTHON, default ~/.cache/bms-bench/bac0-venv/bin/python; create it with
      `python3 -m venv ~/.cache/bms-bench/bac0-venv && ~/.cache/bms-bench/bac0-venv/bin/pip
      install BAC0`). BAC0 pulls its own bacpypes3, so it never goes in the project's venv.
Targets: >= 0.9x (a), >= 10x (b).

    .venv/bin/python bench/polling.py [--quick]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    PYTHON,
    ROOT,
    BenchError,
    Processes,
    emit,
    free_udp_port,
    manage,
    median,
    parser,
    peer_cmd,
    postgres_database,
    print_table,
    ratio,
    run_json,
    start_worker,
    udp_drops,
)
from _stack import task

sys.path.insert(0, str(ROOT))

WORKER_HOST = "127.0.0.1"
BASELINE_HOST = "127.0.0.250"  # the simulated devices start at 127.0.0.2
BAC0_PYTHON = os.environ.get(
    "BMS_BENCH_BAC0_PYTHON", str(Path.home() / ".cache/bms-bench/bac0-venv/bin/python")
)
TARGET_A, TARGET_B = 0.9, 10.0
# BAC0's loops (bench/_bac0_reader.py): the target applies to the read loop as a script writes
# it; the concurrent variants are printed beside it so the ratio is not read out of context.
BAC0_LOOPS = (
    ("read_loop", "read loop (one read at a time)", f">= {TARGET_B}x"),
    ("read", "read, 50 device loops at once", "(context)"),
    ("readMultiple", "readMultiple, 50 devices at once", "(context)"),
)


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--devices", type=int, default=50)
    p.add_argument("--objects", type=int, default=100)
    p.add_argument("--collects", type=int, default=3, help="timed collect tasks (3)")
    p.add_argument("--bac0-seconds", type=float, default=15.0, help="time bound per BAC0 loop")
    args = p.parse_args()
    if args.quick:
        args.devices, args.objects, args.collects, args.bac0_seconds = 4, 20, 1, 3.0
    started = time.monotonic()
    port = free_udp_port()
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
                "--no-segmentation-index",
                "none",
                "--no-rpm-index",
                "none",
            ],
        )
        simulator.wait_for("ready:", timeout=120)
        start_worker(procs, database, f"{WORKER_HOST}/8:{port}")
        found = task(database, "discover", "--force")
        if found["result"]["devices_found"] != args.devices:
            raise BenchError(f"discovered {found['result']} of {args.devices} devices")
        first = task(database, "collect")  # reads the point lists
        collects = [task(database, "collect") for _ in range(args.collects)]
        drops = udp_drops()
        raw = raw_baseline(args, port)
        raw["udp_drops"] = udp_drops() - drops
        raw_sped = raw_baseline(args, port, "--speedups")
        bac0 = bac0_baseline(args, port, procs.logdir)
    report(args, first, collects, raw, raw_sped, bac0, time.monotonic() - started)
    return 0


def raw_baseline(args: Any, port: int, *extra: str) -> dict[str, Any]:
    """(a): a raw bacpypes3 RPM loop over the same points, as many rounds as timed collects."""
    return run_json(
        peer_cmd(
            "sim-load",
            "--impl",
            "raw",
            "--what",
            "values",
            "--address",
            f"{BASELINE_HOST}/8:{port}",
            "--port",
            str(port),
            "--devices",
            str(args.devices),
            "--objects",
            str(args.objects),
            "--max-rounds",
            str(args.collects),
            "--seconds",
            "60",
            *extra,
        ),
        timeout=180,
    )


def bac0_baseline(args: Any, port: int, logdir: Path) -> dict[str, Any]:
    if not Path(BAC0_PYTHON).exists():
        return {"skipped": f"BAC0 not installed at {BAC0_PYTHON} (see the module docstring)"}
    from bms.simulator.catalog import device_points
    from bms.simulator.plan import plan_building

    plans = plan_building(args.devices, port=port)
    targets = logdir / "bac0-targets.json"
    targets.write_text(
        json.dumps(
            {
                "devices": [plan.address for plan in plans],
                "objects": [
                    [s.ref.object_type, s.ref.instance] for s in device_points(args.objects)
                ],
            }
        )
    )
    return run_json(
        [
            BAC0_PYTHON,
            str(ROOT / "bench" / "_bac0_reader.py"),
            "--address",
            f"{BASELINE_HOST}/8",
            "--port",
            str(free_udp_port()),
            "--targets-json",
            str(targets),
            "--seconds",
            str(args.bac0_seconds),
        ],
        timeout=args.bac0_seconds * 3 + 90,
    )


def report(
    args: Any,
    first: dict[str, Any],
    collects: list[dict[str, Any]],
    raw: dict[str, Any],
    raw_sped: dict[str, Any],
    bac0: dict[str, Any],
    elapsed: float,
) -> None:
    points = args.devices * args.objects
    # Rates use the rows actually stored: the task's own "readings" count can be short
    # (see bench/README.md, "product findings").
    run_rates = [c["stored"] / c["run_s"] for c in collects]
    e2e_rates = [c["stored"] / c["end_to_end_s"] for c in collects]
    ours = median(run_rates)
    raw_rate = round(raw["properties_per_s"] / 2, 1)  # present-value + status-flags per point
    sped_rate = round(raw_sped["properties_per_s"] / 2, 1)
    rows = [
        [
            f"collect #{n + 1}",
            c["result"]["readings"],
            c["stored"],
            c["run_s"],
            c["stored"] / c["run_s"],
            c["end_to_end_s"],
            len(c["result"]["failed_devices"]),
            c["udp_drops"],
        ]
        for n, c in enumerate(collects)
    ]
    print_table(
        f"Worker collect of {args.devices} devices x {args.objects} points into "
        f"PostgreSQL (first collect, reading point lists: {first['run_s']:.2f} s)",
        [
            "task",
            "result.readings",
            "rows stored",
            "run s",
            "points/s",
            "e2e s",
            "failed",
            "udp drops",
        ],
        rows,
    )
    rows = [
        ["worker collect (median)", ours, 1.0, ""],
        [
            "(a) raw bacpypes3 RPM, stores nothing",
            raw_rate,
            ratio(ours, raw_rate),
            f">= {TARGET_A}x",
        ],
        ["(a) the same with bms.bacnet.speedups", sped_rate, ratio(ours, sped_rate), "(context)"],
    ]
    bac0_figures: dict[str, Any] = {}
    if "skipped" in bac0:
        print(f"\n(b) BAC0 skipped: {bac0['skipped']}")
    else:
        for loop, label, target in BAC0_LOOPS:
            rate = bac0[loop]["points_per_s"]
            rows.append([f"(b) BAC0 {label}", rate, ratio(ours, rate), target])
            bac0_figures[loop] = {**bac0[loop], "ratio": ratio(ours, rate)}
    print_table(
        "Points/s and the worker's ratio to each baseline",
        ["reader", "points/s", "worker ratio", "target"],
        rows,
    )
    emit(
        "polling",
        args.quick,
        seconds=round(elapsed, 1),
        devices=args.devices,
        points=points,
        worker_points_per_s=ours,
        worker_points_per_s_e2e=median(e2e_rates),
        stored_ok=all(c["stored"] == points for c in collects),
        result_count_ok=all(c["result"]["readings"] == points for c in collects),
        raw_points_per_s=raw_rate,
        ratio_a=ratio(ours, raw_rate),
        target_a=TARGET_A,
        raw_speedups_points_per_s=sped_rate,
        ratio_a_speedups=ratio(ours, sped_rate),
        raw_errors=raw["errors"] + raw["timeouts"],
        raw_udp_drops=raw["udp_drops"],
        failed_devices=[len(c["result"]["failed_devices"]) for c in collects],
        udp_drops=[c["udp_drops"] for c in collects],
        bac0=bac0_figures or bac0,
        target_b=TARGET_B,
    )


if __name__ == "__main__":
    raise SystemExit(main())
