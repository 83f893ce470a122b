"""BMS alarm rules in the worker: monitored readings stored by the ReadingBatcher are evaluated
(bms.worker.alarm_rules.RuleRunner as its on_stored hook), and so are values a collect task
stored (its on_values hook); a crossing is recorded as the rule's alarm; a runner started again
(a worker restart) picks up the stored state. Stale-value rules are checked on the runner's
clock (injected here: the tests move it, nothing sleeps long)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from bms.alarms import configuration as config
from bms.alarms.models import Alarm, AlarmRule
from bms.bacnet.config import EngineConfig
from bms.bacnet.engine import Engine
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice, BACnetPoint, BACnetReading
from bms.simulator.building import SimulatedBuilding
from bms.tasks import queue
from bms.worker import jobs
from bms.worker.alarm_rules import RuleRunner
from bms.worker.db import run_db
from bms.worker.reading_batch import ReadingBatcher
from bms.worker.store.monitoring import ReadingRow
from tests.worker.monitoring_rig import PeerDevice, RunningMonitoring, eventually, make_device_rows

pytestmark = pytest.mark.django_db(transaction=True)
AI = ObjectRef("analog-input", 1)


def make_rule() -> AlarmRule:
    device = BACnetDevice.objects.create(device_instance=1001, address="127.0.0.2:47808")
    point = BACnetPoint.objects.create(device=device, object_type="analog-input", instance=1)
    return AlarmRule.objects.create(point=point, kind="high_limit", high=30.0, deadband=2.0)


async def store(runner: RuleRunner, rule: AlarmRule, *values: float) -> None:
    batcher = ReadingBatcher()
    batcher.on_stored = runner.readings_stored
    point = await sync_to_async(lambda: rule.point)()
    for value in values:
        batcher.add(ReadingRow(point.id, point.device_id, AI, value, None, "cov"))
        await batcher.drain()  # one group commit per value, as they arrive over time


def alarm_states(rule: AlarmRule) -> list[str]:
    alarm = Alarm.objects.filter(rule=rule.rule_name).first()
    if alarm is None:
        return []
    return [t.to_state for t in alarm.transitions.order_by("id")]


async def test_a_stored_reading_above_the_limit_raises_the_rule_alarm_and_the_band_clears_it():
    rule = await sync_to_async(make_rule)()
    runner = RuleRunner()
    await store(runner, rule, 25.0, 31.0, 29.0, 27.5)
    assert await sync_to_async(alarm_states)(rule) == ["high-limit", "normal"]
    assert runner.transitions == 2


async def test_a_restarted_runner_does_not_raise_an_active_alarm_again():
    rule = await sync_to_async(make_rule)()
    await store(RuleRunner(), rule, 31.0)
    await store(RuleRunner(), rule, 32.0, 20.0)
    assert await sync_to_async(alarm_states)(rule) == ["high-limit", "normal"]


async def test_a_disabled_rule_is_not_evaluated():
    rule = await sync_to_async(make_rule)()
    await sync_to_async(AlarmRule.objects.update)(enabled=False)
    await store(RuleRunner(), rule, 31.0)
    assert await sync_to_async(alarm_states)(rule) == []


# ---- stale values: the clock -------------------------------------------------------------------


class FakeClock:
    """The runner's clock: the real time plus an offset the test moves (nothing sleeps)."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return timezone.now() + self.ahead


def make_stale_rule(seconds: int = 60, delay: int = 0) -> AlarmRule:
    device = BACnetDevice.objects.create(device_instance=1002, address="127.0.0.3:47808")
    point = BACnetPoint.objects.create(
        device=device, object_type="analog-input", instance=1, name="Flow", last_value=1.0,
        last_value_at=timezone.now(),
    )  # fmt: skip
    return AlarmRule.objects.create(
        point=point, kind="stale", stale_seconds=seconds, delay_seconds=delay, priority=40
    )


async def test_a_point_silent_beyond_the_limit_raises_the_stale_alarm_and_a_value_clears_it():
    rule = await sync_to_async(make_stale_rule)()
    clock = FakeClock()
    runner = RuleRunner(clock=clock)
    clock.ahead = timedelta(seconds=30)
    assert await runner.check_clock() == 0
    clock.ahead = timedelta(seconds=61)
    assert await runner.check_clock() == 1
    assert await runner.check_clock() == 0  # still stale: no second transition
    alarm = await sync_to_async(Alarm.objects.get)(rule=rule.rule_name)
    assert (alarm.event_state, alarm.event_type, alarm.priority) == ("fault", "stale-value", 40)
    assert "no value for 60 s" in alarm.message
    assert alarm.acked_transitions == [True, False, True]  # the fault waits for an ack

    clock.ahead = timedelta(0)
    await store(runner, rule, 5.0)  # a monitored value: normal at once, not at the next check
    assert await sync_to_async(alarm_states)(rule) == ["fault", "normal"]
    assert await runner.check_clock() == 0


