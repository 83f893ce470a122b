"""values.py: bacpypes3 values to plain Python and back, without a network."""

from __future__ import annotations

import math

import pytest
from bacpypes3.basetypes import (
    BinaryPV,
    EngineeringUnits,
    PriorityValue,
    Segmentation,
    ServicesSupported,
    StatusFlags,
)
from bacpypes3.constructeddata import ArrayOf
from bacpypes3.primitivedata import (
    Boolean,
    CharacterString,
    Double,
    Integer,
    Null,
    ObjectIdentifier,
    Real,
    Unsigned,
)

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import present_value_to_bacnet, to_bacnet, to_python


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Real(21.5), 21.5),
        (Double(1.25), 1.25),
        (Unsigned(7), 7),
        (Integer(-3), -3),
        (Boolean(True), True),
        (Boolean(False), False),
        (Null(()), None),
        (None, None),
        (CharacterString("Room 12"), "Room 12"),
        (BinaryPV("active"), "active"),
        (BinaryPV("inactive"), "inactive"),
        (EngineeringUnits("degreesCelsius"), "degrees-celsius"),
        (Segmentation("noSegmentation"), "no-segmentation"),
        (EngineeringUnits(65000), 65000),
    ],
    ids=repr,
)
def test_it_converts_atomic_values_to_plain_python(value, expected):
    converted = to_python(value)
    assert converted == expected
    assert type(converted) is type(expected)


def test_it_converts_status_flags_to_four_bools():
    assert to_python(StatusFlags([0, 1, 0, 1])) == (False, True, False, True)


def test_it_converts_other_bit_strings_to_the_names_of_set_bits():
    services = ServicesSupported([])
    services["read-property"] = 1
    services["who-is"] = 1
    assert to_python(services) == ("read-property", "who-is")


def test_it_converts_object_identifiers_and_arrays():
    assert to_python(ObjectIdentifier(("analog-input", 3))) == ObjectRef("analog-input", 3)
    texts = ArrayOf(CharacterString)(["Off", "Low", "High"])
    assert to_python(texts) == ["Off", "Low", "High"]


def test_it_converts_a_priority_value_to_its_chosen_value():
    assert to_python(PriorityValue(real=42.0)) == 42.0
    assert to_python(PriorityValue(null=())) is None


def test_it_encodes_analog_present_values_as_real():
    encoded = to_bacnet("analog-value", "present-value", 21)
    assert isinstance(encoded, Real)
    assert float(encoded) == 21.0


@pytest.mark.parametrize("value", ["active", "ACTIVE", 1, True, "on", "1", "true"])
def test_it_encodes_truthy_binary_values_as_active(value):
    encoded = present_value_to_bacnet("binary-output", value)
    assert isinstance(encoded, BinaryPV)
    assert str(encoded) == "active"


@pytest.mark.parametrize("value", ["inactive", 0, False, "off", "0", "False"])
def test_it_encodes_falsy_binary_values_as_inactive(value):
    assert str(present_value_to_bacnet("binary-value", value)) == "inactive"


def test_it_encodes_multistate_present_values_as_unsigned():
    encoded = to_bacnet("multi-state-value", "present-value", 2)
    assert isinstance(encoded, Unsigned)
    assert int(encoded) == 2


def test_it_encodes_none_as_null_to_relinquish():
    assert isinstance(to_bacnet("analog-output", "present-value", None), Null)


def test_it_encodes_other_properties_by_their_standard_type():
    encoded = to_bacnet("analog-value", "description", "Supply air")
    assert isinstance(encoded, CharacterString)
    assert isinstance(to_bacnet("analog-value", "out-of-service", True), Boolean)


@pytest.mark.parametrize(
    ("object_type", "value"),
    [
        ("analog-value", "warm"),
        ("analog-value", math.nan),
        ("analog-value", True),
        ("analog-value", [1]),
        ("binary-output", 2),
        ("binary-output", "maybe"),
        ("binary-output", 0.5),
        ("multi-state-value", 0),
        ("multi-state-value", 2.5),
        ("multi-state-value", "two"),
        ("multi-state-value", True),
        ("multi-state-value", 2**32),  # above what an Unsigned state carries
    ],
)
def test_it_refuses_present_values_that_do_not_fit(object_type, value):
    with pytest.raises(InvalidValueError):
        to_bacnet(object_type, "present-value", value)


def test_it_refuses_unknown_properties_and_object_types():
    with pytest.raises(InvalidValueError):
        to_bacnet("analog-value", "no-such-property", 1)
    with pytest.raises(InvalidValueError):
        to_bacnet("no-such-type", "description", "x")
