"""What the worker saw a device do (learned_*), on its page and in the API's device detail."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from django.utils import timezone

from bms.devices.models import BACnetDevice


def seen(device: BACnetDevice) -> None:
    BACnetDevice.objects.filter(pk=device.pk).update(
        learned_rpm=False,
        learned_segmentation=False,
        learned_max_apdu=480,
        learned_at=timezone.now(),
    )


def test_the_device_page_says_what_the_device_was_seen_to_do(viewer_client, building):
    device = building["device"]
    page = reverse("web:device", args=[device.id])
    assert b'id="learned-capabilities"' not in viewer_client.get(page).content  # nothing seen

    seen(device)

    html = viewer_client.get(page).content.decode()
    assert "<dt>Seen to</dt>" in html
    assert "no RPM / no segmentation / max APDU 480</dd>" in html


def test_the_apis_device_detail_has_what_the_device_was_seen_to_do(viewer_client, building):
    device: Any = building["device"]
    before = json.loads(viewer_client.get(f"/api/devices/{device.id}").content)
    seen(device)

    after = json.loads(viewer_client.get(f"/api/devices/{device.id}").content)

    learned = ("learned_rpm", "learned_segmentation", "learned_max_apdu")
    assert [before[field] for field in (*learned, "learned_at")] == [None] * 4
    assert [after[field] for field in learned] == [False, False, 480]
    assert after["learned_at"]
