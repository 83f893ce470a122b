"""Device 8888 as an alarm source, recorded: its transitions and the acknowledgements peers send.

Transitions happen on the event loop inside bacpypes3's event algorithms and must not wait for
the database: `transitioned` queues them and one kept task stores what has queued, a batch per
transaction (bms.alarms.services), like the external-write path publishes its updates. The
stored event state is what the device restores after a restart. A batch the database refuses
stays queued and is tried again after a pause; the device keeps working meanwhile.

An acknowledgement is different: the peer is told "acknowledged" only once it is stored, so
`acknowledge` stores it (after the transitions queued before it) before the device answers; if
it cannot, the device refuses the AcknowledgeAlarm (device / operational-problem).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from django.db import DatabaseError

from bms.alarms.services import record_local_acknowledgement, record_local_transitions
from bms.bacnet.device import LocalDevice
from bms.bacnet.local.alarm_spec import AlarmAcknowledgement, EventTransition
from bms.worker.db import run_db, run_db_write_path

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.02  # transitions of the next few milliseconds join the batch
RETRY_SECONDS = 2.0  # after the database refused a batch

SideTask = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class AlarmSource:
    """Records one device's event transitions and acknowledgements."""

    def __init__(self, side_task: SideTask) -> None:
        self._side_task = side_task
        self._queued: list[EventTransition] = []
        self._recorder: asyncio.Task[None] | None = None
        self._device_instance = 0
        self._storing = asyncio.Lock()  # one batch at a time, in order

    def serve(self, device: LocalDevice) -> None:
        self._device_instance = device.device_instance
        device.set_event_hooks(self.transitioned, self.acknowledge)

    @property
    def queued(self) -> int:
        return len(self._queued)

    def transitioned(self, event: EventTransition) -> None:
        self._queued.append(event)
        if self._recorder is None or self._recorder.done():
            self._recorder = self._side_task(self._record_queued(), "record-transitions")

    async def _record_queued(self) -> None:
        while self._queued:
            await asyncio.sleep(COALESCE_SECONDS)
            try:
                await self.flush()
            except DatabaseError as exc:
                log.warning(
                    "%d event transitions not recorded yet (%s); trying again in %ss",
                    len(self._queued),
                    exc,
                    RETRY_SECONDS,
                )
                await asyncio.sleep(RETRY_SECONDS)

    async def flush(self) -> None:
        """Store what is queued now; on a database error it stays queued (and is raised)."""
        async with self._storing:
            batch, self._queued = self._queued, []
            if not batch:
                return
            try:
                await run_db(record_local_transitions, batch, self._device_instance)
            except BaseException:
                self._queued[:0] = batch  # in front of what came meanwhile
                raise

    async def acknowledge(self, ack: AlarmAcknowledgement) -> None:
        """Store a peer's acknowledgement before the device answers (raises: it refuses)."""
        await self.flush()  # the acknowledged transition is recorded first
        await run_db_write_path(record_local_acknowledgement, ack)
