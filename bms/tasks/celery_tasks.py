"""Celery tasks of the docker backend (found by bms.celery's autodiscovery).

What a stock Celery worker does with a BACnet task message: refuse it, loudly. The docker backend
sends `bms.tasks.run_bacnet_task(task_id)` to the queue `bacnet.<site>`, and the BACnet worker
(`manage.py bacnet_worker` with BACNET_BACKEND=docker) reads that queue itself
(bms.worker.celery_consumer): only it has the BACnet stack, bound to the site's network. If a
plain `celery worker` is pointed at the queue by mistake, this task refuses the message instead of
pretending the task ran; the task row stays pending, and the BACnet worker's poll of pending rows
still runs it.
"""

from __future__ import annotations

from bms.celery import app
from bms.tasks.backends.docker import RUN_TASK_NAME


class NotTheBACnetWorker(RuntimeError):
    """A BACnet task reached a process without a BACnet stack."""


@app.task(name=RUN_TASK_NAME)
def run_bacnet_task(task_id: int) -> None:
    raise NotTheBACnetWorker(
        f"BACnet task {task_id} was not run: BACnet tasks are run by `manage.py bacnet_worker`, "
        "which reads this queue itself; a stock Celery worker has no BACnet stack. The task row "
        "stays pending and the BACnet worker will pick it up."
    )
