"""What the audit log and the devices list hear, through the real ASGI application: audit rows
from operator commands, refused commands, the worker's refused external writes and its operator
writes to remote points (group `audit`), and devices with their point counts and sites (group
`devices`)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from bms.bacnet.types import RefusedWrite
from bms.devices.models import BACnetDevice, BACnetPoint, WriteAudit
from bms.realtime import groups
from bms.realtime.models import RealtimeMessage
from bms.realtime.payloads import audit_payload
from bms.virtual.commands import CommandRefused, command_virtual_object
from bms.virtual.models import VirtualObject
from bms.worker import events, store
from tests.realtime.test_consumers import LIVE_SECONDS, connected

pytestmark = pytest.mark.django_db(transaction=True)


def damper() -> VirtualObject:
    return VirtualObject.objects.select_related("device").get(name="Damper_Position")


def test_the_audit_group_is_known():
    assert groups.is_known(groups.AUDIT)
    assert not groups.is_known("audit-2")


async def test_an_operator_command_reaches_the_audit_page_as_its_stored_row(viewer, building):
    page = await connected(viewer, "/ws/live/?groups=audit")
    await sync_to_async(command_virtual_object)(await sync_to_async(damper)(), 42.5, 8, user="otto")
    message = await page.receive_json_from(timeout=LIVE_SECONDS)
    assert message["type"] == "audit"
    stored = await sync_to_async(
        lambda: audit_payload(
            WriteAudit.objects.select_related("virtual_object__device")
            .filter(source="operator", virtual_object__isnull=False)
            .get()
        )
    )()
    assert message["audit"] == stored
    assert (
        stored["source_label"],
        stored["who"],
        stored["new_value"],
        stored["priority"],
        stored["accepted"],
        stored["virtual_device_id"],
        stored["object_type"],
    ) == ("Operator", "otto", 42.5, 8, True, 2001, "analog-output")
    await page.disconnect()


async def test_a_refused_command_reaches_it_with_the_reason(viewer, building):
    page = await connected(viewer, "/ws/live/?groups=audit")
    with pytest.raises(CommandRefused):
        await sync_to_async(command_virtual_object)(
            await sync_to_async(damper)(), 150, 8, user="otto"
        )
    audit = (await page.receive_json_from(timeout=LIVE_SECONDS))["audit"]
    assert (audit["accepted"], audit["new_value"]) == (False, 150)
    assert "out of range" in audit["reason"]
    await page.disconnect()


async def test_the_workers_refused_external_write_reaches_it_after_commit(viewer, building):
    page = await connected(viewer, "/ws/live/?groups=audit")
    obj = await sync_to_async(damper)()
    refusal = RefusedWrite(
        object_id=f"analog-output,{obj.instance}",
        property="present-value",
        value="150.0",
        priority=8,
        source_address="127.0.0.9:47808",
        reason="present-value: value-out-of-range",
    )

    def refused_then_rolled_back() -> None:
        with transaction.atomic():
            store.record_refused_external_write(refusal)
            transaction.set_rollback(True)

    await sync_to_async(refused_then_rolled_back)()
    assert await page.receive_nothing(timeout=0.4)  # never stored, never announced
    await sync_to_async(store.record_refused_external_write)(refusal)
    audit = (await page.receive_json_from(timeout=LIVE_SECONDS))["audit"]
    assert (
        audit["source"],
        audit["who"],
        audit["new_value"],
        audit["accepted"],
        audit["reason"],
        audit["virtual_device_id"],
    ) == ("bacnet", "127.0.0.9:47808", "150.0", False, "present-value: value-out-of-range", 2001)
    await page.disconnect()


async def test_the_workers_operator_write_to_a_remote_point_reaches_it(viewer, building):
    page = await connected(viewer, "/ws/live/?groups=audit")
    ao = building["ao"]
    await sync_to_async(store.record_point_write)(
        store.Writer("otto", "operator"), ao.id, 40.0, 55.0, 8, True, "", 55.0
    )
    audit = (await page.receive_json_from(timeout=LIVE_SECONDS))["audit"]
    assert (
        audit["point_id"],
        audit["object_ref"],
        audit["old_value"],
        audit["new_value"],
        audit["object_type"],
        audit["virtual_device_id"],
    ) == (ao.id, "1001:analog-output,1", 40.0, 55.0, "analog-output", None)
    await page.disconnect()


async def test_device_events_carry_the_point_count(viewer, building):
    page = await connected(viewer, "/ws/live/?groups=devices")
    device = building["device"]
    await sync_to_async(BACnetPoint.objects.create)(
        device=device, object_type="analog-value", instance=7, name="Added"
    )
    await sync_to_async(events.device_points_changed)(device)
    message = await page.receive_json_from(timeout=LIVE_SECONDS)
    assert message["type"] == "device"
    assert (message["device"]["id"], message["device"]["point_count"]) == (device.id, 5)
    await page.disconnect()


async def test_device_events_carry_their_site(viewer, building):
    # The devices table labels and filters live rows by it once there are several sites.
    page = await connected(viewer, "/ws/live/?groups=devices")
    north = await sync_to_async(BACnetDevice.objects.create)(
        site="north", device_instance=7, address="10.1.0.7"
    )
    await sync_to_async(events.device_points_changed)(north)
    message = await page.receive_json_from(timeout=LIVE_SECONDS)
    assert (message["device"]["id"], message["device"]["site"]) == (north.id, "north")
    await page.disconnect()


def test_a_discovery_counts_every_devices_points_in_one_query_and_sends_one_message(
    building, settings, django_assert_num_queries
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "bms.realtime.layer.DatabaseChannelLayer"}}
    found = [
        building["device"],
        *(
            BACnetDevice.objects.create(device_instance=2000 + n, address=f"127.0.0.{10 + n}")
            for n in range(3)
        ),
    ]
    with transaction.atomic(), django_assert_num_queries(1):  # the sends wait for the commit
        events.devices_changed(found)
    # One message for the four devices (a thousand would be ten), forwarded event by event.
    (row,) = RealtimeMessage.objects.filter(group=groups.DEVICES)
    sent = [event["device"] for event in row.payload["events"]]
    assert [(d["device_instance"], d["point_count"]) for d in sent] == [
        (1001, 4),
        (2000, 0),
        (2001, 0),
        (2002, 0),
    ]
