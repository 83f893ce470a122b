"""The point page's property browser: the last read of every property, the priority array with
the level in control, the commanding properties and the write form; "Read all properties"
queues a read_object task and never waits on BACnet."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from bms.devices.models import BACnetPoint
from bms.tasks.models import BACnetTask

pytestmark = pytest.mark.django_db

READ_AO = {
    "object-identifier": "analog-output,1",
    "object-name": "Damper",
    "present-value": 55.0,
    "priority-array": [None] * 7 + [55.0] + [None] * 7 + [20.0],
    "relinquish-default": 0.0,
    "out-of-service": False,
    "min-pres-value": 0.0,
    "max-pres-value": 100.0,
    "status-flags": [False, False, False, False],
}


def read(point, values=READ_AO, errors=None):
    point.properties = values
    point.property_errors = errors or {}
    point.properties_read_at = timezone.now()
    point.save()


def test_a_read_point_shows_every_property_and_its_priority_array(operator_client, building):
    ao = building["ao"]
    read(ao, errors={"time-delay": "property error property/read-access-denied"})
    html = operator_client.get(reverse("web:point", args=[ao.id])).content.decode()
    for name in READ_AO:
        assert f'data-property="{name}"' in html, name
    assert "read-access-denied" in html
    # Level 8 holds 55 and is in control; 16 holds 20; the others are NULL.
    assert '<tr class="wins" data-level="8">' in html
    assert 'data-level="16"><td class="num">16</td><td class="num">20.00' in html
    assert html.count("in control") == 1
    assert 'data-property="Relinquish default">0</dd>' in html
    assert 'data-property="Maximum">100</dd>' in html
    assert 'data-property="Out of service">false</dd>' in html
    assert 'id="point-write"' in html
    assert 'id="read-all"' in html
    assert 'name="priority" min="1" max="16" value="16"' in html  # BACNET_DEFAULT_WRITE_PRIORITY


def test_an_unread_point_says_so_and_viewers_get_no_forms(viewer_client, building):
    html = viewer_client.get(reverse("web:point", args=[building["ao"].id])).content.decode()
    assert "never read" in html
    assert 'id="point-write"' not in html
    assert 'id="read-all"' not in html
    assert 'id="priority-array"' not in html


def test_read_all_properties_queues_a_read_object_task_for_the_object(operator_client, building):
    ao = building["ao"]
    response = operator_client.post(
        reverse("web:point_read_all", args=[ao.id]), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 202
    task = BACnetTask.objects.get(id=response.json()["task_id"])
    assert task.task_type == "read_object"
    assert task.parameters == {"device_id": 1001, "object": "analog-output,1", "user": "otto"}
    html = operator_client.get(reverse("web:point", args=[ao.id])).content.decode()
    assert f'task <a href="{reverse("web:task", args=[task.id])}">{task.id}</a>, pending' in html


def test_a_failed_read_says_why_on_the_page(operator_client, building):
    ao = building["ao"]
    operator_client.post(reverse("web:point_read_all", args=[ao.id]))
    BACnetTask.objects.filter(task_type="read_object").update(
        status="failed", error_message="BACnetTimeoutError: no answer"
    )
    html = operator_client.get(reverse("web:point", args=[ao.id])).content.decode()
    assert "The last read failed: BACnetTimeoutError: no answer" in html


def test_viewers_cannot_queue_a_read(viewer_client, building):
    response = viewer_client.post(reverse("web:point_read_all", args=[building["ao"].id]))
    assert response.status_code == 403
    assert not BACnetTask.objects.filter(task_type="read_object").exists()


def trend_log(building: dict[str, Any]) -> BACnetPoint:
    """A remote trend log of the building's AI, as a collect or read_points stores it."""
    ai = building["ai"]
    return BACnetPoint.objects.create(
        device=ai.device,
        object_type="trend-log",
        instance=1,
        name="Zone_Temp_Log",
        logged_point=ai,
        properties={"buffer-size": 1000, "record-count": 12, "log-interval": 6000},
    )


def test_a_trend_log_page_names_what_it_logs_and_queues_its_backfill(operator_client, building):
    log = trend_log(building)
    html = operator_client.get(reverse("web:point", args=[log.id])).content.decode()
    assert 'id="backfill"' in html
    assert "Logs <a" in html
    assert "buffer-size" in html
    response = operator_client.post(
        reverse("web:point_backfill", args=[log.id]), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 202
    task = BACnetTask.objects.get(id=response.json()["task_id"])
    assert task.task_type == "backfill_trendlog"
    assert task.parameters == {"device_id": 1001, "object": 1, "user": "otto"}


def test_only_a_trend_log_is_backfilled_and_not_by_viewers(
    operator_client, viewer_client, building
):
    response = operator_client.post(reverse("web:point_backfill", args=[building["ai"].id]))
    assert response.status_code == 400
    log = trend_log(building)
    assert viewer_client.post(reverse("web:point_backfill", args=[log.id])).status_code == 403
    assert not BACnetTask.objects.filter(task_type="backfill_trendlog").exists()
