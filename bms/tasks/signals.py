"""What the tasks app announces, for whoever listens (realtime connects in its ready()).

Sent when the transaction that queued the task commits, so a listener never hears of a task it
cannot read yet. The app itself imports no listener: live updates sit above the domain.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.dispatch import Signal

from bms.tasks.models import BACnetTask

task_submitted = Signal()
"""A page or the API queued a task. `task`."""


def announce_task(task: BACnetTask) -> None:
    """Send task_submitted for `task` when the current transaction commits."""
    transaction.on_commit(partial(task_submitted.send, sender=BACnetTask, task=task), robust=True)
