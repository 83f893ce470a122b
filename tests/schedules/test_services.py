"""Schedules and calendars created, configured and deleted by an operator: checked (nothing
stored when refused), audited as configuration, and a schedule that stops writing an object
relinquishes the level it wrote there."""

from __future__ import annotations

from typing import Any

import pytest

from bms.devices.models import ConfigAudit, WriteAudit
from bms.schedules import services
from bms.schedules.models import Calendar, Schedule
from bms.virtual.commands import command_virtual_object
from bms.virtual.models import VirtualObject
from bms.virtual.services import create_virtual_device

pytestmark = pytest.mark.django_db

AT_10 = 10


@pytest.fixture
def ahu(db: Any) -> dict[str, VirtualObject]:
    device = create_virtual_device(2001, "AHU", template="air_handling_unit")
    return {o.name: o for o in device.virtual_objects.all()}


def slot(obj: VirtualObject, priority: int) -> Any:
    obj.refresh_from_db()
    assert obj.priority_array is not None
    return obj.priority_array[priority - 1]


def written_by_schedule(obj: VirtualObject, value: float) -> None:
    """What the worker does at a transition: the schedule's value at its priority."""
    command_virtual_object(obj, value, AT_10, user="schedule,1", source="schedule")


def damper_schedule(ahu: dict[str, VirtualObject], **fields: Any) -> Schedule:
    return services.create_schedule(
        [ahu["Damper_Position"], ahu["Valve_Position"]],
        user="otto",
        source="api",
        name="Dampers",
        kind="analog",
        priority_for_writing=AT_10,
        **fields,
    )


def test_it_creates_a_schedule_at_the_lowest_free_instance_and_audits_it(ahu):
    services.create_schedule(instance=1, name="One", kind="binary")
    services.create_schedule(instance=3, name="Three", kind="binary")
    assert services.next_free_instance(Schedule) == 2

    row = damper_schedule(ahu, weekly=[[["08:00", 42]], *([[]] * 6)])

    assert row.instance == 2
    assert row.weekly[0] == [["08:00:00", 42]]  # stored as the codec writes it
    audit = ConfigAudit.objects.get(action="schedule_created", target__contains="Dampers")
    assert (audit.who, audit.target) == ("otto", "schedule,2 Dampers")
    assert audit.after["targets"] == ["analog-output,1", "analog-output,2"]
    assert services.next_free_instance(Calendar) == 1


