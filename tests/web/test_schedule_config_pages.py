"""Schedules and calendars of device 8888 created, changed and deleted from the pages, through
Django's test client: what is posted is stored through bms.schedules.services, what they or
the forms refuse is shown on the page with status 400 and nothing is stored, viewers see no
forms and get 403 on a post."""

from __future__ import annotations

from typing import Any

import pytest

from bms.bacnet.errors import InvalidValueError
from bms.schedules.models import Calendar, Schedule
from bms.schedules.services import create_calendar, create_schedule
from bms.virtual.models import VirtualObject
from bms.web.schedule_forms import entry_of, line_of

pytestmark = pytest.mark.django_db


def first(object_type: str) -> VirtualObject:
    return VirtualObject.objects.filter(object_type=object_type).order_by("instance").first()


@pytest.fixture
def damper(building: dict[str, Any]) -> VirtualObject:
    return first("analog-output")


@pytest.fixture
def lights(building: dict[str, Any]) -> Schedule:
    return create_schedule(
        [first("analog-output")], instance=3, name="Lights", kind="analog", priority_for_writing=12
    )


def test_a_new_schedule_is_stored_with_its_targets_and_opens_its_page(operator_client, damper):
    response = operator_client.post(
        "/schedules/new/",
        {
            "name": "Damper day",
            "kind": "analog",
            "priority_for_writing": "10",
            "schedule_default": "20",
            "targets": [str(damper.pk)],
        },
    )

    row = Schedule.objects.get(name="Damper day")
    assert response.status_code == 302
    assert response["Location"] == f"/schedules/{row.instance}/"
    assert (row.instance, row.priority_for_writing, row.schedule_default) == (1, 10, 20.0)
    assert list(row.targets.all()) == [damper]


def test_the_list_offers_the_next_free_instance_and_the_targets_with_their_kind(
    operator_client, lights
):
    page = operator_client.get("/schedules/").content.decode()

    assert 'placeholder="1"' in page
    assert "— binary" in page
    assert "— multistate" in page
    assert 'id="schedule-create"' in page
    assert 'id="calendar-create"' in page


def test_a_target_of_another_kind_is_refused_with_the_reason_and_nothing_stored(
    operator_client, building
):
    fan = first("binary-value")
    response = operator_client.post(
        "/schedules/new/",
        {"name": "Bad", "kind": "analog", "priority_for_writing": "16", "targets": [fan.pk]},
    )

    assert response.status_code == 400
    assert "is not analog" in response.content.decode()
    assert not Schedule.objects.exists()


def test_a_default_not_of_the_kind_is_a_form_error(operator_client, building):
    response = operator_client.post(
        "/schedules/new/",
        {"name": "Bad", "kind": "analog", "priority_for_writing": "16", "schedule_default": "on"},
    )

    assert response.status_code == 400
    assert "is not a analog value" in response.content.decode()
    assert not Schedule.objects.exists()


def test_a_taken_name_or_priority_out_of_range_is_refused(operator_client, lights):
    taken = operator_client.post(
        "/schedules/new/", {"name": "Lights", "kind": "binary", "priority_for_writing": "16"}
    )
    priority = operator_client.post(
        "/schedules/new/", {"name": "Other", "kind": "binary", "priority_for_writing": "17"}
    )

    assert taken.status_code == 400
    assert "Lights" in taken.content.decode()
    assert priority.status_code == 400
    assert "less than or equal to 16" in priority.content.decode()
    assert Schedule.objects.count() == 1


def test_the_settings_are_saved(operator_client, lights):
    valve = VirtualObject.objects.filter(object_type="analog-value").first()
    response = operator_client.post(
        "/schedules/3/settings/",
        {
            "name": "Lights east",
            "description": "east wing",
            "priority_for_writing": "9",
            "targets": [valve.pk],
        },
    )

    row = Schedule.objects.get(pk=lights.pk)
    assert response.status_code == 302
    assert (row.name, row.description, row.priority_for_writing) == ("Lights east", "east wing", 9)
    assert list(row.targets.all()) == [valve]


