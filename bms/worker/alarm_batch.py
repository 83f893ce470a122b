"""Group commit of remote devices' event notifications (the alarm console's store).

At 1,000 notifications a second a transaction and a live message per notification cost more
than the notifications (about 22 ms to store one, 35-45 ms to publish it: 1.1 stored a second,
measured by bench/alarms.py). So notifications wait at most `window` seconds (or until
`max_events` are waiting), are stored in one transaction (remote.record_remote_events, bulk
operations, the alarms found by the ids this batcher keeps) on the write-path thread, and only
then are the confirmed ones acknowledged: a SimpleAck still means "stored". Then the batch is
announced as one live message, built in the store thread after the commit from the rows it
stored and sent from the event loop (a failed send is logged: the rows are stored, pages catch
up on their next load). If the batch is not stored, its confirmed notifications are refused
(the device sends them again) and its unconfirmed ones wait for the next try (nobody would
send them again).

The queue is bounded: a confirmed notification that finds it full is refused (sent again
later); an unconfirmed one is dropped, counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError

from bms.alarms.remote import RemoteAlarmIds, record_remote_events
from bms.bacnet.event_client import RemoteEvent
from bms.realtime import publish
from bms.worker.db import run_db_write_path

log = logging.getLogger(__name__)

WINDOW_SECONDS = 0.03
MAX_EVENTS = 500
STATS_SECONDS = 10.0  # a line of StageTimes this often while notifications arrive
RETRY_SECONDS = 1.0  # after a failed commit (database restarting): unconfirmed ones wait, kept
MAX_WAITING = 50_000  # beyond this, notifications are refused (confirmed) or dropped (counted)


def store_batch(events: list[RemoteEvent], known: RemoteAlarmIds) -> dict[str, Any]:
    """Store `events` in one transaction (write-path thread); the live `alarms` event of the
    alarms it changed, built after the commit."""
    recorded = record_remote_events(events, known, announce=False)
    return publish.alarms_event(recorded.alarms)


class AlarmQueueFull(RuntimeError):
    """Too many notifications wait to be stored: a confirmed one is refused, sent again."""


@dataclass
class _Waiting:
    event: RemoteEvent
    stored: asyncio.Future[None] | None  # set when stored (confirmed ones: the ack waits on it)
    arrived: float  # time.monotonic() when queued


@dataclass
class StageTimes:
    """Where a period's notifications spent their time in the worker (logged every
    STATS_SECONDS while notifications arrive): queued -> store started, the store (one
    transaction on the write-path thread), the live message."""

    batches: int = 0
    notifications: int = 0
    wait_max: float = 0.0
    store_total: float = 0.0
    store_max: float = 0.0
    publish_total: float = 0.0
    publish_max: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, size: int, wait: float, store: float, publish: float) -> None:
        self.batches += 1
        self.notifications += size
        self.wait_max = max(self.wait_max, wait)
        self.store_total += store
        self.store_max = max(self.store_max, store)
        self.publish_total += publish
        self.publish_max = max(self.publish_max, publish)

    def line(self) -> str:
        batches = max(self.batches, 1)
        return (
            f"{self.notifications} notifications stored in {self.batches} batches over "
            f"{time.monotonic() - self.started:.0f} s; queued -> store max "
            f"{self.wait_max * 1000:.0f} ms; store mean {self.store_total / batches * 1000:.0f} "
            f"max {self.store_max * 1000:.0f} ms; live message mean "
            f"{self.publish_total / batches * 1000:.1f} max {self.publish_max * 1000:.0f} ms"
        )


class AlarmBatcher:
    """Collects notifications and stores them in group commits; `run` is its one loop."""

    def __init__(self, window: float = WINDOW_SECONDS, max_events: int = MAX_EVENTS) -> None:
        self._window = window
        self._max_events = max_events
        self._waiting: list[_Waiting] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self.stored = 0  # notifications stored since start (tests, the benchmark)
        self.batches = 0  # transactions that stored them
        self.dropped = 0  # unconfirmed notifications lost to a full queue
        self.unpublished = 0  # batches stored whose live message could not be sent
        self.stages = StageTimes()
        # Alarm ids by source, used and kept by the write-path thread only (a stale id after a
        # rollback or a deletion is found missing and looked up again).
        self._known: RemoteAlarmIds = {}

    def add(self, event: RemoteEvent) -> asyncio.Future[None] | None:
        """Queue `event`; for a confirmed one, a future done when it is stored (or failed)."""
        if len(self._waiting) >= MAX_WAITING:
            if event.confirmed:
                raise AlarmQueueFull(f"{len(self._waiting)} event notifications wait to be stored")
            self.dropped += 1
            if self.dropped % 1_000 == 1:
                log.error(
                    "alarm console: queue full, %d unconfirmed notifications dropped so far",
                    self.dropped,
                )
            return None
        stored = asyncio.get_running_loop().create_future() if event.confirmed else None
        self._waiting.append(_Waiting(event, stored, time.monotonic()))
        self._arrived.set()
        if len(self._waiting) >= self._max_events:
            self._full.set()
        return stored

    async def run(self) -> None:
        """Store what arrives until cancelled; what is waiting then is stored by `drain`."""
        while True:
            await self._arrived.wait()
            with contextlib.suppress(TimeoutError):  # the window closed: store what came in it
                await asyncio.wait_for(self._full.wait(), self._window)
            await self._store_waiting()

    async def drain(self, attempts: int = 3) -> None:
        """Store everything still waiting (at shutdown), giving a database that is away
        `attempts` tries; what is left is refused (confirmed) or logged (unconfirmed)."""
        failures = 0
        while self._waiting and failures < attempts:
            failures = 0 if await self._store_waiting() else failures + 1
        if self._waiting:
            log.error("alarm console: %d notifications not stored at shutdown", len(self._waiting))
            self.fail_waiting(RuntimeError("the alarm console stopped before storing it"))

    def fail_waiting(self, exc: BaseException) -> None:
        """Refuse every waiting confirmed notification (the loop died or stopped); the
        unconfirmed ones are lost, counted in `dropped`."""
        waiting, self._waiting = self._waiting, []
        self.dropped += sum(1 for item in waiting if item.stored is None)
        self._arrived.clear()
        self._full.clear()
        _fail(waiting, exc)

    async def _store_waiting(self) -> bool:
        batch = self._waiting[: self._max_events]
        self._waiting = self._waiting[self._max_events :]
        if not self._waiting:
            self._arrived.clear()
        if len(self._waiting) < self._max_events:
            self._full.clear()
        if not batch:
            return True
        started = time.monotonic()
        try:
            live = await run_db_write_path(store_batch, [item.event for item in batch], self._known)
        except DatabaseError as exc:
            log.warning("alarm console: %d notifications not stored (%s)", len(batch), exc)
            _fail(batch, exc)  # confirmed ones: refused, the device sends them again
            self._waiting[:0] = [item for item in batch if item.stored is None]
            if self._waiting:
                self._arrived.set()
            await asyncio.sleep(RETRY_SECONDS)
            return False
        except BaseException as exc:  # a bug or cancellation: refuse them, then go on raising
            _fail(batch, exc)
            raise
        self.stored += len(batch)
        self.batches += 1
        for item in batch:
            if item.stored is not None and not item.stored.done():
                item.stored.set_result(None)
        stored = time.monotonic()
        await self._publish(live)
        self._count(len(batch), started - batch[0].arrived, stored - started, started)
        return True

    def _count(self, size: int, wait: float, store: float, started: float) -> None:
        self.stages.add(size, wait, store, time.monotonic() - started - store)
        if time.monotonic() - self.stages.started >= STATS_SECONDS:
            log.info("alarm console: %s", self.stages.line())
            self.stages = StageTimes()

    async def _publish(self, live: dict[str, Any]) -> None:
        try:
            await publish.apublish_alarms_event(live)
        except Exception:  # a courtesy to open pages: the rows are stored; logged, not fatal
            self.unpublished += 1
            log.exception("alarm console: live message of a stored batch not sent")


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for item in batch:
        if item.stored is not None and not item.stored.done():
            item.stored.set_exception(RuntimeError(f"not stored: {exc}"))
