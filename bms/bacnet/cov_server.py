"""Our device as a COV server: the two things bacpypes3 0.0.108 leaves out.

Theory of operation. bacpypes3 detects a change of value with property monitors: the COV
detection of a subscribed object (`bacpypes3.local.cov`) registers a monitor on each property
it tracks (present-value and status-flags), and the local object's `__setattr__` calls a
property's monitors when that property is assigned. But status-flags of a local object is not
stored: it is a getter computed from event-state, reliability and out-of-service, and nothing
ever assigns it, so its monitors never run. Setting out-of-service therefore sent no COV
notification, although ASHRAE 135 clause 13.1 requires one when status-flags changes.
`StatusFlagsWatch` monitors those inputs and, when the computed flags change, calls the
status-flags monitors exactly as an assignment would have; the detection then reports the new
flags (with the present value) to every subscriber.

bacpypes3's device object answers active-cov-subscriptions from
`app.get_active_cov_subscriptions()` when the application has one; it had none, so the property
read `{}`. `CovServer` provides it from the subscriptions the detections hold. It also takes a
SubscribeCOV without a lifetime as the indefinite subscription it is (bacpypes3 raised on it).

A third gap: bacpypes3 applies a peer's WriteProperty past those monitors altogether (see
`MonitoredWrites`, a mixin for our local objects), so even a written input value went unnotified.

A fourth: bacpypes3's local multi-state objects name `COVIncrementCriteria` as their COV
detection, which reads a cov-increment they do not have (the standard gives multi-state objects
none: ASHRAE 135 13.1.3 notifies on any change of present value), so every SubscribeCOV to one
was answered services / operational-problem. `ChangeOfStateCov`, a mixin for local multi-state
objects (ours and the simulator's), names the criteria the standard asks for.

`CovServer` is a mixin for the device's Application (before bacpypes3's `Application` in the
MRO); a watch lives exactly as long as its object's detection (first subscription to last).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bacpypes3.basetypes import (
    COVSubscription,
    DeviceAddress,
    ListOfCOVSubscription,
    ObjectPropertyReference,
    PropertyIdentifier,
    Recipient,
    RecipientProcess,
)
from bacpypes3.local.cmd import Commandable
from bacpypes3.local.cov import COVIncrementCriteria, GenericCriteria

__all__ = [
    "STATUS_FLAG_INPUTS",
    "ChangeOfStateCov",
    "CovServer",
    "MonitoredWrites",
    "StatusFlagsWatch",
]

# The properties bacpypes3's local status-flags getter is computed from.
STATUS_FLAG_INPUTS = ("eventState", "reliability", "outOfService")

_WATCH_ATTRIBUTE = "_status_flags_watch"  # kept on bacpypes3's COV detection object


class StatusFlagsWatch:
    """Tells an object's status-flags monitors when its computed flags change."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self._last_flags = obj.statusFlags
        for name in STATUS_FLAG_INPUTS:
            obj._property_monitors[name].append(self._input_changed)

    def unbind(self) -> None:
        for name in STATUS_FLAG_INPUTS:
            self._obj._property_monitors[name].remove(self._input_changed)

    def _input_changed(self, old_value: Any, new_value: Any) -> None:
        flags = self._obj.statusFlags
        if flags == self._last_flags:
            return  # e.g. event-state moved between two off-normal states
        previous, self._last_flags = self._last_flags, flags
        for monitor in list(self._obj._property_monitors["statusFlags"]):
            monitor(previous, flags)


class ChangeOfStateCov:
    """Mixin for local multi-state objects (first in the bases): COV on any change of state.

    bacpypes3's service looks the detection up as `obj._cov_criteria` when the first
    subscription to an object arrives; GenericCriteria notifies whenever present-value or
    status-flags changes, which is the standard's rule for these objects.
    """

    _cov_criteria = GenericCriteria


