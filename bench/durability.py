"""Nothing acknowledged is lost: kill -9 under external writes, and a database outage.

The full-size campaign of issue 11, on a PostgreSQL of its own (initdb + pg_ctl in /tmp, never the
shared server: the outage stops it) or an SQLite file:

1. kill -9 rounds. The real worker serves an air_handling_unit's objects; a bacpypes3 client on
   127.0.0.9 writes every property a peer may write (the AO's present-value at priority 8,
   relinquish-default, description, cov-increment and out-of-service; the AI, put out of
   service, its present-value, description and cov-increment), one writer per property, each
   value new, as fast as the acks come. After a random 1-3 s the worker is killed with
   SIGKILL and started again. Then: each acknowledged write must have its audit row (acked vs
   stored), and each property must read back the last value acknowledged for it (or the one
   in flight at the kill, if that was stored before the worker died).
2. the outage (tests/worker/outage_scenario.py, which tests/worker/test_database_outage.py runs
   for 5 s): reads every 50 ms and writes every 200 ms while the server is stopped for
   `--outage-seconds`, a discover task running at the stop and another queued after the start.

    .venv/bin/python bench/durability.py [--rounds 10] [--outage-seconds 30]
        [--database postgres|sqlite] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import emit, free_udp_port, parser, print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Boolean, CharacterString, Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.values import to_python
from tests.worker import private_postgres
from tests.worker.conftest import Process, _migrated, manage, sql, start_worker
from tests.worker.outage_scenario import run_outage
from tests.worker.test_external_writes import objects_of

MAX_ROUNDS = 50
MAX_OUTAGE_SECONDS = 120.0
WRITE_ANSWER_WITHIN = 2.0  # a write unanswered this long (the worker is dead) is "in flight"


def _value(prop: str, obj: str, n: int) -> Any:
    """A new value for the n-th write of a property, exact in a BACnet Real, within limits."""
    if prop == "description":
        return CharacterString(f"{obj} write {n}")
    if prop == "out-of-service":
        return Boolean(n % 2 == 1)
    if prop == "cov-increment":
        return Real(0.5 + (n % 4096) / 64)
    if obj == "Supply_Air_Temperature":  # present-value, -20..60
        return Real(-20 + (n % 5120) / 64)
    return Real((n % 6400) / 64)  # the damper's present-value / relinquish-default, 0..100


WRITERS: list[tuple[str, str]] = [
    ("Damper_Position", "present-value"),
    ("Damper_Position", "relinquish-default"),
    ("Damper_Position", "description"),
    ("Damper_Position", "cov-increment"),
    ("Damper_Position", "out-of-service"),
    ("Supply_Air_Temperature", "present-value"),
    ("Supply_Air_Temperature", "description"),
    ("Supply_Air_Temperature", "cov-increment"),
]


@dataclass
class Writer:
    obj: str
    prop: str
    acked: list[Any] = field(default_factory=list)
    refused: int = 0
    in_flight: Any = None  # unanswered when the worker died


async def _write_until(
    app: Any, bms: Address, ref: str, writer: Writer, start: int, end: float
) -> None:
    n = start
    while time.monotonic() < end:
        n += 1
        value = _value(writer.prop, writer.obj, n)
        priority = 8 if (writer.obj, writer.prop) == ("Damper_Position", "present-value") else None
        try:
            async with asyncio.timeout(WRITE_ANSWER_WITHIN):
                await app.write_property(bms, ref, writer.prop, value, priority=priority)
        except TimeoutError:
            writer.in_flight = to_python(value)
            return
        except ErrorRejectAbortNack:
            writer.refused += 1  # the worker dying mid-write, or its restart; never an ack
            continue
        writer.acked.append(to_python(value))


async def kill_round(
    port: int, worker: Process, refs: dict[str, str], first_n: int, rng: random.Random
) -> list[Writer]:
    app = await open_application(
        EngineConfig(address=f"127.0.0.9/8:{port}", device_instance=5009, device_name="bench")
    )
    bms = Address(f"127.0.0.1:{port}")
    try:
        # Inputs take a present-value only out of service.
        await app.write_property(
            bms, refs["Supply_Air_Temperature"], "out-of-service", Boolean(True)
        )
        writers = [Writer(obj, prop) for obj, prop in WRITERS]
        kill_at = time.monotonic() + rng.uniform(1.0, 3.0)
        end = kill_at + WRITE_ANSWER_WITHIN + 1
        tasks = [
            asyncio.create_task(_write_until(app, bms, refs[w.obj], w, first_n, end), name=w.prop)
            for w in writers
        ]
        await asyncio.sleep(kill_at - time.monotonic())
        worker.stop(signal.SIGKILL)
        await asyncio.gather(*tasks)
    finally:
        close_application(app)
    return writers


async def read_back(port: int, refs: dict[str, str]) -> dict[tuple[str, str], Any]:
    app = await open_application(
        EngineConfig(address=f"127.0.0.9/8:{port}", device_instance=5009, device_name="bench")
    )
    bms = Address(f"127.0.0.1:{port}")
    try:
        return {
            (obj, prop): to_python(await app.read_property(bms, refs[obj], prop))
            for obj, prop in WRITERS
        }
    finally:
        close_application(app)


def stored_writes(url: str, after_id: int) -> dict[tuple[str, str], list[Any]]:
    rows = sql(
        url,
        "SELECT a.id, o.name, a.property, a.new_value FROM devices_writeaudit a JOIN "
        "virtual_virtualobject o ON a.virtual_object_id=o.id WHERE a.accepted AND a.id > %s "
        "ORDER BY a.id",
        after_id,
    )
    stored: dict[tuple[str, str], list[Any]] = {}
    for _id, name, prop, value in rows:
        stored.setdefault((name, prop), []).append(_plain(url, value))
    return stored


def _plain(url: str, value: Any) -> Any:
    """A JSON column as read: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if url.startswith("sqlite") else value


