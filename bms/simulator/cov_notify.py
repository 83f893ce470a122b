"""COV notifications of the simulated devices, encoded without bacpypes3's generic encoder.

Why: bench/cov.py drives 1,000 value changes a second through two simulator processes, and
bacpypes3 builds each notification as objects (a PropertyValue and an Any per value, each Any
encoding its value to tags, the request's Sequence encoded to a TagList and then to octets) and
looks the device object up by walking every object of the device, per notification. The load
generator, not the worker, then ran out of CPU first.

What it does: the detection classes here (the simulator's objects use them, objects.py) send an
UNCONFIRMED notification whose values are the usual ones (present-value as a Real, an
Enumerated or an Unsigned; status-flags) as octets built here, byte for byte what bacpypes3
builds (tests/simulator/test_cov_notify.py compares them), through the same
`Application.cov_notification` and the rest of bacpypes3's stack (network and link layers, DCC
state). A confirmed subscription, or a value of another kind, takes bacpypes3's own path.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from bacpypes3.apdu import APDU, UnconfirmedCOVNotificationRequest, UnconfirmedRequestPDU
from bacpypes3.basetypes import StatusFlags
from bacpypes3.local.cov import COVIncrementCriteria, GenericCriteria
from bacpypes3.primitivedata import Double, Enumerated, ObjectIdentifier, Real, Unsigned

PRESENT_VALUE = bytes([0x09, 85])  # [0] propertyIdentifier present-value
STATUS_FLAGS = bytes([0x09, 111])  # [0] propertyIdentifier status-flags
OPEN_VALUE, CLOSE_VALUE = b"\x2e", b"\x2f"  # [2] opening and closing
OPEN_LIST, CLOSE_LIST = b"\x4e", b"\x4f"  # [4]


class PrebuiltNotification(UnconfirmedCOVNotificationRequest):  # type: ignore[misc]
    """An UnconfirmedCOVNotification whose parameters are already octets."""

    _octets: bytes

    def encode(self) -> APDU:
        apdu = UnconfirmedRequestPDU()
        apdu.update(self)
        apdu.put_data(self._octets)
        return apdu


class FastNotify:
    """Mixin, first in the bases of a bacpypes3 COV detection class (see the docstring)."""

    obj: Any
    cov_subscriptions: Any
    presentValue: Any
    statusFlags: Any

    def send_cov_notifications(self, subscription: Any = None) -> None:
        if isinstance(self, COVIncrementCriteria):  # what bacpypes3's does before sending
            self.previously_reported_value = self.presentValue
        if not self.cov_subscriptions:  # as bacpypes3's: nobody to tell
            return
        targets = [subscription] if subscription is not None else list(self.cov_subscriptions)
        values = self._values_octets()
        app = self.obj._app
        for cov in targets:
            if cov.confirmed or values is None:
                super().send_cov_notifications(cov)  # type: ignore[misc]
                continue
            request = PrebuiltNotification()
            request.pduDestination = cov.client_addr
            request._octets = (
                _context_unsigned(0, cov.proc_id)
                + _object_id(1, _device_identifier(app))
                + _object_id(2, cov.obj_id)
                + _context_unsigned(3, _time_remaining(cov))
                + values
            )
            app.cov_notification(cov, request)

    def _values_octets(self) -> bytes | None:
        value = _application_value(self.presentValue)
        flags = _status_flags(self.statusFlags)
        if value is None or flags is None:
            return None
        return (
            OPEN_LIST
            + PRESENT_VALUE
            + OPEN_VALUE
            + value
            + CLOSE_VALUE
            + STATUS_FLAGS
            + OPEN_VALUE
            + flags
            + CLOSE_VALUE
            + CLOSE_LIST
        )


class FastCovIncrement(FastNotify, COVIncrementCriteria):  # type: ignore[misc]
    """Analog objects: bacpypes3's cov-increment detection, notifications built here."""


class FastGeneric(FastNotify, GenericCriteria):  # type: ignore[misc]
    """Binary and multi-state objects: any change, notifications built here."""


def _time_remaining(cov: Any) -> int:
    """As bacpypes3 computes it: whole seconds left, at least 1; 0 for no lifetime."""
    if not cov.cancel_handle:
        return 0
    return int(cov.cancel_handle.when() - asyncio.get_running_loop().time()) or 1


def _device_identifier(app: Any) -> Any:
    device = app.device_object
    if device is None:
        raise RuntimeError("missing device object")
    return device.objectIdentifier


def _unsigned_octets(number: int) -> bytes:
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")


def _context_unsigned(tag: int, number: int) -> bytes:
    octets = _unsigned_octets(number)
    return bytes([tag << 4 | 0x08 | len(octets)]) + octets


def _object_id(tag: int, identifier: Any) -> bytes:
    kind, instance = ObjectIdentifier(identifier)
    return bytes([tag << 4 | 0x0C]) + struct.pack(">I", int(kind) << 22 | instance)


def _application_value(value: Any) -> bytes | None:
    """The application-tagged octets of a Real, an Enumerated or an Unsigned (None: other)."""
    if isinstance(value, Double):
        return None
    if isinstance(value, Real):
        return b"\x44" + struct.pack(">f", value)
    if isinstance(value, Enumerated):
        octets = _unsigned_octets(int(value))
        return bytes([0x90 | len(octets)]) + octets
    if isinstance(value, Unsigned) and int(value) < 2**32:
        octets = _unsigned_octets(int(value))
        return bytes([0x20 | len(octets)]) + octets
    return None


def _status_flags(value: Any) -> bytes | None:
    if not isinstance(value, StatusFlags) or len(value) != 4:
        return None
    bits = sum(1 << (7 - i) for i, bit in enumerate(value) if bit)
    return bytes([0x82, 0x04, bits])
