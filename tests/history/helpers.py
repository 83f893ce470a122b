"""Readings and roll-ups for the history tests: a device with points, readings at chosen times."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.history.maintenance import run_once

# A fixed "now" on a day boundary keeps bucket arithmetic readable in the tests.
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


def make_points(count: int = 2) -> list[BACnetPoint]:
    device, _ = BACnetDevice.objects.get_or_create(
        device_instance=4242, defaults={"address": "127.0.0.9"}
    )
    return [
        BACnetPoint.objects.get_or_create(
            device=device,
            object_type="analog-input",
            instance=n,
            defaults={"name": f"AI_{n}", "units": "degrees-celsius"},
        )[0]
        for n in range(count)
    ]


def store(point: BACnetPoint, readings: Iterable[tuple[Any, datetime]]) -> None:
    """Readings of a point, stored as the worker's hot path does (plain executemany)."""
    json_param = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    statement = (
        f"INSERT INTO {BACnetReading._meta.db_table} (point_id, value, timestamp, source) "
        f"VALUES (%s, {json_param}, %s, 'poll')"
    )
    stamp = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            statement, [(point.pk, json.dumps(value), stamp(at)) for value, at in readings]
        )


def every(seconds: int, start: datetime, end: datetime) -> list[datetime]:
    times, at = [], start
    while at < end:
        times.append(at)
        at += timedelta(seconds=seconds)
    return times


def maintain(now: datetime = NOW, rows: int = 50_000, runs: int = 200) -> list[dict[str, Any]]:
    """Runs of the history's upkeep until nothing more is due (as the schedule would)."""
    results = []
    for _ in range(runs):
        results.append(run_once(now, rows))
        if not results[-1]["more"]:
            return results
    raise AssertionError(f"upkeep not done after {runs} runs")
