"""What the virtual app announces, for whoever listens (realtime connects in its ready()).

Signals are sent when the transaction that made the change commits (at once in autocommit), so
a listener never hears of a row it cannot read, and a rolled-back change is never announced.
The app itself imports no listener: live updates sit above the domain, not inside it.
"""

from __future__ import annotations

import copy
from functools import partial

from django.db import transaction
from django.dispatch import Signal

from bms.devices.models import BACnetReading
from bms.virtual.models import VirtualBACnetDevice, VirtualObject

virtual_device_changed = Signal()
"""A virtual device was created, edited, started, stopped or deleted. `device`, `deleted`."""

virtual_object_changed = Signal()
"""A virtual object was created, edited, commanded or deleted. `virtual_object`, `reading`
(a command's stored reading, or None), `deleted`."""


def announce_device(device: VirtualBACnetDevice, deleted: bool = False) -> None:
    """Send virtual_device_changed on commit; a device about to be deleted is sent as it was."""
    sent = copy.copy(device) if deleted else device
    _on_commit(virtual_device_changed, VirtualBACnetDevice, device=sent, deleted=deleted)


def announce_object(
    obj: VirtualObject, reading: BACnetReading | None = None, deleted: bool = False
) -> None:
    """Send virtual_object_changed on commit; an object about to be deleted is sent as it was
    (Django clears a deleted row's id)."""
    sent = copy.copy(obj) if deleted else obj
    _on_commit(
        virtual_object_changed, VirtualObject, virtual_object=sent, reading=reading, deleted=deleted
    )


def _on_commit(signal: Signal, sender: type, **data: object) -> None:
    transaction.on_commit(partial(signal.send, sender=sender, **data), robust=True)
