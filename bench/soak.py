"""Worker RSS over time under steady work: is it flat?

The worker (PostgreSQL) polls a simulated building with a collect task every --interval
seconds and takes external writes (5/s) to a virtual AO, for --seconds (10 minutes; --quick
30 s). RSS is sampled before each collect; growth = last sample minus the one after the first
minute (or after the first third of a short run), and the slope by least squares.
Target: <= 150 MB and flat.

    .venv/bin/python bench/soak.py [--quick] [--seconds S]
"""

from __future__ import annotations

import time

from _common import (
    PYTHON,
    Processes,
    create_virtual_devices,
    emit,
    free_udp_port,
    manage,
    parser,
    peer_cmd,
    postgres_database,
    print_table,
    rss_mb,
    start_worker,
    virtual_objects,
)

TARGET_MB = 150.0


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--sim-devices", type=int, default=10)
    args = p.parse_args()
    if args.quick and args.seconds == 600.0:
        args.seconds = 30.0
    started = time.monotonic()
    port = free_udp_port()
    samples: list[tuple[float, float]] = []
    # Processes stop before their database is dropped (last entered, first left).
    with postgres_database() as database, Processes(args.keep_logs) as procs:
        manage(database, "migrate", "--no-input")
        create_virtual_devices(database, ["hvac_controller"])
        ao = next(o for o in virtual_objects(database) if o["kind"] == "analog-output")
        simulator = procs.start(
            "simulator",
            [
                PYTHON,
                "-m",
                "bms.simulator",
                "--devices",
                str(args.sim_devices),
                "--objects",
                "50",
                "--port",
                str(port),
            ],
        )
        simulator.wait_for("ready:", timeout=120)
        worker = start_worker(procs, database, f"127.0.0.1/8:{port}")
        manage(database, "bacnet_task", "discover", "--force", "--wait", timeout=120)
        writer = procs.start(
            "writer",
            peer_cmd(
                "write-load",
                "--address",
                f"127.0.0.250/8:{port}",
                "--target",
                f"127.0.0.1:{port}",
                "--object",
                f"analog-output,{ao['instance']}",
                "--rate",
                "5",
                "--seconds",
                str(args.seconds),
            ),
        )
        soak_start = time.monotonic()
        deadline = soak_start + args.seconds
        while time.monotonic() < deadline:
            samples.append((time.monotonic() - soak_start, rss_mb(worker.pid)))
            manage(database, "bacnet_task", "collect", "--wait", timeout=120)
            time.sleep(max(0.0, min(args.interval, deadline - time.monotonic())))
        samples.append((time.monotonic() - soak_start, rss_mb(worker.pid)))
        writer.stop(grace=20)
    settle = 60.0 if args.seconds >= 180 else args.seconds / 3
    settled = [mb for t, mb in samples if t >= settle] or [samples[-1][1]]
    growth = settled[-1] - settled[0]
    slope = _slope([(t, mb) for t, mb in samples if t >= settle]) * 60
    peak = max(mb for _t, mb in samples)
    rows = [[round(t, 1), round(mb, 1)] for t, mb in samples[:: max(1, len(samples) // 12)]]
    print_table(
        f"Worker RSS over {args.seconds:g} s (collect every {args.interval:g} s, writes "
        f"5/s); peak {peak:.1f} MB, growth after settling {growth:+.1f} MB, "
        f"slope {slope:+.2f} MB/min (target <= {TARGET_MB:g} MB, flat)",
        ["t s", "RSS MB"],
        rows,
    )
    emit(
        "soak",
        args.quick,
        seconds=round(time.monotonic() - started, 1),
        duration_s=args.seconds,
        samples=len(samples),
        first_mb=round(samples[0][1], 1),
        last_mb=round(samples[-1][1], 1),
        peak_mb=round(peak, 1),
        growth_after_settle_mb=round(growth, 1),
        slope_mb_per_min=round(slope, 3),
        target_mb=TARGET_MB,
        meets_target=peak <= TARGET_MB,
    )
    return 0


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / var if var else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
