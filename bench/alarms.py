"""Alarm notifications into the worker: stored/s, lost, p99 notification -> row and -> console.

Setup: a fresh PostgreSQL database, the worker (device 8888 on 127.0.0.1) publishing through
Redis, daphne and a signed-in WebSocket client on the alarm console's group
(/ws/live/?groups=alarms). A sender process (device 7001 on 127.0.0.5; datagrams encoded by
bacpypes3 once per object and direction, then stamped and sent from a plain UDP socket: see
`send`) sends UnconfirmedEventNotification to the worker's address at --rate per second for
--seconds, open loop, over --objects analog inputs, each notification a real transition of its
object (normal -> high-limit -> normal ...). Every notification's message text carries its
sequence number and the wall-clock time it was sent.

Figures: notifications sent, transitions stored (rows whose message names a sequence number)
and lost (sent, no row: target 0), stored/s over the run, p50/p99 notification -> row
(AlarmTransition.recorded_at, set by the worker as it stores: target p99 <= 100 ms) and
notification -> console message (the "alarms" event naming the alarm with that message: target
p99 <= 250 ms; a burst on one alarm is one message, so only the newest notification of a burst
is timed, and the count of timed ones is reported). Also: row p99 per 10 s of the run (a
start-up cost or the whole run?), the worker's CPU over the run per notification sent, and the
sender's CPU and lateness (is the load generator keeping up?).

    .venv/bin/python bench/alarms.py [--quick] [--rate N] [--seconds S] [--objects K]
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

from _common import (
    PYTHON,
    REDIS_URL,
    ROOT,
    BenchError,
    Processes,
    child_env,
    cpu_seconds,
    emit,
    free_udp_port,
    manage,
    parser,
    percentile,
    postgres_database,
    print_table,
    sql,
    start_worker,
)
from _stack import Message, start_listener, websocket_unavailable

SENDER_ADDRESS = "127.0.0.5"
SENDER_DEVICE = 7001
SEQ_DIGITS = 9
TIME_CHARS = 17  # time.time() as "1796000000.123456"
SLICE_SECONDS = 10.0  # row p99 is also shown per slice of the run
SETTLE_SECONDS = 10.0  # after the last send, for the worker to store what it holds


# ---- the sender (a child process) -------------------------------------------------------------


SEQ_MARK = b"\x01" * SEQ_DIGITS  # stand-ins in the encoded message text, replaced per send
TIME_MARK = b"\x02" * TIME_CHARS


def notification_templates(port: int, objects: int) -> list[bytes]:
    """One encoded datagram (BVLL + NPDU + APDU, by bacpypes3) per object and direction
    (raise, return), its message text holding SEQ_MARK and TIME_MARK."""
    from bacpypes3.apdu import UnconfirmedEventNotificationRequest
    from bacpypes3.basetypes import EventState, EventType, NotifyType, TimeStamp
    from bacpypes3.pdu import Address
    from bacpypes3.primitivedata import ObjectIdentifier

    text = f"{SEQ_MARK.decode()} {TIME_MARK.decode()}"
    templates = []
    for alarmed in (True, False):
        for instance in range(objects):
            request = UnconfirmedEventNotificationRequest(
                processIdentifier=1,
                initiatingDeviceIdentifier=ObjectIdentifier(("device", SENDER_DEVICE)),
                eventObjectIdentifier=ObjectIdentifier(("analog-input", instance)),
                timeStamp=TimeStamp.as_dateTime(),
                notificationClass=1,
                priority=100 if alarmed else 200,
                eventType=EventType("outOfRange"),
                messageText=text,
                notifyType=NotifyType("alarm"),
                ackRequired=alarmed,
                fromState=EventState("normal" if alarmed else "highLimit"),
                toState=EventState("highLimit" if alarmed else "normal"),
                destination=Address(f"127.0.0.1:{port}"),
            )
            apdu = bytes(request.encode().encode().pduData)
            npdu = b"\x01\x00" + apdu  # version 1, no routing, no reply expected
            templates.append(b"\x81\x0a" + (len(npdu) + 4).to_bytes(2, "big") + npdu)
    return templates


def send(port: int, rate: float, seconds: float, objects: int) -> dict[str, Any]:
    """Open loop: notification `seq` leaves at start + seq / rate, from 127.0.0.5:`port`.

    Each datagram is encoded once per object and direction by bacpypes3 (notification_templates)
    and its sequence number and send time written into the message text as it goes: sending
    through bacpypes3's stack cost the sender ~1 ms of CPU a notification, and at 1,000/s on the
    2 shared cores it fell 47 s behind its schedule (the run of 2026-12-06 23:00). What the worker
    receives is the same: a valid UnconfirmedEventNotification datagram, one transition of its
    object each. The notification's time-stamp is the moment the templates were encoded.
    """
    templates = notification_templates(port, objects)
    worker = ("127.0.0.1", port)
    total = int(rate * seconds)
    cpu = time.process_time()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((SENDER_ADDRESS, port))
        start = time.monotonic()
        late = 0.0
        for seq in range(total):
            due = start + seq / rate
            wait = due - time.monotonic()
            if wait > 0.001:  # sleep only for a millisecond or more: sleeps are coarse
                time.sleep(wait)
            elif wait < 0:
                late = max(late, -wait)
            instance, round_ = seq % objects, seq // objects
            template = templates[instance if round_ % 2 == 0 else objects + instance]
            stamped = template.replace(SEQ_MARK, f"{seq:0{SEQ_DIGITS}d}".encode()).replace(
                TIME_MARK, f"{time.time():{TIME_CHARS}.6f}".encode()
            )
            sock.sendto(stamped, worker)
        elapsed = time.monotonic() - start
    return {
        "sent": total,
        "send_seconds": elapsed,
        "max_late_s": late,
        "cpu_s": time.process_time() - cpu,
    }


# ---- the bench --------------------------------------------------------------------------------


def sent_at(message: str) -> tuple[int, float] | None:
    parts = message.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    return int(parts[0]), float(parts[1])


def row_latencies(database: str) -> tuple[dict[int, float], float]:
    """seq -> seconds from send to stored row, and the rows' stored/s."""
    rows = sql(database, "SELECT message, recorded_at FROM alarms_alarmtransition")
    latencies: dict[int, float] = {}
    times = []
    for message, recorded in rows:
        parsed = sent_at(message)
        if parsed is None:
            continue
        latencies[parsed[0]] = recorded.timestamp() - parsed[1]
        times.append(recorded.timestamp())
    span = (max(times) - min(times)) if len(times) > 1 else 0.0
    return latencies, (len(times) / span if span else float(len(times)))


