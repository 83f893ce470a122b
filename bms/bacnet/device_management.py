"""Our device's management services: DeviceCommunicationControl, ReinitializeDevice and time.

Theory of operation. bacpypes3 0.0.108 has the pieces but not the services: its application
service access point gates traffic on `dccEnableDisable` (with "disable" it drops every
request but DCC and ReinitializeDevice, and sends nothing; with "disable-initiation" it sends
only I-Am), and `Application` serves neither DCC nor ReinitializeDevice nor time
synchronization. `DeviceManagement` serves them:

- DCC and ReinitializeDevice need the configured password (BACNET_DEVICE_PASSWORD, compared in
  constant time). With none configured, every such request is refused: a device that anyone on
  the LAN could silence is worse than one that needs a setting. A refusal answers
  security / password-failure. Every request, accepted or refused, goes to `management_hook`
  (the audit); an accepted one is audited BEFORE it takes effect, and if that fails the request
  is refused with device / operational-problem (no silent device nobody knows about).
- DCC disable / disable-initiation for a duration (minutes; none is "until enabled") then
  enables communications again by itself; enable ends it at once.
- ReinitializeDevice answers first and then reinitializes (ASHRAE 135 16.4.2): warmstart and
  coldstart call the product's `reinitialize_hook` (the worker reloads its objects and
  schedules from the database); coldstart also forgets what a power cycle forgets (COV
  subscriptions, DCC). The backup and restore states are not supported.
- (UTC)TimeSynchronization sets the device clock (bms.bacnet.clock: an offset over the host
  clock, which a peer must never set), audited like the rest.

The device object's local-date, local-time, utc-offset and daylight-savings-status come from the
same clock (`ClockProperties`, a mixin for the device object).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bacpypes3.apdu import SimpleAckPDU
from bacpypes3.appservice import ApplicationServiceAccessPoint
from bacpypes3.basetypes import ServicesSupported
from bacpypes3.errors import ExecutionError, MissingRequiredParameter
from bacpypes3.primitivedata import Boolean, Date, Integer, Time

from bms.bacnet.clock import DeviceClock, site_zone
from bms.bacnet.refusals import hyphenated

__all__ = [
    "MANAGEMENT_SERVICES",
    "ClockProperties",
    "DeviceManagement",
    "ManagementHook",
    "ManagementHooks",
    "ManagementRequest",
    "ReinitializeHook",
]

log = logging.getLogger(__name__)

MANAGEMENT_SERVICES = (
    "deviceCommunicationControl",
    "reinitializeDevice",
    "timeSynchronization",
    "utcTimeSynchronization",
)
SUPPORTED_REINITIALIZE = ("coldstart", "warmstart")
HOOK_TIMEOUT_SECONDS = 2.5  # below a peer's usual 3 s APDU timeout


@dataclass(frozen=True)
class ManagementRequest:
    """A management request a peer made of our device, for the audit."""

    service: str  # "device-communication-control", "reinitialize-device", "time-synchronization"
    source_address: str
    detail: dict[str, Any] = field(default_factory=dict)
    accepted: bool = True
    reason: str = ""


ManagementHook = Callable[[ManagementRequest], Awaitable[None]]
ReinitializeHook = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class ManagementHooks:
    """What the product does for the management and schedule services (the engine installs
    them with the configured password and time zone before the device answers anyone)."""

    audit: ManagementHook | None = None
    reinitialize: ReinitializeHook | None = None
    schedule_write: Callable[[Any], Awaitable[None]] | None = None  # ScheduleWriteHook

    def install(self, app: Any, config: Any) -> None:
        app.configure_management(password=config.device_password, time_zone=config.time_zone)
        app.management_hook = self.audit
        app.reinitialize_hook = self.reinitialize
        app.schedule_write_hook = self.schedule_write


# Confirmed-request service choices a silenced device still takes (ASHRAE 135 16.1.2).
_REACH_A_DISABLED_DEVICE = frozenset({17, 20})  # DeviceCommunicationControl, ReinitializeDevice
_CONFIRMED_REQUEST, _SEGMENTED = 0, 0x08


class DccGate(ApplicationServiceAccessPoint):  # type: ignore[misc]
    """bacpypes3's application service access point with a DCC "disable" that works.

    bacpypes3 0.0.108 gates "disable" on `pdu.apduType` of the raw PDU, which has none: every
    datagram then failed to decode. This gate drops, while disabled, every incoming APDU but
    DCC and ReinitializeDevice and everything we would initiate; bacpypes3's own state is kept
    at "disable-initiation" meanwhile (a branch of its that works: only I-Am goes out), and our
    `DeviceManagement` switches the instance to this class when it is configured.
    """

    dcc_disabled = False

    async def confirmation(self, pdu: Any) -> None:
        if self.dcc_disabled and not _reaches_a_disabled_device(bytes(pdu.pduData)):
            return
        await super().confirmation(pdu)

    async def sap_indication(self, apdu: Any) -> None:
        if self.dcc_disabled:
            return
        await super().sap_indication(apdu)


def _reaches_a_disabled_device(octets: bytes) -> bool:
    if not octets or octets[0] >> 4 != _CONFIRMED_REQUEST:
        return False
    choice_at = 5 if octets[0] & _SEGMENTED else 3
    return len(octets) > choice_at and octets[choice_at] in _REACH_A_DISABLED_DEVICE


def _refusal(error_class: str, error_code: str) -> ExecutionError:
    return ExecutionError(errorClass=error_class, errorCode=error_code)


class DeviceManagement:
    """Mixin for the device's Application, first in its bases (before DeviceServices)."""

    management_password: str = ""
    management_hook: ManagementHook | None = None
    reinitialize_hook: ReinitializeHook | None = None
    # A DCC duration is in minutes; tests make a minute shorter.
    dcc_seconds_per_minute: float = 60.0
    _dcc_timer: asyncio.TimerHandle | None = None
    _clock: DeviceClock | None = None

    def configure_management(self, *, password: str, time_zone: str) -> None:
        self.management_password = password
        self._clock = DeviceClock(site_zone(time_zone))
        asap = self.asap  # type: ignore[attr-defined]
        if type(asap) is ApplicationServiceAccessPoint:
            asap.__class__ = DccGate  # see DccGate: bacpypes3 builds the plain one itself

    @property
    def clock(self) -> DeviceClock:
        if self._clock is None:
            self._clock = DeviceClock(site_zone("UTC"))
        return self._clock

    @property
    def communication(self) -> str:
        """ "enable", "disable" or "disable-initiation" (DCC)."""
        if getattr(self.asap, "dcc_disabled", False):  # type: ignore[attr-defined]
            return "disable"
        return hyphenated(self.asap.dccEnableDisable)  # type: ignore[attr-defined]

    def _set_communication(self, state: str) -> None:
        """bacpypes3's gate for "enable"/"disableInitiation", DccGate's for "disable"."""
        self.asap.dcc_disabled = state == "disable"  # type: ignore[attr-defined]
        self.asap.dccEnableDisable = "enable" if state == "enable" else "disableInitiation"  # type: ignore[attr-defined]

    def get_services_supported(self) -> ServicesSupported:
        supported = super().get_services_supported()  # type: ignore[misc]
        for name in MANAGEMENT_SERVICES:
            supported[getattr(supported, name)] = 1
        return supported  # type: ignore[no-any-return]

    # ---- DeviceCommunicationControl ----------------------------------------------------------

    async def do_DeviceCommunicationControlRequest(self, apdu: Any) -> None:
        if apdu.enableDisable is None:
            raise MissingRequiredParameter("enable-disable is required")
        state = hyphenated(apdu.enableDisable.attr)
        minutes = apdu.timeDuration
        detail = {"state": state, "minutes": minutes}
        await self._authorize("device-communication-control", apdu, detail)
        if state == "enable":
            self.enable_communications()
        else:
            self._disable_communications(apdu.enableDisable.attr, minutes)
        await self.response(SimpleAckPDU(context=apdu))  # type: ignore[attr-defined]

    def enable_communications(self) -> None:
        if self._dcc_timer is not None:
            self._dcc_timer.cancel()
            self._dcc_timer = None
        if self.communication != "enable":
            log.warning("communications enabled again")
        self._set_communication("enable")

    def _disable_communications(self, state: str, minutes: int | None) -> None:
        if self._dcc_timer is not None:
            self._dcc_timer.cancel()
            self._dcc_timer = None
        self._set_communication(state)
        if minutes:
            # A timer handle, not a task: nothing to await, cancelled on enable and at close.
            self._dcc_timer = asyncio.get_running_loop().call_later(
                minutes * self.dcc_seconds_per_minute, self.enable_communications
            )
        log.warning(
            "communications %s by DCC for %s",
            hyphenated(state),
            f"{minutes} min" if minutes else "ever",
        )

    # ---- ReinitializeDevice -----------------------------------------------------------------

    async def do_ReinitializeDeviceRequest(self, apdu: Any) -> None:
        state = hyphenated(apdu.reinitializedStateOfDevice.attr)
        await self._authorize("reinitialize-device", apdu, {"state": state})
        if state not in SUPPORTED_REINITIALIZE:
            raise _refusal("services", "optionalFunctionalityNotSupported")
        await self.response(SimpleAckPDU(context=apdu))  # type: ignore[attr-defined]
        await self._reinitialize(state)

    async def _reinitialize(self, state: str) -> None:
        log.warning("reinitializing (%s) at a peer's request", state)
        if state == "coldstart":  # what a power cycle forgets
            self.enable_communications()
            for detection in list(getattr(self, "_cov_detections", {}).values()):
                for subscription in list(detection.cov_subscriptions):
                    self.cancel_subscription(subscription)  # type: ignore[attr-defined]
        if self.reinitialize_hook is None:
            return
        try:
            await self.reinitialize_hook(state)
        except Exception:
            # The peer has its ack already (the standard answers first); say it in the log.
            log.exception("reinitialize (%s) failed", state)

    # ---- time --------------------------------------------------------------------------------

    async def do_TimeSynchronizationRequest(self, apdu: Any) -> None:
        await self._synchronize("time-synchronization", apdu, utc=False)

    async def do_UTCTimeSynchronizationRequest(self, apdu: Any) -> None:
        await self._synchronize("utc-time-synchronization", apdu, utc=True)

    async def _synchronize(self, service: str, apdu: Any, *, utc: bool) -> None:
        """Unconfirmed: nothing to answer, so a refusal is only audited (and logged)."""
        source = str(apdu.pduSource)
        try:
            wall = _datetime_of(apdu.time)
        except ValueError as exc:
            await self._audit(ManagementRequest(service, source, {}, False, str(exc)))
            return
        instant = wall.replace(tzinfo=UTC) if utc else self.clock.local_to_instant(wall)
        offset = instant - self.clock.now() + self.clock.offset
        detail = {"time": instant.isoformat(), "offset_seconds": round(offset.total_seconds(), 3)}
        if not await self._audit(ManagementRequest(service, source, detail)):
            log.error("%s from %s not applied: it could not be audited", service, source)
            return
        self.clock.set_time(instant)
        log.info("device clock set by %s from %s (offset %s)", service, source, offset)

    # ---- password and audit ------------------------------------------------------------------

    async def _authorize(self, service: str, apdu: Any, detail: dict[str, Any]) -> None:
        """Audit the request; raise the error to answer unless it may go ahead."""
        source = str(apdu.pduSource)
        reason = self._password_problem(apdu.password)
        if reason:
            await self._audit(ManagementRequest(service, source, detail, False, reason))
            raise _refusal("security", "passwordFailure")
        if not await self._audit(ManagementRequest(service, source, detail)):
            raise _refusal("device", "operationalProblem")

    def _password_problem(self, given: Any) -> str:
        if not self.management_password:
            return "no device password is configured (BACNET_DEVICE_PASSWORD)"
        if given is None:
            return "no password given"
        if not hmac.compare_digest(str(given).encode(), self.management_password.encode()):
            return "wrong password"
        return ""

    async def _audit(self, request: ManagementRequest) -> bool:
        """Tell the management hook; False if it failed (logged)."""
        log.info(
            "%s from %s: %s %s",
            request.service,
            request.source_address,
            request.detail,
            "accepted" if request.accepted else f"refused ({request.reason})",
        )
        if self.management_hook is None:
            return True
        try:
            async with asyncio.timeout(HOOK_TIMEOUT_SECONDS):
                await self.management_hook(request)
        except Exception:
            log.exception("auditing %s failed", request)
            return False
        return True


