"""ReadRange over a trend log's buffer: which records a request selects, without I/O.

Theory of operation. A trend log's records live elsewhere (the product keeps them in its
database); a `RecordSource` tells how many records the log has ever had and fetches them by
sequence number. Sequence numbers are contiguous: record N is the N-th record ever logged, so
the newest record's number is total-record-count (as ASHRAE 135 defines it: the value of
total-record-count right after the record was added). The buffer holds the newest
`min(total, buffer_size)` of them: when the log has more records than its buffer, the oldest
are out of it (it wraps) while total-record-count keeps counting.

A request selects a contiguous run of sequence numbers in the buffer:

- by position: position 1 is the oldest record in the buffer, position record-count the newest;
- by sequence number: the numbers themselves (a reference outside the buffer selects nothing);
- by time: a positive count starts at the first record NEWER than the reference time, a negative
  count ends at the newest record OLDER than it (strictly, both ways).

A positive count reads forward from the reference, a negative one backward up to it. The run is
clipped to the buffer, then to `max_items` (what fits in the answer); if clipping to `max_items`
left records out, `more_items` is set and, reading backward, the records nearest the reference
are the ones kept. The records always come oldest first.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bms.bacnet.errors import InvalidValueError
from bms.bacnet.types import ObjectRef, PresentValue

__all__ = [
    "ByPosition",
    "BySequence",
    "ByTime",
    "LogEntry",
    "MemoryRecords",
    "RangeQuery",
    "RangeResult",
    "RecordSource",
    "Span",
    "buffer_span",
    "read_range",
    "select_span",
]


@dataclass(frozen=True)
class LogEntry:
    """One record of a trend log: its sequence number, when, and the value logged."""

    sequence: int
    timestamp: datetime  # aware
    value: PresentValue


@dataclass(frozen=True)
class ByPosition:
    index: int  # 1 = the oldest record in the buffer
    count: int


@dataclass(frozen=True)
class BySequence:
    sequence: int
    count: int


@dataclass(frozen=True)
class ByTime:
    time: datetime  # aware
    count: int


RangeQuery = ByPosition | BySequence | ByTime


class RecordSource(Protocol):
    """Where a trend log's records are (injected: the core does no database work)."""

    async def total(self, log: ObjectRef) -> int:
        """How many records the log has ever had (total-record-count)."""
        ...

    async def count_until(self, log: ObjectRef, when: datetime, *, inclusive: bool) -> int:
        """How many of its records are older than `when` (or at it, when inclusive)."""
        ...

    async def fetch(self, log: ObjectRef, first_sequence: int, count: int) -> list[LogEntry]:
        """Records first_sequence .. first_sequence + count - 1, oldest first."""
        ...


@dataclass(frozen=True)
class Span:
    """Sequence numbers first .. last (inclusive); empty when last < first."""

    first: int
    last: int

    @property
    def size(self) -> int:
        return max(0, self.last - self.first + 1)


@dataclass(frozen=True)
class RangeResult:
    entries: list[LogEntry]
    first_item: bool  # the buffer's oldest record is among them
    last_item: bool  # the buffer's newest record is among them
    more_items: bool  # records matched but did not fit


def buffer_span(total: int, buffer_size: int) -> Span:
    """The sequence numbers still in the buffer."""
    return Span(max(1, total - buffer_size + 1), total)


def _directed(reference: int, count: int) -> Span:
    if count > 0:
        return Span(reference, reference + count - 1)
    return Span(reference + count + 1, reference)


def _clip(span: Span, within: Span) -> Span:
    return Span(max(span.first, within.first), min(span.last, within.last))


def select_span(query: RangeQuery, buffer: Span, before_time: int | None = None) -> Span:
    """The sequence numbers a query selects in the buffer.

    `before_time` is, for a ByTime query, the number of records older than its time (at it
    included when the count is positive)."""
    if query.count == 0:
        raise InvalidValueError("a ReadRange count of 0 selects nothing (must be non-zero)")
    if isinstance(query, ByPosition):
        if not 1 <= query.index <= buffer.size:
            return Span(1, 0)
        return _clip(_directed(buffer.first + query.index - 1, query.count), buffer)
    if isinstance(query, BySequence):
        if not buffer.first <= query.sequence <= buffer.last:
            return Span(1, 0)
        return _clip(_directed(query.sequence, query.count), buffer)
    if before_time is None:
        raise InvalidValueError("a ByTime query needs the count of records before its time")
    reference = before_time + 1 if query.count > 0 else before_time
    return _clip(_directed(reference, query.count), buffer)


def _limit(span: Span, max_items: int, backward: bool) -> Span:
    if span.size <= max_items:
        return span
    if backward:
        return Span(span.last - max_items + 1, span.last)
    return Span(span.first, span.first + max_items - 1)


async def read_range(
    source: RecordSource,
    log: ObjectRef,
    buffer_size: int,
    query: RangeQuery,
    max_items: int,
) -> RangeResult:
    """The records a ReadRange selects, at most `max_items` of them (see the module doc)."""
    if max_items < 1:
        raise InvalidValueError(f"max_items must be at least 1, not {max_items}")
    buffer = buffer_span(await source.total(log), buffer_size)
    before_time = None
    if isinstance(query, ByTime):
        before_time = await source.count_until(log, query.time, inclusive=query.count > 0)
    selected = select_span(query, buffer, before_time)
    sent = _limit(selected, max_items, backward=query.count < 0)
    entries = await source.fetch(log, sent.first, sent.size) if sent.size else []
    return RangeResult(
        entries=entries,
        first_item=sent.size > 0 and sent.first == buffer.first,
        last_item=sent.size > 0 and sent.last == buffer.last,
        more_items=sent.size < selected.size,
    )


class MemoryRecords:
    """A RecordSource in memory (the simulator, tests): records appended in time order.

    It keeps the newest `keep` records of each log; older ones are forgotten, and their
    sequence numbers with them (total still counts them)."""

    def __init__(self, keep: int = 100_000) -> None:
        self._keep = keep
        self._logs: dict[ObjectRef, tuple[list[LogEntry], list[int]]] = {}

    def append(self, log: ObjectRef, timestamp: datetime, value: PresentValue) -> LogEntry:
        entries, dropped = self._logs.setdefault(log, ([], [0]))
        sequence = dropped[0] + len(entries) + 1
        if entries and timestamp < entries[-1].timestamp:
            raise InvalidValueError(f"{log}: records must be appended in time order")
        entry = LogEntry(sequence, timestamp, value)
        entries.append(entry)
        if len(entries) > self._keep:
            excess = len(entries) - self._keep
            del entries[:excess]
            dropped[0] += excess
        return entry

    async def total(self, log: ObjectRef) -> int:
        entries, dropped = self._logs.get(log, ([], [0]))
        return dropped[0] + len(entries)

    async def count_until(self, log: ObjectRef, when: datetime, *, inclusive: bool) -> int:
        entries, dropped = self._logs.get(log, ([], [0]))
        times = [entry.timestamp for entry in entries]
        found = bisect_right(times, when) if inclusive else bisect_left(times, when)
        return dropped[0] + found

    async def fetch(self, log: ObjectRef, first_sequence: int, count: int) -> list[LogEntry]:
        entries, dropped = self._logs.get(log, ([], [0]))
        start = max(0, first_sequence - dropped[0] - 1)
        return entries[start : start + count]
