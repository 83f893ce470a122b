"""The worker's notification loop (bms.worker.alarm_notify) on the test database with a real
HTTP server on 127.0.0.1: new transitions go out, a failing webhook is retried with backoff
then given up, and neither holds up the other notifiers; the queue is bounded; history from
before notifications began is not sent, and what was recorded while no loop looked (a worker
restarting) is; two workers' loops on one database send each transition once. A BMS rule's
alarm carries the rule's notification class, so a notifier limited to a class receives that
class's rule alarms only."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from django.core import mail

from bms.alarms import configuration as config
from bms.alarms.models import AlarmNotifier, AlarmRule
from bms.bacnet.clock import utc_now
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.worker.alarm_notify import AlarmNotifyLoop
from bms.worker.alarm_rules import RuleRunner
from tests.alarms.test_notifiers import a_transition
from tests.alarms.webhook_server import webhook_server

pytestmark = pytest.mark.django_db(transaction=True)
FAST = {"poll_seconds": 0.05, "backoff": (0.05, 0.1)}


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def running(loop: AlarmNotifyLoop) -> asyncio.Task[None]:
    task = asyncio.create_task(loop.run(), name="alarm-notify-under-test")
    await until(lambda: loop.cursor is not None)
    return task


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_webhook_failing_twice_is_retried_and_delivered(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with webhook_server(failures=2) as (url, received):
        await sync_to_async(AlarmNotifier.objects.create)(
            name="hook", kind="webhook", target=url, secret="s"
        )
        loop = AlarmNotifyLoop(**FAST)
        task = await running(loop)
        transition = await sync_to_async(a_transition)()
        # The server has the body before the loop has read the answer and counted it sent.
        await until(lambda: received.bodies != [] and loop.counts.sent == 1)
        await stopped(task)
    assert (received.refused, len(received.bodies)) == (2, 1)
    assert (loop.counts.retried, loop.counts.sent, loop.counts.given_up) == (2, 1, 0)
    assert str(transition.pk).encode() in received.bodies[0]


async def test_a_webhook_that_never_answers_well_is_given_up_and_email_still_goes(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    with webhook_server(failures=1000) as (url, received):
        await sync_to_async(AlarmNotifier.objects.create)(
            name="hook", kind="webhook", target=url, secret="s"
        )
        await sync_to_async(AlarmNotifier.objects.create)(
            name="desk", kind="email", target="o@x.org"
        )
        # Retries a second apart: the e-mail must arrive while the webhook is still retrying.
        loop = AlarmNotifyLoop(poll_seconds=0.05, backoff=(1.0, 1.0))
        task = await running(loop)
        await sync_to_async(a_transition)()
        await until(lambda: len(mail.outbox) == 1)
        # The webhook is given up after its two retries, 2 s on: had the e-mail waited for
        # them, it would arrive after that (a deadline of its own would fail a loaded machine).
        assert loop.counts.given_up == 0  # the e-mail did not wait for the webhook's retries
        await until(lambda: loop.counts.given_up == 1)
        await stopped(task)
    assert received.refused == 3  # the first attempt and two retries
    assert received.bodies == []


async def test_history_is_not_sent_again_when_the_loop_starts(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    await sync_to_async(AlarmNotifier.objects.create)(name="desk", kind="email", target="o@x.org")
    await sync_to_async(a_transition)(priority=10)
    loop = AlarmNotifyLoop(**FAST)
    task = await running(loop)
    await sync_to_async(a_transition)(priority=20)
    await until(lambda: loop.counts.sent == 1)
    await asyncio.sleep(0.2)
    await stopped(task)
    assert [m.subject.split("]")[0] for m in mail.outbox] == ["[BMS alarm p20"]


async def test_a_transition_recorded_while_no_loop_looked_is_sent_by_the_next_one(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    await sync_to_async(AlarmNotifier.objects.create)(name="desk", kind="email", target="o@x.org")
    before = AlarmNotifyLoop(**FAST)
    await stopped(await running(before))  # a worker stops (or is still starting)
    await sync_to_async(a_transition)(priority=30)
    after = AlarmNotifyLoop(**FAST)
    task = await running(after)
    await until(lambda: after.counts.sent == 1)
    await stopped(task)
    assert [m.subject.split("]")[0] for m in mail.outbox] == ["[BMS alarm p30"]


async def test_two_workers_loops_on_one_database_send_each_transition_once():
    with webhook_server() as (url, received):
        await sync_to_async(AlarmNotifier.objects.create)(
            name="hook", kind="webhook", target=url, secret="s"
        )
        loops = [AlarmNotifyLoop(poll_seconds=0.01) for _ in range(2)]
        tasks = [await running(loop) for loop in loops]
        transitions = []
        for priority in range(20):
            transitions.append(await sync_to_async(a_transition)(priority=priority))
            await asyncio.sleep(0.01)  # the two loops look in between
        await until(lambda: sum(loop.counts.sent for loop in loops) >= len(transitions))
        await asyncio.sleep(2 * FAST["poll_seconds"] + 1.5)  # a second copy would come by now
        for task in tasks:
            await stopped(task)
    sent = sorted(json.loads(body)["transition_id"] for body in received.bodies)
    assert sent == sorted(t.pk for t in transitions)
    assert sum(loop.counts.sent for loop in loops) == len(transitions)


async def test_a_full_queue_drops_with_a_count_instead_of_waiting():
    await sync_to_async(AlarmNotifier.objects.create)(name="desk", kind="email", target="o@x.org")
    loop = AlarmNotifyLoop(poll_seconds=0.05, bound=1, senders=0)
    task = await running(loop)
    for priority in (1, 2, 3):
        await sync_to_async(a_transition)(priority=priority)
    await until(lambda: loop.counts.dropped == 2)
    await stopped(task)
    assert loop.queue.qsize() == 1


async def test_a_burst_that_overflows_the_queue_is_one_log_line_per_look(caplog):
    """At a thousand transitions a second a line per dropped job would load the event loop."""
    await sync_to_async(AlarmNotifier.objects.create)(name="desk", kind="email", target="o@x.org")
    loop = AlarmNotifyLoop(poll_seconds=0.05, bound=2, senders=0)
    task = await running(loop)

    def burst() -> None:
        for priority in range(12):
            a_transition(priority=priority)

    with caplog.at_level("ERROR", logger="bms.worker.alarm_notify"):
        await sync_to_async(burst)()
        await until(lambda: loop.counts.dropped == 10)
        await stopped(task)
    lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert 1 <= len(lines) < 10, lines
    assert sum(int(line.split()[0]) for line in lines) == 10
    assert "email notifier desk" in lines[0]


def rules_of_classes(*classes: int) -> list[AlarmRule]:
    """A high-limit rule of each notification class, each on a point of its own."""
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2:47808")
    rules = []
    for instance, notification_class in enumerate(classes, start=1):
        point = BACnetPoint.objects.create(
            device=device, object_type="analog-input", instance=instance, name=f"AI{instance}"
        )
        rules.append(
            config.create_rule(
                point, kind="high_limit", high=30.0, notification_class=notification_class
            )
        )
    return rules


async def test_a_notifier_of_one_class_receives_the_rule_alarms_of_that_class_only(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    of_5, of_6 = await sync_to_async(rules_of_classes)(5, 6)
    await sync_to_async(AlarmNotifier.objects.create)(
        name="class 5", kind="email", target="five@x.org", notification_class=5
    )
    loop = AlarmNotifyLoop(**FAST)
    task = await running(loop)
    runner = RuleRunner()
    await runner.values_stored([(of_5.point_id, 31.0), (of_6.point_id, 32.0)], utc_now())
    assert runner.transitions == 2  # both rules raised their alarm
    await until(lambda: loop.counts.sent == 1)
    await asyncio.sleep(0.2)  # time for a wrong second one to go out too
    await stopped(task)
    assert [m.to for m in mail.outbox] == [["five@x.org"]]
    assert "AI1" in mail.outbox[0].subject
    assert "notification_class: 5" in mail.outbox[0].body
