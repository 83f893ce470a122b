"""How a monitored point is watched: by COV, by polling, or not at all, and what a refused
SubscribeCOV means. Pure rules, no I/O.

A point's mode is "cov" (COV only: a refusal leaves it unwatched and says so), "poll" (polling
only) or "auto" (COV, polled where the device refuses COV). Refusals are remembered per device
and object type (a device that cannot subscribe to one analog input cannot to the next), or for
the whole device when it does not know the service at all ("*").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bms.bacnet.errors import AbortResponse, BACnetError, RejectResponse, RemoteError
from bms.bacnet.types import ObjectRef

COV, POLL, AUTO = "cov", "poll", "auto"
MODES = (COV, POLL, AUTO)
EVERY_TYPE = "*"

# Errors about one object, not about COV: the point is gone or renamed, polling it fails too.
NOT_A_REFUSAL = frozenset({"unknown-object", "no-space-to-add-list-element", "resources"})


@dataclass(frozen=True)
class WatchedPoint:
    """A monitored point as the worker watches it."""

    point_id: int
    device_id: int
    ref: ObjectRef
    mode: str
    poll_seconds: float


def way(mode: str, refused: bool) -> str | None:
    """COV, POLL, or None (not watched: COV only, and the device refused it)."""
    if mode not in MODES:
        raise ValueError(f"unknown monitoring mode {mode!r} (one of {', '.join(MODES)})")
    if mode == POLL:
        return POLL
    if not refused:
        return COV
    return POLL if mode == AUTO else None


def is_refused(cov_refused: Mapping[str, Any], object_type: str) -> bool:
    return EVERY_TYPE in cov_refused or object_type in cov_refused


def refusal_key(error: BACnetError, object_type: str) -> str | None:
    """What a failed SubscribeCOV tells: the device refuses COV for every object type ("*"),
    for this type (the type's name), or nothing lasting (None: a timeout, an abort, a missing
    object; the subscription is tried again later)."""
    if not isinstance(error, RemoteError) or isinstance(error, AbortResponse):
        return None
    if isinstance(error, RejectResponse):
        # A device that does not know SubscribeCOV rejects it whatever the object.
        return EVERY_TYPE if error.error_code == "unrecognized-service" else object_type
    if error.error_code in NOT_A_REFUSAL:
        return None
    if error.error_class == "services" and error.error_code == "service-request-denied":
        return EVERY_TYPE
    return object_type


def split(
    points: list[WatchedPoint], cov_refused: Mapping[str, Any]
) -> tuple[list[WatchedPoint], list[WatchedPoint], list[WatchedPoint]]:
    """(by COV, polled, unwatched) for one device's monitored points."""
    by_cov, polled, unwatched = [], [], []
    for point in points:
        chosen = way(point.mode, is_refused(cov_refused, point.ref.object_type))
        if chosen == COV:
            by_cov.append(point)
        elif chosen == POLL:
            polled.append(point)
        else:
            unwatched.append(point)
    return by_cov, polled, unwatched
