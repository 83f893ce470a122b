"""One run of the history's upkeep: a bounded roll-up step per resolution, then a bounded
retention step per level. The worker runs it as a scheduled "history" task."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from bms.history.config import NAMES, RAW, Retention, max_rows
from bms.history.retention import drop_expired_all
from bms.history.rollup import roll_up_all


def run_once(now: datetime | None = None, rows: int | None = None) -> dict[str, Any]:
    """Roll up and drop what is due; the result as the task stores it (JSON)."""
    now = now or timezone.now()
    limit = rows or max_rows()
    rolled = roll_up_all(now, limit)
    dropped = drop_expired_all(now, Retention.from_settings(), limit)
    return {
        "readings_rolled_up": next(step.rows_read for step in rolled),
        "buckets": {NAMES[step.resolution]: step.buckets for step in rolled},
        "rolled_until": {
            NAMES[step.resolution]: step.rolled_until.isoformat() if step.rolled_until else None
            for step in rolled
        },
        "deleted": {NAMES[step.resolution]: step.deleted for step in dropped},
        "raw_deleted": next(step.deleted for step in dropped if step.resolution == RAW),
        "more": any(step.more for step in rolled) or any(step.more for step in dropped),
    }
