"""Confirmed requests to peers: the one path every client request takes.

`Requester.call` runs one confirmed request
- within a bound on the requests in flight per peer (config.max_in_flight_per_peer) and one
  across all peers (config.max_in_flight_total): more in flight only queues answers in the
  socket buffer and the stack, where they age toward the timeout or are dropped;
- with config.timeout per attempt, retrying timeouts config.retries times. This is the only
  retry layer: stack.py sets bacpypes3 to make one attempt of config.timeout per request, so
  an attempt ends either with our timeout or with the stack's "no-response" abort, whichever
  fires first, and both count as the attempt timing out;
- turning bacpypes3's errors into bms.bacnet.errors, whether bacpypes3 raised them (they are
  BaseExceptions, `except Exception` misses them) or returned them.
Each call's outcome goes to `on_outcome` when one is set (the worker's device health): None for
an answer of any kind (a value, or the peer's error, reject or abort), the BACnetTimeoutError
when every attempt went unanswered; a local failure (our encoding) says nothing of the peer.
It also owns the client's asyncio tasks: fan-outs run as named, kept tasks (`gather`) and
background tasks are kept (`keep`) until `stop` cancels them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.errors import DecodingError, EncodingError
from bacpypes3.pdu import Address

from bms.bacnet.boundary import bacnet_error, check_returned, object_identifier
from bms.bacnet.config import EngineConfig
from bms.bacnet.errors import BACnetTimeoutError, InvalidValueError, LocalError, RemoteError
from bms.bacnet.types import ObjectRef

log = logging.getLogger(__name__)

# Told of each request's outcome: the peer's address key, and None (it answered) or the error.
OutcomeListener = Callable[[str, "BACnetTimeoutError | None"], None]


@dataclass(frozen=True)
class Peer:
    address: Address
    key: str  # canonical address string: capability cache and concurrency key


def parse_peer(address: str | Address) -> Peer:
    """Parse "127.0.0.2", "127.0.0.2:47900" or a routed "net:mac" address."""
    if isinstance(address, Address):
        return Peer(address, str(address))
    try:
        parsed = Address(address.strip())
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(f"bad BACnet address {address!r}: {exc}") from exc
    return Peer(parsed, str(parsed))


class Requester:
    """Confirmed requests and tasks over an Application that the caller owns."""

    def __init__(self, app: Any, config: EngineConfig) -> None:
        self.app = app
        self.config = config
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._total = asyncio.Semaphore(config.max_in_flight_total)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.on_outcome: OutcomeListener | None = None

    def request_bound(self) -> float:
        """The longest a single confirmed request can take, retries included."""
        return self.config.timeout * (self.config.retries + 1)

    def _limit(self, key: str) -> asyncio.Semaphore:
        limit = self._limits.get(key)
        if limit is None:
            limit = self._limits[key] = asyncio.Semaphore(self.config.max_in_flight_per_peer)
        return limit

    async def call(self, peer: Peer, what: str, send: Callable[[], Awaitable[Any]]) -> Any:
        """Run one confirmed request with the limits, timeout, retries and error mapping."""
        attempts = self.config.retries + 1
        what = f"{what} to {peer.key}"
        # Per peer first, so a request waiting for its busy peer holds no global slot.
        async with self._limit(peer.key), self._total:
            for attempt in range(1, attempts + 1):
                try:
                    result = await self._attempt(what, send)
                except BACnetTimeoutError:
                    log.debug("%s: no answer (attempt %d/%d)", what, attempt, attempts)
                except RemoteError:
                    self._tell(peer, None)  # an error PDU is an answer too
                    raise
                else:
                    self._tell(peer, None)
                    return result
        error = BACnetTimeoutError(
            f"{what}: no answer after {attempts} attempt(s) of {self.config.timeout:g}s"
        )
        self._tell(peer, error)
        raise error

    def _tell(self, peer: Peer, error: BACnetTimeoutError | None) -> None:
        if self.on_outcome is not None:
            self.on_outcome(peer.key, error)

    async def _attempt(self, what: str, send: Callable[[], Awaitable[Any]]) -> Any:
        """One try; BACnetTimeoutError for our timeout or the stack's no-response abort."""
        try:
            async with asyncio.timeout(self.config.timeout):
                result = await send()
        except TimeoutError as exc:
            raise BACnetTimeoutError(f"{what}: no answer") from exc
        except ErrorRejectAbortNack as exc:
            raise bacnet_error(exc, what) from exc
        except (DecodingError, EncodingError) as exc:
            raise LocalError(f"{what}: {exc}") from exc
        return check_returned(result, what)

    async def read(
        self, peer: Peer, ref: ObjectRef, property: str, index: int | None = None
    ) -> Any:
        """One ReadProperty; the bacpypes3 value as it came."""
        objid = object_identifier(ref)
        suffix = "" if index is None else f"[{index}]"
        value = await self.call(
            peer,
            f"read {ref} {property}{suffix}",
            lambda: self.app.read_property(peer.address, objid, property, index),
        )
        if value is None:
            raise LocalError(f"read {ref} {property}{suffix}: {peer.key} sent no usable answer")
        return value

    async def gather(self, named: Iterable[tuple[str, Coroutine[Any, Any, Any]]]) -> list[Any]:
        """Run coroutines as named, kept tasks; on the first failure cancel the rest."""
        tasks = [asyncio.create_task(coro, name=name) for name, coro in named]
        if not tasks:
            return []
        self._tasks.update(tasks)
        try:
            return await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            # Siblings are only waited for here; the first failure is what propagates.
            await asyncio.wait(tasks)
            self._tasks.difference_update(tasks)

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Keep a background task until it ends or `stop` cancels it."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel every kept task and wait for them, at most one request bound."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            _done, pending = await asyncio.wait(list(self._tasks), timeout=self.request_bound())
            for task in pending:
                log.warning("client task %s did not stop in time", task.get_name())
