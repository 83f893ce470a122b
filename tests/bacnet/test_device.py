"""The device side over real UDP: a plain bacpypes3 client application talks to our device.

Every test binds our device on 127.0.0.2 and the client on 127.0.0.3, both on the test's own
port, so broadcasts stay inside the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from bacpypes3.apdu import (
    ErrorRejectAbortNack,
    WritePropertyMultipleError,
    WritePropertyMultipleRequest,
    WritePropertyRequest,
)
from bacpypes3.app import Application
from bacpypes3.basetypes import PropertyIdentifier, PropertyValue, WriteAccessSpecification
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.pdu import Address, LocalBroadcast
from bacpypes3.primitivedata import (
    Boolean,
    CharacterString,
    Enumerated,
    Null,
    ObjectIdentifier,
    Real,
    Unsigned,
)

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import LocalDevice, ObjectSpec, serve_device, virtual_object_name
from bms.bacnet.errors import InvalidValueError, WriteRefused
from bms.bacnet.local.attributes import StaticAttributeReads
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef, WriteEvent
from bms.bacnet.values import to_python
from tests.bacnet.bacpypes3_reads import bacpypes3_read

WAIT = 5.0  # upper bound for any single exchange on loopback

SPECS = (
    ObjectSpec(
        "AO",
        1,
        virtual_object_name(7, "SupplySetpoint"),
        units="degreesCelsius",
        min_value=0.0,
        max_value=50.0,
        relinquish_default=20.0,
        cov_increment=1.0,
    ),
    ObjectSpec(
        "AI",
        1,
        virtual_object_name(7, "RoomTemp"),
        units="degrees-celsius",
        present_value=21.5,
        cov_increment=0.5,
    ),
    ObjectSpec("AV", 1, virtual_object_name(7, "Offset"), present_value=1.5),
    ObjectSpec("BI", 1, virtual_object_name(7, "Occupied"), present_value="active"),
    ObjectSpec("BO", 1, virtual_object_name(7, "Fan"), active_text="On", inactive_text="Off"),
    ObjectSpec("BV", 1, virtual_object_name(7, "Enable")),
    ObjectSpec("MSI", 1, virtual_object_name(7, "Alarm"), state_texts=("Ok", "Warn", "Fault")),
    ObjectSpec("MSO", 1, virtual_object_name(7, "Speed"), state_texts=("Low", "Mid", "High")),
    ObjectSpec(
        "MSV",
        1,
        virtual_object_name(7, "Mode"),
        state_texts=("Off", "Heat", "Cool"),
        present_value=2,
    ),
)


@dataclass
class Rig:
    device: LocalDevice
    client: Application
    server: Address
    port: int
    events: list[WriteEvent] = field(default_factory=list)

    def oid(self, ref: str) -> ObjectIdentifier:
        parsed = ObjectRef.parse(ref)
        return ObjectIdentifier((parsed.object_type, parsed.instance))

    async def read(self, ref: str, prop: str, index: int | None = None) -> Any:
        async with asyncio.timeout(WAIT):
            value = await self.client.read_property(self.server, self.oid(ref), prop, index)
        return to_python(value)

    async def read_error(self, ref: str, prop: str) -> str:
        try:
            async with asyncio.timeout(WAIT):
                value = await self.client.read_property(self.server, self.oid(ref), prop)
        except ErrorRejectAbortNack as err:
            return describe(err)
        raise AssertionError(f"read of {ref} {prop} succeeded with {value!r}")

    async def write(
        self, ref: str, prop: str, value: Any, priority: int | None = None
    ) -> str | None:
        """Send a WriteProperty of exactly `value`; None on ack, else "class:code"."""
        request = WritePropertyRequest(
            objectIdentifier=self.oid(ref),
            propertyIdentifier=PropertyIdentifier(prop),
            propertyValue=AnyValue(value),
            destination=self.server,
        )
        if priority is not None:
            request.priority = priority
        return await self.send(request)

    async def send(self, request: Any) -> str | None:
        try:
            async with asyncio.timeout(WAIT):
                await self.client.request(request)
        except ErrorRejectAbortNack as err:
            return describe(err)
        return None


def describe(err: ErrorRejectAbortNack) -> str:
    if isinstance(err, WritePropertyMultipleError):
        return f"{err.errorType.errorClass}:{err.errorType.errorCode}"
    if hasattr(err, "errorClass"):
        return f"{err.errorClass}:{err.errorCode}"
    return f"{type(err).__name__}:{getattr(err, 'apduAbortRejectReason', '')}"


@pytest.fixture
async def rig(bacnet_port: int) -> AsyncIterator[Rig]:
    app, device = await serve_device(
        EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"), objects=SPECS, hook_timeout=1.0
    )
    try:
        client: Application = await open_application(
            EngineConfig(
                address=f"127.0.0.3/8:{bacnet_port}", device_instance=9001, device_name="TestClient"
            )
        )
    except BaseException:
        close_application(app)
        raise
    rig = Rig(device, client, Address(f"127.0.0.2:{bacnet_port}"), bacnet_port)

    async def record(events: list[WriteEvent]) -> None:
        rig.events.extend(events)

    device.set_write_batch_hook(record)
    yield rig
    close_application(client)
    close_application(app)


# ---- discovery and reading


async def test_who_is_finds_device_8888(rig: Rig) -> None:
    async with asyncio.timeout(WAIT):  # a local broadcast, 127.255.255.255 on the test port
        i_ams = await rig.client.who_is(8888, 8888, address=LocalBroadcast(), timeout=1)
    assert [to_python(i_am.iAmDeviceIdentifier) for i_am in i_ams] == [ObjectRef("device", 8888)]
    assert str(i_ams[0].pduSource) == f"127.0.0.2:{rig.port}"


async def test_device_object_list_names_every_local_object(rig: Rig) -> None:
    object_list = await rig.read("device,8888", "object-list")
    expected = {spec.ref for spec in SPECS} | {ObjectRef("device", 8888)}
    assert expected <= set(object_list)
    assert await rig.read("device,8888", "object-name") == "Django_BMS"


async def test_device_object_reads_equal_bacpypes3_reads(rig: Rig) -> None:
    # Each transaction reads the device object's APDU limits; ours skips bacpypes3's
    # getattr_static on those reads and must still see exactly what bacpypes3 sees.
    device_object = rig.device._device_object()
    assert isinstance(device_object, StaticAttributeReads)
    names = list(type(device_object)._elements)
    assert {"apduTimeout", "maxApduLengthAccepted", "segmentationSupported"} <= set(names)
    for name in names:
        assert getattr(device_object, name, None) == bacpypes3_read(device_object, name), name


async def test_protocol_services_supported_lists_what_we_serve(rig: Rig) -> None:
    services = set(await rig.read("device,8888", "protocol-services-supported"))
    assert {
        "who-is",
        "i-am",
        "read-property",
        "read-property-multiple",
        "write-property",
        "subscribe-cov",
        "confirmed-cov-notification",
        "unconfirmed-cov-notification",
    } <= services
    assert "read-range" in services  # trend logs since issue 15 (trendlog_services)
    assert "atomic-read-file" not in services
    # served since issue 14 (event_services); receiving event notifications is not (yet)
    assert "acknowledge-alarm" in services
    assert "confirmed-event-notification" not in services


async def test_read_property_returns_every_object_as_specified(rig: Rig) -> None:
    for spec in SPECS:
        ref = str(spec.ref)
        assert await rig.read(ref, "object-name") == spec.name
        # an uncommanded output shows its relinquish default, which defaults to present_value
        expected: Any = spec.relinquish_default if spec.commandable else None
        if expected is None:
            expected = spec.present_value
        if expected is None:
            expected = {"analog": 0.0, "binary": "inactive", "multistate": 1}[spec.kind]
        assert await rig.read(ref, "present-value") == expected, ref
    assert await rig.read("AO:1", "units") == "degrees-celsius"
    assert await rig.read("MSV:1", "state-text") == ["Off", "Heat", "Cool"]
    assert await rig.read("MSV:1", "number-of-states") == 3
    assert await rig.read("BO:1", "active-text") == "On"


async def test_read_property_multiple_reads_every_object(rig: Rig) -> None:
    request: list[Any] = []  # bacpypes3 wants [objid, [props], objid, [props], ...]
    for spec in SPECS:
        request += [str(spec.ref), ["object-name", "present-value", "status-flags"]]
    async with asyncio.timeout(WAIT):
        results = await rig.client.read_property_multiple(rig.server, request)
    names = {
        (str(oid[0]), int(oid[1])): to_python(value)
        for oid, prop, _, value in results
        if str(prop) == "object-name"
    }
    assert names == {(spec.object_type, spec.instance): spec.name for spec in SPECS}
    flags = [to_python(value) for _, prop, _, value in results if str(prop) == "status-flags"]
    assert flags == [(False, False, False, False)] * len(SPECS)


# ---- commanding through the priority array


async def test_write_at_priority_8_commands_the_output(rig: Rig) -> None:
    assert await rig.write("AO:1", "present-value", Real(30.0), priority=8) is None
    assert await rig.read("AO:1", "priority-array", 8) == 30.0
    assert await rig.read("AO:1", "present-value") == 30.0
    assert await rig.read("AO:1", "current-command-priority") == 8
    # a lower priority (higher number) does not win over level 8
    assert await rig.write("AO:1", "present-value", Real(40.0), priority=12) is None
    assert await rig.read("AO:1", "present-value") == 30.0


async def test_relinquishing_priority_8_returns_to_relinquish_default(rig: Rig) -> None:
    assert await rig.write("AO:1", "present-value", Real(30.0), priority=8) is None
    assert await rig.write("AO:1", "present-value", Null(()), priority=8) is None
    assert await rig.read("AO:1", "priority-array", 8) is None
    assert await rig.read("AO:1", "present-value") == 20.0
    assert rig.device.snapshot("AO:1").active_priority is None


async def test_writing_relinquish_default_moves_an_uncommanded_value(rig: Rig) -> None:
    assert await rig.write("MSV:1", "relinquish-default", Unsigned(3)) is None
    assert await rig.read("MSV:1", "present-value") == 3


async def test_write_without_priority_commands_level_16(rig: Rig) -> None:
    assert await rig.write("BV:1", "present-value", Enumerated(1)) is None
    # a priority-array entry carries a bare enumerated on the wire: 1 is active
    assert await rig.read("BV:1", "priority-array", 16) == 1
    assert await rig.read("BV:1", "present-value") == "active"


# ---- validation


async def test_analog_write_outside_min_max_is_value_out_of_range(rig: Rig) -> None:
    assert await rig.write("AO:1", "present-value", Real(50.5), priority=8) == (
        "property:value-out-of-range"
    )
    assert await rig.write("AO:1", "present-value", Real(-1.0), priority=8) == (
        "property:value-out-of-range"
    )
    assert await rig.read("AO:1", "priority-array", 8) is None
    assert await rig.read("AO:1", "present-value") == 20.0


async def test_multistate_state_beyond_number_of_states_is_value_out_of_range(rig: Rig) -> None:
    assert await rig.write("MSV:1", "present-value", Unsigned(7), priority=8) == (
        "property:value-out-of-range"
    )
    assert await rig.write("MSV:1", "present-value", Unsigned(0), priority=8) == (
        "property:value-out-of-range"
    )
    assert await rig.write("MSV:1", "present-value", Unsigned(3), priority=8) is None
    assert await rig.read("MSV:1", "present-value") == 3


async def test_binary_enumeration_other_than_0_1_is_value_out_of_range(rig: Rig) -> None:
    assert await rig.write("BO:1", "present-value", Enumerated(5), priority=8) == (
        "property:value-out-of-range"
    )


async def test_input_present_value_is_writable_only_out_of_service(rig: Rig) -> None:
    assert await rig.write("AI:1", "present-value", Real(25.0)) == "property:write-access-denied"
    assert await rig.read("AI:1", "present-value") == 21.5

    assert await rig.write("AI:1", "out-of-service", Boolean(True)) is None
    assert await rig.write("AI:1", "present-value", Real(25.0)) is None
    assert await rig.read("AI:1", "present-value") == 25.0
    assert await rig.read("AI:1", "status-flags") == (False, False, False, True)


async def test_wrong_datatype_is_invalid_data_type(rig: Rig) -> None:
    assert await rig.write("AO:1", "present-value", CharacterString("hot"), priority=8) == (
        "property:invalid-data-type"
    )
    assert await rig.write("BO:1", "present-value", Real(1.0), priority=8) == (
        "property:invalid-data-type"
    )
    assert await rig.write("MSV:1", "present-value", Real(2.0), priority=8) == (
        "property:invalid-data-type"
    )
    assert await rig.read("AO:1", "present-value") == 20.0


async def test_priority_outside_1_to_16_is_refused(rig: Rig) -> None:
    for priority in (0, 17):
        assert await rig.write("AO:1", "present-value", Real(30.0), priority=priority) == (
            "services:parameter-out-of-range"
        )
    assert await rig.read("AO:1", "present-value") == 20.0


async def test_identity_properties_and_the_device_object_are_read_only(rig: Rig) -> None:
    assert await rig.write("AO:1", "object-name", CharacterString("x")) == (
        "property:write-access-denied"
    )
    assert await rig.write("device,8888", "object-name", CharacterString("x")) == (
        "property:write-access-denied"
    )
    assert await rig.write("AV:9", "present-value", Real(1.0)) == "object:unknown-object"
    assert await rig.read("device,8888", "object-name") == "Django_BMS"


# ---- the write hook


async def test_write_hook_sees_the_write_before_it_is_acknowledged(rig: Rig) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    seen: list[WriteEvent] = []

    async def hook(events: list[WriteEvent]) -> None:
        seen.extend(events)
        entered.set()
        await release.wait()

    rig.device.set_write_batch_hook(hook)
    write = asyncio.create_task(
        rig.write("AO:1", "present-value", Real(30.0), priority=8), name="test-write"
    )
    async with asyncio.timeout(WAIT):
        await entered.wait()
    await asyncio.sleep(0.3)
    assert not write.done(), "the write was acknowledged before the hook returned"
    assert rig.device.snapshot("AO:1").present_value == 20.0, "applied before the hook returned"
    release.set()
    async with asyncio.timeout(WAIT):
        assert await write is None

    (event,) = seen
    assert event.ref == ObjectRef("analog-output", 1)
    assert event.object_name == "Virtual_7_SupplySetpoint"
    assert (event.property, event.old_value, event.new_value) == ("present-value", 20.0, 30.0)
    assert event.priority == 8
    assert event.source_address == f"127.0.0.3:{rig.port}"
    assert event.effective_value == 30.0
    assert event.priority_array[7] == 30.0
    assert len(event.priority_array) == 16


async def test_hook_refusal_leaves_the_value_and_sends_its_error(rig: Rig) -> None:
    async def refuse(events: list[WriteEvent]) -> None:
        raise WriteRefused("locked by schedule", error_code="write-access-denied")

    rig.device.set_write_batch_hook(refuse)
    assert await rig.write("AO:1", "present-value", Real(30.0), priority=8) == (
        "property:write-access-denied"
    )
    snap = rig.device.snapshot("AO:1")
    assert snap.present_value == 20.0
    assert snap.priority_array[7] is None


async def test_hook_crash_leaves_the_value_and_sends_an_error(rig: Rig) -> None:
    async def crash(events: list[WriteEvent]) -> None:
        raise RuntimeError("database down")

    rig.device.set_write_batch_hook(crash)
    assert await rig.write("MSV:1", "present-value", Unsigned(3), priority=8) == (
        "device:operational-problem"
    )
    assert await rig.read("MSV:1", "present-value") == 2


async def test_hook_that_overruns_its_timeout_is_refused(rig: Rig) -> None:
    async def stall(events: list[WriteEvent]) -> None:
        await asyncio.sleep(WAIT)

    rig.device.set_write_batch_hook(stall)
    assert await rig.write("AV:1", "present-value", Real(9.0), priority=8) == (
        "device:operational-problem"
    )
    assert rig.device.snapshot("AV:1").present_value == 1.5


async def test_validation_failures_never_reach_the_hook(rig: Rig) -> None:
    assert await rig.write("AO:1", "present-value", Real(99.0), priority=8) is not None
    assert rig.events == []


async def test_local_updates_skip_the_hook_and_are_validated(rig: Rig) -> None:
    snap = rig.device.set_present_value("AI:1", 23.0)
    assert snap.present_value == 23.0
    assert await rig.read("AI:1", "present-value") == 23.0
    rig.device.set_present_value(ObjectRef("analog-output", 1), 10.0, priority=10)
    assert await rig.read("AO:1", "priority-array", 10) == 10.0
    with pytest.raises(InvalidValueError):
        rig.device.set_present_value("MSV:1", 4)
    with pytest.raises(InvalidValueError):
        rig.device.set_present_value("AO:1", 51.0)
    assert rig.events == []


# ---- group commit: writes to one object queued behind a store are stored together


def _replay(events: list[WriteEvent], array: tuple[Any, ...], default: float) -> None:
    """Each event's priority array is the one before it plus its own level (in hook order)."""
    effective = next((v for v in array if v is not None), default)
    for event in events:
        assert event.old_value == effective
        array = (*array[: event.priority - 1], event.new_value, *array[event.priority :])
        effective = next((v for v in array if v is not None), default)
        assert event.priority_array == array
        assert event.effective_value == effective


