"""Group commit of the values the monitoring service learns (COV notifications, polls).

At 1,000 changes a second a transaction and a live message per notification would cost more
than the notifications themselves. So values wait at most `window` seconds (or until
`max_rows` are waiting), are stored in one transaction (store.save_monitored_readings), and go
to open pages as one "points" event per device through the path a collect uses
(events.point_readings), built from memory: no query per value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from bms.realtime.payloads import reading_payload
from bms.worker import events
from bms.worker.db import run_db
from bms.worker.store.monitoring import ReadingRow, save_monitored_readings

log = logging.getLogger(__name__)

WINDOW_SECONDS = 0.05
MAX_ROWS = 500
RETRY_SECONDS = 1.0  # after a failed commit (database restarting): the rows wait, kept
MAX_WAITING = 200_000  # beyond this the oldest values are dropped, counted and logged


class ReadingBatcher:
    """Collects ReadingRows and stores them in group commits; `run` is its one loop."""

    def __init__(self, window: float = WINDOW_SECONDS, max_rows: int = MAX_ROWS) -> None:
        self._window = window
        self._max_rows = max_rows
        self._rows: list[ReadingRow] = []
        self._waiting = asyncio.Event()
        self._full = asyncio.Event()
        self.stored = 0  # readings stored since start (for tests and the benchmark)
        self.dropped = 0  # values lost because the database was away too long
        # Told of each stored batch (the worker's alarm rules, bms.worker.alarm_rules).
        self.on_stored: Callable[[list[ReadingRow], set[int], datetime], Awaitable[None]] | None = (
            None
        )

    def add(self, row: ReadingRow) -> None:
        if len(self._rows) >= MAX_WAITING:
            self.dropped += 1
            if self.dropped % 10_000 == 1:
                log.error("monitoring: database away, %d values dropped so far", self.dropped)
            return
        self._rows.append(row)
        self._waiting.set()
        if len(self._rows) >= self._max_rows:
            self._full.set()

    async def run(self) -> None:
        """Store what arrives until cancelled; what is waiting then is stored by `drain`."""
        while True:
            await self._waiting.wait()
            with contextlib.suppress(TimeoutError):  # the window closed: store what came in it
                await asyncio.wait_for(self._full.wait(), self._window)
            await self._store_waiting()

    async def drain(self, attempts: int = 3) -> None:
        """Store everything still waiting (at shutdown), giving a database that is away
        `attempts` tries."""
        failures = 0
        while self._rows and failures < attempts:
            failures = 0 if await self._store_waiting() else failures + 1
        if self._rows:
            log.error("monitoring: %d values not stored at shutdown", len(self._rows))

    async def _store_waiting(self) -> bool:
        batch, self._rows = self._rows[: self._max_rows], self._rows[self._max_rows :]
        if not self._rows:
            self._waiting.clear()
        if len(self._rows) < self._max_rows:
            self._full.clear()
        if not batch:
            return True
        at = timezone.now()
        try:
            stored = set(await run_db(save_monitored_readings, batch, at))
        except DatabaseError as exc:
            log.warning("monitoring: %d values not stored yet (%s); retrying", len(batch), exc)
            self._rows[:0] = batch
            self._waiting.set()
            await asyncio.sleep(RETRY_SECONDS)
            return False
        self.stored += sum(1 for row in batch if row.point_id in stored)
        await events.point_readings(_payloads_by_device(batch, stored, at))
        if self.on_stored is not None:
            await self.on_stored(batch, stored, at)
        return True


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
