"""Our local point objects: bacpypes3's local objects plus the validation BACnet expects.

Theory of operation. bacpypes3 accepts any write to any property (an AI's present value, an
MSV set to 7 of 3 states). Every class here puts `LocalPoint` first in its MRO, so
`write_property` validates before bacpypes3 stores anything, and raising bacpypes3's
`PropertyError` becomes a proper BACnet Error PDU for the writer.

An external write runs in two steps so the product's write hook can veto it:
`plan_write()` validates and computes the object's state after the write *without applying
it*; the device services await the hook with that plan; only then `write_property()` applies
it (validating again: cheap, and it keeps direct calls safe).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bacpypes3.basetypes import BinaryPV, PropertyIdentifier
from bacpypes3.errors import ExecutionError, PropertyError
from bacpypes3.local.analog import (
    AnalogInputObject,
    AnalogOutputObject,
    AnalogValueObject,
    AnalogValueObjectCmd,
)
from bacpypes3.local.binary import BinaryInputObject, BinaryOutputObject
from bacpypes3.local.binary import BinaryValueObject as _LocalBinaryValue
from bacpypes3.local.cmd import Commandable
from bacpypes3.local.multistate import (
    MultiStateInputObject,
    MultiStateOutputObject,
)
from bacpypes3.local.multistate import MultiStateValueObject as _LocalMultiStateValue
from bacpypes3.primitivedata import Boolean, CharacterString, Null, Real, Unsigned

from bms.bacnet import commanding
from bms.bacnet.commanding import DEFAULT_PRIORITY, is_priority, priority_winner
from bms.bacnet.cov_server import ChangeOfStateCov, MonitoredWrites
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local.attributes import StaticAttributeReads
from bms.bacnet.local.convert import present_value_to_bacnet, priority_value, to_plain
from bms.bacnet.local.spec import ObjectSnapshot
from bms.bacnet.types import ObjectRef, PresentValue


@dataclass(frozen=True)
class WritePlan:
    """A validated external write and the state it would leave behind."""

    attr: str  # bacpypes3 attribute name, "presentValue"
    property: str  # BACnet name, "present-value"
    value: Any  # the decoded bacpypes3 value to apply
    index: int | None
    priority: int | None
    old_value: PresentValue
    new_value: PresentValue
    effective_value: PresentValue  # present value after the write
    priority_array: tuple[PresentValue, ...]  # after the write; () if not commandable
    requested_priority: int | None = None  # as the writer sent it (bacpypes3 applies this)


def property_attr(prop: Any) -> str:
    """ "present-value" / "presentValue" / 85 -> "presentValue"."""
    try:
        return str(PropertyIdentifier(prop).attr)
    except ValueError as exc:
        raise PropertyError("unknownProperty") from exc


def check_priority(priority: int | None) -> None:
    if priority is not None and not is_priority(priority):
        raise ExecutionError(errorClass="services", errorCode="parameterOutOfRange")


class LocalPoint(MonitoredWrites, StaticAttributeReads):
    """Validation and write planning shared by every local point class (first in the MRO)."""

    _kind: ClassVar[str]  # "analog", "binary", "multistate"
    _commandable: ClassVar[bool] = False
    _is_input: ClassVar[bool] = False
    _value_type: ClassVar[type]  # bacpypes3 class of present-value

    # Peers may write these and nothing else (bacpypes3 alone would let them rename us).
    _writable: ClassVar[frozenset[str]] = frozenset({"presentValue", "outOfService", "description"})

    @classmethod
    def writable_properties(cls) -> frozenset[str]:
        extra = {"covIncrement"} if cls._kind == "analog" else set()
        if cls._commandable:
            extra.add("relinquishDefault")
        return cls._writable | extra

    def _read(self, attr: str) -> Any:
        """A property's value as validation sees it: the planned state first, then the object."""
        overlay = self.__dict__.get("_planned_state")
        if overlay is not None and attr in overlay:
            return overlay[attr]
        return getattr(self, attr, None)

    @property
    def write_lock(self) -> asyncio.Lock:
        """Serialises external writes so a hook sees the state its write replaces."""
        lock = getattr(self, "_write_lock", None)
        if lock is None:
            lock = self._write_lock = asyncio.Lock()
        return lock

    # ---- the bacpypes3 side

    async def write_property(
        self, attr: Any, value: Any, index: int | None = None, priority: int | None = None
    ) -> None:
        await self.apply_write(self.plan_write(attr, value, index, priority))

    async def apply_write(self, plan: WritePlan) -> None:
        """Apply a plan `plan_write` made for this object, without validating it again.

        The device services plan and apply under `write_lock`, and what validation depends on
        (limits, states, the object's type) never changes on a live object: a changed
        definition is served as a new object.
        """
        await super().write_property(  # type: ignore[misc]
            plan.attr, plan.value, plan.index, plan.requested_priority
        )
        if plan.attr == "relinquishDefault":
            # bacpypes3 recalculates only when the priority array changes.
            self.recalculating()  # type: ignore[attr-defined]

    # ---- validation and planning

    def plan_write(
        self, attr: Any, value: Any, index: int | None, priority: int | None
    ) -> WritePlan:
        """Validate a write from a peer and compute its effect without applying it."""
        name = property_attr(attr)
        check_priority(priority)
        if name not in self.writable_properties():
            raise PropertyError("writeAccessDenied")
        if index is not None:
            raise PropertyError("propertyIsNotAnArray")
        self._check_value(name, value)
        return self._plan(name, value, priority)

    def plan_writes(
        self, writes: Sequence[tuple[Any, Any, int | None, int | None]]
    ) -> list[WritePlan | ExecutionError]:
        """Plan writes in sequence, each on the state the accepted ones before it leave.

        Changes nothing: the result has one entry per write, its plan or the ExecutionError
        that refuses it (a refused write leaves the state for the next one as it was). Applying
        the plans in order with `apply_write` gives the state the last plan describes.
        """
        results: list[WritePlan | ExecutionError] = []
        planned: dict[str, Any] = {}
        self.__dict__["_planned_state"] = planned
        try:
            for attr, value, index, priority in writes:
                try:
                    plan = self.plan_write(attr, value, index, priority)
                except ExecutionError as err:
                    results.append(err)
                    continue
                results.append(plan)
                planned[plan.attr] = plan.new_value
                if self._commandable:
                    planned["priorityArray"] = plan.priority_array
                    planned["presentValue"] = plan.effective_value
        finally:
            self.__dict__["_planned_state"] = None
        return results

    def _check_value(self, name: str, value: Any) -> None:
        if name == "presentValue":
            self._check_present_value_write(value)
        elif name == "relinquishDefault":
            self._check_present_value(value)
        elif name == "outOfService":
            _require_type(value, Boolean)
        elif name == "description":
            _require_type(value, CharacterString)
        elif name == "covIncrement":
            _require_type(value, Real)
            if not commanding.is_cov_increment(value):
                raise PropertyError("valueOutOfRange")

    def _check_present_value_write(self, value: Any) -> None:
        if self._is_input and not self._read("outOfService"):
            raise PropertyError("writeAccessDenied")
        if isinstance(value, Null):
            if not self._commandable:
                raise PropertyError("invalidDataType")
            return
        self._check_present_value(value)

    def _check_present_value(self, value: Any) -> None:
        _require_type(value, self._value_type)
        if not self._in_range(value):
            raise PropertyError("valueOutOfRange")

    def _in_range(self, value: Any) -> bool:
        """Whether `value` (already of the right type) is a present value this object allows."""
        raise NotImplementedError

    def _plan(self, name: str, value: Any, priority: int | None) -> WritePlan:
        old = to_plain(self._read(name))
        array = self.plain_priority_array()
        effective = to_plain(self._read("presentValue"))
        if self._commandable and name == "presentValue":
            level = priority or DEFAULT_PRIORITY
            array = (*array[: level - 1], to_plain(value), *array[level:])
            effective = priority_winner(array, to_plain(self._read("relinquishDefault")))
        elif self._commandable and name == "relinquishDefault":
            effective = priority_winner(array, to_plain(value))
        elif name == "presentValue":
            effective = to_plain(value)
        return WritePlan(
            attr=name,
            property=str(PropertyIdentifier(name)),
            value=value,
            index=None,
            # the level actually commanded (16 when the writer gave none); None if no array
            priority=(priority or DEFAULT_PRIORITY)
            if self._commandable and name == "presentValue"
            else None,
            old_value=old,
            new_value=to_plain(value),
            effective_value=effective,
            priority_array=array,
            requested_priority=priority,
        )

    # ---- local updates and reading back

    def set_local_value(self, value: PresentValue, priority: int | None = None) -> None:
        """Our own code sets the value (no hook): inputs directly, commandables at `priority`.

        Raises InvalidValueError for a value this object would refuse from a peer.
        """
        if priority is not None:
            commanding.checked_priority(priority)
        if value is None:
            self._relinquish_locally(priority)
            return
        bacnet_value = present_value_to_bacnet(self.ref.object_type, value)
        if not self._in_range(bacnet_value):
            raise InvalidValueError(f"{value!r} is out of range for {self.ref}")
        if self._commandable:
            level = priority or DEFAULT_PRIORITY
            self.priorityArray[level - 1] = priority_value(bacnet_value)  # type: ignore[attr-defined]
        else:
            setattr(self, "presentValue", bacnet_value)  # noqa: B010 (bacpypes3 attribute)

    def _relinquish_locally(self, priority: int | None) -> None:
        if not self._commandable:
            raise InvalidValueError(f"{self.ref} has no priority array to relinquish")
        level = priority or DEFAULT_PRIORITY
        self.priorityArray[level - 1] = priority_value(Null(()))  # type: ignore[attr-defined]

    def plain_priority_array(self) -> tuple[PresentValue, ...]:
        if not self._commandable:
            return ()
        return tuple(to_plain(entry) for entry in self._read("priorityArray"))

    @property
    def ref(self) -> ObjectRef:
        # Our objects never change identifier (peers cannot write it; a changed definition is
        # a new object), so it is read once.
        ref: ObjectRef | None = self.__dict__.get("_ref")
        if ref is None:
            object_type, instance = self.objectIdentifier  # type: ignore[attr-defined]
            ref = self._ref = ObjectRef(str(object_type), int(instance))
        return ref

    def snapshot(self) -> ObjectSnapshot:
        flags = tuple(bool(flag) for flag in self.statusFlags)  # type: ignore[attr-defined]
        priority = getattr(self, "currentCommandPriority", None)
        return ObjectSnapshot(
            ref=self.ref,
            name=str(self.objectName),  # type: ignore[attr-defined]
            present_value=to_plain(getattr(self, "presentValue", None)),
            out_of_service=bool(getattr(self, "outOfService", False)),
            status_flags=(flags[0], flags[1], flags[2], flags[3]),
            priority_array=self.plain_priority_array(),
            relinquish_default=to_plain(getattr(self, "relinquishDefault", None)),
            active_priority=to_plain(priority) if self._commandable else None,  # type: ignore[arg-type]
        )


