"""What a virtual object's open trend page hears of commands (group `virtual_devices`): the
`virtual_object` event of an operator's, an API user's or a relinquishing command carries the
reading the command stored, once it commits; other changes to the object carry none."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.test import Client
from django.urls import reverse

from bms.devices.models import BACnetReading
from bms.virtual.commands import command_virtual_object
from bms.virtual.models import VirtualObject
from tests.realtime.test_consumers import LIVE_SECONDS, connected
from tests.web.fixtures import signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def damper() -> VirtualObject:
    return VirtualObject.objects.select_related("device").get(name="Damper_Position")


def stored_reading(obj: VirtualObject) -> dict[str, Any]:
    """The object's newest reading as the readings API lists it."""
    reading = BACnetReading.objects.filter(virtual_object=obj).latest("id")
    return {
        "value": reading.value,
        "timestamp": reading.timestamp.isoformat(),
        "source": reading.source,
    }


def api(token: str, path: str, body: dict[str, Any], method: str = "post") -> None:
    response = getattr(Client(), method)(
        path,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content


async def next_object_event(page: Any) -> dict[str, Any]:
    message = await page.receive_json_from(timeout=LIVE_SECONDS)
    assert message["type"] == "virtual_object"
    return message


async def test_an_operators_command_carries_its_reading_once_committed(viewer, building):
    page = await connected(viewer, "/ws/live/?groups=virtual_devices")
    obj = await sync_to_async(damper)()

    def commanded_then_rolled_back() -> None:
        with transaction.atomic():
            command_virtual_object(obj, 12.5, 8, user="otto")
            transaction.set_rollback(True)

    await sync_to_async(commanded_then_rolled_back)()
    assert await page.receive_nothing(timeout=0.4)  # never stored, never on a trend
    await sync_to_async(command_virtual_object)(obj, 42.5, 8, user="otto")
    message = await next_object_event(page)
    stored = await sync_to_async(stored_reading)(obj)
    assert message["reading"] == stored
    assert (stored["value"], stored["source"]) == (42.5, "operator_write")
    assert message["object"]["id"] == obj.id
    assert message["object"]["present_value"] == 42.5
    await page.disconnect()


async def test_a_command_from_the_web_page_carries_its_reading(viewer, operator, building):
    page = await connected(viewer, "/ws/live/?groups=virtual_devices")
    obj = await sync_to_async(damper)()

    def post_form() -> None:
        response = signed_in(operator).post(
            reverse("web:virtual_command", args=[obj.pk]),
            {"value": "61", "priority": "8"},
            HTTP_ACCEPT="application/json",
        )
        assert response.status_code == 200, response.content

    await sync_to_async(post_form)()
    message = await next_object_event(page)
    assert message["reading"] == await sync_to_async(stored_reading)(obj)
    assert message["reading"]["value"] == 61.0
    await page.disconnect()


async def test_an_api_command_and_its_relinquish_carry_their_readings(
    viewer, operator_token, building
):
    page = await connected(viewer, "/ws/live/?groups=virtual_devices")
    obj = await sync_to_async(damper)()
    path = f"/api/virtual-objects/{obj.pk}/command"
    await sync_to_async(api)(operator_token, path, {"value": 70, "priority": 8})
    commanded = await next_object_event(page)
    assert commanded["reading"]["value"] == 70.0
    await sync_to_async(api)(operator_token, path, {"relinquish": True, "priority": 8})
    relinquished = await next_object_event(page)
    assert relinquished["reading"] == await sync_to_async(stored_reading)(obj)
    # Nothing else commands the damper: it falls back to its relinquish default.
    assert relinquished["reading"]["value"] == obj.relinquish_default
    assert relinquished["reading"]["timestamp"] > commanded["reading"]["timestamp"]
    await page.disconnect()


async def test_a_definition_change_carries_no_reading(viewer, operator_token, building):
    page = await connected(viewer, "/ws/live/?groups=virtual_devices")
    obj = await sync_to_async(damper)()
    await sync_to_async(api)(
        operator_token, f"/api/virtual-objects/{obj.pk}", {"description": "renamed"}, method="patch"
    )
    message = await next_object_event(page)
    assert "reading" not in message
    assert not await sync_to_async(BACnetReading.objects.filter(virtual_object=obj).exists)()
    await page.disconnect()
