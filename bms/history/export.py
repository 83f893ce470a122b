"""Series as CSV: one subject's series, or every point of a device one after another."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from bms.history.series import Series

SERIES_HEADER = ["time", "count", "min", "max", "avg", "last"]


def series_rows(series: Series) -> Iterator[list[Any]]:
    for bucket in series.buckets:
        yield [
            series.time_of(bucket).isoformat(),
            bucket.count,
            _number(bucket.minimum),
            _number(bucket.maximum),
            _number(bucket.average),
            _value(bucket.last),
        ]


def csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    """Each row as one CSV line (for a streaming response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def _value(value: Any) -> str:
    """A value as it reads: numbers and state names plain, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value)