async def _wait_queued(rig: Rig, ref: str, count: int) -> None:
    async with asyncio.timeout(WAIT):
        while rig.device.queued_writes(ref) < count:
            await asyncio.sleep(0.01)


async def test_concurrent_writes_to_one_object_are_stored_in_batches_in_order(rig: Rig) -> None:
    batches: list[list[WriteEvent]] = []
    live_arrays: list[tuple[Any, ...]] = []

    async def store(events: list[WriteEvent]) -> None:
        live_arrays.append(rig.device.snapshot("AO:1").priority_array)
        batches.append(list(events))
        await asyncio.sleep(0.02)  # a store's transaction: writes arriving meanwhile queue

    rig.device.set_write_batch_hook(store)
    writes = [(float(n), 8 + n % 3) for n in range(1, 41)]
    results = await asyncio.gather(
        *(
            rig.write("AO:1", "present-value", Real(value), priority=priority)
            for value, priority in writes
        )
    )

    assert results == [None] * len(writes)  # every write acknowledged
    stored = [event for batch in batches for event in batch]
    assert sorted((e.new_value, e.priority) for e in stored) == sorted(writes)
    assert max(len(batch) for batch in batches) > 1, "writes queued behind a store were batched"
    _replay(stored, (None,) * 16, 20.0)
    # While a batch is stored the object still has the state the batch before it left.
    assert live_arrays == [(None,) * 16] + [batch[-1].priority_array for batch in batches[:-1]]
    snap = rig.device.snapshot("AO:1")
    assert snap.priority_array == stored[-1].priority_array
    assert snap.present_value == stored[-1].effective_value