def last_audit_id(url: str) -> int:
    ((last,),) = sql(url, "SELECT COALESCE(MAX(id), 0) FROM devices_writeaudit")
    return int(last)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-6 * max(1.0, abs(a))
    return bool(a == b)


def judge(
    writers: list[Writer],
    stored: dict[tuple[str, str], list[Any]],
    read: dict[tuple[str, str], Any],
) -> dict[str, Any]:
    acked = lost = mismatched = in_flight_stored = 0
    for w in writers:
        kept = stored.get((w.obj, w.prop), [])
        acked += len(w.acked)
        # Each acked write has its audit row, in order (the values of a writer are new, except
        # out-of-service, which alternates: its rows are matched by position).
        lost += max(0, len(w.acked) - len(kept))
        lost += sum(1 for a, s in zip(w.acked, kept, strict=False) if not _same(a, s))
        if len(kept) > len(w.acked):
            in_flight_stored += 1
        expected = [w.acked[-1]] if w.acked else []
        if w.in_flight is not None:
            expected.append(w.in_flight)
        got = read[(w.obj, w.prop)]
        if expected and not any(_same(got, e) for e in expected):
            mismatched += 1
    return {
        "acked": acked,
        "acked_not_stored": lost,
        "read_back_mismatches": mismatched,
        "in_flight": sum(1 for w in writers if w.in_flight is not None),
        "in_flight_stored": in_flight_stored,
        "refused": sum(w.refused for w in writers),
    }


def kill_campaign(url: str, rounds: int, seed: int, start: Any) -> list[dict[str, Any]]:
    created = manage(
        url,
        "bacnet_virtual",
        "create",
        "--device-id",
        "1001",
        "--name",
        "AHU",
        "--template",
        "air_handling_unit",
    )
    if created.returncode != 0:
        raise RuntimeError(created.stderr)
    refs = {name: f"{kind},{inst}" for name, (kind, inst) in objects_of(url, 1001).items()}
    port = free_udp_port()
    rng = random.Random(seed)
    results = []
    worker = start_worker(start, url, port)
    for n in range(rounds):
        before = last_audit_id(url)
        started = time.monotonic()
        writers = asyncio.run(kill_round(port, worker, refs, n * 10_000, rng))
        worker = start_worker(start, url, port)
        read = asyncio.run(read_back(port, refs))
        figures = judge(writers, stored_writes(url, before), read)
        figures["round"] = n + 1
        figures["seconds"] = round(time.monotonic() - started, 1)
        results.append(figures)
    worker.stop()
    return results


