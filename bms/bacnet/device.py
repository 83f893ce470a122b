"""The device side of the engine: our local objects, served to peers, with a write hook.

Theory of operation. One bacpypes3 Application is both our client and device 8888. The
engine's Application class inherits `DeviceServices`, which replaces bacpypes3's
WriteProperty / WritePropertyMultiple handlers so that an external write runs as:

1. find the object (only our local points are writable) and decode the value, turning a
   wrong datatype into the invalid-data-type Error bacpypes3 would send as a Reject;
2. `plan_write`: validate and compute the state after the write, changing nothing;
3. await the product's write hook with a `WriteEvent` (bounded by a timeout); if it raises,
   the writer gets an Error PDU and the object is untouched;
4. apply the write, then acknowledge.

Writes to one object are serialised (per-object lock) so the old value and priority array
the hook sees are the ones the write replaces. Group commit: each object has one committer
task; writes arriving while it stores queue, and the next round plans them in sequence (each
on the state the previous leaves), hands them all to `write_batch_hook` (one store), then
applies and acknowledges them in order. A failing store refuses the whole batch; a write that
fails its own validation is refused alone (and audited). Without a batch hook, batches are
single writes and the single `write_hook` is called. Our own updates
(`LocalDevice.set_present_value`) skip the hook. `LocalDevice` adds and removes objects while
running; the device object's object-list is computed from the application's objects, so it
follows by itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import SimpleAckPDU, WritePropertyMultipleError
from bacpypes3.app import Application
from bacpypes3.basetypes import (
    ErrorClass,
    ErrorCode,
    ErrorType,
    ObjectPropertyReference,
    ObjectTypesSupported,
    ServicesSupported,
)
from bacpypes3.errors import DecodingError, ExecutionError, ObjectError, PropertyError
from bacpypes3.errors import RejectException as _BacnetReject
from bacpypes3.local.device import DeviceObject
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import ConfigurationError, InvalidValueError, LocalError, WriteRefused
from bms.bacnet.local import (
    LocalPoint,
    ObjectSnapshot,
    ObjectSpec,
    WritePlan,
    build_object,
    current_spec,
    virtual_object_name,
)
from bms.bacnet.local.attributes import StaticAttributeReads
from bms.bacnet.local.objects import check_priority, property_attr
from bms.bacnet.local.spec import normalize_object_type
from bms.bacnet.stack import close_application, open_application
from bms.bacnet.types import POINT_TYPES, ObjectRef, PresentValue, RefusedWrite, WriteEvent
from bms.bacnet.values import to_python

__all__ = [
    "DeviceApplication",
    "DeviceServices",
    "DuplicateObjectError",
    "LocalDevice",
    "LocalDeviceObject",
    "ObjectSnapshot",
    "ObjectSpec",
    "UnknownObjectError",
    "WriteBatchHook",
    "WriteHook",
    "serve_device",
    "virtual_object_name",
]

log = logging.getLogger(__name__)

# Awaited before an external write is applied and acknowledged. Raise WriteRefused (its
# error class/code go to the writer) or any Exception to refuse. A hook that overruns
# `hook_timeout` is cancelled and the write refused, so keep it short and idempotent: a
# peer that timed out will retry the same write.
WriteHook = Callable[[WriteEvent], Awaitable[None]]
RefusalHook = Callable[[RefusedWrite], Awaitable[None]]
# Group commit: while one object's writes are being stored, further writes to it queue; the
# queued writes are planned in sequence (each on the state the previous leaves) and handed to
# this hook together, in order, to be stored at once. Raising refuses every write it was given
# (none changes the object); returning lets them be applied and acknowledged in order. Without
# it, the single WriteHook is called once per write.
WriteBatchHook = Callable[[list[WriteEvent]], Awaitable[None]]

MAX_WRITE_BATCH = 256  # writes stored together at most (one object)


@dataclass
class _PendingWrite:
    """A decoded external write waiting for its object's committer."""

    prop: Any
    value: Any
    index: int | None
    priority: int | None
    source: str
    done: asyncio.Future[None]


class _PlanRefused(Exception):  # noqa: N818 (carries the write's own ExecutionError)
    """The write's own validation refused it (carried to its writer, who audits it)."""

    def __init__(self, error: ExecutionError) -> None:
        super().__init__(str(error))
        self.error = error


# Below a peer's usual 3 s APDU timeout, so a slow hook is refused rather than retried.
HOOK_TIMEOUT_SECONDS = 2.5

