"""Our device: the local objects it serves to peers, managed while it runs.

`LocalDevice` adds and removes objects while the engine runs; the device object's object-list
is computed from the application's objects, so it follows by itself. What the device does
when a peer writes (validation, the write hook, group commit) is in `device_services`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from bacpypes3.app import Application
from bacpypes3.basetypes import ObjectTypesSupported
from bacpypes3.local.device import DeviceObject
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.device_management import ClockProperties, DeviceManagement
from bms.bacnet.device_schedules import DeviceSchedules
from bms.bacnet.device_services import HOOK_TIMEOUT_SECONDS, DeviceServices, WriteBatchHook
from bms.bacnet.errors import ConfigurationError, InvalidValueError, LocalError
from bms.bacnet.event_services import AckHook, TransitionHook
from bms.bacnet.local import (
    LocalPoint,
    ObjectSnapshot,
    ObjectSpec,
    build_object,
    current_spec,
    virtual_object_name,
)
from bms.bacnet.local.alarm_spec import NotificationClassSpec
from bms.bacnet.local.attributes import StaticAttributeReads
from bms.bacnet.local.reporting import build_notification_class, detach_reporting
from bms.bacnet.local.spec import normalize_object_type
from bms.bacnet.local.trendlog import DeviceTrendLogs
from bms.bacnet.schedule_services import ScheduleServices
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.trendlog_services import TrendLogServices
from bms.bacnet.types import POINT_TYPES, ObjectRef, PresentValue

__all__ = [
    "DeviceApplication",
    "DuplicateObjectError",
    "LocalDevice",
    "LocalDeviceObject",
    "ObjectSnapshot",
    "ObjectSpec",
    "UnknownObjectError",
    "serve_device",
    "virtual_object_name",
]

log = logging.getLogger(__name__)

SERVED_OBJECT_TYPES = (
    "device",
    "network-port",
    "notification-class",
    "schedule",
    "calendar",
    "trend-log",
    *sorted(POINT_TYPES),
)


class DuplicateObjectError(ConfigurationError):
    """An object with that identifier or name already exists on our device."""


class UnknownObjectError(LocalError, KeyError):
    """No local object with that identifier."""


class LocalDeviceObject(StaticAttributeReads, ClockProperties, DeviceObject):  # type: ignore[misc]
    """bacpypes3's local device object, reporting the object types we actually serve, its
    clock properties from the device clock (device_management).

    Every transaction reads six properties of it (its APDU limits), hence the static reads.
    """

    @property
    def protocolObjectTypesSupported(self) -> ObjectTypesSupported:  # type: ignore[override]
        supported = ObjectTypesSupported([])
        for name in SERVED_OBJECT_TYPES:
            supported[getattr(supported, ObjectIdentifier((name, 0))[0].attr)] = 1
        return supported

    @protocolObjectTypesSupported.setter
    def protocolObjectTypesSupported(self, value: Any) -> None:
        """bacpypes3 sets it while building the object; the getter is the truth."""


class DeviceApplication(  # type: ignore[misc]
    TrendLogServices, ScheduleServices, DeviceManagement, DeviceServices, Application
):
    """A plain device Application (tests, tools); the engine defines its own the same way."""


class LocalDevice:
    """The objects our device serves, managed while it runs."""

    def __init__(
        self,
        app: Application,
        *,
        hook_timeout: float = HOOK_TIMEOUT_SECONDS,
    ) -> None:
        self._app: Application = app
        if not isinstance(app, DeviceServices):
            raise TypeError("the application class must inherit DeviceServices")
        self._specs: dict[ObjectRef, ObjectSpec] = {}
        # Schedule and calendar objects (device_schedules).
        self.schedules = DeviceSchedules(app, self._bump_database_revision)
        # Trend log objects (local.trendlog); their records come from trend_logs.source.
        self.trend_logs = DeviceTrendLogs(app, self._bump_database_revision)
        app.hook_timeout = hook_timeout

    def set_write_batch_hook(self, write_batch_hook: WriteBatchHook | None) -> None:
        """Store queued writes to one object together (group commit); see WriteBatchHook."""
        self._app.write_batch_hook = write_batch_hook  # type: ignore[attr-defined]

    def set_event_hooks(self, transition: TransitionHook | None, ack: AckHook | None) -> None:
        """Tell the product of each event transition (to record it) and store each
        acknowledgement before the device answers it (see event_services)."""
        self._app.transition_hook = transition  # type: ignore[attr-defined]
        self._app.ack_hook = ack  # type: ignore[attr-defined]

    def queued_writes(self, ref: ObjectRef | str) -> int:
        """External writes to the object queued behind the batch being stored."""
        return self._app.queued_writes(_as_ref(ref))  # type: ignore[attr-defined,no-any-return]

    @property
    def device_instance(self) -> int:
        return int(self._device_object().objectIdentifier[1])

    def add_object(self, spec: ObjectSpec) -> ObjectRef:
        """Create and serve a local object; DuplicateObjectError if its id or name is taken."""
        self._check_free(spec)
        obj = build_object(spec)
        self._app.add_object(obj)
        self._specs[spec.ref] = spec
        self._bump_database_revision()
        log.info("serving %s %r", spec.ref, spec.name)
        return spec.ref

    def remove_object(self, ref: ObjectRef | str) -> None:
        """Stop serving an object; its COV subscribers are dropped with it."""
        obj = self._point(ref)
        self._cancel_cov_subscriptions(obj)
        detach_reporting(obj)
        self._app.delete_object(obj)
        del self._specs[obj.ref]
        self._bump_database_revision()
        log.info("stopped serving %s", obj.ref)

    def add_notification_class(self, spec: NotificationClassSpec) -> ObjectRef:
        """Serve a notification class; the objects that name its number report through it."""
        ref = ObjectRef("notification-class", spec.instance)
        if self._app.get_object_id(ObjectIdentifier((ref.object_type, ref.instance))):
            raise DuplicateObjectError(f"object {ref} already exists")
        if self._app.get_object_name(spec.name) is not None:
            raise DuplicateObjectError(f"an object named {spec.name!r} already exists")
        self._app.add_object(build_notification_class(spec))
        self._bump_database_revision()
        log.info("serving %s %r", ref, spec.name)
        return ref

    def remove_notification_class(self, instance: int) -> None:
        obj = self._app.get_object_id(ObjectIdentifier(("notification-class", instance)))
        if obj is None:
            raise UnknownObjectError(f"no notification class {instance}")
        self._app.delete_object(obj)
        self._bump_database_revision()
        log.info("stopped serving notification class %s", instance)

    def get(self, ref: ObjectRef | str) -> ObjectSpec:
        """The object's spec with its live values (present value, priority array, ...)."""
        obj = self._point(ref)
        return current_spec(self._specs[obj.ref], obj)

    def snapshot(self, ref: ObjectRef | str) -> ObjectSnapshot:
        return self._point(ref).snapshot()

    def objects(self) -> list[ObjectRef]:
        return sorted(self._specs)

    def set_present_value(
        self, ref: ObjectRef | str, value: PresentValue, priority: int | None = None
    ) -> ObjectSnapshot:
        """Our own update (no write hook); subscribers get COV notifications.

        Call it on the event loop that runs the application (bacpypes3 is not thread-safe).

        Inputs take the value directly; commandable objects take it at `priority` (16 when
        None), so a peer's command at a higher priority still wins. None relinquishes.
        """
        obj = self._point(ref)
        obj.set_local_value(value, priority)
        return obj.snapshot()

    def set_out_of_service(self, ref: ObjectRef | str, out_of_service: bool) -> ObjectSnapshot:
        """Our own change of out-of-service (no write hook).

        Status-flags follow it, and COV subscribers are notified of the change (cov_server).
        """
        obj = self._point(ref)
        setattr(obj, "outOfService", out_of_service)  # noqa: B010 (bacpypes3 attribute)
        return obj.snapshot()

    # ---- internals

    def _point(self, ref: ObjectRef | str) -> LocalPoint:
        key = _as_ref(ref)
        obj = self._app.get_object_id(ObjectIdentifier((key.object_type, key.instance)))
        if key not in self._specs or not isinstance(obj, LocalPoint):
            raise UnknownObjectError(f"no local object {key}")
        return obj

    def _check_free(self, spec: ObjectSpec) -> None:
        object_id = ObjectIdentifier((spec.object_type, spec.instance))
        if self._app.get_object_id(object_id) is not None:
            raise DuplicateObjectError(f"object {spec.ref} already exists")
        if self._app.get_object_name(spec.name) is not None:
            raise DuplicateObjectError(f"an object named {spec.name!r} already exists")

    def _device_object(self) -> Any:
        device = self._app.device_object
        if device is None:
            raise ConfigurationError("the application has no device object")
        return device

    def _bump_database_revision(self) -> None:
        # BACnet: database-revision changes whenever objects are created or deleted, so
        # peers that cache our object list know to read it again.
        device = self._device_object()
        device.databaseRevision = int(device.databaseRevision or 0) + 1

    def _cancel_cov_subscriptions(self, obj: LocalPoint) -> None:
        detection = self._app._cov_detections.get(obj.objectIdentifier)  # type: ignore[attr-defined]
        if detection is None:
            return
        for subscription in list(detection.cov_subscriptions):
            self._app.cancel_subscription(subscription)


def _as_ref(ref: ObjectRef | str) -> ObjectRef:
    if isinstance(ref, str):
        ref = ObjectRef.parse(ref)
    try:
        return ObjectRef(normalize_object_type(ref.object_type), ref.instance)
    except InvalidValueError as exc:
        raise UnknownObjectError(str(exc)) from exc


async def serve_device(
    config: EngineConfig,
    *,
    objects: Iterable[ObjectSpec] = (),
    hook_timeout: float = HOOK_TIMEOUT_SECONDS,
) -> tuple[Application, LocalDevice]:
    """Bind a device-only Application on config.address serving `objects`.

    The caller closes it with bms.bacnet.stack.close_application(app).
    """
    app = await open_application(
        config, app_class=DeviceApplication, device_class=LocalDeviceObject
    )
    app.configure_management(password=config.device_password, time_zone=config.time_zone)
    device = LocalDevice(app, hook_timeout=hook_timeout)
    try:
        for spec in objects:
            device.add_object(spec)
    except BaseException:
        close_application(app)
        raise
    return app, device
