"""Tasks on remote devices' schedules and calendars, and device management (issue 16).

- read_schedule: a Schedule's weekly and exception schedules, default, effective period and
  present value, or a Calendar's date-list, as schedule_codec JSON in the task's result;
- write_schedule: the changes the task carries (checked when it was queued), each property
  read before and after, every write audited (WriteAudit: who, before, after, accepted or the
  device's refusal); the result holds what the device reads afterwards;
- manage_device: DCC, ReinitializeDevice (the password is removed from the task row as soon
  as the job starts) or time synchronization of one device or the whole site (a broadcast),
  audited the same way.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bms.bacnet.clock import site_zone
from bms.bacnet.device_management_client import DeviceManagementClient
from bms.bacnet.engine import Engine
from bms.bacnet.errors import BACnetError, InvalidValueError
from bms.bacnet.requester import Requester
from bms.bacnet.schedule_client import ScheduleClient
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice, WriteAudit
from bms.devices.signals import announce_audit
from bms.tasks.models import BACnetTask
from bms.worker.db import run_db
from bms.worker.store.readings import device_by_instance

__all__ = ["SCHEDULE_JOBS"]

log = logging.getLogger(__name__)

# JSON field -> the BACnet property it is written to.
PROPERTIES = {
    "weekly": "weekly-schedule",
    "exceptions": "exception-schedule",
    "default": "schedule-default",
    "effective_period": "effective-period",
    "date_list": "date-list",
}


def _clients(engine: Engine) -> tuple[ScheduleClient, DeviceManagementClient]:
    # A requester of their own over the engine's application, as the alarm console's
    # (bms.worker.alarm_console): same timeout and retries, its own in-flight bounds.
    requester = Requester(engine.app, engine.config)
    return ScheduleClient(requester), DeviceManagementClient(requester)


def _object(text: Any) -> ObjectRef:
    try:
        return ObjectRef.parse(str(text))
    except ValueError as exc:
        raise InvalidValueError(f"bad object {text!r}: expected like schedule,1") from exc


async def _read(client: ScheduleClient, device: BACnetDevice, ref: ObjectRef) -> dict[str, Any]:
    if ref.object_type == "calendar":
        date_list = await client.read_date_list(device.address, ref.instance)
        return {"object": str(ref), "date_list": date_list}
    return (await client.read_schedule(device.address, ref.instance)).as_json()


async def read_schedule(
    engine: Engine, task: BACnetTask, progress: Any, cfg: Any
) -> dict[str, Any]:
    """`progress` and `cfg` are bms.worker.jobs' Progress and JobSettings."""
    device = await run_db(device_by_instance, cfg.site, int(task.parameters["device_id"]))
    ref = _object(task.parameters["object"])
    await progress(message=f"reading {ref} of device {device.device_instance}")
    schedules, _management = _clients(engine)
    return {"device_id": device.device_instance, **await _read(schedules, device, ref)}


def record_remote_write(
    params: dict[str, Any],
    target: str,
    property: str,
    old: Any,
    new: Any,
    accepted: bool,
    reason: str = "",
) -> WriteAudit:
    source = str(params.get("source"))
    audit = WriteAudit.objects.create(
        source=source if source in ("operator", "api") else "operator",
        who=str(params.get("user") or ""),
        object_ref=target,
        property=property,
        old_value=old,
        new_value=new,
        accepted=accepted,
        reason=reason,
    )
    announce_audit(audit)
    return audit


async def write_schedule(
    engine: Engine, task: BACnetTask, progress: Any, cfg: Any
) -> dict[str, Any]:
    params = task.parameters
    device = await run_db(device_by_instance, cfg.site, int(params["device_id"]))
    ref = _object(params["object"])
    target = f"device,{device.device_instance} {ref}"
    schedules, _management = _clients(engine)
    await progress(message=f"reading {ref} of device {device.device_instance} before writing")
    before = await _read(schedules, device, ref)
    kind = params["changes"].get("kind") or before.get("kind")
    written = []
    for field, value in params["changes"].items():
        if field == "kind":
            continue
        property = PROPERTIES[field]
        try:
            await _write(schedules, device, ref, kind, field, value)
        except BACnetError as exc:
            await run_db(
                record_remote_write,
                params,
                target,
                property,
                before.get(field),
                value,
                False,
                str(exc),
            )
            raise
        await run_db(record_remote_write, params, target, property, before.get(field), value, True)
        written.append(property)
    after = await _read(schedules, device, ref)
    return {"device_id": device.device_instance, "written": written, **after}


async def _write(
    client: ScheduleClient, device: BACnetDevice, ref: ObjectRef, kind: Any, field: str, value: Any
) -> None:
    address, instance = device.address, ref.instance
    if field == "weekly":
        await client.write_weekly(address, instance, kind, value)
    elif field == "exceptions":
        await client.write_exceptions(address, instance, kind, value)
    elif field == "default":
        await client.write_default(address, instance, kind, value)
    elif field == "effective_period":
        await client.write_effective_period(address, instance, value)
    else:
        await client.write_date_list(address, instance, value)


def _forget_password(task_id: int, params: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in params.items() if key != "password"}
    BACnetTask.objects.filter(id=task_id).update(parameters=kept)
    return kept


async def manage_device(
    engine: Engine, task: BACnetTask, progress: Any, cfg: Any
) -> dict[str, Any]:
    password = str(task.parameters.get("password") or "")
    params = await run_db(_forget_password, task.id, task.parameters)
    service = params["service"]
    _schedules, management = _clients(engine)
    if service == "time_sync":
        return await _synchronize(management, engine, params, cfg.site)
    device = await run_db(device_by_instance, cfg.site, int(params["device_ids"][0]))
    target = f"device,{device.device_instance}"
    detail: dict[str, Any] = {key: params[key] for key in ("state", "minutes") if key in params}
    state = str(detail["state"])
    property = "device-communication-control" if service == "dcc" else "reinitialize-device"
    await progress(message=f"{property} {state} to device {device.device_instance}")
    try:
        if service == "dcc":
            await management.communication_control(
                device.address, state, password, detail.get("minutes")
            )
        else:
            await management.reinitialize(device.address, state, password)
    except BACnetError as exc:
        await run_db(record_remote_write, params, target, property, None, detail, False, str(exc))
        raise
    await run_db(record_remote_write, params, target, property, None, detail, True)
    return {"device_id": device.device_instance, "service": property, **detail}


async def _synchronize(
    management: DeviceManagementClient, engine: Engine, params: dict[str, Any], site: str
) -> dict[str, Any]:
    utc = bool(params.get("utc"))
    property = "utc-time-synchronization" if utc else "time-synchronization"
    zone = site_zone(engine.config.time_zone)
    now = datetime.now(UTC)
    device_ids = params.get("device_ids")
    if device_ids is None:  # the whole site: one broadcast
        sent = management.synchronize_time("*", now, utc=utc, zone=zone)
        targets = [f"site {site} (broadcast)"]
    else:
        devices = [await run_db(device_by_instance, site, int(i)) for i in device_ids]
        sent = ""
        for device in devices:
            sent = management.synchronize_time(device.address, now, utc=utc, zone=zone)
        targets = [f"device,{device.device_instance}" for device in devices]
    for target in targets:
        await run_db(record_remote_write, params, target, property, None, {"time": sent}, True)
    return {"service": property, "time": sent, "zone": "UTC" if utc else zone.key, "to": targets}


SCHEDULE_JOBS = {
    "read_schedule": read_schedule,
    "write_schedule": write_schedule,
    "manage_device": manage_device,
}