def _datetime_of(value: Any) -> datetime:
    """A BACnet DateTime with every field given, as a naive datetime; ValueError otherwise."""
    year, month, day, _weekday = value.date
    hour, minute, second, hundredth = value.time
    if 255 in (year, month, day, hour, minute, second) or month > 12 or day > 31:
        raise ValueError(
            f"the time sent is not a specific date and time: {value.date} {value.time}"
        )
    hundredth = 0 if hundredth == 255 else hundredth
    return datetime(year + 1900, month, day, hour, minute, second, hundredth * 10_000)


class ClockProperties:
    """Mixin for the local device object (before bacpypes3's DeviceObject): its clock
    properties come from the application's device clock, in the site's time zone."""

    _app: Any

    def _device_clock(self) -> DeviceClock:
        app = self._app
        return app.clock if isinstance(app, DeviceManagement) else DeviceClock(site_zone("UTC"))

    @property
    def localDate(self) -> Date:  # bacpypes3's property name
        now = self._device_clock().local_now()
        return Date((now.year - 1900, now.month, now.day, now.isoweekday()))

    @localDate.setter
    def localDate(self, value: Any) -> None:
        """bacpypes3 sets it while building the object; the clock is the truth."""

    @property
    def localTime(self) -> Time:
        now = self._device_clock().local_now()
        return Time((now.hour, now.minute, now.second, now.microsecond // 10_000))

    @localTime.setter
    def localTime(self, value: Any) -> None:
        """bacpypes3 sets it while building the object; the clock is the truth."""

    @property
    def utcOffset(self) -> Integer:
        return Integer(self._device_clock().utc_offset_minutes())

    @utcOffset.setter
    def utcOffset(self, value: Any) -> None:
        """The site's time zone (a setting) is the truth."""

    @property
    def daylightSavingsStatus(self) -> Boolean:
        return Boolean(self._device_clock().daylight_saving())

    @daylightSavingsStatus.setter
    def daylightSavingsStatus(self, value: Any) -> None:
        """The site's time zone (a setting) is the truth."""
