"""Every property of one object, as a property browser (YABE's) shows it.

The first try is one ReadPropertyMultiple of the special property `all`. Peers differ in how
they fail it, and each failure has the same way out, the object type's standard properties read
through the batch reader (RPM batches sized to the peer, or ReadProperty one by one for a peer
that refuses RPM; bms.bacnet.batching):
- a peer that refuses RPM rejects it as an unknown service (batching then notes "no RPM" and
  tries ReadProperty of `all`, which no device answers);
- a peer that takes RPM but not `all` answers with an Error, Reject or Abort;
- a peer that cannot segment and whose answer is too big aborts (segmentation-not-supported).
A timeout is not a refusal: the peer is silent, and a second round of reads would only wait
again, so it is raised.

Properties the object does not have (unknown-property) are left out; any other property-level
error is kept, as text, next to the values. Values come back as JSON (object references as
"analog-input,1", octet strings as hex), ready to be stored.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from bacpypes3.primitivedata import ObjectType, attr_to_asn1
from bacpypes3.vendor import get_vendor_info

from bms.bacnet.batching import BatchReader
from bms.bacnet.capabilities import CapabilityCache
from bms.bacnet.errors import BACnetError, RemoteError
from bms.bacnet.requester import Peer
from bms.bacnet.types import BINARY_TYPES, ObjectRef

log = logging.getLogger(__name__)

ALL = "all"
RPM_ALL = "rpm-all"
ONE_BY_ONE = "standard-properties"
_MISSING_CODES = frozenset({"unknown-property", "read-access-denied"})


@dataclass(frozen=True)
class ObjectProperties:
    """One object's properties: values as JSON, errors as text, and how they were read."""

    ref: ObjectRef
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    method: str = RPM_ALL


async def read_all(
    reader: BatchReader, capabilities: CapabilityCache, peer: Peer, ref: ObjectRef
) -> ObjectProperties:
    """Every property of `ref` at `peer` (see the module docstring for the order of tries)."""
    if capabilities.use_rpm(peer.key):
        values = await _rpm_all(reader, peer, ref)
        if values is not None:
            return _collected(ref, values, RPM_ALL)
    properties = standard_properties(ref.object_type)
    results = await reader.read_many(peer, [(ref, properties)])
    return _collected(ref, results.get(ref, {}), ONE_BY_ONE)


async def _rpm_all(reader: BatchReader, peer: Peer, ref: ObjectRef) -> dict[str, Any] | None:
    """The object's properties from one RPM of `all`, or None if the peer would not say."""
    try:
        results = await reader.read_many(peer, [(ref, (ALL,))])
    except RemoteError as exc:  # a timeout (a LocalError) is raised: see the docstring
        log.info("%s %s: RPM of all refused (%s); reading its properties", peer.key, ref, exc)
        return None
    values = results.get(ref, {})
    if not values or ALL in values:
        log.info("%s %s: RPM of all not answered; reading its properties", peer.key, ref)
        return None
    return values


def standard_properties(object_type: str) -> tuple[str, ...]:
    """The properties the standard defines for `object_type` (bacpypes3's object class)."""
    try:
        object_class = get_vendor_info(0).get_object_class(ObjectType(object_type))
    except ValueError:
        object_class = None
    if object_class is None:
        # An object type nobody defined: the properties every object has.
        return ("object-identifier", "object-name", "object-type", "property-list")
    return tuple(attr_to_asn1(attr) for attr in object_class._elements)


def _collected(ref: ObjectRef, raw: dict[str, Any], method: str) -> ObjectProperties:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, BACnetError):
            if not (isinstance(value, RemoteError) and value.error_code in _MISSING_CODES):
                errors[name] = str(value)
            continue
        values[name] = as_json(value)
    if not values:
        # Not one property answered: the object is not there (or the peer refuses us).
        failure = next((v for v in raw.values() if isinstance(v, BACnetError)), None)
        raise failure or RemoteError(f"{ref}: no property could be read")
    if ref.object_type in BINARY_TYPES and isinstance(values.get("priority-array"), list):
        values["priority-array"] = [_binary(level) for level in values["priority-array"]]
    return ObjectProperties(ref, dict(sorted(values.items())), dict(sorted(errors.items())), method)


def _binary(level: Any) -> Any:
    """A binary object's priority level as its present value reads (BACnet sends a priority
    array's values as plain enumerations: 1, not "active")."""
    return {0: "inactive", 1: "active"}.get(level, level) if type(level) is int else level


def as_json(value: Any) -> Any:
    """A value as to_python gives it, in JSON types that every database stores."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")  # PostgreSQL's JSON refuses NUL
    if isinstance(value, ObjectRef):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    return as_json(str(value))
