"""Live updates from the worker: called after the database commit, never inside it.

The group names and message shapes are the web app's (bms.realtime.publish); this module only
says *what* changed, so jobs stay free of Channels details.

A live update is a courtesy to open browsers: the data is already committed and the pages read
it again on load. So a channel layer that fails (Redis down, say) is logged loudly with its
traceback and does not fail the BACnet task or refuse an external write whose data is stored.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec

from bms.devices.models import BACnetDevice, BACnetPoint
from bms.realtime import publish
from bms.tasks.models import BACnetTask
from bms.virtual.models import VirtualObject
from bms.worker.db_health import DATABASE_ERRORS, first_line

log = logging.getLogger(__name__)

P = ParamSpec("P")


def _reported(fn: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            _not_delivered(f"live update {fn.__name__}", exc)

    return wrapper


def prepare() -> None:
    """Load the channel layer now (see publish.prepare_layer): called at start-up."""
    publish.prepare_layer()


@_reported
def task_changed(task: BACnetTask) -> None:
    publish.publish_task(task)


@_reported
def devices_changed(devices: list[BACnetDevice]) -> None:
    publish.publish_devices(devices)


@_reported
def device_points_changed(device: BACnetDevice) -> None:
    publish.publish_device(device)


@_reported
def point_values_changed(point_ids: list[int]) -> None:
    publish.publish_point_values(list(BACnetPoint.objects.filter(id__in=point_ids)))


async def point_readings(by_device: Mapping[int, list[dict[str, Any]]]) -> None:
    """Live updates of a collect wave's stored values (payloads.reading_payload dicts)."""
    try:
        await publish.apublish_point_readings(by_device)
    except Exception as exc:
        _not_delivered(f"live updates of {len(by_device)} devices' values", exc)


async def external_writes(batch: list[tuple[VirtualObject, dict[str, Any]]]) -> None:
    """Live updates of stored external writes, in the order they were acknowledged."""
    try:
        await publish.apublish_external_writes(batch)
    except Exception as exc:
        _not_delivered(f"live updates of {len(batch)} external writes", exc)


def _not_delivered(what: str, error: Exception) -> None:
    """A lost database connection (the worker is riding out an outage, see db_health) is one
    line; anything else is a bug or a broken channel layer, with its traceback."""
    if isinstance(error, DATABASE_ERRORS):
        log.warning(
            "%s not delivered (the data is stored): database unavailable: %s",
            what,
            first_line(error),
        )
    else:
        log.exception("%s not delivered (the data is stored)", what)
