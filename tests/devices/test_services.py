"""Writes to remote points (bms.devices.services): the one vocabulary of bms.bacnet.commanding,
and a refusal audited as whoever asked."""

from __future__ import annotations

import pytest

from bms.bacnet.commanding import MAX_STATE
from bms.devices.models import BACnetPoint, WriteAudit
from bms.devices.services import PointWriteRefused, checked_point_write

pytestmark = pytest.mark.django_db


def write(point: BACnetPoint, value, priority=8, relinquish=False):
    return checked_point_write(point, value, priority, relinquish, user="otto", source="api")


@pytest.mark.parametrize(
    ("point", "value", "checked"),
    [
        ("bo", "1", "active"),  # was refused: remote binaries took only active/inactive
        ("bo", "on", "active"),
        ("bo", False, "inactive"),
        ("msv", "cool", 3),  # a state text
        ("msv", 2.0, 2),
        ("ao", "12.5", 12.5),
    ],
)
def test_a_remote_point_takes_the_same_vocabulary_as_every_path(building, point, value, checked):
    assert write(building[point], value) == checked
    assert not WriteAudit.objects.filter(accepted=False).exists()


def test_a_multi_state_point_of_unknown_states_takes_any_unsigned_state(building):
    msv = building["msv"]
    msv.state_texts = []
    assert write(msv, MAX_STATE) == MAX_STATE
    with pytest.raises(PointWriteRefused, match="from 1"):
        write(msv, MAX_STATE + 1)


def test_relinquish_writes_none(building):
    assert write(building["ao"], None, relinquish=True) is None


def test_a_refused_write_is_audited_as_whoever_asked(building):
    with pytest.raises(PointWriteRefused, match=r"state number 1\.\.3") as refusal:
        write(building["msv"], 4)
    audit = WriteAudit.objects.get(point=building["msv"], accepted=False)
    assert (audit.who, audit.source, audit.new_value, audit.reason) == (
        "otto",
        "api",
        4,
        str(refusal.value),
    )
