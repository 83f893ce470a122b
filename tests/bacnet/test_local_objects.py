"""Local objects without a network: specs, building, write planning and local updates.

The same behaviour is checked over UDP in test_device.py; these pin down the edges cheaply.
Objects are built inside a running loop because bacpypes3 schedules work when they are made.
"""

from __future__ import annotations

import pytest
from bacpypes3.basetypes import BinaryPV
from bacpypes3.errors import ExecutionError
from bacpypes3.primitivedata import Boolean, Null, Real, Unsigned

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local import ObjectSpec, build_object, current_spec, virtual_object_name
from bms.bacnet.types import ObjectRef
from tests.bacnet.bacpypes3_reads import bacpypes3_read


def test_virtual_object_name_joins_device_and_point() -> None:
    assert virtual_object_name(12, "ZoneTemp") == "Virtual_12_ZoneTemp"
    with pytest.raises(InvalidValueError):
        virtual_object_name(12, " ")


@pytest.mark.parametrize("kind", ["AO", "analog-output", "analogOutput", "ao"])
def test_spec_accepts_short_hyphenated_and_camel_type_names(kind: str) -> None:
    assert ObjectSpec(kind, 3, "x").ref == ObjectRef("analog-output", 3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"object_type": "schedule", "instance": 1, "name": "x"},
        {"object_type": "AV", "instance": -1, "name": "x"},
        {"object_type": "AV", "instance": 1, "name": ""},
        {"object_type": "MSV", "instance": 1, "name": "x"},  # no states
        {"object_type": "AV", "instance": 1, "name": "x", "min_value": 5, "max_value": 1},
        {"object_type": "AV", "instance": 1, "name": "x", "priority_array": (None,) * 3},
        {"object_type": "AI", "instance": 1, "name": "x", "priority_array": (None,) * 16},
        {"object_type": "AV", "instance": 1, "name": "x", "cov_increment": -1.0},
    ],
)
def test_spec_refuses_what_no_object_could_be(kwargs: dict) -> None:
    with pytest.raises(InvalidValueError):
        ObjectSpec(**kwargs)


async def test_restored_priority_array_sets_the_present_value() -> None:
    array = (None,) * 4 + (3,) + (None,) * 10 + (2,)
    obj = build_object(ObjectSpec("MSV", 1, "m", state_texts=("a", "b", "c"), priority_array=array))
    snap = obj.snapshot()
    assert (snap.present_value, snap.active_priority) == (3, 5)
    assert snap.priority_array == array


@pytest.mark.parametrize(
    "spec",
    [
        ObjectSpec("AO", 1, "a", max_value=10.0, relinquish_default=11.0),
        ObjectSpec("MSV", 1, "m", state_texts=("a",), present_value=2),
        ObjectSpec("AV", 1, "a", min_value=0.0, priority_array=(-1.0,) + (None,) * 15),
        ObjectSpec("BV", 1, "b", present_value="maybe"),
        ObjectSpec("AI", 1, "a", units="furlongs"),
    ],
)
async def test_build_refuses_values_a_peer_could_not_write(spec: ObjectSpec) -> None:
    with pytest.raises(InvalidValueError):
        build_object(spec)


async def test_plan_computes_the_outcome_without_applying_it() -> None:
    obj = build_object(ObjectSpec("AO", 1, "a", relinquish_default=20.0))
    plan = obj.plan_write("present-value", Real(30.0), None, 8)
    assert (plan.old_value, plan.new_value, plan.effective_value) == (20.0, 30.0, 30.0)
    assert plan.priority_array[7] == 30.0
    assert obj.snapshot().present_value == 20.0  # nothing applied yet

    relinquish = obj.plan_write("present-value", Null(()), None, None)
    assert relinquish.priority == 16  # no priority given commands level 16
    assert relinquish.effective_value == 20.0


async def test_plan_of_relinquish_default_reports_the_new_present_value() -> None:
    obj = build_object(ObjectSpec("AV", 1, "a", relinquish_default=1.0))
    plan = obj.plan_write("relinquish-default", Real(4.0), None, None)
    assert plan.effective_value == 4.0
    await obj.write_property("relinquishDefault", Real(4.0))
    assert obj.snapshot().present_value == 4.0


@pytest.mark.parametrize(
    ("spec", "prop", "value", "code"),
    [
        (ObjectSpec("AI", 1, "a"), "present-value", Real(1.0), "writeAccessDenied"),
        (
            ObjectSpec("AI", 1, "a", out_of_service=True),
            "present-value",
            Null(()),
            "invalidDataType",
        ),
        (ObjectSpec("AV", 1, "a"), "object-name", Real(1.0), "writeAccessDenied"),
        (ObjectSpec("AV", 1, "a"), "out-of-service", Real(1.0), "invalidDataType"),
        (ObjectSpec("AV", 1, "a"), "cov-increment", Real(-1.0), "valueOutOfRange"),
        (
            ObjectSpec("MSO", 1, "m", state_texts=("a", "b")),
            "relinquish-default",
            Unsigned(3),
            "valueOutOfRange",
        ),
        (ObjectSpec("BI", 1, "b"), "cov-increment", Real(1.0), "writeAccessDenied"),
    ],
)
async def test_plan_refuses_with_the_bacnet_error_code(
    spec: ObjectSpec, prop: str, value: object, code: str
) -> None:
    obj = build_object(spec)
    with pytest.raises(ExecutionError) as refused:
        obj.plan_write(prop, value, None, None)
    assert refused.value.errorCode == code


