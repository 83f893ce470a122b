"""The BACnet worker: one engine (client + device 8888) fed by the task queue.

Theory of operation. `Worker.run(stop)` starts the engine on the configured address, publishes
the running virtual objects, then supervises a few named loops until `stop` is set or one of
them fails:

- claim: takes pending tasks (native: polls the BACnetTask table; docker: wakes on Celery
  messages from Redis, and still polls slowly so a lost message never strands a row) and runs
  each in its own named task, up to `max_concurrent_tasks` at once;
- leases: heartbeats the worker and the leases of its running tasks, and returns tasks of dead
  workers to pending;
- virtual-sync: applies creates, edits and deletes of virtual objects from the database;
- poll-schedule (when BACNET_POLL_SECONDS > 0): queues a `collect` for trending;
- monitoring: COV subscriptions, polls and device health of the monitored points
  (`monitoring.Monitoring`, settings from the database, reloaded periodically).

External writes to our objects reach `_on_external_writes` before they are acknowledged: the
writes are stored in one transaction, and only then does the engine send the acks. Live events go
out after the commit, in kept tasks that are awaited at shutdown.

On stop: no more claims; running tasks get `shutdown_timeout` seconds to finish, the rest are
cancelled and handed back to pending; the engine closes and releases the port.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError, WriteRefused
from bms.bacnet.types import RefusedWrite, WriteEvent
from bms.tasks import queue
from bms.tasks.models import BACnetTask
from bms.virtual.models import VirtualObject
from bms.worker import events, store
from bms.worker.db import run_db, run_db_write_path
from bms.worker.jobs import JOBS, JobSettings
from bms.worker.monitoring import Monitoring, MonitorOptions
from bms.worker.pg_writes import AsyncWriteStore
from bms.worker.virtual_sync import VirtualSync

log = logging.getLogger(__name__)

FIRST_POLL_DELAY_SECONDS = 5.0
STORE_DEADLINE_SECONDS = 2.0  # below the device's hook timeout (2.5 s)
WRITE_UPDATES_COALESCE_SECONDS = 0.02  # live updates of external writes, sent together


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
        self.engine = Engine(
            options.engine,
            write_batch_hook=self._on_external_writes,
            refusal_hook=self._on_refused_write,
        )
        self._running: dict[asyncio.Task[None], BACnetTask] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._claiming = True
        self._virtual: VirtualSync | None = None
        self._job_settings = JobSettings(options.site, options.discovery_cache_seconds)
        self._celery_ids: asyncio.Queue[int] = asyncio.Queue()
        self._virtual_due = asyncio.Event()
        self._write_updates: list[tuple[VirtualObject, dict[str, Any]]] = []
        self._write_publisher: asyncio.Task[None] | None = None
        self._pg_writes = AsyncWriteStore.for_default_database(STORE_DEADLINE_SECONDS)
        self._registration: str | None = None  # with the BBMD, as last heartbeated
        self.monitoring = Monitoring(self.engine, MonitorOptions.from_settings(options.site))

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
            self._virtual = VirtualSync(self.engine.device)
            await self._virtual.sync_once()
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
            await self._supervise(stop)
        finally:
            await self._shutdown()

    async def _supervise(self, stop: asyncio.Event) -> None:
        loops = {
            self._named(self._claim_loop(), "claim"),
            self._named(self._lease_loop(), "leases"),
            self._named(self._virtual_loop(), "virtual-sync"),
            self._named(self.monitoring.run(), "monitoring"),
        }
        if self.options.poll_seconds > 0:
            loops.add(self._named(self._poll_loop(), "poll-schedule"))
        consumer = None
        if self.options.backend == "docker":
            from bms.worker.celery_consumer import CeleryConsumer

            consumer = CeleryConsumer(
                self.options.broker_url, self.options.site, self._celery_message
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
            self._claiming = False
            if consumer is not None:
                consumer.stop()
            for task in loops | {stopper}:
                task.cancel()
            await asyncio.gather(*loops, stopper, return_exceptions=True)

    async def _shutdown(self) -> None:
        self._claiming = False
        if self._running:
            log.info(
                "waiting up to %ss for %d running tasks",
                self.options.shutdown_timeout,
                len(self._running),
            )
            _done, unfinished = await asyncio.wait(
                list(self._running), timeout=self.options.shutdown_timeout
            )
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self._side_tasks:
            await asyncio.wait(list(self._side_tasks), timeout=self.options.shutdown_timeout)
        await self.engine.stop()
        if self._pg_writes is not None:
            await self._pg_writes.close()
        log.info("worker %s stopped", self.worker_id)

    def _named(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return asyncio.create_task(coroutine, name=name)

    # ---- claiming and running tasks --------------------------------------------------------

    async def _claim_loop(self) -> None:
        poll = self.options.poll_interval if self.options.backend == "native" else 5.0
        while self._claiming:
            if len(self._running) >= self.options.max_concurrent_tasks:
                await self._sleep_until_woken(poll)
                continue
            task = await self._claim_one()
            if task is None:
                await self._sleep_until_woken(poll)
                continue
            self._start(task)

    async def _claim_one(self) -> BACnetTask | None:
        lease = self.options.lease_seconds
        while not self._celery_ids.empty():
            task_id = self._celery_ids.get_nowait()
            task = await run_db(queue.claim_by_id, task_id, self.worker_id, lease)
            if task is not None:
                log.info("task %s claimed from a Celery message", task_id)
                return task
            log.info("Celery message for task %s: not pending any more, skipped", task_id)
        return await run_db(queue.claim_next, self.worker_id, self.options.site, lease)

    async def _sleep_until_woken(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass  # the poll interval elapsed: look for work again

    def _celery_message(self, task_id: int) -> None:
        """Called on the loop (the consumer hops threads with call_soon_threadsafe)."""
        self._celery_ids.put_nowait(task_id)
        self._wake.set()

    def _start(self, task: BACnetTask) -> None:
        runner = asyncio.create_task(self._run_task(task), name=f"bacnet-task-{task.id}")
        self._running[runner] = task
        runner.add_done_callback(self._finished)

    def _finished(self, runner: asyncio.Task[None]) -> None:
        self._running.pop(runner, None)
        self._wake.set()
        if not runner.cancelled() and runner.exception() is not None:
            log.error("task runner %s crashed", runner.get_name(), exc_info=runner.exception())

    async def _requeue(self, task: BACnetTask) -> None:
        try:
            await run_db(queue.requeue, task)
            log.info("task %s handed back to pending", task.id)
        except queue.TaskNotOwned as exc:
            log.warning("task %s not requeued: %s", task.id, exc)

    async def _run_task(self, task: BACnetTask) -> None:
        job = JOBS.get(task.task_type)
        try:
            await self._publish_task(task)
            if job is None:
                raise ValueError(f"unknown task type {task.task_type!r}")
            result = await job(self.engine, task, self._progress_for(task), self._job_settings)
        except asyncio.CancelledError:
            # Shutdown ran out of patience: hand the task back before this runner ends, so
            # the shutdown that awaits it knows the row is pending again.
            await self._requeue(task)
            raise
        except (BACnetError, LookupError, ValueError, TimeoutError) as exc:
            await self._finish(task, queue.fail, f"{type(exc).__name__}: {exc}")
            log.warning("task %s (%s) failed: %s", task.id, task.task_type, exc)
            return
        except Exception as exc:
            await self._finish(task, queue.fail, f"internal error: {type(exc).__name__}: {exc}")
            raise
        await self._finish(task, queue.complete, result)
        log.info("task %s (%s) completed", task.id, task.task_type)

    async def _finish(
        self, task: BACnetTask, move: Callable[[BACnetTask, Any], None], outcome: Any
    ) -> None:
        try:
            await run_db(move, task, outcome)
        except queue.TaskNotOwned as exc:
            log.warning("task %s result dropped, lease lost: %s", task.id, exc)
            return
        await self._publish_task(task)

    def _progress_for(self, task: BACnetTask) -> Callable[..., Awaitable[None]]:
        async def progress(**fields: Any) -> None:
            await run_db(queue.update_progress, task, **fields)
            await self._publish_task(task)

        return progress

    async def _publish_task(self, task: BACnetTask) -> None:
        await run_db(events.task_changed, task)

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
            for task in list(self._running.values()):
                if not await run_db(
                    queue.heartbeat, task, self.worker_id, self.options.lease_seconds
                ):
                    log.warning("task %s: lease lost (another worker may run it)", task.id)
            expired = await run_db(queue.requeue_expired)
            if expired.requeued or expired.failed:
                log.warning(
                    "expired leases: requeued %s, failed %s", expired.requeued, expired.failed
                )
                self._wake.set()

    async def _poll_loop(self) -> None:
        """Trending: a collect of the site every poll_seconds, unless one is already queued."""
        # The first collect comes soon after start, so a fresh install shows values quickly.
        delay = min(FIRST_POLL_DELAY_SECONDS, self.options.poll_seconds)
        while True:
            await asyncio.sleep(delay)
            delay = self.options.poll_seconds
            task = await run_db(store.enqueue_poll_if_idle, self.options.site)
            if task is not None:
                self._wake.set()

    # ---- virtual objects -------------------------------------------------------------------

    async def _virtual_loop(self) -> None:
        assert self._virtual is not None
        while True:
            try:
                await asyncio.wait_for(self._virtual_due.wait(), self.options.virtual_sync_interval)
            except TimeoutError:
                pass  # the interval elapsed: sync as usual
            self._virtual_due.clear()
            await self._virtual.sync_once()

    def _wake_virtual_sync(self) -> None:
        """Sync the virtual objects now rather than at the next interval."""
        self._virtual_due.set()

    async def _on_external_writes(self, events: list[WriteEvent]) -> None:
        """Store writes to one object (in order, one transaction) before the engine
        acknowledges them; raising refuses them all (group commit, see the device services)."""
        ref = events[0].ref
        rows = self._virtual.rows_of(ref) if self._virtual is not None else None
        if rows is None:
            raise WriteRefused(
                f"{ref} is not a virtual object", error_class="object", error_code="unknown-object"
            )
        stored = None
        if self._pg_writes is not None:  # PostgreSQL: one statement, awaited on the loop
            stored = await self._pg_writes.store(events, *rows)
        if stored is None:  # other databases, or a changed row to merge with (ORM, thread)
            # The engine refuses the writes after its hook timeout: stop trying before that.
            deadline = time.monotonic() + STORE_DEADLINE_SECONDS
            stored = await run_db_write_path(store.store_external_writes, events, *rows, deadline)
        assert self._virtual is not None
        if stored.merged:
            # The row had a newer change (an operator command) that the engine lacks; the
            # writes went on top of it, and the next sync brings the engine up to the row.
            self._wake_virtual_sync()
        else:
            self._virtual.note_stored(ref, stored.updated_at)
        for event in events:
            row = self._virtual.row_after_write(event, stored.updated_at)
            if row is not None:
                self._publish_write(row, store.event_payload(event))

    def _publish_write(self, row: VirtualObject, payload: dict[str, Any]) -> None:
        """Queue the live update; one kept task sends what has queued, on the loop.

        Off the ack path, with no query per write (the row is the sync's, with this write's
        values), and no thread hop per write (at 200 writes/s those fell behind).
        """
        self._write_updates.append((row, payload))
        if self._write_publisher is None or self._write_publisher.done():
            self._write_publisher = self._side(self._drain_write_updates(), "publish-writes")

    async def _drain_write_updates(self) -> None:
        # Waiting a moment lets the writes of the next few milliseconds join the message: at
        # 200 writes/s a channel-layer message per write cost a fifth of the worker's CPU.
        while self._write_updates:
            await asyncio.sleep(WRITE_UPDATES_COALESCE_SECONDS)
            batch, self._write_updates = self._write_updates, []
            await events.external_writes(batch)

    async def _on_refused_write(self, refusal: RefusedWrite) -> None:
        """Audit a write the engine refused (out of range, wrong type, input not writable)."""
        await run_db(store.record_refused_external_write, refusal)

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
