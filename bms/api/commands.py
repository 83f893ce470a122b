"""What a user can ask of the building, shared by the pages and the API.

Each function validates, queues a BACnet task through the backend (never waits on BACnet) or
changes a virtual device row, and announces the change to open pages once it commits. Input an
operator can correct raises Refused (a ValueError) with a message meant for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from bms.bacnet import commanding
from bms.bacnet.errors import InvalidValueError
from bms.devices.audit_values import loggable
from bms.devices.models import BACnetPoint, WriteAudit
from bms.realtime import publish
from bms.tasks import sites
from bms.tasks.backends import get_bacnet_backend
from bms.tasks.models import BACnetTask
from bms.virtual import services as virtual_services
from bms.virtual.models import VirtualBACnetDevice
from bms.virtual.templates import UnknownTemplate


class Refused(ValueError):
    """A request the user can correct; the message says how."""


# Tasks ---------------------------------------------------------------------------------------


def discover(
    low: int | None = None,
    high: int | None = None,
    address: str | None = None,
    force: bool = False,
    site: str | None = None,
) -> BACnetTask:
    return _queued(
        lambda backend: backend.discover_devices(low, high, address or None, force),
        site=lambda: sites.check_site(site),
    )


def collect(device_instances: list[int] | None = None, site: str | None = None) -> BACnetTask:
    """All online devices of `site` (default BACNET_SITE), or these devices on their site."""
    return _queued(
        lambda backend: backend.collect_readings(device_instances),
        site=lambda: sites.site_of_devices(device_instances, site),
    )


def read_points(device_instance: int, site: str | None = None) -> BACnetTask:
    return _queued(
        lambda backend: backend.read_points(device_instance),
        site=lambda: sites.site_of_devices([device_instance], site),
    )


def _queued(submit: Any, site: Callable[[], str] | None = None, **writer: str) -> BACnetTask:
    """Submit through the backend; the writer (`user`, `source`) joins the parameters before
    anyone can claim it, so the worker audits the write as theirs. `site()` names the site to
    queue for (default BACNET_SITE); its ValueError refuses the request like the backend's."""
    try:
        with transaction.atomic():
            task_id = submit(get_bacnet_backend(site=site() if site else None))
            task = BACnetTask.objects.get(id=task_id)
            if writer:
                task.parameters = {**task.parameters, **writer}
                task.save(update_fields=["parameters"])
            publish.publish_task(task)
    except ValueError as exc:
        raise Refused(str(exc)) from exc
    return task


# Point writes --------------------------------------------------------------------------------


def write_point(
    point: BACnetPoint, value: Any, priority: int | None, relinquish: bool, user: str, source: str
) -> BACnetTask:
    """Queue a write (or relinquish) of a commandable point; refusals are audited too."""
    try:
        value = _checked_write(point, value, priority, relinquish)
    except Refused as refusal:
        _audit_refusal(point, value, priority, user, source, str(refusal))
        raise
    return _queued(
        lambda backend: backend.write_point(point.id, value, priority, relinquish),
        site=lambda: point.device.site,
        user=user,
        source=source,
    )


def _checked_write(point: BACnetPoint, value: Any, priority: int | None, relinquish: bool) -> Any:
    if not point.commandable:
        raise Refused(f"{point.object_type},{point.instance} is not commandable")
    try:
        if priority is not None:
            commanding.checked_priority(priority)
    except InvalidValueError as exc:
        raise Refused(str(exc)) from exc
    if relinquish:
        if value is not None and value != "":
            raise Refused("relinquish writes NULL: send no value with it")
        return None
    if value is None or value == "":
        raise Refused("a value is required (or relinquish)")
    return check_value(point.object_type, value, point.state_texts)


def check_value(object_type: str, value: Any, state_texts: list[str] | None = None) -> Any:
    """The value in our convention for this object type (bms.bacnet.commanding's vocabulary),
    or Refused saying what fits. A multi-state point whose state texts we do not know takes any
    state 1..2^32-1: its device judges."""
    try:
        return commanding.coerce_present_value(object_type, value, state_texts=state_texts or ())
    except InvalidValueError as exc:
        raise Refused(str(exc)) from exc


def _audit_refusal(
    point: BACnetPoint, value: Any, priority: Any, user: str, source: str, reason: str
) -> None:
    audit = WriteAudit.objects.create(
        source=source,
        who=user,
        point=point,
        object_ref=f"{point.device.device_instance}:{point.object_type},{point.instance}",
        new_value=loggable(value),
        priority=priority if isinstance(priority, int) and 0 <= priority < 2**15 else None,
        accepted=False,
        reason=reason,
    )
    publish.publish_audit(audit)


# Virtual devices -----------------------------------------------------------------------------


def create_virtual_device(
    device_id: int, name: str, description: str, template: str
) -> VirtualBACnetDevice:
    try:
        with transaction.atomic():
            device = virtual_services.create_virtual_device(device_id, name, description, template)
            publish.publish_virtual_device(device)
    except (virtual_services.VirtualDeviceError, UnknownTemplate) as exc:
        raise Refused(str(exc)) from exc
    return device


def update_virtual_device(device: VirtualBACnetDevice, **changes: Any) -> VirtualBACnetDevice:
    """Name, description or is_running; the worker applies it within one sync interval."""
    allowed = {"device_name", "description", "is_running"}
    unknown = set(changes) - allowed
    if unknown:
        raise Refused(f"cannot change {', '.join(sorted(unknown))}")
    if "device_name" in changes and not str(changes["device_name"]).strip():
        raise Refused("a virtual device needs a name")
    with transaction.atomic():
        for field, value in changes.items():
            setattr(device, field, value.strip() if field == "device_name" else value)
        device.save()
        publish.publish_virtual_device(device)
    return device


def delete_virtual_device(device: VirtualBACnetDevice) -> None:
    with transaction.atomic():
        virtual_services.delete_virtual_device(device.device_id)
        publish.publish_virtual_device(device, deleted=True)
