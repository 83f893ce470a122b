"""Malformed and mutated BACnet/IP datagrams, sent over real UDP to a running device.

Shared by tests/bacnet/test_malformed.py and bench/fuzz.py (the full-size campaign). Seeds
are valid datagrams to device objects AO 1 / AI 1; mutations flip, overwrite, insert and cut
octets, mostly keeping the BVLC length right so the damage reaches the deeper layers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Valid datagrams (BVLC + NPDU + APDU), each checked by test_valid_seeds_are_not_counted.
READ_AO1_PRESENT_VALUE = bytes.fromhex("810a001101040005010c0c004000011955")
SEEDS = (
    READ_AO1_PRESENT_VALUE,
    # WriteProperty AO 1 present-value = CharacterString "hello" (a wrong datatype), priority 8
    bytes.fromhex("810a001d01040005010f0c0040000119553e75060068656c6c6f3f4908"),
    # WriteProperty AO 1 present-value = Real 21.5, priority 8
    bytes.fromhex("810a001a01040005020f0c0040000119553e4441ac00003f4908"),
    # ReadPropertyMultiple AI 1 present-value and status-flags
    bytes.fromhex("810a001501040005030e0c000000011e0955096f1f"),
    # Who-Is, global broadcast, no range
    bytes.fromhex("810b000c0120ffff00ff1008"),
    # SimpleAck of WriteProperty (an answer nobody asked for)
    bytes.fromhex("810a0009010020010f"),
    # SubscribeCOV AI 1, process 7, unconfirmed, lifetime 60 s
    bytes.fromhex("810a001501040005040509071c000000012900393c"),
)


def mutate(rnd: random.Random, datagram: bytes) -> bytes:
    """One random mutation of `datagram`; the BVLC length is fixed up 70% of the time."""
    data = bytearray(datagram)
    operation = rnd.randrange(5)
    if operation == 0:
        data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
    elif operation == 1:
        del data[rnd.randrange(len(data)) :]
    elif operation == 2:
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    elif operation == 3:
        data.insert(rnd.randrange(len(data) + 1), rnd.randrange(256))
    else:
        for _ in range(3):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
    if len(data) >= 4 and data[0] == 0x81 and rnd.random() < 0.7:
        data[2:4] = len(data).to_bytes(2, "big")
    return bytes(data)


def mutations(seed: int) -> Iterator[bytes]:
    rnd = random.Random(seed)
    while True:
        yield mutate(rnd, rnd.choice(SEEDS))


@dataclass
class Campaign:
    sent: int = 0
    answers: int = 0  # datagrams the device sent back to the fuzzer while it ran
    seconds: float = 0.0


async def send_mutations(
    target: tuple[str, int],
    source_host: str,
    count: int,
    *,
    seed: int = 1,
    max_seconds: float = 60.0,
    burst: int = 50,
    received: Callable[[], int] | None = None,
    max_backlog: int = 500,
) -> Campaign:
    """Send up to `count` mutated datagrams from source_host (same port) within max_seconds.

    Bursts of `burst` datagrams, then a yield to the loop (the device may run on it) and a
    drain of whatever came back. With `received` (the device's count of datagrams in), wait
    while more than `max_backlog` are in flight, so the kernel's buffers do not overflow and
    the device sees every datagram (else a fast sender measures mostly the kernel's drops).
    """
    campaign = Campaign()
    started = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source_host, target[1]))
        sock.setblocking(False)
        for datagram in mutations(seed):
            if campaign.sent >= count or time.monotonic() - started > max_seconds:
                break
            sock.sendto(datagram, target)
            campaign.sent += 1
            if campaign.sent % burst == 0:
                await asyncio.sleep(0.002)
                campaign.answers += _drain(sock)
                while received is not None and campaign.sent - received() > max_backlog:
                    if time.monotonic() - started > max_seconds:
                        break
                    await asyncio.sleep(0.002)
                    campaign.answers += _drain(sock)
        await asyncio.sleep(0.2)
        campaign.answers += _drain(sock)
    campaign.seconds = time.monotonic() - started
    return campaign


def _drain(sock: socket.socket) -> int:
    received = 0
    while True:
        try:
            sock.recv(2048)
        except BlockingIOError:
            return received
        received += 1


class LogBytes(logging.Handler):
    """Counts the octets the root logger would write at INFO and above (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.octets = 0
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.octets += len(self.format(record).encode()) + 1
        self.records.append(record)


class capture_logs:  # a context manager used like a function
    """Attach a LogBytes to the root logger at INFO for the duration of a `with`."""

    def __enter__(self) -> LogBytes:
        self.handler = LogBytes()
        root = logging.getLogger()
        self.level = root.level
        root.addHandler(self.handler)
        root.setLevel(logging.INFO)
        return self.handler

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.level)
