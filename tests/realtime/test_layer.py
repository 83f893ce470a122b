"""The database channel layer: across processes, in order, expiring; and the Redis layer."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from bms.realtime import publish
from bms.realtime.consumers import LiveConsumer, VirtualDeviceConsumer
from bms.realtime.layer import DatabaseChannelLayer
from bms.realtime.models import RealtimeMessage
from bms.tasks import queue
from bms.virtual.models import VirtualObject

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)

PUBLISHER = """
import sys, django
django.setup()
from bms.realtime.publish import publish_external_write
from bms.virtual.models import VirtualObject
obj = VirtualObject.objects.select_related("device").get(id=int(sys.argv[1]))
for value in (10.0, 20.0, 30.0):
    publish_external_write(obj, {"new_value": value, "priority": 8,
                                 "source_address": "127.0.0.42:47808"})
print("published", flush=True)
"""


async def listening(user, groups: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), f"/ws/live/?groups={groups}")
    communicator.scope["user"] = user
    ok, code = await communicator.connect(timeout=5)
    assert ok, code
    return communicator


async def until(condition: Callable[[], bool], timeout: float) -> None:
    """Return once `condition()` holds, or after `timeout` seconds (the caller asserts)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def test_the_embedded_default_uses_the_database_layer():
    if settings.REDIS_URL:
        pytest.skip("REDIS_URL is set: this run uses channels_redis")
    assert isinstance(get_channel_layer(), DatabaseChannelLayer)


async def test_a_write_published_by_another_process_reaches_this_ones_socket(viewer, building):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the embedded default is SQLite")
    communicator = await listening(viewer, "virtual_devices")
    obj = await sync_to_async(VirtualObject.objects.get)(name="Damper_Position")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.django.settings",
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
    }
    env.pop("REDIS_URL", None)
    started = time.monotonic()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PUBLISHER,
        str(obj.id),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    values = [(await communicator.receive_json_from(timeout=15))["new_value"] for _ in range(3)]
    _out, err = await child.communicate()
    assert child.returncode == 0, err.decode()[-2000:]
    assert values == [10.0, 20.0, 30.0]  # in publishing order
    assert time.monotonic() - started < 15
    await communicator.disconnect()


# Delivery takes one poll interval (POLL_INTERVAL, 75 ms) plus a query, counted from the moment
# the message is in the table. The bound tells that from a poller on an interval of seconds, with
# room for a query slowed by a loaded machine; the wait itself is longer so that a late message
# fails on the bound, saying how late, rather than on the wait.
DELIVERED_WITHIN_SECONDS = 1.0


async def test_delivery_takes_about_one_poll_interval(viewer):
    communicator = await listening(viewer, "tasks")
    task = await sync_to_async(queue.enqueue)("collect")
    await sync_to_async(publish.publish_task)(task)
    stored = time.monotonic()  # the insert has committed: from here it is the poller's time
    await communicator.receive_json_from(timeout=10)
    assert time.monotonic() - stored < DELIVERED_WITHIN_SECONDS
    await communicator.disconnect()


async def test_the_poller_stops_when_the_last_page_leaves(viewer):
    layer = get_channel_layer()
    communicator = await listening(viewer, "tasks")
    assert layer._poller is not None
    assert not layer._poller.done()
    await communicator.disconnect()
    # It stops at its next look (a poll interval or one query away): wait for that, bounded.
    await until(layer._poller.done, timeout=10)
    assert layer._poller.done()


def test_old_messages_are_deleted_by_the_next_publisher(db):
    layer = DatabaseChannelLayer(message_expiry=60)
    RealtimeMessage.objects.create(
        group="tasks", payload={"type": "old"}, created_at=timezone.now() - timedelta(seconds=61)
    )
    layer.store("tasks", {"type": "new"})
    assert list(RealtimeMessage.objects.values_list("payload__type", flat=True)) == ["new"]


