"""The ReadingBatcher's group commit: when a batch goes, and the stage timings it keeps.

The store and the live update are replaced by recorders (what they do is tested with the
database in test_monitoring_store.py and tests/realtime): these tests are about time only.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import pytest

from bms.bacnet.types import ObjectRef
from bms.worker import reading_batch
from bms.worker.reading_batch import ReadingBatcher, Timings
from bms.worker.store.monitoring import ReadingRow

pytestmark = pytest.mark.django_db  # run_db checks the ORM thread's connection
AI = ObjectRef("analog-input", 1)


def row(point_id: int, value: float = 1.0) -> ReadingRow:
    return ReadingRow(point_id, 1, AI, value, None, "cov")


class Recorder:
    """Stands in for the store (each commit takes `commit_seconds`) and the live update."""

    def __init__(self, commit_seconds: float = 0.0) -> None:
        self.commit_seconds = commit_seconds
        self.commits: list[tuple[float, float, list[int]]] = []  # (start, end, point ids)
        self.published: list[dict[int, list[dict[str, Any]]]] = []

    def save(self, rows: list[ReadingRow], at: datetime) -> list[int]:
        started = time.monotonic()
        time.sleep(self.commit_seconds)
        self.commits.append((started, time.monotonic(), [r.point_id for r in rows]))
        return [r.point_id for r in rows]

    async def publish(self, by_device: dict[int, list[dict[str, Any]]]) -> None:
        self.published.append(by_device)


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(reading_batch, "save_monitored_readings", recorder.save)
    monkeypatch.setattr(reading_batch.events, "point_readings", recorder.publish)
    return recorder


async def until(done: Any, runner: asyncio.Task[None], seconds: float = 10.0) -> None:
    """Wait for `done()`; the batcher's own error (or a timeout) fails the test."""
    deadline = time.monotonic() + seconds
    while not done():
        if runner.done():
            runner.result()
        assert time.monotonic() < deadline, "the batcher did not get there"
        await asyncio.sleep(0.01)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_lone_value_waits_about_one_window(recorder):
    batcher = ReadingBatcher(window=0.2)
    runner = asyncio.create_task(batcher.run())
    added = time.monotonic()
    batcher.add(row(1))
    await until(lambda: recorder.published, runner)
    await stop(runner)
    ((started, _end, points),) = recorder.commits
    assert points == [1]
    assert 0.18 <= started - added < 0.6
    assert recorder.published[0][1][0]["id"] == 1


async def test_values_that_waited_during_a_commit_go_right_after_it(recorder):
    """The window counts from the oldest waiting value, not from the end of the last commit:
    a value that arrived during a slow commit has waited already (it used to wait a whole
    window more)."""
    recorder.commit_seconds = 0.6
    batcher = ReadingBatcher(window=0.3)
    runner = asyncio.create_task(batcher.run())
    batcher.add(row(1))
    await asyncio.sleep(0.4)  # the first commit (from 0.3 s to 0.9 s) is running
    batcher.add(row(2))
    await until(lambda: len(recorder.commits) == 2, runner)
    await stop(runner)
    (_s1, first_end, first), (second_start, _e2, second) = recorder.commits
    assert (first, second) == ([1], [2])
    assert second_start - first_end < 0.2  # not another 0.3 s window


async def test_more_than_max_rows_go_in_back_to_back_commits(recorder):
    batcher = ReadingBatcher(window=5.0, max_rows=10)
    runner = asyncio.create_task(batcher.run())
    for point_id in range(25):
        batcher.add(row(point_id))
    await until(lambda: sum(len(points) for _s, _e, points in recorder.commits) == 25, runner)
    await stop(runner)
    assert [len(points) for _s, _e, points in recorder.commits] == [10, 10, 5]
    assert recorder.commits[-1][0] - recorder.commits[0][0] < 2.0  # no 5 s window between


async def test_each_commit_is_timed_by_stage(recorder):
    batcher = ReadingBatcher(window=0.05)
    for point_id in range(3):
        batcher.add(row(point_id))
    await batcher.drain()
    timings = batcher.timings
    assert timings.values == 3
    assert {stage: len(seconds) for stage, seconds in timings.stages.items()} == {
        "waited": 1,
        "commit": 1,
        "publish": 1,
    }
    assert "3 values in 1 commits" in timings.summary()


def test_timings_summary_gives_percentiles_in_milliseconds():
    timings = Timings()
    for n in range(100):
        timings.add(5, waited=n / 1000, commit=0.002, publish=0.001)
    summary = timings.summary()
    assert summary.startswith("500 values in 100 commits")
    assert "waited p50/p99/max 50/99/99 ms" in summary
    assert "commit p50/p99/max 2/2/2 ms" in summary


async def test_a_confirmed_value_is_resolved_only_once_stored(recorder):
    recorder.commit_seconds = 0.3
    batcher = ReadingBatcher(window=0.05)
    runner = asyncio.create_task(batcher.run())
    assert batcher.add(row(1)) is None  # unconfirmed: nobody waits
    stored = batcher.add(row(2), wait=True)
    assert stored is not None
    await asyncio.sleep(0.2)  # the commit is running
    assert not stored.done()
    await asyncio.wait_for(stored, 5)
    await stop(runner)
    assert recorder.commits[0][2] == [1, 2]


async def test_a_confirmed_value_waits_through_a_failed_commit(recorder, monkeypatch):
    from django.db import OperationalError

    failures = [OperationalError("the database restarts")]
    save = recorder.save

    def flaky(rows: list[ReadingRow], at: datetime) -> list[int]:
        if failures:
            raise failures.pop()
        return save(rows, at)

    monkeypatch.setattr(reading_batch, "save_monitored_readings", flaky)
    monkeypatch.setattr(reading_batch, "RETRY_SECONDS", 0.05)
    batcher = ReadingBatcher(window=0.01)
    runner = asyncio.create_task(batcher.run())
    stored = batcher.add(row(1), wait=True)
    await asyncio.wait_for(stored, 5)
    await stop(runner)
    assert failures == []
    assert recorder.commits[0][2] == [1]


async def test_confirmed_values_not_stored_at_shutdown_fail(recorder, monkeypatch):
    from django.db import OperationalError

    def away(rows: list[ReadingRow], at: datetime) -> list[int]:
        raise OperationalError("the database is away")

    monkeypatch.setattr(reading_batch, "save_monitored_readings", away)
    monkeypatch.setattr(reading_batch, "RETRY_SECONDS", 0.01)
    batcher = ReadingBatcher(window=0.01)
    stored = batcher.add(row(1), wait=True)
    await batcher.drain(attempts=2)
    with pytest.raises(RuntimeError, match="stopping"):
        await stored
