"""Which host addresses a simulated building uses (pure, no sockets).

Devices sit on consecutive hosts of one network (127.0.0.2, .3, ... rolling over to 127.0.1.0),
all with the same prefix, so a Who-Is to the network's broadcast address reaches every one.
The network and broadcast addresses are never handed out, nor 127.0.0.1: that is where clients
and the engine live.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

RESERVED_HOSTS = frozenset({ipaddress.IPv4Address("127.0.0.1")})


class AddressError(ValueError):
    """The requested addresses are not usable (not loopback, or the network runs out)."""


def device_hosts(
    first: str, count: int, prefix: int, *, allow_non_loopback: bool = False
) -> list[ipaddress.IPv4Address]:
    """`count` usable host addresses starting at `first`, in order."""
    if count < 0:
        raise AddressError(f"device count must be >= 0, not {count}")
    start = _parse_host(first)
    network = ipaddress.IPv4Network(f"{start}/{prefix}", strict=False)
    hosts = list(_usable_hosts(start, network, count))
    if len(hosts) < count:
        raise AddressError(
            f"{network} has only {len(hosts)} usable hosts from {start}, {count} needed"
        )
    if not allow_non_loopback:
        _require_loopback(hosts)
    return hosts


def _parse_host(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text.strip())
    except ValueError as exc:
        raise AddressError(f"bad IPv4 address {text!r}: {exc}") from exc


def _usable_hosts(
    start: ipaddress.IPv4Address, network: ipaddress.IPv4Network, count: int
) -> Iterator[ipaddress.IPv4Address]:
    # Bounded by the network's size: at most `count` hosts are yielded.
    found = 0
    candidate = int(start)
    last = int(network.broadcast_address)
    while found < count and candidate <= last:
        host = ipaddress.IPv4Address(candidate)
        candidate += 1
        if _is_usable(host, network):
            found += 1
            yield host


def _is_usable(host: ipaddress.IPv4Address, network: ipaddress.IPv4Network) -> bool:
    if host in RESERVED_HOSTS:
        return False
    # A /31 or /32 has no separate network and broadcast address to avoid.
    if network.prefixlen >= 31:
        return True
    return host not in (network.network_address, network.broadcast_address)


def _require_loopback(hosts: list[ipaddress.IPv4Address]) -> None:
    outside = [host for host in hosts if not host.is_loopback]
    if outside:
        raise AddressError(
            f"{outside[0]} is not a loopback address; the simulator only binds 127.0.0.0/8 "
            "unless non-loopback addresses are explicitly allowed"
        )
