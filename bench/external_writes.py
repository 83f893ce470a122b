"""External writes to the worker's virtual analog output at a fixed rate.

A plain bacpypes3 client process writes present-value (priority 8) of the worker's virtual AO
(template hvac_controller, PostgreSQL database) at --rate writes/s for --seconds, open loop, and
times each write from send to Simple-ACK. The worker stores each write before it acks, so the
BACnetReading rows with source external_bacnet_write must equal the acks (0 lost).
Baseline in the same run: the same load against a bare bacpypes3 device with the same AO (no
hook, nothing stored).
WebSocket arrival (daphne + the realtime layer) is not measured here yet; see bench/README.md.
Targets: ack p99 <= 20 ms, 0 lost.

    .venv/bin/python bench/external_writes.py [--quick]
"""

from __future__ import annotations

import json
import time

from _common import (
    BenchError,
    Processes,
    create_virtual_devices,
    emit,
    free_udp_port,
    manage,
    parser,
    peer_cmd,
    postgres_database,
    print_table,
    ratio,
    run_json,
    sql,
    start_worker,
    virtual_objects,
)

TARGET_P99_MS = 20.0
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
        bare = procs.start("bare", peer_cmd(
            "serve", "--kind", "bare", "--address", f"{HOSTS['bare']}/8:{port}",
            "--objects-json", str(objects_file), "--max-seconds", "900"))
        worker = start_worker(procs, database, f"{HOSTS['worker']}/8:{port}")
        bare.wait_for("ready", timeout=30)
        for kind in ("bare", "worker"):
            runs[kind] = run_json(peer_cmd(
                "write-load", "--address", f"127.0.0.1/8:{port}",
                "--target", f"{HOSTS[kind]}:{port}", "--object",
                f"analog-output,{ao['instance']}", "--rate", str(args.rate),
                "--seconds", str(args.seconds)), timeout=args.seconds + 60)
        (rows,), = sql(database, "SELECT count(*) FROM devices_bacnetreading "
                       "WHERE source = 'external_bacnet_write'")
        if not worker.alive():
            raise BenchError(f"the worker died:\n{worker.output()[-2000:]}")
    w, b = runs["worker"], runs["bare"]
    lost = w["ok"] - int(rows)  # acked but not stored (rows beyond acks: stored, ack late)
    table = [[kind, r["requests"], r.get("skipped_backlog", 0), r["ok"],
              r["errors"] + r["timeouts"], r.get("p50_ms"), r.get("p99_ms"), r.get("max_ms"),
              r["requests_per_s"]] for kind, r in runs.items()]
    print_table(f"External writes at {args.rate:g}/s for {args.seconds:g} s to the virtual AO "
                f"(target ack p99 <= {TARGET_P99_MS:g} ms); rows stored: {rows}, lost: {lost}",
                ["device", "sent", "not sent (200 in flight)", "acked", "failed", "p50 ms",
                 "p99 ms", "max ms", "acks/s"],
                table)
    emit("external_writes", args.quick, seconds=round(time.monotonic() - started, 1),
         rate=args.rate, duration_s=args.seconds, worker=w, bare=b, rows_stored=int(rows),
         lost=lost, p99_ratio_vs_bare=ratio(w.get("p99_ms", 0), b.get("p99_ms", 0)),
         target_p99_ms=TARGET_P99_MS, websocket="not measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
