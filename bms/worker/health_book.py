"""The health of every device of the site, fed by every request the worker makes to it.

Theory of operation. The engine's client tells the book the outcome of each confirmed request
(`Client.observe_outcomes`): an answer of any kind (a value, an error, a reject) means the
device is there, a request unanswered after its retries counts one failure. So a collect, a
read_points job, a write, a poll, a subscription and a probe all move the same DeviceHealth
(bms.bacnet.health), whoever made them, a COV renewal included (it counts like any request,
N in a row); a COV notification and an I-Am are told by the monitoring service. Time moves
it too: `run` ticks every device once a second (unreachable -> offline after the policy's
offline_after).

Each change is queued and stored in order by `run` (with its event, published live), so the
request paths never wait on the database. A device's monitor registers a wake-up
(`listen`) and is woken when its device changes state, e.g. a collect's answer brings an
unreachable device back and its subscriptions are made again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bms.bacnet.errors import BACnetError
from bms.bacnet.health import DeviceHealth, HealthChange, HealthPolicy

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0

# Stores a change; returns False when the stored health was no longer `change.old` (someone
# else moved the device: the caller re-reads it and the book adopts the stored state).
HealthStore = Callable[[int, HealthChange], Awaitable[bool]]
HealthReader = Callable[[int], Awaitable["StoredHealth | None"]]


@dataclass(frozen=True)
class StoredHealth:
    status: str
    since: float  # seconds since the epoch


class HealthBook:
    def __init__(self, policy: HealthPolicy, store: HealthStore, reader: HealthReader) -> None:
        self.policy = policy
        self._store = store
        self._reader = reader
        self._health: dict[int, DeviceHealth] = {}
        self._devices_at: dict[str, set[int]] = {}  # peer key -> device ids
        self._address_of: dict[int, str] = {}
        self._names: dict[int, int] = {}  # device id -> instance, for the log
        self._listeners: dict[int, Callable[[], None]] = {}
        self._queue: list[tuple[int, HealthChange]] = []
        self._queued = asyncio.Event()

    # ---- which devices

    def track(self, device_id: int, instance: int, peer_key: str, stored: StoredHealth) -> None:
        """Add a device or refresh it from its row: its address, and its stored health when
        that differs and nothing of ours is waiting to be stored (a discovery moved it)."""
        self._names[device_id] = instance
        old_key = self._address_of.get(device_id)
        if old_key != peer_key:
            if old_key is not None:
                self._devices_at[old_key].discard(device_id)
            self._devices_at.setdefault(peer_key, set()).add(device_id)
            self._address_of[device_id] = peer_key
        health = self._health.get(device_id)
        if health is None:
            self._health[device_id] = DeviceHealth(self.policy, stored.status, stored.since)
        elif health.status != stored.status and not self._pending(device_id):
            self._adopt(device_id, stored)

    def untrack(self, device_id: int) -> None:
        key = self._address_of.pop(device_id, None)
        if key is not None:
            self._devices_at[key].discard(device_id)
        self._health.pop(device_id, None)
        self._listeners.pop(device_id, None)
        self._names.pop(device_id, None)

    def tracked(self) -> set[int]:
        return set(self._health)

    def health(self, device_id: int) -> DeviceHealth:
        return self._health[device_id]

    def listen(self, device_id: int, wake: Callable[[], None]) -> None:
        self._listeners[device_id] = wake

    def unlisten(self, device_id: int) -> None:
        self._listeners.pop(device_id, None)

    # ---- what happened

    def on_outcome(self, peer_key: str, error: BACnetError | None) -> None:
        """The client's request outcome listener."""
        for device_id in list(self._devices_at.get(peer_key, ())):
            if error is None:
                self.answered(device_id)
            else:
                self.failed(device_id, str(error))

    def answered(self, device_id: int, reason: str = "answered") -> None:
        health = self._health.get(device_id)
        if health is not None:
            self._note(device_id, health.answered(time.time(), reason))

    def failed(self, device_id: int, reason: str) -> None:
        health = self._health.get(device_id)
        if health is not None:
            self._note(device_id, health.request_failed(time.time(), reason))

    def _note(self, device_id: int, change: HealthChange | None) -> None:
        if change is None:
            return
        log.log(
            logging.INFO if change.new == "online" else logging.WARNING,
            "device %s: %s -> %s (%s)",
            self._names.get(device_id, f"#{device_id}"),
            change.old,
            change.new,
            change.reason,
        )
        self._queue.append((device_id, change))
        self._queued.set()
        wake = self._listeners.get(device_id)
        if wake is not None:
            wake()

    def _pending(self, device_id: int) -> bool:
        return any(queued == device_id for queued, _change in self._queue)

    def _adopt(self, device_id: int, stored: StoredHealth) -> None:
        self._health[device_id] = DeviceHealth(self.policy, stored.status, stored.since)
        wake = self._listeners.get(device_id)
        if wake is not None:
            wake()

    # ---- the loop

    async def run(self) -> None:
        """Store changes as they come and tick every device each second, until cancelled."""
        while True:
            self._queued.clear()
            with contextlib.suppress(TimeoutError):  # a tick
                await asyncio.wait_for(self._queued.wait(), TICK_SECONDS)
            now = time.time()
            for device_id, health in list(self._health.items()):
                self._note(device_id, health.tick(now))
            await self.store_queued()

    async def store_queued(self) -> None:
        """Store what is queued, in order (also at shutdown)."""
        while self._queue:
            device_id, change = self._queue[0]
            stored = await self._store(device_id, change)
            self._queue.pop(0)
            if not stored:
                current = await self._reader(device_id)
                if (
                    current is not None
                    and device_id in self._health
                    and not self._pending(device_id)
                ):
                    self._adopt(device_id, current)
