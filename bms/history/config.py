"""The history's resolutions and how long each is kept, from settings (BMS_HISTORY_*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

RAW = 0  # the resolution of raw readings, as the series query names it

# Roll-up resolutions in seconds, finest first; each is built from the one before it (the first
# from raw readings), so each must be a multiple of the one before.
RESOLUTIONS = (60, 900, 3600)
NAMES = {RAW: "raw", 60: "1 min", 900: "15 min", 3600: "1 h"}


@dataclass(frozen=True)
class Retention:
    """Days each level is kept (0: for ever)."""

    raw_days: int
    rollup_days: dict[int, int]

    @classmethod
    def from_settings(cls) -> Retention:
        return cls(
            raw_days=settings.BMS_HISTORY_RAW_DAYS,
            rollup_days={
                60: settings.BMS_HISTORY_1MIN_DAYS,
                900: settings.BMS_HISTORY_15MIN_DAYS,
                3600: settings.BMS_HISTORY_1H_DAYS,
            },
        )

    def days(self, resolution: int) -> int:
        return self.raw_days if resolution == RAW else self.rollup_days[resolution]

    def cutoff(self, resolution: int, now: datetime) -> datetime | None:
        """Data of this level older than this may be deleted; None: kept for ever."""
        days = self.days(resolution)
        return None if days <= 0 else now - timedelta(days=days)


def finer(resolution: int) -> int:
    """The level a resolution is rolled up from."""
    index = RESOLUTIONS.index(resolution)
    return RAW if index == 0 else RESOLUTIONS[index - 1]


def coarser(resolution: int) -> int | None:
    """The level rolled up from this one (RAW for the first roll-up), None for the last."""
    if resolution == RAW:
        return RESOLUTIONS[0]
    index = RESOLUTIONS.index(resolution)
    return RESOLUTIONS[index + 1] if index + 1 < len(RESOLUTIONS) else None


def grace() -> timedelta:
    """How long after a bucket ends before it is rolled up: readings are stored a little late
    (a collect wave's time is its start; a group commit waits up to a window)."""
    return timedelta(seconds=settings.BMS_HISTORY_GRACE_SECONDS)


def max_rows() -> int:
    """Rows one roll-up or retention step reads or deletes: the ORM thread is shared."""
    return int(settings.BMS_HISTORY_MAX_ROWS)