async def test_a_value_stored_by_another_path_clears_the_stale_alarm_at_the_next_check():
    rule = await sync_to_async(make_stale_rule)()
    clock = FakeClock()
    runner = RuleRunner(clock=clock)
    clock.ahead = timedelta(seconds=90)
    await runner.check_clock()
    later = timezone.now() + timedelta(seconds=85)  # e.g. a collect of another worker
    await sync_to_async(BACnetPoint.objects.update)(last_value_at=later)
    assert await runner.check_clock() == 1
    assert await sync_to_async(alarm_states)(rule) == ["fault", "normal"]


async def test_a_stale_rule_waits_out_its_delay_and_a_point_never_read_counts_from_the_rule():
    rule = await sync_to_async(make_stale_rule)(seconds=60, delay=20)
    await sync_to_async(BACnetPoint.objects.update)(last_value_at=None, last_value=None)
    clock = FakeClock()
    runner = RuleRunner(clock=clock)
    clock.ahead = timedelta(seconds=70)
    assert await runner.check_clock() == 0  # stale for 10 s of the 20 s delay
    clock.ahead = timedelta(seconds=95)
    assert await runner.check_clock() == 1
    assert await sync_to_async(alarm_states)(rule) == ["fault"]


async def test_the_stale_loop_checks_on_its_own_and_stops_when_cancelled():
    rule = await sync_to_async(make_stale_rule)()
    clock = FakeClock()
    clock.ahead = timedelta(minutes=5)
    runner = RuleRunner(clock=clock, clock_seconds=0.02)
    loop = asyncio.create_task(runner.run_clock(), name="test-alarm-stale")
    try:
        # Bounded by time (20 s), not by 200 turns of 20 ms: a loaded machine's turns are longer.
        deadline = time.monotonic() + 20
        while not runner.transitions and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    assert await sync_to_async(alarm_states)(rule) == ["fault"]


async def test_a_disabled_or_deleted_stale_rule_raises_nothing():
    rule = await sync_to_async(make_stale_rule)()
    clock = FakeClock()
    runner = RuleRunner(clock=clock)
    await runner.check_clock()  # loads the rule
    await sync_to_async(AlarmRule.objects.update)(enabled=False)
    clock.ahead = timedelta(minutes=5)
    assert await runner.check_clock() == 0
    await sync_to_async(rule.delete)()
    assert await runner.check_clock() == 0


# ---- delays and binary states ------------------------------------------------------------------


def make_point_rule(object_type: str, **fields: Any) -> AlarmRule:
    device = BACnetDevice.objects.create(device_instance=1003, address="127.0.0.4:47808")
    point = BACnetPoint.objects.create(device=device, object_type=object_type, instance=1)
    return AlarmRule.objects.create(point=point, **fields)


async def store_values(runner: RuleRunner, rule: AlarmRule, *values: Any) -> None:
    batcher = ReadingBatcher()
    batcher.on_stored = runner.readings_stored
    point = await sync_to_async(lambda: rule.point)()
    for value in values:
        ref = ObjectRef(point.object_type, point.instance)
        batcher.add(ReadingRow(point.id, point.device_id, ref, value, None, "cov"))
        await batcher.drain()


async def test_a_limit_crossed_once_is_raised_by_the_clock_when_its_delay_is_out():
    """COV sends only changes: after one value under the low limit nothing else may come, so
    the clock sees the delay out."""
    rule = await sync_to_async(make_point_rule)(
        "analog-input", kind="low_limit", low=5.0, delay_seconds=30
    )
    clock = FakeClock()
    runner = RuleRunner(clock=clock)
    await store_values(runner, rule, 4.0)
    assert await runner.check_clock() == 0  # 0 s of 30
    clock.ahead = timedelta(seconds=31)
    assert await runner.check_clock() == 1
    assert await sync_to_async(alarm_states)(rule) == ["low-limit"]
    alarm = await sync_to_async(Alarm.objects.get)(rule=rule.rule_name)
    assert "(value 4.0)" in alarm.message


async def test_a_value_back_within_the_delay_cancels_it_for_the_clock_too():
    rule = await sync_to_async(make_point_rule)(
        "analog-input", kind="high_limit", high=30.0, delay_seconds=30
    )
    clock = FakeClock()
    runner = RuleRunner(clock=clock)
    await store_values(runner, rule, 31.0, 29.0)
    clock.ahead = timedelta(minutes=5)
    assert await runner.check_clock() == 0
    assert await sync_to_async(alarm_states)(rule) == []


async def test_a_binary_point_alarms_on_its_alarm_value():
    rule = await sync_to_async(make_point_rule)(
        "binary-input", kind="binary_state", alarm_value="active", priority=5
    )
    runner = RuleRunner()
    await store_values(runner, rule, "inactive", "active", "active", "inactive")
    assert await sync_to_async(alarm_states)(rule) == ["offnormal", "normal"]


# ---- values read by a collect task -------------------------------------------------------------


