"""Keeping the engine's local objects equal to the running virtual objects in the database.

Creates, edits and deletes made in the web app reach the BACnet network within one sync
interval, without a restart. A definition change (name, limits, units...) rebuilds the object;
a value change made by an operator (present value / priority array in the row) is applied to the
live object. Our own external-write commits are recognised by their `updated_at`, so a sync that
read the row just before a write never rolls that write back.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bms.bacnet.device import LocalDevice, ObjectSpec
from bms.bacnet.errors import BACnetError
from bms.bacnet.local.alarm_spec import AlarmSpec, NotificationClassSpec
from bms.bacnet.types import ObjectRef, WriteEvent
from bms.virtual.models import NotificationClass, VirtualObject
from bms.virtual.specs import notification_class_spec, spec_for  # as the services validate
from bms.worker import store
from bms.worker.db import run_db
from bms.worker.trendlog_source import TrendLogSync

log = logging.getLogger(__name__)


@dataclass
class _Known:
    spec: ObjectSpec
    updated_at: datetime
    object_id: int  # the VirtualObject row
    device_pk: int  # its VirtualBACnetDevice row
    row: VirtualObject  # as last read (with its device), for live updates without a query


# Columns a peer may write that are also part of an object's definition (see _definition).
_DEFINITION_COLUMNS = frozenset({"description", "cov_increment", "relinquish_default"})


def _definition(spec: ObjectSpec) -> tuple[Any, ...]:
    return (
        spec.name,
        spec.description,
        spec.units,
        spec.min_value,
        spec.max_value,
        spec.state_texts,
        spec.active_text,
        spec.inactive_text,
        spec.cov_increment,
        spec.relinquish_default,
        _alarm_definition(spec.alarm),
    )


def _alarm_definition(alarm: AlarmSpec | None) -> AlarmSpec | None:
    """The alarm settings without the device's own state (which the device keeps itself)."""
    if alarm is None:
        return None
    return dataclasses.replace(
        alarm, event_state="normal", acked_transitions=(True,) * 3, event_time_stamps=(None,) * 3
    )


def notification_class_specs() -> dict[int, NotificationClassSpec]:
    """The stored notification classes the device can serve (an invalid one is logged)."""
    specs = {}
    for row in NotificationClass.objects.all():
        try:
            specs[row.instance] = notification_class_spec(row)
        except BACnetError as exc:
            log.error("notification class %s is invalid and not served: %s", row.instance, exc)
    return specs


class VirtualSync:
    def __init__(self, device: LocalDevice) -> None:
        self._device = device
        self._known: dict[ObjectRef, _Known] = {}
        self._classes: dict[int, NotificationClassSpec] = {}
        # Trend logs of virtual objects, their records the objects' readings (issue 15).
        self.trend_logs = TrendLogSync(device)

    @property
    def refs(self) -> set[ObjectRef]:
        return set(self._known)

    def rows_of(self, ref: ObjectRef) -> tuple[int, int, datetime] | None:
        """(VirtualObject id, VirtualBACnetDevice id, the row's updated_at the engine has)."""
        known = self._known.get(ref)
        return None if known is None else (known.object_id, known.device_pk, known.updated_at)

    def row_after_write(self, event: WriteEvent, updated_at: datetime) -> VirtualObject | None:
        """A copy of the object's row as the external write just stored it (no query)."""
        known = self._known.get(event.ref)
        if known is None:
            return None
        row = copy.copy(known.row)
        row.present_value = event.effective_value
        if event.priority_array:
            row.priority_array = list(event.priority_array)
        if event.property != "present-value":
            column, value = store.written_column(event)
            setattr(row, column, value)
            if column in _DEFINITION_COLUMNS:
                # The live object has it already: the next edit of the row must not see a
                # definition change (and rebuild the object, dropping COV subscriptions).
                known.spec = dataclasses.replace(known.spec, **{column: value})
        row.updated_at = updated_at
        known.row = row
        return row

    def note_stored(self, ref: ObjectRef, updated_at: datetime) -> None:
        """An external write was just committed: its row is already what the engine has."""
        known = self._known.get(ref)
        if known is not None and updated_at > known.updated_at:
            known.updated_at = updated_at

    async def sync_once(self) -> int:
        """Apply the database's running virtual objects to the engine; returns changes made."""
        rows = await run_db(store.running_virtual_objects)
        classes = await run_db(notification_class_specs)
        desired = {ObjectRef(row.object_type, row.instance): row for row in rows}
        # Classes first: an object that names a class finds it served (it also works without).
        changes = self._apply_classes(classes)
        for ref in set(self._known) - set(desired):
            self._remove(ref)
            changes += 1
        for ref, row in desired.items():
            changes += self._apply(ref, row)
        return changes + await self.trend_logs.sync_once()

    def _apply_classes(self, desired: dict[int, NotificationClassSpec]) -> int:
        changes = 0
        for instance, spec in self._classes.items():
            if desired.get(instance) != spec:
                self._device.remove_notification_class(instance)
                changes += 1
        served = {i: s for i, s in self._classes.items() if desired.get(i) == s}
        for instance, spec in desired.items():
            if instance in served:
                continue
            try:
                self._device.add_notification_class(spec)
            except BACnetError as exc:
                log.error("notification class %s not served: %s", instance, exc)
                continue
            served[instance] = spec
            changes += 1
        self._classes = served
        return changes

    def _apply(self, ref: ObjectRef, row: VirtualObject) -> int:
        known = self._known.get(ref)
        if known is not None and row.updated_at <= known.updated_at:
            return 0
        try:
            spec = spec_for(row)
        except BACnetError as exc:
            log.error("virtual object %s (%s) is invalid and not served: %s", ref, row.name, exc)
            return 0
        if known is None or _definition(known.spec) != _definition(spec):
            if known is not None:
                self._remove(ref)
            self._device.add_object(spec)  # the device side logs what it serves
        else:
            self._apply_values(ref, spec)
        self._known[ref] = _Known(spec, row.updated_at, row.id, row.device_id, row)
        return 1

    def _apply_values(self, ref: ObjectRef, spec: ObjectSpec) -> None:
        live = self._device.snapshot(ref)
        if spec.priority_array:
            for level, (want, have) in enumerate(
                zip(spec.priority_array, live.priority_array, strict=True), start=1
            ):
                if want != have:
                    self._device.set_present_value(ref, want, priority=level)
        elif spec.present_value != live.present_value:
            self._device.set_present_value(ref, spec.present_value)

    def _remove(self, ref: ObjectRef) -> None:
        self._device.remove_object(ref)
        self._known.pop(ref, None)
        log.info("stopped serving virtual object %s", ref)
