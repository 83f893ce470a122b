"""POST/PATCH/DELETE /api/schedules and /api/calendars: operators create, configure and delete
device 8888's schedules and calendars; viewers only read; refusals are a 4xx that says why and
store nothing; creations, settings and deletions are in the configuration audit."""

from __future__ import annotations

from typing import Any

import pytest

from bms.devices.models import ConfigAudit, WriteAudit
from bms.schedules.models import Calendar, Schedule
from bms.virtual.commands import command_virtual_object
from bms.virtual.models import VirtualObject
from bms.virtual.services import create_virtual_device
from tests.api.test_virtual_api import call

pytestmark = pytest.mark.django_db

WEEK = [[["08:00", 42]], *([[]] * 6)]
CHRISTMAS = [{"date": {"year": None, "month": 12, "day": 25, "weekday": None}}]


@pytest.fixture
def ahu(db: Any) -> dict[str, VirtualObject]:
    device = create_virtual_device(2001, "AHU", template="air_handling_unit")
    return {o.name: o for o in device.virtual_objects.all()}


def ref(obj: VirtualObject) -> str:
    return f"{obj.object_type},{obj.instance}"


def new_schedule(client: Any, token: str, **body: Any) -> Any:
    return call(
        client, "post", "/api/schedules", token, {"name": "Dampers", "kind": "analog"} | body
    )


def test_an_operator_creates_a_schedule_at_the_next_free_instance(client, ahu, operator_token):
    damper = ahu["Damper_Position"]

    response = new_schedule(
        client, operator_token, weekly=WEEK, targets=[ref(damper)], priority_for_writing=10
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["instance"], body["weekly"][0], body["priority_for_writing"]) == (
        1,
        [["08:00:00", 42]],
        10,
    )
    assert body["targets"] == [str(damper)]
    audit = ConfigAudit.objects.get(action="schedule_created")
    assert (audit.who, audit.target) == ("otto", "schedule,1 Dampers")
    by_id = new_schedule(client, operator_token, name="Valves", targets=[ahu["Valve_Position"].pk])
    assert (by_id.status_code, by_id.json()["instance"]) == (201, 2)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"weekly": [[["08:00", 150]], *([[]] * 6)]}, 400, "150"),
        ({"kind": "binary"}, 400, "is not binary"),
        ({"targets": ["analog-output,99"]}, 404, "no virtual object analog-output,99"),
        ({"targets": ["damper"]}, 400, "not a virtual object id"),
        ({"name": "Taken"}, 409, "named 'Taken'"),
        ({"instance": 7}, 409, "schedule 7 already exists"),
    ],
)
def test_a_refused_creation_says_why_and_stores_nothing(
    client, ahu, operator_token, body, status, reason
):
    assert new_schedule(client, operator_token, name="Taken", instance=7).status_code == 201

    fields = {"targets": [ref(ahu["Damper_Position"])], "priority_for_writing": 10} | body

    response = new_schedule(client, operator_token, **fields)

    assert response.status_code == status, response.content
    assert reason in response.json()["detail"]
    assert list(Schedule.objects.values_list("name", flat=True)) == ["Taken"]


def test_a_body_that_does_not_fit_the_schema_is_a_422(client, db, operator_token):
    response = new_schedule(client, operator_token, kind="tepid", priority_for_writing=0)

    assert response.status_code == 422
    assert "kind" in response.json()["message"]
    assert not Schedule.objects.exists()


def test_a_patch_changes_settings_and_relinquishes_a_dropped_target(client, ahu, operator_token):
    damper, valve = ahu["Damper_Position"], ahu["Valve_Position"]
    new_schedule(client, operator_token, targets=[ref(damper), ref(valve)], priority_for_writing=10)
    command_virtual_object(valve, 42.0, 10, user="schedule,1", source="schedule")

    response = call(
        client,
        "patch",
        "/api/schedules/1",
        operator_token,
        {"name": "Damper", "targets": [ref(damper)], "weekly": WEEK},
    )

    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["targets"]) == ("Damper", [str(damper)])
    valve.refresh_from_db()
    assert valve.priority_array is not None
    assert valve.priority_array[9] is None
    assert ConfigAudit.objects.filter(action="schedule_changed", who="otto").exists()
    assert WriteAudit.objects.filter(object_ref="schedule,1", property="weekly-schedule").exists()