class Starter:
    """start_worker's process factory (the tests' fixture, outside pytest)."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.started: list[Process] = []

    def __call__(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        process = Process(args, env, self.logdir / f"{name}-{len(self.started)}.log")
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


def with_database(kind: str, logdir: Path, run: Any) -> Any:
    if kind == "sqlite":
        url = next(_migrated(iter([f"sqlite:///{logdir / 'bms.sqlite3'}"])))
        return run(url, None)
    why_not = private_postgres.available()
    if why_not is not None:
        raise SystemExit(f"durability: no private PostgreSQL: {why_not}")
    pg = private_postgres.PrivatePostgres()
    try:
        pg.start()
        url = next(_migrated(iter([pg.create_database("bms")])))
        return run(url, pg)
    finally:
        pg.close()


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--rounds", type=int, default=10, help=f"kill -9 rounds (max {MAX_ROUNDS})")
    p.add_argument("--outage-seconds", type=float, default=30.0)
    p.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", choices=["kills", "outage"], help="run one part of the campaign")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.outage_seconds = 2, 5.0
    args.rounds = max(1, min(args.rounds, MAX_ROUNDS))
    args.outage_seconds = max(1.0, min(args.outage_seconds, MAX_OUTAGE_SECONDS))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bms-durability-") as tmp:
        logdir = Path(tmp)
        kills: list[dict[str, Any]] = []
        outage: dict[str, Any] = {}
        if args.only != "outage":
            starter = Starter(logdir)
            try:
                kills = with_database(
                    args.database,
                    logdir,
                    lambda url, _pg: kill_campaign(url, args.rounds, args.seed, starter),
                )
            finally:
                starter.stop_all()
        if args.only != "kills":
            outage_starter = Starter(logdir)
            try:
                outage = with_database(
                    "postgres", logdir, lambda url, pg: _outage(url, pg, args, outage_starter)
                )
            finally:
                outage_starter.stop_all()
    headers = [
        "round",
        "acked",
        "acked_not_stored",
        "read_back_mismatches",
        "in_flight",
        "in_flight_stored",
        "refused",
        "seconds",
    ]
    print_table(
        f"kill -9 under writes of every writable property ({args.database})",
        headers,
        [[r[h] for h in headers] for r in kills],
    )
    print_table("database outage (private PostgreSQL)", ["figure", "value"], list(outage.items()))
    emit(
        "durability",
        args.quick,
        database=args.database,
        rounds=args.rounds,
        acked=sum(r["acked"] for r in kills),
        acked_not_stored=sum(r["acked_not_stored"] for r in kills),
        read_back_mismatches=sum(r["read_back_mismatches"] for r in kills),
        kills=kills,
        outage=outage,
        total_seconds=round(time.monotonic() - started, 1),
    )
    return 0


def _outage(url: str, pg: Any, args: Any, start: Starter) -> dict[str, Any]:
    created = manage(
        url,
        "bacnet_virtual",
        "create",
        "--device-id",
        "1001",
        "--name",
        "AHU",
        "--template",
        "air_handling_unit",
    )
    if created.returncode != 0:
        raise RuntimeError(created.stderr)
    objects = objects_of(url, 1001)
    refs = tuple(
        f"{kind},{inst}"
        for kind, inst in (objects["Supply_Air_Temperature"], objects["Damper_Position"])
    )
    port = free_udp_port()
    worker = start_worker(start, url, port, BACNET_TIMEOUT="4")
    outage = asyncio.run(run_outage(pg, url, port, worker, refs, args.outage_seconds))
    figures = outage.figures()
    figures["worker_alive_after"] = worker.popen.poll() is None
    return figures


if __name__ == "__main__":
    sys.exit(main())
