"""BMS alarm rules in the worker: monitored readings stored by the ReadingBatcher are evaluated
(bms.worker.alarm_rules.RuleRunner as its on_stored hook) and a crossing is recorded as the
rule's alarm; a runner started again (a worker restart) picks up the stored state."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from bms.alarms.models import Alarm, AlarmRule
from bms.bacnet.types import ObjectRef
from bms.devices.models import BACnetDevice, BACnetPoint
from bms.worker.alarm_rules import RuleRunner
from bms.worker.reading_batch import ReadingBatcher
from bms.worker.store.monitoring import ReadingRow

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
