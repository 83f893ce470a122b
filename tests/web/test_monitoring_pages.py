"""Monitoring on the pages: health and COV/poll counts on the devices page, the monitoring card
of a device and of a point, and its form (operators save, viewers get 403, bad input 400)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bms.devices.models import BACnetDevice, DeviceHealthEvent

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def site_defaults(settings: Any) -> None:
    settings.BACNET_MONITOR_DEFAULT = True
    settings.BACNET_MONITOR_DEFAULT_MODE = "auto"
    settings.BACNET_MONITOR_POLL_SECONDS = 60


@pytest.fixture
def troubled(building: dict[str, Any]) -> BACnetDevice:
    """The building's device: unreachable for two minutes, refusing COV on multi-state values."""
    device: BACnetDevice = building["device"]
    since = timezone.now() - timedelta(minutes=2)
    device.health, device.online = "unreachable", False
    device.health_changed_at, device.health_reason = since, "no answer after 2 attempts"
    device.cov_refused = {"multi-state-value": {"reason": "services/cov-subscription-failed"}}
    device.save()
    DeviceHealthEvent.objects.create(
        device=device, time=since, from_health="online", to_health="unreachable",
        reason="no answer after 2 attempts",
    )  # fmt: skip
    return device


def test_the_devices_page_shows_health_and_what_is_watched_how(
    viewer_client: Client, troubled: BACnetDevice
) -> None:
    page = viewer_client.get(reverse("web:devices")).content.decode()

    assert f'data-health-for="{troubled.id}"' in page
    assert ">unreachable</span>" in page
    assert 'title="no answer after 2 attempts"' in page
    assert "since " in page
    # auto: the AI, AO and BO by COV; the MSV, whose COV the device refuses, polled
    assert "3 COV · 1 poll" in page


def test_the_device_page_shows_settings_counts_refusals_and_health_changes(
    viewer_client: Client, troubled: BACnetDevice
) -> None:
    page = viewer_client.get(reverse("web:device", args=[troubled.id])).content.decode()

    assert 'id="monitoring-card"' in page
    assert "3 by COV · 1 polled" in page
    assert "monitored, mode auto, poll every 60 s" in page
    assert "services/cov-subscription-failed" in page
    assert "online → unreachable" in page
    assert 'id="monitoring-form"' not in page  # a viewer sees no form
    assert "needs the operator role" in page


def test_an_operator_saves_a_devices_monitoring(
    operator_client: Client, troubled: BACnetDevice
) -> None:
    url = reverse("web:device_monitoring", args=[troubled.id])

    response = operator_client.post(
        url, {"monitored": "yes", "mode": "poll", "poll_seconds": "15"}, **JSON
    )

    assert response.status_code == 200, response.content
    troubled.refresh_from_db()
    assert (troubled.monitored, troubled.monitor_mode, troubled.poll_seconds) == (True, "poll", 15)
    page = operator_client.get(reverse("web:device", args=[troubled.id])).content.decode()
    assert "0 by COV · 4 polled" in page
    assert 'value="15"' in page


def test_empty_fields_inherit_again(operator_client: Client, troubled: BACnetDevice) -> None:
    troubled.monitored, troubled.monitor_mode, troubled.poll_seconds = False, "cov", 5
    troubled.save()

    operator_client.post(
        reverse("web:device_monitoring", args=[troubled.id]),
        {"monitored": "", "mode": "", "poll_seconds": ""},
        **JSON,
    )

    troubled.refresh_from_db()
    assert (troubled.monitored, troubled.monitor_mode, troubled.poll_seconds) == (None, "", None)


def test_a_point_overrides_its_device_from_its_page(
    operator_client: Client, building: dict[str, Any]
) -> None:
    ai = building["ai"]

    response = operator_client.post(
        reverse("web:point_monitoring", args=[ai.id]),
        {"monitored": "yes", "mode": "poll", "poll_seconds": "2"},
        **JSON,
    )

    assert response.status_code == 200, response.content
    page = operator_client.get(reverse("web:point", args=[ai.id])).content.decode()
    assert "polling every 2 s" in page
    assert "inherit (auto)" in page  # what an empty mode would mean: the device's


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"mode": "sometimes"}, "Select a valid choice"),
        ({"poll_seconds": "0"}, "greater than or equal to 1"),
        ({"poll_seconds": "999999999"}, "less than or equal to 604800"),
        ({"monitored": "maybe"}, "Select a valid choice"),
    ],
)
def test_bad_settings_are_a_400_with_the_reason_and_change_nothing(
    operator_client: Client, building: dict[str, Any], data: dict[str, str], reason: str
) -> None:
    ao = building["ao"]

    response = operator_client.post(reverse("web:point_monitoring", args=[ao.id]), data, **JSON)

    assert response.status_code == 400
    assert reason in response.json()["error"]
    ao.refresh_from_db()
    assert (ao.monitored, ao.monitor_mode, ao.poll_seconds) == (None, "", None)


def test_viewers_cannot_change_monitoring(
    viewer_client: Client, troubled: BACnetDevice, building: dict[str, Any]
) -> None:
    posts = [
        (reverse("web:device_monitoring", args=[troubled.id]), {"monitored": "no"}),
        (reverse("web:point_monitoring", args=[building["ai"].id]), {"monitored": "no"}),
        (reverse("web:device_forget_cov", args=[troubled.id]), {}),
    ]
    for url, data in posts:
        assert viewer_client.post(url, data, **JSON).status_code == 403, url
    troubled.refresh_from_db()
    assert troubled.monitored is None
    assert troubled.cov_refused


def test_try_cov_again_forgets_the_refusals(
    operator_client: Client, troubled: BACnetDevice
) -> None:
    response = operator_client.post(reverse("web:device_forget_cov", args=[troubled.id]), **JSON)

    assert response.status_code == 200
    troubled.refresh_from_db()
    assert troubled.cov_refused == {}
