"""Conversion between bacpypes3 values and plain Python, in both directions.

Reading (`to_python`) never fails on a well-formed bacpypes3 value: it maps the types we know
(Real -> float, Unsigned/Integer -> int, Enumerated -> its hyphenated name, BinaryPV ->
"active"/"inactive", Null -> None, StatusFlags -> 4 bools, arrays -> lists, ...) and falls back
to a structural conversion for the rest (choices -> their chosen value, sequences -> dicts).

Writing (`to_bacnet`) is strict: a value that does not fit the target property raises
InvalidValueError here, before anything goes on the wire, so a typo in the UI never becomes a
BACnet Error PDU (or worse, a silently accepted write: bacpypes3 devices do not validate).
"""

from __future__ import annotations

from typing import Any

from bacpypes3.basetypes import BinaryPV, PropertyIdentifier, StatusFlags
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.constructeddata import AnyAtomic, Array, Choice, ExtendedList, Sequence
from bacpypes3.primitivedata import (
    Atomic,
    BitString,
    Boolean,
    CharacterString,
    Date,
    Enumerated,
    Null,
    ObjectIdentifier,
    ObjectType,
    OctetString,
    Real,
    Time,
    Unsigned,
    attr_to_asn1,
)
from bacpypes3.vendor import get_vendor_info

from bms.bacnet import commanding
from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import (
    ANALOG_TYPES,
    BINARY_TYPES,
    MULTISTATE_TYPES,
    ObjectRef,
)

# --- bacpypes3 -> Python -----------------------------------------------------------------


def to_python(value: Any) -> Any:
    """Convert one decoded bacpypes3 value to plain Python (see the module docstring)."""
    if value is None or isinstance(value, Null):
        return None
    if isinstance(value, Atomic):
        return _atomic_to_python(value)
    if isinstance(value, ExtendedList):  # ArrayOf / ListOf
        return [to_python(item) for item in value]
    if isinstance(value, Choice):
        return _choice_to_python(value)
    if isinstance(value, Sequence):
        return _sequence_to_python(value)
    if isinstance(value, AnyAtomic):
        # A schedule's present-value and schedule-default: the atomic value carries its type.
        return to_python(value.get_value())
    if isinstance(value, AnyValue):
        # An Any can only be decoded with the property's type; the caller must cast it first.
        raise InvalidValueError("cannot convert an undecoded Any; cast it to its type first")
    if isinstance(value, list | tuple):
        return [to_python(item) for item in value]
    return value


def _atomic_to_python(value: Atomic) -> Any:
    # Order matters: Boolean and Enumerated are int subclasses, Double is a Real.
    if isinstance(value, Boolean):
        return bool(value)
    if isinstance(value, Enumerated):
        return enum_to_python(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, int):  # Unsigned, Integer and their subtypes
        return int(value)
    if isinstance(value, CharacterString):
        return str(value)
    if isinstance(value, OctetString):
        return bytes(value)
    if isinstance(value, StatusFlags):
        return status_flags_to_python(value)
    if isinstance(value, BitString):
        return bits_to_names(value)
    if isinstance(value, ObjectIdentifier):
        return object_ref(value)
    if isinstance(value, Date | Time):
        return str(value)
    return value


def enum_to_python(value: Enumerated) -> str | int:
    """An enumeration's hyphenated name ("degrees-celsius"), or its number if it has none."""
    name = str(value)
    return int(value) if name.isdigit() else name


def status_flags_to_python(value: BitString) -> tuple[bool, bool, bool, bool]:
    """(in-alarm, fault, overridden, out-of-service)."""
    bits = [bool(bit) for bit in value] + [False] * 4
    return bits[0], bits[1], bits[2], bits[3]


def bits_to_names(value: BitString) -> tuple[str, ...]:
    """The names of the bits that are set (numbers as strings for unnamed bits)."""
    names = {number: name for name, number in value._bitstring_names.items()}
    return tuple(names.get(number, str(number)) for number, bit in enumerate(value) if bit)


def object_ref(value: ObjectIdentifier) -> ObjectRef:
    object_type, instance = value
    return ObjectRef(str(object_type), int(instance))


def _choice_to_python(value: Choice) -> Any:
    chosen = getattr(value, "_choice", None)
    return to_python(getattr(value, chosen)) if chosen else None


def _sequence_to_python(value: Sequence) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for attr in value._elements:
        element = getattr(value, attr, None)
        if element is not None:
            result[attr_to_asn1(attr)] = to_python(element)
    return result


# --- Python -> bacpypes3 -----------------------------------------------------------------


def to_bacnet(object_type: str, property: str, value: Any, *, index: int | None = None) -> Any:
    """Encode `value` for writing `property` of an object of `object_type`.

    None becomes Null, which with a priority relinquishes that slot of a commandable point.
    """
    if value is None:
        return Null(())
    if property == "present-value" or (property == "priority-array" and index):
        return present_value_to_bacnet(object_type, value)
    return _by_property_type(object_type, property, value, index)


def present_value_to_bacnet(object_type: str, value: Any) -> Any:
    """Real for analog, BinaryPV for binary, Unsigned (>= 1) for multi-state objects.

    The value is read with bms.bacnet.commanding's vocabulary ("on", "1", "2.0", ...); the
    number of states is not known here, so any state an Unsigned carries passes (the object
    checks its own states).
    """
    if value is None:
        return Null(())
    if object_type in ANALOG_TYPES:
        return Real(commanding.coerce_number(value, object_type))
    if object_type in BINARY_TYPES:
        return BinaryPV(commanding.coerce_binary(value, object_type))
    if object_type in MULTISTATE_TYPES:
        return Unsigned(commanding.coerce_state(value, None, (), object_type))
    return _by_property_type(object_type, "present-value", value, None)


def _by_property_type(object_type: str, property: str, value: Any, index: int | None) -> Any:
    property_type = property_datatype(object_type, property, index)
    try:
        return property_type(value)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidValueError(
            f"{value!r} cannot be encoded for {object_type} {property}: {exc}"
        ) from exc


def property_datatype(object_type: str, property: str, index: int | None = None) -> type:
    """The bacpypes3 class of a standard property (element type when `index` is given)."""
    try:
        object_class = get_vendor_info(0).get_object_class(ObjectType(object_type))
        property_id = PropertyIdentifier(property)
    except ValueError as exc:
        raise InvalidValueError(f"unknown object type or property: {exc}") from exc
    property_type = object_class.get_property_type(property_id) if object_class else None
    if property_type is None:
        raise InvalidValueError(f"{object_type} has no property {property}")
    if index is not None and issubclass(property_type, Array):
        return Unsigned if index == 0 else property_type._subtype
    return property_type
