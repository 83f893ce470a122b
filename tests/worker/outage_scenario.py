"""A database outage under a running worker, as a peer and an operator see it.

Shared by tests/worker/test_database_outage.py and bench/durability.py. A bacpypes3 client reads
device 8888 every 50 ms and writes a new value every 200 ms; a discover task is running when the
worker's private PostgreSQL is stopped (`fast`, as an administrator's stop or a failover ends
every session); after `outage_seconds` the server is started again and a second discover is
queued. What the client saw and what the database holds afterwards are returned for the caller
to judge: a read unanswered, an acknowledged write not stored, a task left running.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.app import Application
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.stack import close_application, open_application
from tests.worker.conftest import Process, manage, sql
from tests.worker.private_postgres import PrivatePostgres

READ_EVERY = 0.05
WRITE_EVERY = 0.2
ANSWER_WITHIN = 3.0  # a read or write unanswered this long counts as unanswered
# A discover of instances no device has: it waits its whole Who-Is timeout (the worker's
# BACNET_TIMEOUT), long enough to be running when the server stops.
SLOW_DISCOVER = ("bacnet_task", "discover", "--low", "4000000", "--high", "4000001", "--force")


@dataclass
class Seen:
    """What the client saw, on time.monotonic()."""

    reads: list[tuple[float, bool]] = field(default_factory=list)  # (sent, answered)
    writes: list[tuple[float, float, str]] = field(default_factory=list)  # (sent, value, outcome)


@dataclass
class Outage:
    seen: Seen
    stop_requested_at: float  # pg_ctl stop called
    stopped_at: float  # pg_ctl stop returned: the server is down
    started_at: float  # pg_ctl start called
    up_at: float  # pg_ctl start returned: the server accepts connections again
    task_ids: tuple[int, int]  # running at the stop; queued after the start
    task_status: dict[int, str]
    worker_alive_during: bool
    stored_values: list[float]  # accepted external writes in the audit, in order
    worker_log: str

    @property
    def acked(self) -> list[tuple[float, float]]:
        return [(t, value) for t, value, outcome in self.seen.writes if outcome == "ack"]

    @property
    def refused(self) -> list[tuple[float, str]]:
        return [(t, outcome) for t, _value, outcome in self.seen.writes if outcome != "ack"]

    @property
    def unanswered_reads(self) -> int:
        return sum(1 for _t, answered in self.seen.reads if not answered)

    @property
    def acked_not_stored(self) -> list[float]:
        stored = set(self.stored_values)
        return [value for _t, value in self.acked if value not in stored]

    @property
    def acked_while_down(self) -> list[float]:
        """Acks to writes sent while the server was down (a write sent during its shutdown
        may still be stored and acked: acked_not_stored checks those)."""
        return [v for t, v in self.acked if self.stopped_at < t < self.started_at]

    @property
    def time_to_detect(self) -> float:
        """From the server being down until the first refused write (0: it was refusing
        already while the server shut down)."""
        first = min(t for t, _ in self.refused if t >= self.stop_requested_at)
        return max(0.0, first - self.stopped_at)

    @property
    def time_to_resume(self) -> float:
        """From the server's start until the first acknowledged write after it."""
        return min(t for t, _ in self.acked if t >= self.started_at) - self.started_at

    @property
    def time_to_resume_once_up(self) -> float:
        """From the server accepting connections until the first acknowledged write after its
        start: what the worker's probe backoff bounds (how long pg_ctl start takes is not the
        worker's)."""
        return max(0.0, self.time_to_resume - (self.up_at - self.started_at))

    def figures(self) -> dict[str, Any]:
        return {
            "outage_seconds": round(self.started_at - self.stopped_at, 2),
            "server_stop_seconds": round(self.stopped_at - self.stop_requested_at, 2),
            "reads": len(self.seen.reads),
            "reads_unanswered": self.unanswered_reads,
            "writes": len(self.seen.writes),
            "writes_acked": len(self.acked),
            "writes_refused": len(self.refused),
            "refusals": sorted({outcome for _t, outcome in self.refused}),
            "acked_not_stored": len(self.acked_not_stored),
            "acked_while_down": len(self.acked_while_down),
            "time_to_detect_s": round(self.time_to_detect, 3),
            "time_to_resume_s": round(self.time_to_resume, 3),
            "server_start_seconds": round(self.up_at - self.started_at, 2),
            "time_to_resume_once_up_s": round(self.time_to_resume_once_up, 3),
            "tasks": self.task_status,
            "worker_alive_during": self.worker_alive_during,
            "outage_log": [
                line.split(" bms.worker.db_health: ", 1)[1][:60]
                for line in self.worker_log.splitlines()
                if " bms.worker.db_health: " in line
            ],
            "log_lines_refused_writes": self.worker_log.count("refused by the hook"),
            "log_tracebacks": self.worker_log.count("Traceback"),
        }


