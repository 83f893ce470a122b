"""Group commit of the values the monitoring service learns (COV notifications, polls).

At 1,000 changes a second a transaction and a live message per notification would cost more
than the notifications themselves. So a value waits at most `window` seconds after the oldest
value waiting (or until `max_rows` are waiting), then everything waiting is stored in one
statement (store.save_monitored_readings) and goes to open pages as one channel-layer message
through the path a collect uses (events.point_readings), built from memory: no query per value.
The window is counted from the oldest waiting value, not from the end of the last commit: values
that arrived while a commit and its live update ran have waited already and go at once, so a
busy batcher stores back to back and a quiet one adds at most `window` to a value's way.

Each commit's stages are timed (Timings: the oldest value's wait, the commit, the live update)
and summarised in the log every TIMING_LOG_SECONDS, so a latency is found from the worker's
log without a profiler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from bms.realtime.payloads import reading_payload
from bms.worker import events
from bms.worker.db import run_db_monitoring
from bms.worker.store.monitoring import ReadingRow, save_monitored_readings

log = logging.getLogger(__name__)

WINDOW_SECONDS = 0.02  # bench/cov.py: ~20 commits/s at 1,000 values/s, a few ms each
MAX_ROWS = 500
RETRY_SECONDS = 1.0  # after a failed commit (database restarting): the rows wait, kept
MAX_WAITING = 200_000  # beyond this the oldest values are dropped, counted and logged
TIMING_LOG_SECONDS = 30.0


class Timings:
    """Seconds spent per stage of the commits since the last summary (see the module's
    docstring): `waited` (the oldest value of a batch, from arrival to the commit's start),
    `commit` and `publish`."""

    def __init__(self) -> None:
        self.stages: dict[str, list[float]] = {"waited": [], "commit": [], "publish": []}
        self.values = 0
        self.since = time.monotonic()

    def add(self, values: int, waited: float, commit: float, publish: float) -> None:
        self.values += values
        for stage, seconds in (("waited", waited), ("commit", commit), ("publish", publish)):
            self.stages[stage].append(seconds)

    def summary(self) -> str:
        commits = len(self.stages["commit"])
        parts = [
            f"{stage} p50/p99/max {_ms(seconds, 0.5)}/{_ms(seconds, 0.99)}/{_ms(seconds, 1.0)} ms"
            for stage, seconds in self.stages.items()
        ]
        elapsed = time.monotonic() - self.since
        return f"{self.values} values in {commits} commits in {elapsed:.0f} s; " + ", ".join(parts)


def _ms(seconds: list[float], fraction: float) -> str:
    ordered = sorted(seconds)
    if not ordered:
        return "-"
    return f"{1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]:.0f}"


class ReadingBatcher:
    """Collects ReadingRows and stores them in group commits; `run` is its one loop."""

    def __init__(self, window: float = WINDOW_SECONDS, max_rows: int = MAX_ROWS) -> None:
        self._window = window
        self._max_rows = max_rows
        self._rows: list[ReadingRow] = []
        # Beside each row: the future of a confirmed notification, resolved once it is stored
        # (the router acknowledges it then), or None.
        self._acks: list[asyncio.Future[None] | None] = []
        self._oldest = 0.0  # monotonic arrival of the oldest value waiting
        self._waiting = asyncio.Event()
        self._full = asyncio.Event()
        self.stored = 0  # readings stored since start (for tests and the benchmark)
        self.dropped = 0  # values lost because the database was away too long
        # Told of each stored batch (the worker's alarm rules, bms.worker.alarm_rules).
        self.on_stored: Callable[[list[ReadingRow], set[int], datetime], Awaitable[None]] | None = (
            None
        )
        self.timings = Timings()

    def add(self, row: ReadingRow, wait: bool = False) -> asyncio.Future[None] | None:
        """Queue `row` for the next group commit. With `wait` (a confirmed notification), a
        future that is resolved once the row is stored, or fails if it cannot be (the queue
        is full, or the worker stops first): its sender is acknowledged only then."""
        ack = asyncio.get_running_loop().create_future() if wait else None
        if len(self._rows) >= MAX_WAITING:
            self.dropped += 1
            if self.dropped % 10_000 == 1:
                log.error("monitoring: database away, %d values dropped so far", self.dropped)
            if ack is not None:
                ack.set_exception(RuntimeError("the readings queue is full"))
            return ack
        if not self._rows:
            self._oldest = time.monotonic()
        self._rows.append(row)
        self._acks.append(ack)
        self._waiting.set()
        if len(self._rows) >= self._max_rows:
            self._full.set()
        return ack

    async def run(self) -> None:
        """Store what arrives until cancelled; what is waiting then is stored by `drain`."""
        while True:
            await self._waiting.wait()
            left = self._oldest + self._window - time.monotonic()
            if left > 0:
                with contextlib.suppress(TimeoutError):  # the window closed: store what came
                    await asyncio.wait_for(self._full.wait(), left)
            await self._store_waiting()
            self._log_timings()

    async def drain(self, attempts: int = 3) -> None:
        """Store everything still waiting (at shutdown), giving a database that is away
        `attempts` tries."""
        failures = 0
        while self._rows and failures < attempts:
            failures = 0 if await self._store_waiting() else failures + 1
        if self._rows:
            log.error("monitoring: %d values not stored at shutdown", len(self._rows))
        for ack in self._acks:
            if ack is not None and not ack.done():
                ack.set_exception(RuntimeError("not stored: the worker is stopping"))
        self._rows, self._acks = [], []

    async def _store_waiting(self) -> bool:
        batch, self._rows = self._rows[: self._max_rows], self._rows[self._max_rows :]
        acks, self._acks = self._acks[: self._max_rows], self._acks[self._max_rows :]
        if not self._rows:
            self._waiting.clear()
        if len(self._rows) < self._max_rows:
            self._full.clear()
        if not batch:
            return True
        started = time.monotonic()
        oldest = self._oldest
        waited = started - oldest
        if self._rows:  # more than max_rows waited: the batcher is behind, the rest goes next
            self._oldest = started - self._window
        at = timezone.now()
        try:
            stored = set(await run_db_monitoring(save_monitored_readings, batch, at))
        except DatabaseError as exc:
            log.warning("monitoring: %d values not stored yet (%s); retrying", len(batch), exc)
            self._rows[:0] = batch
            self._acks[:0] = acks
            self._oldest = min(oldest, self._oldest)
            self._waiting.set()
            await asyncio.sleep(RETRY_SECONDS)
            return False
        self.stored += sum(1 for row in batch if row.point_id in stored)
        committed = time.monotonic()
        for ack in acks:  # stored (or its point deleted meanwhile): the sender may be told
            if ack is not None and not ack.done():
                ack.set_result(None)
        await events.point_readings(_payloads_by_device(batch, stored, at))
        self.timings.add(len(batch), waited, committed - started, time.monotonic() - committed)
        if self.on_stored is not None:
            await self.on_stored(batch, stored, at)
        return True

    def _log_timings(self) -> None:
        if time.monotonic() - self.timings.since >= TIMING_LOG_SECONDS:
            log.info("monitoring: %s", self.timings.summary())
            self.timings = Timings()


def _payloads_by_device(
    batch: list[ReadingRow], stored: set[int], at: datetime
) -> dict[int, list[dict[str, Any]]]:
    """The last value of each stored point, by device pk (pages show the latest)."""
    latest = {row.point_id: row for row in batch if row.point_id in stored}
    by_device: dict[int, list[dict[str, Any]]] = {}
    for row in latest.values():
        by_device.setdefault(row.device_id, []).append(
            reading_payload(row.point_id, row.device_id, row.ref, row.value, row.status_flags, at)
        )
    return by_device
