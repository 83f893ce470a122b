"""The worker's monitoring service: COV first, polling where COV is refused, device health.

Theory of operation. `Monitoring.run()` is one supervised loop of the worker. Every
`reload_seconds` (or at once after `wake()`) it reads from the database which points are
monitored and how (bms.devices.monitoring resolves point -> device -> site settings), starts a
DeviceMonitor task for each device with monitored points, hands the running ones their new
settings, and stops the monitors of devices that have none left (their subscriptions are
cancelled at the device). So at worker start every subscription is made from the database,
and what the refusals and health learnt before a restart is where the new run starts.

Values go through one ReadingBatcher (group commit, live "points" events). Health changes are
stored with an event (DeviceHealthEvent) and published live on the devices page.

A monitor task or the batcher that fails makes `run` raise: the worker stops loudly rather
than silently watching less than it says.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from bms.bacnet.engine import Engine
from bms.bacnet.health import HealthChange, HealthPolicy
from bms.devices.monitoring import MonitorDefaults
from bms.worker import events
from bms.worker.db import run_db
from bms.worker.device_monitor import CovOptions, DeviceMonitor
from bms.worker.reading_batch import ReadingBatcher
from bms.worker.store.monitoring import DeviceWatch, load_watches, save_health_change

log = logging.getLogger(__name__)


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
        self.monitors: dict[int, DeviceMonitor] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Reload the monitoring settings now rather than at the next interval."""
        self._wake.set()

    async def run(self) -> None:
        store_task = asyncio.create_task(self.batcher.run(), name="monitoring-store")
        try:
            while True:
                await self._reload()
                await self._wait(store_task)
        finally:
            await self._stop_all()
            store_task.cancel()
            await asyncio.gather(store_task, return_exceptions=True)
            await self.batcher.drain()

    async def _wait(self, store_task: asyncio.Task[None]) -> None:
        """Until the next reload; raise if a monitor or the store loop ended on its own."""
        self._wake.clear()
        waker = asyncio.create_task(self._wake.wait(), name="monitoring-wake")
        watched: set[asyncio.Task[Any]] = {store_task, waker, *self._tasks.values()}
        try:
            done, _ = await asyncio.wait(
                watched, timeout=self.options.reload_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waker.cancel()
            await asyncio.gather(waker, return_exceptions=True)
        for task in done - {waker}:
            task.result()  # re-raise its error
            raise RuntimeError(f"monitoring task {task.get_name()} stopped unexpectedly")

    async def _reload(self) -> None:
        watches = await run_db(load_watches, self.options.site, self.options.defaults)
        wanted = {watch.device_id: watch for watch in watches if watch.points}
        for device_id in [d for d in self._tasks if d not in wanted]:
            await self._stop(device_id)
        for device_id, watch in wanted.items():
            monitor = self.monitors.get(device_id)
            if monitor is None:
                self._start(watch)
            else:
                monitor.update(watch)

    def _start(self, watch: DeviceWatch) -> None:
        monitor = DeviceMonitor(
            self._engine,
            watch,
            self.options.cov,
            self.options.health,
            self.batcher,
            self._record_health,
        )
        self.monitors[watch.device_id] = monitor
        self._tasks[watch.device_id] = asyncio.create_task(
            monitor.run(), name=f"monitor-device-{watch.instance}"
        )

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

    async def _record_health(self, device_id: int, change: HealthChange) -> None:
        device = await run_db(save_health_change, device_id, change)
        if device is not None:
            await run_db(events.devices_changed, [device])
