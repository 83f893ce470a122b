"""Device 8888's management services over real UDP: DCC, ReinitializeDevice, time.

Device 8888 on 127.0.0.2 (password "s3cret", site zone Europe/Paris) with hooks recording what
they are told; a bacpypes3 client on 127.0.0.4 and rusty-bacnet (an independent Rust stack) on
127.0.0.3, all on the test's own port. A DCC "minute" lasts MINUTE seconds here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bacpypes3.apdu import (
    DeviceCommunicationControlRequest,
    ErrorRejectAbortNack,
    ReinitializeDeviceRequest,
)
from bacpypes3.app import Application
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier
from rusty_bacnet import (
    BacnetAbortError,
    BACnetClient,
    BacnetProtocolError,
    BacnetTimeoutError,
    EnableDisable,
    ErrorClass,
    ErrorCode,
    ObjectType,
    PropertyIdentifier,
)
from rusty_bacnet import (
    ObjectIdentifier as RustyOid,
)

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import ObjectSpec, serve_device
from bms.bacnet.device_management import ManagementRequest
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.values import to_python
from tests.bacnet.rusty_peers import WAIT, rusty_client

PASSWORD = "s3cret"
PARIS = ZoneInfo("Europe/Paris")
MINUTE = 3.0
# How far a synchronised clock may be from the time sent: whole seconds on the wire plus the
# request's way, on a loaded machine. The mistakes it catches are a zone or UTC mix-up, 30 min
# or more.
CLOCK_SLACK = timedelta(seconds=10)
DEVICE = ObjectIdentifier(("device", 8888))
RUSTY_DEVICE = RustyOid(ObjectType.DEVICE, 8888)
PASSWORD_FAILURE = (ErrorClass.SECURITY.to_raw(), ErrorCode.PASSWORD_FAILURE.to_raw())


@dataclass
class Rig:
    app: Any
    client: Application
    port: int
    audits: list[ManagementRequest] = field(default_factory=list)
    reinitialized: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.2:{self.port}"

    async def send(self, request: Any) -> str | None:
        """A confirmed request from the bacpypes3 client: None on ack, else "class:code"."""
        request.pduDestination = Address(self.address)
        try:
            async with asyncio.timeout(WAIT):
                await self.client.request(request)
        except ErrorRejectAbortNack as err:
            return f"{err.errorClass}:{err.errorCode}"  # type: ignore[attr-defined]
        return None

    async def dcc(self, state: str, minutes: int | None = None, password: str | None = None) -> Any:
        request = DeviceCommunicationControlRequest(enableDisable=state)
        if minutes is not None:
            request.timeDuration = minutes
        if password is not None:
            request.password = password
        return await self.send(request)

    async def read(self, prop: str) -> Any:
        async with asyncio.timeout(WAIT):
            return to_python(await self.client.read_property(Address(self.address), DEVICE, prop))


@pytest.fixture
async def rig(bacnet_port: int) -> AsyncIterator[Rig]:
    config = EngineConfig(
        address=f"127.0.0.2/8:{bacnet_port}", device_password=PASSWORD, time_zone="Europe/Paris"
    )
    app, _device = await serve_device(config, objects=[ObjectSpec("AV", 1, "Setpoint")])
    app.dcc_seconds_per_minute = MINUTE
    try:
        client = await open_application(
            EngineConfig(address=f"127.0.0.4/8:{bacnet_port}", device_instance=9001)
        )
    except BaseException:
        close_application(app)
        raise
    rig = Rig(app, client, bacnet_port)

    async def audit(request: ManagementRequest) -> None:
        rig.audits.append(request)

    async def reinitialize(state: str) -> None:
        rig.reinitialized.append(state)

    app.management_hook = audit
    app.reinitialize_hook = reinitialize
    yield rig
    app.enable_communications()  # cancels a pending re-enable timer
    close_application(client)
    close_application(app)


async def answers(client: BACnetClient, address: str) -> bool:
    """Whether the device answers a ReadProperty (rusty, short APDU timeout)."""
    try:
        await client.read_property(address, RUSTY_DEVICE, PropertyIdentifier.OBJECT_NAME)
    except BacnetTimeoutError:
        return False
    except BacnetAbortError as err:
        # rusty reports its own transaction timeout as abort reason 10 (tsm-timeout); any other
        # abort is a real answer the test must see
        if "reason=10" not in str(err):
            raise
        return False
    return True


def as_date(text: str) -> date:
    """ "2026-12-7 mon" (bacpypes3's Date as text) -> date(2026, 12, 7)."""
    year, month, day = text.split()[0].split("-")
    return date(int(year), int(month), int(day))


def verdicts(rig: Rig) -> list[tuple[str, bool, str]]:
    return [(a.service, a.accepted, a.reason) for a in rig.audits]


async def test_the_management_services_are_in_protocol_services_supported(rig: Rig) -> None:
    supported = await rig.read("protocol-services-supported")
    for name in (
        "device-communication-control",
        "reinitialize-device",
        "time-synchronization",
        "utc-time-synchronization",
    ):
        assert name in supported, name


async def test_dcc_with_a_wrong_or_no_password_is_refused_and_audited(rig: Rig) -> None:
    assert await rig.dcc("disable", 1, "guess") == "security:password-failure"
    assert await rig.dcc("disable", 1) == "security:password-failure"
    async with rusty_client(500) as rusty:
        with pytest.raises(BacnetProtocolError) as refused:
            await rusty.device_communication_control(rig.address, EnableDisable.DISABLE, 1, "wrong")
        assert (refused.value.error_class, refused.value.error_code) == PASSWORD_FAILURE
        assert await answers(rusty, rig.address)  # still talking
    assert verdicts(rig) == [("device-communication-control", False, "wrong password")] * 1 + [
        ("device-communication-control", False, "no password given"),
        ("device-communication-control", False, "wrong password"),
    ]


async def test_dcc_disable_silences_the_device_for_the_duration_then_it_comes_back(
    rig: Rig,
) -> None:
    async with rusty_client(500) as rusty:
        assert await rig.dcc("disable", 1, PASSWORD) is None
        started = asyncio.get_running_loop().time()
        assert rig.app.communication == "disable"
        assert not await answers(rusty, rig.address)
        while not await answers(rusty, rig.address):
            assert asyncio.get_running_loop().time() - started < MINUTE + WAIT
            await asyncio.sleep(0.2)
        elapsed = asyncio.get_running_loop().time() - started
    assert elapsed >= MINUTE - 0.6  # silent for (about) the minute, not less
    assert rig.app.communication == "enable"
    assert verdicts(rig) == [("device-communication-control", True, "")]
    assert rig.audits[0].detail == {"state": "disable", "minutes": 1}


async def test_enable_ends_a_disable_at_once_and_dcc_still_reaches_a_silent_device(
    rig: Rig,
) -> None:
    async with rusty_client(500) as rusty:
        assert await rig.dcc("disable", None, PASSWORD) is None  # no duration: until enabled
        assert not await answers(rusty, rig.address)
        assert await rig.dcc("enable", None, "guess") == "security:password-failure"
        assert await rig.dcc("enable", None, PASSWORD) is None
        assert await answers(rusty, rig.address)


async def test_disable_initiation_keeps_answering_requests(rig: Rig) -> None:
    assert await rig.dcc("disableInitiation", 1, PASSWORD) is None
    assert await rig.read("object-name") == "Django_BMS"


async def test_no_configured_password_refuses_every_dcc(bacnet_port: int) -> None:
    app, _ = await serve_device(EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"))
    try:
        async with rusty_client() as rusty:
            with pytest.raises(BacnetProtocolError) as refused:
                await rusty.device_communication_control(
                    f"127.0.0.2:{bacnet_port}", EnableDisable.DISABLE, 1, ""
                )
        assert (refused.value.error_class, refused.value.error_code) == PASSWORD_FAILURE
    finally:
        close_application(app)


async def test_reinitialize_answers_then_reinitializes_and_refuses_backup(rig: Rig) -> None:
    warm = ReinitializeDeviceRequest(reinitializedStateOfDevice="warmstart", password=PASSWORD)
    assert await rig.send(warm) is None
    cold = ReinitializeDeviceRequest(reinitializedStateOfDevice="coldstart", password="nope")
    assert await rig.send(cold) == "security:password-failure"
    backup = ReinitializeDeviceRequest(reinitializedStateOfDevice="startBackup", password=PASSWORD)
    assert await rig.send(backup) == "services:optional-functionality-not-supported"
    async with asyncio.timeout(WAIT):
        while not rig.reinitialized:
            await asyncio.sleep(0.05)
    assert rig.reinitialized == ["warmstart"]
    assert verdicts(rig) == [
        ("reinitialize-device", True, ""),
        ("reinitialize-device", False, "wrong password"),
        ("reinitialize-device", True, ""),  # audited, then found unsupported
    ]


async def test_utc_time_synchronization_sets_the_device_clock_not_the_host(rig: Rig) -> None:
    ahead = datetime.now(UTC) + timedelta(hours=3)
    async with rusty_client() as rusty:
        await rusty.utc_time_synchronization(
            rig.address,
            (ahead.year, ahead.month, ahead.day, ahead.isoweekday()),
            (ahead.hour, ahead.minute, ahead.second, 0),
        )
        async with asyncio.timeout(WAIT):
            while not rig.audits:
                await asyncio.sleep(0.05)
    local = ahead.astimezone(PARIS)
    assert as_date(await rig.read("local-date")) == local.date()
    read_time = datetime.combine(
        local.date(), datetime.strptime((await rig.read("local-time"))[:8], "%H:%M:%S").time()
    )
    assert abs(read_time - local.replace(tzinfo=None)) < CLOCK_SLACK
    assert abs(rig.app.clock.offset - timedelta(hours=3)) < CLOCK_SLACK
    (audit,) = rig.audits
    assert (audit.service, audit.accepted) == ("utc-time-synchronization", True)


async def test_local_time_synchronization_is_read_in_the_sites_zone(rig: Rig) -> None:
    wall = datetime.now(PARIS).replace(tzinfo=None, microsecond=0) - timedelta(minutes=30)
    async with rusty_client() as rusty:
        await rusty.time_synchronization(
            rig.address,
            (wall.year, wall.month, wall.day, wall.isoweekday()),
            (wall.hour, wall.minute, wall.second, 0),
        )
        async with asyncio.timeout(WAIT):
            while not rig.audits:
                await asyncio.sleep(0.05)
    assert abs(rig.app.clock.offset + timedelta(minutes=30)) < CLOCK_SLACK


async def test_utc_offset_and_daylight_saving_status_follow_the_sites_zone(rig: Rig) -> None:
    assert await rig.read("utc-offset") == -60  # Paris: UTC+1 standard time, west positive
    assert await rig.read("daylight-savings-status") == bool(datetime.now(PARIS).dst())
    assert as_date(await rig.read("local-date")) == datetime.now(PARIS).date()
