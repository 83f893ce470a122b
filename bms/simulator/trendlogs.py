"""Trend logs in the simulated devices: each device logs its first analog input.

Like a controller's own trend log, the records are taken on the device (every `interval`
seconds by the building's trend task) into a buffer that wraps, and are read with ReadRange
(bms.bacnet.trendlog_services through SimulatedApplication). The buffer is a MemoryRecords of
the building; timestamps go on the wire in UTC (a simulated device has no site zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bms.bacnet.clock import utc_now
from bms.bacnet.local.trendlog import LocalTrendLogObject, TrendLogSpec
from bms.bacnet.read_range import MemoryRecords
from bms.simulator.catalog import PointSpec

__all__ = ["DEFAULT_TREND_BUFFER", "DEFAULT_TREND_INTERVAL", "SimulatedTrendLog", "trend_logs_for"]

DEFAULT_TREND_INTERVAL = 60.0  # seconds between records
DEFAULT_TREND_BUFFER = 1000  # records a device keeps


@dataclass(frozen=True, eq=False)
class SimulatedTrendLog:
    obj: LocalTrendLogObject
    logged: Any  # the analog input object whose present value is logged

    def log(self, records: MemoryRecords, now: datetime | None = None) -> None:
        records.append(self.obj.ref, now or utc_now(), float(self.logged.presentValue))


def trend_logs_for(
    device_instance: int,
    objects: list[Any],
    specs: list[PointSpec],
    records: MemoryRecords,
    *,
    interval: float = DEFAULT_TREND_INTERVAL,
    buffer_size: int = DEFAULT_TREND_BUFFER,
) -> list[SimulatedTrendLog]:
    """Trend log 1 of the device's first analog input (none when it has no analog input)."""
    for obj, spec in zip(objects, specs, strict=True):
        if spec.ref.object_type == "analog-input":
            trend = TrendLogSpec(
                instance=1,
                name=f"{spec.name}_Log",
                logged=spec.ref,
                log_interval=max(1, round(interval)),
                buffer_size=buffer_size,
            )
            return [SimulatedTrendLog(LocalTrendLogObject(trend, device_instance, records), obj)]
    return []