def test_a_refused_patch_changes_nothing(client, ahu, operator_token):
    new_schedule(client, operator_token, targets=[ref(ahu["Damper_Position"])])
    new_schedule(client, operator_token, name="Other")

    taken = call(client, "patch", "/api/schedules/1", operator_token, {"name": "Other"})
    wrong_kind = call(
        client, "patch", "/api/schedules/1", operator_token, {"targets": [ref(ahu["Enable"])]}
    )
    bad_week = call(
        client,
        "patch",
        "/api/schedules/1",
        operator_token,
        {"name": "Renamed", "weekly": [[["08:00", 150]], *([[]] * 6)]},
    )
    null_name = call(client, "patch", "/api/schedules/1", operator_token, {"name": None})

    assert (taken.status_code, wrong_kind.status_code, bad_week.status_code) == (409, 400, 400)
    assert "is not analog" in wrong_kind.json()["detail"]
    assert null_name.status_code == 422
    row = Schedule.objects.get(instance=1)
    assert (row.name, row.weekly, row.targets.count()) == ("Dampers", [[]] * 7, 1)


def test_deleting_a_schedule_relinquishes_and_removes_it(client, ahu, operator_token):
    damper = ahu["Damper_Position"]
    new_schedule(client, operator_token, targets=[ref(damper)], priority_for_writing=10)
    command_virtual_object(damper, 42.0, 10, user="schedule,1", source="schedule")

    response = call(client, "delete", "/api/schedules/1", operator_token)

    assert response.status_code == 204
    assert not Schedule.objects.exists()
    damper.refresh_from_db()
    assert damper.priority_array is not None
    assert damper.priority_array[9] is None
    assert ConfigAudit.objects.filter(action="schedule_deleted", who="otto").exists()
    assert call(client, "delete", "/api/schedules/1", operator_token).status_code == 404


def test_viewers_read_but_cannot_create_change_or_delete(client, ahu, operator_token, viewer_token):
    new_schedule(client, operator_token)
    call(client, "post", "/api/calendars", operator_token, {"name": "Holidays"})

    refused = [
        new_schedule(client, viewer_token, name="Mine"),
        call(client, "patch", "/api/schedules/1", viewer_token, {"name": "Mine"}),
        call(client, "delete", "/api/schedules/1", viewer_token),
        call(client, "post", "/api/calendars", viewer_token, {"name": "Mine"}),
        call(client, "patch", "/api/calendars/1", viewer_token, {"name": "Mine"}),
        call(client, "delete", "/api/calendars/1", viewer_token),
    ]

    assert [r.status_code for r in refused] == [403] * 6
    assert "operator role" in refused[0].json()["detail"]
    assert call(client, "get", "/api/calendars", viewer_token).json()[0]["name"] == "Holidays"
    assert (Schedule.objects.get().name, Calendar.objects.get().name) == ("Dampers", "Holidays")


def test_calendars_are_created_read_changed_and_deleted(client, db, operator_token):
    created = call(client, "post", "/api/calendars", operator_token, {"name": "Holidays"})
    changed = call(client, "patch", "/api/calendars/1", operator_token, {"date_list": CHRISTMAS})
    read = call(client, "get", "/api/calendars/1", operator_token)
    deleted = call(client, "delete", "/api/calendars/1", operator_token)

    assert (created.status_code, created.json()["instance"]) == (201, 1)
    assert changed.status_code == 200
    assert read.json() == {
        "instance": 1,
        "name": "Holidays",
        "description": "",
        "date_list": CHRISTMAS,
    }
    assert deleted.status_code == 204
    assert call(client, "get", "/api/calendars/1", operator_token).status_code == 404
    actions = set(ConfigAudit.objects.values_list("action", flat=True))
    assert {"calendar_created", "calendar_deleted"} <= actions
    assert WriteAudit.objects.get(object_ref="calendar,1").property == "date-list"


def test_calendar_refusals_say_why(client, db, operator_token):
    call(client, "post", "/api/calendars", operator_token, {"name": "Holidays"})
    new_schedule(
        client,
        operator_token,
        kind="binary",
        exceptions=[{"priority": 1, "calendar": 1, "times": []}],
    )

    bad = call(
        client, "post", "/api/calendars", operator_token, {"name": "X", "date_list": [{"x": {}}]}
    )
    taken = call(client, "post", "/api/calendars", operator_token, {"name": "Holidays"})
    in_use = call(client, "delete", "/api/calendars/1", operator_token)
    empty = call(client, "patch", "/api/calendars/1", operator_token, {})

    assert (bad.status_code, taken.status_code, in_use.status_code) == (400, 409, 409)
    assert "unknown calendar entry" in bad.json()["detail"]
    assert "schedule,1 Dampers" in in_use.json()["detail"]
    assert empty.status_code == 400
    assert call(client, "get", "/api/calendars/2", operator_token).status_code == 404
    assert list(Calendar.objects.values_list("name", flat=True)) == ["Holidays"]
