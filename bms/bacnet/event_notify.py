"""Event notifications from our device to the recipients of a notification class.

One kept, named task per notification and recipient (none is left to the loop): a slow or
silent recipient (a confirmed notification waits for its ack through bacpypes3's retries) never
delays another one, nor the transition that caused it. A recipient named by device instance is
found with a Who-Is when bacpypes3 does not know its address yet. What a recipient answers with
an Error, Reject or Abort, or never answers, is logged: there is no one else to tell.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from bacpypes3.apdu import (
    ConfirmedEventNotificationRequest,
    ErrorRejectAbortNack,
    UnconfirmedEventNotificationRequest,
)
from bacpypes3.pdu import Address

from bms.bacnet.local.alarm_spec import Destination, NotificationClassSpec

log = logging.getLogger(__name__)

WHO_IS_SECONDS = 3  # to find a recipient named by device instance


class Notifier:
    """Sends event notifications for one Application and keeps the tasks doing it."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._tasks: set[asyncio.Task[None]] = set()

    def send(
        self,
        notification_class: NotificationClassSpec,
        transition: str,
        params: dict[str, Any],
        when: datetime,
    ) -> int:
        """Notify every recipient that takes `transition` at `when`; returns how many."""
        sent = 0
        for destination in notification_class.recipients:
            if destination.takes(transition, when):
                self._start(destination, params)
                sent += 1
        return sent

    def _start(self, destination: Destination, params: dict[str, Any]) -> None:
        recipient = destination.address or f"device {destination.device}"
        task = asyncio.create_task(
            self._notify(destination, params), name=f"event-notification-{recipient}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def _notify(self, destination: Destination, params: dict[str, Any]) -> None:
        address = await self._address(destination)
        if address is None:
            log.warning(
                "event notification not sent: device %s did not answer Who-Is", destination.device
            )
            return
        request_class = (
            ConfirmedEventNotificationRequest
            if destination.confirmed
            else UnconfirmedEventNotificationRequest
        )
        request = request_class(**params, processIdentifier=destination.process_id)
        request.pduDestination = address
        try:
            await self._app.request(request)
        except ErrorRejectAbortNack as err:  # a BaseException in bacpypes3
            log.warning("event notification to %s refused or unanswered: %s", address, err)

    async def _address(self, destination: Destination) -> Address | None:
        if destination.address is not None:
            return Address(destination.address)
        info = await self._app.device_info_cache.get_device_info(destination.device)
        if info is not None:
            return info.address  # type: ignore[no-any-return]
        i_ams = await self._app.who_is(
            destination.device, destination.device, timeout=WHO_IS_SECONDS
        )
        return i_ams[0].pduSource if i_ams else None

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def finish(self, timeout: float) -> None:
        """Give the notifications under way `timeout` seconds, then cancel the rest."""
        if not self._tasks:
            return
        _, late = await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            log.warning("%d event notifications cancelled at shutdown", len(late))
