"""The batched read engine: many properties of many objects in as few requests as fit.

Reads choose their path from the CapabilityCache: RPM batches sized to the peer's max APDU
(and segmentation), or one ReadProperty per property for a peer that refuses RPM. They write
back what they learnt, so the next read of that peer goes straight down the right path:
- a batch whose answer is too big for the peer is halved (by objects, then properties) and
  retried; a single property still too big becomes an error value for that property;
- an RPM refused as an unknown service marks the peer as "no RPM" and falls back to RP;
- an object list that can't come in one read comes index by index, in RPM batches.

Property-level failures (a missing optional property) come back as RemoteError *values* in the
per-object result dicts; callers decide which ones matter. A batch that fails as a whole (no
answer after the retries, an unexpected error) does not sink its siblings: its properties get
that BACnetError as their value and the other batches' results stand. Only when every batch
failed does the read raise (the peer is unreachable).

Requests are built from PropertyReference objects made once per property key: bacpypes3
would otherwise parse every property name of every request (about a third of the client's
time under load).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

from bacpypes3.basetypes import ErrorType, PropertyReference
from bacpypes3.primitivedata import PropertyIdentifier

from bms.bacnet.boundary import object_identifier, split_property_key
from bms.bacnet.capabilities import APDU_OVERHEAD, CapabilityCache, plan_batches
from bms.bacnet.errors import (
    AbortResponse,
    BACnetError,
    ErrorResponse,
    InvalidValueError,
    LocalError,
    RemoteError,
)
from bms.bacnet.requester import Peer, Requester
from bms.bacnet.types import ObjectRef
from bms.bacnet.values import object_ref, to_python

log = logging.getLogger(__name__)

# Answers that mean "the response was too big for this peer": retry smaller.
TOO_BIG_CODES = frozenset(
    {
        "segmentation-not-supported",
        "buffer-overflow",
        "apdu-too-long",
        "abort-segmentation-not-supported",
        "abort-buffer-overflow",
        "abort-apdu-too-long",
    }
)

# Rough encoded sizes (octets) of values in an RPM response, to size batches. Strings are
# guesses for typical names; a batch whose answer still overflows is split and retried, which
# costs one round trip, cheaper than always sending half-empty requests.
VALUE_OCTETS = {
    "object-name": 32,
    "description": 32,
    "units": 3,
    "present-value": 6,
    "status-flags": 4,
    "priority-array[0]": 3,
    "state-text": 96,
    "active-text": 12,
    "inactive-text": 12,
}
OBJECT_OCTETS = 7  # object identifier + opening/closing tags of one read-access-result
PROPERTY_OCTETS = 7  # property identifier, array index and opening/closing tags
LIST_ENTRY_OCTETS = 12  # one object-list[i] element in an RPM response
RPM_MAX_OBJECTS = 24  # smaller batches let several run at once
RPM_MAX_LIST_ENTRIES = 100

Specs = list[tuple[ObjectRef, tuple[str, ...]]]
Results = dict[ObjectRef, dict[str, Any]]


class BatchReader:
    """Reads many properties from one peer at a time, learning its capabilities as it goes."""

    def __init__(self, requester: Requester, capabilities: CapabilityCache) -> None:
        self._requester = requester
        self._capabilities = capabilities

    async def read_many(self, peer: Peer, specs: Specs) -> Results:
        """Read properties of many objects: RPM batches if the peer takes them, else RP each."""
        if not specs:
            return {}
        budget = self._capabilities.response_budget(peer.key)
        sizes = [estimate_octets(props) for _ref, props in specs]
        batches = [
            [specs[i] for i in batch]
            for batch in plan_batches(sizes, budget.octets, RPM_MAX_OBJECTS)
        ]
        results: Results = {}
        for batch_result in await self._read_batches(peer, batches):
            merge(results, batch_result)
        return results

    async def read_object_list_by_index(self, peer: Peer, device: ObjectRef) -> list[ObjectRef]:
        """The object list entry by entry (its length first), in batches that fit one APDU."""
        count = to_python(await self._requester.read(peer, device, "object-list", 0))
        keys = tuple(f"object-list[{index}]" for index in range(1, int(count) + 1))
        per_batch = self._capabilities.get(peer.key).max_apdu - APDU_OVERHEAD - OBJECT_OCTETS
        per_batch = max(1, min(RPM_MAX_LIST_ENTRIES, per_batch // LIST_ENTRY_OCTETS))
        batches = [
            [(device, keys[start : start + per_batch])] for start in range(0, len(keys), per_batch)
        ]
        entries: dict[str, Any] = {}
        for batch_result in await self._read_batches(peer, batches):
            entries.update(batch_result.get(device, {}))
        refs = []
        for key in keys:
            value = entries.get(key)
            if isinstance(value, BACnetError):
                raise value
            if isinstance(value, ObjectRef):
                refs.append(value)
        return refs

    async def _read_batches(self, peer: Peer, batches: list[Specs]) -> list[Results]:
        """Every batch's results; a failed batch's properties carry its error as their value."""
        if not batches:
            return []
        outcomes: list[Results | BACnetError] = []
        if self._capabilities.get(peer.key).rpm is None:
            # First contact: one batch alone finds out whether RPM works before we fan out,
            # and a peer that does not answer it is not sent the rest.
            first = await self._batch_outcome(peer, batches[0])
            if isinstance(first, BACnetError):
                raise first
            outcomes.append(first)
        outcomes += await self._requester.gather(
            (f"read {peer.key} batch {number}", self._batch_outcome(peer, batch))
            for number, batch in enumerate(batches[len(outcomes) :], start=len(outcomes))
        )
        failures = [outcome for outcome in outcomes if isinstance(outcome, BACnetError)]
        if failures and len(failures) == len(outcomes):
            raise failures[0]
        if failures:
            log.warning(
                "%s: %d of %d batches failed; their properties are left unread: %s",
                peer.key,
                len(failures),
                len(outcomes),
                failures[0],
            )
        return [
            failed_results(batch, outcome) if isinstance(outcome, BACnetError) else outcome
            for batch, outcome in zip(batches, outcomes, strict=True)
        ]

    async def _batch_outcome(self, peer: Peer, batch: Specs) -> Results | BACnetError:
        try:
            return await self._read_batch(peer, batch)
        except BACnetError as exc:
            return exc

    async def _read_batch(self, peer: Peer, batch: Specs) -> Results:
        if self._capabilities.use_rpm(peer.key):
            try:
                return await self._rpm_fitting(peer, batch)
            except RemoteError as exc:
                if not rpm_refused(exc):
                    raise
                log.info(
                    "%s does not take ReadPropertyMultiple (%s); reading one by one",
                    peer.key,
                    exc.error_code,
                )
                self._capabilities.note_rpm(peer.key, False)
        return await self._rp_each(peer, batch)

    async def _rpm_fitting(self, peer: Peer, batch: Specs) -> Results:
        """One RPM; if the answer is too big for the peer, split the batch and try again.

        A single property that alone is too big (a huge state-text on a device that can't
        segment) becomes an error value for that property instead of failing the whole read.
        """
        try:
            return await self._rpm(peer, batch)
        except RemoteError as exc:
            if exc.error_code not in TOO_BIG_CODES:
                raise
            if exc.error_code in {"segmentation-not-supported", "abort-segmentation-not-supported"}:
                self._capabilities.note_segmentation(peer.key, False)
            halves = split_specs(batch)
            if halves is None:
                ref, (key,) = batch[0]
                return {ref: {key: exc}}
            log.debug("%s: RPM answer too big (%s); splitting", peer.key, exc.error_code)
        results: Results = {}
        for half in halves:
            merge(results, await self._rpm_fitting(peer, half))
        return results

    async def _rpm(self, peer: Peer, batch: Specs) -> Results:
        parameters: list[Any] = []
        for ref, properties in batch:
            parameters += [object_identifier(ref), list(property_references(properties))]
        what = f"RPM of {len(batch)} object(s)"
        app = self._requester.app
        rows = await self._requester.call(
            peer, what, lambda: app.read_property_multiple(peer.address, list(parameters))
        )
        if not isinstance(rows, list):
            raise LocalError(f"{what} to {peer.key}: unexpected answer {rows!r}")
        self._capabilities.note_rpm(peer.key, True)
        results: Results = {}
        for objid, prop, index, value in rows:
            key = str(prop) if index is None else f"{prop}[{index}]"
            results.setdefault(object_ref(objid), {})[key] = rpm_value(value)
        return results

    async def _rp_each(self, peer: Peer, batch: Specs) -> Results:
        jobs = [(ref, key) for ref, properties in batch for key in properties]
        values = await self._requester.gather(
            (f"read {peer.key} {ref} {key}", self._rp_one(peer, ref, key)) for ref, key in jobs
        )
        results: Results = {}
        for (ref, key), value in zip(jobs, values, strict=True):
            results.setdefault(ref, {})[key] = value
        return results

    async def _rp_one(self, peer: Peer, ref: ObjectRef, key: str) -> Any:
        """One property as a Python value, or its RemoteError as a value."""
        property, index = split_property_key(key)
        try:
            return to_python(await self._requester.read(peer, ref, property, index))
        except RemoteError as exc:
            return exc


# --- pure helpers --------------------------------------------------------------------------


def rpm_value(value: Any) -> Any:
    """An RPM result element as a Python value, or an ErrorResponse for an access error."""
    if isinstance(value, ErrorType):
        error_class, error_code = str(value.errorClass), str(value.errorCode)
        return ErrorResponse(
            f"property error {error_class}/{error_code}",
            error_class=error_class,
            error_code=error_code,
        )
    return to_python(value)


def rpm_refused(exc: RemoteError) -> bool:
    return exc.error_code in {"unrecognized-service", "service-request-denied"} and not (
        isinstance(exc, AbortResponse)
    )


def estimate_octets(properties: Iterable[str]) -> int:
    return OBJECT_OCTETS + sum(PROPERTY_OCTETS + VALUE_OCTETS.get(p, 16) for p in properties)


def failed_results(batch: Specs, error: BACnetError) -> Results:
    """A failed batch as results: each of its properties has the batch's error as its value."""
    return {ref: dict.fromkeys(properties, error) for ref, properties in batch}


@functools.lru_cache(maxsize=256)
def property_references(keys: tuple[str, ...]) -> tuple[PropertyReference, ...]:
    """PropertyReferences for keys like "present-value" or "priority-array[0]".

    Built once per tuple of keys and shared by every request that asks for them: bacpypes3
    only reads them when it encodes a request.
    """
    references = []
    for key in keys:
        name, index = split_property_key(key)
        try:
            reference = PropertyReference(propertyIdentifier=PropertyIdentifier(name))
        except (ValueError, TypeError) as exc:
            raise InvalidValueError(f"bad property {key!r}: {exc}") from exc
        if index is not None:
            reference.propertyArrayIndex = index
        references.append(reference)
    return tuple(references)


def split_specs(batch: Specs) -> list[Specs] | None:
    """Halve a batch by objects, or one object's properties; None if it can't get smaller."""
    if len(batch) > 1:
        middle = len(batch) // 2
        return [batch[:middle], batch[middle:]]
    ref, properties = batch[0]
    if len(properties) > 1:
        middle = len(properties) // 2
        return [[(ref, properties[:middle])], [(ref, properties[middle:])]]
    return None


def merge(into: Results, more: Results) -> None:
    for ref, values in more.items():
        into.setdefault(ref, {}).update(values)