def _require_type(value: Any, expected: type) -> None:
    if not isinstance(value, expected):
        raise PropertyError("invalidDataType")


# ---- the three kinds


class AnalogPoint(LocalPoint):
    _kind = "analog"
    _value_type = Real

    def _in_range(self, value: Any) -> bool:
        return commanding.is_within(value, self._read("minPresValue"), self._read("maxPresValue"))


class BinaryPoint(LocalPoint):
    _kind = "binary"
    _value_type = BinaryPV

    def _in_range(self, value: Any) -> bool:
        return int(value) in (0, 1)  # BinaryPV decodes any enumeration number


class MultiStatePoint(ChangeOfStateCov, LocalPoint):
    _kind = "multistate"
    _value_type = Unsigned

    def _in_range(self, value: Any) -> bool:
        return commanding.is_in_states(int(value), self._read("numberOfStates") or 0)


class CommandableMixin:
    _commandable = True


class InputMixin:
    _is_input = True


# ---- the nine classes; the mixins come first so their overrides win


class LocalAnalogInput(InputMixin, AnalogPoint, AnalogInputObject):
    pass


class LocalAnalogOutput(CommandableMixin, AnalogPoint, AnalogOutputObject):
    pass


class LocalAnalogValue(CommandableMixin, AnalogPoint, AnalogValueObjectCmd):
    pass


