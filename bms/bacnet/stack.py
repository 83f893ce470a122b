"""Building and closing one bacpypes3 `Application` on one address and port.

This is the only module that knows how bacpypes3 wires its layers. These habits matter:
- it binds with SO_REUSEPORT, so a second process on the same address and port would
  silently share (and steal) our traffic: we probe the port without that option first;
- it creates its sockets in background tasks that retry forever: we wait for them with a
  deadline so a bind that can never succeed becomes a clear error;
- its client state machines retransmit on their own (the device object's numberOfApduRetries
  and apduTimeout, 3 x 3000 ms by default) and keep doing so after the caller gave up on the
  request: the Requester owns timeouts and retries, so the stack makes ONE attempt per request
  and gives up after our timeout;
- its sockets keep the kernel's default receive buffer (~208 KB), which a burst of answers
  (I-Ams to a Who-Is, RPM acks from many peers) overflows: we ask for config.receive_buffer;
- as a foreign device (config.foreign_bbmd) it registers with the BBMD in the background, drops
  broadcasts until the BBMD has answered, and keeps re-registering on timers that outlive the
  socket: we wait for the first answer (a refusal is a configuration error; silence is logged
  and bacpypes3 keeps trying every 5 s) and stop the timers when we close;
- it decodes each datagram in a task it never keeps, so a malformed one ends in an unhandled
  task traceback on stderr: bms.bacnet.malformed keeps those tasks, counts the failures by
  kind and logs one summary a minute instead.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterable
from typing import Any, TypeVar

from bacpypes3.app import Application
from bacpypes3.basetypes import BDTEntry, HostNPort, IPMode
from bacpypes3.ipv4.service import BIPForeign
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import ConfigurationError, PortInUseError
from bms.bacnet.malformed import guard_receive, malformed_datagrams

log = logging.getLogger(__name__)

BIND_DEADLINE_SECONDS = 5.0

AppT = TypeVar("AppT", bound=Application)


def ensure_port_free(host: str, port: int) -> None:
    """Fail with PortInUseError if any socket already holds (host, port)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"UDP {host}:{port} is already in use (another BACnet tool or worker?). "
                "Stop it, or bind this service to another address with BACNET_ADDRESS."
            ) from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigurationError(
                f"{host} is not an address of this machine; check BACNET_ADDRESS"
            ) from exc
        raise ConfigurationError(f"cannot bind UDP {host}:{port}: {exc}") from exc
    finally:
        probe.close()


def build_device_object(config: EngineConfig, device_class: type = DeviceObject) -> Any:
    return device_class(
        objectIdentifier=("device", config.device_instance),
        objectName=config.device_name,
        vendorIdentifier=config.vendor_id,
        vendorName=config.vendor_name,
        modelName=config.model_name,
        description=config.description,
        location=config.location,
        maxApduLengthAccepted=config.max_apdu,
        segmentationSupported=config.segmentation,
        apduTimeout=apdu_timeout_ms(config),
        numberOfApduRetries=0,
    )


def apdu_timeout_ms(config: EngineConfig) -> int:
    """The stack's own timeout per attempt: ours, so its state machine ends with our attempt."""
    return max(1, round(config.timeout * 1000))


def build_network_port(config: EngineConfig) -> NetworkPortObject:
    host, prefix, port = config.host, config.address.split("/")[1].split(":")[0], config.port
    network_port = NetworkPortObject(
        f"{host}/{prefix}:{port}",
        objectIdentifier=("network-port", 1),
        objectName="NetworkPort-1",
        networkNumberQuality="unknown",
    )
    if config.bbmd is not None:
        bbmd_host, bbmd_port = config.bbmd
        network_port.bacnetIPMode = IPMode.foreign
        network_port.fdBBMDAddress = HostNPort(f"{bbmd_host}:{bbmd_port}")
        network_port.fdSubscriptionLifetime = config.foreign_ttl
    if config.accept_foreign_devices:
        # The BBMD of its own subnet only: its table lists itself, so that what foreign
        # devices send it to distribute is broadcast on its subnet.
        network_port.bacnetIPMode = IPMode.bbmd
        network_port.bbmdAcceptFDRegistrations = True
        network_port.bbmdForeignDeviceTable = []
        network_port.bbmdBroadcastDistributionTable = [BDTEntry(f"{host}:{port}")]
    return network_port


