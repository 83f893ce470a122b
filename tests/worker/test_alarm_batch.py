"""The alarm console's group commit (bms.worker.alarm_batch.AlarmBatcher): one live message per
stored batch, sent from the event loop after the confirmed notifications were released; a live
message that cannot be sent is logged and does not undo or refuse what was stored."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from bms.alarms.models import Alarm, AlarmTransition
from bms.bacnet.event_client import RemoteEvent
from bms.bacnet.types import ObjectRef
from bms.realtime import publish
from bms.worker.alarm_batch import AlarmBatcher

pytestmark = pytest.mark.django_db(transaction=True)


def event(instance: int, seq: int, *, confirmed: bool = False) -> RemoteEvent:
    return RemoteEvent(
        device_address="127.0.0.5:47808",
        device_instance=7001,
        ref=ObjectRef("analog-input", instance),
        process_id=1,
        time_stamp=datetime(2026, 12, 7, 1, 0, seq, tzinfo=UTC),
        notification_class=1,
        priority=100,
        event_type="out-of-range",
        message=f"n{seq}",
        notify_type="alarm",
        ack_required=True,
        from_state="normal",
        to_state="high-limit",
        confirmed=confirmed,
    )


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The live events the batcher sends, in order."""
    events: list[dict[str, Any]] = []

    async def record(live: dict[str, Any]) -> None:
        events.append(live)

    monkeypatch.setattr(publish, "apublish_alarms_event", record)
    return events


async def store_one_batch(batcher: AlarmBatcher, events: list[RemoteEvent]) -> list[Any]:
    goal = batcher.stored + len(events)
    stored = [batcher.add(e) for e in events]
    task = asyncio.create_task(batcher.run())
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(future for future in stored if future is not None))
            while batcher.stored < goal:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return stored


async def test_a_batch_is_one_live_message_naming_each_alarm_with_the_counts(
    sent: list[dict[str, Any]],
) -> None:
    batcher = AlarmBatcher(window=0.05)
    events = [event(n, n) for n in range(20)] + [event(20, 20, confirmed=True)]
    await store_one_batch(batcher, events)
    assert batcher.batches == 1
    (live,) = sent
    assert live["type"] == "alarms"
    assert sorted(alarm["message"] for alarm in live["alarms"]) == sorted(
        f"n{n}" for n in range(21)
    )
    assert live["counts"] == {"active": 21, "unacknowledged": 21}
    assert await sync_to_async(AlarmTransition.objects.count)() == 21


async def test_the_second_batch_finds_its_alarms_by_the_ids_the_first_learnt(
    sent: list[dict[str, Any]],
) -> None:
    batcher = AlarmBatcher(window=0.01)
    await store_one_batch(batcher, [event(n, n) for n in range(5)])
    await store_one_batch(batcher, [event(n, 10 + n) for n in range(5)])
    assert await sync_to_async(Alarm.objects.count)() == 5
    assert len(sent) == 2
    assert {alarm["id"] for alarm in sent[0]["alarms"]} == {a["id"] for a in sent[1]["alarms"]}


async def test_a_live_message_that_fails_is_logged_and_the_batch_stays_stored(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def redis_away(live: dict[str, Any]) -> None:
        raise ConnectionError("Redis is not answering")

    monkeypatch.setattr(publish, "apublish_alarms_event", redis_away)
    batcher = AlarmBatcher(window=0.01)
    with caplog.at_level(logging.ERROR, logger="bms.worker.alarm_batch"):
        (confirmed,) = await store_one_batch(batcher, [event(1, 1, confirmed=True)])
    assert confirmed is not None
    assert confirmed.done()
    assert confirmed.exception() is None  # acked: it is stored
    assert batcher.unpublished == 1
    assert "live message of a stored batch not sent" in caplog.text
    assert await sync_to_async(AlarmTransition.objects.count)() == 1
