"""The cached getattr_static answers exactly what inspect.getattr_static answers."""

from __future__ import annotations

import inspect

import pytest
from bacpypes3 import apdu, basetypes
from bacpypes3.constructeddata import Sequence
from bacpypes3.local.analog import AnalogValueObject
from bacpypes3.primitivedata import Real

from bms.bacnet import speedups
from bms.bacnet.device import LocalDeviceObject
from bms.bacnet.local import ObjectSpec, build_object

MISSING = object()


def sequence_classes() -> list[type]:
    found = []
    for module in (basetypes, apdu):
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, Sequence) and value._elements:
                found.append(value)
    return found


def both(obj: object, attr: str) -> tuple[object, object]:
    def real() -> object:
        try:
            return inspect.getattr_static(obj, attr)
        except AttributeError:
            return MISSING

    def cached() -> object:
        try:
            return speedups.cached_getattr_static(obj, attr)
        except AttributeError:
            return MISSING

    return real(), cached()


def test_every_bacpypes3_sequence_element_resolves_as_the_real_lookup() -> None:
    classes = sequence_classes()
    assert len(classes) > 100
    compared = 0
    for cls in classes:
        try:
            obj = cls()
        except (TypeError, ValueError, AttributeError):  # some need arguments
            continue
        for attr in [*cls._elements, "no_such_attribute", "encode", "_elements"]:
            for _ in range(2):  # the second call is answered from the cache
                real, cached = both(obj, attr)
                assert cached is real, (cls, attr)
                compared += 1
    assert compared > 1000


# async: a bacpypes3 object schedules its _post_init on the running loop; built outside one, it
# leaves a never-awaited coroutine on a stray loop (a RuntimeWarning, an error here).
async def test_local_objects_properties_and_instance_values_resolve_as_the_real_lookup() -> None:
    objects = [
        build_object(ObjectSpec("AV", 1, "av")),
        AnalogValueObject(
            objectIdentifier=("analog-value", 2), objectName="bare", presentValue=Real(1.0)
        ),
        LocalDeviceObject(objectIdentifier=("device", 5), objectName="d"),
    ]
    for obj in objects:
        for attr in [*type(obj)._elements, "protocolObjectTypesSupported", "ref", "nothing"]:
            for _ in range(2):
                real, cached = both(obj, attr)
                assert cached is real, (type(obj), attr)


def test_an_instance_value_shadowing_a_plain_class_attribute_is_seen() -> None:
    obj = basetypes.PropertyReference(propertyIdentifier="presentValue")
    speedups.cached_getattr_static(obj, "propertyArrayIndex")  # cache the class's answer
    obj.__dict__["propertyArrayIndex"] = 7
    assert speedups.cached_getattr_static(obj, "propertyArrayIndex") == 7


def test_a_default_is_returned_for_a_missing_name_and_otherwise_attribute_error() -> None:
    obj = basetypes.PropertyReference(propertyIdentifier="presentValue")
    assert speedups.cached_getattr_static(obj, "not_there", None) is None
    with pytest.raises(AttributeError):
        speedups.cached_getattr_static(obj, "not_there")


def test_install_points_bacpypes3_at_the_cache_and_keeps_the_rest_of_inspect() -> None:
    speedups.install()
    assert speedups.installed()
    import bacpypes3.constructeddata as constructeddata

    assert constructeddata.inspect.getattr_static is speedups.cached_getattr_static
    assert constructeddata.inspect.isclass is inspect.isclass
    decoded = basetypes.ReadAccessResultElement(propertyIdentifier="presentValue")
    assert decoded.propertyArrayIndex is None
    assert decoded.readResult is None


class Described:
    """A class with a data descriptor (a property) and a non-data one (a method)."""

    @property
    def value(self) -> int:
        return 1

    def method(self) -> int:
        return 2


def test_a_data_descriptor_wins_over_an_instance_value_and_a_method_does_not() -> None:
    obj = Described()
    obj.__dict__.update(value=10, method=20)
    for attr in ("value", "method"):
        for _ in range(2):
            real, cached = both(obj, attr)
            assert cached is real, attr
    assert isinstance(speedups.cached_getattr_static(obj, "value"), property)
    assert speedups.cached_getattr_static(obj, "method") == 20


# async for the same reason as the test above.
async def test_a_name_held_by_the_instance_is_looked_up_in_full_once_per_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point = build_object(ObjectSpec("AV", 3, "av3"))
    speedups.cached_getattr_static(point, "presentValue")  # as bacpypes3's __setattr__ does
    real_calls = []
    monkeypatch.setattr(
        speedups,
        "_real_getattr_static",
        lambda *args: real_calls.append(args) or inspect.getattr_static(*args),
    )
    other = build_object(ObjectSpec("AV", 4, "av4"))
    assert "presentValue" in vars(other)
    assert speedups.cached_getattr_static(other, "presentValue") is vars(other)["presentValue"]
    assert real_calls == []
