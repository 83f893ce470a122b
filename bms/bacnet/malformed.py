"""Datagrams bacpypes3 cannot decode: dropped, counted by kind, summarised once a minute.

bacpypes3's IPv4 socket protocol hands every datagram to its layers in a task it never keeps
(`asyncio.ensure_future(server.confirmation(pdu))`). A datagram that fails to decode in the
link (BVLL), network (NPDU) or application (APDU) layer raises inside that task, and asyncio
prints "Task exception was never retrieved" with a traceback: about 1 KB of log per datagram
from anyone who can reach our UDP port. bacpypes3 also logs a WARNING for every datagram that
is not BACnet/IP at all.

A request that decodes but makes one of bacpypes3's service handlers raise (a SubscribeCOV
without a lifetime, say) is answered device/operational-problem and logged by bacpypes3 with
its traceback, once per datagram too.

So `guard_receive` replaces `datagram_received` on the application's socket protocols with
one that keeps the task, drops what is not BACnet/IP (BVLC type 0x81) before bacpypes3 sees
it, and counts what bacpypes3 fails to decode by the layer that refused it ("link",
"network", "application"). What bacpypes3 logs at WARNING or above while it handles one of
our datagrams is counted too ("service"), and only the first such record of each period
reaches the log. One WARNING per `SUMMARY_SECONDS` says how many, of which kinds, and the
last sender. An exception raised from our own code is not bad input: it is counted as
"internal" and the first of each period is logged at ERROR with its traceback.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

from bacpypes3.app import Application
from bacpypes3.ipv4 import IPv4DatagramProtocol
from bacpypes3.pdu import PDU, IPv4Address

log = logging.getLogger(__name__)

SUMMARY_SECONDS = 60.0
BACNET_IP = 0x81  # BVLC type of BACnet/IP (Annex J); anything else is not ours to decode

# bacpypes3 modules by the layer that decodes in them; generic helpers (pdu, comm) are skipped
# so a short read in PDU.get() counts for the layer that asked for the octets.
_LAYERS = (
    ("bacpypes3.ipv4", "link"),
    ("bacpypes3.npdu", "network"),
    ("bacpypes3.netservice", "network"),
    ("bacpypes3.apdu", "application"),
    ("bacpypes3.appservice", "application"),
    ("bacpypes3.primitivedata", "application"),
    ("bacpypes3.constructeddata", "application"),
    ("bacpypes3.basetypes", "application"),
    ("bacpypes3.app", "application"),
    ("bacpypes3.service", "application"),
)
KINDS = ("link", "network", "application", "service", "other", "internal")

# Set in each receive task (and so in what it starts): whose datagram is being handled.
_handling: contextvars.ContextVar[tuple[MalformedDatagrams, Any]] = contextvars.ContextVar(
    "bacnet_datagram_being_handled"
)


def classify(traceback: TracebackType | None) -> str:
    """The kind of a receive failure from the frames below our receive task.

    Walking out from where it was raised: the first bacpypes3 layer met names the kind; our
    own code met first makes it "internal" (a bug, not bad input); "other" if neither is met.
    """
    modules = []
    while traceback is not None:
        modules.append(str(traceback.tb_frame.f_globals.get("__name__", "")))
        traceback = traceback.tb_next
    for name in reversed(modules):
        if name == "bms" or name.startswith("bms."):
            return "internal"
        for prefix, layer in _LAYERS:
            if name == prefix or name.startswith(prefix + "."):
                return layer
    return "other"


class MalformedDatagrams:
    """Counts what the receive path dropped; logs one summary per period at most."""

    def __init__(self, summary_seconds: float = SUMMARY_SECONDS) -> None:
        self.summary_seconds = summary_seconds
        self.received = 0  # datagrams of any kind, since start
        self.totals: Counter[str] = Counter()  # malformed ones by kind, since start
        self._period: Counter[str] = Counter()
        self._last = ""
        self._summary_handle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def dropped(self) -> int:
        return sum(self.totals.values())

    def in_flight(self) -> int:
        """Datagrams still being processed by bacpypes3 (diagnostics and tests)."""
        return len(self._tasks)

    def record(self, kind: str, source: Any, reason: str) -> None:
        self.totals[kind] += 1
        self._period[kind] += 1
        self._last = f"{source}, {kind}: {reason}"
        log.debug("dropped a malformed datagram from %s (%s): %s", source, kind, reason)
        if self._summary_handle is None:
            loop = asyncio.get_running_loop()
            self._summary_handle = loop.call_later(self.summary_seconds, self.flush)

    def flush(self) -> None:
        """Log the summary of the current period now (if anything was dropped) and end it."""
        if self._summary_handle is not None:
            self._summary_handle.cancel()
            self._summary_handle = None
        if not self._period:
            return
        counts = ", ".join(f"{kind} {self._period[kind]}" for kind in KINDS if self._period[kind])
        log.warning(
            "%d malformed datagrams in the last %g s: %s (last from %s)",
            sum(self._period.values()),
            self.summary_seconds,
            counts,
            self._last,
        )
        self._period.clear()

    def close(self) -> None:
        """Log what is left to say; datagrams still in flight finish on their own."""
        self.flush()

    # ---- the receive path

    def datagram_receiver(self, protocol: IPv4DatagramProtocol) -> Callable[[bytes, Any], None]:
        """A `datagram_received` for `protocol` that keeps its task and counts failures."""

        def datagram_received(data: bytes, addr: tuple[str, int]) -> None:
            self.received += 1
            source = IPv4Address(addr)
            if not data or data[0] != BACNET_IP:
                self.record("link", source, "not a BACnet/IP datagram")
                return
            pdu = PDU(data, source=source, destination=protocol.destination)
            task = asyncio.get_running_loop().create_task(
                self._receive(protocol, pdu), name=f"bacnet-receive-{addr[0]}:{addr[1]}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._received)

        return datagram_received

    async def _receive(self, protocol: IPv4DatagramProtocol, pdu: PDU) -> None:
        _handling.set((self, pdu.pduSource))
        try:
            await protocol.server.confirmation(pdu)
        except Exception as exc:
            kind = classify(exc.__traceback__.tb_next if exc.__traceback__ else None)
            if kind == "internal" and not self._period["internal"]:
                log.error("receive path failed on a datagram from %s", pdu.pduSource, exc_info=exc)
            self.record(kind, pdu.pduSource, f"{type(exc).__name__}: {exc}"[:200])

    def admit(self, record: logging.LogRecord, source: Any) -> bool:
        """Count a bacpypes3 log record about one of our datagrams; let the first through."""
        traceback = record.exc_info[2] if record.exc_info else None
        kind = "internal" if classify(traceback) == "internal" else "service"
        first = not self._period[kind]
        self.record(kind, source, record.getMessage()[:200])
        return first

    def _received(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # not an Exception: say so
            log.error("%s failed", task.get_name(), exc_info=task.exception())


class _PerDatagramLogs(logging.Filter):
    """On bacpypes3's loggers: records about a datagram go through its MalformedDatagrams."""

    def filter(self, record: logging.LogRecord) -> bool:
        handling = _handling.get(None)
        if handling is None or record.levelno < logging.WARNING:
            return True
        guard, source = handling
        return guard.admit(record, source)


