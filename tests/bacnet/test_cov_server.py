"""Device 8888 as a COV server, checked from outside by two independent clients.

A bacpypes3 client and rusty-bacnet (a Rust stack) subscribe over real UDP on loopback: a change
of status-flags (out-of-service set or cleared) must be notified (ASHRAE 135 13.1), and the
device object's active-cov-subscriptions must list each live subscription.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from bacpypes3.apdu import WritePropertyRequest
from bacpypes3.app import Application
from bacpypes3.basetypes import PropertyIdentifier
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Boolean, ObjectIdentifier
from rusty_bacnet import ObjectIdentifier as RustyObjectIdentifier
from rusty_bacnet import ObjectType
from rusty_bacnet import PropertyIdentifier as RustyProperty

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import LocalDevice, ObjectSpec, serve_device, virtual_object_name
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import to_python
from bms.simulator import SimulatedBuilding
from tests.bacnet.rusty_peers import (
    next_notification,
    notified_values,
    rusty_client,
    rusty_oid,
)

WAIT = 5.0
NORMAL = (False, False, False, False)
OUT_OF_SERVICE = (False, False, False, True)

SPECS = (
    ObjectSpec("AI", 1, virtual_object_name(7, "RoomTemp"), present_value=21.5, cov_increment=0.5),
    ObjectSpec("BV", 1, virtual_object_name(7, "Enable")),
    ObjectSpec("MSV", 1, virtual_object_name(7, "Mode"), state_texts=("Off", "Heat", "Cool")),
)


@dataclass
class Rig:
    device: LocalDevice
    app: Application
    server: Address
    port: int
    client: Application | None = None

    @property
    def server_address(self) -> str:
        return f"127.0.0.2:{self.port}"

    def watches(self, ref: str) -> int:
        """How many monitors watch the object's out-of-service (0 once nobody subscribes)."""
        parsed = ObjectRef.parse(ref)
        obj = self.app.get_object_id(ObjectIdentifier((parsed.object_type, parsed.instance)))
        return len(obj._property_monitors["outOfService"])


@pytest.fixture
async def rig(bacnet_port: int) -> AsyncIterator[Rig]:
    app, device = await serve_device(
        EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"), objects=SPECS
    )
    rig = Rig(device, app, Address(f"127.0.0.2:{bacnet_port}"), bacnet_port)
    try:
        rig.client = await open_application(
            EngineConfig(
                address=f"127.0.0.3/8:{bacnet_port}", device_instance=9001, device_name="CovClient"
            )
        )
        yield rig
    finally:
        if rig.client is not None:
            close_application(rig.client)
        close_application(app)


def bacpypes3(rig: Rig) -> Application:
    assert rig.client is not None
    return rig.client


async def next_values(sub: Any, timeout: float = WAIT) -> dict[str, Any]:
    """The next notification of a bacpypes3 subscription: present-value and status-flags."""
    values: dict[str, Any] = {}
    async with asyncio.timeout(timeout):
        while len(values) < 2:  # bacpypes3 queues a notification's values one by one
            prop, value = await sub.get_value()
            values[str(prop)] = to_python(value)
    return values


