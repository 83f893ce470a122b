"""Client writes, relinquish and error mapping against real bacpypes3 peers."""

from __future__ import annotations

import time

import pytest
from bacpypes3.apdu import AbortPDU, Error, RejectPDU

from bms.bacnet.client import check_returned
from bms.bacnet.errors import (
    AbortResponse,
    BACnetTimeoutError,
    ErrorResponse,
    InvalidValueError,
    RejectResponse,
)
from bms.bacnet.types import ObjectRef
from tests.bacnet.client_peers import count_requests

AO = ObjectRef("analog-output", 1)
BO = ObjectRef("binary-output", 1)
MSV = ObjectRef("multi-state-value", 1)


@pytest.fixture
async def peer_and_client(rig):
    await rig.peer(2, 1001)
    client = await rig.client()
    return rig.address(2), client


async def test_write_at_priority_8_lands_in_priority_array_slot_8(peer_and_client):
    address, client = peer_and_client
    await client.write_property(address, AO, 42.5, priority=8)
    assert await client.read_property(address, AO, "priority-array", 8) == 42.5
    assert await client.read_property(address, AO, "priority-array", 9) is None
    assert await client.read_property(address, AO, "present-value") == 42.5


async def test_relinquish_empties_the_slot_and_the_value_falls_back(peer_and_client):
    address, client = peer_and_client
    await client.write_property(address, AO, 42.5, priority=8)
    await client.relinquish(address, AO, 8)
    assert await client.read_property(address, AO, "priority-array", 8) is None
    assert await client.read_property(address, AO, "present-value") == 0.0  # relinquish default


async def test_a_higher_priority_wins_until_it_is_relinquished(peer_and_client):
    address, client = peer_and_client
    await client.write_property(address, AO, 10, priority=10)
    await client.write_property(address, AO, 90, priority=5)
    assert await client.read_property(address, AO, "present-value") == 90.0
    await client.relinquish(address, AO, 5)
    assert await client.read_property(address, AO, "present-value") == 10.0


async def test_binary_and_multistate_writes_take_plain_values(peer_and_client):
    address, client = peer_and_client
    await client.write_property(address, BO, True, priority=8)
    await client.write_property(address, MSV, 3, priority=8)
    assert await client.read_property(address, BO, "present-value") == "active"
    assert await client.read_property(address, MSV, "present-value") == 3


async def test_other_properties_can_be_written(peer_and_client):
    address, client = peer_and_client
    await client.write_property(address, AO, "Radiator valve", property="description")
    assert await client.read_property(address, AO, "description") == "Radiator valve"


@pytest.mark.parametrize("priority", [0, 17, -1, True])
async def test_a_priority_outside_1_to_16_is_refused_before_sending(rig, peer_and_client, priority):
    address, client = peer_and_client
    sent = count_requests(rig.client_app)
    with pytest.raises(InvalidValueError):
        await client.write_property(address, AO, 1.0, priority=priority)
    with pytest.raises(InvalidValueError):
        await client.relinquish(address, AO, priority)
    assert sum(sent.values()) == 0


async def test_values_that_do_not_fit_are_refused_before_sending(rig, peer_and_client):
    address, client = peer_and_client
    sent = count_requests(rig.client_app)
    with pytest.raises(InvalidValueError):
        await client.write_property(address, AO, "warm", priority=8)
    with pytest.raises(InvalidValueError):
        await client.write_property(address, BO, "half", priority=8)
    with pytest.raises(InvalidValueError):
        await client.write_property(address, AO, None)  # relinquish without a priority
    assert sum(sent.values()) == 0


async def test_unknown_object_is_an_error_response(peer_and_client):
    address, client = peer_and_client
    with pytest.raises(ErrorResponse) as caught:
        await client.read_property(address, ObjectRef("analog-input", 99), "present-value")
    assert (caught.value.error_class, caught.value.error_code) == ("object", "unknown-object")
    with pytest.raises(ErrorResponse) as caught:
        await client.write_property(address, ObjectRef("analog-value", 99), 1.0, priority=8)
    assert caught.value.error_code == "unknown-object"


async def test_unknown_property_is_an_error_response(peer_and_client):
    address, client = peer_and_client
    with pytest.raises(ErrorResponse) as caught:
        await client.read_property(address, ObjectRef("analog-input", 1), "state-text")
    assert caught.value.error_code == "unknown-property"


async def test_a_silent_address_times_out_within_the_bound(rig):
    client = await rig.client(timeout=0.3, retries=1)
    sent = count_requests(rig.client_app)
    started = time.monotonic()
    with pytest.raises(BACnetTimeoutError):
        await client.read_property(f"127.0.0.250:{rig.port}", "AI:1", "present-value")
    elapsed = time.monotonic() - started
    # Two attempts of 0.3 s; bacpypes3's own timer would wait 3 s for the first alone. The upper
    # bound tells the two apart with room for a loaded machine.
    assert 0.55 <= elapsed < 2.0
    assert sent == {"ReadPropertyRequest": 2}  # the first try and one retry


async def test_a_bad_address_is_invalid_input(rig):
    client = await rig.client()
    with pytest.raises(InvalidValueError):
        await client.read_property("not an address", "AI:1", "present-value")


def test_errors_returned_by_bacpypes3_are_raised_as_ours():
    with pytest.raises(ErrorResponse) as caught:
        check_returned(
            Error(service_choice=15, errorClass="property", errorCode="writeAccessDenied"),
            "write",
        )
    assert (caught.value.error_class, caught.value.error_code) == (
        "property",
        "write-access-denied",
    )
    with pytest.raises(RejectResponse) as rejected:
        check_returned(RejectPDU(reason="unrecognizedService"), "read")
    assert rejected.value.error_code == "unrecognized-service"
    with pytest.raises(AbortResponse) as aborted:
        check_returned(AbortPDU(reason="segmentationNotSupported"), "read")
    assert aborted.value.error_code == "segmentation-not-supported"
    with pytest.raises(BACnetTimeoutError):
        check_returned(AbortPDU(reason="noResponse"), "read")
    assert check_returned(42.0, "read") == 42.0
