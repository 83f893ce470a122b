"""Worker memory (RSS) with a big database: N devices x M points, plus discovered simulated ones.

The database (PostgreSQL) gets --devices offline devices with --points points each (bulk
insert through the ORM in `manage.py shell`), then the worker starts, discovers a simulated
building (--sim-devices) and collects it twice. RSS is sampled after each phase.
Baseline in the same run: the RSS of a bare bacpypes3 device process (our `_peers.py serve
--kind bare`, 50 objects). Target: worker RSS <= 150 MB.

    .venv/bin/python bench/memory.py [--quick]
"""

from __future__ import annotations

import time

from _common import (
    PYTHON,
    Processes,
    emit,
    free_udp_port,
    manage,
    parser,
    peer_cmd,
    postgres_database,
    print_table,
    rss_mb,
    start_worker,
)

TARGET_MB = 150.0
POPULATE = """
from bms.devices.models import BACnetDevice, BACnetPoint
devices = BACnetDevice.objects.bulk_create(
    BACnetDevice(device_instance=500000 + i, address=f"10.9.{{i // 250}}.{{i % 250}}",
                 name=f"Stored device {{i}}", online=False) for i in range({devices}))
for start in range(0, len(devices), 100):
    BACnetPoint.objects.bulk_create(
        BACnetPoint(device=d, object_type="analog-input", instance=n, name=f"Point {{n}}",
                    last_value=20.5) for d in devices[start:start + 100] for n in range({points}))
"""


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--points", type=int, default=50)
    p.add_argument("--sim-devices", type=int, default=20)
    args = p.parse_args()
    if args.quick:
        args.devices, args.points, args.sim_devices = 50, 10, 3
    started = time.monotonic()
    port = free_udp_port()
    samples = []
    # Processes stop before their database is dropped (last entered, first left).
    with postgres_database() as database, Processes(args.keep_logs) as procs:
        manage(database, "migrate", "--no-input")
        manage(
            database,
            "shell",
            "-c",
            POPULATE.format(devices=args.devices, points=args.points),
            timeout=600,
        )
        bare = procs.start(
            "bare",
            peer_cmd(
                "serve",
                "--kind",
                "bare",
                "--address",
                f"127.0.0.250/8:{port}",
                "--max-seconds",
                "900",
            ),
        )
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
        bare.wait_for("ready", timeout=30)
        worker = start_worker(procs, database, f"127.0.0.1/8:{port}")
        samples.append(("worker started", rss_mb(worker.pid)))
        manage(database, "bacnet_task", "discover", "--force", "--wait", timeout=120)
        samples.append(("after discover", rss_mb(worker.pid)))
        for n in (1, 2):
            manage(database, "bacnet_task", "collect", "--wait", timeout=300)
            samples.append((f"after collect {n}", rss_mb(worker.pid)))
        bare_mb = rss_mb(bare.pid)
    peak = max(mb for _name, mb in samples)
    print_table(
        f"Worker RSS, MB: {args.devices} stored devices x {args.points} points + "
        f"{args.sim_devices} simulated devices (target <= {TARGET_MB:g} MB); "
        f"bare bacpypes3 device: {bare_mb:.0f} MB",
        ["phase", "RSS MB"],
        [[name, round(mb, 1)] for name, mb in samples],
    )
    emit(
        "memory",
        args.quick,
        seconds=round(time.monotonic() - started, 1),
        devices=args.devices,
        points=args.devices * args.points,
        sim_devices=args.sim_devices,
        rss_mb={name: round(mb, 1) for name, mb in samples},
        peak_mb=round(peak, 1),
        bare_device_mb=round(bare_mb, 1),
        target_mb=TARGET_MB,
        meets_target=peak <= TARGET_MB,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
