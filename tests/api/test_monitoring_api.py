"""Monitoring settings through the API: read with effective values and counts, changed by
operators only, inherited again with null, and refused values answered 4xx with nothing saved."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bms.devices.models import BACnetDevice, BACnetPoint, DeviceHealthEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site_defaults(settings: Any) -> None:
    settings.BACNET_MONITOR_DEFAULT = False
    settings.BACNET_MONITOR_DEFAULT_MODE = "auto"
    settings.BACNET_MONITOR_POLL_SECONDS = 60


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def patch(client: Client, url: str, body: object, token: str) -> Any:
    return client.patch(url, json.dumps(body), content_type="application/json", **bearer(token))


def test_a_device_reads_its_own_and_effective_settings_and_health(
    client: Client, building: dict[str, Any], viewer_token: str
) -> None:
    device = building["device"]
    device.cov_refused = {"multi-state-value": {"reason": "refused", "at": "2026-12-06T10:00:00"}}
    device.health, device.health_reason = "unreachable", "no answer after 2 attempts"
    device.save()

    body = client.get(f"/api/devices/{device.id}/monitoring", **bearer(viewer_token)).json()

    assert body["own"] == {"monitored": None, "mode": "", "poll_seconds": None}
    assert body["effective"] == {"monitored": False, "mode": "auto", "poll_seconds": 60}
    assert body["points"] == {"cov": 0, "poll": 0, "unwatched": 0}
    assert body["health"] == "unreachable"
    assert body["health_reason"] == "no answer after 2 attempts"
    assert "multi-state-value" in body["cov_refused"]


def test_an_operator_monitors_a_device_and_its_points_follow(
    client: Client, building: dict[str, Any], operator_token: str
) -> None:
    device = building["device"]
    device.cov_refused = {"multi-state-value": {"reason": "refused", "at": "2026-12-06T10:00:00"}}
    device.save()

    response = patch(
        client,
        f"/api/devices/{device.id}/monitoring",
        {"monitored": True, "mode": "auto", "poll_seconds": 30},
        operator_token,
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["own"] == {"monitored": True, "mode": "auto", "poll_seconds": 30}
    # auto: COV, and the multi-state value the device refuses COV for is polled
    assert body["points"] == {"cov": 3, "poll": 1, "unwatched": 0}
    device.refresh_from_db()
    assert (device.monitored, device.monitor_mode, device.poll_seconds) == (True, "auto", 30)
    point = client.get(
        f"/api/points/{building['msv'].id}/monitoring", **bearer(operator_token)
    ).json()
    assert point["effective"] == {"monitored": True, "mode": "auto", "poll_seconds": 30}
    assert point["watched_by"] == "poll"


def test_a_point_overrides_its_device_and_null_inherits_again(
    client: Client, building: dict[str, Any], operator_token: str
) -> None:
    ai = building["ai"]
    url = f"/api/points/{ai.id}/monitoring"

    changed = patch(
        client, url, {"monitored": True, "mode": "poll", "poll_seconds": 5}, operator_token
    )
    partly = patch(client, url, {"poll_seconds": None}, operator_token)
    back = patch(client, url, {"monitored": None, "mode": None}, operator_token)

    assert changed.json()["watched_by"] == "poll"
    assert changed.json()["effective"]["poll_seconds"] == 5
    assert partly.json()["own"] == {"monitored": True, "mode": "poll", "poll_seconds": None}
    assert partly.json()["effective"]["poll_seconds"] == 60  # the site's default
    assert back.json()["own"] == {"monitored": None, "mode": "", "poll_seconds": None}
    assert back.json()["watched_by"] is None  # the site does not monitor by default
    ai.refresh_from_db()
    assert (ai.monitored, ai.monitor_mode, ai.poll_seconds) == (None, "", None)


def test_viewers_cannot_change_monitoring(
    client: Client, building: dict[str, Any], viewer_token: str
) -> None:
    device = building["device"]

    response = patch(
        client, f"/api/devices/{device.id}/monitoring", {"monitored": True}, viewer_token
    )

    assert response.status_code == 403
    device.refresh_from_db()
    assert device.monitored is None


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"mode": "never"}, 400, "mode must be one of cov, poll, auto"),
        ({"poll_seconds": 0}, 422, "poll_seconds"),
        ({"poll_seconds": 10**12}, 422, "poll_seconds"),
        ({"poll_seconds": "5"}, 422, "poll_seconds"),
        ({"monitored": "yes"}, 422, "monitored"),
        ([True], 422, "must be a JSON object"),
    ],
)
def test_refused_settings_are_4xx_with_the_reason_and_change_nothing(
    client: Client,
    building: dict[str, Any],
    operator_token: str,
    body: object,
    status: int,
    words: str,
) -> None:
    point = building["ao"]

    response = patch(client, f"/api/points/{point.id}/monitoring", body, operator_token)

    assert response.status_code == status
    assert words in json.dumps(response.json())
    point.refresh_from_db()
    assert (point.monitored, point.monitor_mode, point.poll_seconds) == (None, "", None)


def test_unknown_devices_and_points_are_404(client: Client, db: Any, operator_token: str) -> None:
    for url in ("/api/devices/999/monitoring", "/api/points/999/monitoring"):
        assert client.get(url, **bearer(operator_token)).status_code == 404
        assert patch(client, url, {"monitored": True}, operator_token).status_code == 404
    assert not BACnetDevice.objects.exists()
    assert not BACnetPoint.objects.exists()


def test_health_events_come_newest_first(
    client: Client, building: dict[str, Any], viewer_token: str
) -> None:
    device = building["device"]
    now = timezone.now()
    DeviceHealthEvent.objects.create(
        device=device, time=now - timedelta(minutes=5), from_health="online",
        to_health="unreachable", reason="no answer after 2 attempts",
    )  # fmt: skip
    DeviceHealthEvent.objects.create(
        device=device, time=now, from_health="unreachable", to_health="online", reason="answered"
    )

    events = client.get(f"/api/devices/{device.id}/health-events", **bearer(viewer_token)).json()

    assert [(e["from_health"], e["to_health"]) for e in events] == [
        ("unreachable", "online"),
        ("online", "unreachable"),
    ]
    assert events[1]["reason"] == "no answer after 2 attempts"