async def subscriptions_gone(rig: Rig, ref: str, timeout: float = 10.0) -> None:
    """Return once the device lists no subscription and nothing watches `ref`, or after
    `timeout` seconds (the caller asserts)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if rig.watches(ref) == 0 and await read_active_subscriptions(rig) == []:
            return
        await asyncio.sleep(0.05)


async def read_active_subscriptions(rig: Rig) -> list[dict[str, Any]]:
    async with asyncio.timeout(WAIT):
        value = await bacpypes3(rig).read_property(
            rig.server, ObjectIdentifier(("device", 8888)), "active-cov-subscriptions"
        )
    return [to_python(entry) for entry in value]


# ---- status-flags changes, bacpypes3 client


async def test_setting_out_of_service_notifies_the_new_status_flags(rig: Rig) -> None:
    oid = ObjectIdentifier(("analog-input", 1))
    async with bacpypes3(rig).change_of_value(rig.server, oid, 1, False, 60) as sub:
        assert (await next_values(sub))["status-flags"] == NORMAL  # the initial notification
        rig.device.set_out_of_service("AI:1", True)
        changed = await next_values(sub)
        assert changed == {"present-value": 21.5, "status-flags": OUT_OF_SERVICE}
        rig.device.set_out_of_service("AI:1", False)
        assert (await next_values(sub))["status-flags"] == NORMAL


async def test_out_of_service_written_by_a_peer_notifies_subscribers(rig: Rig) -> None:
    oid = ObjectIdentifier(("multi-state-value", 1))
    async with bacpypes3(rig).change_of_value(rig.server, oid, 2, True, 60) as sub:
        await next_values(sub)
        request = WritePropertyRequest(
            objectIdentifier=oid,
            propertyIdentifier=PropertyIdentifier("out-of-service"),
            propertyValue=AnyValue(Boolean(True)),
            destination=rig.server,
        )
        async with asyncio.timeout(WAIT):
            await bacpypes3(rig).request(request)
        assert await next_values(sub) == {"present-value": 1, "status-flags": OUT_OF_SERVICE}


async def test_unchanged_status_flags_send_no_notification(rig: Rig) -> None:
    oid = ObjectIdentifier(("binary-value", 1))
    async with bacpypes3(rig).change_of_value(rig.server, oid, 3, False, 60) as sub:
        await next_values(sub)
        rig.device.set_out_of_service("BV:1", False)  # already in service
        with pytest.raises(TimeoutError):
            await next_values(sub, timeout=0.5)


# ---- active-cov-subscriptions, bacpypes3 client


async def test_active_cov_subscriptions_lists_each_live_subscription(rig: Rig) -> None:
    ai = ObjectIdentifier(("analog-input", 1))
    bv = ObjectIdentifier(("binary-value", 1))
    assert await read_active_subscriptions(rig) == []
    async with (
        bacpypes3(rig).change_of_value(rig.server, ai, 11, True, 120) as ai_sub,
        bacpypes3(rig).change_of_value(rig.server, bv, 12, False, 60) as bv_sub,
    ):
        await next_values(ai_sub)
        await next_values(bv_sub)
        entries = sorted(
            await read_active_subscriptions(rig), key=lambda e: e["recipient"]["process-identifier"]
        )
    assert len(entries) == 2
    ai_entry, bv_entry = entries
    client_mac = bytes([127, 0, 0, 3]) + rig.port.to_bytes(2, "big")
    assert ai_entry["recipient"] == {
        "recipient": {"network-number": 0, "mac-address": client_mac},
        "process-identifier": 11,
    }
    assert ai_entry["monitored-property-reference"]["object-identifier"] == ObjectRef(
        "analog-input", 1
    )
    assert ai_entry["monitored-property-reference"]["property-identifier"] == "present-value"
    assert ai_entry["issue-confirmed-notifications"] is True
    assert 115 <= ai_entry["time-remaining"] <= 120
    assert ai_entry["cov-increment"] == 0.5
    assert bv_entry["issue-confirmed-notifications"] is False
    assert 55 <= bv_entry["time-remaining"] <= 60
    assert bv_entry.get("cov-increment") is None  # binary objects have no increment


async def test_cancelled_and_expired_subscriptions_leave_the_list_and_their_watch(
    rig: Rig,
) -> None:
    ai = ObjectIdentifier(("analog-input", 1))
    async with bacpypes3(rig).change_of_value(rig.server, ai, 21, False, 60) as sub:
        await next_values(sub)
        assert rig.watches("AI:1") == 1
    # The cancellation goes out as the context exits: wait (bounded) for the device to drop it.
    await subscriptions_gone(rig, "AI:1")
    assert await read_active_subscriptions(rig) == []
    assert rig.watches("AI:1") == 0

    async with bacpypes3(rig).change_of_value(rig.server, ai, 22, False, 1) as sub:
        await next_values(sub)
        sub.refresh_subscription_handle.cancel()  # let it lapse: no renewal from this client
        await asyncio.sleep(1.0)  # its lifetime
        await subscriptions_gone(rig, "AI:1")
        assert await read_active_subscriptions(rig) == []
        assert rig.watches("AI:1") == 0


async def test_removing_a_subscribed_object_unbinds_its_watch(rig: Rig) -> None:
    spec = ObjectSpec("AV", 5, virtual_object_name(8, "Gone"), present_value=1.0)
    rig.device.add_object(spec)
    oid = ObjectIdentifier(("analog-value", 5))
    async with bacpypes3(rig).change_of_value(rig.server, oid, 31, False, 60) as sub:
        await next_values(sub)
        obj = rig.app.get_object_id(oid)
        rig.device.remove_object("AV:5")
        assert len(obj._property_monitors["outOfService"]) == 0
        assert await read_active_subscriptions(rig) == []


# ---- the same from rusty-bacnet


async def test_rusty_client_is_notified_of_out_of_service(rig: Rig) -> None:
    async with rusty_client() as client:
        notifications = await client.cov_notifications()
        await client.subscribe_cov(rig.server_address, 41, rusty_oid("AI:1"), True, 60)
        first = await next_notification(notifications)
        assert notified_values(first) == {"present-value": 21.5, "status-flags": NORMAL}

        rig.device.set_out_of_service("AI:1", True)
        change = await next_notification(notifications)
        assert notified_values(change) == {"present-value": 21.5, "status-flags": OUT_OF_SERVICE}
        assert change.subscriber_process_identifier == 41
        assert change.initiating_device_identifier == RustyObjectIdentifier(ObjectType.DEVICE, 8888)
        assert change.monitored_object_identifier == rusty_oid("AI:1")
        assert change.delivery == "confirmed"
        assert 55 <= change.time_remaining <= 60


async def test_rusty_client_reads_its_subscription_in_active_cov_subscriptions(rig: Rig) -> None:
    async with rusty_client() as client:
        notifications = await client.cov_notifications()
        await client.subscribe_cov(rig.server_address, 42, rusty_oid("AI:1"), False, 90)
        await next_notification(notifications)
        local = await client.read_property(
            rig.server_address,
            RustyObjectIdentifier(ObjectType.DEVICE, 8888),
            RustyProperty.ACTIVE_COV_SUBSCRIPTIONS,
        )
        await client.unsubscribe_cov(rig.server_address, 42, rusty_oid("AI:1"))
        after_cancel = await client.read_property(
            rig.server_address,
            RustyObjectIdentifier(ObjectType.DEVICE, 8888),
            RustyProperty.ACTIVE_COV_SUBSCRIPTIONS,
        )
    [entry] = list(local.value)
    recipient = entry["recipient"]
    assert recipient["kind"] == "address"
    assert recipient["network_number"] == 0
    assert recipient["mac_address"][:4] == bytes([127, 0, 0, 3])
    assert entry["process_identifier"] == 42
    assert entry["object_identifier"] == rusty_oid("AI:1")
    assert entry["property_identifier"] == RustyProperty.PRESENT_VALUE
    assert entry["issue_confirmed_notifications"] is False
    assert 85 <= entry["time_remaining"] <= 90
    assert entry["cov_increment"] == 0.5
    assert list(after_cancel.value) == []


async def test_rusty_subscription_without_lifetime_is_indefinite(rig: Rig) -> None:
    # rusty-bacnet omits the lifetime for an indefinite subscription, as the standard allows;
    # bacpypes3 alone answered it device/operational-problem.
    async with rusty_client() as client:
        notifications = await client.cov_notifications()
        await client.subscribe_cov(rig.server_address, 43, rusty_oid("BV:1"), False, None)
        first = await next_notification(notifications)
        assert first.time_remaining == 0
        rig.device.set_out_of_service("BV:1", True)
        change = await next_notification(notifications)
        assert notified_values(change)["status-flags"] == OUT_OF_SERVICE
        assert change.time_remaining == 0


# ---- multi-state objects: COV on any change of state (they have no cov-increment)


async def test_a_multi_state_value_of_device_8888_notifies_each_change_of_state(rig: Rig) -> None:
    oid = ObjectIdentifier(("multi-state-value", 1))
    async with bacpypes3(rig).change_of_value(rig.server, oid, 51, False, 60) as sub:
        assert (await next_values(sub))["present-value"] == 1
        rig.device.set_present_value("MSV:1", 3, priority=8)
        assert await next_values(sub) == {"present-value": 3, "status-flags": NORMAL}


async def test_the_simulators_multi_state_objects_accept_subscribe_cov_and_notify(
    bacnet_port: int,
) -> None:
    async with SimulatedBuilding(devices=1, objects=40, port=bacnet_port) as building:
        device = building.devices[0]
        multi_state = [r for r in device.objects if r.object_type.startswith("multi-state-")]
        assert {r.object_type for r in multi_state} == {
            "multi-state-input",
            "multi-state-output",
            "multi-state-value",
        }
        client = await open_application(
            EngineConfig(address=f"127.0.0.9/8:{bacnet_port}", device_instance=9002)
        )
        try:
            for process_id, ref in enumerate(multi_state, start=60):
                oid = ObjectIdentifier((ref.object_type, ref.instance))
                server = Address(device.address)
                async with client.change_of_value(server, oid, process_id, True, 60) as sub:
                    first = await next_values(sub)
                    new_state = 2 if first["present-value"] != 2 else 1
                    building.set_value(device.instance, ref, new_state)
                    assert (await next_values(sub))["present-value"] == new_state
        finally:
            close_application(client)
