"""INTERFACE for the BACnet worker (bms/worker, not written yet).

`run_task_by_id` is what a Celery worker (docker backend) calls for each message. The worker
runtime will implement it: claim the row (claim_by_id-style, so a native poller and Celery never
both run it), run the BACnet job, report progress, complete or fail. Until then it refuses loudly
rather than pretending the task ran.
"""

from __future__ import annotations


def run_task_by_id(task_id: int) -> None:
    raise NotImplementedError(
        f"BACnet task {task_id} was not run: bms.tasks.runner.run_task_by_id is implemented by "
        "the BACnet worker runtime (bms/worker), which does not exist yet. The task row stays "
        "pending."
    )
