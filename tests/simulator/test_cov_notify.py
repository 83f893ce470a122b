"""The simulator's COV notifications built by cov_notify are, octet for octet, what bacpypes3's
own path builds; confirmed subscriptions still take bacpypes3's path."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import pytest
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import CharacterString, Double, ObjectIdentifier

from bms.simulator.catalog import device_points
from bms.simulator.cov_notify import FastNotify, PrebuiltNotification
from bms.simulator.objects import ObjectFactory


@dataclass
class FakeCov:
    client_addr: Address
    proc_id: int
    obj_id: Any
    confirmed: bool = False
    cancel_handle: Any = None


class FakeDevice:
    objectIdentifier = ObjectIdentifier(("device", 4_194_000))


class FakeApp:
    """What the detection uses of the Application: its objects and cov_notification."""

    def __init__(self) -> None:
        self.device_object = FakeDevice()
        self.objectIdentifier: dict[Any, Any] = {}
        self.sent: list[Any] = []

    def cov_notification(self, cov: Any, request: Any) -> None:
        self.sent.append(request)


def detections() -> list[Any]:
    """One detection per kind of point the simulator has, on a fresh object each."""
    from bacpypes3.object import DeviceObject

    factory = ObjectFactory(random.Random(3))
    found = []
    seen = set()
    for spec in device_points(60):
        kind = (spec.ref.object_type, spec.template.commandable)
        if kind in seen:
            continue
        seen.add(kind)
        obj = factory.build(spec)
        app = FakeApp()
        device = DeviceObject(objectIdentifier=("device", 4_194_000), objectName="d")
        app.objectIdentifier = {device.objectIdentifier: device, obj.objectIdentifier: obj}
        app.device_object = device
        obj._app = app
        found.append(obj._cov_criteria(obj))
    return found


def octets(request: Any) -> bytes:
    apdu = request.encode()
    return bytes([apdu.apduType << 4, apdu.apduService]) + bytes(apdu.pduData)


async def both(detection: Any, cov: FakeCov) -> tuple[bytes, bytes]:
    detection.cov_subscriptions = [cov]
    app = detection.obj._app
    app.sent.clear()
    detection.send_cov_notifications(cov)  # built here
    super(FastNotify, detection).send_cov_notifications(cov)  # bacpypes3's own
    fast, slow = app.sent
    assert isinstance(fast, PrebuiltNotification)
    assert not isinstance(slow, PrebuiltNotification)
    assert fast.pduDestination == slow.pduDestination == cov.client_addr
    return octets(fast), octets(slow)


async def test_every_kind_of_point_gets_bacpypes3s_octets():
    kinds = detections()
    assert len(kinds) >= 8
    for detection in kinds:
        assert isinstance(detection, FastNotify), type(detection)
        obj = detection.obj
        for proc_id in (0, 7, 300, 70_000, 4_194_303):
            cov = FakeCov(Address("127.0.0.9:47809"), proc_id, obj.objectIdentifier)
            fast, slow = await both(detection, cov)
            assert fast == slow, (obj.objectIdentifier, proc_id)


async def test_changed_values_and_flags_and_time_remaining():
    loop = asyncio.get_running_loop()
    for detection in detections():
        obj = detection.obj
        handle = loop.call_later(117.4, lambda: None)
        try:
            cov = FakeCov(Address("127.0.0.9:47809"), 5, obj.objectIdentifier, cancel_handle=handle)
            detection.statusFlags = type(detection.statusFlags)([1, 0, 1, 1])
            if isinstance(detection.presentValue, float):
                for value in (0.0, -12.75, 1e30, 1001.0):
                    detection.presentValue = type(detection.presentValue)(value)
                    fast, slow = await both(detection, cov)
                    assert fast == slow
            else:
                fast, slow = await both(detection, cov)
                assert fast == slow
        finally:
            handle.cancel()


async def test_a_confirmed_subscription_takes_bacpypes3s_path():
    detection = detections()[0]
    app = detection.obj._app
    app.sent.clear()
    cov = FakeCov(Address("127.0.0.9:47809"), 5, detection.obj.objectIdentifier, confirmed=True)
    detection.cov_subscriptions = [cov]
    detection.send_cov_notifications(cov)
    (request,) = app.sent
    assert not isinstance(request, PrebuiltNotification)
    assert type(request).__name__ == "ConfirmedCOVNotificationRequest"


@pytest.mark.parametrize("kind", ["double", "text"])
async def test_a_value_of_another_kind_takes_bacpypes3s_path(kind):
    detection = detections()[0]
    detection.presentValue = Double(1.5) if kind == "double" else CharacterString("text")
    app = detection.obj._app
    app.sent.clear()
    cov = FakeCov(Address("127.0.0.9:1"), 1, detection.obj.objectIdentifier)
    detection.cov_subscriptions = [cov]
    detection.send_cov_notifications(cov)
    (request,) = app.sent
    assert not isinstance(request, PrebuiltNotification)
    assert not any(isinstance(r, PrebuiltNotification) for r in app.sent)
