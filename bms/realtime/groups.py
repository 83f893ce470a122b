"""Channels group names the pages listen on (Channels allows ASCII letters, digits, - _ .)."""

from __future__ import annotations

import re

TASKS = "tasks"
DEVICES = "devices"
VIRTUAL_DEVICES = "virtual_devices"  # seed 004's group
AUDIT = "audit"  # write audit rows made outside the worker's external-write batches
ALARMS = "alarms"  # alarm changes and the counts of the navigation bar (every page)
# The worker's batched values of every device (publish.apublish_point_readings); consumers join
# it for the device groups a page asks for and forward only those devices' events. Not a group
# a page asks for by name.
POINTS = "points"
_DEVICE_PREFIX = "device-"
_ALLOWED = re.compile(
    rf"^(?:{TASKS}|{DEVICES}|{VIRTUAL_DEVICES}|{AUDIT}|{ALARMS}|{_DEVICE_PREFIX}\d{{1,18}})$"
)


def device_group(device_pk: int) -> str:
    """Live values of one remote device's points (the device page and its point pages)."""
    return f"{_DEVICE_PREFIX}{device_pk}"


def device_pk(group: str) -> int | None:
    """The device pk of a device group's name, None for any other group."""
    if group.startswith(_DEVICE_PREFIX) and group[len(_DEVICE_PREFIX) :].isdigit():
        return int(group[len(_DEVICE_PREFIX) :])
    return None


def is_known(group: str) -> bool:
    return bool(_ALLOWED.match(group))
