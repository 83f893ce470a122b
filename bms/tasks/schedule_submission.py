"""Queuing work on remote devices' schedules and calendars, and device management (issue 16).

Like bms.tasks.submission: each function checks what a user can correct (Refused says what),
then queues a task on the device's site and returns it; the worker does the BACnet and the
audit (bms.worker.schedule_jobs). A schedule's new values are checked here with
bms.bacnet.schedule_codec, the rules device 8888 applies to its own, so a malformed week is
refused before a task exists.

A DCC or reinitialize password travels in the task's parameters to the worker, which removes
it from the row when it claims the task (it is never shown: bms.tasks.describe and the task
views read only the result).
"""

from __future__ import annotations

from typing import Any

from bms.bacnet import schedule_codec
from bms.bacnet.device_management_client import (
    DCC_STATES,
    MAX_PASSWORD_LENGTH,
    REINITIALIZE_STATES,
)
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice
from bms.tasks import sites
from bms.tasks.models import BACnetTask
from bms.tasks.submission import Refused, _queued

__all__ = [
    "SCHEDULE_FIELDS",
    "communication_control",
    "read_remote_schedule",
    "reinitialize",
    "synchronize_time",
    "write_remote_schedule",
]

# What a task may change, per object type (schedule_codec JSON).
SCHEDULE_FIELDS = ("weekly", "exceptions", "default", "effective_period")
CALENDAR_FIELDS = ("date_list",)
MAX_DCC_MINUTES = 65535


def _object(ref: ObjectRef | str) -> ObjectRef:
    try:
        parsed = ref if isinstance(ref, ObjectRef) else ObjectRef.parse(ref)
    except ValueError as exc:
        raise Refused(f"{ref!r} is not an object like schedule,1") from exc
    if parsed.object_type not in ("schedule", "calendar"):
        raise Refused(f"{parsed} is neither a schedule nor a calendar")
    return parsed


def _writer(user: str, source: str) -> dict[str, str]:
    return {"user": user, "source": source if source in ("operator", "api") else "operator"}


def read_remote_schedule(device: BACnetDevice, ref: ObjectRef | str, *, user: str) -> BACnetTask:
    """Queue a read of a remote schedule's (or calendar's) editable properties."""
    obj = _object(ref)
    return _queued(
        lambda backend: backend.read_schedule(device.device_instance, str(obj)),
        site=lambda: device.site,
        user=user,
    )


def checked_changes(ref: ObjectRef, kind: str | None, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes, each checked by schedule_codec (Refused says what is wrong)."""
    allowed = SCHEDULE_FIELDS if ref.object_type == "schedule" else CALENDAR_FIELDS
    unknown = sorted(set(changes) - set(allowed))
    if unknown or not changes:
        raise Refused(f"{ref} takes changes of {', '.join(allowed)}; got {unknown or 'none'}")
    typed = set(changes) & {"weekly", "exceptions", "default"}
    if typed and kind not in schedule_codec.VALUE_KINDS:
        raise Refused(f"say the schedule's kind ({', '.join(schedule_codec.VALUE_KINDS)})")
    try:
        if "weekly" in changes:
            schedule_codec.weekly_from_json(changes["weekly"], str(kind))
        if "exceptions" in changes:
            exceptions = changes["exceptions"]
            if not isinstance(exceptions, list):
                raise InvalidValueError("the exceptions must be a list of special events")
            for event in exceptions:
                schedule_codec.event_from_json(event, str(kind))
        if "default" in changes:
            schedule_codec.check_value(str(kind), changes["default"])
        if "effective_period" in changes:
            schedule_codec.period_from_json(changes["effective_period"])
        if "date_list" in changes:
            schedule_codec.entries_from_json(changes["date_list"])
    except InvalidValueError as exc:
        raise Refused(str(exc)) from exc
    return {**changes, "kind": kind} if typed else dict(changes)


def write_remote_schedule(
    device: BACnetDevice,
    ref: ObjectRef | str,
    kind: str | None,
    changes: dict[str, Any],
    *,
    user: str,
    source: str,
) -> BACnetTask:
    """Queue a write of a remote schedule's or calendar's properties, checked first."""
    obj = _object(ref)
    checked = checked_changes(obj, kind, changes)
    return _queued(
        lambda backend: backend.write_schedule(
            device.device_instance, str(obj), checked, _writer(user, source)
        ),
        site=lambda: device.site,
        user=user,
    )


def _password(password: Any) -> str:
    if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Refused(f"give the device's password (1..{MAX_PASSWORD_LENGTH} characters)")
    return password


def communication_control(
    device: BACnetDevice,
    state: str,
    minutes: int | None,
    password: str,
    *,
    user: str,
    source: str,
) -> BACnetTask:
    if state not in DCC_STATES:
        raise Refused(f"the state is one of {', '.join(DCC_STATES)}")
    if minutes is not None and not 1 <= minutes <= MAX_DCC_MINUTES:
        raise Refused(f"the duration is 1..{MAX_DCC_MINUTES} minutes, or none (until enabled)")
    detail = {"state": state, "minutes": minutes, "password": _password(password)}
    return _manage("dcc", device, detail, user, source)


def reinitialize(
    device: BACnetDevice, state: str, password: str, *, user: str, source: str
) -> BACnetTask:
    if state not in REINITIALIZE_STATES:
        raise Refused(f"the state is one of {', '.join(REINITIALIZE_STATES)}")
    detail = {"state": state, "password": _password(password)}
    return _manage("reinitialize", device, detail, user, source)


def _manage(
    service: str, device: BACnetDevice, detail: dict[str, Any], user: str, source: str
) -> BACnetTask:
    return _queued(
        lambda backend: backend.manage_device(
            service, [device.device_instance], detail, _writer(user, source)
        ),
        site=lambda: device.site,
        user=user,
    )


def synchronize_time(
    device: BACnetDevice | None,
    site: str | None,
    utc: bool,
    *,
    user: str,
    source: str,
) -> BACnetTask:
    """Send the worker's time to one device, or to every device of `site` (a broadcast)."""
    device_ids = None if device is None else [device.device_instance]
    return _queued(
        lambda backend: backend.manage_device(
            "time_sync", device_ids, {"utc": bool(utc)}, _writer(user, source)
        ),
        site=lambda: device.site if device is not None else sites.check_site(site),
        user=user,
    )
