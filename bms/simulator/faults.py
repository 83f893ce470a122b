"""Devices that go silent and come back: silence, restore, restart, and a flaky schedule.

A real device goes quiet when it loses power or its network cable: it neither hears requests nor
sends anything, COV notifications included. `DeviceSwitch` gates a bacpypes3 application's UDP
servers both ways (what the socket received is dropped before decoding; what the stack sends is
dropped before the socket), so a silenced device looks exactly like a dead one from outside,
while its values keep moving inside.

A restart is what a controller's reboot does to its peers: it is silent while it boots, it
forgets every COV subscription (they live in RAM), and it announces itself with a broadcast
I-Am when it is back. Subscribers only learn of it by renewing, or by noticing the silence.

`FlakySchedule` silences a device for `silent` seconds out of every `period`, for health and
resubscription tests that run for a while without a driver.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_RESTART_SECONDS = 1.0


class DeviceSwitch:
    """Silences one bacpypes3 application and brings it back; counts what it dropped."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self.silent_since: float | None = None  # time.time() when silenced, None if answering
        self.dropped_received = 0
        self.dropped_sent = 0
        for server in _udp_servers(app):
            self._gate(server)

    @property
    def silent(self) -> bool:
        return self.silent_since is not None

    def silence(self) -> None:
        if self.silent_since is None:
            self.silent_since = time.time()

    def restore(self) -> None:
        self.silent_since = None

    def subscriptions(self) -> int:
        """How many COV subscriptions the device holds now."""
        return sum(len(d.cov_subscriptions) for d in self._app._cov_detections.values())

    def drop_subscriptions(self) -> int:
        """Forget every COV subscription, as a reboot does; returns how many there were."""
        subscriptions = [
            cov
            for detection in list(self._app._cov_detections.values())
            for cov in list(detection.cov_subscriptions)
        ]
        for cov in subscriptions:
            # Its lifetime timer, its place in the object's list and, for the last one of an
            # object, the hooks into the object's properties.
            self._app.cancel_subscription(cov)
        return len(subscriptions)

    async def restart(self, seconds: float = DEFAULT_RESTART_SECONDS) -> int:
        """Silent for `seconds`, subscriptions forgotten, then back with an I-Am; returns how
        many subscriptions were dropped."""
        if seconds < 0:
            raise ValueError(f"a restart takes >= 0 seconds, not {seconds}")
        self.silence()
        dropped = self.drop_subscriptions()
        await asyncio.sleep(seconds)
        self.restore()
        self._app.i_am()
        return dropped

    def _gate(self, server: Any) -> None:
        # Instance attributes shadow the class's methods: the link layer above calls
        # server.indication(pdu) to send, the socket protocol server.confirmation(pdu) on receipt.
        send: Callable[[Any], Awaitable[None]] = server.indication
        receive: Callable[[Any], Awaitable[None]] = server.confirmation

        async def gated_send(pdu: Any) -> None:
            if self.silent:
                self.dropped_sent += 1
                return
            await send(pdu)

        async def gated_receive(pdu: Any) -> None:
            if self.silent:
                self.dropped_received += 1
                return
            await receive(pdu)

        server.indication = gated_send
        server.confirmation = gated_receive


def _udp_servers(app: Any) -> list[Any]:
    servers = [getattr(link, "server", None) for link in app.link_layers.values()]
    found = [server for server in servers if server is not None]
    if not found:
        raise RuntimeError("this application has no UDP server to silence")
    return found


@dataclass(frozen=True)
class FlakySchedule:
    """Silent for `silent` seconds at the end of every `period` seconds."""

    period: float
    silent: float

    def __post_init__(self) -> None:
        if not 0 < self.silent < self.period:
            raise ValueError(
                f"a flaky device is silent for more than 0 and less than its period "
                f"({self.period} s), not {self.silent} s"
            )

    @classmethod
    def parse(cls, text: str) -> FlakySchedule:
        """ "PERIOD:SILENT" in seconds, e.g. "30:10"."""
        period, colon, silent = text.partition(":")
        try:
            if not colon:
                raise ValueError("no colon")
            return cls(float(period), float(silent))
        except ValueError as exc:
            raise ValueError(f"--flaky wants PERIOD:SILENT in seconds (e.g. 30:10): {exc}") from exc

    def silent_at(self, elapsed: float) -> bool:
        """Whether a device started `elapsed` seconds ago is silent now."""
        return elapsed % self.period >= self.period - self.silent

    def next_change(self, elapsed: float) -> float:
        """Seconds from `elapsed` until the device next goes silent or comes back."""
        position = elapsed % self.period
        edge = self.period - self.silent
        return (edge - position) if position < edge else (self.period - position)


def flaky_indexes(chosen: tuple[int, ...] | None, devices: int) -> tuple[int, ...]:
    """The flaky devices' indexes: those chosen, else the building's last device."""
    return chosen if chosen is not None else (devices - 1,)


async def run_flaky(
    schedule: FlakySchedule, switches: list[DeviceSwitch], stop: asyncio.Event
) -> None:
    """Silence and restore `switches` on `schedule` until `stop` is set; restores on the way out."""
    started = time.monotonic()
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - started
            for switch in switches:
                if schedule.silent_at(elapsed):
                    switch.silence()
                else:
                    switch.restore()
            # A small floor: a float edge must not spin the loop.
            wait = max(schedule.next_change(elapsed), 0.01)
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                continue
    finally:
        for switch in switches:
            switch.restore()
