"""A rule changed in the pages or the API reaches the worker's rule runner within about a
second: the runner reads the rules' revision (one row) at most every CHECK_SECONDS and loads the
rules again only when it moved; the full reload's own timer (RELOAD_SECONDS) is only a safety
net. A rule disabled or deleted while the runner still holds it records nothing more."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from bms.alarms import configuration as config
from bms.alarms.models import AlarmRule
from bms.worker.alarm_rules import RuleRunner
from tests.worker.test_alarm_rules import alarm_states, make_rule, store

pytestmark = pytest.mark.django_db(transaction=True)


# What the bound tells apart: the revision check (every CHECK_SECONDS, 1 s) brings the edit in
# about a second; without it only the reload timer would, 600 s here. 10 s sits far from both,
# so a loaded machine does not fail it and the timer path still does.
REVISION_PATH_SECONDS = 10.0


async def test_an_edited_threshold_acts_by_the_revision_check_without_the_reload_timer():
    rule = await sync_to_async(make_rule)()  # high limit 30
    runner = RuleRunner(reload_seconds=600)  # the real revision check, every second
    await store(runner, rule, 25.0)
    await sync_to_async(config.update_rule)(rule, high=20.0)
    edited = time.monotonic()
    while not await sync_to_async(alarm_states)(rule):
        elapsed = time.monotonic() - edited
        assert elapsed < REVISION_PATH_SECONDS, "the edit did not reach the runner"
        await asyncio.sleep(0.05)  # values as they arrive over time, not a busy loop
        await store(runner, rule, 25.0)  # the same value, now above the limit
    assert await sync_to_async(alarm_states)(rule) == ["high-limit"]
    assert runner.reloads == 2  # at start, and once for the edit


async def test_the_runner_loads_the_rules_again_only_when_their_revision_moved():
    rule = await sync_to_async(make_rule)()
    runner = RuleRunner(reload_seconds=600, check_seconds=0)  # checks before every value
    await store(runner, rule, 20.0, 21.0, 22.0)
    assert runner.reloads == 1
    await sync_to_async(config.create_rule)(
        await sync_to_async(lambda: rule.point)(), kind="low_limit", low=10.0
    )
    await store(runner, rule, 9.0)  # the new rule's first value raises its alarm
    assert runner.reloads == 2
    low = await sync_to_async(AlarmRule.objects.get)(kind="low_limit")
    assert await sync_to_async(alarm_states)(low) == ["low-limit"]


@pytest.mark.parametrize("how", ["disabled", "deleted"])
async def test_a_rule_disabled_or_deleted_in_alarm_stays_normal_though_the_runner_held_it(how):
    """The change returns the alarm to normal (bms.alarms.configuration); a runner that has not
    seen the change yet still evaluates the rule, and its transitions are not recorded."""
    rule = await sync_to_async(make_rule)()
    held = await sync_to_async(AlarmRule.objects.select_related("point").get)(pk=rule.pk)
    runner = RuleRunner(reload_seconds=600, check_seconds=600)  # holds the rule as loaded
    await store(runner, rule, 31.0)
    if how == "disabled":
        await sync_to_async(config.update_rule)(rule, enabled=False)
    else:
        await sync_to_async(config.delete_rule)(rule)
    await store(runner, held, 20.0, 35.0)  # to normal, to high limit: in memory only
    assert runner.transitions == 3
    assert await sync_to_async(alarm_states)(held) == ["high-limit", "normal"]
