"""Claiming from several connections at once: each task is claimed exactly once.

Threads get their own database connections (Django connections are per thread), and the
tests use committed data (transaction=True) so the other connections can see it.
"""

import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction

from bms.tasks import queue
from bms.tasks.models import BACnetTask
from tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = 200
WORKERS = 4


def claim_until_empty(worker_index: int) -> list[int]:
    claimed = []
    while (task := queue.claim_next(f"w{worker_index}", "load", lease_seconds=60)) is not None:
        claimed.append(task.id)
    return claimed


def test_four_workers_claim_each_of_200_tasks_exactly_once():
    BACnetTask.objects.bulk_create(
        BACnetTask(task_type="collect", site="load") for _ in range(TASKS)
    )
    per_worker = run_in_threads(WORKERS, claim_until_empty)
    counts = Counter(task_id for ids in per_worker for task_id in ids)
    assert len(counts) == TASKS
    assert set(counts.values()) == {1}
    assert BACnetTask.objects.filter(status="running", attempts=1).count() == TASKS
    # The database agrees with what each worker believes it owns.
    for index, ids in enumerate(per_worker):
        assert set(
            BACnetTask.objects.filter(worker_id=f"w{index}").values_list("id", flat=True)
        ) == set(ids)


def test_two_connections_racing_for_one_task_only_one_wins():
    task = queue.enqueue("discover", site="race")
    barrier = threading.Barrier(2)

    def claim(index: int):
        barrier.wait()
        return queue.claim_by_id(task.id, f"w{index}", lease_seconds=60)

    results = run_in_threads(2, claim)
    winners = [r.worker_id for r in results if r is not None]
    assert len(winners) == 1
    assert BACnetTask.objects.get(id=task.id).worker_id == winners[0]


def test_a_row_locked_by_another_connection_is_skipped_not_waited_for(on_postgresql):
    first = queue.enqueue("discover", site="lock")
    second = queue.enqueue("discover", site="lock")
    locked, release = threading.Event(), threading.Event()

    def hold_lock_on_first(_index: int) -> None:
        with transaction.atomic():
            BACnetTask.objects.select_for_update().get(id=first.id)
            locked.set()
            release.wait(timeout=20)

    holder = threading.Thread(target=run_in_threads, args=(1, hold_lock_on_first))
    holder.start()
    try:
        assert locked.wait(timeout=10)
        started = time.monotonic()
        claimed = queue.claim_next("w-main", "lock", lease_seconds=60)
        # A claim that waited on the lock would wait for the holder's release.wait(timeout=20):
        # the bound tells skipping from waiting, with room for a loaded machine.
        assert time.monotonic() - started < 10, "claim waited on the lock instead of skipping"
        assert claimed is not None
        assert claimed.id == second.id
        assert queue.claim_next("w-main", "lock", lease_seconds=60) is None
    finally:
        release.set()
        holder.join(timeout=20)
    assert queue.claim_next("w-main", "lock", lease_seconds=60).id == first.id
    assert connection.vendor == "postgresql"
