"""One event transition as an AlarmTransition row, whoever reported it (device 8888's own
reporting or a remote device's notification), and many such rows inserted at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from bms.alarms.models import Alarm, AlarmTransition

INSERT_ROWS = 500  # rows per INSERT: 500 x 19 parameters, under SQLite's and PostgreSQL's limits


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


# An alarm's columns a transition sets (bms.alarms.services and .remote write them in bulk).
EVENT_FIELDS = [
    "event_state",
    "event_type",
    "acked_transitions",
    "priority",
    "notify_type",
    "notification_class",
    "message",
    "last_transition_at",
    "updated_at",
]


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


def insert_transitions(rows: Sequence[AlarmTransition]) -> None:
    """INSERT the new rows, INSERT_ROWS per statement, inside the caller's transaction; the
    rows get no id back (nothing here needs one).

    Why not bulk_create: for the alarm console's group commits of 500 notifications the ORM
    spent most of the insert building its statement (profiled with cProfile: ~0.1 s of 0.17 s);
    here each value is prepared as the ORM would (db_value), and the SQL is one line.
    """
    if not rows:
        return
    connection = connections[AlarmTransition.objects.db]
    fields = [field for field in AlarmTransition._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_ROWS):
            chunk = rows[start : start + INSERT_ROWS]
            params = [db_value(field, row, connection) for row in chunk for field in fields]
            marks = ", ".join([row_marks] * len(chunk))
            # Names from the model, quoted; every value a parameter.
            sql = f"INSERT INTO {quote(AlarmTransition._meta.db_table)} ({columns}) VALUES {marks}"  # noqa: S608
            cursor.execute(sql, params)


PLAIN_TYPES = (str, int, bool, type(None))  # what every backend's field preparation leaves as is


def db_value(field: Field[Any, Any], row: Model, connection: BaseDatabaseWrapper) -> Any:
    """`row`'s value of `field` as the ORM would write it on an insert: auto_now(_add) set, and
    prepared by the field unless it is a plain string, number or None (which every field here
    leaves as it is: the call per value cost a third of the console's insert)."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        value = field.pre_save(row, True)
    else:
        value = getattr(row, field.attname)
    return value if type(value) in PLAIN_TYPES else field.get_db_prep_save(value, connection)
