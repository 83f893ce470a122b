"""The BACnet task queue on the ORM (procrastinate / django-tasks-db style).

Theory of operation: a task row is claimed by exactly one worker. On databases with
SKIP LOCKED (PostgreSQL) the claim is `SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1` plus an UPDATE in
one short transaction, so concurrent workers step over each other's rows instead of waiting. On
SQLite, which has no row locks, it is a conditional `UPDATE ... WHERE id=? AND status='pending'`
and whoever changes the row (row count 1) owns it.

A claim is a lease: the worker heartbeats to extend it, and `requeue_expired` returns tasks of a
worker that stopped heartbeating to pending (or fails them once attempts run out). Every later
move (progress, complete, fail, requeue) is an UPDATE conditioned on the status and worker the
caller believes in, so a worker whose task was taken away gets TaskNotOwned instead of
overwriting another worker's result. No transaction is held while BACnet work runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from bms.tasks import states
from bms.tasks.models import BACnetTask, WorkerHeartbeat

TASK_TYPES = frozenset(code for code, _label in BACnetTask.TASK_TYPES)
# How many pending ids the SQLite claim tries per query before looking again.
_SQLITE_CANDIDATES = 8


class QueueError(Exception):
    """Base of the queue's own errors."""


class TaskNotOwned(QueueError):
    """The task is no longer in the state this worker thinks (lease lost, or finished)."""


@dataclass
class ExpiredLeases:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def enqueue(
    task_type: str,
    parameters: dict[str, Any] | None = None,
    site: str | None = None,
    max_attempts: int = 3,
) -> BACnetTask:
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {task_type!r}; expected one of {sorted(TASK_TYPES)}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    return BACnetTask.objects.create(
        task_type=task_type,
        parameters=parameters or {},
        site=site or settings.BACNET_SITE,
        max_attempts=max_attempts,
    )


def claim_next(worker_id: str, site: str, lease_seconds: float) -> BACnetTask | None:
    """The oldest pending task of `site`, now running and leased to `worker_id`; or None."""
    if not worker_id:
        raise ValueError("worker_id must not be empty: it is how a worker proves ownership")
    if connection.features.has_select_for_update_skip_locked:
        return _claim_skip_locked(worker_id, site, lease_seconds)
    return _claim_conditional_update(worker_id, site, lease_seconds)


def claim_by_id(task_id: int, worker_id: str, lease_seconds: float) -> BACnetTask | None:
    """Claim one named task (a Celery message carries its id); None if it is not pending."""
    if not worker_id:
        raise ValueError("worker_id must not be empty: it is how a worker proves ownership")
    won = BACnetTask.objects.filter(id=task_id, status=states.PENDING).update(
        **_claim_fields(worker_id, lease_seconds, timezone.now())
    )
    return BACnetTask.objects.get(id=task_id) if won else None


def _claim_fields(worker_id: str, lease_seconds: float, now: datetime) -> dict[str, Any]:
    return {
        "status": states.RUNNING,
        "worker_id": worker_id,
        "started_at": now,
        "heartbeat_at": now,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "attempts": F("attempts") + 1,
    }


def _pending(site: str) -> QuerySet[BACnetTask]:
    return BACnetTask.objects.filter(status=states.PENDING, site=site).order_by("created_at", "id")


def _claim_skip_locked(worker_id: str, site: str, lease_seconds: float) -> BACnetTask | None:
    with transaction.atomic():
        task = _pending(site).select_for_update(skip_locked=True).only("id").first()
        if task is None:
            return None
        BACnetTask.objects.filter(id=task.id).update(
            **_claim_fields(worker_id, lease_seconds, timezone.now())
        )
    return BACnetTask.objects.get(id=task.id)


def _claim_conditional_update(worker_id: str, site: str, lease_seconds: float) -> BACnetTask | None:
    # Each round either claims a task or sees every candidate taken by someone else, so the
    # loop ends: when nothing is pending, or when we win one.
    while candidates := list(_pending(site).values_list("id", flat=True)[:_SQLITE_CANDIDATES]):
        for task_id in candidates:
            won = BACnetTask.objects.filter(id=task_id, status=states.PENDING).update(
                **_claim_fields(worker_id, lease_seconds, timezone.now())
            )
            if won:
                return BACnetTask.objects.get(id=task_id)
    return None


def _move(task: BACnetTask, new_status: str | None, **fields: Any) -> None:
    """One conditional UPDATE from the status (and worker) `task` holds; TaskNotOwned if stale."""
    if new_status is not None:
        states.check_transition(task.status, new_status)
        fields["status"] = new_status
    owned = BACnetTask.objects.filter(id=task.id, status=task.status)
    if task.status == states.RUNNING:
        owned = owned.filter(worker_id=task.worker_id)
    if not owned.update(**fields):
        raise TaskNotOwned(
            f"task {task.id} is no longer {task.status} for worker {task.worker_id!r}; "
            "its lease probably expired and it was requeued or finished elsewhere"
        )
    task.refresh_from_db()


