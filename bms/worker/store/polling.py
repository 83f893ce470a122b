"""Queue policy of the trending poll."""

from __future__ import annotations

from bms.devices.models import BACnetDevice
from bms.tasks import queue, states
from bms.tasks.models import BACnetTask


def enqueue_poll_if_idle(site: str) -> BACnetTask | None:
    """Queue a collect of all online devices unless one is pending or running already."""
    busy = BACnetTask.objects.filter(
        site=site, task_type="collect", status__in=[states.PENDING, states.RUNNING]
    ).exists()
    if busy or not BACnetDevice.objects.filter(site=site, online=True).exists():
        return None
    return queue.enqueue("collect", {"device_ids": None, "scheduled": True}, site)
