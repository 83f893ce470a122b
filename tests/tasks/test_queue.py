"""The ORM task queue on the test database (SQLite here, PostgreSQL in the PostgreSQL pass)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bms.tasks import queue
from bms.tasks.models import BACnetTask, WorkerHeartbeat
from bms.tasks.queue import TaskNotOwned

pytestmark = pytest.mark.django_db


def test_enqueue_makes_a_pending_row_of_the_configured_site(settings):
    settings.BACNET_SITE = "north"
    task = queue.enqueue("discover", {"low": 1, "high": 9})
    task.refresh_from_db()
    assert (task.status, task.site, task.parameters, task.attempts) == (
        "pending",
        "north",
        {"low": 1, "high": 9},
        0,
    )
    assert str(task).startswith("discover - pending (")


def test_enqueue_refuses_an_unknown_task_type():
    with pytest.raises(ValueError, match="unknown task type 'reboot'"):
        queue.enqueue("reboot")


def test_claim_takes_the_oldest_pending_task_of_its_site_and_leases_it():
    first = queue.enqueue("discover", site="a")
    queue.enqueue("collect", site="a")
    queue.enqueue("collect", site="b")
    before = timezone.now()
    claimed = queue.claim_next("w1", "a", lease_seconds=30)
    assert claimed is not None
    assert claimed.id == first.id
    assert (claimed.status, claimed.worker_id, claimed.attempts) == ("running", "w1", 1)
    assert claimed.started_at >= before
    assert claimed.lease_expires_at - claimed.started_at == timedelta(seconds=30)


def test_claim_returns_none_when_the_site_has_nothing_pending():
    queue.enqueue("discover", site="other")
    assert queue.claim_next("w1", "mine", lease_seconds=30) is None


def test_a_claimed_task_is_not_claimed_again():
    queue.enqueue("discover", site="s")
    assert queue.claim_next("w1", "s", lease_seconds=30) is not None
    assert queue.claim_next("w2", "s", lease_seconds=30) is None


def test_claim_by_id_takes_only_a_pending_task():
    task = queue.enqueue("discover", site="s")
    assert queue.claim_by_id(task.id, "w1", lease_seconds=30).worker_id == "w1"
    assert queue.claim_by_id(task.id, "w2", lease_seconds=30) is None


def test_heartbeat_extends_the_lease_of_its_own_worker_only():
    queue.enqueue("collect", site="s")
    task = queue.claim_next("w1", "s", lease_seconds=5)
    assert queue.heartbeat(task, "w1", lease_seconds=600)
    task.refresh_from_db()
    assert task.lease_expires_at > timezone.now() + timedelta(seconds=500)
    assert not queue.heartbeat(task, "w2", lease_seconds=9999)
    task.refresh_from_db()
    assert task.lease_expires_at < timezone.now() + timedelta(seconds=601)


def test_progress_and_completion_are_recorded():
    queue.enqueue("collect", site="s")
    task = queue.claim_next("w1", "s", lease_seconds=30)
    queue.update_progress(task, done=3, total=10, message="reading device 1003")
    assert BACnetTask.objects.get(id=task.id).progress == {
        "done": 3,
        "total": 10,
        "message": "reading device 1003",
    }
    queue.complete(task, {"readings": 10})
    stored = BACnetTask.objects.get(id=task.id)
    assert (stored.status, stored.result, stored.lease_expires_at) == (
        "completed",
        {"readings": 10},
        None,
    )
    assert stored.completed_at is not None


def test_fail_records_the_error():
    queue.enqueue("collect", site="s")
    task = queue.claim_next("w1", "s", lease_seconds=30)
    queue.fail(task, "device 1003 did not answer")
    stored = BACnetTask.objects.get(id=task.id)
    assert (stored.status, stored.error_message) == ("failed", "device 1003 did not answer")


def test_a_finished_task_cannot_be_finished_again():
    queue.enqueue("collect", site="s")
    task = queue.claim_next("w1", "s", lease_seconds=30)
    queue.complete(task, {})
    with pytest.raises(ValueError, match="from completed to failed"):
        queue.fail(task, "too late")


def test_an_expired_lease_puts_the_task_back_and_the_old_worker_loses_it():
    queue.enqueue("discover", site="s")
    task = queue.claim_next("w1", "s", lease_seconds=1)
    later = timezone.now() + timedelta(seconds=2)
    expired = queue.requeue_expired(now=later)
    assert (expired.requeued, expired.failed) == ([task.id], [])
    stored = BACnetTask.objects.get(id=task.id)
    assert (stored.status, stored.worker_id) == ("pending", "")
    assert "lease of worker w1 expired" in stored.progress["message"]
    with pytest.raises(TaskNotOwned):
        queue.complete(task, {"stale": True})
    again = queue.claim_next("w2", "s", lease_seconds=30)
    assert (again.id, again.attempts, again.worker_id) == (task.id, 2, "w2")


def test_a_live_lease_is_left_alone():
    queue.enqueue("discover", site="s")
    task = queue.claim_next("w1", "s", lease_seconds=60)
    assert queue.requeue_expired().requeued == []
    assert BACnetTask.objects.get(id=task.id).status == "running"


def test_when_attempts_are_exhausted_an_expired_task_fails_with_the_reason():
    created = queue.enqueue("discover", site="s", max_attempts=2)
    for worker in ("w1", "w2"):
        task = queue.claim_next(worker, "s", lease_seconds=1)
        expired = queue.requeue_expired(now=timezone.now() + timedelta(seconds=5))
    assert expired.failed == [created.id]
    stored = BACnetTask.objects.get(id=created.id)
    assert (stored.status, stored.attempts) == ("failed", 2)
    assert "lease of worker w2 expired on the last attempt (2 of 2)" in stored.error_message
    assert task.worker_id == "w2"


def test_graceful_requeue_does_not_use_up_an_attempt():
    queue.enqueue("collect", site="s", max_attempts=1)
    task = queue.claim_next("w1", "s", lease_seconds=30)
    queue.requeue(task)
    assert (task.status, task.attempts, task.worker_id) == ("pending", 0, "")
    assert queue.claim_next("w2", "s", lease_seconds=30).attempts == 1


def test_progress_from_a_worker_that_lost_the_task_is_refused():
    queue.enqueue("collect", site="s")
    task = queue.claim_next("w1", "s", lease_seconds=1)
    queue.requeue_expired(now=timezone.now() + timedelta(seconds=5))
    queue.claim_next("w2", "s", lease_seconds=30)
    with pytest.raises(TaskNotOwned, match="no longer running for worker 'w1'"):
        queue.update_progress(task, message="still here")


def test_wait_for_returns_a_finished_task_and_times_out_on_a_pending_one():
    queue.enqueue("collect", site="s")
    task = queue.claim_next("w1", "s", lease_seconds=30)
    queue.complete(task, {"ok": 1})
    seen = []
    assert queue.wait_for(task.id, timeout=1, on_change=seen.append).result == {"ok": 1}
    assert [t.status for t in seen] == ["completed"]
    pending = queue.enqueue("collect", site="s")
    with pytest.raises(TimeoutError, match=f"task {pending.id} still pending after 0.3 s"):
        queue.wait_for(pending.id, timeout=0.3, poll_interval=0.05)


def test_alive_workers_are_those_that_heartbeat_recently():
    queue.worker_heartbeat("w-live", "s", backend="native", hostname="h", pid=1)
    queue.worker_heartbeat("w-dead", "s")
    queue.worker_heartbeat("w-elsewhere", "t")
    WorkerHeartbeat.objects.filter(worker_id="w-dead").update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert [w.worker_id for w in queue.alive_workers(30, site="s")] == ["w-live"]
    assert {w.worker_id for w in queue.alive_workers(30)} == {"w-live", "w-elsewhere"}


def test_worker_heartbeats_stay_in_the_table_rows_were_written_to_before_the_rename():
    # A row as the previous version (model `Worker`) wrote it: the renamed model reads it as is.
    from django.db import connection

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tasks_worker (worker_id, site, backend, hostname, pid, bacnet_address, "
            "bbmd, bbmd_registration, started_at, heartbeat_at) "
            "VALUES (%s, %s, '', '', NULL, '', '', '', %s, %s)",
            ["old-1", "default", now, now],
        )
    assert WorkerHeartbeat._meta.db_table == "tasks_worker"
    assert [w.worker_id for w in queue.alive_workers(30)] == ["old-1"]
