"""The device's services to peers: external writes, validated, hooked and group-committed.

Theory of operation. One bacpypes3 Application is both our client and device 8888. The
engine's Application class inherits `DeviceServices`, which replaces bacpypes3's
WriteProperty / WritePropertyMultiple handlers so that an external write runs as:

1. find the object (only our local points are writable) and decode the value, turning a
   wrong datatype into the invalid-data-type Error bacpypes3 would send as a Reject;
2. `plan_write`: validate and compute the state after the write, changing nothing;
3. await the product's write hook with the `WriteEvent`s (bounded by a timeout); if it
   raises, the writers get an Error PDU and the object is untouched;
4. apply the writes, then acknowledge them.

Writes to one object are serialised (per-object lock) so the old value and priority array
the hook sees are the ones the write replaces. Group commit: each object has one committer
task; writes arriving while it stores queue, and the next round plans them in sequence (each
on the state the previous leaves), hands them all to `write_batch_hook` (one store), then
applies and acknowledges them in order. A failing store refuses the whole batch; a write that
fails its own validation is refused alone (and audited through `refusal_hook`). Our own
updates (`LocalDevice.set_present_value`) skip the hook.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import SimpleAckPDU, WritePropertyMultipleError
from bacpypes3.basetypes import (
    ErrorClass,
    ErrorCode,
    ErrorType,
    ObjectPropertyReference,
    ServicesSupported,
)
from bacpypes3.errors import DecodingError, ExecutionError, ObjectError, PropertyError
from bacpypes3.errors import RejectException as _BacnetReject

from bms.bacnet.cov_server import CovServer
from bms.bacnet.errors import WriteRefused
from bms.bacnet.event_services import EventServices
from bms.bacnet.local import LocalPoint, WritePlan
from bms.bacnet.local.objects import check_priority, property_attr
from bms.bacnet.refusals import refused_write
from bms.bacnet.types import ObjectRef, RefusedWrite, WriteEvent

__all__ = [
    "HOOK_TIMEOUT_SECONDS",
    "MAX_WRITE_BATCH",
    "SERVED_SERVICES",
    "DeviceServices",
    "RefusalHook",
    "WriteBatchHook",
]

log = logging.getLogger(__name__)

# Group commit: while one object's writes are being stored, further writes to it queue; the
# queued writes are planned in sequence (each on the state the previous leaves) and handed to
# this hook together, in order, to be stored at once, before any is applied and acknowledged.
# Raise WriteRefused (its error class/code go to the writers) or any Exception to refuse every
# write it was given (none changes the object). A hook that overruns `hook_timeout` is
# cancelled and the writes refused, so keep it short and idempotent: a peer that timed out
# will retry the same write.
WriteBatchHook = Callable[[list[WriteEvent]], Awaitable[None]]
RefusalHook = Callable[[RefusedWrite], Awaitable[None]]

MAX_WRITE_BATCH = 256  # writes stored together at most (one object)

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
    # alarms and events (event_services). We initiate event notifications but do not yet
    # execute them (receiving them is the alarm console's part): not claimed.
    "acknowledgeAlarm",
    "getAlarmSummary",
    "getEnrollmentSummary",
    "getEventInformation",
)


@dataclass
class _PendingWrite:
    """A decoded external write waiting for its object's committer."""

    prop: Any
    value: Any
    index: int | None
    priority: int | None
    source: str
    done: asyncio.Future[None]


class _PlanRefused(Exception):  # carries the write's own ExecutionError
    """The write's own validation refused it (carried to its writer, who audits it)."""

    def __init__(self, error: ExecutionError) -> None:
        super().__init__(str(error))
        self.error = error


class DeviceServices(EventServices, CovServer):
    """Mixin for the engine's Application: validated, hooked writes and honest services.

    Its COV server part (status-flags changes, active-cov-subscriptions) is `CovServer`; its
    alarm part (transitions, AcknowledgeAlarm, the event summaries) is `EventServices`.

    Use as `class EngineApplication(DeviceServices, Application)`.
    """

    write_batch_hook: WriteBatchHook | None = None
    refusal_hook: RefusalHook | None = None
    hook_timeout: float = HOOK_TIMEOUT_SECONDS
    # The properties the write hook stores ("present-value", ...); None: every writable one.
    # An ack promises the value outlives a restart, so any other is write-access-denied.
    stored_properties: frozenset[str] | None = None

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
            self._check_stored(prop)
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
        while queues.get(obj.ref):
            waiting = queues[obj.ref]
            batch, queues[obj.ref] = waiting[:MAX_WRITE_BATCH], waiting[MAX_WRITE_BATCH:]
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
                await self._run_hook(
                    obj, [_write_event(obj, plan, p.source) for p, plan in accepted]
                )
            except ExecutionError as err:
                for pending, _plan in accepted:
                    pending.done.set_exception(err)
                return
            for pending, plan in accepted:
                await obj.apply_write(plan)  # planned under this lock: nothing changed since
                pending.done.set_result(None)

    async def _run_hook(self, obj: LocalPoint, events: list[WriteEvent]) -> None:
        """Store the batch (one hook call) within hook_timeout; any failure becomes the
        writers' Error. Without a hook (tools, tests) the writes are applied as planned."""
        if self.write_batch_hook is None:
            return
        prop = events[0].property
        try:
            async with asyncio.timeout(self.hook_timeout):
                await self.write_batch_hook(events)
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
        refusal = refused_write(object_id, prop, value, priority, source, err)
        try:
            async with asyncio.timeout(self.hook_timeout):
                await self.refusal_hook(refusal)
        except Exception:
            log.exception("refusal hook failed for %s; the write is refused anyway", refusal)

    def _check_stored(self, prop: Any) -> None:
        stored = self.stored_properties
        if stored is not None and property_attr(prop) not in _attrs(stored):
            raise PropertyError("writeAccessDenied")

    def _writable_object(self, object_id: Any) -> LocalPoint:
        obj = self.get_object_id(object_id)  # type: ignore[attr-defined]
        if obj is None:
            raise ObjectError("unknownObject")
        if not isinstance(obj, LocalPoint):  # the device and network-port objects
            raise PropertyError("writeAccessDenied")
        return obj


@functools.cache
def _attrs(properties: frozenset[str]) -> frozenset[str]:
    """ "present-value" -> "presentValue" for a set of property names (one set per worker)."""
    return frozenset(property_attr(p) for p in properties)


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
        value = encoded.cast_out(property_type, null=(attr == "presentValue"))
    except (_BacnetReject, DecodingError, ValueError, TypeError, struct.error) as exc:
        # struct.error: a Real or Double tag with fewer data octets than it needs.
        raise PropertyError("invalidDataType") from exc
    if isinstance(value, str) and "\x00" in value:
        # A BACnet CharacterString may hold NUL, but we store what is written (PostgreSQL
        # text cannot hold NUL) and a peer reading it back must get what it wrote. The
        # datatype is right, so not invalid-data-type: the value is one this property does
        # not take, which is what value-out-of-range says (as for a number beyond its limits).
        raise PropertyError("valueOutOfRange")
    return value


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
