"""The worker as an alarm console: remote devices' event notifications stored, and the active
alarms synced with GetEventInformation after a start or when a device comes back online
(`health_changed`, which also raises and clears the device's comm-loss alarm).

A notification is stored before the device hears our SimpleAck (EventReceiver awaits `received`,
which waits for the notification's group commit, alarm_batch.AlarmBatcher, on the write-path
thread that external writes use for their before-ack rule); if the database refuses it the
device gets an error and sends it again. Unconfirmed ones are queued and `received` returns at
once: nobody waits for them (a full queue drops them, counted and logged).

The batcher's loop is a kept task of the console, started with the first notification; if it
fails, what waits is refused, the failure logged, and the next notification starts it again.
`close` stores what is still waiting (the worker's shutdown).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.utils import timezone

from bms.alarms.comm_loss import record_health_alarm
from bms.alarms.remote import reconcile_device
from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import BACnetError
from bms.bacnet.event_client import EventClient, EventReceiver, RemoteEvent
from bms.bacnet.requester import Requester, parse_peer
from bms.devices.models import BACnetDevice
from bms.worker.alarm_batch import AlarmBatcher
from bms.worker.db import run_db

log = logging.getLogger(__name__)

GET_EVENT_INFORMATION = "get-event-information"


class AlarmConsole:
    """Receives remote event notifications and syncs remote alarms for one worker."""

    def __init__(self) -> None:
        self._events: EventClient | None = None
        self._receiver: EventReceiver | None = None
        self.batcher = AlarmBatcher()
        self._storing: asyncio.Task[None] | None = None

    def listen(self, app: Any, config: EngineConfig) -> None:
        # Its own Requester: alarm requests are rare and should not queue behind a collect.
        self._events = EventClient(Requester(app, config))
        self._receiver = EventReceiver(app, self.received)

    @property
    def events(self) -> EventClient:
        if self._events is None:
            raise RuntimeError("the alarm console is not listening yet")
        return self._events

    async def received(self, event: RemoteEvent) -> None:
        """Queue the notification; a confirmed one returns (and is acked) once stored."""
        stored = self.batcher.add(event)
        self._keep_storing()
        if stored is not None:
            await stored

    async def close(self) -> None:
        """Stop the store loop and store what is still waiting."""
        task, self._storing = self._storing, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.batcher.drain()

    def _keep_storing(self) -> None:
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self.batcher.run(), name="alarm-console-store")
            self._storing.add_done_callback(self._store_loop_ended)

    def _store_loop_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        log.error("alarm console store loop failed; restarted with the next one", exc_info=exc)
        self.batcher.fail_waiting(exc or RuntimeError("the store loop ended"))

    async def sync_all(self, site: str) -> dict[int, dict[str, int] | str]:
        """GetEventInformation at every online device of `site` that serves it."""
        devices = await run_db(_devices_to_sync, site)
        outcome: dict[int, dict[str, int] | str] = {}
        for instance, address in devices:
            outcome[instance] = await self.sync_device(instance, address)
        return outcome

    async def health_changed(self, device: BACnetDevice, old: str, new: str, reason: str) -> None:
        """A device's recorded health change: its comm-loss alarm raised (unreachable, offline)
        or returned to normal; back online, its alarms synced (what it raised while silent)."""
        await run_db(
            record_health_alarm,
            device.device_instance,
            device.name,
            new,
            reason,
            device.health_changed_at or timezone.now(),
        )
        if new == "online" and old != "online" and serves_event_information(device):
            await self.sync_device(device.device_instance, device.address)

    async def sync_device(self, device_instance: int, address: str) -> dict[str, int] | str:
        """One device's active alarms brought up to date; the error text if it did not answer."""
        try:
            summaries = await self.events.event_information(parse_peer(address))
        except BACnetError as exc:
            log.warning("alarm sync of device %s failed: %s", device_instance, exc)
            return str(exc)
        counts = await run_db(reconcile_device, device_instance, summaries)
        log.info("alarm sync of device %s: %s", device_instance, counts)
        return counts


def _devices_to_sync(site: str) -> list[tuple[int, str]]:
    rows = BACnetDevice.objects.filter(site=site, health="online").values_list(
        "device_instance", "address", "services_supported"
    )
    return [
        (instance, address)
        for instance, address, services in rows
        if GET_EVENT_INFORMATION in (services or [])
    ]


def serves_event_information(device: BACnetDevice) -> bool:
    return GET_EVENT_INFORMATION in (device.services_supported or [])
