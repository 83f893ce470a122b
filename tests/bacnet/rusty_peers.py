"""rusty-bacnet (an independent Rust BACnet stack) as a client of our device, on loopback.

rusty-bacnet cannot share a UDP port with bacpypes3: it binds its broadcast listener with
SO_REUSEADDR, bacpypes3 binds with SO_REUSEPORT, and Linux refuses the pair. So the Rust client
binds 127.0.0.3 on a port of its own and talks to our device by unicast (a directed Who-Is
stands in for the broadcast one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rusty_bacnet import (
    BACnetClient,
    CovNotification,
    CovNotificationIterator,
    ObjectIdentifier,
    ObjectType,
    PropertyValue,
)

from bms.bacnet.types import ObjectRef
from tests.bacnet.client_peers import free_udp_port

RUSTY_HOST = "127.0.0.3"
WAIT = 5.0  # upper bound for any single exchange on loopback


@asynccontextmanager
async def rusty_client(apdu_timeout_ms: int = 2000) -> AsyncIterator[BACnetClient]:
    client = BACnetClient(
        interface=RUSTY_HOST,
        port=free_udp_port(),
        broadcast_address="127.255.255.255",
        apdu_timeout_ms=apdu_timeout_ms,
        share_port_by_address=True,  # bind 127.0.0.3 itself, not 0.0.0.0
    )
    async with client:
        yield client


def rusty_oid(ref: ObjectRef | str) -> ObjectIdentifier:
    """ "AI:1" / ObjectRef("analog-input", 1) -> rusty's ObjectIdentifier(ANALOG_INPUT, 1)."""
    if isinstance(ref, str):
        ref = ObjectRef.parse(ref)
    object_type = getattr(ObjectType, ref.object_type.upper().replace("-", "_"))
    return ObjectIdentifier(object_type, ref.instance)


def status_flags(value: PropertyValue) -> tuple[bool, bool, bool, bool]:
    """A status-flags bit string as (in-alarm, fault, overridden, out-of-service)."""
    assert value.tag == "bit_string", value
    bits = value.value
    assert bits["unused_bits"] == 4, bits
    assert len(bits["data"]) == 1, bits
    octet = bits["data"][0]
    return (bool(octet & 0x80), bool(octet & 0x40), bool(octet & 0x20), bool(octet & 0x10))


def notified_values(notification: CovNotification) -> dict[str, Any]:
    """{"present-value": 21.5, "status-flags": (False, False, False, True)} of a notification."""
    values: dict[str, Any] = {}
    for entry in notification.values:
        name = repr(entry["property_id"]).rsplit(".", 1)[-1].lower().replace("_", "-")
        value = entry["value"]
        values[name] = status_flags(value) if name == "status-flags" else value.value
    return values


async def next_notification(
    notifications: CovNotificationIterator, timeout: float = WAIT
) -> CovNotification:
    return await asyncio.wait_for(notifications.__anext__(), timeout)