# What we execute as a device (and, for I-Am and COV notifications, as a client).
SERVED_SERVICES = (
    "whoIs",
    "iAm",
    "whoHas",
    "iHave",
    "readProperty",
    "readPropertyMultiple",
    "writeProperty",
    "writePropertyMultiple",
    "subscribeCOV",
    "confirmedCOVNotification",
    "unconfirmedCOVNotification",
)
SERVED_OBJECT_TYPES = ("device", "network-port", *sorted(POINT_TYPES))


class DuplicateObjectError(ConfigurationError):
    """An object with that identifier or name already exists on our device."""


class UnknownObjectError(LocalError, KeyError):
    """No local object with that identifier."""


class LocalDeviceObject(StaticAttributeReads, DeviceObject):  # type: ignore[misc]
    """bacpypes3's local device object, reporting the object types we actually serve.

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


class DeviceServices:
    """Mixin for the engine's Application: validated, hooked writes and honest services.

    Use as `class EngineApplication(DeviceServices, Application)`.
    """

    write_hook: WriteHook | None = None
    write_batch_hook: WriteBatchHook | None = None
    refusal_hook: RefusalHook | None = None
    hook_timeout: float = HOOK_TIMEOUT_SECONDS

    # ReadRange serves trend logs and lists, which we do not have: refuse it (Reject
    # unrecognized-service) instead of advertising what we cannot do.
    do_ReadRangeRequest = None

    def get_services_supported(self) -> ServicesSupported:
        supported = ServicesSupported([])
        for name in SERVED_SERVICES:
            supported[getattr(supported, name)] = 1
        return supported

    async def do_WritePropertyRequest(self, apdu: Any) -> None:
        await self._write_external(
            apdu.objectIdentifier,
            apdu.propertyIdentifier,
            apdu.propertyValue,
            apdu.propertyArrayIndex,
            apdu.priority,
            apdu.pduSource,
        )
        await self.response(SimpleAckPDU(context=apdu))  # type: ignore[attr-defined]

    async def do_WritePropertyMultipleRequest(self, apdu: Any) -> None:
        """Each write is hooked like a WriteProperty; the first failure stops the rest."""
        for spec in apdu.listOfWriteAccessSpecs:
            for prop in spec.listOfProperties:
                try:
                    await self._write_external(
                        spec.objectIdentifier,
                        prop.propertyIdentifier,
                        prop.value,
                        prop.propertyArrayIndex,
                        prop.priority,
                        apdu.pduSource,
                    )
                except ExecutionError as err:
                    await self.response(_wpm_error(apdu, spec.objectIdentifier, prop, err))  # type: ignore[attr-defined]
                    return
        await self.response(SimpleAckPDU(context=apdu))  # type: ignore[attr-defined]

    async def _write_external(
        self,
        object_id: Any,
        prop: Any,
        encoded: Any,
        index: int | None,
        priority: int | None,
        source: Any,
    ) -> None:
        try:
            obj = self._writable_object(object_id)
            check_priority(priority)
            value = _decode_value(obj, prop, encoded, index)
        except ExecutionError as err:
            await self._report_refusal(object_id, prop, encoded, priority, source, err)
            raise
        pending = _PendingWrite(
            prop, value, index, priority, str(source), asyncio.get_running_loop().create_future()
        )
        self._queue_write(obj, pending)
        try:
            await asyncio.shield(pending.done)
        except _PlanRefused as refused:
            await self._report_refusal(object_id, prop, value, priority, source, refused.error)
            raise refused.error from None

    # ---- group commit: one object's writes, queued while a store runs, are stored together

    def _queue_write(self, obj: LocalPoint, pending: _PendingWrite) -> None:
        """Queue a write behind the object's committer, starting one if none is running."""
        queues: dict[ObjectRef, list[_PendingWrite]] = self.__dict__.setdefault("_write_queues", {})
        committers: dict[ObjectRef, asyncio.Task[None]] = self.__dict__.setdefault(
            "_committers", {}
        )
        queues.setdefault(obj.ref, []).append(pending)
        committer = committers.get(obj.ref)
        if committer is None or committer.done():
            committer = asyncio.create_task(
                self._commit_queued(obj, queues), name=f"write-commit-{obj.ref}"
            )
            committers[obj.ref] = committer
            committer.add_done_callback(self._committer_done)

    def queued_writes(self, ref: ObjectRef) -> int:
        """Writes to the object waiting for the batch being stored to finish (diagnostics)."""
        return len(self.__dict__.get("_write_queues", {}).get(ref, ()))

    def _committer_done(self, task: asyncio.Task[None]) -> None:
        committers: dict[ObjectRef, asyncio.Task[None]] = self.__dict__["_committers"]
        for ref, committer in list(committers.items()):
            if committer is task:
                del committers[ref]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s crashed", task.get_name(), exc_info=task.exception())

    async def _commit_queued(
        self, obj: LocalPoint, queues: dict[ObjectRef, list[_PendingWrite]]
    ) -> None:
        """Store, apply and settle the object's queued writes, a batch at a time, in order."""
        limit = MAX_WRITE_BATCH if self.write_batch_hook is not None else 1
        while queues.get(obj.ref):
            waiting = queues[obj.ref]
            batch, queues[obj.ref] = waiting[:limit], waiting[limit:]
            try:
                await self._commit_batch(obj, batch)
            except Exception:
                # Its writers get an error below; the writes queued behind it still go on.
                log.exception("committing %d writes to %s failed", len(batch), obj.ref)
            finally:
                # Whatever happened (a bug, a cancellation), no writer waits forever.
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(
                            ExecutionError(errorClass="device", errorCode="operationalProblem")
                        )
        queues.pop(obj.ref, None)

    async def _commit_batch(self, obj: LocalPoint, batch: list[_PendingWrite]) -> None:
        async with obj.write_lock:
            outcomes = obj.plan_writes([(p.prop, p.value, p.index, p.priority) for p in batch])
            accepted: list[tuple[_PendingWrite, WritePlan]] = []
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, WritePlan):
                    accepted.append((pending, outcome))
                else:  # refused on its own; the writer audits it
                    pending.done.set_exception(_PlanRefused(outcome))
            if not accepted:
                return
            try:
                await self._run_hooks(
                    obj, [_write_event(obj, plan, p.source) for p, plan in accepted]
                )
            except ExecutionError as err:
                for pending, _plan in accepted:
                    pending.done.set_exception(err)
                return
            for pending, plan in accepted:
                await obj.apply_write(plan)  # planned under this lock: nothing changed since
                pending.done.set_result(None)

    async def _run_hooks(self, obj: LocalPoint, events: list[WriteEvent]) -> None:
        """The batch hook with every event (one store), else the single hook with the one."""
        batch_hook, single_hook = self.write_batch_hook, self.write_hook
        if batch_hook is not None:
            await self._guarded_hook(batch_hook(events), obj, events[0].property)
        elif single_hook is not None:
            (event,) = events
            await self._guarded_hook(single_hook(event), obj, event.property)

    async def _guarded_hook(self, call: Awaitable[None], obj: LocalPoint, prop: str) -> None:
        """Await a hook call within hook_timeout; any failure becomes the writers' Error."""
        try:
            async with asyncio.timeout(self.hook_timeout):
                await call
        except WriteRefused as exc:
            log.info("write to %s %s refused by the hook: %s", obj.ref, prop, exc)
            raise _refusal_error(exc) from exc
        except TimeoutError as exc:
            log.error("write hook overran %ss for %s; refused", self.hook_timeout, obj.ref)
            raise ExecutionError(errorClass="device", errorCode="operationalProblem") from exc
        except Exception as exc:
            log.exception("write hook failed for %s %s; write refused", obj.ref, prop)
            raise ExecutionError(errorClass="device", errorCode="operationalProblem") from exc

    async def _report_refusal(
        self,
        object_id: Any,
        prop: Any,
        value: Any,
        priority: int | None,
        source: Any,
        err: ExecutionError,
    ) -> None:
        """Tell the refusal hook (an audit trail) why a peer's write was refused.

        The writer gets its error whatever the hook does, so a failing hook is logged, not raised.
        """
        if self.refusal_hook is None:
            return
        refusal = RefusedWrite(
            object_id=f"{object_id[0]},{object_id[1]}",
            property=str(prop),
            value=_describe(value),
            priority=priority,
            source_address=str(source),
            reason=f"{_hyphenated(err.errorClass)}: {_hyphenated(err.errorCode)}",
        )
        try:
            async with asyncio.timeout(self.hook_timeout):
                await self.refusal_hook(refusal)
        except Exception:
            log.exception("refusal hook failed for %s; the write is refused anyway", refusal)

    def _writable_object(self, object_id: Any) -> LocalPoint:
        obj = self.get_object_id(object_id)  # type: ignore[attr-defined]
        if obj is None:
            raise ObjectError("unknownObject")
        if not isinstance(obj, LocalPoint):  # the device and network-port objects
            raise PropertyError("writeAccessDenied")
        return obj