async def open_application(
    config: EngineConfig,
    app_class: type[AppT] = Application,  # type: ignore[assignment]
    *,
    device_class: type = DeviceObject,
    objects: Iterable[Any] = (),
) -> AppT:
    """Bind `app_class` on config.address as device config.device_instance and wait until ready."""
    ensure_port_free(config.host, config.port)
    device = build_device_object(config, device_class)
    app = app_class.from_object_list([device, build_network_port(config), *objects])
    try:
        await asyncio.wait_for(_transports_ready(app), BIND_DEADLINE_SECONDS)
    except TimeoutError as exc:
        close_application(app)
        raise ConfigurationError(
            f"could not bind UDP {config.host}:{config.port} within {BIND_DEADLINE_SECONDS}s"
        ) from exc
    guard_receive(app)
    for sock in application_sockets(app):
        raise_receive_buffer(sock, config.receive_buffer)
    if config.bbmd is not None:
        await _registered_or_refused(app, config)
    log.info(
        "BACnet device %s %r bound on %s:%s",
        config.device_instance,
        config.device_name,
        config.host,
        config.port,
    )
    return app


async def _transports_ready(app: Application) -> None:
    for link_layer in app.link_layers.values():
        server = getattr(link_layer, "server", None)
        tasks = getattr(server, "_transport_tasks", [])
        if tasks:
            await asyncio.gather(*tasks)


def foreign_link(app: Application) -> BIPForeign | None:
    """The application's foreign-device link layer, if it registers with a BBMD."""
    return next((link for link in app.link_layers.values() if isinstance(link, BIPForeign)), None)


def foreign_registration(app: Application) -> str | None:
    """None unless a foreign device; then "registered", "pending" or why the BBMD refused."""
    link = foreign_link(app)
    if link is None:
        return None
    status = link.bbmdRegistrationStatus
    if status == 0:
        return "registered"
    if status < 0:
        return "pending"
    return f"refused by the BBMD (BVLC result {status:#06x})"


async def _registered_or_refused(app: Application, config: EngineConfig) -> None:
    """Wait up to config.timeout for the BBMD's answer to our registration.

    Refused: ConfigurationError (the BBMD does not take foreign devices, or its table is full).
    No answer: a warning; bacpypes3 retries every 5 s and broadcasts wait for it meanwhile.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.timeout
    while foreign_registration(app) == "pending" and loop.time() < deadline:
        await asyncio.sleep(0.02)
    state = foreign_registration(app)
    if state == "registered":
        log.info(
            "registered as a foreign device with BBMD %s (time-to-live %d s)",
            config.foreign_bbmd,
            config.foreign_ttl,
        )
    elif state == "pending":
        log.warning(
            "BBMD %s has not answered our foreign-device registration within %.1f s; "
            "retrying every 5 s. Until it answers, Who-Is and other broadcasts cannot "
            "leave this subnet",
            config.foreign_bbmd,
            config.timeout,
        )
    else:
        close_application(app)
        raise ConfigurationError(
            f"BBMD {config.foreign_bbmd} {state}: check that it accepts foreign devices "
            "(and has room in its foreign device table), or unset the BBMD setting"
        )


def application_sockets(app: Application) -> list[socket.socket]:
    """The UDP sockets of the application's IPv4 link layers (local and broadcast)."""
    sockets = []
    for link_layer in app.link_layers.values():
        server = getattr(link_layer, "server", None)
        for name in ("local_transport", "broadcast_transport"):
            transport = getattr(server, name, None)
            sock = None if transport is None else transport.get_extra_info("socket")
            if sock is not None and sock not in sockets:
                sockets.append(sock)
    return sockets


def raise_receive_buffer(sock: Any, wanted: int) -> int:
    """Ask for a `wanted`-octet receive buffer; return what the kernel granted.

    An unprivileged process gets at most net.core.rmem_max (Linux reports twice the granted
    size, its bookkeeping included). Less than asked is logged, not an error.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    except OSError as exc:
        log.warning(
            "could not set the UDP receive buffer of %s to %d: %s", sock.getsockname(), wanted, exc
        )
    granted = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    level = logging.DEBUG if granted >= wanted else logging.INFO
    log.log(
        level,
        "UDP %s: receive buffer %d octets (asked for %d; the kernel caps it at net.core.rmem_max)",
        sock.getsockname(),
        granted,
        wanted,
    )
    return granted


def close_application(app: Application) -> None:
    link = foreign_link(app)
    if link is not None:
        # bacpypes3's re-registration timers would otherwise fire on the closed socket. No
        # deregistration is sent: the BBMD drops us when the time-to-live lapses.
        link._stop_tracking_registration()
    guard = malformed_datagrams(app)
    if guard is not None:
        guard.close()
    app.close()


def object_identifier(object_type: str, instance: int) -> ObjectIdentifier:
    return ObjectIdentifier((object_type, instance))
