"""Real bacpypes3 devices and a real engine for the monitoring tests, on loopback.

Each device is a plain bacpypes3 Application (tests.bacnet.client_peers) that counts the
SubscribeCOV requests it receives; it can be silenced (its socket closed) and started again on
the same address, like a controller that is power-cycled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from bacpypes3.app import Application
from bacpypes3.errors import UnrecognizedService

from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.health import HealthPolicy
from bms.bacnet.stack import close_application
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.devices.monitoring import MonitorDefaults
from bms.worker.device_monitor import CovOptions
from bms.worker.monitoring import Monitoring, MonitorOptions
from tests.bacnet.client_peers import local_object, open_peer, point_objects

POINTS = [
    ObjectRef("analog-input", 1),
    ObjectRef("analog-output", 1),
    ObjectRef("analog-value", 1),
    ObjectRef("binary-output", 1),
]  # not the peers' multi-state value: bacpypes3 fails to subscribe to it (no cov-increment)
LIFETIME = 4  # seconds: renewed after ~2.5 s with the engine's 0.5 s timeout


class NoCovApplication(Application):  # type: ignore[misc]
    """A device that predates COV: it rejects SubscribeCOV as an unknown service."""

    async def do_SubscribeCOVRequest(self, apdu: Any) -> None:
        raise UnrecognizedService("SubscribeCOV is not implemented here")


class PeerDevice:
    """One peer device; `subscribes` counts SubscribeCOV requests (cancellations apart)."""

    def __init__(self, port: int, host: int, instance: int, *, refuses_cov: bool = False):
        self.port, self.host, self.instance = port, host, instance
        self.refuses_cov = refuses_cov
        self.app: Any = None
        self.subscribes = 0
        self.cancels = 0
        # When each object's subscriptions and renewals arrived (monotonic), at the device.
        self.subscribed_at: dict[str, list[float]] = {}

    @property
    def address(self) -> str:
        return f"127.0.0.{self.host}:{self.port}"

    async def start(self) -> None:
        app_class = NoCovApplication if self.refuses_cov else Application
        self.app = await open_peer(
            self.port, self.host, self.instance, point_objects(), app_class=app_class
        )
        original = self.app.do_SubscribeCOVRequest

        async def counting(apdu: Any) -> Any:
            if apdu.lifetime is None and apdu.issueConfirmedNotifications is None:
                self.cancels += 1
            else:
                self.subscribes += 1
                times = self.subscribed_at.setdefault(str(apdu.monitoredObjectIdentifier), [])
                times.append(time.monotonic())
            return await original(apdu)

        self.app.do_SubscribeCOVRequest = counting

    async def silence(self) -> None:
        close_application(self.app)
        self.app = None
        await asyncio.sleep(0)  # the socket closes on the next loop iteration

    def set_value(self, ref: ObjectRef, value: Any) -> None:
        local_object(self.app, ref).presentValue = value


def make_device_rows(devices: list[PeerDevice], **monitoring: Any) -> dict[int, BACnetDevice]:
    """A device row per peer with its five points, monitored as `monitoring` says."""
    rows = {}
    for device in devices:
        row = BACnetDevice.objects.create(
            device_instance=device.instance, address=device.address, **monitoring
        )
        BACnetPoint.objects.bulk_create(
            BACnetPoint(device=row, object_type=ref.object_type, instance=ref.instance)
            for ref in POINTS
        )
        rows[device.instance] = row
    return rows


def options(
    *, reload_seconds: float = 0.5, lifetime: int = LIFETIME, **health: Any
) -> MonitorOptions:
    policy = {"failures_to_unreachable": 2, "offline_after": 3.0, "retry_first": 0.5}
    policy.update(health)
    policy.setdefault("retry_max", 1.0)
    return MonitorOptions(
        site="default",
        defaults=MonitorDefaults(monitored=False, mode="auto", poll_seconds=60),
        cov=CovOptions(confirmed=False, lifetime=lifetime),
        health=HealthPolicy(**policy),
        reload_seconds=reload_seconds,
    )


class RunningMonitoring:
    """An engine on 127.0.0.1 and the monitoring service on it, as the worker runs them."""

    def __init__(self, port: int, monitor_options: MonitorOptions | None = None) -> None:
        self.engine = Engine(EngineConfig(address=f"127.0.0.1/8:{port}", timeout=0.5, retries=0))
        self._options = monitor_options or options()
        self.service: Monitoring | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Monitoring:
        await self.engine.start()
        self.service = Monitoring(self.engine, self._options)
        self._task = asyncio.create_task(self.service.run(), name="monitoring-under-test")
        return self.service

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        if self._task.done():
            self._task.result()  # a monitoring failure fails the test
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.engine.stop()
        await asyncio.sleep(0)  # the socket closes on the next loop iteration


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Call `check` (sync, may use the ORM) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await sync_to_async(check)()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what or check}")
        await asyncio.sleep(0.1)
