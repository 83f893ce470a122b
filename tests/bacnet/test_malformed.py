"""Malformed datagrams over real UDP: dropped, counted by layer, summarised, device unharmed.

Device 8888 on 127.0.0.2, a bacpypes3 client on 127.0.0.3 (ReadProperty before and after),
and a plain UDP socket on 127.0.0.4 sending the garbage, all on the test's own port.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import pytest
from bacpypes3.app import Application
from bacpypes3.errors import DecodingError
from bacpypes3.ipv4.bvll import LPDU
from bacpypes3.npdu import NPDU
from bacpypes3.pdu import PDU, Address
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.device import ObjectSpec, serve_device
from bms.bacnet.malformed import MalformedDatagrams, classify, malformed_datagrams
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import ObjectRef
from tests.bacnet.fuzzing import SEEDS, LogBytes, capture_logs, send_mutations

WAIT = 5.0

# Each is refused by the layer named; counted exactly once.
MALFORMED = (
    ("link", b""),
    ("link", bytes(10)),  # not BACnet/IP (BVLC type 0x00)
    ("link", bytes.fromhex("810a00ff0104")),  # a BVLC length that is not the datagram's
    ("link", bytes.fromhex("81990004")),  # an unknown BVLC function
    ("network", bytes.fromhex("810a0004")),  # a BVLC with no NPDU in it
    ("network", bytes.fromhex("810a000802040000")),  # NPDU version 2
    ("network", bytes.fromhex("810a000501")),  # an NPDU cut after its version
    ("application", bytes.fromhex("810a00090104f00000")),  # APDU type 15
    ("application", bytes.fromhex("810a000a01040005017f")),  # unknown service choice
    ("application", bytes.fromhex("810a00130104000504051c000000012900393c")),  # no process id
)


@dataclass
class Rig:
    app: Application
    client: Application
    guard: MalformedDatagrams
    port: int

    def send(self, datagrams: Iterable[bytes]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.4", self.port))
            for datagram in datagrams:
                sock.sendto(datagram, ("127.0.0.2", self.port))

    async def settled(self, dropped: int) -> None:
        """Wait until `dropped` datagrams were counted and none is still being decoded."""
        async with asyncio.timeout(WAIT):
            while self.guard.dropped < dropped or self.guard.in_flight():
                await asyncio.sleep(0.01)

    async def read_object_name(self) -> str:
        """A property no mutation can write: the device answering is all it shows."""
        async with asyncio.timeout(WAIT):
            value = await self.client.read_property(
                Address(f"127.0.0.2:{self.port}"),
                ObjectIdentifier(("analog-input", 1)),
                "object-name",
            )
        return str(value)


@pytest.fixture
async def rig(bacnet_port: int) -> AsyncIterator[Rig]:
    app, _device = await serve_device(
        EngineConfig(address=f"127.0.0.2/8:{bacnet_port}"),
        objects=[
            ObjectSpec("AO", 1, "Setpoint", relinquish_default=20.0),
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
    guard = malformed_datagrams(app)
    assert guard is not None, "open_application guards every application's receive path"
    yield Rig(app, client, guard, bacnet_port)
    close_application(client)
    close_application(app)


def warnings_and_worse(logs: LogBytes) -> list[str]:
    return [r.getMessage() for r in logs.records if r.levelno >= logging.WARNING]


async def test_malformed_datagrams_are_counted_by_layer_and_the_device_still_answers(
    rig: Rig, capfd: pytest.CaptureFixture[str]
) -> None:
    assert await rig.read_object_name() == "RoomTemp"
    with capture_logs() as logs:
        rig.send(datagram for _kind, datagram in MALFORMED)
        await rig.settled(len(MALFORMED))
        gc.collect()  # an unretrieved task exception is reported when the task is collected
        await asyncio.sleep(0.05)
        assert await rig.read_object_name() == "RoomTemp"
        assert warnings_and_worse(logs) == []  # nothing yet: one summary per period
    expected: dict[str, int] = {}
    for kind, _datagram in MALFORMED:
        expected[kind] = expected.get(kind, 0) + 1
    assert dict(rig.guard.totals) == expected
    assert capfd.readouterr().err == ""


async def test_one_summary_per_period_says_how_many_of_which_kind_and_who_sent_the_last(
    rig: Rig,
) -> None:
    rig.guard.summary_seconds = 0.3
    with capture_logs() as logs:
        rig.send([bytes(4)] * 30 + [bytes.fromhex("810a00090104f00000")])
        await rig.settled(31)
        await asyncio.sleep(0.5)
        rig.send([bytes(4)] * 5)
        await rig.settled(36)
        await asyncio.sleep(0.5)
    assert warnings_and_worse(logs) == [
        "31 malformed datagrams in the last 0.3 s: link 30, application 1 (last from "
        f"127.0.0.4:{rig.port}, application: DecodingError: invalid APDU type)",
        "5 malformed datagrams in the last 0.3 s: link 5 (last from "
        f"127.0.0.4:{rig.port}, link: not a BACnet/IP datagram)",
    ]


async def test_closing_the_application_logs_what_the_period_had_not_reported(rig: Rig) -> None:
    with capture_logs() as logs:
        rig.send([bytes(4)] * 3)
        await rig.settled(3)
        close_application(rig.app)
    assert [m.split(" (")[0] for m in warnings_and_worse(logs)] == [
        "3 malformed datagrams in the last 60 s: link 3"
    ]


async def test_valid_datagrams_are_not_counted(rig: Rig) -> None:
    with capture_logs() as logs:
        rig.send(SEEDS)
        await asyncio.sleep(0.3)
        await rig.settled(0)
        rig.guard.flush()
    assert rig.guard.dropped == 0
    assert warnings_and_worse(logs) == []


async def test_mutated_datagrams_leave_the_device_answering_with_a_bounded_log(
    rig: Rig, capfd: pytest.CaptureFixture[str]
) -> None:
    with capture_logs() as logs:
        campaign = await send_mutations(
            ("127.0.0.2", rig.port), "127.0.0.4", 1000, seed=11, received=lambda: rig.guard.received
        )
        await rig.settled(1)
        gc.collect()
        assert await rig.read_object_name() == "RoomTemp"
        rig.guard.flush()
    assert campaign.sent == 1000
    assert rig.guard.dropped > 300  # most mutations break a layer; the rest decode
    assert rig.guard.totals["internal"] == 0
    assert len(warnings_and_worse(logs)) == 1  # the one summary
    assert logs.octets < 2000
    assert len(capfd.readouterr().err) < 2000


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_twenty_thousand_mutated_datagrams_leave_the_device_answering(
    rig: Rig, capfd: pytest.CaptureFixture[str]
) -> None:
    """The bounded campaign of issue 11 (bench/fuzz.py runs the full size and prints figures)."""
    with capture_logs() as logs:
        campaign = await send_mutations(
            ("127.0.0.2", rig.port),
            "127.0.0.4",
            20_000,
            seed=20,
            max_seconds=40.0,
            received=lambda: rig.guard.received,
        )
        await rig.settled(1)
        gc.collect()
        answers = [await rig.read_object_name() for _ in range(20)]
        rig.guard.flush()
    assert campaign.sent >= 10_000, f"only {campaign.sent} sent in {campaign.seconds:.1f} s"
    assert rig.guard.received >= campaign.sent  # paced: the kernel dropped none
    assert answers == ["RoomTemp"] * 20
    assert rig.guard.dropped > campaign.sent * 0.3
    assert rig.guard.totals["internal"] == 0
    assert logs.octets < 4000
    assert len(capfd.readouterr().err) < 4000


# ---- classify: which layer refused a datagram, from the frames it was raised in


def _raised(call: object) -> BaseException:
    try:
        call()  # type: ignore[operator]
    except Exception as exc:
        return exc
    raise AssertionError("did not raise")


def test_classify_names_the_bacpypes3_layer_that_refused_the_datagram() -> None:
    bvll = _raised(lambda: LPDU.decode(PDU(bytes.fromhex("810a0009"))))
    npdu = _raised(lambda: NPDU.decode(PDU(bytes.fromhex("01"))))  # a short read in PDU.get
    assert isinstance(bvll, DecodingError)
    assert isinstance(npdu, DecodingError)
    assert classify(bvll.__traceback__) == "link"
    assert classify(npdu.__traceback__) == "network"


def test_classify_calls_an_exception_from_our_own_code_internal() -> None:
    ours = _raised(lambda: ObjectRef.parse("no such object"))
    assert classify(ours.__traceback__) == "internal"
    assert classify(None) == "other"
