"""Pure conversions at the client's boundary with bacpypes3: its errors, our references.

bacpypes3 raises `ErrorRejectAbortNack` (a BaseException, so `except Exception` misses it) and
some of its client calls *return* those errors, or a marker string, instead: `bacnet_error` and
`check_returned` turn both into bms.bacnet.errors. The other helpers check and convert what
callers hand the client before anything is sent. No I/O here.
"""

from __future__ import annotations

import functools
from typing import Any

from bacpypes3.apdu import AbortPDU, ErrorPDU, ErrorRejectAbortNack, RejectPDU
from bacpypes3.primitivedata import ObjectIdentifier

from bms.bacnet.errors import (
    AbortResponse,
    BACnetError,
    BACnetTimeoutError,
    ErrorResponse,
    InvalidValueError,
    LocalError,
    RejectResponse,
    RemoteError,
)
from bms.bacnet.types import ObjectRef

_BACPYPES_DECODE_FAILURES = ("-no object class-", "-no property type-")


def bacnet_error(exc: ErrorRejectAbortNack, what: str) -> BACnetError:
    """Our exception for a bacpypes3 Error, Reject or Abort PDU."""
    if isinstance(exc, ErrorPDU):
        error_class, error_code = error_fields(exc)
        return ErrorResponse(
            f"{what}: error {error_class}/{error_code}",
            error_class=error_class,
            error_code=error_code,
        )
    reason = str(getattr(exc, "apduAbortRejectReason", "other"))
    if isinstance(exc, RejectPDU):
        return RejectResponse(f"{what}: rejected ({reason})", error_code=reason)
    if isinstance(exc, AbortPDU):
        if reason == "no-response":
            return BACnetTimeoutError(f"{what}: no response (the stack gave up retrying)")
        return AbortResponse(f"{what}: aborted ({reason})", error_code=reason)
    return RemoteError(f"{what}: {exc!r}")


def error_fields(exc: Any) -> tuple[str, str]:
    # Most services' errors carry errorClass/errorCode; a few nest them in an errorType.
    source = exc if getattr(exc, "errorClass", None) is not None else getattr(exc, "errorType", exc)
    return str(getattr(source, "errorClass", "")), str(getattr(source, "errorCode", ""))


def check_returned(result: Any, what: str) -> Any:
    """Raise for the errors that bacpypes3 client calls return instead of raising."""
    if isinstance(result, ErrorRejectAbortNack):
        raise bacnet_error(result, what) from result
    if type(result) is str and result in _BACPYPES_DECODE_FAILURES:
        raise LocalError(f"{what}: cannot decode the answer ({result.strip('-')})")
    return result


def as_ref(ref: ObjectRef | str) -> ObjectRef:
    return ref if isinstance(ref, ObjectRef) else ObjectRef.parse(ref)


@functools.cache
def object_identifier(ref: ObjectRef) -> ObjectIdentifier:
    """bacpypes3's identifier for `ref`, made once per ref (a collect asks for every point's
    on every poll) and shared by requests: bacpypes3 only reads it when it encodes them."""
    try:
        return ObjectIdentifier((ref.object_type, ref.instance))
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(f"bad object reference {ref}: {exc}") from exc


def check_priority(priority: int | None) -> None:
    if priority is None:
        return
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 16:
        raise InvalidValueError(f"priority must be 1..16, not {priority!r}")


def split_property_key(key: str) -> tuple[str, int | None]:
    """ "priority-array[0]" -> ("priority-array", 0)."""
    name, _, rest = key.partition("[")
    return (name, int(rest.rstrip("]"))) if rest else (name, None)