async def test_a_failing_batch_store_refuses_every_write_in_the_batch(rig: Rig) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    batches: list[list[float]] = []

    async def store(events: list[WriteEvent]) -> None:
        batches.append([float(e.new_value) for e in events])  # type: ignore[arg-type]
        if len(batches) == 1:
            entered.set()
            await release.wait()
            return
        raise RuntimeError("database down")

    rig.device.set_write_batch_hook(store)
    first = asyncio.create_task(
        rig.write("AO:1", "present-value", Real(10.0), priority=8), name="test-first-write"
    )
    async with asyncio.timeout(WAIT):
        await entered.wait()
    queued = [
        asyncio.create_task(
            rig.write("AO:1", "present-value", Real(value), priority=8),
            name=f"test-queued-write-{value}",
        )
        for value in (11.0, 12.0, 13.0)
    ]
    await _wait_queued(rig, "AO:1", 3)
    release.set()
    assert await first is None
    assert await asyncio.gather(*queued) == ["device:operational-problem"] * 3
    assert batches == [[10.0], [11.0, 12.0, 13.0]]
    snap = rig.device.snapshot("AO:1")
    assert snap.present_value == 10.0
    assert snap.priority_array[7] == 10.0
    assert await rig.read("AO:1", "present-value") == 10.0


