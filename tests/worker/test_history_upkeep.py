"""The history's upkeep as the worker runs it: queued by the schedule one at a time (hidden
with the scheduled polls on the tasks page), run as a "history" task whose result reads as a
sentence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psutil
import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from bms.history.models import ReadingRollup
from bms.tasks import describe, states
from bms.tasks.models import BACnetTask
from bms.worker import history_child, jobs
from bms.worker.store.history import enqueue_history_if_idle
from tests.history.helpers import make_points, store

pytestmark = pytest.mark.django_db(transaction=True)


async def no_progress(**fields: Any) -> None:
    pass


@pytest.fixture
async def closes_its_connections() -> Any:
    """The ORM thread's connection is closed after the test, or PostgreSQL cannot drop the
    test database (another session is using it)."""
    yield
    await sync_to_async(connections.close_all)()


def test_the_schedule_queues_one_upkeep_at_a_time_on_any_site():
    first = enqueue_history_if_idle("default")
    assert first is not None
    assert first.task_type == "history"
    assert describe.is_scheduled(first)
    assert describe.requested_by(first) == "schedule"
    assert enqueue_history_if_idle("default") is None
    assert enqueue_history_if_idle("north") is None  # one history for every site
    BACnetTask.objects.filter(pk=first.pk).update(status=states.COMPLETED)
    assert enqueue_history_if_idle("north") is not None


async def test_the_history_task_rolls_up_and_says_what_it_did(closes_its_connections: None):
    (point,) = await sync_to_async(make_points)(1)
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=2)
    await sync_to_async(store)(
        point, [(float(n), start + timedelta(seconds=30 * n)) for n in range(60)]
    )
    task = await sync_to_async(enqueue_history_if_idle)("default")
    assert task is not None
    settings = jobs.JobSettings(site="default", discovery_cache_seconds=0)
    result = await jobs.JOBS["history"](None, task, no_progress, settings)  # type: ignore[arg-type]
    # In a process of its own wherever another process can open the database (not an
    # in-memory SQLite test database): bms.worker.history_child says why.
    in_memory = connection.vendor == "sqlite" and "memory" in connection.settings_dict["NAME"]
    assert result["process"] == ("worker" if in_memory else "child")
    assert result["readings_rolled_up"] == 60
    assert await sync_to_async(ReadingRollup.objects.filter(resolution=60).count)() == 30
    task.result = result
    text = describe.result_text(task)
    assert text.startswith("rolled up 60 readings into buckets (30 of 1 min, ")
    assert "dropped 0 expired rows" in text


async def test_a_child_that_fails_fails_its_task_with_its_own_words(
    on_postgresql: None, closes_its_connections: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_child, "_database_name", lambda: "bms_no_such_database")
    with pytest.raises(history_child.UpkeepFailed, match="bms_no_such_database"):
        await history_child.run_upkeep(seconds=1, timeout=60)


async def test_a_child_past_its_time_is_stopped(
    on_postgresql: None, closes_its_connections: None
) -> None:
    me = psutil.Process()
    with pytest.raises(TimeoutError):
        await history_child.run_upkeep(seconds=1, timeout=0.05)  # Django starts slower
    assert not [c for c in me.children(recursive=True) if "history_upkeep" in c.cmdline()]


def test_the_command_refuses_a_time_of_nothing() -> None:
    with pytest.raises(CommandError, match="--seconds"):
        call_command("history_upkeep", "--seconds", "0")
