"""Real bacpypes3 peer devices on loopback for the client tests.

Each peer is a plain bacpypes3 Application bound on 127.0.0.N on the test's own port, built
with bms.bacnet.stack like production builds ours, so only the client code is under test.
"""

from __future__ import annotations

import socket
from collections import Counter
from typing import Any

from bacpypes3.app import Application
from bacpypes3.errors import UnrecognizedService
from bacpypes3.local.analog import AnalogInputObject, AnalogOutputObject, AnalogValueObject
from bacpypes3.local.binary import BinaryOutputObject
from bacpypes3.local.cmd import Commandable
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.multistate import MultiStateValueObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.capabilities import CapabilityCache
from bms.bacnet.client import Client
from bms.bacnet.config import EngineConfig, parse_address
from bms.bacnet.stack import (
    _transports_ready,
    close_application,
    ensure_port_free,
    open_application,
)
from bms.bacnet.types import ObjectRef

CLIENT_INSTANCE = 9000


class NoRpmApplication(Application):
    """A device that predates ReadPropertyMultiple: it rejects it as an unknown service."""

    async def do_ReadPropertyMultipleRequest(self, apdu: Any) -> None:
        raise UnrecognizedService("ReadPropertyMultiple is not implemented here")


class TerseDevice(DeviceObject):
    """A device object without the optional description and location properties."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("description", None)
        kwargs.pop("location", None)
        super().__init__(**kwargs)


class CommandableMultiStateValue(Commandable, MultiStateValueObject):
    """bacpypes3 ships no commandable MSV (see BACNET.md)."""


def peer_config(port: int, host: int, instance: int, **kwargs: Any) -> EngineConfig:
    return EngineConfig(
        address=f"127.0.0.{host}/8:{port}",
        device_instance=instance,
        device_name=f"peer-{instance}",
        **kwargs,
    )


def client_config(port: int, **kwargs: Any) -> EngineConfig:
    kwargs.setdefault("timeout", 1.0)
    return EngineConfig(
        address=f"127.0.0.1/8:{port}",
        device_instance=CLIENT_INSTANCE,
        device_name="client-under-test",
        **kwargs,
    )


def free_udp_port() -> int:
    """A second UDP port for a test that needs two BACnet networks (one port each)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def open_router(instance: int, ports: dict[int, str]) -> Application:
    """A BACnet router: one Application with an IPv4 link layer per network number.

    `ports` maps network number -> "host/prefix:port". bacpypes3 binds every network port
    object of an application to its network layer; with more than one bound, and each with its
    network number, that layer forwards between them (as in BACpypes3's ipv4-to-ipv4 sample).
    """
    for address in ports.values():
        host, _prefix, port = parse_address(address)
        ensure_port_free(host, port)
    objects: list[Any] = [
        DeviceObject(
            objectIdentifier=("device", instance),
            objectName=f"router-{instance}",
            vendorIdentifier=999,
            maxApduLengthAccepted=1476,
            segmentationSupported="segmented-both",
        )
    ]
    for number, (network, address) in enumerate(ports.items(), start=1):
        objects.append(
            NetworkPortObject(
                address,
                objectIdentifier=("network-port", number),
                objectName=f"port-{network}",
                networkNumber=network,
                networkNumberQuality="configured",
            )
        )
    router = Application.from_object_list(objects)
    await _transports_ready(router)
    return router


