"""The engine: ONE bacpypes3 Application on ONE address and port, client and device at once.

Usage::

    async with Engine(EngineConfig(address="127.0.0.1/8"), write_batch_hook=store) as engine:
        devices = await engine.client.who_is(low=1000, high=1999)
        engine.device.add_object(spec)

Everything the rest of the product needs from BACnet goes through `engine.client`
(bms.bacnet.client.Client) and `engine.device` (bms.bacnet.device.LocalDevice).
"""

from __future__ import annotations

import logging
from types import TracebackType

from bacpypes3.app import Application

from bms.bacnet import speedups
from bms.bacnet.capabilities import CapabilityCache
from bms.bacnet.client import Client
from bms.bacnet.config import EngineConfig
from bms.bacnet.device import LocalDevice, LocalDeviceObject
from bms.bacnet.device_management import DeviceManagement, ManagementHooks
from bms.bacnet.device_services import DeviceServices, RefusalHook, WriteBatchHook
from bms.bacnet.schedule_services import ScheduleServices
from bms.bacnet.stack import close_application, foreign_registration, open_application
from bms.bacnet.trendlog_services import TrendLogServices

log = logging.getLogger(__name__)

NOTIFICATIONS_SHUTDOWN_SECONDS = 3.0  # event notifications under way get this long at stop


class EngineApplication(  # type: ignore[misc]
    TrendLogServices, ScheduleServices, DeviceManagement, DeviceServices, Application
):
    """bacpypes3's Application plus our device-side services (write hook, validation,
    schedule writes, device management)."""


class Engine:
    """Owns the Application; hands out the client and device facades over it."""

    def __init__(
        self,
        config: EngineConfig,
        *,
        write_batch_hook: WriteBatchHook | None = None,
        refusal_hook: RefusalHook | None = None,
        stored_properties: frozenset[str] | None = None,
        management: ManagementHooks | None = None,
    ) -> None:
        self.config = config
        self._write_batch_hook = write_batch_hook
        self._refusal_hook = refusal_hook
        # What write_batch_hook stores; peers' writes to any other property are refused.
        self._stored_properties = stored_properties
        self._management = management or ManagementHooks()
        self._app: EngineApplication | None = None
        self._client: Client | None = None
        self._device: LocalDevice | None = None
        self.capabilities = CapabilityCache()

    async def start(self) -> None:
        if self._app is not None:
            raise RuntimeError("engine already started")
        speedups.install()
        self._app = await open_application(
            self.config, app_class=EngineApplication, device_class=LocalDeviceObject
        )
        self._client = Client(self._app, self.config, self.capabilities)
        self._device = LocalDevice(self._app)
        self._device.set_write_batch_hook(self._write_batch_hook)
        self._app.refusal_hook = self._refusal_hook
        self._app.stored_properties = self._stored_properties
        self._management.install(self._app, self.config)

    async def stop(self) -> None:
        if self._app is None:
            return
        app, self._app = self._app, None
        if self._client is not None:
            await self._client.close()
        await app.notifier.finish(NOTIFICATIONS_SHUTDOWN_SECONDS)  # kept tasks, not dropped
        close_application(app)
        log.info("BACnet engine stopped; %s released", self.config.address)

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("engine not started")
        return self._client

    @property
    def device(self) -> LocalDevice:
        if self._device is None:
            raise RuntimeError("engine not started")
        return self._device

    @property
    def app(self) -> Application:
        if self._app is None:
            raise RuntimeError("engine not started")
        return self._app

    def foreign_registration(self) -> str | None:
        """None unless registered with a BBMD as a foreign device (config.foreign_bbmd); then
        "registered", "pending" or why the BBMD refused (bms.bacnet.stack)."""
        return None if self._app is None else foreign_registration(self._app)

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