class MonitoredWrites:
    """Mixin for local objects: a peer's write reaches the property's monitors.

    bacpypes3 applies a WriteProperty through the plain `object.__setattr__`, past the local
    object's `__setattr__` that calls the monitors, so a peer setting out-of-service or an
    input's present value (while out of service) changed the value and notified nobody. A
    commandable present value is the exception: its priority array's recalculation assigns it
    through `__setattr__`, so its monitors already run and are not called twice.
    """

    async def write_property(
        self, attr: Any, value: Any, index: int | None = None, priority: int | None = None
    ) -> None:
        name = str(PropertyIdentifier(attr).attr)
        before = getattr(self, name, None)
        await super().write_property(attr, value, index, priority)  # type: ignore[misc]
        if name == "presentValue" and isinstance(self, Commandable):
            return
        after = getattr(self, name, None)
        if after != before:
            for monitor in list(self._property_monitors[name]):  # type: ignore[attr-defined]
                monitor(before, after)


class CovServer:
    """Mixin for the device's Application: status-flags COV and active-cov-subscriptions."""

    _cov_detections: dict[Any, Any]  # bacpypes3's ChangeOfValueServices: object id -> detection

    async def do_SubscribeCOVRequest(self, apdu: Any) -> None:
        if apdu.issueConfirmedNotifications is not None and apdu.lifetime is None:
            # A subscription without a lifetime is indefinite (ASHRAE 135 13.14.1.1.4), which
            # bacpypes3 spells 0; it would compare None > 0 and answer operational-problem.
            apdu.lifetime = 0
        await super().do_SubscribeCOVRequest(apdu)  # type: ignore[misc]

    def add_subscription(self, cov: Any) -> None:
        super().add_subscription(cov)  # type: ignore[misc]
        detection = self._cov_detections[cov.obj_ref.objectIdentifier]
        if getattr(detection, _WATCH_ATTRIBUTE, None) is None:
            setattr(detection, _WATCH_ATTRIBUTE, StatusFlagsWatch(cov.obj_ref))

    def cancel_subscription(self, cov: Any) -> None:
        object_id = cov.obj_ref.objectIdentifier  # bacpypes3 clears obj_ref on cancelling
        detection = self._cov_detections[object_id]
        super().cancel_subscription(cov)  # type: ignore[misc]
        if object_id not in self._cov_detections:  # its last subscription: detection unbound
            watch: StatusFlagsWatch | None = getattr(detection, _WATCH_ATTRIBUTE, None)
            if watch is not None:
                watch.unbind()
                setattr(detection, _WATCH_ATTRIBUTE, None)

    def get_active_cov_subscriptions(self) -> ListOfCOVSubscription:
        """The device object's active-cov-subscriptions: every live subscription."""
        now = asyncio.get_running_loop().time()
        return ListOfCOVSubscription(
            [
                _cov_subscription(cov, detection, now)
                for detection in self._cov_detections.values()
                for cov in detection.cov_subscriptions
            ]
        )


def _cov_subscription(cov: Any, detection: Any, now: float) -> COVSubscription:
    entry = COVSubscription(
        recipient=RecipientProcess(
            recipient=Recipient(address=DeviceAddress(cov.client_addr)),
            processIdentifier=cov.proc_id,
        ),
        monitoredPropertyReference=ObjectPropertyReference(
            objectIdentifier=cov.obj_id,
            propertyIdentifier=detection.monitored_property_reference or "presentValue",
        ),
        issueConfirmedNotifications=bool(cov.confirmed),
        timeRemaining=_seconds_remaining(cov, now),
    )
    increment = getattr(detection.obj, "covIncrement", None)
    if isinstance(detection, COVIncrementCriteria) and increment is not None:
        # The increment in effect: bacpypes3 subscriptions always use the object's own.
        entry.covIncrement = increment
    return entry


def _seconds_remaining(cov: Any, now: float) -> int:
    """0 for a subscription without a lifetime, as the notifications report it."""
    if cov.cancel_handle is None:
        return 0
    return max(1, int(cov.cancel_handle.when() - now))