def point_objects() -> list[Any]:
    """One object of each kind the client treats differently."""
    return [
        AnalogInputObject(
            objectIdentifier=("analog-input", 1),
            objectName="Zone temp",
            description="Zone 1 temperature",
            presentValue=21.5,
            units="degreesCelsius",
            statusFlags=[0, 0, 0, 0],
            eventState="normal",
            outOfService=False,
            covIncrement=0.1,
        ),
        AnalogOutputObject(
            objectIdentifier=("analog-output", 1),
            objectName="Valve",
            description="Heating valve",
            presentValue=0.0,
            units="percent",
            statusFlags=[0, 0, 0, 0],
            eventState="normal",
            outOfService=False,
            relinquishDefault=0.0,
            covIncrement=1.0,
        ),
        AnalogValueObject(
            objectIdentifier=("analog-value", 1),
            objectName="Setpoint offset",
            presentValue=0.5,
            units="deltaDegreesKelvin",
            statusFlags=[0, 0, 0, 0],
            eventState="normal",
            outOfService=False,
        ),
        BinaryOutputObject(
            objectIdentifier=("binary-output", 1),
            objectName="Pump",
            presentValue="inactive",
            activeText="Running",
            inactiveText="Stopped",
            statusFlags=[0, 0, 0, 0],
            eventState="normal",
            outOfService=False,
            polarity="normal",
            relinquishDefault="inactive",
        ),
        CommandableMultiStateValue(
            objectIdentifier=("multi-state-value", 1),
            objectName="Fan speed",
            presentValue=1,
            numberOfStates=3,
            stateText=["Off", "Low", "High"],
            statusFlags=[0, 0, 0, 0],
            eventState="normal",
            outOfService=False,
            relinquishDefault=1,
        ),
    ]


def many_analog_values(count: int, first: int = 100) -> list[Any]:
    return [
        AnalogValueObject(
            objectIdentifier=("analog-value", number),
            objectName=f"AV-{number}",
            presentValue=float(number),
            units="noUnits",
            statusFlags=[0, 0, 0, 0],
            eventState="normal",
            outOfService=False,
        )
        for number in range(first, first + count)
    ]


def refs_of(objects: list[Any]) -> list[ObjectRef]:
    return [ObjectRef(str(o.objectIdentifier[0]), int(o.objectIdentifier[1])) for o in objects]


async def open_peer(
    port: int,
    host: int,
    instance: int,
    objects: list[Any] | None = None,
    *,
    app_class: type[Application] = Application,
    device_class: type = DeviceObject,
    **config: Any,
) -> Application:
    return await open_application(
        peer_config(port, host, instance, **config),
        app_class=app_class,
        device_class=device_class,
        objects=point_objects() if objects is None else objects,
    )


def count_requests(app: Any) -> Counter[str]:
    """Count the APDUs the client app sends, by class name (wraps app.request in place)."""
    sent: Counter[str] = Counter()
    original = app.request

    def counting_request(apdu: Any) -> Any:
        sent[type(apdu).__name__] += 1
        return original(apdu)

    app.request = counting_request
    return sent


def track_in_flight(app: Any) -> dict[str, int]:
    """Record the peak number of confirmed requests the app had outstanding at once."""
    state = {"now": 0, "max": 0}
    original = app.request

    def tracking_request(apdu: Any) -> Any:
        future = original(apdu)
        if not future.done():
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            future.add_done_callback(lambda _f: state.__setitem__("now", state["now"] - 1))
        return future

    app.request = tracking_request
    return state


class Rig:
    """One test's BACnet hosts: the client's application on 127.0.0.1 and peers on .2, .3, ..."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.apps: list[Application] = []
        self.clients: list[Client] = []
        self.client_app: Any = None

    def address(self, host: int) -> str:
        return f"127.0.0.{host}:{self.port}"

    async def peer(
        self,
        host: int,
        instance: int,
        objects: list[Any] | None = None,
        *,
        port: int | None = None,
        **kwargs: Any,
    ) -> Application:
        """A peer on the rig's port, or on `port` (another network, behind a router)."""
        app = await open_peer(port or self.port, host, instance, objects, **kwargs)
        self.apps.append(app)
        return app

    async def router(self, instance: int, ports: dict[int, str]) -> Application:
        app = await open_router(instance, ports)
        self.apps.append(app)
        return app

    async def client(self, capabilities: CapabilityCache | None = None, **config: Any) -> Client:
        """The client under test; its application is kept as `client_app` for counting."""
        cfg = client_config(self.port, **config)
        self.client_app = await open_application(cfg)
        self.apps.append(self.client_app)
        client = Client(self.client_app, cfg, capabilities)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        for app in self.apps:
            close_application(app)


def local_object(app: Application, ref: ObjectRef) -> Any:
    """A peer's own object, to change its value the way the device itself would."""
    obj = app.get_object_id(ObjectIdentifier((ref.object_type, ref.instance)))
    assert obj is not None, f"peer has no {ref}"
    return obj
