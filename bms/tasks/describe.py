"""Tasks in words a person reads: who asked for one, and what its result says ("found 10
devices in 0.4 s"), for the pages and their live rows (bms.realtime.payloads) alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bms.tasks.describe_schedules import SCHEDULE_DESCRIBERS
from bms.tasks.models import BACnetTask

SCHEDULE = "schedule"  # who asked for the worker's own polls (parameters "scheduled")


def is_scheduled(task: BACnetTask) -> bool:
    return bool((task.parameters or {}).get("scheduled"))


def requested_by(task: BACnetTask) -> str:
    """The user who queued the task, "schedule" for the worker's polls, "" when not recorded
    (tasks queued by the command line or before requesters were kept)."""
    if is_scheduled(task):
        return SCHEDULE
    return str((task.parameters or {}).get("user") or "")


def result_text(task: BACnetTask) -> str:
    """The result as a sentence; "" while there is none."""
    result = task.result
    if result is None:
        return ""
    if not isinstance(result, dict):
        return str(result)
    describe = _DESCRIBERS.get(task.task_type, _fields)
    try:
        return describe(task, result)
    except (KeyError, TypeError, ValueError):
        return _fields(task, result)  # a result of another shape (an older worker): its fields


def _discover(task: BACnetTask, result: dict[str, Any]) -> str:
    found = _count(result["devices_found"], "device")
    if result.get("cached"):
        return f"{found} from a scan of the last few minutes (tick scan again to ask the network)"
    text = f"found {found}{_took(task)}"
    unreadable = len(result.get("unreadable") or [])
    return f"{text}, {unreadable} not readable" if unreadable else text


def _collect(task: BACnetTask, result: dict[str, Any]) -> str:
    failed = len(result.get("failed_devices") or [])
    return (
        f"read {_count(result['readings'], 'point')} from {_count(result['devices'], 'device')}"
        f"{_took(task)}, {failed} failed"
    )


def _read_points(task: BACnetTask, result: dict[str, Any]) -> str:
    logs = result.get("trend_logs") or 0
    and_logs = f" and {_count(logs, 'trend log')}" if logs else ""
    return (
        f"found {_count(result['points'], 'point')}{and_logs} on device {result['device_id']}"
        f"{_took(task)}"
    )


def _write_point(task: BACnetTask, result: dict[str, Any]) -> str:
    reads = result.get("present_value")
    if result.get("relinquished"):
        done = f"relinquished priority {result['priority']}"
    else:
        done = f"wrote {_shown(result['written'])} at priority {result['priority']}"
    return f"{done}; it now reads {_shown(reads)}"


def _history(task: BACnetTask, result: dict[str, Any]) -> str:
    buckets = ", ".join(f"{count} of {name}" for name, count in result["buckets"].items())
    deleted = sum(result["deleted"].values())
    text = (
        f"rolled up {_count(result['readings_rolled_up'], 'reading')} into buckets ({buckets}); "
        f"dropped {_count(deleted, 'expired row')}"
        f"{' in ' + _count(result['steps'], 'step') if result.get('steps', 1) > 1 else ''}"
        f"{_partitions(result)}{_took(task)}"
    )
    return f"{text}; more to do" if result.get("more") else text


def _partitions(result: dict[str, Any]) -> str:
    """The raw readings' partitions made ahead and dropped whole (PostgreSQL only)."""
    made, dropped = result.get("partitions_created") or [], result.get("partitions_dropped") or []
    parts = [f"{_count(len(made), 'partition')} made"] if made else []
    parts += [f"{_count(len(dropped), 'expired partition')} dropped"] if dropped else []
    return f"; {' and '.join(parts)}" if parts else ""


def _acknowledge_alarm(task: BACnetTask, result: dict[str, Any]) -> str:
    return f"acknowledged {result['alarm']} ({result['state']}): {result['result']}"


def _fields(task: BACnetTask, result: dict[str, Any]) -> str:
    parts = []
    for key, value in result.items():
        name = key.replace("_", " ")
        if isinstance(value, list):
            parts.append(f"{name}: {len(value)}")
        elif not isinstance(value, dict):
            parts.append(f"{name}: {_shown(value)}")
    return ", ".join(parts)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _took(task: BACnetTask) -> str:
    if task.started_at is None or task.completed_at is None:
        return ""
    return f" in {(task.completed_at - task.started_at).total_seconds():.1f} s"


def _shown(value: Any) -> str:
    if value is None:
        return "nothing (NULL)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _enroll_alarms(task: BACnetTask, result: dict[str, Any]) -> str:
    how = "added as a recipient" if result["enrolled"] else "already a recipient"
    return f"device {result['device_id']} notification class {result['class']}: {how}"


def _backfill_trendlog(task: BACnetTask, result: dict[str, Any]) -> str:
    lost = f", {result['lost']} dropped by the device before read" if result["lost"] else ""
    return (
        f"device {result['device_id']}: {result['stored']} records from "
        f"{result['logs_read']} trend log(s){lost}"
    )


_DESCRIBERS: dict[str, Callable[[BACnetTask, dict[str, Any]], str]] = {
    "discover": _discover,
    "collect": _collect,
    "read_points": _read_points,
    "write_point": _write_point,
    "history": _history,
    "acknowledge_alarm": _acknowledge_alarm,
    **SCHEDULE_DESCRIBERS,
    "backfill_trendlog": _backfill_trendlog,
    "enroll_alarms": _enroll_alarms,
}
