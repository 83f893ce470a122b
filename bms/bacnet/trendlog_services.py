"""ReadRange at our device: a trend log's log-buffer, by position, sequence number or time.

`TrendLogServices` is a mixin for the device's Application (before `DeviceServices`, which
refuses ReadRange when no trend log is served). The records come from each trend log's
RecordSource (bms.bacnet.read_range); this module turns the request into a query, sizes the
answer to what the peer accepts (its max APDU times the segments it takes, and at most
MAX_ITEMS records so one request cannot hold the loop or the database for long), and encodes
the records. A request that selects more than fits gets what fits with more-items set; the peer
asks again from where it stopped.
"""

from __future__ import annotations

import logging
from typing import Any

from bacpypes3.apdu import (
    ReadRangeACK,
    decode_max_apdu_length_accepted,
    decode_max_segments_accepted,
)
from bacpypes3.basetypes import ResultFlags, ServicesSupported
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.errors import ExecutionError, PropertyError
from bacpypes3.pdu import PDUData
from bacpypes3.primitivedata import Tag, TagList

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.local.trendlog import LocalTrendLogObject, encode_records, python_datetime
from bms.bacnet.read_range import ByPosition, BySequence, ByTime, RangeQuery, read_range

__all__ = ["MAX_ITEMS", "TrendLogServices"]

log = logging.getLogger(__name__)

MAX_ITEMS = 2000  # records in one answer at most
MAX_SEGMENTS = 64  # of the answer, when the peer says "unspecified" or more
# Room for the ack's own fields and each segment's header, with a margin: a segment must not
# exceed the peer's max APDU (bacpypes3 adds its header on top of the chunk it cuts).
ACK_OVERHEAD = 40
SEGMENT_OVERHEAD = 12
RECORD_BYTES = 24  # a LogRecord of a real with status flags; integers and nulls are shorter


class TrendLogServices:
    """ReadRange of our trend logs' log-buffer."""

    def get_services_supported(self) -> ServicesSupported:
        supported = super().get_services_supported()  # type: ignore[misc]
        supported[supported.readRange] = 1
        return supported  # type: ignore[no-any-return]

    async def do_ReadRangeRequest(self, apdu: Any) -> None:
        obj = self.get_object_id(apdu.objectIdentifier)  # type: ignore[attr-defined]
        if obj is None:
            raise ExecutionError(errorClass="object", errorCode="unknownObject")
        if apdu.propertyArrayIndex is not None:
            raise PropertyError("propertyIsNotAnArray")
        if not isinstance(obj, LocalTrendLogObject) or apdu.propertyIdentifier.attr != "logBuffer":
            raise ExecutionError(errorClass="services", errorCode="propertyIsNotAList")
        query = _query(apdu.range, obj)
        try:
            result = await read_range(
                obj.source, obj.ref, obj.spec.buffer_size, query, _max_items(apdu)
            )
        except InvalidValueError as exc:
            raise ExecutionError(errorClass="services", errorCode="parameterOutOfRange") from exc
        except Exception as exc:  # the source is the product's database: tell the peer
            log.warning("ReadRange of %s failed: %s", obj.ref, exc)
            raise ExecutionError(errorClass="device", errorCode="operationalProblem") from exc
        zone = obj.zone
        ack = ReadRangeACK(
            context=apdu,
            objectIdentifier=apdu.objectIdentifier,
            propertyIdentifier=apdu.propertyIdentifier,
            resultFlags=ResultFlags(
                [int(result.first_item), int(result.last_item), int(result.more_items)]
            ),
            itemCount=len(result.entries),
            itemData=AnyValue(TagList([_RawTag(encode_records(result.entries, zone))])),
        )
        if result.entries and not isinstance(query, ByPosition):
            ack.firstSequenceNumber = result.entries[0].sequence
        await self.response(ack)  # type: ignore[attr-defined]


def _query(requested: Any, obj: LocalTrendLogObject) -> RangeQuery:
    """The request's range; none at all reads the whole buffer (as many as fit)."""
    if requested is None:
        return ByPosition(1, obj.spec.buffer_size)
    if requested.byPosition is not None:
        by = requested.byPosition
        return ByPosition(int(by.referenceIndex), _count(by.count))
    if requested.bySequenceNumber is not None:
        by = requested.bySequenceNumber
        return BySequence(int(by.referenceSequenceNumber), _count(by.count))
    if requested.byTime is not None:
        by = requested.byTime
        try:
            when = python_datetime(by.referenceTime, obj.zone)
        except InvalidValueError as exc:
            raise ExecutionError(errorClass="services", errorCode="parameterOutOfRange") from exc
        return ByTime(when, _count(by.count))
    raise ExecutionError(errorClass="services", errorCode="parameterOutOfRange")


def _count(count: Any) -> int:
    if int(count) == 0:  # ASHRAE 135: a count of zero is out of range
        raise ExecutionError(errorClass="services", errorCode="parameterOutOfRange")
    return int(count)


def _max_items(apdu: Any) -> int:
    """How many records fit in the answer the peer accepts."""
    max_apdu = decode_max_apdu_length_accepted(apdu.apduMaxResp)
    segments = 1
    if apdu.apduSA:
        segments = decode_max_segments_accepted(apdu.apduMaxSegs) or MAX_SEGMENTS
    budget = (max_apdu - SEGMENT_OVERHEAD) * min(segments, MAX_SEGMENTS) - ACK_OVERHEAD
    return max(1, min(MAX_ITEMS, budget // RECORD_BYTES))


class _RawTag(Tag):  # type: ignore[misc]
    """Octets already encoded (encode_records), carried through bacpypes3's encoder as one
    tag: its encoder only asks each tag for its octets."""

    def __init__(self, octets: bytes) -> None:  # no super(): there is no single tag to parse
        self._octets = octets

    def encode(self) -> PDUData:
        return PDUData(self._octets)
