"""Every refused external write answers its own BACnet error and reaches the refusal hook.

Device 8888 on 127.0.0.2 with a refusal hook recording what it is told; a bacpypes3 client on
127.0.0.3 and a plain UDP socket on 127.0.0.4 (for datagrams no client library would build),
all on the test's own port.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from bacpypes3.apdu import ErrorRejectAbortNack, WritePropertyRequest
from bacpypes3.app import Application
from bacpypes3.basetypes import PropertyIdentifier
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import CharacterString, ObjectIdentifier, Real

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import ObjectSpec, serve_device
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import RefusedWrite
from bms.bacnet.values import to_python

WAIT = 5.0

# WriteProperty AO 1 present-value = CharacterString "hello", priority 8 (issue 11).
STRING_TO_AO1 = bytes.fromhex("810a001d01040005010f0c0040000119553e75060068656c6c6f3f4908")
# WriteProperty AO 1 present-value = a Real tag with one data octet (0x41 0x00), priority 8.
SHORT_REAL_TO_AO1 = bytes.fromhex("810a001701040005020f0c0040000119553e41003f4908")
INVALID_DATA_TYPE = "property:invalid-data-type"


@dataclass
class Rig:
    app: Application
    client: Application
    port: int
    refusals: list[RefusedWrite] = field(default_factory=list)

    async def write(
        self,
        ref: tuple[str, int],
        prop: str,
        value: Any,
        *,
        priority: int | None = None,
        index: int | None = None,
    ) -> str | None:
        """A WriteProperty through bacpypes3; None on ack, else "class:code"."""
        request = WritePropertyRequest(
            objectIdentifier=ObjectIdentifier(ref),
            propertyIdentifier=PropertyIdentifier(prop),
            propertyValue=AnyValue(value),
            destination=Address(f"127.0.0.2:{self.port}"),
        )
        if priority is not None:
            request.priority = priority
        if index is not None:
            request.propertyArrayIndex = index
        try:
            async with asyncio.timeout(WAIT):
                await self.client.request(request)
        except ErrorRejectAbortNack as err:
            return f"{err.errorClass}:{err.errorCode}"  # type: ignore[attr-defined]
        return None

    async def send_raw(self, datagram: bytes) -> bytes:
        """Send one datagram from 127.0.0.4 and return the APDU of the answer."""
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.4", self.port))
            sock.setblocking(False)
            sock.sendto(datagram, ("127.0.0.2", self.port))
            async with asyncio.timeout(WAIT):
                answer = await loop.sock_recv(sock, 2048)
        return answer[6:]  # BVLC (4) and NPDU (2: version, no control bits)

    async def read(self, ref: tuple[str, int], prop: str) -> Any:
        async with asyncio.timeout(WAIT):
            value = await self.client.read_property(
                Address(f"127.0.0.2:{self.port}"), ObjectIdentifier(ref), prop
            )
        return to_python(value)


@pytest.fixture
async def rig(bacnet_port: int) -> AsyncIterator[Rig]:
    app, _device = await serve_device(
        EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"),
        objects=[
            ObjectSpec("AO", 1, "Setpoint", min_value=0.0, max_value=50.0, relinquish_default=20.0),
            ObjectSpec("AI", 1, "RoomTemp", present_value=21.5),
        ],
    )
    try:
        client: Application = await open_application(
            EngineConfig(address=f"127.0.0.3/8:{bacnet_port}", device_instance=9001)
        )
    except BaseException:
        close_application(app)
        raise
    rig = Rig(app, client, bacnet_port)

    async def audit(refusal: RefusedWrite) -> None:
        rig.refusals.append(refusal)

    app.refusal_hook = audit  # type: ignore[attr-defined]
    yield rig
    close_application(client)
    close_application(app)


def audited(refusal: RefusedWrite) -> tuple[str, str, str | None, int | None, str]:
    return (refusal.object_id, refusal.property, refusal.value, refusal.priority, refusal.reason)


async def test_a_write_to_an_unknown_object_is_refused_and_audited(rig: Rig) -> None:
    assert await rig.write(("analog-output", 99), "present-value", Real(1.0)) == (
        "object:unknown-object"
    )
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,99", "present-value", "1.0", None, "object: unknown-object")
    ]
    assert rig.refusals[0].source_address == f"127.0.0.3:{rig.port}"


async def test_a_write_to_an_input_in_service_is_refused_and_audited(rig: Rig) -> None:
    assert await rig.write(("analog-input", 1), "present-value", Real(5.0)) == (
        "property:write-access-denied"
    )
    assert await rig.read(("analog-input", 1), "present-value") == 21.5
    assert [audited(r) for r in rig.refusals] == [
        ("analog-input,1", "present-value", "5.0", None, "property: write-access-denied")
    ]


async def test_a_write_to_a_read_only_property_is_refused_and_audited(rig: Rig) -> None:
    assert await rig.write(("analog-output", 1), "object-name", CharacterString("x")) == (
        "property:write-access-denied"
    )
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,1", "object-name", "x", None, "property: write-access-denied")
    ]


async def test_a_string_written_to_an_analog_output_is_invalid_data_type_and_audited(
    rig: Rig,
) -> None:
    assert await rig.write(("analog-output", 1), "present-value", CharacterString("hi")) == (
        INVALID_DATA_TYPE
    )
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,1", "present-value", "hi", None, "property: invalid-data-type")
    ]


async def test_the_datagram_of_issue_11_answers_invalid_data_type_and_is_audited(
    rig: Rig,
) -> None:
    apdu = await rig.send_raw(STRING_TO_AO1)
    assert apdu.hex() == "50010f91029109"  # Error, invoke 1, WriteProperty: property/9
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,1", "present-value", "hello", 8, "property: invalid-data-type")
    ]
    assert rig.refusals[0].source_address == f"127.0.0.4:{rig.port}"
    assert await rig.read(("analog-output", 1), "present-value") == 20.0


async def test_a_real_with_one_data_octet_answers_invalid_data_type_and_is_audited(
    rig: Rig,
) -> None:
    apdu = await rig.send_raw(SHORT_REAL_TO_AO1)
    assert apdu.hex() == "50020f91029109"
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,1", "present-value", "undecodable: 4100", 8, "property: invalid-data-type")
    ]


@pytest.mark.parametrize("priority", [0, 17])
async def test_a_priority_outside_1_to_16_is_refused_and_audited_with_it(
    rig: Rig, priority: int
) -> None:
    assert await rig.write(
        ("analog-output", 1), "present-value", Real(30.0), priority=priority
    ) == ("services:parameter-out-of-range")
    assert await rig.read(("analog-output", 1), "present-value") == 20.0
    assert [audited(r) for r in rig.refusals] == [
        (
            "analog-output,1",
            "present-value",
            "30.0",
            None,
            f"services: parameter-out-of-range (priority {priority})",
        )
    ]


async def test_an_array_index_on_a_property_that_is_no_array_is_refused_and_audited(
    rig: Rig,
) -> None:
    assert await rig.write(("analog-output", 1), "present-value", Real(30.0), index=1) == (
        "property:property-is-not-an-array"
    )
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,1", "present-value", "30.0", None, "property: property-is-not-an-array")
    ]


async def test_a_description_holding_nul_is_refused_as_out_of_range_and_audited_escaped(
    rig: Rig,
) -> None:
    assert await rig.write(("analog-output", 1), "description", CharacterString("a\x00b")) == (
        "property:value-out-of-range"
    )
    assert await rig.read(("analog-output", 1), "description") == ""
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,1", "description", "a\\x00b", None, "property: value-out-of-range")
    ]
    assert await rig.write(("analog-output", 1), "description", CharacterString("ab")) is None


async def test_a_value_out_of_range_is_still_refused_and_audited(rig: Rig) -> None:
    assert await rig.write(("analog-output", 1), "present-value", Real(99.0), priority=8) == (
        "property:value-out-of-range"
    )
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,1", "present-value", "99.0", 8, "property: value-out-of-range")
    ]


async def test_a_writable_property_the_hook_does_not_store_is_refused_and_audited(
    rig: Rig,
) -> None:
    # An ack promises the value outlives a restart: what is not stored is not writable.
    rig.app.stored_properties = frozenset({"present-value"})  # type: ignore[attr-defined]
    assert await rig.write(("analog-output", 1), "description", CharacterString("new")) == (
        "property:write-access-denied"
    )
    assert await rig.read(("analog-output", 1), "description") == ""
    assert await rig.write(("analog-output", 1), "present-value", Real(30.0), priority=8) is None
    assert [audited(r) for r in rig.refusals] == [
        ("analog-output,1", "description", "new", None, "property: write-access-denied")
    ]
