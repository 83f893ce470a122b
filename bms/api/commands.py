"""What a user can ask of the building, shared by the pages and the API.

Each function validates, queues a BACnet task through the backend (never waits on BACnet) or
changes a virtual device row, and announces the change to open pages once it commits. Input an
operator can correct raises Refused (a ValueError) with a message meant for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.db import transaction

from bms.bacnet.types import ANALOG_TYPES, BINARY_TYPES, MULTISTATE_TYPES
from bms.devices.audit_values import loggable, short_repr
from bms.devices.models import BACnetPoint, WriteAudit
from bms.realtime import publish
from bms.tasks import sites
from bms.tasks.backends import get_bacnet_backend
from bms.tasks.models import BACnetTask
from bms.virtual import services as virtual_services
from bms.virtual.models import VirtualBACnetDevice
from bms.virtual.templates import UnknownTemplate

BINARY_VALUES = ("inactive", "active")


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
    if priority is not None and (isinstance(priority, bool) or not 1 <= priority <= 16):
        raise Refused(f"priority must be 1..16 (got {short_repr(priority)})")
    if relinquish:
        if value is not None:
            raise Refused("relinquish writes NULL: send no value with it")
        return None
    if value is None:
        raise Refused("a value is required (or relinquish)")
    return check_value(point.object_type, value, point.state_texts)


def check_value(object_type: str, value: Any, state_texts: list[str] | None = None) -> Any:
    """The value in our convention for this object type, or Refused saying what fits."""
    if object_type in ANALOG_TYPES:
        return _check_number(object_type, value)
    if object_type in BINARY_TYPES:
        if value not in BINARY_VALUES:
            raise Refused(f'{object_type} takes "active" or "inactive" (got {short_repr(value)})')
        return value
    if object_type in MULTISTATE_TYPES:
        return _check_state(object_type, value, state_texts or [])
    raise Refused(f"{object_type} objects cannot be written here")


def _check_number(object_type: str, value: Any) -> float:
    """A finite number that fits a BACnet Real's range check here (float), not a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(f"{object_type} takes a number (got {short_repr(value)})")
    try:
        number = float(value)
    except OverflowError:
        raise Refused(f"{short_repr(value)} is too large for {object_type}") from None
    if not math.isfinite(number):
        raise Refused(f"{object_type} takes a finite number (got {short_repr(value)})")
    return number


MAX_STATE = 2**32 - 1  # BACnet Unsigned


def _check_state(object_type: str, value: Any, state_texts: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STATE:
        raise Refused(f"{object_type} takes a state number from 1 (got {short_repr(value)})")
    if state_texts and value > len(state_texts):
        raise Refused(f"state {value} is above this object's {len(state_texts)} states")
    return value


def parse_form_value(object_type: str, text: str) -> Any:
    """A value typed into a page's form, as the JSON type check_value expects."""
    text = text.strip()
    if object_type in ANALOG_TYPES:
        try:
            return float(text)
        except ValueError:
            raise Refused(f"{short_repr(text)} is not a number") from None
    if object_type in MULTISTATE_TYPES:
        try:
            return int(text)
        except ValueError:
            raise Refused(f"{short_repr(text)} is not a state number") from None
    return text


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
