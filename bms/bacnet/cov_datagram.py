"""Unconfirmed COV notifications taken straight from the datagram (the monitoring hot path).

Why: at 1,000 COV notifications a second (bench/cov.py) the worker's event loop was ~77 % busy
and bacpypes3's receive layers were its largest cost: per datagram an `IPv4Address`, a PDU, a
task (`ensure_future(server.confirmation(pdu))`), a BVLPDU and its OriginalUnicastNPDU, an NPDU,
an APDU and the request, each decoded in turn by the BVLL, network and application layers, before
the CovRouter saw it. Yet nearly every datagram is the same shape: an Original-Unicast-NPDU whose
NPDU has no addresses and no options, carrying an UnconfirmedCOVNotification whose parameters
bms.bacnet.cov_decode reads as they are.

What: `install(app, router)` wraps `datagram_received` of the application's normal (unicast)
BACnet/IPv4 socket's protocol, on that instance only. A datagram that is exactly
  BVLL 0x81 0x0A (Original-Unicast-NPDU) with its length right,
  NPDU version 1, control 0x00 (no DNET/SNET, not a network message, normal priority),
  APDU 0x10 0x02 (UnconfirmedCOVNotification), parameters read plainly by cov_decode,
  from another address than our own, for a subscription the router holds (source, process id,
  and monitored object),
is delivered to that subscription at once, with no task and no bacpypes3 object. Anything else
(other services, confirmed notifications, forwarded or routed NPDUs, network messages, unusual
values, a notification for no subscription of ours) goes to the `datagram_received` the protocol
had (bms.bacnet.malformed's guard, then bacpypes3's layers) untouched, so every other packet is
handled exactly as before. A datagram taken here was read to its last octet, so the guard has
nothing to count for it. The CovNotification is the one
the router builds from cov_decode's reading on bacpypes3's path: tests/bacnet/test_cov_datagram.py
compares both over real UDP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bacpypes3.ipv4 import IPv4DatagramProtocol, IPv4DatagramServer
from bacpypes3.ipv4.service import BIPNormal
from bacpypes3.pdu import IPv4Address

from bms.bacnet import cov_decode

if TYPE_CHECKING:
    from bms.bacnet.cov import CovRouter

# BVLL Original-Unicast-NPDU, NPDU version 1 with control 0 (nothing but an APDU), then the
# APDU's header: unconfirmed request, service unconfirmedCOVNotification.
BVLL_TYPE, ORIGINAL_UNICAST = 0x81, 0x0A
NPDU_VERSION, PLAIN_CONTROL = 0x01, 0x00
UNCONFIRMED_REQUEST, UNCONFIRMED_COV = 0x10, 0x02
PARAMETERS_AT = 8  # 4 BVLL + 2 NPDU + 2 APDU header octets
ADDRESSES_KEPT = 4096  # source addresses remembered (a peer cannot grow the cache without end)

INSTALLED = "_bms_cov_datagram"  # the attribute marking a protocol wrapped here


class FastReceiver:
    """Wraps one protocol's datagram_received: the plain unconfirmed COV case here, the rest to
    bacpypes3."""

    def __init__(self, protocol: Any, server: IPv4DatagramServer, router: CovRouter) -> None:
        self._bacpypes3 = protocol.datagram_received  # the bound original
        self._server = server
        self._router = router
        self._addresses: dict[tuple[str, int], tuple[IPv4Address, str]] = {}
        self.taken = 0  # datagrams delivered here (tests, diagnostics)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self._take(data, addr):
            self._bacpypes3(data, addr)

    def _take(self, data: bytes, addr: tuple[str, int]) -> bool:
        """Deliver a plain unconfirmed COV notification of one of our subscriptions; False for
        anything else (bacpypes3 then handles it as always)."""
        if not _plain_unconfirmed_cov(data) or addr == self._server.local_address:
            return False  # (bacpypes3 drops what came from our own address: it still does)
        fields = cov_decode.try_read_cov_fields(data[PARAMETERS_AT:])
        if fields is None:
            return False
        source, source_text = self._address(addr)
        sub = self._router.subscription_for(source, fields.process_id, fields.ref)
        if sub is None:
            return False
        self.taken += 1
        self._router.deliver_read(sub, source_text, fields)
        return True

    def _address(self, addr: tuple[str, int]) -> tuple[IPv4Address, str]:
        known = self._addresses.get(addr)
        if known is None:
            address = IPv4Address(addr)
            known = (address, str(address))
            if len(self._addresses) < ADDRESSES_KEPT:
                self._addresses[addr] = known
        return known


def _plain_unconfirmed_cov(data: bytes) -> bool:
    return (
        len(data) > PARAMETERS_AT
        and data[0] == BVLL_TYPE
        and data[1] == ORIGINAL_UNICAST
        and (data[2] << 8 | data[3]) == len(data)
        and data[4] == NPDU_VERSION
        and data[5] == PLAIN_CONTROL
        and data[6] == UNCONFIRMED_REQUEST
        and data[7] == UNCONFIRMED_COV
    )


def install(app: Any, router: CovRouter) -> int:
    """Wrap the unicast socket of each normal BACnet/IPv4 link of `app` (idempotent); the number
    of sockets wrapped now. Foreign-device and BBMD links are left to bacpypes3."""
    wrapped = 0
    for link in getattr(app, "link_layers", {}).values():
        if not isinstance(link, BIPNormal):
            continue  # foreign-device and BBMD links: bacpypes3's alone
        server = getattr(link, "server", None)
        protocol = getattr(server, "local_protocol", None)
        if not isinstance(protocol, IPv4DatagramProtocol) or getattr(protocol, INSTALLED, None):
            continue
        receiver = FastReceiver(protocol, server, router)
        protocol.datagram_received = receiver.datagram_received  # type: ignore[method-assign]
        setattr(protocol, INSTALLED, receiver)
        wrapped += 1
    return wrapped


def receiver_of(app: Any) -> FastReceiver | None:
    """The FastReceiver installed on `app`'s unicast socket, if any (tests, diagnostics)."""
    for link in getattr(app, "link_layers", {}).values():
        protocol = getattr(getattr(link, "server", None), "local_protocol", None)
        receiver = getattr(protocol, INSTALLED, None)
        if isinstance(receiver, FastReceiver):
            return receiver
    return None
