"""fast_decode's tag readers: TagReader reads every tag form event notifications carry;
StrictTagReader reads the usual ones the same way and refuses the rest (bacpypes3 then decodes
the COV notification)."""

from __future__ import annotations

import pytest

from bms.bacnet.fast_decode import (
    CLOSING,
    OPENING,
    PRIMITIVE,
    NotRead,
    StrictTagReader,
    TagReader,
)

UNUSUAL = {
    "application boolean": (bytes([0x11]), (1, False, PRIMITIVE, b"\x01")),
    "extended tag number": (bytes([0xF9, 32, 5]), (32, True, PRIMITIVE, b"\x05")),
    "long length": (bytes([0x75, 6]) + b"\x00abcde", (7, False, PRIMITIVE, b"\x00abcde")),
    "long length, two octets": (
        bytes([0x75, 254, 1, 0]) + b"x" * 256,
        (7, False, PRIMITIVE, b"x" * 256),
    ),
}
USUAL = {
    "application unsigned": (bytes([0x21, 5]), (2, False, PRIMITIVE, b"\x05")),
    "context unsigned": (bytes([0x09, 17]), (0, True, PRIMITIVE, b"\x11")),
    "opening": (bytes([0x4E]), (4, True, OPENING, b"")),
    "closing": (bytes([0x4F]), (4, True, CLOSING, b"")),
}


@pytest.mark.parametrize("case", list(UNUSUAL))
def test_the_unusual_tags_are_read_by_the_reader_and_refused_by_the_strict_one(case):
    data, expected = UNUSUAL[case]
    reader = TagReader(data)
    assert reader.tag() == expected
    assert reader.at_end()
    with pytest.raises(NotRead):
        StrictTagReader(data).tag()


@pytest.mark.parametrize("case", list(USUAL))
def test_the_usual_tags_are_read_alike_by_both(case):
    data, expected = USUAL[case]
    for reader in (TagReader(data), StrictTagReader(data)):
        assert reader.peek() == expected[:3]
        assert reader.tag() == expected
        assert reader.at_end()


@pytest.mark.parametrize("data", [b"", bytes([0x22, 1]), bytes([0x75]), bytes([0xF9])])
def test_a_tag_that_runs_past_the_end_is_not_read(data):
    with pytest.raises(NotRead):
        TagReader(data).tag()