async def test_an_invalid_write_in_a_burst_is_refused_alone(rig: Rig) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    batches: list[list[WriteEvent]] = []
    refusals: list[Any] = []

    async def store(events: list[WriteEvent]) -> None:
        batches.append(list(events))
        if len(batches) == 1:
            entered.set()
            await release.wait()

    async def audit(refusal: Any) -> None:
        refusals.append(refusal)

    rig.device.set_write_batch_hook(store)
    rig.device._app.refusal_hook = audit  # type: ignore[attr-defined]
    first = asyncio.create_task(
        rig.write("AO:1", "present-value", Real(10.0), priority=8), name="test-first-write"
    )
    async with asyncio.timeout(WAIT):
        await entered.wait()
    burst = []
    for value, priority in ((30.0, 9), (500.0, 8), (40.0, 8)):  # 500 is above max 50
        burst.append(
            asyncio.create_task(
                rig.write("AO:1", "present-value", Real(value), priority=priority),
                name=f"test-burst-write-{value}",
            )
        )
        await _wait_queued(rig, "AO:1", len(burst))  # queued in this order
    release.set()
    assert await first is None
    assert await asyncio.gather(*burst) == [None, "property:value-out-of-range", None]
    assert [[(e.new_value, e.priority) for e in batch] for batch in batches] == [
        [(10.0, 8)],
        [(30.0, 9), (40.0, 8)],
    ]
    _replay([e for batch in batches for e in batch], (None,) * 16, 20.0)
    assert [(r.value, r.priority, r.reason) for r in refusals] == [
        ("500.0", 8, "property: value-out-of-range")
    ]
    snap = rig.device.snapshot("AO:1")
    assert (snap.present_value, snap.priority_array[7], snap.priority_array[8]) == (
        40.0,
        40.0,
        30.0,
    )


