"""/api/schedules (device 8888's own) and the remote schedule and device-management actions:
operators edit schedules, admins synchronize time, DCC and reinitialize; bad input is a 4xx
that says why and changes nothing; every change is audited."""

from __future__ import annotations

from typing import Any

import pytest

from bms.accounts.models import ApiToken
from bms.devices.models import WriteAudit
from bms.schedules.models import Schedule
from bms.schedules.services import create_schedule
from bms.tasks.models import BACnetTask
from tests.api.test_virtual_api import call

pytestmark = pytest.mark.django_db

WEEK = [[["08:00", "active"], ["18:00", "inactive"]], *([[]] * 6)]
STORED_WEEK = [[["08:00:00", "active"], ["18:00:00", "inactive"]], *([[]] * 6)]


@pytest.fixture
def lights(db: Any) -> Schedule:
    return create_schedule(instance=1, name="Lights", kind="binary", schedule_default="inactive")


@pytest.fixture
def admin_token(admin_user: Any) -> str:
    return ApiToken.issue(admin_user, "tests")[1]


def test_an_operator_changes_a_week_and_it_is_stored_and_audited(client, lights, operator_token):
    response = call(client, "patch", "/api/schedules/1", operator_token, {"weekly": WEEK})

    assert response.status_code == 200, response.content
    assert response.json()["weekly"] == STORED_WEEK
    assert Schedule.objects.get(instance=1).weekly == STORED_WEEK
    audit = WriteAudit.objects.get(object_ref="schedule,1")
    assert (audit.source, audit.who, audit.property) == ("api", "otto", "weekly-schedule")
    assert (audit.old_value, audit.new_value, audit.accepted) == ([[]] * 7, STORED_WEEK, True)


def test_a_malformed_week_is_a_400_that_says_why_and_nothing_changes(
    client, lights, operator_token
):
    backwards = [[["18:00", "active"], ["08:00", "inactive"]], *([[]] * 6)]

    response = call(client, "patch", "/api/schedules/1", operator_token, {"weekly": backwards})

    assert response.status_code == 400
    assert "out of order" in response.json()["detail"]
    assert Schedule.objects.get(instance=1).weekly == [[]] * 7
    refused = WriteAudit.objects.get(object_ref="schedule,1")
    assert (refused.accepted, refused.new_value) == (False, backwards)


def test_viewers_read_schedules_but_cannot_change_them(client, lights, viewer_token):
    assert call(client, "get", "/api/schedules", viewer_token).json()[0]["name"] == "Lights"
    response = call(client, "patch", "/api/schedules/1", viewer_token, {"default": "active"})
    assert response.status_code == 403
    assert call(client, "get", "/api/schedules/99", viewer_token).status_code == 404


def test_a_remote_schedule_write_is_queued_checked_first(client, building, operator_token):
    device = building["device"]
    url = f"/api/devices/{device.pk}/schedules/schedule,1/write"

    queued = call(client, "post", url, operator_token, {"kind": "binary", "weekly": WEEK})
    refused = call(client, "post", url, operator_token, {"weekly": WEEK})  # no kind

    assert queued.status_code == 202, queued.content
    task = BACnetTask.objects.get(id=queued.json()["task_id"])
    assert task.task_type == "write_schedule"
    assert task.parameters["changes"] == {"weekly": WEEK, "kind": "binary"}
    assert (task.parameters["user"], task.parameters["source"]) == ("otto", "api")
    assert refused.status_code == 400
    assert "kind" in refused.json()["detail"]
    assert BACnetTask.objects.filter(task_type="write_schedule").count() == 1


def test_a_remote_read_of_something_not_a_schedule_is_refused(client, building, operator_token):
    url = f"/api/devices/{building['device'].pk}/schedules/analog-input,1/read"

    response = call(client, "post", url, operator_token)

    assert response.status_code == 400
    assert "neither a schedule nor a calendar" in response.json()["detail"]


def test_device_management_needs_an_admin_and_hides_the_password(
    client, building, operator_token, admin_token
):
    url = f"/api/devices/{building['device'].pk}/communication-control"
    body = {"state": "disable", "minutes": 5, "password": "pw-123"}

    assert call(client, "post", url, operator_token, body).status_code == 403
    queued = call(client, "post", url, admin_token, body)

    assert queued.status_code == 202, queued.content
    task_id = queued.json()["task_id"]
    shown = call(client, "get", f"/api/tasks/{task_id}", admin_token).json()
    assert shown["parameters"]["password"] == "(hidden)"
    assert shown["parameters"]["state"] == "disable"


def test_time_sync_to_a_site_or_a_device(client, building, admin_token):
    site = call(client, "post", "/api/sites/default/time-sync", admin_token, {"utc": False})
    device = call(
        client, "post", f"/api/devices/{building['device'].pk}/time-sync", admin_token, {}
    )
    unknown = call(client, "post", "/api/sites/nowhere/time-sync", admin_token, {})

    assert site.status_code == 202, site.content
    assert BACnetTask.objects.get(id=site.json()["task_id"]).parameters["device_ids"] is None
    assert device.status_code == 202
    assert BACnetTask.objects.get(id=device.json()["task_id"]).parameters["utc"] is True
    assert unknown.status_code == 400


def test_reinitialize_refuses_a_state_it_does_not_know(client, building, admin_token):
    url = f"/api/devices/{building['device'].pk}/reinitialize"

    response = call(client, "post", url, admin_token, {"state": "reboot", "password": "x"})

    assert response.status_code == 422
