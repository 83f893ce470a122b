"""The week-grid editor's pages and the device-management page, through Django's test client:
what a form posts is saved and audited as the signed-in user, a bad row is shown as an error
and nothing is saved, roles are checked."""

from __future__ import annotations

from typing import Any

import pytest

from bms.devices.models import WriteAudit
from bms.schedules.models import Schedule
from bms.schedules.services import create_schedule
from bms.tasks.models import BACnetTask
from tests.web.fixtures import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def lights(db: Any) -> Schedule:
    return create_schedule(instance=1, name="Lights", kind="analog", schedule_default=None)


def week_post(monday: list[tuple[str, str]]) -> dict[str, list[str]]:
    post: dict[str, list[str]] = {f"time-{d}": [] for d in range(7)}
    post |= {f"value-{d}": [] for d in range(7)}
    post["time-0"] = [time for time, _value in monday]
    post["value-0"] = [value for _time, value in monday]
    return post


def test_the_grid_shows_the_week_and_its_rows(operator_client, lights):
    Schedule.objects.filter(pk=lights.pk).update(weekly=[[["08:00:00", 21.0]], *([[]] * 6)])

    page = operator_client.get("/schedules/1/").content.decode()

    assert 'name="time-0" value="08:00:00"' in page
    assert 'name="value-0" value="21.0"' in page
    assert "Add entry" in page


def test_a_posted_week_is_saved_and_audited_as_the_operator(operator_client, lights):
    response = operator_client.post("/schedules/1/", week_post([("07:00", "20.5"), ("19:00", "")]))

    assert response.status_code == 302
    assert Schedule.objects.get(pk=lights.pk).weekly[0] == [["07:00:00", 20.5], ["19:00:00", None]]
    audit = WriteAudit.objects.get(object_ref="schedule,1")
    assert (audit.source, audit.who, audit.accepted) == ("operator", "otto", True)


def test_a_bad_row_is_shown_and_nothing_is_saved(operator_client, lights):
    response = operator_client.post("/schedules/1/", week_post([("07:00", "warm")]))

    assert response.status_code == 400
    assert "Monday, row 1" in response.content.decode()
    assert Schedule.objects.get(pk=lights.pk).weekly == [[]] * 7


def test_times_out_of_order_are_refused_with_the_reason(operator_client, lights):
    response = operator_client.post("/schedules/1/", week_post([("19:00", "1"), ("07:00", "2")]))

    assert response.status_code == 400
    assert "out of order" in response.content.decode()


def test_viewers_see_the_grid_but_cannot_save(viewer_client, lights):
    assert "Add entry" not in viewer_client.get("/schedules/1/").content.decode()
    assert viewer_client.post("/schedules/1/", week_post([("07:00", "1")])).status_code == 403


def test_device_management_is_for_admins_and_queues_a_task(operator_client, admin_user, building):
    device = building["device"]
    url = f"/devices/{device.pk}/manage/"
    admin = signed_in(admin_user)

    assert operator_client.get(url).status_code == 403
    response = admin.post(
        url, {"action": "dcc", "state": "disable", "minutes": "2", "password": "pw"}
    )

    assert response.status_code == 302
    task = BACnetTask.objects.get(task_type="manage_device")
    assert (task.parameters["service"], task.parameters["user"]) == ("dcc", "ada")
    no_password = admin.post(url, {"action": "reinitialize", "state": "warmstart"})
    assert no_password.status_code == 400


def test_a_remote_week_posted_from_the_grid_queues_a_write(operator_client, building):
    device = building["device"]
    post = week_post([("06:00", "active")]) | {"kind": "binary"}

    response = operator_client.post(f"/devices/{device.pk}/schedules/schedule,1/write/", post)

    assert response.status_code == 302
    task = BACnetTask.objects.get(task_type="write_schedule")
    assert task.parameters["changes"]["weekly"][0] == [["06:00", "active"]]


def test_the_device_page_opens_a_remote_schedule_and_shows_admins_the_actions(
    operator_client, admin_user, building
):
    device = building["device"]

    opened = operator_client.get(f"/devices/{device.pk}/schedules/", {"object": "schedule,2"})
    bad = operator_client.get(f"/devices/{device.pk}/schedules/", {"object": "analog-input,1"})

    assert opened.status_code == 302
    assert opened["Location"] == f"/devices/{device.pk}/schedules/schedule,2/"
    assert bad.status_code == 400
    assert "Not read yet" in operator_client.get(opened["Location"]).content.decode()
    assert "manage-device" not in operator_client.get(f"/devices/{device.pk}/").content.decode()
    admin_page = signed_in(admin_user).get(f"/devices/{device.pk}/").content.decode()
    assert "manage-device" in admin_page