async def test_write_property_multiple_runs_the_hook_and_names_the_failed_write(
    rig: Rig,
) -> None:
    def access(ref: str, value: Any) -> WriteAccessSpecification:
        return WriteAccessSpecification(
            objectIdentifier=rig.oid(ref),
            listOfProperties=[
                PropertyValue(
                    propertyIdentifier="present-value",
                    value=AnyValue(value),
                    priority=9,
                )
            ],
        )

    good = WritePropertyMultipleRequest(
        listOfWriteAccessSpecs=[access("AO:1", Real(31.0)), access("MSO:1", Unsigned(2))],
        destination=rig.server,
    )
    assert await rig.send(good) is None
    assert [(str(e.ref), e.new_value, e.priority) for e in rig.events] == [
        ("analog-output,1", 31.0, 9),
        ("multi-state-output,1", 2, 9),
    ]
    bad = WritePropertyMultipleRequest(
        listOfWriteAccessSpecs=[access("AV:1", Real(5.0)), access("MSO:1", Unsigned(9))],
        destination=rig.server,
    )
    assert await rig.send(bad) == "property:value-out-of-range"
    assert rig.device.snapshot("AV:1").present_value == 5.0  # writes before the failure stay
    assert rig.device.snapshot("MSO:1").present_value == 2