def test_settings_refused_are_shown_on_the_schedule_page_and_nothing_changes(
    operator_client, lights
):
    fan = first("binary-value")
    response = operator_client.post(
        "/schedules/3/settings/",
        {"name": "Renamed", "priority_for_writing": "9", "targets": [fan.pk]},
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "is not analog" in page
    assert 'id="week-form"' in page
    row = Schedule.objects.get(pk=lights.pk)
    assert (row.name, row.priority_for_writing) == ("Lights", 12)
    assert list(row.targets.all()) == [first("analog-output")]


def test_delete_says_what_it_does_and_removes_the_schedule(operator_client, lights):
    page = operator_client.get("/schedules/3/").content.decode()
    response = operator_client.post("/schedules/3/delete/", follow=True)

    assert "relinquishes its targets at its priority (12)" in page
    assert response.status_code == 200
    assert "relinquished at priority 12" in response.content.decode()
    assert not Schedule.objects.exists()


def test_a_calendar_is_created_from_lines_and_edited(operator_client, db):
    created = operator_client.post(
        "/schedules/calendars/new/",
        {
            "name": "Holidays",
            "date_list": "2026-12-25\n\n2026-12-24..2026-12-26\n*-01-01\nweek-n-day * * 6",
        },
    )

    row = Calendar.objects.get(name="Holidays")
    assert created.status_code == 302
    assert row.instance == 1
    assert row.date_list[1] == {"range": {"start": "2026-12-24", "end": "2026-12-26"}}
    assert row.date_list[2]["date"] == {"year": None, "month": 1, "day": 1, "weekday": None}
    assert "week-n-day * * 6" in operator_client.get("/schedules/calendars/1/").content.decode()

    edited = operator_client.post(
        "/schedules/calendars/1/", {"name": "Closed", "date_list": "2027-01-01"}
    )

    row.refresh_from_db()
    assert edited.status_code == 302
    assert (row.name, len(row.date_list)) == ("Closed", 1)


def test_a_bad_date_line_names_its_line_and_nothing_is_stored(operator_client, db):
    create_calendar(instance=4, name="Kept", date_list=[])

    created = operator_client.post(
        "/schedules/calendars/new/", {"name": "X", "date_list": "2026-12-25\n2026-02-30"}
    )
    edited = operator_client.post(
        "/schedules/calendars/4/", {"name": "Kept", "date_list": "week-n-day 13 1"}
    )

    assert created.status_code == 400
    assert "line 2" in created.content.decode()
    assert "no date 2026-02-30" in created.content.decode()
    assert edited.status_code == 400
    assert "MONTH WEEK WEEKDAY" in edited.content.decode()
    assert list(Calendar.objects.values_list("name", "date_list")) == [("Kept", [])]


def test_a_calendar_a_schedule_uses_cannot_be_deleted(operator_client, building):
    create_calendar(instance=2, name="Holidays", date_list=[])
    create_schedule(
        name="Heat",
        kind="analog",
        exceptions=[{"priority": 1, "times": [["00:00", None]], "calendar": 2}],
    )

    refused = operator_client.post("/schedules/calendars/2/delete/")
    assert refused.status_code == 400
    assert "remove those exceptions first" in refused.content.decode()
    assert Calendar.objects.count() == 1

    Schedule.objects.all().delete()
    assert operator_client.post("/schedules/calendars/2/delete/").status_code == 302
    assert not Calendar.objects.exists()


def test_viewers_see_no_forms_and_cannot_post(viewer_client, lights):
    create_calendar(instance=1, name="Holidays", date_list=[])
    pages = [viewer_client.get(url).content.decode() for url in ("/schedules/", "/schedules/3/")]
    calendar_page = viewer_client.get("/schedules/calendars/1/").content.decode()

    assert "Holidays" in pages[0]
    assert all("schedule-create" not in p and "schedule-settings" not in p for p in pages)
    assert "schedule-delete" not in pages[1]
    assert "calendar-delete" not in calendar_page
    assert 'id="calendar-dates"' in calendar_page
    for url in (
        "/schedules/new/",
        "/schedules/3/settings/",
        "/schedules/3/delete/",
        "/schedules/calendars/new/",
        "/schedules/calendars/1/",
        "/schedules/calendars/1/delete/",
    ):
        assert viewer_client.post(url, {"name": "x"}).status_code == 403, url
    assert Schedule.objects.get(pk=lights.pk).name == "Lights"


@pytest.mark.parametrize(
    "line",
    [
        "2026-12-25",
        "*-12-*",
        "*-*-* 1",
        "2026-12-24..2026-12-26",
        "..2027-01-01",
        "week-n-day 12 6 *",
    ],
)
def test_a_date_line_reads_back_as_itself(line):
    assert line_of(entry_of(line)) == line


@pytest.mark.parametrize(
    "line",
    ["2026-12", "2026-²-01", "0-01-01", "2026-12-26..2026-12-24", "a..b", "week-n-day 1 2", "x"],
)
def test_a_line_that_is_no_date_is_refused_with_a_reason(line):
    with pytest.raises(InvalidValueError):
        entry_of(line)
