"""Queue policy of the history's upkeep (bms.history.maintenance, a "history" task)."""

from __future__ import annotations

from bms.tasks import queue, states
from bms.tasks.models import BACnetTask


def enqueue_history_if_idle(site: str) -> BACnetTask | None:
    """Queue a history task unless one is pending or running already, on any site: the
    history of every site is one set of tables, so one upkeep at a time is enough."""
    busy = BACnetTask.objects.filter(
        task_type="history", status__in=[states.PENDING, states.RUNNING]
    ).exists()
    if busy:
        return None
    return queue.enqueue("history", {"scheduled": True}, site, max_attempts=1)
