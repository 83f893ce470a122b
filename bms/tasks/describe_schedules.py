"""Results of the schedule and device-management tasks in words (bms.tasks.describe lists
these among its describers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bms.tasks.models import BACnetTask


def _entries(count: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{count} {noun if count == 1 else plural}"


def _object(result: dict[str, Any]) -> str:
    text = f"{result['object']} of device {result['device_id']}"
    if "date_list" in result:
        return f"{text}: {_entries(len(result['date_list']), 'date entry')}"
    entries = sum(len(day) for day in result["weekly"])
    return (
        f"{text} ({result['kind']}): {_entries(entries, 'weekly entry')}, "
        f"{_entries(len(result['exceptions']), 'exception')}, now {result['present_value']}"
    )


def _read_schedule(task: BACnetTask, result: dict[str, Any]) -> str:
    return f"read {_object(result)}"


def _write_schedule(task: BACnetTask, result: dict[str, Any]) -> str:
    return f"wrote {', '.join(result['written'])}; read back {_object(result)}"


def _manage_device(task: BACnetTask, result: dict[str, Any]) -> str:
    service = result["service"]
    if service.endswith("time-synchronization"):
        return f"sent {service} {result['time']} ({result['zone']}) to {', '.join(result['to'])}"
    minutes = result.get("minutes")
    duration = f" for {minutes} min" if minutes else ""
    return f"{service} {result['state']}{duration} accepted by device {result['device_id']}"


SCHEDULE_DESCRIBERS: dict[str, Callable[[BACnetTask, dict[str, Any]], str]] = {
    "read_schedule": _read_schedule,
    "write_schedule": _write_schedule,
    "manage_device": _manage_device,
}


SECRET_PARAMETERS = ("password",)  # a DCC/reinitialize password, until the worker removes it


def shown_parameters(task: BACnetTask) -> dict[str, Any]:
    """The task's parameters as pages and the API show them: secrets hidden."""
    parameters = dict(task.parameters or {})
    for key in SECRET_PARAMETERS:
        if key in parameters:
            parameters[key] = "(hidden)"
    return parameters
