"""Websockets through the real ASGI application (session auth, origin check) on the embedded
default's database channel layer, fed by the publish API."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from bms.asgi import application
from bms.realtime import publish
from bms.tasks import queue
from bms.virtual.models import VirtualObject

pytestmark = pytest.mark.django_db(transaction=True)
# Bounds a wait for a message due at once (the database layer's poller, 75 ms): each wait returns
# as soon as the message is there; the bound is for a loaded machine.
LIVE_SECONDS = 10
ORIGIN = (b"origin", b"http://127.0.0.1")


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def connected(user, path: str) -> WebsocketCommunicator:
    cookie = await sync_to_async(session_cookie)(user)
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, cookie])
    ok, code = await communicator.connect(timeout=5)
    assert ok, f"websocket refused with {code}"
    return communicator


async def test_anonymous_sockets_are_refused(db):
    communicator = WebsocketCommunicator(application, "/ws/live/?groups=tasks", headers=[ORIGIN])
    ok, _code = await communicator.connect(timeout=5)
    assert not ok


async def test_sockets_from_another_site_are_refused(viewer):
    cookie = await sync_to_async(session_cookie)(viewer)
    communicator = WebsocketCommunicator(
        application, "/ws/live/?groups=tasks", headers=[(b"origin", b"http://evil.example"), cookie]
    )
    ok, _code = await communicator.connect(timeout=5)
    assert not ok


async def test_unknown_groups_are_refused(viewer):
    cookie = await sync_to_async(session_cookie)(viewer)
    for groups in ("", "tasks,secrets", "device-x"):
        communicator = WebsocketCommunicator(
            application, f"/ws/live/?groups={groups}", headers=[ORIGIN, cookie]
        )
        ok, _code = await communicator.connect(timeout=5)
        assert not ok, groups


async def test_a_published_task_reaches_a_signed_in_page(viewer):
    communicator = await connected(viewer, "/ws/live/?groups=tasks,devices")
    task = await sync_to_async(queue.enqueue)("discover", {"low": 1, "high": 2})
    await sync_to_async(publish.publish_task)(task)
    message = await communicator.receive_json_from(timeout=LIVE_SECONDS)
    assert message["type"] == "task"
    assert message["task"]["id"] == task.id
    assert message["task"]["status"] == "pending"
    assert message["task"]["parameters"] == {"low": 1, "high": 2}
    assert message["task"]["site"] == task.site  # task tables filter and label rows by it
    await communicator.disconnect()


async def test_point_values_go_only_to_their_devices_group(viewer, building):
    device = building["device"]
    mine = await connected(viewer, f"/ws/live/?groups=device-{device.id}")
    other = await connected(viewer, f"/ws/live/?groups=device-{device.id + 1}")
    await sync_to_async(publish.publish_point_values)([building["ai"], building["ao"]])
    message = await mine.receive_json_from(timeout=LIVE_SECONDS)
    assert message["type"] == "points"
    assert {p["name"]: p["value"] for p in message["points"]} == {"Zone_Temp": 21.5, "Damper": 40.0}
    assert await other.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await other.disconnect()


async def test_the_virtual_device_consumer_sends_seed_external_writes(viewer, building):
    communicator = await connected(viewer, "/ws/virtual-devices/")
    obj = await sync_to_async(VirtualObject.objects.select_related("device").get)(
        name="Damper_Position"
    )
    event = {
        "property": "present-value",
        "new_value": 35.0,
        "priority": 8,
        "source_address": "127.0.0.9:47808",
        "old_value": 0.0,
        "effective_value": 35.0,
        "priority_array": [None] * 7 + [35.0] + [None] * 8,
    }
    await sync_to_async(publish.publish_external_write)(obj, event)
    message = await communicator.receive_json_from(timeout=LIVE_SECONDS)
    assert message["type"] == "external_write"
    assert message["device_id"] == 2001
    assert message["property"] == "present-value"
    assert message["new_value"] == 35.0
    assert message["timestamp"]
    assert message["priority"] == 8
    assert message["address"] == "127.0.0.9:47808"
    assert message["object"]["object_type"] == "analog-output"
    assert message["priority_array"][7] == 35.0
    await communicator.disconnect()


async def test_nothing_is_announced_when_the_transaction_rolls_back(viewer):
    communicator = await connected(viewer, "/ws/live/?groups=tasks")

    def rolled_back() -> None:
        from django.db import transaction

        with transaction.atomic():
            publish.publish_task(queue.enqueue("collect"))
            transaction.set_rollback(True)

    await sync_to_async(rolled_back)()
    assert await communicator.receive_nothing(timeout=0.4)
    await communicator.disconnect()
