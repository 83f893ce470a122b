"""The docker backend: the same task row, plus a Celery message carrying its id.

The message is sent by task name on transaction commit, so a worker never receives an id whose
row it cannot see yet, and a rolled-back request sends nothing. The row stays the source of truth
(status, progress, result); the message only wakes a Celery worker of the task's site.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction

from bms.tasks.backends.base import BACnetBackend
from bms.tasks.models import BACnetTask

if TYPE_CHECKING:
    from celery import Celery

RUN_TASK_NAME = "bms.tasks.run_bacnet_task"


def celery_queue(site: str) -> str:
    """One Celery queue per site, so a site's worker only gets its own tasks."""
    return f"bacnet.{site}"


class DockerBackend(BACnetBackend):
    name = "docker"

    def __init__(
        self, site: str | None = None, reason: str = "", celery_app: Celery | None = None
    ) -> None:
        super().__init__(site=site, reason=reason)
        self._celery_app = celery_app

    @property
    def celery_app(self) -> Celery:
        if self._celery_app is None:
            from bms.celery import app

            self._celery_app = app
        return self._celery_app

    def _dispatch(self, task: BACnetTask) -> None:
        # robust=False: a broker that is down raises to the caller instead of being logged away.
        transaction.on_commit(partial(self._send, task.id, task.site), robust=False)

    def _send(self, task_id: int, site: str) -> None:
        self.celery_app.send_task(RUN_TASK_NAME, args=[task_id], queue=celery_queue(site))
