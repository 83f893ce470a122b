"""Addresses as users type them (bms.bacnet.config): what a Who-Is or a read may be sent to."""

from __future__ import annotations

import pytest

from bms.bacnet.config import parse_peer_address
from bms.bacnet.errors import ConfigurationError


@pytest.mark.parametrize(
    "text",
    [
        "192.168.1.10",
        "192.168.1.255:47808",
        "192.168.1.10/24:47808",
        "10.0.0.7/8",
        "2:*",
        "2:0x0a000001bac0",
        "65534:5",
    ],
)
def test_hosts_directed_broadcasts_and_routed_addresses_are_taken(text):
    assert parse_peer_address(f" {text} ") == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("hello world", "Expected 4 octets"),
        ("127.0.0.300", "Octet 300"),
        ("127.0.0.2:0", "bad port"),
        ("127.0.0.2:http", "bad port"),
        ("10.0.0.1/33", "bad prefix length"),
        ("0:5", "bad network number"),
        ("65535:*", "bad network number"),
        ("2:0xabc", "bad MAC"),
        ("2:256", "bad MAC"),
        ("2:zz", "bad MAC"),
    ],
)
def test_a_bad_address_is_refused_saying_what_is_wrong(text, says):
    with pytest.raises(ConfigurationError, match=says):
        parse_peer_address(text)
