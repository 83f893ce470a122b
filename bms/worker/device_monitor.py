"""One device as the monitoring service watches it: its COV subscriptions, its polls, its health.

Theory of operation. Each monitored device has one DeviceMonitor running in its own named task,
so a device that times out delays nobody else. Its loop:

- reachable: subscribe the points watched by COV that have no subscription (a refusal is
  remembered in the database and the point is polled instead, or left unwatched in "cov" mode),
  cancel the subscriptions of points no longer watched by COV, poll the points that are due
  (each at its own interval, the due ones of a device in one batched read), then sleep until the
  next poll is due or something wakes it;
- unreachable or offline: every subscription is dropped locally (the device lost or will lose
  it), and the device is probed with one small read after a backoff delay; the first answer
  makes it online, and the next round subscribes everything again, each point with the
  process id it had: a device that was only slow still holds the old subscriptions, and the
  same process id replaces each one there instead of adding a second that notifies too.

Health lives in the site's HealthBook (bms.worker.health_book), fed by every request the
client makes (this monitor's, its COV renewals and the jobs'): the monitor tells it what only
it sees (a notification) and is woken when its device changes state.
An unsolicited I-Am (`device_announced`: the device restarted and forgot its subscriptions)
renews every subscription of the device at once, at most once per I_AM_RESUBSCRIBE_SECONDS
(a later one waits for the end of that window, it is not lost): another tool's Who-Is makes
every device answer, and must not cost a resubscription of the whole building each time.
COV notifications and polled values go to the ReadingBatcher (group commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from bms.bacnet import cov_plan
from bms.bacnet.cov import CovSubscription
from bms.bacnet.cov_plan import WatchedPoint
from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError, LocalError
from bms.bacnet.health import DeviceHealth
from bms.bacnet.types import CovNotification, ObjectRef
from bms.worker.db import run_db
from bms.worker.health_book import HealthBook
from bms.worker.reading_batch import ReadingBatcher
from bms.worker.store.monitoring import DeviceWatch, ReadingRow, save_cov_refusal

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0  # the longest an idle loop sleeps (to apply new settings, polls due)
SUBSCRIBE_RETRY_SECONDS = 60.0  # a subscription that failed without a refusal, tried again
I_AM_RESUBSCRIBE_SECONDS = 30.0


@dataclass(frozen=True)
class CovOptions:
    confirmed: bool
    lifetime: int


class DeviceMonitor:
    def __init__(
        self,
        engine: Engine,
        watch: DeviceWatch,
        cov: CovOptions,
        book: HealthBook,
        batcher: ReadingBatcher,
    ) -> None:
        self._engine = engine
        self._cov = cov
        self._batcher = batcher
        self._book = book
        self.device_id = watch.device_id
        self._watch = watch
        self._subs: dict[int, CovSubscription] = {}
        self._poll_due: dict[int, float] = {}  # point id -> monotonic time of its next poll
        self._retry_subscribe: dict[int, float] = {}  # point id -> when to try COV again
        # point id -> the process id of its last subscription, kept when the subscriptions are
        # dropped (see the module's docstring), forgotten when cancelled at the device
        self._process_ids: dict[int, int] = {}
        self._dropping: set[asyncio.Task[None]] = set()  # refused renewals being dropped
        self._warned_unwatched: set[int] = set()
        self._resubscribe_due: float | None = None  # monotonic; set by an I-Am
        self._last_resubscribe = -I_AM_RESUBSCRIBE_SECONDS
        self._wake = asyncio.Event()
        self.polls = 0  # poll requests made (for tests and the benchmark)
        self.resubscriptions = 0  # renewals of every subscription after an I-Am (for tests)
        book.listen(self.device_id, self._wake.set)

    @property
    def health(self) -> DeviceHealth:
        return self._book.health(self.device_id)

    # ---- what the service tells it

    def update(self, watch: DeviceWatch) -> None:
        """New settings from the database (the loop applies them on its next round)."""
        self._watch = watch
        self._wake.set()

    def device_announced(self) -> None:
        """The device sent an I-Am of its own: renew its subscriptions now (or at the end of
        the current window; see the module's docstring)."""
        due = max(time.monotonic(), self._last_resubscribe + I_AM_RESUBSCRIBE_SECONDS)
        if self._resubscribe_due is None or due < self._resubscribe_due:
            self._resubscribe_due = due
        self._wake.set()

    @property
    def subscribed(self) -> set[int]:
        return set(self._subs)

    @property
    def polled(self) -> set[int]:
        return set(self._poll_due)

    # ---- the loop

    async def run(self) -> None:
        """Until cancelled; live subscriptions stay with the client, which cancels them at the
        peers when the engine stops (or `cancel_subscriptions` does, for this device alone)."""
        try:
            while True:
                if self.health.reachable:
                    await self._round()
                    await self._sleep(self._until_next_poll())
                else:
                    await self._drop_subscriptions()
                    await self._sleep(self.health.retry_delay())
                    if not self.health.reachable:
                        await self._probe()
        finally:
            self._book.unlisten(self.device_id)

    async def cancel_subscriptions(self) -> None:
        """Tell the device to stop notifying (its points are no longer monitored)."""
        await self._cancel_unwanted(set())

    async def _round(self) -> None:
        by_cov, polled, unwatched = cov_plan.split(self._watch.points, self._watch.cov_refused)
        for point in unwatched:
            if point.point_id not in self._warned_unwatched:
                self._warned_unwatched.add(point.point_id)
                log.warning(
                    "device %s %s: the device refuses COV and the mode is cov only: not watched",
                    self._watch.instance,
                    point.ref,
                )
        await self._cancel_unwanted({p.point_id for p in by_cov})
        await self._resubscribe_if_announced()
        await self._subscribe_missing(by_cov)
        if not self.health.reachable:
            return
        self._schedule_polls(polled)
        await self._poll_due_points()

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):  # time for the next round
            await asyncio.wait_for(self._wake.wait(), max(0.0, seconds))

    def _until_next_poll(self) -> float:
        now = time.monotonic()
        nearest = min(self._poll_due.values(), default=now + IDLE_SECONDS)
        return min(IDLE_SECONDS, nearest - now)

    # ---- health

    async def _probe(self) -> None:
        """One small read of an unreachable device: any answer brings it back (the client
        tells the book the outcome, an error PDU counting as an answer)."""
        ref = ObjectRef("device", self._watch.instance)
        try:
            await self._engine.client.read_property(self._watch.address, ref, "object-name")
        except BACnetError as exc:
            log.debug("device %s: probe: %s", self._watch.instance, exc)

    # ---- COV

    async def _resubscribe_if_announced(self) -> None:
        due = self._resubscribe_due
        if due is None or due > time.monotonic():
            return
        self._resubscribe_due = None
        self._last_resubscribe = time.monotonic()
        self._retry_subscribe.clear()  # what failed before the restart may work now
        self.resubscriptions += 1
        log.info(
            "device %s announced itself: renewing its %d subscriptions",
            self._watch.instance,
            len(self._subs),
        )
        for sub in list(self._subs.values()):
            if not self.health.reachable:
                return
            try:
                await sub.renew_now()
            except BACnetError as exc:
                self._on_renewal(sub, exc)

    async def _subscribe_missing(self, points: list[WatchedPoint]) -> None:
        now = time.monotonic()
        for point in points:
            if point.point_id in self._subs or self._retry_subscribe.get(point.point_id, 0) > now:
                continue
            if not self.health.reachable:
                return
            if cov_plan.is_refused(self._watch.cov_refused, point.ref.object_type):
                continue  # refused for an earlier point of this round: polled from the next
            await self._subscribe(point)

    async def _subscribe(self, point: WatchedPoint) -> None:
        try:
            sub = await self._engine.client.subscribe_cov(
                self._watch.address,
                point.ref,
                lambda notification: self._on_notification(point, notification),
                confirmed=self._cov.confirmed,
                lifetime=self._cov.lifetime,
                process_id=self._process_ids.get(point.point_id),
            )
        except BACnetError as exc:
            await self._subscribe_failed(point, exc)
            return
        sub.on_renewal = self._on_renewal
        self._subs[point.point_id] = sub
        self._process_ids[point.point_id] = sub.process_id
        self._retry_subscribe.pop(point.point_id, None)
        self._poll_due.pop(point.point_id, None)

    async def _subscribe_failed(self, point: WatchedPoint, error: BACnetError) -> None:
        key = cov_plan.refusal_key(error, point.ref.object_type)
        if key is None:
            log.warning("device %s: COV of %s failed: %s", self._watch.instance, point.ref, error)
            self._retry_subscribe[point.point_id] = time.monotonic() + SUBSCRIBE_RETRY_SECONDS
            return
        log.info("device %s refuses COV for %s (%s): remembered", self._watch.instance, key, error)
        self._watch.cov_refused[key] = {"reason": str(error)}
        await run_db(save_cov_refusal, self.device_id, key, str(error))

    def _on_notification(
        self, point: WatchedPoint, notification: CovNotification
    ) -> asyncio.Future[None] | None:
        """Queue the value; for a confirmed notification, the future of its storing (the
        router acknowledges the device once it is stored, and refuses it if it cannot be)."""
        values = notification.values
        stored = None
        if "present-value" in values:
            flags = values.get("status-flags")
            stored = self._batcher.add(
                ReadingRow(
                    point.point_id,
                    point.device_id,
                    point.ref,
                    values["present-value"],
                    tuple(flags) if flags is not None else None,
                    "cov",
                ),
                wait=notification.confirmed,
            )
        # A notification is an answer too: it ends a run of timed-out requests (renewals, polls)
        # of a device that is busy, not gone (bench/cov.py: 3 renewals lost in a row while the
        # device kept notifying made it flap, dropping and remaking its 200 subscriptions).
        self._book.answered(self.device_id, "sent a COV notification")
        return stored

    def _on_renewal(self, sub: CovSubscription, error: BACnetError | None) -> None:
        if error is None or isinstance(error, LocalError):
            # The client told the book the outcome (an answer, or one failure of the N in a
            # row that make the device unreachable); the subscription keeps retrying.
            return
        # Refused now although accepted before (restarted, reconfigured): subscribe again
        # from scratch, which learns a lasting refusal if it is one.
        log.warning(
            "device %s: COV renewal of %s refused: %s", self._watch.instance, sub.ref, error
        )
        for point_id, live in list(self._subs.items()):
            if live is sub:
                del self._subs[point_id]
                self._keep_dropping(sub)
        self._wake.set()

    def _keep_dropping(self, sub: CovSubscription) -> None:
        # Called from the subscription's own renewal task: dropping it cancels that task, so
        # the drop runs as a task of its own, kept and awaited by the next round.
        task = asyncio.create_task(sub.drop(), name=f"cov-drop {sub.address} {sub.ref}")
        self._dropping.add(task)

    async def _await_drops(self) -> None:
        dropping, self._dropping = self._dropping, set()
        if dropping:
            await asyncio.gather(*dropping)

    async def _cancel_unwanted(self, wanted: set[int]) -> None:
        await self._await_drops()
        for point_id in [p for p in self._subs if p not in wanted]:
            sub = self._subs.pop(point_id)
            self._process_ids.pop(point_id, None)
            try:
                await sub.cancel()
            except BACnetError as exc:
                log.warning(
                    "device %s: COV of %s not cancelled: %s", self._watch.instance, sub.ref, exc
                )

    async def _drop_subscriptions(self) -> None:
        await self._await_drops()
        subs, self._subs = list(self._subs.values()), {}
        for sub in subs:
            await sub.drop()

    # ---- polling

    def _schedule_polls(self, points: list[WatchedPoint]) -> None:
        wanted = {p.point_id for p in points}
        for point_id in [p for p in self._poll_due if p not in wanted]:
            del self._poll_due[point_id]
        now = time.monotonic()
        for point in points:
            self._poll_due.setdefault(point.point_id, now)

    async def _poll_due_points(self) -> None:
        now = time.monotonic()
        due = [p for p in self._watch.points if self._poll_due.get(p.point_id, now + 1) <= now]
        if not due:
            return
        self.polls += 1
        for point in due:
            self._poll_due[point.point_id] = now + point.poll_seconds
        try:
            values = await self._engine.client.read_point_values(
                self._watch.address, [p.ref for p in due]
            )
        except BACnetError as exc:
            log.debug("device %s: poll failed: %s", self._watch.instance, exc)
            return
        for point in due:
            read = values.get(point.ref)
            if read is not None:
                value, flags = read
                self._batcher.add(
                    ReadingRow(point.point_id, point.device_id, point.ref, value, flags, "poll")
                )
