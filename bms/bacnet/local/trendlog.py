"""Trend Log objects our device serves: their properties, their records from a RecordSource.

The records are not in the object: a `RecordSource` (bms.bacnet.read_range) holds them, so
record-count and total-record-count are read from it at each read, and log-buffer is read only
with ReadRange (ASHRAE 135: a ReadProperty of it is refused with read-access-denied).
Timestamps go on the wire in the device's zone (its clock), as peers compare them with its
local-date and local-time.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from bacpypes3.basetypes import (
    DateTime,
    DeviceObjectPropertyReference,
    EventState,
    LoggingType,
    LogRecord,
    LogRecordLogDatum,
    Reliability,
    StatusFlags,
)
from bacpypes3.errors import PropertyError
from bacpypes3.local.object import Object as _LocalObject
from bacpypes3.object import TrendLogObject as _TrendLogObject
from bacpypes3.primitivedata import Date, Null, ObjectIdentifier, Time, Unsigned

from bms.bacnet.errors import ConfigurationError, InvalidValueError
from bms.bacnet.read_range import LogEntry, RecordSource, buffer_span
from bms.bacnet.types import ObjectRef, PresentValue

__all__ = [
    "LOGGING_TYPES",
    "DeviceTrendLogs",
    "LocalTrendLogObject",
    "TrendLogSpec",
    "bacnet_datetime",
    "encode_entry",
    "encode_records",
    "python_datetime",
]

LOGGING_TYPES = ("polled", "cov", "triggered")
log = logging.getLogger(__name__)

MAX_BUFFER_SIZE = 1_000_000


@dataclass(frozen=True)
class TrendLogSpec:
    instance: int
    name: str
    logged: ObjectRef  # an object of our own device; its present value is logged
    log_interval: int = 60  # seconds between records when polled (the wire is in 1/100 s)
    buffer_size: int = 1000
    logging_type: str = "polled"
    enabled: bool = True
    description: str = ""
    start_time: datetime | None = None
    stop_time: datetime | None = None

    def __post_init__(self) -> None:
        if self.logging_type not in LOGGING_TYPES:
            raise InvalidValueError(f"logging type must be one of {LOGGING_TYPES}")
        if not 1 <= self.buffer_size <= MAX_BUFFER_SIZE:
            raise InvalidValueError(f"buffer size must be 1..{MAX_BUFFER_SIZE}")
        if self.log_interval < 0:
            raise InvalidValueError("log interval must not be negative")

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("trend-log", self.instance)


def bacnet_datetime(moment: datetime, zone: tzinfo) -> DateTime:
    local = moment.astimezone(zone)
    return DateTime(
        date=Date((local.year - 1900, local.month, local.day, local.isoweekday())),
        time=Time((local.hour, local.minute, local.second, local.microsecond // 10_000)),
    )


def python_datetime(value: Any, zone: tzinfo) -> datetime:
    """A BACnet DateTime with every field given, as an aware datetime in `zone`."""
    year, month, day, _weekday = value.date
    hour, minute, second, hundredth = value.time
    if 255 in (year, month, day, hour, minute, second) or not 1 <= month <= 12:
        raise InvalidValueError(f"not a specific date and time: {value.date} {value.time}")
    hundredth = 0 if hundredth == 255 else hundredth
    wall = datetime(year + 1900, month, day, hour, minute, second, hundredth * 10_000)
    return wall.replace(tzinfo=zone)


def _datum(value: PresentValue) -> LogRecordLogDatum:
    # bool before int: a bool is an int in Python
    if value is None:
        return LogRecordLogDatum(nullValue=Null(()))
    if isinstance(value, bool):
        return LogRecordLogDatum(booleanValue=value)
    if value in ("active", "inactive"):  # binary objects: the enumerated present value
        return LogRecordLogDatum(enumValue=1 if value == "active" else 0)
    if isinstance(value, int):
        if value >= 0:
            return LogRecordLogDatum(unsignedValue=value)
        return LogRecordLogDatum(signedValue=value)
    if isinstance(value, float):
        return LogRecordLogDatum(realValue=value)
    raise InvalidValueError(f"cannot log {value!r} in a trend log record")


def encode_records(entries: list[LogEntry], zone: tzinfo) -> bytes:
    """Log records as their wire octets, written directly: building bacpypes3's LogRecord
    sequences costs ~0.9 ms a record, which capped a ReadRange at ~500 records/s."""
    out = bytearray()
    for entry in entries:
        local = entry.timestamp.astimezone(zone)
        out += _RECORD_HEAD
        out += bytes((local.year - 1900, local.month, local.day, local.isoweekday(), 0xB4))
        out += bytes((local.hour, local.minute, local.second, local.microsecond // 10_000))
        out += _TIMESTAMP_END
        out += _datum_octets(entry.value)
        out += _RECORD_TAIL
    return bytes(out)


# timestamp [0] { Date, Time }, log-datum [1] { choice }, status-flags [2] all clear
_RECORD_HEAD = b"\x0e\xa4"  # opening [0], application Date of 4 octets
_TIMESTAMP_END = b"\x0f\x1e"  # closing [0], opening [1]
_RECORD_TAIL = b"\x1f\x2a\x04\x00"  # closing [1], [2] bit string: 4 unused bits, none set


def _datum_octets(value: PresentValue) -> bytes:
    # bool before int: a bool is an int in Python
    if value is None:
        return b"\x78"  # [7] null
    if isinstance(value, bool):
        return bytes((0x19, int(value)))  # [1] boolean
    if value in ("active", "inactive"):  # binary objects: the enumerated present value
        return bytes((0x39, int(value == "active")))  # [3] enumerated
    if isinstance(value, int):
        if 0 <= value < 2**32:
            octets = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
            return bytes((0x48 | len(octets),)) + octets  # [4] unsigned
        if -(2**31) <= value < 0:
            octets = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
            return bytes((0x58 | len(octets),)) + octets  # [5] signed
    if isinstance(value, float | int):
        return b"\x2c" + struct.pack(">f", value)  # [2] real
    raise InvalidValueError(f"cannot log {value!r} in a trend log record")


def encode_entry(entry: LogEntry, zone: tzinfo) -> LogRecord:
    return LogRecord(
        timestamp=bacnet_datetime(entry.timestamp, zone),
        logDatum=_datum(entry.value),
        statusFlags=StatusFlags([0, 0, 0, 0]),
    )


class LocalTrendLogObject(_LocalObject, _TrendLogObject):  # type: ignore[misc]
    """A Trend Log of one of our objects' present value, its records in a RecordSource."""

    def __init__(self, spec: TrendLogSpec, device_instance: int, source: RecordSource) -> None:
        super().__init__(
            objectIdentifier=("trendLog", spec.instance),
            objectName=spec.name,
            description=spec.description,
            statusFlags=StatusFlags([0, 0, 0, 0]),
            eventState=EventState.normal,
            reliability=Reliability.noFaultDetected,
            stopWhenFull=False,
        )
        # bacpypes3's local objects take only their properties and _private attributes
        self._source = source
        self._device_instance = device_instance
        self.update(spec)

    def update(self, spec: TrendLogSpec) -> None:
        self._spec = spec
        self.enable = spec.enabled
        self.bufferSize = spec.buffer_size
        self.loggingType = LoggingType(spec.logging_type)
        self.logInterval = spec.log_interval * 100  # hundredths of a second on the wire
        self.logDeviceObjectProperty = DeviceObjectPropertyReference(
            objectIdentifier=(spec.logged.object_type, spec.logged.instance),
            propertyIdentifier="presentValue",
            deviceIdentifier=("device", self._device_instance),
        )
        zone = self.zone
        if spec.start_time is not None:
            self.startTime = bacnet_datetime(spec.start_time, zone)
        if spec.stop_time is not None:
            self.stopTime = bacnet_datetime(spec.stop_time, zone)

    @property
    def spec(self) -> TrendLogSpec:
        return self._spec

    @property
    def ref(self) -> ObjectRef:
        return self._spec.ref

    @property
    def source(self) -> RecordSource:
        return self._source

    @property
    def zone(self) -> tzinfo:
        clock = getattr(getattr(self, "_app", None), "clock", None)
        zone = getattr(clock, "zone", None)
        return zone if isinstance(zone, tzinfo) else UTC

    async def read_property(self, attr: Any, index: int | None = None) -> Any:  # type: ignore[override]
        name = self._property_identifier_class(attr).attr if isinstance(attr, int) else attr
        if name == "logBuffer":
            raise PropertyError("readAccessDenied")  # ASHRAE 135: read it with ReadRange
        if name in ("recordCount", "totalRecordCount"):
            total = await self._source.total(self.ref)
            if name == "totalRecordCount":
                return Unsigned(total)
            return Unsigned(buffer_span(total, self._spec.buffer_size).size)
        return await super().read_property(attr, index)


