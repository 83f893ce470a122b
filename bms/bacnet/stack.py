"""Building and closing one bacpypes3 `Application` on one address and port.

This is the only module that knows how bacpypes3 wires its layers. Four of its habits matter:
- it binds with SO_REUSEPORT, so a second process on the same address and port would
  silently share (and steal) our traffic: we probe the port without that option first;
- it creates its sockets in background tasks that retry forever: we wait for them with a
  deadline so a bind that can never succeed becomes a clear error;
- its client state machines retransmit on their own (the device object's numberOfApduRetries
  and apduTimeout, 3 x 3000 ms by default) and keep doing so after the caller gave up on the
  request: the Requester owns timeouts and retries, so the stack makes ONE attempt per request
  and gives up after our timeout;
- its sockets keep the kernel's default receive buffer (~208 KB), which a burst of answers
  (I-Ams to a Who-Is, RPM acks from many peers) overflows: we ask for config.receive_buffer.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterable
from typing import Any, TypeVar

from bacpypes3.app import Application
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import ConfigurationError, PortInUseError

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
    return NetworkPortObject(
        f"{host}/{prefix}:{port}",
        objectIdentifier=("network-port", 1),
        objectName="NetworkPort-1",
        networkNumberQuality="unknown",
    )


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
    for sock in application_sockets(app):
        raise_receive_buffer(sock, config.receive_buffer)
    log.info(
        "BACnet device %s %r bound on %s:%s",
        config.device_instance, config.device_name, config.host, config.port,
    )
    return app


async def _transports_ready(app: Application) -> None:
    for link_layer in app.link_layers.values():
        server = getattr(link_layer, "server", None)
        tasks = getattr(server, "_transport_tasks", [])
        if tasks:
            await asyncio.gather(*tasks)


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
        log.warning("could not set the UDP receive buffer of %s to %d: %s",
                    sock.getsockname(), wanted, exc)
    granted = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    level = logging.DEBUG if granted >= wanted else logging.INFO
    log.log(level, "UDP %s: receive buffer %d octets (asked for %d; the kernel caps it at "
            "net.core.rmem_max)", sock.getsockname(), granted, wanted)
    return granted


def close_application(app: Application) -> None:
    app.close()


def object_identifier(object_type: str, instance: int) -> ObjectIdentifier:
    return ObjectIdentifier((object_type, instance))
