"""Queuing BACnet tasks as the pages and the API ask for them.

Each function validates, submits through the site's backend (never waits on BACnet) and
announces the task when it commits. Input a user can correct raises Refused (a ValueError) with
a message meant for them; nothing is queued then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from bms.bacnet.config import parse_peer_address
from bms.bacnet.errors import ConfigurationError
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.devices.services import PointWriteRefused, checked_point_write, default_write_priority
from bms.tasks import sites
from bms.tasks.backends import get_bacnet_backend
from bms.tasks.backends.base import BACnetBackend
from bms.tasks.models import BACnetTask
from bms.tasks.signals import announce_task


class Refused(ValueError):
    """A request the user can correct; the message says how."""


def discover(
    low: int | None = None,
    high: int | None = None,
    address: str | None = None,
    force: bool = False,
    site: str | None = None,
    *,
    user: str | None = None,
) -> BACnetTask:
    """A Who-Is; `force` scans again instead of answering from a scan with the same
    parameters younger than BACNET_DISCOVERY_CACHE_SECONDS."""
    address = checked_address(address)
    return _queued(
        lambda backend: backend.discover_devices(low, high, address, force),
        site=lambda: sites.check_site(site),
        user=user,
    )


def checked_address(address: str | None) -> str | None:
    """A Who-Is destination as bms.bacnet.config reads it (None or blank: the broadcast), or
    Refused saying what is wrong, before a task is queued that would fail on it."""
    if address is None or not address.strip():
        return None
    try:
        return parse_peer_address(address)
    except ConfigurationError as exc:
        raise Refused(str(exc)) from exc


def collect(
    device_instances: list[int] | None = None,
    site: str | None = None,
    *,
    user: str | None = None,
) -> BACnetTask:
    """All online devices of `site` (default BACNET_SITE), or these devices on their site."""
    return _queued(
        lambda backend: backend.collect_readings(device_instances),
        site=lambda: sites.site_of_devices(device_instances, site),
        user=user,
    )


def read_points(
    device_instance: int, site: str | None = None, *, user: str | None = None
) -> BACnetTask:
    return _queued(
        lambda backend: backend.read_points(device_instance),
        site=lambda: sites.site_of_devices([device_instance], site),
        user=user,
    )


def read_object(point: BACnetPoint, *, user: str | None = None) -> BACnetTask:
    """Queue a read of every property of the point's object, on its device's site."""
    device = point.device
    return _queued(
        lambda backend: backend.read_object(
            device.device_instance, f"{point.object_type},{point.instance}"
        ),
        site=lambda: device.site,
        user=user,
    )


def backfill_trendlog(point: BACnetPoint, *, user: str | None = None) -> BACnetTask:
    """Queue the reading of a remote trend log (a point of type trend-log) into history."""
    if point.object_type != "trend-log":
        raise Refused(f"{point.object_type},{point.instance} is not a trend log")
    if point.logged_point_id is None:
        raise Refused("this trend log logs no point of its device: there is nothing to store")
    device = point.device
    return _queued(
        lambda backend: backend.backfill_trendlog(device.device_instance, point.instance),
        site=lambda: device.site,
        user=user,
    )


def write_point(
    point: BACnetPoint,
    value: Any,
    priority: int | None,
    relinquish: bool,
    *,
    user: str,
    source: str,
) -> BACnetTask:
    """Queue a write (or relinquish) of a commandable point on its device's site, for `user`
    through `source` ("operator", "api"); a refusal is audited (bms.devices.services). No
    priority means BACNET_DEFAULT_WRITE_PRIORITY, named in the task and the audit."""
    if priority is None:
        priority = default_write_priority()
    try:
        checked = checked_point_write(point, value, priority, relinquish, user=user, source=source)
    except PointWriteRefused as refusal:
        raise Refused(str(refusal)) from refusal
    return _queued(
        lambda backend: backend.write_point(
            point.id, checked, priority, relinquish, user=user, source=source
        ),
        site=lambda: point.device.site,
    )


def acknowledge_alarm(transition_id: int, site: str | None, *, user: str) -> BACnetTask:
    """Queue the acknowledgement of an alarm transition on `site` (None: BACNET_SITE); the
    caller (bms.alarms.services) has checked that it waits for one."""
    return _queued(
        lambda backend: backend.acknowledge_alarm(transition_id),
        site=lambda: sites.check_site(site),
        user=user,
    )


def enroll_alarms(device: BACnetDevice, notification_class: int, *, user: str) -> BACnetTask:
    """Queue adding the BMS to the remote `device`'s notification class `notification_class`
    (its recipient list), so that class's event notifications come to the BMS."""
    return _queued(
        lambda backend: backend.enroll_alarms(device.device_instance, notification_class),
        site=lambda: device.site,
        user=user,
    )


def _queued(
    submit: Callable[[BACnetBackend], int],
    site: Callable[[], str] | None = None,
    user: str | None = None,
) -> BACnetTask:
    """Submit through the backend of the site `site()` names (default BACNET_SITE), naming
    `user` as who asked (the tasks page shows it); a ValueError from either refuses the
    request."""
    try:
        with transaction.atomic():
            task_id = submit(get_bacnet_backend(site=site() if site else None))
            if user:
                # In the transaction that inserted the row: no worker can claim it (nor a
                # Celery message name it, sent on commit) before the requester is in it.
                _name_requester(task_id, user)
            task = BACnetTask.objects.get(id=task_id)
            announce_task(task)
    except ValueError as exc:
        raise Refused(str(exc)) from exc
    return task


def _name_requester(task_id: int, user: str) -> None:
    task = BACnetTask.objects.select_for_update().get(id=task_id)
    BACnetTask.objects.filter(id=task_id).update(parameters={**task.parameters, "user": user})
