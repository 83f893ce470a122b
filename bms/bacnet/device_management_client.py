"""Device management of remote devices: DeviceCommunicationControl, ReinitializeDevice and
time synchronization (the DM-DCC-A, DM-RD-A, DM-TS-A and DM-UTC-A BIBBs of a workstation).

DCC and ReinitializeDevice are confirmed: they go through the Requester (limits, timeout,
retries, errors as bms.bacnet.errors; a wrong password comes back as ErrorResponse
security/password-failure). Time synchronization is unconfirmed: nothing answers it, so the
only failure is ours (a bad destination); whether the device took the time is read back by
the caller from its local-date and local-time if it wants to know.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bacpypes3.apdu import (
    DeviceCommunicationControlRequest,
    ReinitializeDeviceRequest,
    TimeSynchronizationRequest,
    UTCTimeSynchronizationRequest,
)
from bacpypes3.basetypes import DateTime
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Date, Time

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.requester import Requester, parse_peer

__all__ = [
    "DCC_STATES",
    "MAX_PASSWORD_LENGTH",
    "REINITIALIZE_STATES",
    "DeviceManagementClient",
    "bacnet_datetime",
]

DCC_STATES = ("enable", "disable", "disable-initiation")
REINITIALIZE_STATES = ("coldstart", "warmstart")
MAX_PASSWORD_LENGTH = 20  # ASHRAE 135: the password is a CharacterString of 1..20 characters
MAX_DCC_MINUTES = 65535


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


def _check_password(password: str) -> str:
    if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidValueError(f"the password must be 1..{MAX_PASSWORD_LENGTH} characters")
    return password


def bacnet_datetime(wall: datetime) -> DateTime:
    """A naive wall time as a BACnet DateTime (hundredths of a second)."""
    date = Date((wall.year - 1900, wall.month, wall.day, wall.isoweekday()))
    time = Time((wall.hour, wall.minute, wall.second, wall.microsecond // 10_000))
    return DateTime(date=date, time=time)


class DeviceManagementClient:
    """Management requests to remote devices over an Application the caller owns."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def communication_control(
        self, address: str, state: str, password: str, minutes: int | None = None
    ) -> None:
        """Enable, disable or disable-initiation the device's communications; `minutes`
        (1..65535) ends a disable by itself, none lasts until enabled."""
        if state not in DCC_STATES:
            raise InvalidValueError(f"DCC state {state!r} is not one of {', '.join(DCC_STATES)}")
        if minutes is not None and not 1 <= minutes <= MAX_DCC_MINUTES:
            raise InvalidValueError(f"a DCC duration is 1..{MAX_DCC_MINUTES} minutes")
        request = DeviceCommunicationControlRequest(
            enableDisable=_camel(state), password=_check_password(password)
        )
        if minutes is not None:
            request.timeDuration = minutes
        await self._confirmed(address, f"DCC {state}", request)

    async def reinitialize(self, address: str, state: str, password: str) -> None:
        """Ask the device to warm- or cold-start."""
        if state not in REINITIALIZE_STATES:
            raise InvalidValueError(
                f"reinitialize state {state!r} is not one of {', '.join(REINITIALIZE_STATES)}"
            )
        request = ReinitializeDeviceRequest(
            reinitializedStateOfDevice=state, password=_check_password(password)
        )
        await self._confirmed(address, f"reinitialize ({state})", request)

    def synchronize_time(self, address: str, at: datetime, *, utc: bool, zone: ZoneInfo) -> str:
        """Send (UTC)TimeSynchronization of the aware instant `at` to a device or a broadcast
        address ("*" or "127.255.255.255"): UTC as is, local as the wall time in `zone`.
        Returns the wall time sent (ISO)."""
        if at.tzinfo is None:
            raise InvalidValueError("the time to send must carry its time zone")
        wall = at.astimezone(UTC if utc else zone).replace(tzinfo=None)
        request: Any = (
            UTCTimeSynchronizationRequest(time=bacnet_datetime(wall))
            if utc
            else TimeSynchronizationRequest(time=bacnet_datetime(wall))
        )
        request.pduDestination = _destination(address)
        # Unconfirmed: the stack sends it at once and resolves the future with None.
        self._requester.app.request(request)
        return wall.isoformat()

    async def _confirmed(self, address: str, what: str, request: Any) -> None:
        peer = parse_peer(address)
        request.pduDestination = peer.address
        await self._requester.call(peer, what, lambda: self._requester.app.request(request))


def _destination(address: str) -> Address:
    if address.strip() == "*":
        return Address("*")  # the local broadcast
    return parse_peer(address).address