@pytest.mark.parametrize(
    ("fields", "error", "reason"),
    [
        ({"kind": "binary"}, services.ScheduleError, "is not binary"),
        ({"weekly": [[["08:00", 150.0]], *([[]] * 6)]}, services.ScheduleError, "150.0"),
        (
            {"exceptions": [{"priority": 1, "calendar": 9, "times": []}]},
            services.ScheduleError,
            "calendar 9",
        ),
        ({"priority_for_writing": 17}, services.ScheduleError, "priority_for_writing"),
        ({"colour": "red"}, services.ScheduleError, "no field colour"),
        ({"name": "Taken"}, services.ScheduleConflict, "named 'Taken'"),
        ({"instance": 5}, services.ScheduleConflict, "schedule 5 already exists"),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_nothing_is_stored(ahu, fields, error, reason):
    services.create_schedule(instance=5, name="Taken", kind="analog")
    base: dict[str, Any] = {"name": "New", "kind": "analog", "priority_for_writing": AT_10}
    targets = [ahu["Damper_Position"]]

    with pytest.raises(error, match=reason):
        services.create_schedule(targets, user="otto", **(base | fields))

    assert list(Schedule.objects.values_list("name", flat=True)) == ["Taken"]
    assert not ConfigAudit.objects.filter(target__contains="New").exists()


def test_a_settings_change_relinquishes_the_targets_it_drops(ahu):
    row = damper_schedule(ahu)
    damper, valve = ahu["Damper_Position"], ahu["Valve_Position"]
    written_by_schedule(damper, 42.0)
    written_by_schedule(valve, 42.0)

    row = services.update_schedule_settings(
        row, user="otto", source="api", name="Damper only", targets=[damper]
    )

    assert (slot(damper, AT_10), slot(valve, AT_10)) == (42.0, None)
    assert [str(t) for t in row.targets.all()] == [str(damper)]
    audit = ConfigAudit.objects.get(action="schedule_changed")
    assert audit.before == {"name": "Dampers", "targets": ["analog-output,1", "analog-output,2"]}
    assert audit.after == {"name": "Damper only", "targets": ["analog-output,1"]}


def test_a_new_priority_relinquishes_the_old_level_everywhere(ahu):
    row = damper_schedule(ahu)
    damper = ahu["Damper_Position"]
    written_by_schedule(damper, 42.0)

    services.update_schedule_settings(row, user="otto", source="api", priority_for_writing=9)

    assert (slot(damper, AT_10), Schedule.objects.get().priority_for_writing) == (None, 9)


def test_a_refused_settings_change_stores_nothing(ahu):
    row = damper_schedule(ahu)
    services.create_schedule(name="Other", kind="binary")
    written_by_schedule(ahu["Damper_Position"], 42.0)

    with pytest.raises(services.ScheduleError, match="is not analog"):
        services.update_schedule_settings(row, user="o", source="api", targets=[ahu["Enable"]])
    with pytest.raises(services.ScheduleConflict, match="named 'Other'"):
        services.update_schedule_settings(row, user="o", source="api", name="Other")

    assert Schedule.objects.get(pk=row.pk).targets.count() == 2
    assert slot(ahu["Damper_Position"], AT_10) == 42.0
    assert not ConfigAudit.objects.filter(action="schedule_changed").exists()


def test_deleting_a_schedule_relinquishes_its_targets_then_removes_it(ahu):
    row = damper_schedule(ahu)
    written_by_schedule(ahu["Damper_Position"], 42.0)

    refused = services.delete_schedule(row, user="otto", source="api")

    assert refused == []
    assert slot(ahu["Damper_Position"], AT_10) is None
    assert not Schedule.objects.exists()
    audit = ConfigAudit.objects.get(action="schedule_deleted")
    assert (audit.who, audit.before["name"], audit.after) == ("otto", "Dampers", None)
    relinquish = (
        WriteAudit.objects.filter(source="schedule", object_ref="analog-output,1")
        .order_by("id")
        .last()
    )
    assert relinquish is not None
    assert relinquish.new_value is None


def test_targets_are_found_by_id_or_by_type_and_instance(ahu):
    damper = ahu["Damper_Position"]

    assert services.resolve_targets([damper.pk, " analog-output , 1"]) == [damper, damper]
    with pytest.raises(services.UnknownObject, match="analog-output,99"):
        services.resolve_targets(["analog-output,99"])
    with pytest.raises(services.ScheduleError, match="not a virtual object id"):
        services.resolve_targets(["damper"])


def test_a_calendar_is_created_changed_and_deleted_with_audits(db):
    holidays = [{"date": {"year": None, "month": 12, "day": 25, "weekday": None}}]
    row = services.create_calendar(user="otto", name="Holidays", date_list=holidays)

    services.update_calendar(
        row, {"description": "closed", "date_list": []}, user="otto", source="api"
    )
    services.delete_calendar(row, user="otto", source="api")

    assert row.instance == 1
    assert not Calendar.objects.exists()
    actions = ConfigAudit.objects.order_by("id").values_list("action", "who")
    assert list(actions) == [
        ("calendar_created", "otto"),
        ("calendar_changed", "otto"),
        ("calendar_deleted", "otto"),
    ]
    date_list = WriteAudit.objects.get(object_ref="calendar,1")
    assert (date_list.property, date_list.old_value, date_list.new_value) == (
        "date-list",
        holidays,
        [],
    )


def test_a_bad_date_list_is_refused_and_nothing_is_stored(db):
    with pytest.raises(services.ScheduleError, match="unknown calendar entry"):
        services.create_calendar(name="Bad", date_list=[{"someday": {}}])
    row = services.create_calendar(name="Good")
    with pytest.raises(services.ScheduleError, match="month"):
        services.update_calendar(
            row, {"date_list": [{"date": {"month": 15}}]}, user="o", source="api"
        )

    assert list(Calendar.objects.values_list("name", "date_list")) == [("Good", [])]


def test_a_calendar_a_schedule_uses_cannot_be_deleted(db):
    holidays = services.create_calendar(name="Holidays")
    services.create_schedule(
        name="Lights",
        kind="binary",
        exceptions=[{"priority": 1, "calendar": holidays.instance, "times": []}],
    )

    with pytest.raises(services.ScheduleConflict, match="schedule,1 Lights"):
        services.delete_calendar(holidays, user="otto", source="api")

    assert Calendar.objects.filter(pk=holidays.pk).exists()
    assert not ConfigAudit.objects.filter(action="calendar_deleted").exists()