class DeviceApplication(DeviceServices, Application):  # type: ignore[misc]
    """A plain device Application (tests, tools); the engine defines its own the same way."""


def _decode_value(obj: LocalPoint, prop: Any, encoded: Any, index: int | None) -> Any:
    """Cast the request's Any to the property's type; a mismatch is invalid-data-type."""
    attr = property_attr(prop)
    if attr not in obj.writable_properties():
        raise PropertyError("writeAccessDenied")
    if index is not None:
        raise PropertyError("propertyIsNotAnArray")
    property_type = obj.get_property_type(attr)  # type: ignore[attr-defined]
    try:
        # Null is how a peer relinquishes a priority; plan_write refuses it elsewhere.
        return encoded.cast_out(property_type, null=(attr == "presentValue"))
    except (_BacnetReject, DecodingError, ValueError, TypeError) as exc:
        raise PropertyError("invalidDataType") from exc


def _hyphenated(name: Any) -> str:
    """bacpypes3 spells error codes in camelCase; BACnet (and our audit) in hyphens."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", str(name)).lower()


def _describe(value: Any) -> str | None:
    """A refused value as text for the audit: it may not even have a Python form."""
    if value is None:
        return None
    try:
        return str(to_python(value))
    except (ValueError, TypeError, AttributeError):
        return repr(value)


def _write_event(obj: LocalPoint, plan: WritePlan, source: str) -> WriteEvent:
    return WriteEvent(
        ref=obj.ref,
        object_name=str(obj.objectName),  # type: ignore[attr-defined]
        property=plan.property,
        old_value=plan.old_value,
        new_value=plan.new_value,
        priority=plan.priority,
        source_address=source,
        effective_value=plan.effective_value,
        priority_array=plan.priority_array,
    )


def _refusal_error(exc: WriteRefused) -> ExecutionError:
    """The hook's error class/code if BACnet knows them, else device/operational-problem."""
    try:
        error_class, error_code = ErrorClass(exc.error_class), ErrorCode(exc.error_code)
    except ValueError:
        log.error(
            "write hook refused with unknown BACnet error %s/%s; sending "
            "device/operational-problem",
            exc.error_class,
            exc.error_code,
        )
        return ExecutionError(errorClass="device", errorCode="operationalProblem")
    return ExecutionError(errorClass=error_class.attr, errorCode=error_code.attr)