def test_bad_group_names_are_refused_before_anything_is_stored(db):
    layer = DatabaseChannelLayer()
    with pytest.raises(TypeError):
        layer.store("spaces are not allowed", {"type": "x"})
    assert not RealtimeMessage.objects.exists()


async def test_the_redis_layer_carries_published_events(viewer, redis_url, settings):
    # Creating the viewer is audited on the default (database) layer, before the switch.
    stored_before = await sync_to_async(RealtimeMessage.objects.count)()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": f"bms-test-{uuid.uuid4().hex[:8]}"},
        }
    }
    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    communicator = await listening(viewer, "tasks")
    task = await sync_to_async(queue.enqueue)("discover")
    await sync_to_async(publish.publish_task)(task)
    # Due at once through Redis; the wait returns when it is there, its bound is for a loaded
    # machine (as LIVE_SECONDS in test_consumers.py).
    message = await communicator.receive_json_from(timeout=10)
    assert message["task"]["id"] == task.id
    await communicator.disconnect()
    assert await sync_to_async(RealtimeMessage.objects.count)() == stored_before


def _rename_messages_table(old: str, new: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")


async def test_the_poller_survives_a_database_error_and_delivers_afterwards(viewer, caplog):
    communicator = await listening(viewer, "tasks")
    table = RealtimeMessage._meta.db_table
    await sync_to_async(_rename_messages_table)(table, "realtime_hidden")
    try:
        # Its next poll meets the missing table (a poll interval away; later on a loaded
        # machine): wait for what it logs, bounded.
        await until(lambda: "realtime poll failed" in caplog.text, timeout=10)
    finally:
        await sync_to_async(_rename_messages_table)("realtime_hidden", table)
    assert "realtime poll failed" in caplog.text
    task = await sync_to_async(queue.enqueue)("collect")
    await sync_to_async(publish.publish_task)(task)
    message = await communicator.receive_json_from(timeout=5)
    assert message["task"]["id"] == task.id
    await communicator.disconnect()


def _ahu_rows() -> list[VirtualObject]:
    from bms.virtual.services import create_virtual_device

    create_virtual_device(4101, "AHU", template="air_handling_unit")
    return list(VirtualObject.objects.select_related("device").filter(object_type="analog-output"))


def use_layer(settings, layer_kind: str, redis_url: str) -> None:
    if layer_kind == "redis":
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [redis_url], "prefix": f"bms-test-{uuid.uuid4().hex[:8]}"},
            }
        }
    else:
        settings.CHANNEL_LAYERS = {
            "default": {"BACKEND": "bms.realtime.layer.DatabaseChannelLayer"}
        }


@pytest.mark.parametrize("layer_kind", ["redis", "database"])
async def test_external_writes_published_from_the_loop_arrive_in_order(
    viewer, redis_url, settings, layer_kind
):
    use_layer(settings, layer_kind, redis_url)
    rows = await sync_to_async(_ahu_rows)()
    communicator = WebsocketCommunicator(VirtualDeviceConsumer.as_asgi(), "/ws/virtual-devices/")
    communicator.scope["user"] = viewer
    connected, code = await communicator.connect(timeout=5)
    assert connected, code
    writes = [
        (
            rows[0],
            {
                "new_value": float(n),
                "priority": 8,
                "property": "present-value",
                "source_address": "127.0.0.9:47808",
            },
        )
        for n in range(50)
    ]
    before = await sync_to_async(RealtimeMessage.objects.count)()
    await publish.apublish_external_writes(writes)
    received = [await communicator.receive_json_from(timeout=5) for _ in writes]
    if layer_kind == "database":  # the 50 writes travelled as one message
        assert await sync_to_async(RealtimeMessage.objects.count)() == before + 1
    assert [m["new_value"] for m in received] == [float(n) for n in range(50)]
    assert {(m["type"], m["device_id"], m["address"]) for m in received} == {
        ("external_write", 4101, "127.0.0.9:47808")
    }
    await communicator.disconnect()


