"""The console's filters (bms.alarms.queries.filtered) over every kind of source: a remote
object's alarm (with its point), a BMS rule's and a comm-loss alarm (a device instance only),
and device 8888's own; by state, priority, site and device."""

from __future__ import annotations

import pytest
from django.db import connection

from bms.alarms.models import ACTIVE, UNACKNOWLEDGED, Alarm
from bms.alarms.queries import AlarmFilter, console, counts
from bms.devices.models import BACnetDevice, BACnetPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def alarms() -> dict[str, Alarm]:
    south = BACnetDevice.objects.create(site="default", device_instance=1001, address="10.0.0.1")
    north = BACnetDevice.objects.create(site="north", device_instance=2002, address="10.1.0.2")
    point = BACnetPoint.objects.create(device=north, object_type="analog-input", instance=1)
    made = {
        "remote-north": Alarm(source_kind="remote", point=point, device_instance=2002,
                              event_state="high-limit", priority=20,
                              acked_transitions=[False, True, True]),
        "rule-north": Alarm(source_kind="rule", rule="rule:1", device_instance=2002,
                            event_state="normal", priority=100),
        "comm-loss-south": Alarm(source_kind="rule", rule="comm-loss:1001",
                                 device_instance=south.device_instance, event_state="fault",
                                 priority=50, acked_transitions=[True, False, True]),
        "virtual": Alarm(source_kind="virtual", device_instance=8888, event_state="offnormal",
                         priority=200),
    }  # fmt: skip
    for alarm in made.values():
        alarm.save()
    return made


def chosen(alarms: dict[str, Alarm], **filters) -> list[str]:
    names = {alarm.pk: name for name, alarm in alarms.items()}
    return sorted(names[alarm.pk] for alarm in console(AlarmFilter(**filters)))


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        ({}, ["comm-loss-south", "remote-north", "rule-north", "virtual"]),
        ({"state": "active"}, ["comm-loss-south", "remote-north", "virtual"]),
        ({"state": "unacknowledged"}, ["comm-loss-south", "remote-north"]),
        ({"state": "acknowledged"}, ["virtual"]),
        ({"state": "normal"}, ["rule-north"]),
        ({"priority_min": 50, "priority_max": 100}, ["comm-loss-south", "rule-north"]),
        ({"site": "north"}, ["remote-north", "rule-north"]),
        ({"site": "default"}, ["comm-loss-south"]),
        ({"site": "nowhere"}, []),
        ({"device": 2002}, ["remote-north", "rule-north"]),
        ({"device": 8888, "state": "active"}, ["virtual"]),
        ({"site": "north", "state": "active", "priority_max": 30}, ["remote-north"]),
    ],
)
def test_filters_choose_the_alarms_of_every_source_kind(alarms, filters, names):
    assert chosen(alarms, **filters) == names


def test_the_console_puts_unacknowledged_first_and_counts_agree(alarms):
    ranked = [alarm.rank for alarm in console(AlarmFilter())]
    assert ranked == sorted(ranked)
    assert ranked[:2] == [0, 0]
    assert counts() == {"active": 3, "unacknowledged": 2}


def test_the_counts_and_a_remote_alarms_source_are_indexed():
    """alarms 0007: the counts every alarm batch publishes read partial indexes of the active
    and the unacknowledged alarms (not every source's row), and a remote alarm is found by its
    (device instance, object type, instance)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "alarms_alarm")
    indexed = {name: tuple(c["columns"]) for name, c in found.items() if c["index"]}
    assert indexed["alarm_active"] == ("priority",)
    assert indexed["alarm_unacked"] == ("priority",)
    assert indexed["alarm_source_object"] == ("device_instance", "object_type", "instance")


@pytest.mark.usefixtures("on_postgresql")
@pytest.mark.parametrize(
    ("condition", "index"), [(ACTIVE, "alarm_active"), (UNACKNOWLEDGED, "alarm_unacked")]
)
def test_postgresql_counts_with_the_partial_index_of_the_condition(condition, index):
    """The index's predicate is the query's condition as the ORM writes it (one Q, two uses):
    PostgreSQL proves it implied and reads the index (table scans are made dear here, as a test
    table is small enough to scan)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = Alarm.objects.filter(condition).order_by().values("priority").explain()
    assert index in plan
    assert "Seq Scan" not in plan  # still chosen, however dear, when no index can serve it
