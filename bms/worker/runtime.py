"""The BACnet worker: one engine (client + device 8888) fed by the task queue.

Theory of operation. `Worker.run(stop)` starts the engine on the configured address, publishes
the running virtual objects, then supervises a few named loops until `stop` is set or one of
them fails:

- claim: the task runner (`task_runner.TaskRunner`) takes pending tasks (native: polls the
  BACnetTask table; docker: wakes on Celery messages from Redis, and still polls slowly so a
  lost message never strands a row) and runs each in its own named task, up to
  `max_concurrent_tasks` at once;
- leases: heartbeats the worker and the leases of its running tasks, and returns tasks of dead
  workers to pending;
- virtual-sync: applies creates, edits and deletes of virtual objects from the database;
- schedules: serves the schedules and calendars and writes their values in force to the
  virtual objects at each transition (`schedules.ScheduleRunner`);
- history-schedule (when BMS_HISTORY_SECONDS > 0): queues a `history` task (roll-up and
  retention of readings, bms.history.maintenance), one at a time;
- poll-schedule (when BACNET_POLL_SECONDS > 0): queues a `collect` for trending;
- monitoring: COV subscriptions, polls and device health of the monitored points
  (`monitoring.Monitoring`, settings from the database, reloaded periodically);
- alarm-notify: new alarm transitions out by e-mail and signed webhook, retried with backoff
  from a bounded queue (`alarm_notify.AlarmNotifyLoop`);
- alarm-rules-clock: stale-value alarm rules and rule delays checked on a clock
  (`alarm_rules.RuleRunner`, which also evaluates monitored and collected values as stored).
- alarm-rules-values: the monitored values the batcher stored, evaluated against the rules
  apart from the batcher (it queues them and goes on).

External writes to our objects go through the write path (`write_path.WritePath`, the engine's
batch write hook): stored in one transaction before the engine sends the acks, published live
after the commit in kept tasks that are awaited at shutdown.

The database may go away (a restart, a failover): the worker stays up. Every loop above that
meets a lost connection waits for `database-watch` (`db_health.DatabaseHealth`), which probes
with a bounded backoff and logs the outage once when it starts and once when it ends; then the
loop starts again. Meanwhile the device answers reads from memory and refuses writes with
device / operational-problem (an ack promises a stored value), and the task runner hands back
or settles the tasks the outage interrupted once the database is back.

On stop: no more claims; running tasks get `shutdown_timeout` seconds to finish, the rest are
cancelled and handed back to pending; the engine closes and releases the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bms.bacnet.config import EngineConfig
from bms.bacnet.device_management import ManagementHooks
from bms.bacnet.engine import Engine
from bms.bacnet.health import HealthChange
from bms.devices.models import BACnetDevice
from bms.tasks import queue
from bms.worker import events, store
from bms.worker.alarm_console import AlarmConsole
from bms.worker.alarm_notify import AlarmNotifyLoop
from bms.worker.alarm_rules import RuleRunner
from bms.worker.alarm_source import AlarmSource
from bms.worker.capability_book import CapabilityBook
from bms.worker.db import run_db
from bms.worker.db_health import DATABASE_ERRORS, DatabaseHealth, ping
from bms.worker.jobs import JobSettings
from bms.worker.management_audit import ManagementAudit
from bms.worker.monitoring import Monitoring, MonitorOptions
from bms.worker.pg_writes import AsyncWriteStore
from bms.worker.schedules import ScheduleRunner
from bms.worker.store import history as store_history
from bms.worker.task_runner import TaskRunner
from bms.worker.trendlog_backfill import queue_startup_backfills
from bms.worker.virtual_sync import VirtualSync
from bms.worker.write_path import STORE_DEADLINE_SECONDS, WritePath

log = logging.getLogger(__name__)

FIRST_POLL_DELAY_SECONDS = 5.0
DOCKER_POLL_SECONDS = 5.0  # the docker backend's safety poll (Celery messages wake it first)


@dataclass(frozen=True)
class WorkerOptions:
    engine: EngineConfig
    site: str = "default"
    backend: str = "native"
    lease_seconds: float = 60.0
    poll_interval: float = 0.5
    max_concurrent_tasks: int = 4
    virtual_sync_interval: float = 2.0
    discovery_cache_seconds: int = 300
    shutdown_timeout: float = 10.0
    broker_url: str = ""
    poll_seconds: float = 0.0  # queue a collect this often (0 = only on request)
    history_seconds: float = 0.0  # queue the history's upkeep this often (0 = never)
    # A process of its own (the management command): freeze the start-up heap (settle_heap).
    freeze_heap: bool = False

    @property
    def heartbeat_interval(self) -> float:
        return max(0.5, self.lease_seconds / 3)


def settle_heap() -> None:
    """Collect start-up garbage, then exempt what start-up built from the cycle collector.

    Why: Django, bacpypes3 and the served objects are hundreds of thousands of long-lived
    objects, and a full collection walks them all on the event loop: 45-90 ms measured in the
    worker, with every acknowledgement waiting behind it. Frozen, they are never walked again;
    what the worker allocates from now on is collected as usual.
    """
    gc.collect()
    gc.freeze()


def make_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, options: WorkerOptions, worker_id: str | None = None) -> None:
        self.options = options
        self.worker_id = worker_id or make_worker_id()
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._virtual: VirtualSync | None = None
        self._alarms = AlarmSource(self._side)  # device 8888's alarms, recorded
        self.alarm_console = AlarmConsole()  # remote devices' alarms, received and synced
        self._virtual_due = asyncio.Event()
        self._db = DatabaseHealth(self._ping)
        self._pg_writes = AsyncWriteStore.for_default_database(STORE_DEADLINE_SECONDS)
        self._writes = WritePath(self._pg_writes, self._side, self._wake_virtual_sync, self._db)
        self.schedules = ScheduleRunner(self._wake_virtual_sync)
        self.alarm_rules = RuleRunner()  # BMS alarm rules on stored values, and stale ones
        self.engine = Engine(
            options.engine,
            write_batch_hook=self._writes.store,
            refusal_hook=self._writes.audit_refusal,
            management=ManagementHooks(
                audit=ManagementAudit(options.engine.device_instance).record,
                reinitialize=self.schedules.reinitialize,
                schedule_write=self.schedules.store_write,  # stored before the ack
            ),
            stored_properties=store.STORED_PROPERTIES,  # an ack promises the value is kept
        )
        self.capabilities = CapabilityBook(self.engine.capabilities, options.site)
        self._tasks = TaskRunner(
            self.engine,
            self.worker_id,
            site=options.site,
            lease_seconds=options.lease_seconds,
            poll_interval=(
                options.poll_interval if options.backend == "native" else DOCKER_POLL_SECONDS
            ),
            max_concurrent_tasks=options.max_concurrent_tasks,
            job_settings=JobSettings(
                options.site,
                options.discovery_cache_seconds,
                self.alarm_rules.values_stored,
                self.capabilities,
            ),
            health=self._db,
        )
        self._registration: str | None = None  # with the BBMD, as last heartbeated
        self.monitoring = Monitoring(self.engine, MonitorOptions.from_settings(options.site))
        self.monitoring.on_health_change = self._health_changed
        self.monitoring.batcher.on_stored = self.alarm_rules.queue_stored

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        # Before the first peer can write: the first live update would otherwise import the
        # channel layer's backend on the event loop (40-55 ms with channels_redis, measured),
        # and the first store would open its connection, both while writers wait for acks.
        try:
            events.prepare()
            if self._pg_writes is not None:
                await self._pg_writes.connect()
            await self.engine.start()
            # What devices were seen to refuse (RPM, segmentation) before a restart.
            seeded = await self.capabilities.seed_site()
            log.info("capabilities of %d known devices loaded", seeded)
            self.schedules.serve(self.engine)
            self._virtual = VirtualSync(self.engine.device)
            self._alarms.serve(self.engine.device)
            self.alarm_console.listen(self.engine.app, self.options.engine)
            self._writes.serve(self._virtual)
            await self._virtual.sync_once()
            # Served before "ready": a peer that reads a schedule at once must find it.
            await self.schedules.sync_once()
            # What remote trend logs recorded while we were away (issue 15).
            await run_db(queue_startup_backfills, self.options.site)
            await self._heartbeat()
            if self.options.freeze_heap:
                settle_heap()
            log.info(
                "worker %s ready: %s backend, site %r, device %s on %s",
                self.worker_id,
                self.options.backend,
                self.options.site,
                self.options.engine.device_instance,
                self.options.engine.address,
            )
            # What remote devices raised while we were away (GetEventInformation).
            self._side(self._sync_alarms(), "alarm-sync")
            await self._supervise(stop)
        finally:
            await self._shutdown()

    async def _supervise(self, stop: asyncio.Event) -> None:
        loops = {
            self._loop(self._tasks.claim_loop, "claim"),
            self._loop(self._lease_loop, "leases"),
            self._loop(self._virtual_loop, "virtual-sync"),
            self._loop(self.schedules.run, "schedules"),
            self._loop(self.monitoring.run, "monitoring"),
            self._named(self._db.watch(), "database-watch"),
            self._loop(AlarmNotifyLoop().run, "alarm-notify"),
            self._loop(self.alarm_rules.run_clock, "alarm-rules-clock"),
            self._loop(self.alarm_rules.run_values, "alarm-rules-values"),
        }
        if self.options.poll_seconds > 0:
            loops.add(self._loop(self._poll_loop, "poll-schedule"))
        if self.options.history_seconds > 0:
            loops.add(self._loop(self._history_loop, "history-schedule"))
        consumer = None
        if self.options.backend == "docker":
            from bms.worker.celery_consumer import CeleryConsumer

            consumer = CeleryConsumer(
                self.options.broker_url, self.options.site, self._tasks.celery_message
            )
            loops.add(self._named(consumer.run(), "celery-consumer"))
        stopper = self._named(stop.wait(), "stop-signal")
        try:
            done, _ = await asyncio.wait(loops | {stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    # A loop that ends on its own is a bug or a dead dependency: stop loudly.
                    task.result()
                    raise RuntimeError(f"worker loop {task.get_name()} stopped unexpectedly")
        finally:
            self._tasks.stop_claiming()
            if consumer is not None:
                consumer.stop()
            for task in loops | {stopper}:
                task.cancel()
            await asyncio.gather(*loops, stopper, return_exceptions=True)

    async def _shutdown(self) -> None:
        await self._tasks.finish(self.options.shutdown_timeout)
        if self._side_tasks:
            await asyncio.wait(list(self._side_tasks), timeout=self.options.shutdown_timeout)
        await self.alarm_console.close()  # what it received is stored before the stop
        await self.engine.stop()
        if self._pg_writes is not None:
            await self._pg_writes.close()
        log.info("worker %s stopped", self.worker_id)

    def _named(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return asyncio.create_task(coroutine, name=name)

    def _loop(self, loop: Callable[[], Coroutine[Any, Any, None]], name: str) -> asyncio.Task[Any]:
        """A supervised loop that outlives the database: when a query meets a lost connection,
        the loop waits for the database to come back (see db_health) and starts again."""
        return self._named(self._outliving_the_database(loop, name), name)

    async def _outliving_the_database(
        self, loop: Callable[[], Coroutine[Any, Any, None]], name: str
    ) -> None:
        while True:
            try:
                await loop()
                return  # the supervisor says a loop that ends on its own is a bug
            except DATABASE_ERRORS as exc:
                self._db.lost(name, exc)
                await self._db.until_available()

    async def _sync_alarms(self) -> None:
        await self.alarm_console.sync_all(self.options.site)

    def _health_changed(self, device: BACnetDevice, change: HealthChange) -> None:
        # Comm-loss alarm and, back online, an alarm sync: kept tasks, off the health loop.
        self._side(
            self.alarm_console.health_changed(device, change.old, change.new, change.reason),
            f"alarm-health-{device.device_instance}",
        )

    async def _ping(self) -> None:
        await run_db(ping)

    def _side(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A kept, watched task for work that must not delay an acknowledgement."""
        task = asyncio.create_task(coroutine, name=name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_done)
        return task

    def _side_done(self, task: asyncio.Task[None]) -> None:
        self._side_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    # ---- leases ----------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        """Say the worker is alive, where it is on the network and how its BBMD registration
        stands (a change of the latter is logged: lost, it means no Who-Is leaves the subnet)."""
        registration = self.engine.foreign_registration()
        if registration != self._registration:
            level = logging.INFO if registration == "registered" else logging.WARNING
            # The first success is logged by the stack as it registers.
            if self._registration is not None or registration != "registered":
                log.log(
                    level,
                    "foreign-device registration with BBMD %s: %s",
                    self.options.engine.foreign_bbmd,
                    registration,
                )
            self._registration = registration
        engine = self.options.engine
        await run_db(
            queue.worker_heartbeat,
            self.worker_id,
            self.options.site,
            backend=self.options.backend,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            bacnet_address=engine.address,
            bbmd=engine.foreign_bbmd,
            bbmd_registration=registration or "",
        )

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_interval)
            await self._heartbeat()
            for task in self._tasks.running():
                if not await run_db(
                    queue.heartbeat, task, self.worker_id, self.options.lease_seconds
                ):
                    log.warning("task %s: lease lost (another worker may run it)", task.id)
            expired = await run_db(queue.requeue_expired)
            if expired.requeued or expired.failed:
                log.warning(
                    "expired leases: requeued %s, failed %s", expired.requeued, expired.failed
                )
                self._tasks.wake()

    async def _poll_loop(self) -> None:
        """Trending: a collect of the site every poll_seconds, unless one is already queued."""
        # The first collect comes soon after start, so a fresh install shows values quickly.
        delay = min(FIRST_POLL_DELAY_SECONDS, self.options.poll_seconds)
        while True:
            await asyncio.sleep(delay)
            delay = self.options.poll_seconds
            task = await run_db(store.enqueue_poll_if_idle, self.options.site)
            if task is not None:
                self._tasks.wake()

    async def _history_loop(self) -> None:
        """The history's upkeep every history_seconds (the first after one interval: a worker
        that starts and stops again soon has nothing to roll up)."""
        while True:
            await asyncio.sleep(self.options.history_seconds)
            task = await run_db(store_history.enqueue_history_if_idle, self.options.site)
            if task is not None:
                self._tasks.wake()

    # ---- virtual objects -------------------------------------------------------------------

    async def _virtual_loop(self) -> None:
        assert self._virtual is not None
        while True:
            with contextlib.suppress(TimeoutError):  # the interval elapsed: sync as usual
                await asyncio.wait_for(self._virtual_due.wait(), self.options.virtual_sync_interval)
            self._virtual_due.clear()
            await self._virtual.sync_once()

    def _wake_virtual_sync(self) -> None:
        """Sync the virtual objects now rather than at the next interval."""
        self._virtual_due.set()
