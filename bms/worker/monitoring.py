"""The worker's monitoring service: COV first, polling where COV is refused, device health.

Theory of operation. `Monitoring.run()` is one supervised loop of the worker. At start it reads
from the database which points of the site are monitored and how (bms.devices.monitoring
resolves point -> device -> site settings), and starts a DeviceMonitor task for each device
with monitored points. Then, each second, it reads ONE row: the site's monitoring revision,
which every change of settings bumps in its own transaction (pages, API). Only when it moved,
or every `reload_seconds` as a safety net for what no setter announces (a device discovered,
readdressed or deleted), does it read the device rows (no points), and it reloads the points
of the devices whose revision or address changed: the running monitors get their new
settings, new ones start, and the monitors of devices with nothing left to watch stop (their
subscriptions are cancelled at the device). A change made in a page reaches the devices within
about a second; a reload of a site of 40,000 points where nothing changed reads no point.

Health is kept by the HealthBook (bms.worker.health_book): every request of the engine's client
feeds it (jobs included), and so do notifications and I-Ams. An I-Am a device sends of its own
accord (it restarted) marks it online and has its subscriptions made again at once.

Values go through one ReadingBatcher (group commit, live "points" events). A monitor task, the
batcher or the health loop that fails makes `run` raise: the worker stops loudly rather than
silently watching less than it says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError
from bms.bacnet.health import HealthChange, HealthPolicy
from bms.bacnet.types import IAmRecord
from bms.devices.models import BACnetDevice
from bms.devices.monitoring import MonitorDefaults, site_revision
from bms.worker import events
from bms.worker.db import run_db
from bms.worker.device_monitor import CovOptions, DeviceMonitor
from bms.worker.health_book import HealthBook, StoredHealth
from bms.worker.reading_batch import ReadingBatcher
from bms.worker.store.monitoring import (
    DeviceWatch,
    device_states,
    load_watches,
    save_health_change,
    stored_health,
)

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how often the site's monitoring revision is read


@dataclass(frozen=True)
class MonitorOptions:
    site: str
    defaults: MonitorDefaults
    cov: CovOptions
    health: HealthPolicy
    reload_seconds: float = 10.0

    @classmethod
    def from_settings(cls, site: str) -> MonitorOptions:
        return cls(
            site=site,
            defaults=MonitorDefaults.from_settings(),
            cov=CovOptions(
                confirmed=settings.BACNET_COV_CONFIRMED, lifetime=settings.BACNET_COV_LIFETIME
            ),
            health=HealthPolicy(
                failures_to_unreachable=settings.BACNET_HEALTH_FAILURES,
                offline_after=settings.BACNET_OFFLINE_AFTER_SECONDS,
                retry_max=settings.BACNET_HEALTH_RETRY_MAX_SECONDS,
            ),
            reload_seconds=settings.BACNET_MONITOR_RELOAD_SECONDS,
        )


class Monitoring:
    def __init__(self, engine: Engine, options: MonitorOptions) -> None:
        self._engine = engine
        self.options = options
        self.batcher = ReadingBatcher()
        self.book = HealthBook(options.health, self._store_health, self._read_health)
        self.monitors: dict[int, DeviceMonitor] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._revision: int | None = None  # the site's, as last applied
        self._known: dict[int, tuple[int, str]] = {}  # device id -> (revision, address) loaded
        self._instances: dict[int, int] = {}  # device instance -> device id
        self._next_sweep = 0.0
        self.reloads = 0  # reloads that read points (for tests)
        # Told of each recorded health change (the worker's alarm console: comm-loss alarms,
        # a sync when a device is back); it must not block: it starts kept tasks.
        self.on_health_change: Callable[[BACnetDevice, HealthChange], None] | None = None

    def wake(self) -> None:
        """Look for changes now rather than at the next check."""
        self._wake.set()

    async def run(self) -> None:
        # Run again after a lost database (the worker's supervisor): start from the database.
        self._revision, self._known = None, {}
        self._engine.client.observe_outcomes(self.book.on_outcome)
        stop_i_ams = self._engine.client.watch_i_ams(self._on_i_am)
        store_task = asyncio.create_task(self.batcher.run(), name="monitoring-store")
        health_task = asyncio.create_task(self.book.run(), name="monitoring-health")
        try:
            while True:
                await self.check()
                await self._wait({store_task, health_task})
        finally:
            stop_i_ams()
            self._engine.client.observe_outcomes(None)
            await self._stop_all()
            for task in (store_task, health_task):
                task.cancel()
            await asyncio.gather(store_task, health_task, return_exceptions=True)
            await self.batcher.drain()
            await self.book.store_queued()

    async def _wait(self, loops: set[asyncio.Task[None]]) -> None:
        """Until the next check; raise if a monitor or a loop ended on its own."""
        self._wake.clear()
        waker = asyncio.create_task(self._wake.wait(), name="monitoring-wake")
        watched: set[asyncio.Task[Any]] = {*loops, waker, *self._tasks.values()}
        try:
            done, _ = await asyncio.wait(
                watched,
                timeout=min(CHECK_SECONDS, self.options.reload_seconds),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            waker.cancel()
            await asyncio.gather(waker, return_exceptions=True)
        for task in done - {waker}:
            task.result()  # re-raise its error
            raise RuntimeError(f"monitoring task {task.get_name()} stopped unexpectedly")

    async def check(self) -> None:
        """Reload what changed: one query when nothing did (see the module's docstring)."""
        revision = await run_db(site_revision, self.options.site)
        now = time.monotonic()
        if revision == self._revision and now < self._next_sweep:
            return
        self._next_sweep = now + self.options.reload_seconds
        states = await run_db(device_states, self.options.site)
        for device_id in [d for d in self._known if d not in states]:
            await self._forget(device_id)
        changed = [d for d, state in states.items() if self._known.get(d) != state]
        if changed:
            self.reloads += 1
            loaded = None if self._revision is None else changed  # all of them at start
            watches = await run_db(load_watches, self.options.site, self.options.defaults, loaded)
            for watch in watches:
                await self._apply(watch)
        self._revision = revision

    async def _apply(self, watch: DeviceWatch) -> None:
        self._known[watch.device_id] = (watch.revision, watch.address)
        self._instances[watch.instance] = watch.device_id
        try:
            peer_key = self._engine.client.peer(watch.address).key
        except BACnetError as exc:
            log.warning("device %s: not watched, bad address: %s", watch.instance, exc)
            return
        stored = StoredHealth(watch.health, watch.health_since)
        self.book.track(watch.device_id, watch.instance, peer_key, stored)
        monitor = self.monitors.get(watch.device_id)
        if not watch.points:
            if monitor is not None:
                await self._stop(watch.device_id)
        elif monitor is None:
            self._start(watch)
        else:
            monitor.update(watch)

    def _start(self, watch: DeviceWatch) -> None:
        monitor = DeviceMonitor(self._engine, watch, self.options.cov, self.book, self.batcher)
        self.monitors[watch.device_id] = monitor
        self._tasks[watch.device_id] = asyncio.create_task(
            monitor.run(), name=f"monitor-device-{watch.instance}"
        )

    async def _forget(self, device_id: int) -> None:
        """The device's row is gone."""
        self._known.pop(device_id, None)
        if device_id in self.monitors:
            await self._stop(device_id)
        self.book.untrack(device_id)
        self._instances = {i: d for i, d in self._instances.items() if d != device_id}

    async def _stop(self, device_id: int) -> None:
        """No monitored point left: cancel the device's subscriptions at the device."""
        monitor = self.monitors.pop(device_id)
        task = self._tasks.pop(device_id)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await monitor.cancel_subscriptions()

    async def _stop_all(self) -> None:
        # At worker shutdown the engine's client cancels the live subscriptions at the peers.
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self.monitors.clear()

    def _on_i_am(self, record: IAmRecord, answering: bool) -> None:
        device_id = self._instances.get(record.device_instance)
        if device_id is None or device_id not in self.book.tracked():
            return
        self.book.answered(device_id, "sent I-Am")
        monitor = self.monitors.get(device_id)
        if monitor is not None and not answering:
            monitor.device_announced()

    async def _store_health(self, device_id: int, change: HealthChange) -> bool:
        device = await run_db(save_health_change, device_id, change)
        if device is None:
            return False
        await run_db(events.devices_changed, [device])
        if self.on_health_change is not None:
            self.on_health_change(device, change)
        return True

    async def _read_health(self, device_id: int) -> StoredHealth | None:
        return await run_db(stored_health, device_id)
