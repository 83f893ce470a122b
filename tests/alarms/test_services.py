"""Recording device 8888's alarms (bms.alarms.services) on the test database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bms.alarms.models import Alarm, AlarmTransition
from bms.alarms.services import (
    UnknownAlarmSource,
    record_local_acknowledgement,
    record_local_transitions,
)
from bms.bacnet.local.alarm_spec import AlarmAcknowledgement, EventTransition
from bms.bacnet.types import ObjectRef
from bms.virtual import services
from bms.virtual.models import VirtualObject
from bms.virtual.specs import spec_for

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def temperature() -> VirtualObject:
    device = services.create_virtual_device(3201, "Room", template="temperature_sensor")
    return VirtualObject.objects.get(device=device, name="Temperature")


def transition(obj: VirtualObject, from_state: str, to_state: str, at: datetime) -> EventTransition:
    offnormal = to_state != "normal"
    return EventTransition(
        ref=ObjectRef(obj.object_type, obj.instance),
        object_name=obj.bacnet_name,
        from_state=from_state,
        to_state=to_state,
        time_stamp=at,
        event_type="out-of-range",
        notification_class=1,
        priority=100 if offnormal else 200,
        notify_type="alarm",
        ack_required=offnormal,
        message=f"{from_state} to {to_state}",
        acked_transitions=(not offnormal, True, True),
        event_time_stamps=(T0, None, at if not offnormal else None),
    )


def ack(obj: VirtualObject, at: datetime) -> AlarmAcknowledgement:
    return AlarmAcknowledgement(
        ref=ObjectRef(obj.object_type, obj.instance),
        acknowledged_state="high-limit",
        transition="to-offnormal",
        event_time_stamp=T0,
        process_id=7,
        source="night operator",
        acknowledged_at=at,
        source_address="127.0.0.9:47808",
        acked_transitions=(True, True, True),
    )


def test_a_batch_of_transitions_is_one_alarm_with_its_history(temperature):
    back = T0 + timedelta(minutes=5)
    stored = record_local_transitions(
        [transition(temperature, "normal", "high-limit", T0),
         transition(temperature, "high-limit", "normal", back)],
        8888,
    )  # fmt: skip
    assert stored == 2
    alarm = Alarm.objects.get(virtual_object=temperature)
    assert (alarm.source_kind, alarm.device_instance, alarm.event_state) == (
        "virtual",
        8888,
        "normal",
    )
    assert [(t.transition, t.priority) for t in alarm.transitions.order_by("time_stamp")] == [
        ("to-offnormal", 100),
        ("to-normal", 200),
    ]


def test_the_stored_event_state_is_what_the_device_restores(temperature):
    edited_at = VirtualObject.objects.get(pk=temperature.pk).updated_at
    record_local_transitions([transition(temperature, "normal", "high-limit", T0)], 8888)
    row = VirtualObject.objects.get(pk=temperature.pk)
    alarm = spec_for(row).alarm
    assert alarm is not None
    assert (alarm.event_state, alarm.acked_transitions) == ("high-limit", (False, True, True))
    assert alarm.event_time_stamps[0] == T0
    assert row.updated_at == edited_at  # the device's own state is not an edit


def test_an_acknowledgement_is_stored_on_the_transition_it_acknowledges(temperature):
    record_local_transitions([transition(temperature, "normal", "high-limit", T0)], 8888)
    record_local_acknowledgement(ack(temperature, T0 + timedelta(minutes=1)))
    acked = AlarmTransition.objects.get(alarm__virtual_object=temperature)
    assert (acked.ack_source, acked.ack_process_id, acked.ack_address) == (
        "night operator",
        7,
        "127.0.0.9:47808",
    )
    assert acked.acked_at == T0 + timedelta(minutes=1)
    assert VirtualObject.objects.get(pk=temperature.pk).acked_transitions == [True, True, True]
    assert not Alarm.objects.get(virtual_object=temperature).unacknowledged


def test_an_acknowledgement_of_a_deleted_object_is_refused(temperature):
    gone = ack(temperature, T0)
    temperature.delete()
    with pytest.raises(UnknownAlarmSource):
        record_local_acknowledgement(gone)


def test_a_transition_of_a_deleted_object_is_left_out(temperature):
    event = transition(temperature, "normal", "high-limit", T0)
    temperature.delete()
    assert record_local_transitions([event], 8888) == 0
    assert not AlarmTransition.objects.exists()


def statements_to_record(objects: list[VirtualObject], from_state: str, to_state: str) -> int:
    events = [transition(obj, from_state, to_state, T0) for obj in objects]
    with CaptureQueriesContext(connection) as queries:
        assert record_local_transitions(events, 8888) == len(objects)
    return len(queries)


def test_a_batch_of_a_hundred_costs_a_few_statements_not_one_per_object():
    device = services.create_virtual_device(3202, "Floor", template="temperature_sensor")
    objects = [
        services.create_virtual_object(device, "analog-value", f"Zone {n}") for n in range(110)
    ]
    few, many = objects[:10], objects[10:]
    first = (statements_to_record(few, "normal", "high-limit"),
             statements_to_record(many, "normal", "high-limit"))  # fmt: skip
    again = (statements_to_record(few, "high-limit", "normal"),
             statements_to_record(many, "high-limit", "normal"))  # fmt: skip
    # The backend splits a long INSERT or UPDATE into chunks (SQLite: 999 parameters), so not
    # exactly equal; row by row a hundred cost over 200 statements.
    assert first[1] <= first[0] + 4 < 15, first  # new alarms
    assert again[1] <= again[0] + 4 < 15, again  # known alarms, updated
    states = Alarm.objects.filter(virtual_object__in=objects).values_list("event_state", flat=True)
    assert sorted(set(states)) == ["normal"]
    assert Alarm.objects.filter(virtual_object__in=objects).count() == 110
    assert AlarmTransition.objects.filter(alarm__virtual_object__in=objects).count() == 220
    assert set(
        VirtualObject.objects.filter(pk__in=[o.pk for o in objects]).values_list(
            "event_state", flat=True
        )
    ) == {"normal"}


def test_a_known_alarm_updated_by_a_batch_is_stamped_with_the_time_it_changed(temperature):
    record_local_transitions([transition(temperature, "normal", "high-limit", T0)], 8888)
    before = Alarm.objects.get(virtual_object=temperature).updated_at
    record_local_transitions(
        [transition(temperature, "high-limit", "normal", T0 + timedelta(minutes=1))], 8888
    )
    alarm = Alarm.objects.get(virtual_object=temperature)
    assert alarm.updated_at > before
    assert (alarm.event_state, alarm.priority, alarm.message) == (
        "normal",
        200,
        "high-limit to normal",
    )
