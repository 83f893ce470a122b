"""Device 8888's trend logs: served from VirtualTrendLog rows, their records from the database.

Records. A trend log's records are the readings of the virtual object it logs (any source),
ordered by (timestamp, id). A record's sequence number is its 1-based rank in that order, so
sequence numbers are contiguous and total-record-count is the number of readings, as ASHRAE 135
defines them (a record's number is total-record-count right after it was added). They stay
stable as long as readings are added in time order and kept: the worker stores a virtual
object's readings as they happen, so new ones always rank last. History retention that deletes
raw readings of a logged object would shift the numbers down (a peer reading by sequence number
would then see records again or miss some); keep raw readings of logged objects longer than a
peer's backfill interval. Each ReadRange costs at most three short queries (a count, a count
before a time, one page of at most trendlog_services.MAX_ITEMS rows) on the ORM thread.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bms.bacnet.device import LocalDevice
from bms.bacnet.errors import BACnetError, ConfigurationError, InvalidValueError
from bms.bacnet.local.trendlog import TrendLogSpec
from bms.bacnet.read_range import LogEntry
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetReading
from bms.virtual.models import VirtualTrendLog
from bms.worker.db import run_db

__all__ = ["DatabaseRecords", "TrendLogSync"]

log = logging.getLogger(__name__)


def _readings(virtual_object_id: int) -> Any:
    return BACnetReading.objects.filter(virtual_object_id=virtual_object_id)


def _total(virtual_object_id: int) -> int:
    return int(_readings(virtual_object_id).count())


def _count_until(virtual_object_id: int, when: datetime, inclusive: bool) -> int:
    lookup = "timestamp__lte" if inclusive else "timestamp__lt"
    return int(_readings(virtual_object_id).filter(**{lookup: when}).count())


def _fetch(virtual_object_id: int, first_sequence: int, count: int) -> list[LogEntry]:
    start = first_sequence - 1
    rows = (
        _readings(virtual_object_id)
        .order_by("timestamp", "id")
        .values_list("timestamp", "value")[start : start + count]
    )
    return [LogEntry(start + n + 1, when, value) for n, (when, value) in enumerate(rows)]


class DatabaseRecords:
    """RecordSource over BACnetReading rows (see the module doc for the numbering)."""

    def __init__(self) -> None:
        self.logged: dict[ObjectRef, int] = {}  # trend log -> its VirtualObject row

    def _object(self, log_ref: ObjectRef) -> int:
        try:
            return self.logged[log_ref]
        except KeyError:
            raise ConfigurationError(f"{log_ref} is not served") from None

    async def total(self, log: ObjectRef) -> int:
        return await run_db(_total, self._object(log))

    async def count_until(self, log: ObjectRef, when: datetime, *, inclusive: bool) -> int:
        return await run_db(_count_until, self._object(log), when, inclusive)

    async def fetch(self, log: ObjectRef, first_sequence: int, count: int) -> list[LogEntry]:
        return await run_db(_fetch, self._object(log), first_sequence, count)


def trend_log_rows() -> list[tuple[TrendLogSpec, int]]:
    """The trend logs of running virtual devices, as specs with their logged object's row."""
    rows = VirtualTrendLog.objects.filter(logged_object__device__is_running=True).select_related(
        "logged_object"
    )
    specs = []
    for row in rows:
        logged = row.logged_object
        try:
            spec = TrendLogSpec(
                instance=row.instance,
                name=row.name,
                description=row.description,
                logged=ObjectRef(logged.object_type, logged.instance),
                log_interval=row.log_interval,
                buffer_size=row.buffer_size,
                logging_type=row.logging_type,
                enabled=row.enabled,
                start_time=row.start_time,
                stop_time=row.stop_time,
            )
        except InvalidValueError as exc:
            log.error("trend log %s is invalid and not served: %s", row.instance, exc)
            continue
        specs.append((spec, logged.pk))
    return specs


class TrendLogSync:
    """Keeps device 8888's trend logs equal to the VirtualTrendLog rows (with VirtualSync)."""

    def __init__(self, device: LocalDevice) -> None:
        self._logs = device.trend_logs
        self.records = DatabaseRecords()
        self._logs.source = self.records

    async def sync_once(self) -> int:
        desired = {spec.ref: (spec, object_id) for spec, object_id in await run_db(trend_log_rows)}
        served = self._logs.served()
        changes = 0
        for ref in set(served) - set(desired):
            self._logs.remove(ref)
            self.records.logged.pop(ref, None)
            changes += 1
        for ref, (spec, object_id) in desired.items():
            self.records.logged[ref] = object_id
            if served.get(ref) == spec:
                continue
            try:
                self._logs.put(spec)
            except BACnetError as exc:
                log.error("trend log %s not served: %s", ref, exc)
                continue
            changes += 1
        return changes
