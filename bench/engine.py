"""The BACnet engine against plain bacpypes3, measured in one run.

1. Device side: ReadProperty/s of present-value from an external plain bacpypes3 client process,
   1 and 50 requests in flight, against device 8888 served by our Engine/LocalDevice (mixed
   object types) versus a bare bacpypes3 device with the same objects. Both servers run in their
   own processes at the same time (127.0.0.2 and 127.0.0.3) and are measured in alternation.
   Also RPM (25 objects x present-value, 4 in flight) properties/s.
2. Client side: properties/s reading a SimulatedBuilding (another process) with our
   Client.read_point_values (present-value + status-flags) and Client.read_points (the
   descriptive properties), versus a raw bacpypes3 RPM loop over the same properties
   (values: 24 objects per RPM, points: 8; every device's batches at once).

    .venv/bin/python bench/engine.py [--quick]
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
    median,
    parser,
    peer_cmd,
    print_table,
    ratio,
    run_json,
)

SERVERS = {"ours": "127.0.0.2", "bare": "127.0.0.3"}
CLIENT = "127.0.0.1"


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--objects", type=int, default=50, help="objects on device 8888 (50)")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per measurement (4)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (2; median)")
    p.add_argument("--sim-devices", type=int, default=10)
    p.add_argument("--sim-objects", type=int, default=100)
    args = p.parse_args()
    if args.quick:
        args.objects, args.seconds, args.rounds = 18, 0.6, 1
        args.sim_devices, args.sim_objects = 3, 30
    started = time.monotonic()
    with Processes(args.keep_logs) as procs:
        device = device_side(procs, args)
        client = client_side(procs, args)
    report(device, client, args, time.monotonic() - started)
    return 0


# ---- 1. device side ---------------------------------------------------------------------------


def device_side(procs: Processes, args: Any) -> dict[str, dict[str, list[dict[str, Any]]]]:
    port = free_udp_port()
    servers = {
        kind: procs.start(
            f"serve-{kind}",
            peer_cmd(
                "serve",
                "--kind",
                kind,
                "--address",
                f"{host}/8:{port}",
                "--objects",
                str(args.objects),
                "--max-seconds",
                "900",
            ),
        )
        for kind, host in SERVERS.items()
    }
    for server in servers.values():
        server.wait_for("ready", timeout=30)
    modes = {"rp-1": ("1", "0"), "rp-50": ("50", "0"), "rpm25-4": ("4", "25")}
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        mode: {"ours": [], "bare": []} for mode in modes
    }
    for round_number in range(args.rounds):
        order = ["ours", "bare"] if round_number % 2 == 0 else ["bare", "ours"]
        for mode, (inflight, rpm_objects) in modes.items():
            for kind in order:
                results[mode][kind].append(
                    run_json(
                        peer_cmd(
                            "rp-load",
                            "--address",
                            f"{CLIENT}/8:{port}",
                            "--target",
                            f"{SERVERS[kind]}:{port}",
                            "--inflight",
                            inflight,
                            "--rpm-objects",
                            rpm_objects,
                            "--seconds",
                            str(args.seconds),
                        ),
                        timeout=args.seconds + 60,
                    )
                )
    for kind, server in servers.items():
        if not server.alive():
            raise BenchError(f"the {kind} server died:\n{server.output()[-2000:]}")
    return results


# ---- 2. client side ---------------------------------------------------------------------------


def client_side(procs: Processes, args: Any) -> dict[str, dict[str, list[dict[str, Any]]]]:
    port = free_udp_port()
    simulator = procs.start(
        "simulator",
        [
            PYTHON,
            "-m",
            "bms.simulator",
            "--devices",
            str(args.sim_devices),
            "--objects",
            str(args.sim_objects),
            "--port",
            str(port),
            "--no-segmentation-index",
            "none",
            "--no-rpm-index",
            "none",
        ],
    )
    simulator.wait_for("ready", timeout=60)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        what: {"ours": [], "raw": []} for what in ("values", "points")
    }
    for round_number in range(args.rounds):
        order = ["ours", "raw"] if round_number % 2 == 0 else ["raw", "ours"]
        for what in results:
            for impl in order:
                results[what][impl].append(
                    run_json(
                        peer_cmd(
                            "sim-load",
                            "--impl",
                            impl,
                            "--what",
                            what,
                            "--address",
                            f"{CLIENT}/8:{port}",
                            "--port",
                            str(port),
                            "--devices",
                            str(args.sim_devices),
                            "--objects",
                            str(args.sim_objects),
                            "--seconds",
                            str(args.seconds),
                        ),
                        timeout=args.seconds + 90,
                    )
                )
    return results


# ---- report -----------------------------------------------------------------------------------


def _rate(runs: list[dict[str, Any]], key: str) -> float:
    return float(median([run[key] for run in runs]))


def _errors(runs: list[dict[str, Any]]) -> int:
    return sum(run["errors"] + run["timeouts"] for run in runs)


def report(device: dict[str, Any], client: dict[str, Any], args: Any, elapsed: float) -> None:
    rows, figures = [], {}
    for mode, by_kind in device.items():
        key = "properties_per_s"
        ours, bare = _rate(by_kind["ours"], key), _rate(by_kind["bare"], key)
        errors = _errors(by_kind["ours"]) + _errors(by_kind["bare"])
        rows.append([mode, ours, bare, ratio(ours, bare), errors])
        figures[mode] = {
            "ours_per_s": ours,
            "bare_per_s": bare,
            "ratio": ratio(ours, bare),
            "errors": errors,
        }
    print_table(
        f"Device 8888 ({args.objects} objects) served by our Engine vs bare bacpypes3, "
        f"properties/s (median of {args.rounds})",
        ["mode", "ours/s", "bare/s", "ratio", "errors"],
        rows,
    )
    rows = []
    for what, by_impl in client.items():
        key = "properties_per_s"
        ours, raw = _rate(by_impl["ours"], key), _rate(by_impl["raw"], key)
        errors = _errors(by_impl["ours"]) + _errors(by_impl["raw"])
        short = sum(r["expected_properties"] - r["properties"] for r in by_impl["ours"])
        rows.append([what, ours, raw, ratio(ours, raw), errors, short])
        figures[f"sim-{what}"] = {
            "ours_per_s": ours,
            "raw_per_s": raw,
            "ratio": ratio(ours, raw),
            "errors": errors,
            "missing_properties": short,
        }
    print_table(
        f"Reading {args.sim_devices} simulated devices x {args.sim_objects} objects: our Client "
        "vs raw bacpypes3 RPM loop, properties/s",
        ["read", "ours/s", "raw/s", "ratio", "errors", "missing"],
        rows,
    )
    emit(
        "engine",
        args.quick,
        seconds=round(elapsed, 1),
        objects=args.objects,
        sim_devices=args.sim_devices,
        sim_objects=args.sim_objects,
        results=figures,
    )


if __name__ == "__main__":
    raise SystemExit(main())
