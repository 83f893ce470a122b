"""The alarm outbox (bms.alarms.outbox): which transitions the notifiers get, shared by every
worker through one cursor row. Each take is given its clock, so settling and catching up are
checked without waiting."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from bms.alarms import outbox
from bms.alarms.models import AlarmTransition, NotificationCursor
from tests.alarms.test_notifiers import a_transition
from tests.threads import run_in_threads

pytestmark = pytest.mark.django_db
WAIT = 10  # seconds: generous on a loaded machine; each wait ends when its event comes


def ids(taken: outbox.Taken) -> list[int]:
    return [row.id for row in taken.transitions]


def later(seconds: float) -> datetime:
    return timezone.now() + outbox.SETTLE + timedelta(seconds=seconds)


def test_the_first_take_on_a_database_without_a_cursor_starts_after_its_history():
    NotificationCursor.objects.all().delete()
    history = a_transition(priority=10)
    assert outbox.take(100, later(0)).transitions == []
    assert NotificationCursor.objects.get().last_transition_id == history.id
    new = a_transition(priority=20)
    assert ids(outbox.take(100, later(0))) == [new.id]


def test_what_was_recorded_between_two_takes_is_taken_once():
    outbox.take(100, later(0))
    first, second = a_transition(priority=1), a_transition(priority=2)
    taken = outbox.take(100, later(0))
    assert (ids(taken), taken.cursor) == ([first.id, second.id], second.id)
    assert outbox.take(100, later(0)).transitions == []


def test_a_take_reads_at_most_its_limit_and_the_next_take_goes_on_from_there():
    outbox.take(100, later(0))
    rows = [a_transition(priority=n) for n in range(5)]
    assert ids(outbox.take(3, later(0))) == [row.id for row in rows[:3]]
    assert ids(outbox.take(3, later(0))) == [row.id for row in rows[3:]]


def test_a_transition_is_taken_once_it_has_settled():
    outbox.take(100, later(0))
    row = a_transition()
    recorded = AlarmTransition.objects.get(pk=row.pk).recorded_at
    assert outbox.take(100, recorded + outbox.SETTLE / 2).transitions == []
    assert ids(outbox.take(100, recorded + outbox.SETTLE)) == [row.id]


def test_a_settled_transition_after_an_unsettled_one_waits_for_it():
    """An older id still settling may belong to a transaction not yet committed elsewhere."""
    outbox.take(100, later(0))
    older, newer = a_transition(priority=1), a_transition(priority=2)
    recorded = AlarmTransition.objects.get(pk=newer.pk).recorded_at
    AlarmTransition.objects.filter(pk=newer.pk).update(recorded_at=recorded - timedelta(minutes=1))
    assert outbox.take(100, recorded + outbox.SETTLE / 2).transitions == []
    assert ids(outbox.take(100, recorded + outbox.SETTLE)) == [older.id, newer.id]


def test_transitions_recorded_before_the_catch_up_are_counted_and_not_sent():
    outbox.take(100, later(0))
    old, fresh = a_transition(priority=1), a_transition(priority=2)
    long_ago = timezone.now() - outbox.CATCH_UP - timedelta(minutes=5)
    AlarmTransition.objects.filter(pk=old.pk).update(recorded_at=long_ago)
    taken = outbox.take(100, later(0))
    assert (ids(taken), taken.skipped, taken.cursor) == ([fresh.id], 1, fresh.id)


def test_a_worker_whose_cursor_moved_meanwhile_takes_nothing():
    outbox.take(100, later(0))
    row = a_transition()
    seen = NotificationCursor.objects.get().last_transition_id
    assert ids(outbox.take(100, later(0))) == [row.id]  # another worker's take
    assert outbox._move(seen, row.id) is False  # this worker's conditional UPDATE
    assert NotificationCursor.objects.get().last_transition_id == row.id


def test_with_no_notifier_wanted_the_cursor_moves_over_what_came_without_reading_it():
    outbox.take(100, later(0))
    rows = [a_transition(priority=n) for n in range(3)]
    taken = outbox.take(100, later(0), wanted=False)
    assert (taken.transitions, taken.cursor) == ([], rows[-1].id)
    assert outbox.take(100, later(0)).transitions == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("on_postgresql")
def test_an_older_id_committed_after_a_newer_one_is_not_passed_over():
    """Transaction A inserts its transition (the older id) and commits after B's (the newer id)
    is committed: the look between the two commits must not move the cursor past A's.
    PostgreSQL only: SQLite's write transactions cannot overlap."""
    outbox.take(100, later(0))
    written, commit = threading.Event(), threading.Event()
    older: list[AlarmTransition] = []

    def slow_transaction(_index: int) -> None:
        with transaction.atomic():
            older.append(a_transition(priority=1))
            written.set()
            assert commit.wait(WAIT), "the test did not let the transaction commit"

    thread = threading.Thread(target=run_in_threads, args=(1, slow_transaction))
    thread.start()
    try:
        assert written.wait(WAIT), "the older transition was not written"
        newer = a_transition(priority=2)  # committed at once (autocommit)
        recorded = AlarmTransition.objects.get(pk=newer.pk).recorded_at
        assert outbox.take(100, recorded + outbox.SETTLE / 2).transitions == []
    finally:
        commit.set()
        thread.join(WAIT)
    assert older[0].id < newer.id
    assert ids(outbox.take(100, recorded + outbox.SETTLE)) == [older[0].id, newer.id]
