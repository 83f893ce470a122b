"""Building and closing one bacpypes3 `Application` on one address and port.

This is the only module that knows how bacpypes3 wires its layers. Two of its habits matter:
- it binds with SO_REUSEPORT, so a second process on the same address and port would
  silently share (and steal) our traffic: we probe the port without that option first;
- it creates its sockets in background tasks that retry forever: we wait for them with a
  deadline so a bind that can never succeed becomes a clear error.
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
    )


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


def close_application(app: Application) -> None:
    app.close()


def object_identifier(object_type: str, instance: int) -> ObjectIdentifier:
    return ObjectIdentifier((object_type, instance))
