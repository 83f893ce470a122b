"""The history's upkeep: a step keeps the partitions of the raw readings and the 1-minute
buckets created ahead (PostgreSQL, bms.history.partitions), then a bounded roll-up per
resolution, then a bounded retention per level (`run_once`); the worker's scheduled "history"
task runs steps while there is more to do and its time allows (`run_for`; `combined` adds them
up), in a child process (`manage.py history_upkeep`, bms.worker.history_child)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from django.utils import timezone

from bms.history import partitions
from bms.history.config import NAMES, RAW, Retention, max_rows
from bms.history.retention import drop_expired_all
from bms.history.rollup import roll_up_all


def run_once(now: datetime | None = None, rows: int | None = None) -> dict[str, Any]:
    """Roll up and drop what is due; the result as the task stores it (JSON)."""
    now = now or timezone.now()
    limit = rows or max_rows()
    tables = partitions.partitioned_tables()
    created = [name for table in tables.values() for name in partitions.create_ahead(now, table)]
    rolled = roll_up_all(now, limit)
    dropped = drop_expired_all(now, Retention.from_settings(), limit)
    raw = next(step for step in dropped if step.resolution == RAW)
    return {
        "partitions_created": created,
        "partitions_dropped": [name for step in dropped for name in step.partitions_dropped],
        "default_partition_rows": partitions.default_rows(limit) if RAW in tables else None,
        "readings_rolled_up": next(step.rows_read for step in rolled),
        "buckets": {NAMES[step.resolution]: step.buckets for step in rolled},
        "rolled_until": {
            NAMES[step.resolution]: step.rolled_until.isoformat() if step.rolled_until else None
            for step in rolled
        },
        "deleted": {NAMES[step.resolution]: step.deleted for step in dropped},
        "raw_deleted": raw.deleted,
        "more": any(step.more for step in rolled) or any(step.more for step in dropped),
    }


def run_for(seconds: float) -> dict[str, Any]:
    """Steps while there is more to do, for up to `seconds` (at least one step), as one
    result."""
    started = time.monotonic()
    results = [run_once()]
    while results[-1]["more"] and time.monotonic() - started < seconds:
        results.append(run_once())
    return combined(results)


def combined(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several steps' results as one: counts added, the last step's marks and "more"."""
    total = dict(results[-1])
    total["steps"] = len(results)
    total["readings_rolled_up"] = sum(r["readings_rolled_up"] for r in results)
    total["raw_deleted"] = sum(r["raw_deleted"] for r in results)
    for key in ("partitions_created", "partitions_dropped"):
        total[key] = [name for r in results for name in r[key]]
    for key in ("buckets", "deleted"):
        total[key] = {name: sum(r[key][name] for r in results) for name in results[-1][key]}
    return total
