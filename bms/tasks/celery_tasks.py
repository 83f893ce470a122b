"""Celery tasks of the docker backend (found by bms.celery's autodiscovery)."""

from __future__ import annotations

from bms.celery import app
from bms.tasks import runner
from bms.tasks.backends.docker import RUN_TASK_NAME


@app.task(name=RUN_TASK_NAME)
def run_bacnet_task(task_id: int) -> None:
    # Looked up at call time so the worker runtime can replace the runner without import cycles.
    runner.run_task_by_id(task_id)
