"""Device 8888's transitions that happen at once (100 virtual objects out of range in one
sync) are stored by the worker's AlarmSource as one batch: one call of
record_local_transitions (one transaction), in the order they happened, announced once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from bms.alarms.models import AlarmTransition
from bms.alarms.services import record_local_transitions
from bms.alarms.signals import alarms_changed
from bms.bacnet.local.alarm_spec import EventTransition
from bms.bacnet.types import ObjectRef
from bms.virtual import services
from bms.virtual.models import VirtualObject
from bms.worker import alarm_source
from bms.worker.alarm_source import AlarmSource

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def make_objects(count: int) -> list[VirtualObject]:
    device = services.create_virtual_device(3301, "Many", template="temperature_sensor")
    return [
        services.create_virtual_object(device, "analog-value", f"Zone {n}") for n in range(count)
    ]


def out_of_range(obj: VirtualObject, at: datetime) -> EventTransition:
    return EventTransition(
        ref=ObjectRef(obj.object_type, obj.instance),
        object_name=obj.bacnet_name,
        from_state="normal",
        to_state="high-limit",
        time_stamp=at,
        event_type="out-of-range",
        notification_class=1,
        priority=100,
        notify_type="alarm",
        ack_required=True,
        message="normal to high-limit",
        acked_transitions=(False, True, True),
        event_time_stamps=(at, None, None),
    )


async def test_a_hundred_transitions_at_once_are_one_batch_in_order_announced_once(monkeypatch):
    objects = await sync_to_async(make_objects)(100)
    batches: list[int] = []

    def recording(transitions: Any, device_instance: int) -> int:
        batches.append(len(transitions))
        return record_local_transitions(transitions, device_instance)

    announced: list[list[int]] = []

    def heard(alarm_ids: list[int], **_: Any) -> None:
        announced.append(alarm_ids)

    monkeypatch.setattr(alarm_source, "record_local_transitions", recording)
    alarms_changed.connect(heard, dispatch_uid="test-alarm-source-batch")
    tasks: list[asyncio.Task[None]] = []

    def side_task(coro: Any, name: str) -> asyncio.Task[None]:  # the worker keeps its own
        tasks.append(asyncio.create_task(coro, name=name))
        return tasks[-1]

    source = AlarmSource(side_task)
    try:
        for n, obj in enumerate(objects):  # one sync: all in one turn of the loop
            source.transitioned(out_of_range(obj, T0 + timedelta(milliseconds=n)))
        await asyncio.gather(*tasks)
    finally:
        alarms_changed.disconnect(dispatch_uid="test-alarm-source-batch")
    assert batches == [100]
    assert len(announced) == 1  # one alarms_changed (one live message), on commit
    assert len(announced[0]) == 100
    stored = AlarmTransition.objects.order_by("id").values_list("alarm__name", flat=True)
    assert await sync_to_async(list)(stored) == [obj.bacnet_name for obj in objects]
