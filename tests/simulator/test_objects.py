"""Copied objects must be indistinguishable from freshly built ones, and independent."""

from __future__ import annotations

import random
from typing import Any

import pytest
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.primitivedata import Real

from bms.simulator.catalog import AHU_POINTS, ZONE_POINTS, device_points
from bms.simulator.objects import ObjectFactory, build_object

# Every template once, plus zone 2 so names and instances differ from the prototypes'.
SPECS = device_points(len(AHU_POINTS) + 2 * len(ZONE_POINTS))


def encoded(obj: Any, attr: str) -> bytes | None:
    value = getattr(obj, attr)
    return None if value is None else bytes(AnyValue.cast(value).encode().pduData)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: f"{spec.ref}")
async def test_a_copy_encodes_like_a_freshly_built_object(spec: Any) -> None:
    factory = ObjectFactory(random.Random(1))
    factory.build(spec)  # the first build of a template makes the prototype
    copied = factory.build(spec)
    fresh = build_object(spec, random.Random(1))

    for attr in fresh._elements:
        if attr == "presentValue" and spec.template.walk is not None:
            continue  # random start values differ by design
        assert encoded(copied, attr) == encoded(fresh, attr), attr
    assert str(copied.objectName) == spec.name
    assert copied.objectIdentifier[1] == spec.ref.instance


async def test_commanding_one_copy_leaves_the_others_alone() -> None:
    factory = ObjectFactory(random.Random(1))
    damper = next(spec for spec in SPECS if spec.ref.object_type == "analog-output")
    first, second = factory.build(damper), factory.build(damper)

    await first.write_property("presentValue", Real(55.0), priority=8)

    assert first.presentValue == 55.0
    assert first.currentCommandPriority.unsigned == 8
    assert second.presentValue == 40.0
    assert second.priorityArray[7].null is not None
    assert second.priorityArray._obj is second


async def test_writing_a_state_text_of_one_copy_leaves_the_others_alone() -> None:
    factory = ObjectFactory(random.Random(1))
    mode = next(spec for spec in SPECS if spec.ref.object_type == "multi-state-value")
    first, second = factory.build(mode), factory.build(mode)

    first.stateText[0] = "Occupied (override)"

    assert list(second.stateText) == ["Occupied", "Unoccupied", "Standby"]