async def test_a_value_read_by_a_collect_raises_a_high_limit_rule(bacnet_port: int) -> None:
    await sync_to_async(BACnetDevice.objects.create)(
        device_instance=1000, address=f"127.0.0.2:{bacnet_port}", online=True
    )
    runner = RuleRunner(reload_seconds=0)  # the rule is made between the two collects
    settings = jobs.JobSettings("default", 0, on_values=runner.values_stored)
    config = EngineConfig(address=f"127.0.0.1/8:{bacnet_port}", timeout=2.0, retries=0)
    async with (
        SimulatedBuilding(devices=1, objects=3, port=bacnet_port),
        Engine(config) as engine,
    ):
        await collect(engine, settings)
        point = await sync_to_async(BACnetPoint.objects.filter(object_type="analog-input").first)()
        assert point is not None
        rule = await sync_to_async(AlarmRule.objects.create)(
            point=point, kind="high_limit", high=-1e9
        )
        await collect(engine, settings)
    assert await sync_to_async(alarm_states)(rule) == ["high-limit"]


async def collect(engine: Engine, settings: jobs.JobSettings) -> None:
    async def progress(**fields: Any) -> None:
        """Not looked at here."""

    task = await sync_to_async(queue.enqueue)("collect", {})
    await jobs.collect(engine, task, progress, settings)


async def test_a_rule_disabled_in_alarm_and_enabled_again_raises_again():
    """Disabling closes its alarm (bms.alarms.configuration); enabled again, the runner starts
    it from the stored normal, not from the high limit it held before."""
    rule = await sync_to_async(make_rule)()
    runner = RuleRunner(reload_seconds=0)
    await store(runner, rule, 31.0)
    await sync_to_async(config.update_rule)(rule, enabled=False)
    await store(runner, rule, 20.0)  # not evaluated: disabled
    await sync_to_async(config.update_rule)(rule, enabled=True)
    await store(runner, rule, 32.0)
    assert await sync_to_async(alarm_states)(rule) == ["high-limit", "normal", "high-limit"]


# ---- values polled by the monitoring service ---------------------------------------------------


async def test_a_polled_value_raises_a_high_limit_rule(bacnet_port: int) -> None:
    """A device that predates COV is polled by the monitoring service; its polled value goes
    through the batcher to the rules like a COV value does."""
    peer = PeerDevice(bacnet_port, 3, 1010, refuses_cov=True)
    await peer.start()
    try:
        rows = await sync_to_async(make_device_rows)(
            [peer], monitored=True, monitor_mode="poll", poll_seconds=1
        )
        point = await sync_to_async(BACnetPoint.objects.get)(
            device=rows[1010], object_type="analog-input", instance=1
        )
        rule = await sync_to_async(AlarmRule.objects.create)(
            point=point, kind="high_limit", high=25.0
        )
        runner = RuleRunner()
        running = RunningMonitoring(bacnet_port)
        async with running as service:
            service.batcher.on_stored = runner.readings_stored
            polled = BACnetReading.objects.filter(point=point, source="poll")
            await eventually(polled.exists, what="a first poll")
            assert await sync_to_async(alarm_states)(rule) == []  # 21.5: normal
            peer.set_value(AI, 30.0)
            await eventually(lambda: alarm_states(rule) == ["high-limit"], what="the alarm")
    finally:
        await peer.silence()
    alarm = await sync_to_async(Alarm.objects.get)(rule=rule.rule_name)
    assert "(value 30.0)" in alarm.message


async def test_the_batchers_hook_does_not_wait_for_the_rules_and_the_queued_values_alarm():
    """The worker's hook queues: with the ORM thread busy for 3 s (as under a history upkeep
    step), `queue_stored` returns at once, where `readings_stored` waits for the rules' reload
    on that thread; the rules' loop evaluates the value when the thread is free."""
    rule = await sync_to_async(make_rule)()
    point = await sync_to_async(lambda: rule.point)()
    row = ReadingRow(point.id, point.device_id, AI, 31.0, None, "cov")
    runner = RuleRunner()
    busy = asyncio.ensure_future(run_db(time.sleep, 3.0))
    await asyncio.sleep(0.1)  # the sleep holds the thread first
    evaluating = asyncio.ensure_future(runner.run_values())
    try:
        await runner.queue_stored([row], {point.id}, timezone.now())
        # Returned while the thread was still busy: an order, not a time, so that a loaded
        # machine cannot fail it (the old bound was 0.5 s against the thread's 1.5 s).
        assert not busy.done(), "queue_stored waited for the ORM thread"
        await asyncio.sleep(0.3)
        assert runner.transitions == 0  # not evaluated yet: the reload waits for the thread
        await busy
        async with asyncio.timeout(10):
            while runner.transitions == 0:
                await asyncio.sleep(0.05)
        assert await sync_to_async(alarm_states)(rule) == ["high-limit"]
        inline = RuleRunner()
        busy = asyncio.ensure_future(run_db(time.sleep, 1.0))
        await asyncio.sleep(0.1)  # the sleep holds the thread before the reload asks for it
        started = time.monotonic()
        await inline.readings_stored([row], {point.id}, timezone.now())
        assert time.monotonic() - started >= 0.7  # what the batcher used to wait
        await busy
    finally:
        evaluating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await evaluating