class DeviceTrendLogs:
    """The trend logs our device serves, kept in step with specs (like DeviceSchedules).

    Every trend log reads its records from the one `source` the product sets."""

    def __init__(self, app: Any, objects_changed: Callable[[], None]) -> None:
        self._app = app
        self._objects_changed = objects_changed
        self.source: RecordSource | None = None

    def put(self, spec: TrendLogSpec) -> None:
        """Serve the trend log, or change the one served."""
        obj = self._app.get_object_id(ObjectIdentifier(("trendLog", spec.instance)))
        if isinstance(obj, LocalTrendLogObject):
            if obj.spec != spec:
                obj.update(spec)
            return
        if obj is not None or self._app.get_object_name(spec.name) is not None:
            raise ConfigurationError(f"object {spec.ref} or name {spec.name!r} already exists")
        if self.source is None:
            raise ConfigurationError("no record source for trend logs: set trend_logs.source")
        device_instance = int(self._app.device_object.objectIdentifier[1])
        self._app.add_object(LocalTrendLogObject(spec, device_instance, self.source))
        self._objects_changed()
        log.info("serving %s %r", spec.ref, spec.name)

    def remove(self, ref: ObjectRef) -> None:
        obj = self._app.get_object_id(ObjectIdentifier(("trendLog", ref.instance)))
        if not isinstance(obj, LocalTrendLogObject):
            raise ConfigurationError(f"no local trend log {ref}")
        self._app.delete_object(obj)
        self._objects_changed()
        log.info("stopped serving %s", ref)

    def served(self) -> dict[ObjectRef, TrendLogSpec]:
        return {
            obj.ref: obj.spec
            for obj in list(self._app.objectIdentifier.values())
            if isinstance(obj, LocalTrendLogObject)
        }