_PER_DATAGRAM_LOGS = _PerDatagramLogs()


def _filter_bacpypes3_logs() -> None:
    """Put the filter on every bacpypes3 logger (each of its classes has its own)."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if (
            name.startswith("bacpypes3.")
            and isinstance(logger, logging.Logger)
            and _PER_DATAGRAM_LOGS not in logger.filters
        ):
            logger.addFilter(_PER_DATAGRAM_LOGS)


def guard_receive(app: Application, summary_seconds: float = SUMMARY_SECONDS) -> MalformedDatagrams:
    """Route every socket of `app` through one MalformedDatagrams; see the module docstring."""
    _filter_bacpypes3_logs()
    guard = MalformedDatagrams(summary_seconds)
    for link_layer in app.link_layers.values():
        server = getattr(link_layer, "server", None)
        for name in ("local_protocol", "broadcast_protocol"):
            protocol = getattr(server, name, None)
            if isinstance(protocol, IPv4DatagramProtocol):
                protocol.datagram_received = guard.datagram_receiver(protocol)  # type: ignore[method-assign]
    app.__dict__["_malformed_datagrams"] = guard
    return guard


def malformed_datagrams(app: Application) -> MalformedDatagrams | None:
    """The application's counter of dropped datagrams (None before guard_receive)."""
    guard = app.__dict__.get("_malformed_datagrams")
    return guard if isinstance(guard, MalformedDatagrams) else None
