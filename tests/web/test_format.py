"""How values read in the tables (live.js follows the same rules)."""

from __future__ import annotations

from bms.web.templatetags.bms import flags, priorities, pv, unit, value_text


def test_analog_values_always_have_two_decimals_and_none_is_a_dash():
    assert pv(35, "analog-output") == "35.00"
    assert pv(21.456, "analog-input") == "21.46"
    assert pv(3, "multi-state-value") == "3"
    assert pv(None, "analog-input") == "—"
    assert pv(True, "analog-value") == "True"


def test_states_are_shown_with_their_texts():
    assert value_text("active", "binary-output", ["Off", "On"]) == "active (On)"
    assert value_text(2, "multi-state-value", ["Off", "Heat", "Cool"]) == "2 · Heat"
    assert value_text(7, "multi-state-value", ["Off"]) == "7"


def test_status_flags_and_priority_arrays_show_only_what_is_set():
    assert flags([False, True, False, True]) == ["fault", "out of service"]
    assert flags(None) == []
    array = [None] * 16
    array[7], array[15] = 35.0, 20.0
    assert priorities(array) == [(8, 35.0), (16, 20.0)]


def test_units_use_the_symbols_engineers_write():
    assert unit("degrees-celsius") == "°C"
    assert unit("percent-relative-humidity") == "%RH"
    assert unit("furlongs-per-fortnight") == "furlongs-per-fortnight"
    assert unit("") == ""