def heartbeat(task: BACnetTask, worker_id: str, lease_seconds: float | None = None) -> bool:
    """Extend the lease of a task `worker_id` still runs; False (and no change) otherwise."""
    lease = settings.BACNET_TASK_LEASE_SECONDS if lease_seconds is None else lease_seconds
    now = timezone.now()
    extended = BACnetTask.objects.filter(
        id=task.id, status=states.RUNNING, worker_id=worker_id
    ).update(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease))
    if extended:
        task.heartbeat_at, task.lease_expires_at = now, now + timedelta(seconds=lease)
    return bool(extended)


def update_progress(
    task: BACnetTask,
    *,
    done: int | None = None,
    total: int | None = None,
    message: str = "",
    **extra: Any,
) -> None:
    """Replace the task's progress; `extra` carries job-specific counts (e.g. devices found)."""
    progress: dict[str, Any] = {"message": message, **extra}
    if done is not None:
        progress["done"] = done
    if total is not None:
        progress["total"] = total
    _move(task, None, progress=progress)


def complete(task: BACnetTask, result: Any) -> None:
    _move(task, states.COMPLETED, result=result, completed_at=timezone.now(), lease_expires_at=None)


def fail(task: BACnetTask, error: str) -> None:
    """Final failure (running, or a pending task that cannot be run at all)."""
    _move(
        task, states.FAILED, error_message=error, completed_at=timezone.now(), lease_expires_at=None
    )


def requeue(task: BACnetTask) -> None:
    """Hand a running task back on graceful shutdown; it does not count as an attempt."""
    _move(task, states.PENDING, worker_id="", lease_expires_at=None, attempts=F("attempts") - 1)


def requeue_expired(now: datetime | None = None) -> ExpiredLeases:
    """Return tasks whose lease ran out to pending, or fail them when attempts are exhausted."""
    now = now or timezone.now()
    outcome = ExpiredLeases()
    expired = BACnetTask.objects.filter(status=states.RUNNING, lease_expires_at__lt=now)
    for row in expired.values("id", "attempts", "max_attempts", "worker_id", "lease_expires_at"):
        after = states.on_lease_expired(row["attempts"], row["max_attempts"], row["worker_id"])
        fields: dict[str, Any] = {"status": after.status, "worker_id": "", "lease_expires_at": None}
        if after.status == states.FAILED:
            fields.update(error_message=after.reason, completed_at=now)
        else:
            fields["progress"] = {"message": after.reason}
        # Conditioned on the lease we read: a heartbeat that lands in between keeps the task.
        moved = BACnetTask.objects.filter(
            id=row["id"],
            status=states.RUNNING,
            worker_id=row["worker_id"],
            lease_expires_at=row["lease_expires_at"],
        ).update(**fields)
        if moved:
            target = outcome.failed if after.status == states.FAILED else outcome.requeued
            target.append(row["id"])
    return outcome


def wait_for(
    task_id: int,
    timeout: float,
    poll_interval: float = 0.25,
    on_change: Callable[[BACnetTask], None] | None = None,
) -> BACnetTask:
    """Poll until the task is completed or failed; TimeoutError after `timeout` seconds.

    For callers that choose to block (CLI --wait, tests); web requests never do.
    """
    deadline = time.monotonic() + timeout
    seen: tuple[str, Any] | None = None
    while True:
        task = BACnetTask.objects.get(id=task_id)
        if on_change is not None and (task.status, task.progress) != seen:
            seen = (task.status, task.progress)
            on_change(task)
        if task.is_finished:
            return task
        if time.monotonic() >= deadline:
            raise TimeoutError(f"task {task_id} still {task.status} after {timeout:g} s")
        time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))


def worker_heartbeat(
    worker_id: str,
    site: str,
    *,
    backend: str = "",
    hostname: str = "",
    pid: int | None = None,
    bacnet_address: str = "",
    bbmd: str = "",
    bbmd_registration: str = "",
) -> None:
    """Record that a worker process is alive, and where it is on the BACnet network (its tasks
    heartbeat separately)."""
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "site": site,
            "backend": backend,
            "hostname": hostname,
            "pid": pid,
            "bacnet_address": bacnet_address,
            "bbmd": bbmd,
            "bbmd_registration": bbmd_registration,
            "heartbeat_at": timezone.now(),
        },
    )


def alive_workers(within_seconds: float, site: str | None = None) -> QuerySet[WorkerHeartbeat]:
    since = timezone.now() - timedelta(seconds=within_seconds)
    workers = WorkerHeartbeat.objects.filter(heartbeat_at__gte=since)
    return workers.filter(site=site) if site is not None else workers
