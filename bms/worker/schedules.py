"""The worker's schedules: served by device 8888 and carried out on the device clock.

Theory of operation. `ScheduleRunner.run` is a supervised loop. Each round it brings the
device's Schedule and Calendar objects in step with the database (calendars first: schedules
name them), works out each schedule's value in force now and when it next changes
(bms.bacnet.schedule_eval, on the device clock in the site's zone), and writes the value to the
schedule's targets through the operators' commanding path (bms.schedules.services) whenever it
differs from the value last written. Then it sleeps until the earliest next change, at most
`resync_seconds`, or until woken (a peer wrote a schedule, or asked for a reinitialize).

Nothing written is remembered across a restart: the first round writes every schedule's value
in force again, which is what a controller does after a power cycle (a value that a restart
interrupted is never left half-applied). A refused command (a value its target no longer
takes) is audited by the commanding path and logged here.

Peers' writes to the schedules reach `store_write` (the device's schedule write hook) and are
stored before the device acknowledges them; `reinitialize` is the device's ReinitializeDevice
hook: it reloads the objects from the database and writes every value in force again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError
from bms.bacnet.local.schedule import CalendarSpec, ScheduleSpec
from bms.bacnet.schedule_codec import entries_from_json
from bms.bacnet.schedule_eval import CalendarEntry, state_at
from bms.bacnet.schedule_services import ScheduleWrite
from bms.bacnet.types import ObjectRef, PresentValue
from bms.schedules import services
from bms.worker.db import run_db

__all__ = ["ScheduleRunner"]

log = logging.getLogger(__name__)

RESYNC_SECONDS = 5.0  # the database is read again at least this often
_NOT_WRITTEN = object()


class ScheduleRunner:
    def __init__(
        self, wake_virtual_sync: Callable[[], None], resync_seconds: float = RESYNC_SECONDS
    ) -> None:
        self._engine: Engine | None = None
        self._wake_virtual_sync = wake_virtual_sync
        self._resync_seconds = resync_seconds
        self._due = asyncio.Event()
        self._written: dict[int, Any] = {}
        self._specs: list[ScheduleSpec] = []

    def serve(self, engine: Engine) -> None:
        self._engine = engine

    async def run(self) -> None:
        while True:
            await self.round()
            # a timeout means the next change (or the resync) is due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), self._sleep_seconds())
            self._due.clear()

    async def round(self) -> None:
        """Sync the objects from the database, then write what changed."""
        await self.sync_once()
        await self._write_changes()

    async def store_write(self, write: ScheduleWrite) -> None:
        """The device's schedule write hook: stored before the ack, then carried out."""
        await run_db(services.store_schedule_write, write)
        log.info("%s %s written by %s", write.ref, write.property, write.source_address)
        self._due.set()

    async def reinitialize(self, state: str) -> None:
        """ReinitializeDevice: reload everything and write every value in force again."""
        self._written.clear()
        self._wake_virtual_sync()
        self._due.set()
        log.warning("reinitialized (%s): schedules reloaded, values in force written again", state)

    # ---- internals ---------------------------------------------------------------------------

    async def sync_once(self) -> None:
        schedules = await run_db(services.schedule_specs)
        calendars = await run_db(services.calendar_specs)
        device = self._device()
        wanted: dict[ObjectRef, ScheduleSpec | CalendarSpec] = {s.ref: s for s in calendars}
        wanted.update({s.ref: s for s in schedules})
        for ref in set(device.served()) - set(wanted):
            device.remove(ref)
        self._specs = []
        served = {spec.instance for spec in schedules}
        self._written = {k: v for k, v in self._written.items() if k in served}
        specs: list[ScheduleSpec | CalendarSpec] = [*calendars, *schedules]
        for spec in specs:
            try:
                self._put(device, spec)
            except BACnetError as exc:  # a stored row the device cannot serve: say so, go on
                log.error("cannot serve %s %r: %s", spec.ref, spec.name, exc)

    def _put(self, device: Any, spec: ScheduleSpec | CalendarSpec) -> None:
        if isinstance(spec, CalendarSpec):
            device.put_calendar(spec)
        else:
            device.put_schedule(spec)
            self._specs.append(spec)

    async def _write_changes(self) -> None:
        for spec in self._specs:
            value = self._state(spec)[0]
            # what was written, where and at which level: new targets or a new priority
            # (an operator's change of settings) are written even if the value is the same
            written = (value, spec.targets, spec.priority_for_writing)
            if self._written.get(spec.instance, _NOT_WRITTEN) == written:
                continue
            refused = await run_db(services.command_targets, spec.instance, value)
            self._written[spec.instance] = written
            for line in refused:
                log.warning("schedule %s could not write %r: %s", spec.instance, value, line)
            log.info(
                "schedule %s %r: %r written to %d objects",
                spec.instance,
                spec.name,
                value,
                len(spec.targets) - len(refused),
            )
            self._wake_virtual_sync()

    def _state(self, spec: ScheduleSpec) -> tuple[PresentValue, datetime | None]:
        clock = self._clock()
        state = state_at(spec.schedule(), clock.now(), clock.zone, self._calendars())
        return state.value, state.next_change

    def _sleep_seconds(self) -> float:
        now = self._clock().now()
        changes = [change for spec in self._specs if (change := self._state(spec)[1]) is not None]
        if not changes:
            return self._resync_seconds
        until = (min(changes) - now).total_seconds()
        return min(self._resync_seconds, max(0.01, until))

    def _calendars(self) -> dict[int, tuple[CalendarEntry, ...]]:
        return {
            spec.instance: entries_from_json(spec.date_list)
            for spec in self._device().served().values()
            if isinstance(spec, CalendarSpec)
        }

    def _device(self) -> Any:
        if self._engine is None:
            raise RuntimeError("the schedule runner serves no engine yet")
        return self._engine.device.schedules

    def _clock(self) -> Any:
        assert self._engine is not None
        return self._engine.app.clock  # type: ignore[attr-defined]
