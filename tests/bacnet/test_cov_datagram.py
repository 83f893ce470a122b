"""cov_datagram takes plain unconfirmed COV notifications of our subscriptions straight from the
datagram: over real UDP, the same datagram read by bacpypes3's layers gives the same
CovNotification, and every other datagram goes to bacpypes3 as before."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from bms.bacnet import cov_datagram
from bms.bacnet.types import CovNotification, ObjectRef
from tests.bacnet.client_peers import local_object

AI = ObjectRef("analog-input", 1)
WAIT = 10.0  # bounds waits for a notification due at once (a loaded machine may be slow)


def record_datagrams(app: Any) -> list[tuple[bytes, tuple[str, int]]]:
    """Every datagram the client's unicast socket receives, before the fast path sees it."""
    receiver = cov_datagram.receiver_of(app)
    assert receiver is not None
    protocol = next(
        link.server.local_protocol
        for link in app.link_layers.values()
        if getattr(link.server.local_protocol, cov_datagram.INSTALLED, None) is receiver
    )
    seen: list[tuple[bytes, tuple[str, int]]] = []
    fast = protocol.datagram_received

    def recording(data: bytes, addr: tuple[str, int]) -> None:
        seen.append((bytes(data), addr))
        fast(data, addr)

    protocol.datagram_received = recording
    return seen


async def subscribed(rig: Any, **options: Any) -> tuple[Any, asyncio.Queue[CovNotification]]:
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    queue: asyncio.Queue[CovNotification] = asyncio.Queue()
    await client.subscribe_cov(rig.address(2), AI, queue.put_nowait, lifetime=60, **options)
    await asyncio.wait_for(queue.get(), WAIT)  # the current value, sent at once
    return peer, queue


async def test_the_same_datagram_gives_the_same_notification_through_bacpypes3(rig):
    peer, queue = await subscribed(rig)
    receiver = cov_datagram.receiver_of(rig.client_app)
    assert receiver is not None
    assert receiver.taken == 1
    datagrams = record_datagrams(rig.client_app)

    local_object(peer, AI).presentValue = 30.0
    fast = await asyncio.wait_for(queue.get(), WAIT)
    assert receiver.taken == 2
    assert fast.values == {"present-value": 30.0, "status-flags": (False, False, False, False)}

    data, addr = datagrams[-1]
    receiver._bacpypes3(data, addr)  # the same octets through bacpypes3's layers
    slow = await asyncio.wait_for(queue.get(), WAIT)
    assert receiver.taken == 2
    assert slow == fast


async def test_confirmed_notifications_are_left_to_bacpypes3(rig):
    peer, queue = await subscribed(rig, confirmed=True)
    local_object(peer, AI).presentValue = 31.0
    change = await asyncio.wait_for(queue.get(), WAIT)
    assert change.confirmed
    assert change.values["present-value"] == 31.0
    receiver = cov_datagram.receiver_of(rig.client_app)
    assert receiver is not None
    assert receiver.taken == 0


async def test_a_notification_for_no_subscription_of_ours_goes_to_bacpypes3(rig):
    peer, queue = await subscribed(rig)
    receiver = cov_datagram.receiver_of(rig.client_app)
    assert receiver is not None
    datagrams = record_datagrams(rig.client_app)
    local_object(peer, AI).presentValue = 32.0
    await asyncio.wait_for(queue.get(), WAIT)
    data = bytearray(datagrams[-1][0])
    # The process id is the first parameter (context tag 0, 1-4 octets): make it one not ours.
    assert data[8] >> 4 == 0
    assert data[8] & 0x08
    data[9] ^= 0x55
    host, port = rig.address(2).split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind((host, 0))  # not the subscribed device's address/port
        sender.sendto(bytes(data), ("127.0.0.1", int(port)))
        await asyncio.sleep(0.3)
    assert receiver.taken == 2
    assert queue.empty()


PLAIN = bytes.fromhex("810a001901001002") + bytes(17)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("forwarded NPDU", b"\x81\x04" + PLAIN[2:]),
        ("broadcast NPDU", b"\x81\x0b" + PLAIN[2:]),
        ("length not the datagram's", PLAIN[:3] + b"\x18" + PLAIN[4:]),
        ("NPDU with a source network", PLAIN[:5] + b"\x08" + PLAIN[6:]),
        ("network-layer message", PLAIN[:5] + b"\x80" + PLAIN[6:]),
        ("expecting a reply", PLAIN[:5] + b"\x04" + PLAIN[6:]),
        ("confirmed request", PLAIN[:6] + b"\x00\x05" + PLAIN[8:]),
        ("another unconfirmed service", PLAIN[:7] + b"\x08" + PLAIN[8:]),
        ("no parameters", PLAIN[:2] + b"\x00\x08" + PLAIN[4:8]),
    ],
)
def test_only_a_plain_unicast_unconfirmed_cov_header_is_taken(name, data):
    assert cov_datagram._plain_unconfirmed_cov(PLAIN)
    assert not cov_datagram._plain_unconfirmed_cov(data), name
