"""Engine configuration: address, identity, and how patient the client is."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from bms.bacnet.clock import site_zone
from bms.bacnet.commanding import MAX_INSTANCE, is_instance
from bms.bacnet.errors import ConfigurationError

DEFAULT_PORT = 47808
MAX_PASSWORD = 20  # DCC and ReinitializeDevice passwords: CharacterString (SIZE(1..20))


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine needs to bind and to be device `device_instance`.

    `address` is "host/prefix" with an optional ":port": "127.0.0.1/8",
    "192.168.1.10/24:47808". It is never guessed: a real site's address comes from the user.
    """

    address: str
    device_instance: int = 8888
    device_name: str = "Django_BMS"
    vendor_id: int = 999
    vendor_name: str = "BMS open source"
    model_name: str = "BMS"
    description: str = "BMS BACnet service"
    location: str = ""
    timeout: float = 3.0
    retries: int = 1
    max_apdu: int = 1476
    segmentation: str = "segmented-both"
    support_rpm: bool = True  # the simulator turns this off for one device
    max_in_flight_per_peer: int = 16
    # Across all peers: a burst of replies larger than the receive buffer is lost, and every
    # loss costs a full timeout and a retry. The kernel caps the buffer at net.core.rmem_max.
    max_in_flight_total: int = 64
    receive_buffer: int = 4 * 1024 * 1024
    # Who-Is ends this long after the last I-Am. Raise it on sites whose devices answer in
    # waves (behind slow MS/TP routers); math.inf waits for the whole timeout.
    discovery_quiet: float = 0.5
    # "host[:port]" of a BBMD to register with as a foreign device, when the devices are on
    # another IP subnet: broadcasts (Who-Is) then go through it and come back from it.
    foreign_bbmd: str = ""
    foreign_ttl: int = 300  # seconds the BBMD keeps us; re-registered before it lapses
    # Be this subnet's BBMD and accept foreign devices (the simulator's, for a building on
    # another subnet than the worker).
    accept_foreign_devices: bool = False
    # DeviceCommunicationControl and ReinitializeDevice need it; empty: both always refused.
    device_password: str = ""
    # The site's IANA time zone: local-date/local-time, utc-offset, and the schedules.
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        parse_address(self.address)
        if not is_instance(self.device_instance):
            raise ConfigurationError(
                f"device instance {self.device_instance} is outside 0..{MAX_INSTANCE}"
            )
        if not self.device_name:
            raise ConfigurationError("device name must not be empty")
        if self.timeout <= 0 or self.retries < 0:
            raise ConfigurationError("timeout must be > 0 and retries >= 0")
        if self.max_in_flight_per_peer < 1 or self.max_in_flight_total < 1:
            raise ConfigurationError("the limits on requests in flight must be >= 1")
        if self.discovery_quiet <= 0:
            raise ConfigurationError("discovery_quiet must be > 0 seconds")
        if self.foreign_bbmd:
            parse_host_port(self.foreign_bbmd, what="BBMD address")
        if self.foreign_bbmd and self.accept_foreign_devices:
            raise ConfigurationError("a device is either a foreign device or a BBMD, not both")
        if len(self.device_password) > MAX_PASSWORD:
            raise ConfigurationError(
                f"the device password is longer than {MAX_PASSWORD} characters"
            )
        site_zone(self.time_zone)
        if not 1 <= self.foreign_ttl <= 65535:
            raise ConfigurationError(
                f"foreign-device time-to-live {self.foreign_ttl} is outside 1..65535 seconds"
            )

    @property
    def host(self) -> str:
        return parse_address(self.address)[0]

    @property
    def port(self) -> int:
        return parse_address(self.address)[2]

    @property
    def broadcast(self) -> str:
        host, prefix, _ = parse_address(self.address)
        network = ipaddress.IPv4Network(f"{host}/{prefix}", strict=False)
        return str(network.broadcast_address)

    @property
    def bbmd(self) -> tuple[str, int] | None:
        """(host, port) of the BBMD we register with as a foreign device, or None."""
        if not self.foreign_bbmd:
            return None
        return parse_host_port(self.foreign_bbmd, what="BBMD address")


def parse_address(address: str) -> tuple[str, int, int]:
    """Split "192.168.1.10/24:47808" into (host, prefix, port), failing loudly."""
    text = address.strip()
    port = DEFAULT_PORT
    if text.count(":") == 1:
        text, _, port_text = text.partition(":")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigurationError(f"bad port in BACnet address {address!r}")
        port = int(port_text)
    host, _, prefix_text = text.partition("/")
    if not prefix_text:
        raise ConfigurationError(
            f"BACnet address {address!r} needs a prefix length, e.g. 192.168.1.10/24"
        )
    try:
        ipaddress.IPv4Address(host)
        prefix = int(prefix_text)
    except ValueError as exc:
        raise ConfigurationError(f"bad BACnet address {address!r}: {exc}") from exc
    if not 0 <= prefix <= 32:
        raise ConfigurationError(f"bad prefix length in BACnet address {address!r}")
    return host, prefix, port


def parse_host_port(text: str, what: str) -> tuple[str, int]:
    """Split "192.168.2.1" or "192.168.2.1:47808" into (host, port), failing loudly."""
    host, _, port_text = text.strip().partition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError as exc:
        raise ConfigurationError(f"bad {what} {text!r}: {exc}") from exc
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(f"bad port in {what} {text!r}")
    return host, int(port_text)


def parse_peer_address(text: str) -> str:
    """A peer's address as a Who-Is or a read may be sent to it, or ConfigurationError naming
    what is wrong: "192.168.1.10", "192.168.1.255:47808", "192.168.1.10/24:47808" (an IPv4
    host or directed broadcast, optional prefix and port), or a routed "network:mac" with the
    network 1..65534 and the MAC "*" (that network's broadcast), 0x-hex or a decimal 0..255
    (an MS/TP station). The text comes back stripped."""
    text = text.strip()
    network, colon, mac = text.partition(":")
    if colon and network.isdigit() and "." not in mac:
        _check_routed(text, int(network), mac)
    elif "/" in text:
        parse_address(text)
    else:
        parse_host_port(text, "BACnet address")
    return text


def _check_routed(text: str, network: int, mac: str) -> None:
    if not 1 <= network <= 65534:
        raise ConfigurationError(f"bad network number in BACnet address {text!r} (1..65534)")
    hex_digits = mac[2:] if mac.lower().startswith("0x") else ""
    if mac == "*" or (mac.isdigit() and int(mac) <= 255):
        return
    if hex_digits and len(hex_digits) % 2 == 0 and _is_hex(hex_digits):
        return
    raise ConfigurationError(
        f"bad MAC in BACnet address {text!r}: give '*', 0x and hex digits, or 0..255"
    )


def _is_hex(digits: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in digits)