async def test_out_of_service_input_accepts_a_present_value() -> None:
    obj = build_object(ObjectSpec("BI", 1, "b"))
    await obj.write_property("outOfService", Boolean(True))
    plan = obj.plan_write("present-value", BinaryPV("active"), None, 8)
    assert plan.priority is None  # an input has no priority array; the priority is ignored
    await obj.write_property("presentValue", BinaryPV("active"))
    snap = obj.snapshot()
    assert (snap.out_of_service, snap.present_value) == (True, "active")


async def test_local_update_of_a_commandable_uses_priority_16_by_default() -> None:
    obj = build_object(ObjectSpec("BO", 1, "b"))
    obj.set_local_value("active")
    snap = obj.snapshot()
    assert snap.present_value == "active"
    assert snap.priority_array[15] == "active"
    obj.set_local_value(None)
    assert obj.snapshot().present_value == "inactive"
    with pytest.raises(InvalidValueError):
        obj.set_local_value("on", priority=17)


async def test_current_spec_carries_live_state_for_persisting() -> None:
    spec = ObjectSpec("AO", 2, "a", relinquish_default=5.0, cov_increment=0.5)
    obj = build_object(spec)
    obj.set_local_value(7.0, priority=9)
    saved = current_spec(spec, obj)
    assert saved.priority_array[8] == 7.0
    assert saved.present_value == 7.0
    restored = build_object(saved)
    assert restored.snapshot() == obj.snapshot()


@pytest.mark.parametrize("kind", ["AI", "AO", "AV", "BI", "BO", "BV", "MSI", "MSO", "MSV"])
async def test_fast_property_reads_equal_bacpypes3_reads(kind: str) -> None:
    # Our objects skip bacpypes3's getattr_static per read (StaticAttributeReads); they must
    # see what bacpypes3's own __getattribute__ sees, before and after writes, and still
    # compute the properties a class defines.
    states = ("a", "b", "c") if kind.startswith("MS") else ()
    obj = build_object(ObjectSpec(kind, 3, f"{kind} point", state_texts=states))
    names = (
        "presentValue",
        "priorityArray",
        "relinquishDefault",
        "outOfService",
        "minPresValue",
        "maxPresValue",
        "numberOfStates",
        "statusFlags",
        "objectName",
        "objectIdentifier",
        "units",
        "description",
    )

    def both() -> list[tuple[object, object]]:
        return [(getattr(obj, name, None), bacpypes3_read(obj, name)) for name in names]

    assert all(fast == slow for fast, slow in both())
    await obj.write_property("outOfService", Boolean(True))
    value = {"A": Real(1.0), "B": BinaryPV("active"), "M": Unsigned(2)}[kind[0]]
    await obj.write_property("presentValue", value, None, 8)
    assert all(fast == slow for fast, slow in both())
    assert obj.ref == ObjectRef(obj.ref.object_type, 3)


async def test_apply_write_applies_the_plan_at_the_requested_priority() -> None:
    obj = build_object(ObjectSpec("AO", 1, "a", relinquish_default=20.0))
    plan = obj.plan_write("present-value", Real(30.0), None, 8)
    await obj.apply_write(plan)
    snap = obj.snapshot()
    assert (snap.present_value, snap.priority_array[7], snap.active_priority) == (30.0, 30.0, 8)

    default = obj.plan_write("present-value", Real(25.0), None, None)  # no priority: level 16
    await obj.apply_write(default)
    assert obj.snapshot().priority_array[15] == 25.0
    assert obj.snapshot().present_value == 30.0  # level 8 still wins


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (ObjectSpec("AO", 1, "a", max_value=10.0, relinquish_default=11.0), "11 is out of range"),
        (ObjectSpec("MSV", 1, "m", state_texts=("a",), present_value=2), "1..1"),
        (ObjectSpec("AV", 1, "a", min_value=0.0, priority_array=(-1.0,) + (None,) * 15), "-1"),
        (ObjectSpec("BV", 1, "b", present_value="maybe"), "'maybe'"),
    ],
)
def test_checked_values_refuse_what_build_would_refuse_without_building(spec, words) -> None:
    with pytest.raises(InvalidValueError, match=words):
        spec.with_checked_values()


def test_checked_values_read_the_one_vocabulary() -> None:
    spec = ObjectSpec("BV", 1, "b", present_value="on", relinquish_default=0).with_checked_values()
    assert (spec.present_value, spec.relinquish_default) == ("active", "inactive")
    states = ObjectSpec("MSV", 1, "m", state_texts=("Off", "Auto"), present_value="auto")
    assert states.with_checked_values().present_value == 2
