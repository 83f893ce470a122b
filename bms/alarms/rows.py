"""One event transition as an AlarmTransition row, whoever reported it (device 8888's own
reporting or a remote device's notification)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bms.alarms.models import Alarm, AlarmTransition


class Transition(Protocol):
    """What both bms.bacnet.local.alarm_spec.EventTransition and
    bms.bacnet.event_client.RemoteEvent tell of a transition."""

    @property
    def from_state(self) -> str: ...
    @property
    def to_state(self) -> str: ...
    @property
    def transition(self) -> str: ...
    @property
    def time_stamp(self) -> datetime: ...
    @property
    def priority(self) -> int: ...
    @property
    def notify_type(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def ack_required(self) -> bool: ...
    @property
    def message(self) -> str: ...


def transition_row(alarm: Alarm, event: Transition) -> AlarmTransition:
    return AlarmTransition(
        alarm=alarm,
        from_state=event.from_state,
        to_state=event.to_state,
        transition=event.transition,
        time_stamp=event.time_stamp,
        priority=event.priority,
        notify_type=event.notify_type,
        event_type=event.event_type,
        ack_required=event.ack_required,
        message=event.message,
    )
