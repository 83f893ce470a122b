"""The audit's text for a refused write: what the peer sent, storable on every database."""

from __future__ import annotations

from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.errors import ExecutionError
from bacpypes3.primitivedata import CharacterString, Real

from bms.bacnet.refusals import audit_text, describe, refused_write


def test_audit_text_escapes_nul_and_lone_surrogates_and_keeps_everything_else() -> None:
    assert audit_text("a\x00b\x00") == "a\\x00b\\x00"
    assert audit_text("x\udc80y") == "x\\udc80y"
    assert audit_text("Zone 3 ° ok\n") == "Zone 3 ° ok\n"


def test_an_undecoded_value_is_described_by_its_own_application_types() -> None:
    assert describe(AnyValue(CharacterString("a\x00b"))) == "a\\x00b"
    assert describe(AnyValue(Real(21.5))) == "21.5"
    assert describe(None) is None


def test_a_priority_outside_1_to_16_goes_into_the_reason_not_the_priority() -> None:
    error = ExecutionError(errorClass="services", errorCode="parameterOutOfRange")
    refusal = refused_write(("analog-output", 1), "present-value", Real(1.0), 70000, "peer", error)
    assert (refusal.priority, refusal.reason) == (
        None,
        "services: parameter-out-of-range (priority 70000)",
    )
    kept = refused_write(("analog-output", 1), "present-value", Real(1.0), 8, "peer", error)
    assert (kept.object_id, kept.value, kept.priority) == ("analog-output,1", "1.0", 8)