# ---- objects while running


async def test_objects_added_and_removed_while_running_follow_in_object_list(rig: Rig) -> None:
    revision = await rig.read("device,8888", "database-revision")
    spec = ObjectSpec("AV", 2, virtual_object_name(8, "New"), present_value=4.0)
    assert rig.device.add_object(spec) == ObjectRef("analog-value", 2)
    assert ObjectRef("analog-value", 2) in await rig.read("device,8888", "object-list")
    assert await rig.read("AV:2", "present-value") == 4.0
    assert rig.device.get("AV:2").name == "Virtual_8_New"

    rig.device.remove_object("AV:2")
    assert ObjectRef("analog-value", 2) not in await rig.read("device,8888", "object-list")
    assert await rig.read_error("AV:2", "present-value") == "object:unknown-object"
    assert await rig.read("device,8888", "database-revision") == revision + 2
    assert ObjectRef("analog-value", 2) not in rig.device.objects()


# ---- change of value


async def test_cov_subscriber_is_notified_only_of_changes_beyond_the_increment(
    rig: Rig,
) -> None:
    async with rig.client.change_of_value(rig.server, rig.oid("AI:1"), 1, False, 60) as sub:
        assert await _next_present_value(sub) == 21.5  # the initial notification
        rig.device.set_present_value("AI:1", 21.8)  # 0.3 < increment 0.5
        with pytest.raises(TimeoutError):
            await _next_present_value(sub, timeout=0.5)
        rig.device.set_present_value("AI:1", 22.1)  # 0.6 from the last reported 21.5
        assert await _next_present_value(sub) == pytest.approx(22.1)


async def test_cov_subscriber_is_notified_of_an_external_command(rig: Rig) -> None:
    async with rig.client.change_of_value(rig.server, rig.oid("BO:1"), 2, True, 60) as sub:
        assert await _next_present_value(sub) == "inactive"
        assert await rig.write("BO:1", "present-value", Enumerated(1), priority=8) is None
        assert await _next_present_value(sub) == "active"


async def test_removing_an_object_ends_its_cov_subscriptions(rig: Rig) -> None:
    spec = ObjectSpec("AV", 3, virtual_object_name(8, "Temp"), present_value=1.0)
    rig.device.add_object(spec)
    async with rig.client.change_of_value(rig.server, rig.oid("AV:3"), 3, False, 60) as old:
        assert await _next_present_value(old) == 1.0
        rig.device.remove_object("AV:3")
        rig.device.add_object(spec)  # same identifier again: a new object, no subscribers
        # while the old subscriber is still around, a new one must be served by the new object
        async with rig.client.change_of_value(rig.server, rig.oid("AV:3"), 4, False, 60) as new:
            assert await _next_present_value(new) == 1.0
            rig.device.set_present_value("AV:3", 3.0)
            assert await _next_present_value(new) == 3.0
        with pytest.raises(TimeoutError):
            await _next_present_value(old, timeout=0.3)


async def _next_present_value(sub: Any, timeout: float = WAIT) -> Any:
    """The next present-value in the subscription's queue (status-flags are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            prop, value = await sub.get_value()
            if str(prop) == "present-value":
                return to_python(value)