@pytest.mark.parametrize("layer_kind", ["redis", "database"])
async def test_collect_readings_published_from_the_loop_reach_only_their_device(
    viewer, redis_url, settings, layer_kind
):
    from bms.bacnet.types import ObjectRef
    from bms.realtime.payloads import reading_payload

    use_layer(settings, layer_kind, redis_url)
    mine = await listening(viewer, "device-7")
    other = await listening(viewer, "device-8")
    at = timezone.now()
    await publish.apublish_point_readings(
        {
            7: [
                reading_payload(
                    70, 7, ObjectRef("analog-input", 1), 21.5, (False, True, False, False), at
                ),
                reading_payload(71, 7, ObjectRef("binary-value", 2), "active", None, at),
            ]
        }
    )
    message = await mine.receive_json_from(timeout=5)
    assert (message["type"], message["device_pk"]) == ("points", 7)
    assert [(p["id"], p["value"], p["status_flags"]) for p in message["points"]] == [
        (70, 21.5, [False, True, False, False]),
        (71, "active", None),
    ]
    assert message["points"][0]["value_at"] == at.isoformat()
    assert await other.receive_nothing(timeout=0.5)
    await mine.disconnect()
    await other.disconnect()


@pytest.mark.parametrize("layer_kind", ["redis", "database"])
async def test_readings_of_many_devices_travel_as_one_message_each_page_gets_its_own(
    viewer, redis_url, settings, layer_kind
):
    """A group commit of 50 devices' values is ONE channel-layer message (it was one per
    device: bench/cov.py), and each page still gets one "points" event per device it asked
    for, and none of the others."""
    from bms.bacnet.types import ObjectRef
    from bms.realtime.payloads import reading_payload

    use_layer(settings, layer_kind, redis_url)
    both = await listening(viewer, "device-3,device-4,tasks")
    four = await listening(viewer, "device-4")
    at = timezone.now()
    by_device = {
        pk: [reading_payload(pk * 100, pk, ObjectRef("analog-input", 1), float(pk), None, at)]
        for pk in range(1, 51)
    }
    before = await sync_to_async(RealtimeMessage.objects.count)()
    await publish.apublish_point_readings(by_device)
    if layer_kind == "database":
        assert await sync_to_async(RealtimeMessage.objects.count)() == before + 1
    got = [await both.receive_json_from(timeout=5) for _ in range(2)]
    assert [(m["type"], m["device_pk"], m["points"][0]["value"]) for m in got] == [
        ("points", 3, 3.0),
        ("points", 4, 4.0),
    ]
    assert (await four.receive_json_from(timeout=5))["device_pk"] == 4
    assert await both.receive_nothing(timeout=0.3)
    assert await four.receive_nothing(timeout=0.3)
    await both.disconnect()
    await four.disconnect()


def test_point_events_are_chunked_by_whole_devices():
    events = [
        {"type": "points", "device_pk": pk, "points": [{}] * size}
        for pk, size in enumerate([1500, 400, 200, 2500, 10], start=1)
    ]
    chunks = publish._chunks(events)
    assert [[e["device_pk"] for e in chunk] for chunk in chunks] == [[1, 2], [3], [4], [5]]


async def test_messages_to_several_groups_keep_each_groups_order(viewer, redis_url, settings):
    """asend_messages sends the groups concurrently; within a group, in the order given."""
    use_layer(settings, "redis", redis_url)
    tasks_page = await listening(viewer, "tasks")
    audit_page = await listening(viewer, "audit")
    messages = [
        (group, {"type": publish.EVENT, "event": {"type": group, "n": n}})
        for n in range(20)
        for group in ("tasks", "audit")
    ]
    await publish.asend_messages(messages)
    for page, group in ((tasks_page, "tasks"), (audit_page, "audit")):
        got = [await page.receive_json_from(timeout=5) for _ in range(20)]
        assert [(m["type"], m["n"]) for m in got] == [(group, n) for n in range(20)]
    await tasks_page.disconnect()
    await audit_page.disconnect()