def _wpm_error(apdu: Any, object_id: Any, prop: Any, err: ExecutionError) -> Any:
    reference = ObjectPropertyReference(
        objectIdentifier=object_id, propertyIdentifier=prop.propertyIdentifier
    )
    if prop.propertyArrayIndex is not None:
        reference.propertyArrayIndex = prop.propertyArrayIndex
    return WritePropertyMultipleError(
        errorType=ErrorType(errorClass=err.errorClass, errorCode=err.errorCode),
        firstFailedWriteAttempt=reference,
        context=apdu,
    )


class LocalDevice:
    """The objects our device serves, managed while it runs."""

    def __init__(
        self,
        app: Application,
        write_hook: WriteHook | None = None,
        *,
        hook_timeout: float = HOOK_TIMEOUT_SECONDS,
    ) -> None:
        self._app: Application = app
        if not isinstance(app, DeviceServices):
            raise TypeError("the application class must inherit DeviceServices")
        self._specs: dict[ObjectRef, ObjectSpec] = {}
        app.write_hook = write_hook
        app.hook_timeout = hook_timeout

    def set_write_hook(self, write_hook: WriteHook | None) -> None:
        self._app.write_hook = write_hook  # type: ignore[attr-defined]

    def set_write_batch_hook(self, write_batch_hook: WriteBatchHook | None) -> None:
        """Store queued writes to one object together (group commit); see WriteBatchHook."""
        self._app.write_batch_hook = write_batch_hook  # type: ignore[attr-defined]

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
        self._app.delete_object(obj)
        del self._specs[obj.ref]
        self._bump_database_revision()
        log.info("stopped serving %s", obj.ref)

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
    write_hook: WriteHook | None = None,
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
    device = LocalDevice(app, write_hook, hook_timeout=hook_timeout)
    try:
        for spec in objects:
            device.add_object(spec)
    except BaseException:
        close_application(app)
        raise
    return app, device
