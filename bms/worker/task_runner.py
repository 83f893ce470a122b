"""The worker's task runner: claims pending tasks and runs each as a named asyncio task.

It polls the BACnetTask table every `poll_interval`, and wakes early when told to (a task
finished, leases expired, a poll was queued) or when the Celery consumer hands over a message
(docker backend, which polls slowly so a lost message never strands a row). At most
`max_concurrent_tasks` run at once; each runner is kept and watched, and a task cancelled at
shutdown is handed back to pending before its runner ends.

A task the database outage interrupts (its job or its final update met a lost connection) is
not lost: an outcome the database could not take is stored, and a job that could not finish is
handed back to pending, when the claim loop starts again after the outage (`_settle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError
from bms.tasks import queue
from bms.tasks.models import BACnetTask
from bms.worker import events
from bms.worker.db import run_db
from bms.worker.db_health import DATABASE_ERRORS, DatabaseHealth
from bms.worker.jobs import JOBS, JobSettings

log = logging.getLogger(__name__)


class TaskRunner:
    """Claims tasks for one worker and runs them on its engine."""

    def __init__(
        self,
        engine: Engine,
        worker_id: str,
        *,
        site: str,
        lease_seconds: float,
        poll_interval: float,
        max_concurrent_tasks: int,
        job_settings: JobSettings,
        health: DatabaseHealth,
    ) -> None:
        self._engine = engine
        self._worker_id = worker_id
        self._site = site
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._max_concurrent = max_concurrent_tasks
        self._job_settings = job_settings
        self._running: dict[asyncio.Task[None], BACnetTask] = {}
        self._wake = asyncio.Event()
        self._claiming = True
        self._celery_ids: asyncio.Queue[int] = asyncio.Queue()
        self._health = health
        # What a database outage left to do: outcomes to store, interrupted tasks to hand back.
        self._unsettled: list[tuple[BACnetTask, Callable[[BACnetTask, Any], None], Any]] = []
        self._interrupted: list[BACnetTask] = []

    def running(self) -> list[BACnetTask]:
        """The tasks being run now (their leases need heartbeats)."""
        return list(self._running.values())

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    def celery_message(self, task_id: int) -> None:
        """Called on the loop (the consumer hops threads with call_soon_threadsafe)."""
        self._celery_ids.put_nowait(task_id)
        self._wake.set()

    async def claim_loop(self) -> None:
        await self._settle()  # (again) after an outage, before new work
        while self._claiming:
            if len(self._running) >= self._max_concurrent:
                await self._sleep_until_woken(self._poll_interval)
                continue
            task = await self._claim_one()
            if task is None:
                await self._sleep_until_woken(self._poll_interval)
                continue
            self._start(task)

    def stop_claiming(self) -> None:
        self._claiming = False

    async def finish(self, timeout: float) -> None:
        """Stop claiming; give running tasks `timeout` seconds, then cancel (and requeue) the
        rest."""
        self._claiming = False
        if not self._running:
            return
        log.info("waiting up to %ss for %d running tasks", timeout, len(self._running))
        _done, unfinished = await asyncio.wait(list(self._running), timeout=timeout)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    # ---- claiming

    async def _claim_one(self) -> BACnetTask | None:
        lease = self._lease_seconds
        while not self._celery_ids.empty():
            task_id = self._celery_ids.get_nowait()
            task = await run_db(queue.claim_by_id, task_id, self._worker_id, lease)
            if task is not None:
                log.info("task %s claimed from a Celery message", task_id)
                return task
            log.info("Celery message for task %s: not pending any more, skipped", task_id)
        return await run_db(queue.claim_next, self._worker_id, self._site, lease)

    async def _sleep_until_woken(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):  # the poll interval elapsed: look for work again
            await asyncio.wait_for(self._wake.wait(), seconds)

    # ---- running

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
            result = await job(self._engine, task, self._progress_for(task), self._job_settings)
        except asyncio.CancelledError:
            # Shutdown ran out of patience: hand the task back before this runner ends, so
            # the shutdown that awaits it knows the row is pending again.
            await self._requeue(task)
            raise
        except DATABASE_ERRORS as exc:
            # The job needed the database and lost it: it runs again once the database is back.
            self._health.lost(f"task {task.id}", exc)
            self._interrupted.append(task)
            log.warning("task %s (%s) interrupted by the database outage", task.id, task.task_type)
            return
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
            await self._store_outcome(task, move, outcome)
        except DATABASE_ERRORS as exc:
            self._health.lost(f"task {task.id}", exc)
            self._unsettled.append((task, move, outcome))
            log.warning("task %s ended during the database outage; stored once it is back", task.id)

    async def _store_outcome(
        self, task: BACnetTask, move: Callable[[BACnetTask, Any], None], outcome: Any
    ) -> None:
        try:
            await run_db(move, task, outcome)
        except queue.TaskNotOwned as exc:
            log.warning("task %s result dropped, lease lost: %s", task.id, exc)
            return
        await self._publish_task(task)

    async def _settle(self) -> None:
        """Store the outcomes and hand back the tasks a database outage left, each removed once
        done (the outage again raises, and the claim loop's next start goes on from there)."""
        while self._unsettled:
            task, move, outcome = self._unsettled[0]
            await self._store_outcome(task, move, outcome)
            self._unsettled.pop(0)
            log.info("task %s: its outcome, kept through the outage, is stored", task.id)
        while self._interrupted:
            await self._requeue(self._interrupted[0])
            self._interrupted.pop(0)

    def _progress_for(self, task: BACnetTask) -> Callable[..., Awaitable[None]]:
        async def progress(**fields: Any) -> None:
            await run_db(queue.update_progress, task, **fields)
            await self._publish_task(task)

        return progress

    async def _publish_task(self, task: BACnetTask) -> None:
        await run_db(events.task_changed, task)
