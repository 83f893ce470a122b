"""Remote devices' event notifications stored in group commits (bms.alarms.remote): alarms found
through the caller's id cache or created in bulk, transitions inserted by hand, alarms updated
in one statement; on SQLite here and on PostgreSQL in its pass (the UPDATE differs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.remote import RemoteAlarmIds, record_remote_events
from bms.bacnet.event_client import RemoteEvent
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice, BACnetPoint

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
DEVICE = 7001


def event(instance: int, raised: bool, seq: int, **changes: object) -> RemoteEvent:
    fields: dict[str, object] = {
        "device_address": "127.0.0.5:47808",
        "device_instance": DEVICE,
        "ref": ObjectRef("analog-input", instance),
        "process_id": 1,
        "time_stamp": T0 + timedelta(seconds=seq),
        "notification_class": 1,
        "priority": 100 if raised else 200,
        "event_type": "out-of-range",
        "message": f"n{seq}",
        "notify_type": "alarm",
        "ack_required": raised,
        "from_state": "normal" if raised else "high-limit",
        "to_state": "high-limit" if raised else "normal",
        "confirmed": False,
    }
    fields.update(changes)
    return RemoteEvent(**fields)  # type: ignore[arg-type]


def burst(objects: int, rounds: int) -> list[RemoteEvent]:
    """Each object raised, returned, raised, ... `rounds` times, interleaved."""
    return [
        event(instance, round_ % 2 == 0, round_ * objects + instance)
        for round_ in range(rounds)
        for instance in range(objects)
    ]


def test_a_batch_creates_its_alarms_in_bulk_named_after_known_points() -> None:
    device = BACnetDevice.objects.create(device_instance=DEVICE, address="127.0.0.5")
    BACnetPoint.objects.create(device=device, object_type="analog-input", instance=1, name="T1")
    known: RemoteAlarmIds = {}
    with CaptureQueriesContext(connection) as queries:
        recorded = record_remote_events(burst(objects=50, rounds=1), known)
    assert recorded.transitions == 50
    assert len(queries) < 15, [q["sql"][:80] for q in queries]  # not a query per alarm
    alarms = {alarm.instance: alarm for alarm in Alarm.objects.filter(source_kind="remote")}
    assert len(alarms) == 50
    assert alarms[1].name == "T1"
    assert alarms[1].point is not None
    assert alarms[2].name == "analog-input,2"
    assert known == {(DEVICE, ObjectRef("analog-input", n)): alarms[n].pk for n in range(50)}


def test_the_rows_say_what_the_notifications_said_and_the_alarm_ends_in_the_last_state() -> None:
    known: RemoteAlarmIds = {}
    events = burst(objects=3, rounds=3)  # raised, returned, raised
    record_remote_events(events[:3], known)
    recorded = record_remote_events(events[3:], known)
    assert recorded.transitions == 6
    rows = AlarmTransition.objects.order_by("time_stamp")
    assert [row.message for row in rows] == [e.message for e in events]
    first = rows.first()
    assert first is not None
    assert (first.from_state, first.to_state, first.transition) == (
        "normal",
        "high-limit",
        "to-offnormal",
    )
    assert (first.priority, first.ack_required, first.event_type) == (100, True, "out-of-range")
    assert first.time_stamp == T0
    assert first.recorded_at is not None
    assert (first.acked_at, first.ack_source, first.ack_comment) == (None, "", "")
    for alarm in Alarm.objects.filter(source_kind="remote"):
        assert alarm.event_state == "high-limit"
        assert alarm.acked_transitions == [False, True, True]  # raise: ack wanted; return: not
        assert alarm.priority == 100
        assert alarm.message == f"n{6 + (alarm.instance or 0)}"
        assert alarm.last_transition_at == T0 + timedelta(seconds=6 + (alarm.instance or 0))
    assert {alarm.pk for alarm in recorded.alarms} == set(known.values())


def test_known_alarms_are_read_by_id_and_a_stale_id_is_looked_up_again() -> None:
    known: RemoteAlarmIds = {}
    record_remote_events([event(1, True, 0), event(2, True, 1)], known)
    first = known[(DEVICE, ObjectRef("analog-input", 1))]
    Alarm.objects.filter(pk=first).delete()  # deleted meanwhile (the admin)
    record_remote_events([event(1, False, 2), event(2, False, 3)], known)
    alarms = Alarm.objects.filter(source_kind="remote").order_by("instance")
    assert [(a.instance, a.event_state) for a in alarms] == [(1, "normal"), (2, "normal")]
    assert known[(DEVICE, ObjectRef("analog-input", 1))] != first
    assert known[(DEVICE, ObjectRef("analog-input", 1))] == alarms[0].pk


def test_an_alarm_stored_before_the_cache_existed_is_found_by_its_source() -> None:
    record_remote_events([event(1, True, 0)])  # no cache kept (another worker's run)
    known: RemoteAlarmIds = {}
    record_remote_events([event(1, False, 1)], known)
    (alarm,) = Alarm.objects.filter(source_kind="remote")
    assert known == {(DEVICE, ObjectRef("analog-input", 1)): alarm.pk}
    assert alarm.event_state == "normal"
    assert alarm.transitions.count() == 2


def test_an_ack_notification_in_a_batch_acks_the_transition_stored_before_it() -> None:
    raised = event(1, True, 0)
    ack = event(1, True, 1, notify_type="ack-notification", time_stamp=T0 + timedelta(seconds=5))
    recorded = record_remote_events([raised, ack], {})
    assert recorded.transitions == 1
    (alarm,) = Alarm.objects.filter(source_kind="remote")
    assert alarm.acked_transitions == [True, True, True]
    row = alarm.transitions.get()
    assert row.acked_at == T0 + timedelta(seconds=5)
    assert row.ack_source == "acknowledged at the device"


def test_without_announce_no_alarms_changed_is_sent(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks() as callbacks:
        record_remote_events([event(1, True, 0)], {}, announce=False)
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        record_remote_events([event(1, False, 1)], {})
    assert len(callbacks) == 1