def console_latencies(arrivals: list[tuple[float, Message]]) -> dict[int, float]:
    latencies: dict[int, float] = {}
    for arrived, event in arrivals:
        for alarm in event.get("alarms", ()):
            parsed = sent_at(alarm.get("message", ""))
            if parsed is not None and parsed[0] not in latencies:
                latencies[parsed[0]] = arrived - parsed[1]
    return latencies


def p99_per_slice(latencies: dict[int, float], per_slice: int) -> list[float | None]:
    """p99 (ms) of the notifications sent in each SLICE_SECONDS of the run, in order: shows
    whether the tail is a start-up cost or the whole run."""
    slices: dict[int, list[float]] = {}
    for seq, latency in latencies.items():
        slices.setdefault(seq // max(per_slice, 1), []).append(latency)
    return [
        round(percentile(slices[n], 99) * 1000, 1) if n in slices else None
        for n in range(max(slices, default=-1) + 1)
    ]


def run(args: Any) -> dict[str, Any]:
    why = websocket_unavailable()
    if why:
        raise BenchError(f"the console figure needs Redis and websockets: {why}")
    port = free_udp_port()
    with postgres_database() as database, Processes(args.keep_logs) as procs:
        manage(database, "migrate", "--no-input")
        worker = start_worker(procs, database, f"127.0.0.1/8:{port}", REDIS_URL=REDIS_URL)
        listener = start_listener(
            procs, database, "/ws/live/?groups=alarms", keep=lambda m: m.get("type") == "alarms"
        )
        worker_cpu = cpu_seconds(worker.popen.pid)
        sender = procs.start(
            "sender",
            [
                PYTHON, str(ROOT / "bench" / "alarms.py"), "--send", "--port", str(port),
                "--rate", str(args.rate), "--seconds", str(args.seconds),
                "--objects", str(args.objects),
            ],
            env=child_env(),
        )  # fmt: skip
        sender.wait_for("SENT ", timeout=args.seconds * 3 + 60)
        sent = json.loads(sender.output().split("SENT ", 1)[1].splitlines()[0])
        time.sleep(SETTLE_SECONDS if not args.quick else 3.0)
        worker_cpu = cpu_seconds(worker.popen.pid) - worker_cpu
        arrivals = listener.stop()
        rows, stored_per_s = row_latencies(database)
    console = console_latencies(arrivals)
    row_values = list(rows.values())
    slice_n = int(args.rate * SLICE_SECONDS)
    console_values = list(console.values())
    return {
        "rate": args.rate,
        "seconds": args.seconds,
        "objects": args.objects,
        "sent": sent["sent"],
        "sender_seconds": round(sent["send_seconds"], 2),
        "sender_max_late_s": round(sent["max_late_s"], 3),
        "sender_cpu_s": round(sent["cpu_s"], 2),
        "worker_cpu_s": round(worker_cpu, 2),
        "worker_cpu_ms_per_notification": round(worker_cpu * 1000 / max(sent["sent"], 1), 3),
        "stored": len(rows),
        "lost": sent["sent"] - len(rows),
        "stored_per_s": round(stored_per_s, 1),
        "row_p50_ms": round(percentile(row_values, 50) * 1000, 1) if row_values else None,
        "row_p99_ms": round(percentile(row_values, 99) * 1000, 1) if row_values else None,
        "row_p99_ms_per_10s": p99_per_slice(rows, slice_n),
        "console_timed": len(console),
        "console_p50_ms": round(percentile(console_values, 50) * 1000, 1)
        if console_values
        else None,
        "console_p99_ms": round(percentile(console_values, 99) * 1000, 1)
        if console_values
        else None,
    }


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=1000.0, help="notifications per second")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--objects", type=int, default=500, help="event-initiating objects")
    p.add_argument("--send", action="store_true", help=argparse_hidden())
    p.add_argument("--port", type=int, default=0, help=argparse_hidden())
    args = p.parse_args()
    if args.send:
        outcome = send(args.port, args.rate, args.seconds, args.objects)
        print("SENT " + json.dumps(outcome), flush=True)
        return 0
    if args.quick:
        args.rate, args.seconds, args.objects = 50.0, 3.0, 10
    figures = run(args)
    print_table(
        "alarm notifications into the worker",
        list(figures),
        [list(figures.values())],
    )
    emit("alarms", args.quick, **figures)
    return 0


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
