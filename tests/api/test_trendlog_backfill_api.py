"""A remote trend log read back into history over the API (POST /api/points/{id}/backfill in
bms.api.history): an operator queues the backfill_trendlog task the trend log's page queues,
through the same service, named as who asked; a point that is not a trend log (or logs nothing)
is a 400, an unknown point a 404, a viewer a 403, and nothing is queued then."""

from __future__ import annotations

from typing import Any

import pytest

from bms.devices.models import BACnetPoint
from bms.tasks.models import BACnetTask
from tests.api.test_virtual_api import call

pytestmark = pytest.mark.django_db


def trend_log(building: dict[str, Any], logged: BACnetPoint | None) -> BACnetPoint:
    """A remote trend log of the building's device, as a collect or read_points stores it."""
    return BACnetPoint.objects.create(
        device=building["ai"].device,
        object_type="trend-log",
        instance=1 if logged else 2,
        name="Zone_Temp_Log",
        logged_point=logged,
    )


def backfills() -> list[BACnetTask]:
    return list(BACnetTask.objects.filter(task_type="backfill_trendlog"))


def test_an_operator_queues_a_trend_logs_backfill_named_as_who_asked(
    client, operator_token, building
):
    log = trend_log(building, logged=building["ai"])
    answer = call(client, "post", f"/api/points/{log.pk}/backfill", operator_token)
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["status"] == "pending"
    assert body["status_url"] == f"/api/task-status/{body['task_id']}/"
    [task] = backfills()
    assert task.id == body["task_id"]
    # As the trend log's page queues it (tests/web/test_point_page.py).
    assert task.parameters == {"device_id": 1001, "object": 1, "user": "otto"}


@pytest.mark.parametrize(
    ("which", "status", "reason"),
    [
        ("ai", 400, "analog-input,1 is not a trend log"),
        ("log of nothing", 400, "logs no point of its device"),
        ("unknown", 404, "no point with id 999999"),
    ],
)
def test_a_point_that_cannot_be_backfilled_is_a_4xx_with_the_reason(
    client, operator_token, building, which, status, reason
):
    pk = {
        "ai": building["ai"].pk,
        "log of nothing": trend_log(building, logged=None).pk,
        "unknown": 999999,
    }[which]
    answer = call(client, "post", f"/api/points/{pk}/backfill", operator_token)
    assert answer.status_code == status, answer.content
    assert reason in answer.json()["detail"]
    assert backfills() == []


def test_a_viewer_cannot_queue_a_backfill_and_anonymous_is_401(client, viewer_token, building):
    log = trend_log(building, logged=building["ai"])
    answer = call(client, "post", f"/api/points/{log.pk}/backfill", viewer_token)
    assert answer.status_code == 403
    assert "operator" in answer.json()["detail"]
    assert client.post(f"/api/points/{log.pk}/backfill").status_code == 401
    assert backfills() == []
