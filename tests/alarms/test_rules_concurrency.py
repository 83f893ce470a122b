"""A rule's transition racing an operator's disable or delete of the rule (issue 14).

The worker records a transition it evaluated on its copy of the rule, which may be a moment
old. Here one connection holds the disable (or delete) open after it has returned the alarm to
normal, as an operator's request does for a few milliseconds, while another records a transition for
that rule: it must wait for the commit, then store nothing, and the alarm stays normal.

Threads get their own connections; the data is committed (transaction=True) so they see it.
PostgreSQL only: SQLite's IMMEDIATE transactions cannot overlap at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone

from bms.alarms import configuration as config
from bms.alarms.models import Alarm, AlarmRule, AlarmTransition
from bms.alarms.rules import record_rule_transition
from bms.devices.models import BACnetDevice, BACnetPoint
from tests.threads import run_in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("on_postgresql")]

WAIT = 10  # seconds: generous on a loaded machine; each wait ends as soon as its event comes


@pytest.fixture
def rule_in_alarm() -> AlarmRule:
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2:47808")
    point = BACnetPoint.objects.create(
        device=device, object_type="analog-input", instance=1, name="Supply_Temp"
    )
    rule = config.create_rule(point, kind="high_limit", high=30.0)
    record_rule_transition(rule, "normal", "high-limit", 31.0, timezone.now())
    return rule


def in_a_thread(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Start target in a thread with its own connection; its result lands in the list."""
    results: list[object] = []

    def run(_index: int) -> None:
        results.append(target())

    thread = threading.Thread(target=run_in_threads, args=(1, run))
    thread.start()
    return thread, results


def wait_for_a_lock_wait() -> None:
    """Until another connection waits on a row lock (pg_stat_activity says so)."""
    deadline = time.monotonic() + WAIT
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    pytest.fail("the transition did not wait for the rule's row")


@pytest.mark.parametrize("how", ["disabled", "deleted"])
def test_a_transition_during_a_disable_or_delete_waits_and_records_nothing(
    rule_in_alarm, monkeypatch, how
):
    name = rule_in_alarm.rule_name
    # The worker's copy, loaded while the rule was still enabled.
    worker_copy = AlarmRule.objects.select_related("point__device").get(pk=rule_in_alarm.pk)
    written, commit = threading.Event(), threading.Event()
    audit = config.config_audit.record

    def audit_and_hold_open(*args, **kwargs) -> None:
        """The operator's transaction stops here, after its alarm is returned to normal; a
        delete has not yet deleted the rule row (the lock order matters most there)."""
        audit(*args, **kwargs)
        written.set()
        assert commit.wait(timeout=WAIT)

    monkeypatch.setattr(config.config_audit, "record", audit_and_hold_open)

    def change() -> None:
        operator_copy = AlarmRule.objects.get(pk=rule_in_alarm.pk)
        if how == "disabled":
            config.update_rule(operator_copy, enabled=False)
        else:
            config.delete_rule(operator_copy)

    def record() -> object:
        return record_rule_transition(worker_copy, "normal", "high-limit", 32.0, timezone.now())

    operator, _ = in_a_thread(change)
    try:
        assert written.wait(timeout=WAIT)
        worker, recorded = in_a_thread(record)
        wait_for_a_lock_wait()
        assert worker.is_alive()  # still waiting: nothing recorded before the commit
    finally:
        commit.set()
        operator.join(timeout=WAIT)
    worker.join(timeout=WAIT)
    assert not worker.is_alive()
    assert recorded == [None]
    alarm = Alarm.objects.get(rule=name)
    assert alarm.event_state == "normal"
    assert f"(rule {how})" in alarm.message
    transitions = AlarmTransition.objects.filter(alarm=alarm).order_by("id")
    assert [t.to_state for t in transitions] == ["high-limit", "normal"]