class LocalBinaryInput(InputMixin, BinaryPoint, BinaryInputObject):
    pass


class LocalBinaryOutput(CommandableMixin, BinaryPoint, BinaryOutputObject):
    pass


# bacpypes3's BinaryValueObjectCmd skips the local Object base (no COV, no property list),
# so the commandable binary value is assembled here from the local class.
class LocalBinaryValue(CommandableMixin, BinaryPoint, Commandable, _LocalBinaryValue):
    pass


class LocalMultiStateInput(InputMixin, MultiStatePoint, MultiStateInputObject):
    pass


class LocalMultiStateOutput(CommandableMixin, MultiStatePoint, MultiStateOutputObject):
    pass


# bacpypes3 ships no commandable multi-state value.
class LocalMultiStateValue(CommandableMixin, MultiStatePoint, Commandable, _LocalMultiStateValue):
    pass


# Value objects a profile made non-commandable: no priority array, no relinquish default.
class LocalAnalogValueNonCommandable(AnalogPoint, AnalogValueObject):
    pass


class LocalBinaryValueNonCommandable(BinaryPoint, _LocalBinaryValue):
    pass


class LocalMultiStateValueNonCommandable(MultiStatePoint, _LocalMultiStateValue):
    pass


NON_COMMANDABLE_VALUE_CLASSES: dict[str, type[LocalPoint]] = {
    "analog-value": LocalAnalogValueNonCommandable,
    "binary-value": LocalBinaryValueNonCommandable,
    "multi-state-value": LocalMultiStateValueNonCommandable,
}

LOCAL_CLASSES: dict[str, type[LocalPoint]] = {
    "analog-input": LocalAnalogInput,
    "analog-output": LocalAnalogOutput,
    "analog-value": LocalAnalogValue,
    "binary-input": LocalBinaryInput,
    "binary-output": LocalBinaryOutput,
    "binary-value": LocalBinaryValue,
    "multi-state-input": LocalMultiStateInput,
    "multi-state-output": LocalMultiStateOutput,
    "multi-state-value": LocalMultiStateValue,
}


def local_class(object_type: str, commandable: bool) -> type[LocalPoint]:
    """The class that serves an object of this type, commandable or not (a value object's
    choice; bms.bacnet.local.spec.served_commandable decides it)."""
    if not commandable and object_type in NON_COMMANDABLE_VALUE_CLASSES:
        return NON_COMMANDABLE_VALUE_CLASSES[object_type]
    return LOCAL_CLASSES[object_type]
