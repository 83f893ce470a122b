"""bacpypes3 local objects for the catalog's point specs, built fast enough for 1,000 devices.

Theory of operation: constructing a bacpypes3 object costs ~0.7 ms (its Sequence constructor
runs `inspect.getattr_static` for every unset property), so a 100-object device would take
~70 ms and 1,000 devices over a minute. Instead, `ObjectFactory` builds one prototype per point
template and hands out shallow copies (~0.05 ms). A shallow copy shares the prototype's property
values; that is safe for values the stack *replaces* on write (numbers, enums, strings, flags),
so the copy gets its own instance of everything the stack *mutates in place*: arrays written by
index (state texts), the priority array (whose slots point back at their object) and the table
of property monitors that COV subscriptions hook into. Tests compare a copy with a freshly built
object property by property, and check that a write to one device leaves the others alone.

bacpypes3 ships no commandable multi-state value, and its `BinaryValueObjectCmd` skips the local
`Object` base (so no dynamic property list): both are built here from the local classes plus the
`Commandable` mixin, which adds the priority array and relinquish default.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bacpypes3.basetypes import PriorityValue
from bacpypes3.constructeddata import Array
from bacpypes3.local.analog import (
    AnalogInputObject,
    AnalogOutputObject,
    AnalogValueObject,
    AnalogValueObjectCmd,
)
from bacpypes3.local.binary import BinaryInputObject, BinaryOutputObject, BinaryValueObject
from bacpypes3.local.cmd import Commandable, PriorityArray
from bacpypes3.local.cov import COVIncrementCriteria
from bacpypes3.local.multistate import (
    MultiStateInputObject,
    MultiStateOutputObject,
    MultiStateValueObject,
)

from bms.bacnet.cov_server import ChangeOfStateCov
from bms.simulator.catalog import PointSpec, PointTemplate
from bms.simulator.cov_notify import FastCovIncrement, FastGeneric


class CommandableBinaryValueObject(Commandable, BinaryValueObject):  # type: ignore[misc]
    """A binary value with a priority array."""

    _required = ("priorityArray", "relinquishDefault", "currentCommandPriority")


# The multi-state classes subscribe by change of state (bms.bacnet.cov_server.ChangeOfStateCov):
# bacpypes3's own ask for a cov-increment these objects do not have, and refuse every SubscribeCOV.


class SimMultiStateInput(ChangeOfStateCov, MultiStateInputObject):  # type: ignore[misc]
    pass


class SimMultiStateOutput(ChangeOfStateCov, MultiStateOutputObject):  # type: ignore[misc]
    pass


class SimMultiStateValue(ChangeOfStateCov, MultiStateValueObject):  # type: ignore[misc]
    pass


class CommandableMultiStateValueObject(ChangeOfStateCov, Commandable, MultiStateValueObject):  # type: ignore[misc]
    """A multi-state value with a priority array."""

    _required = ("priorityArray", "relinquishDefault", "currentCommandPriority")


def _fast_cov(base: type) -> type:
    """`base` with its COV notifications built by bms.simulator.cov_notify (the same octets,
    cheaper: bench/cov.py's 1,000 changes/s), under the same class name."""
    criteria = FastCovIncrement if base._cov_criteria is COVIncrementCriteria else FastGeneric  # type: ignore[attr-defined]
    return type(base.__name__, (base,), {"_cov_criteria": criteria, "__module__": __name__})


OBJECT_CLASSES: dict[tuple[str, bool], type] = {
    key: _fast_cov(base)
    for key, base in {
        ("analog-input", False): AnalogInputObject,
        ("analog-output", True): AnalogOutputObject,
        ("analog-value", False): AnalogValueObject,
        ("analog-value", True): AnalogValueObjectCmd,
        ("binary-input", False): BinaryInputObject,
        ("binary-output", True): BinaryOutputObject,
        ("binary-value", False): BinaryValueObject,
        ("binary-value", True): CommandableBinaryValueObject,
        ("multi-state-input", False): SimMultiStateInput,
        ("multi-state-output", True): SimMultiStateOutput,
        ("multi-state-value", False): SimMultiStateValue,
        ("multi-state-value", True): CommandableMultiStateValueObject,
    }.items()
}

NORMAL_STATUS = [0, 0, 0, 0]  # in-alarm, fault, overridden, out-of-service

# Building a PriorityValue costs ~0.15 ms and Commandable would build 16 per object. Slots are
# only ever replaced, never mutated, so every empty slot can be this one instance.
EMPTY_SLOT = PriorityValue(null=())


def build_object(spec: PointSpec, rng: random.Random) -> Any:
    """A freshly constructed bacpypes3 local object for `spec` (slow; see ObjectFactory)."""
    template = spec.template
    object_class = OBJECT_CLASSES[(template.object_type, template.commandable)]
    properties: dict[str, Any] = {
        "objectIdentifier": (spec.ref.object_type, spec.ref.instance),
        "objectName": spec.name,
        "description": spec.description,
        "presentValue": initial_value(template, rng),
        "statusFlags": NORMAL_STATUS,
        "eventState": "normal",
        "outOfService": False,
    }
    properties.update(_kind_properties(template))
    if template.commandable:
        properties["priorityArray"] = [EMPTY_SLOT] * 16
    return object_class(**properties)


def initial_value(template: PointTemplate, rng: random.Random) -> float | int | str:
    if template.walk is not None:
        return template.walk.start(rng)
    return template.initial


def _kind_properties(template: PointTemplate) -> dict[str, Any]:
    kind = template.object_type
    if kind.startswith("analog-"):
        return {"units": template.units, "covIncrement": 0.1}
    if kind.startswith("binary-"):
        extra: dict[str, Any] = {"activeText": "On", "inactiveText": "Off"}
        if kind != "binary-value":
            extra["polarity"] = "normal"
        return extra
    return {"numberOfStates": len(template.states), "stateText": list(template.states)}


@dataclass(frozen=True)
class _Prototype:
    obj: Any
    arrays: tuple[str, ...]  # array properties other than the priority array


@dataclass(frozen=True)
class _Identity:
    """A spec's identifier, name and description, cast once and shared by every device.

    They are immutable (tuple and str subclasses) and replaced, not mutated, on write.
    """

    object_identifier: Any
    object_name: Any
    description: Any


class ObjectFactory:
    """Builds objects by copying one prototype per template (see the module docstring)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._prototypes: dict[PointTemplate, _Prototype] = {}
        self._identities: dict[PointSpec, _Identity] = {}

    def build(self, spec: PointSpec) -> Any:
        prototype = self._prototypes.get(spec.template)
        if prototype is None:
            prototype = _prototype(build_object(spec, self._rng))
            self._prototypes[spec.template] = prototype
        return self._copy(prototype, spec)

    def _copy(self, prototype: _Prototype, spec: PointSpec) -> Any:
        obj = _shallow_copy(prototype.obj)
        obj._property_monitors = defaultdict(list)
        for attr in prototype.arrays:
            value = vars(obj)[attr]
            _put(obj, attr, type(value)(value))
        if spec.template.commandable:
            _put(obj, "priorityArray", PriorityArray([EMPTY_SLOT] * 16, obj=obj))
        _put_identity(obj, self._identity(obj, spec))
        if spec.template.walk is not None:
            _put(obj, "presentValue", spec.template.walk.start(self._rng))
        return obj

    def _identity(self, obj: Any, spec: PointSpec) -> _Identity:
        identity = self._identities.get(spec)
        if identity is None:
            identity = _Identity(
                _typed(obj, "objectIdentifier", (spec.ref.object_type, spec.ref.instance)),
                _typed(obj, "objectName", spec.name),
                _typed(obj, "description", spec.description),
            )
            self._identities[spec] = identity
        return identity


def _prototype(obj: Any) -> _Prototype:
    arrays = tuple(
        attr
        for attr, value in vars(obj).items()
        if isinstance(value, Array) and not isinstance(value, PriorityArray)
    )
    return _Prototype(obj, arrays)


def _shallow_copy(prototype: Any) -> Any:
    # What copy.copy does, without its __reduce_ex__ round trip through bacpypes3's
    # Python-level __getattribute__ (a third of the copy's cost).
    obj = object.__new__(type(prototype))
    vars(obj).update(vars(prototype))
    return obj


def _put(obj: Any, attr: str, value: Any) -> None:
    """Store a property of a fresh copy directly.

    The object's own __setattr__ would skip a value equal to the shared one (so a copy would
    keep the prototype's priority array) and costs ~0.1 ms in `inspect.getattr_static`.
    """
    object.__setattr__(obj, attr, _typed(obj, attr, value))


def _put_identity(obj: Any, identity: _Identity) -> None:
    # Name and identifier are properties that also index the object in its application; the
    # copy is not in an application yet, so their setters only store the value. They store
    # what they are given, so it must already be the element type (their cast returns a str).
    object_class = type(obj)
    object_class.objectIdentifier.fset(obj, identity.object_identifier)
    object_class.objectName.fset(obj, identity.object_name)
    object.__setattr__(obj, "description", identity.description)


def _typed(obj: Any, attr: str, value: Any) -> Any:
    element = type(obj)._elements[attr]
    if value.__class__ is element:
        return value
    return element(element.cast(value))
