"""The week grid as a form posts it, read into schedule_codec JSON (no Django forms: a day has
any number of rows).

Each day d (0 = Monday) posts `time-d` and `value-d` once per row, in order. A row with no
time is an empty row and is left out. A value is typed by the schedule's kind: a number
(analog), "active"/"inactive" (binary), a state number (multistate); "" or "null" is NULL.
What cannot be read is reported per day, and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class GridError(ValueError):
    """What in the posted grid cannot be read; the message names the day and row."""


def typed_value(kind: str, text: str) -> Any:
    """A value typed for a schedule of `kind`; ValueError if it is not one (the codec checks
    the rest)."""
    text = text.strip()
    if text in ("", "null"):
        return None
    if kind == "analog":
        return float(text)
    if kind == "multistate":
        return int(text)
    return text


def week_from_post(post: QueryDict, kind: str) -> list[list[list[Any]]]:
    week: list[list[list[Any]]] = []
    for day, name in enumerate(DAYS):
        times, values = post.getlist(f"time-{day}"), post.getlist(f"value-{day}")
        if len(times) != len(values):
            raise GridError(f"{name}: every row needs a time and a value")
        entries = []
        for row, (time, value) in enumerate(zip(times, values, strict=True), start=1):
            if not time.strip():
                continue
            try:
                entries.append([time.strip(), typed_value(kind, value)])
            except ValueError as exc:
                raise GridError(f"{name}, row {row}: {value!r} is not a {kind} value") from exc
        week.append(entries)
    return week


def grid_days(week: list[Any]) -> list[dict[str, Any]]:
    """The week as the template draws it: each day's name, index and rows."""
    days = list(week) + [[]] * (7 - len(week))
    return [
        {"index": index, "name": DAYS[index], "rows": [_shown(entry) for entry in days[index]]}
        for index in range(7)
    ]


def _shown(entry: Any) -> dict[str, Any]:
    time, value = entry
    return {"time": str(time)[:8], "value": "null" if value is None else value}
