"""External writes to the worker's virtual analog output at a fixed rate.

A plain bacpypes3 client process writes present-value (priority 8) of the worker's virtual AO
(template hvac_controller, PostgreSQL database) at --rate writes/s for --seconds, open loop, and
times each write from send to Simple-ACK. The worker stores each write before it acks, so the
BACnetReading rows with source external_bacnet_write must equal the acks (0 lost).
Baseline in the same run: the same load against a bare bacpypes3 device with the same AO (no
hook, nothing stored).
WebSocket arrival: in the worker run, the worker publishes through Redis (channels_redis, as a
deployment with REDIS_URL does), daphne serves bms.asgi on a free TCP port of 127.0.0.1, and a
`websockets` client signed in with a session of a bench user listens on /ws/virtual-devices/;
each acked write is matched (in order, by value) to its external_write message and timed from
its send to the message's arrival. Skipped with a reason if Redis or `websockets` is missing.
Also printed: each device's CPU time per acknowledged write (user + system, from psutil), the
figure a noisy machine moves least: latency tails follow what else the cores are doing.
Targets: ack p99 <= 20 ms, 0 lost, WebSocket arrival p99 <= 150 ms.

    .venv/bin/python bench/external_writes.py [--quick]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from _common import (
    REDIS_URL,
    BenchError,
    Processes,
    cpu_seconds,
    create_virtual_devices,
    emit,
    free_udp_port,
    manage,
    parser,
    peer_cmd,
    percentile,
    postgres_database,
    print_table,
    ratio,
    run_json,
    sql,
    start_worker,
    virtual_objects,
)
from _stack import Listener, Message, start_listener, websocket_unavailable

TARGET_P99_MS = 20.0
TARGET_WS_P99_MS = 150.0
HOSTS = {"worker": "127.0.0.2", "bare": "127.0.0.3"}


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--seconds", type=float, default=30.0)
    args = p.parse_args()
    if args.quick:
        args.rate, args.seconds = 20.0, 2.0
    started = time.monotonic()
    port = free_udp_port()
    runs = {}
    # Processes stop before their database is dropped (last entered, first left).
    with postgres_database() as database, Processes(args.keep_logs) as procs:
        manage(database, "migrate", "--no-input")
        create_virtual_devices(database, ["hvac_controller"])
        objects = virtual_objects(database)
        ao = next(o for o in objects if o["kind"] == "analog-output")
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
        ws_skip = websocket_unavailable()
        listener: Listener | None = None
        worker_env = {} if ws_skip else {"REDIS_URL": REDIS_URL}
        if not ws_skip:
            keep = is_external_write(ao["instance"])
            listener = start_listener(procs, database, "/ws/virtual-devices/", keep)
        worker = start_worker(procs, database, f"{HOSTS['worker']}/8:{port}", **worker_env)
        bare.wait_for("ready", timeout=30)
        send_log = procs.logdir / "sent.json"
        devices = {"bare": bare, "worker": worker}
        cpu_ms: dict[str, float] = {}
        for kind in ("bare", "worker"):
            cpu_before = cpu_seconds(devices[kind].pid)
            runs[kind] = run_json(
                peer_cmd(
                    "write-load",
                    "--address",
                    f"127.0.0.1/8:{port}",
                    "--target",
                    f"{HOSTS[kind]}:{port}",
                    "--object",
                    f"analog-output,{ao['instance']}",
                    "--rate",
                    str(args.rate),
                    "--seconds",
                    str(args.seconds),
                    "--send-log",
                    str(send_log),
                ),
                timeout=args.seconds + 60,
            )
            cpu_ms[kind] = round(
                1000 * (cpu_seconds(devices[kind].pid) - cpu_before) / max(1, runs[kind]["ok"]), 3
            )
        websocket: dict[str, Any] = {"skipped": ws_skip}
        if listener is not None:
            time.sleep(2.0)  # messages still on their way
            websocket = match_writes(listener.stop(), json.loads(send_log.read_text()))
        ((rows,),) = sql(
            database,
            "SELECT count(*) FROM devices_bacnetreading WHERE source = 'external_bacnet_write'",
        )
        if not worker.alive():
            raise BenchError(f"the worker died:\n{worker.output()[-2000:]}")
    w, b = runs["worker"], runs["bare"]
    lost = w["ok"] - int(rows)  # acked but not stored (rows beyond acks: stored, ack late)
    table = [
        [
            kind,
            r["requests"],
            r.get("skipped_backlog", 0),
            r["ok"],
            r["errors"] + r["timeouts"],
            r.get("p50_ms"),
            r.get("p99_ms"),
            r.get("max_ms"),
            r["requests_per_s"],
            cpu_ms[kind],
        ]
        for kind, r in runs.items()
    ]
    print_table(
        f"External writes at {args.rate:g}/s for {args.seconds:g} s to the virtual AO "
        f"(target ack p99 <= {TARGET_P99_MS:g} ms); rows stored: {rows}, lost: {lost}",
        [
            "device",
            "sent",
            "not sent (200 in flight)",
            "acked",
            "failed",
            "p50 ms",
            "p99 ms",
            "max ms",
            "acks/s",
            "device CPU ms/write",
        ],
        table,
    )
    if "skipped" in websocket:
        print(f"\nWebSocket arrival not measured: {websocket['skipped']}")
    else:
        print(
            f"\nWebSocket arrival (send -> message at the browser's socket) of "
            f"{websocket['matched']} of {w['ok']} acked writes: p50 {websocket['p50_ms']} ms, "
            f"p99 {websocket['p99_ms']} ms, max {websocket['max_ms']} ms "
            f"(target p99 <= {TARGET_WS_P99_MS:g} ms); unmatched {websocket['unmatched']}"
        )
    emit(
        "external_writes",
        args.quick,
        seconds=round(time.monotonic() - started, 1),
        rate=args.rate,
        duration_s=args.seconds,
        worker=w,
        bare=b,
        rows_stored=int(rows),
        lost=lost,
        p99_ratio_vs_bare=ratio(w.get("p99_ms", 0), b.get("p99_ms", 0)),
        device_cpu_ms_per_write=cpu_ms,
        cpu_ratio_vs_bare=ratio(cpu_ms["worker"], cpu_ms["bare"]),
        target_p99_ms=TARGET_P99_MS,
        websocket=websocket,
        target_ws_p99_ms=TARGET_WS_P99_MS,
    )
    return 0


def is_external_write(instance: int) -> Callable[[Message], bool]:
    def keep(message: Message) -> bool:
        return bool(
            message.get("type") == "external_write"
            and message.get("object", {}).get("instance") == instance
        )

    return keep


def match_writes(arrivals: list[tuple[float, Message]], acked: list[list[float]]) -> dict[str, Any]:
    """Each acked write (in order, by value) matched to its message; send -> arrival times."""
    delays, position, unmatched = [], 0, 0
    for _number, value, sent_at in acked:  # writes to one object are acked in order
        for index in range(position, min(position + 200, len(arrivals))):
            arrived, message = arrivals[index]
            if abs(float(message["new_value"]) - value) < 1e-3:
                delays.append(1000 * (arrived - sent_at))
                position = index + 1
                break
        else:
            unmatched += 1
    return {
        "matched": len(delays),
        "unmatched": unmatched,
        "messages": len(arrivals),
        "p50_ms": round(percentile(delays, 50), 1),
        "p99_ms": round(percentile(delays, 99), 1),
        "max_ms": round(max(delays), 1) if delays else None,
    }


if __name__ == "__main__":
    raise SystemExit(main())
