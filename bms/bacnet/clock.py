"""The device's clock: the host's clock plus what TimeSynchronization told it, in the site's zone.

Why an offset and not the host clock: the BMS runs on a server whose clock the operating system
keeps (NTP), and a BACnet peer must not be able to set it. ASHRAE 135 clause 16.7/16.8 asks a
device that receives (UTC)TimeSynchronization to take the time it is given; our device does, as
an offset over the host clock: local-date, local-time and the schedules it runs follow it. The
offset is volatile (a restart forgets it, as a device without a battery-backed clock would).

BACnet's utc-offset is in minutes, positive WEST of Greenwich, and of the zone's standard time
(daylight-savings-status says whether daylight saving time is in force): Europe/Paris is -60.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bms.bacnet.errors import ConfigurationError

__all__ = ["DeviceClock", "site_zone", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def site_zone(name: str) -> ZoneInfo:
    """The zone called `name` ("Europe/Paris", "UTC"), or ConfigurationError saying so."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"unknown time zone {name!r} (give an IANA name)") from exc


class DeviceClock:
    """Now, as the device tells it: the host's UTC clock (injectable) plus an offset."""

    def __init__(self, zone: ZoneInfo, host_now: Callable[[], datetime] = utc_now) -> None:
        self.zone = zone
        self._host_now = host_now
        self.offset = timedelta(0)

    def now(self) -> datetime:
        """The device's current instant (aware, UTC)."""
        return self._host_now() + self.offset

    def local_now(self) -> datetime:
        """The device's current time in the site's zone (aware)."""
        return self.now().astimezone(self.zone)

    def set_time(self, instant: datetime) -> timedelta:
        """Take `instant` (aware) as now; returns the offset from the host clock it makes."""
        if instant.tzinfo is None:
            raise ValueError("set_time needs an aware datetime")
        self.offset = instant - self._host_now()
        return self.offset

    def local_to_instant(self, wall: datetime) -> datetime:
        """A wall time in the site's zone (naive) as an aware instant; an ambiguous wall time
        is its first occurrence, one that does not exist is read with the offset before the
        jump (as TimeSynchronization's sender, on the old offset, meant it)."""
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def utc_offset_minutes(self) -> int:
        """BACnet utc-offset: minutes of the zone's STANDARD time, positive west of UTC."""
        local = self.local_now()
        standard = (local.utcoffset() or timedelta(0)) - (local.dst() or timedelta(0))
        return -int(standard.total_seconds() // 60)

    def daylight_saving(self) -> bool:
        return bool(self.local_now().dst())
