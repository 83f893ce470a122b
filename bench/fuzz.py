"""Malformed and mutated datagrams against device 8888: does it keep answering, and quietly?

The full-size campaign of issue 11 (tests/bacnet/test_malformed.py runs 20,000 in the suite):
device 8888 (our stack, serve_device, AO 1 and AI 1) on 127.0.0.2, a plain UDP socket on
127.0.0.4 sending mutations of valid datagrams (tests/bacnet/fuzzing.py) in bursts, and a
bacpypes3 client on 127.0.0.3 reading AI 1 before and after. Everything runs in this process
on one event loop, so the RSS is the device's plus a few MB of sender.

Figures: datagrams sent and received by the device, answers it sent back to the fuzzer,
malformed datagrams counted by kind, ReadProperty answered after, octets logged at INFO and
above (tracebacks included), RSS before and after, and the time taken.

    .venv/bin/python bench/fuzz.py [--count 120000] [--seed 1] [--max-seconds 300] [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit, free_udp_port, parser, print_table, rss_mb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import ObjectSpec, serve_device
from bms.bacnet.malformed import malformed_datagrams
from bms.bacnet.stack import close_application, open_application
from tests.bacnet.fuzzing import capture_logs, send_mutations

READS = 100  # ReadProperty requests after the campaign


async def campaign(args: Any) -> dict[str, Any]:
    port = free_udp_port()
    app, _device = await serve_device(
        EngineConfig(address=f"127.0.0.2/8:{port}"),
        objects=[ObjectSpec("AO", 1, "Setpoint"), ObjectSpec("AI", 1, "RoomTemp")],
    )
    client = await open_application(
        EngineConfig(address=f"127.0.0.3/8:{port}", device_instance=9001)
    )
    guard = malformed_datagrams(app)
    assert guard is not None
    try:
        gc.collect()
        rss_before = rss_mb(os.getpid())
        answered_before = await read_object_names(client, port, 10)
        baseline = guard.received
        with capture_logs() as logs:
            sent = await send_mutations(
                ("127.0.0.2", port),
                "127.0.0.4",
                args.count,
                seed=args.seed,
                max_seconds=args.max_seconds,
                received=lambda: guard.received - baseline,
            )
            answered_after = await read_object_names(client, port, READS)
            guard.flush()
        gc.collect()
        rss_after = rss_mb(os.getpid())
    finally:
        close_application(client)
        close_application(app)
    return {
        "sent": sent.sent,
        "seconds": round(sent.seconds, 2),
        "received_by_device": guard.received,
        "answers_to_fuzzer": sent.answers,
        "malformed": guard.dropped,
        "malformed_by_kind": dict(guard.totals),
        "reads_answered_before": answered_before,
        "reads_answered_after": answered_after,
        "reads_after": READS,
        "log_octets": logs.octets,
        "log_records_warning_or_worse": sum(r.levelno >= 30 for r in logs.records),
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after": round(rss_after, 1),
    }


async def read_object_names(client: Any, port: int, count: int) -> int:
    answered = 0
    for _ in range(count):
        async with asyncio.timeout(5.0):
            name = await client.read_property(
                Address(f"127.0.0.2:{port}"), ObjectIdentifier(("analog-input", 1)), "object-name"
            )
        answered += str(name) == "RoomTemp"
    return answered


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--count", type=int, default=120_000, help="datagrams to send (120,000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-seconds", type=float, default=300.0, help="stop sending after (300)")
    args = p.parse_args()
    if args.quick:
        args.count = 2_000
    started = time.monotonic()
    figures = asyncio.run(campaign(args))
    rows = [[name, value] for name, value in figures.items()]
    print_table("fuzz: mutated datagrams against device 8888", ["figure", "value"], rows)
    emit("fuzz", args.quick, total_seconds=round(time.monotonic() - started, 1), **figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