async def _client(port: int) -> Application:
    return await open_application(
        EngineConfig(address=f"127.0.0.9/8:{port}", device_instance=5009, device_name="outage")
    )


async def _reads(app: Application, bms: Address, ref: str, seen: Seen, stop: asyncio.Event) -> None:
    while not stop.is_set():
        sent = time.monotonic()
        try:
            async with asyncio.timeout(ANSWER_WITHIN):
                await app.read_property(bms, ref, "present-value")
            seen.reads.append((sent, True))
        except (ErrorRejectAbortNack, TimeoutError):
            seen.reads.append((sent, False))
        await asyncio.sleep(READ_EVERY)


async def _writes(
    app: Application, bms: Address, ref: str, seen: Seen, stop: asyncio.Event
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        value = n * 0.25  # exact in a BACnet Real, unique, within the damper's 0-100 %
        sent = time.monotonic()
        try:
            async with asyncio.timeout(ANSWER_WITHIN):
                await app.write_property(bms, ref, "present-value", Real(value), priority=8)
            outcome = "ack"
        except ErrorRejectAbortNack as err:
            outcome = f"{err.errorClass}:{err.errorCode}"  # type: ignore[attr-defined]
        except TimeoutError:
            outcome = "timeout"
        seen.writes.append((sent, value, outcome))
        await asyncio.sleep(WRITE_EVERY)


def queue_slow_task(database_url: str) -> int:
    queued = manage(database_url, *SLOW_DISCOVER)
    assert queued.returncode == 0, queued.stderr
    found = re.search(r"queued discover task (\d+)", queued.stdout)
    assert found, queued.stdout
    return int(found.group(1))


def task_status(database_url: str, task_id: int) -> str:
    ((status,),) = sql(database_url, "SELECT status FROM tasks_bacnettask WHERE id=%s", task_id)
    return str(status)


async def _until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout}s")
        await asyncio.sleep(0.1)


async def run_outage(
    pg: PrivatePostgres,
    database_url: str,
    port: int,
    worker: Process,
    refs: tuple[str, str],
    outage_seconds: float,
    first: int | None = None,
) -> Outage:
    """`refs`: (an object to read, a commandable analog object to write); `first`: a slow
    task queued already (else one is queued here), to be running when the server stops."""
    read_ref, write_ref = refs
    seen, stop = Seen(), asyncio.Event()
    app = await _client(port)
    bms = Address(f"127.0.0.1:{port}")
    traffic = [
        asyncio.create_task(_reads(app, bms, read_ref, seen, stop), name="reads"),
        asyncio.create_task(_writes(app, bms, write_ref, seen, stop), name="writes"),
    ]
    try:
        if first is None:
            first = await asyncio.to_thread(queue_slow_task, database_url)
        running = first
        await _until(lambda: task_status(database_url, running) == "running", 15, "task running")
        stop_requested_at = time.monotonic()
        await asyncio.to_thread(pg.stop)
        stopped_at = time.monotonic()
        await asyncio.sleep(outage_seconds)
        alive = worker.popen.poll() is None
        started_at = time.monotonic()
        await asyncio.to_thread(pg.start)
        up_at = time.monotonic()
        second = await asyncio.to_thread(queue_slow_task, database_url)

        def settled() -> bool:
            if worker.popen.poll() is not None:
                raise AssertionError(f"the worker exited:\n{worker.output()[-3000:]}")
            statuses = [task_status(database_url, t) for t in (first, second)]
            resumed = any(t > started_at and o == "ack" for t, _v, o in seen.writes)
            return resumed and all(s in ("completed", "failed") for s in statuses)

        await _until(settled, 25, "writes acked again and both tasks finished")
    finally:
        stop.set()
        await asyncio.gather(*traffic, return_exceptions=True)
        close_application(app)
    stored = sql(
        database_url,
        "SELECT new_value FROM devices_writeaudit WHERE accepted AND property='present-value' "
        "ORDER BY id",
    )
    return Outage(
        seen=seen,
        stop_requested_at=stop_requested_at,
        stopped_at=stopped_at,
        started_at=started_at,
        up_at=up_at,
        task_ids=(first, second),
        task_status={t: task_status(database_url, t) for t in (first, second)},
        worker_alive_during=alive,
        stored_values=[float(json.loads(v) if isinstance(v, str) else v) for (v,) in stored],
        worker_log=worker.output(),
    )
