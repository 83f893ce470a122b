"""Notifications out, from the worker: every new alarm transition goes to the notifiers that
match it (bms.alarms.notifiers), without ever holding up the worker.

Theory of operation: one supervised loop looks for transitions newer than the last it saw
every `poll_seconds` (from the newest at start: history is not re-sent) and puts one job per
(transition, notifier) in a bounded queue; a full queue drops the job, counted, with one log
line per look rather than wait. A few sender tasks deliver jobs in threads (a slow SMTP server
or webhook holds a thread, not the event loop). A failed delivery is logged and retried after
1, 2, 4, 8, 16 s (the retry waits in a heap, not in a sender), then given up with an error
line; the other notifiers go on meanwhile. A lost database ends `run` like any loop's; the
supervisor starts it again and it carries on from the last transition it saw.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from bms.alarms.models import AlarmNotifier, AlarmTransition
from bms.alarms.notifiers import NotifyFailed, deliver, payload, takes
from bms.worker.db import run_db

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0)
SEND_TIMEOUT_SECONDS = 30.0
BATCH = 500  # transitions read per look


@dataclass
class Job:
    notifier: AlarmNotifier
    message: dict[str, Any]
    attempt: int = 0


@dataclass
class NotifyCounts:
    sent: int = 0
    retried: int = 0
    given_up: int = 0
    dropped: int = 0  # the queue was full


def latest_transition_id() -> int:
    last = AlarmTransition.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def new_jobs(after_id: int, limit: int = BATCH) -> tuple[int, list[Job]]:
    """Jobs for the transitions after `after_id` (oldest first), and the last id read. With no
    notifier enabled nothing is read but the newest id (a look costs two small queries)."""
    notifiers = list(AlarmNotifier.objects.filter(enabled=True))
    if not notifiers:
        return max(after_id, latest_transition_id()), []
    rows = list(
        AlarmTransition.objects.select_related("alarm")
        .filter(id__gt=after_id)
        .order_by("id")[:limit]
    )
    jobs = [Job(n, payload(row)) for row in rows for n in notifiers if takes(n, row)]
    return (rows[-1].id if rows else after_id), jobs


@dataclass
class AlarmNotifyLoop:
    poll_seconds: float = 0.5
    bound: int = 1000
    senders: int = 4
    backoff: tuple[float, ...] = BACKOFF_SECONDS
    counts: NotifyCounts = field(default_factory=NotifyCounts)

    def __post_init__(self) -> None:
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=self.bound)
        self._retries: list[tuple[float, int, Job]] = []  # (due, tie-break, job)
        self._order = itertools.count()
        self._after_id: int | None = None

    async def run(self) -> None:
        if self._after_id is None:
            self._after_id = await run_db(latest_transition_id)
        senders = {
            asyncio.create_task(self._send_loop(), name=f"alarm-notify-send-{n}")
            for n in range(self.senders)
        }
        try:
            while True:
                await self._feed()
                if not senders:  # none configured (a test of the bound): only feed
                    await asyncio.sleep(self.poll_seconds)
                    continue
                done, _ = await asyncio.wait(senders, timeout=self.poll_seconds)
                for task in done:
                    task.result()
                    raise RuntimeError(f"{task.get_name()} stopped unexpectedly")
        finally:
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)

    async def _feed(self) -> None:
        assert self._after_id is not None
        self._after_id, jobs = await run_db(new_jobs, self._after_id)
        now = time.monotonic()
        while self._retries and self._retries[0][0] <= now:
            jobs.append(heapq.heappop(self._retries)[2])
        dropped = [job for job in jobs if not self._enqueued(job)]
        if dropped:
            # One line a look, not one a job: at a thousand transitions a second a line each
            # would itself load the event loop the alarm console receives on.
            log.error(
                "%d alarm notifications dropped (to %s): %d notifications already wait",
                len(dropped),
                ", ".join(sorted({str(job.notifier) for job in dropped})),
                self.bound,
            )

    def _enqueued(self, job: Job) -> bool:
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            self.counts.dropped += 1
            return False
        return True

    async def _send_loop(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await asyncio.wait_for(
                    asyncio.to_thread(deliver, job.notifier, job.message), SEND_TIMEOUT_SECONDS
                )
            except (NotifyFailed, TimeoutError) as exc:
                self._failed(job, exc)
            else:
                self.counts.sent += 1
            finally:
                self.queue.task_done()

    def _failed(self, job: Job, exc: BaseException) -> None:
        if job.attempt >= len(self.backoff):
            self.counts.given_up += 1
            log.error(
                "alarm notification %s to %s given up after %d attempts: %s",
                job.message.get("transition_id"),
                job.notifier,
                job.attempt + 1,
                exc or "timed out",
            )
            return
        delay = self.backoff[job.attempt]
        job.attempt += 1
        self.counts.retried += 1
        log.warning(
            "alarm notification %s to %s failed (%s); retry %d in %.0f s",
            job.message.get("transition_id"),
            job.notifier,
            exc or "timed out",
            job.attempt,
            delay,
        )
        heapq.heappush(self._retries, (time.monotonic() + delay, next(self._order), job))
