"""Notifications out, from the worker: every new alarm transition goes to the notifiers that
match it (bms.alarms.notifiers), without ever holding up the worker.

Theory of operation: one supervised loop takes the transitions after the shared cursor
every `poll_seconds` (bms.alarms.outbox: a restarted worker carries on from it, two workers
never both take a transition, news older than CATCH_UP is counted and left out) and puts
one job per (transition, notifier) in a bounded queue; a full queue drops the job, counted,
with one log line per look rather than wait. A few sender tasks deliver jobs in threads (a
slow SMTP server or webhook holds a thread, not the event loop). A failed delivery is logged
and retried after 1, 2, 4, 8, 16 s (the retry waits in a heap, not in a sender), then given
up with an error line; the other notifiers go on meanwhile. A lost database ends `run` like
any loop's; the supervisor starts it again and it carries on from the cursor with the jobs it
held. Jobs held when the worker stops are lost, and logged: the cursor has moved past them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from bms.alarms import outbox
from bms.alarms.models import AlarmNotifier
from bms.alarms.notifiers import NotifyFailed, deliver, payload, takes
from bms.alarms.outbox import Taken
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
    skipped: int = 0  # recorded more than outbox.CATCH_UP before they were taken


def new_jobs(now: datetime, limit: int = BATCH) -> tuple[Taken, list[Job]]:
    """The transitions taken from the outbox (oldest first) and a job per notifier that takes
    each. With no notifier enabled nothing is read; the cursor moves over what came."""
    notifiers = list(AlarmNotifier.objects.filter(enabled=True))
    taken = outbox.take(limit, now, wanted=bool(notifiers))
    jobs = [Job(n, payload(row)) for row in taken.transitions for n in notifiers if takes(n, row)]
    return taken, jobs


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
        self.cursor: int | None = None  # the outbox's cursor after this loop's last look

    async def run(self) -> None:
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
            self._log_unsent()

    def _log_unsent(self) -> None:
        unsent = self.queue.qsize() + len(self._retries)
        if unsent:
            log.warning(
                "alarm notify loop stopped with %d notifications unsent (sent if it starts "
                "again, lost if the worker is stopping)",
                unsent,
            )

    async def _feed(self) -> None:
        taken, jobs = await run_db(new_jobs, timezone.now())
        self.cursor = taken.cursor
        if taken.skipped:
            self.counts.skipped += taken.skipped
            log.warning(
                "%d alarm transitions recorded over %s ago not notified (the console has them)",
                taken.skipped,
                outbox.CATCH_UP,
            )
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
