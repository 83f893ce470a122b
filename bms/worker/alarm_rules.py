"""BMS alarm rules evaluated in the worker as monitored readings are stored.

The ReadingBatcher calls `readings_stored` after each group commit (`on_stored`); the rules of
the site's points are read from the database at most every RELOAD_SECONDS, each starting from
its alarm's stored state (a restart does not raise an active alarm again). The evaluation is
pure (bms.bacnet.alarm_rules); only transitions go to the database (bms.alarms.rules). A
database error here is logged: the readings are stored already, and the next value evaluates
again. Stale rules need a clock, not readings: they are not evaluated yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError

from bms.alarms.models import Alarm, AlarmRule
from bms.alarms.rules import record_rule_transition
from bms.bacnet.alarm_rules import RuleError, RuleSpec, RuleState, evaluate
from bms.worker.db import run_db
from bms.worker.store.monitoring import ReadingRow

log = logging.getLogger(__name__)

RELOAD_SECONDS = 10.0


@dataclass(frozen=True)
class LoadedRule:
    rule_id: int
    point_id: int
    spec: RuleSpec
    state: str  # its alarm's event state when loaded


@dataclass(frozen=True)
class RuleChange:
    rule_id: int
    from_state: str
    to_state: str
    value: Any


class RuleRunner:
    def __init__(self, reload_seconds: float = RELOAD_SECONDS) -> None:
        self._reload_seconds = reload_seconds
        self._loaded_at: float | None = None
        self._by_point: dict[int, list[LoadedRule]] = {}
        self._states: dict[int, RuleState] = {}
        self.transitions = 0  # recorded since start (for tests)

    async def readings_stored(
        self, batch: Sequence[ReadingRow], stored: set[int], at: datetime
    ) -> None:
        try:
            await self._reload_if_due()
            changes = self._evaluate(batch, stored, at.timestamp())
            if changes:
                await run_db(_record, changes, at)
                self.transitions += len(changes)
        except DatabaseError as exc:
            log.warning("alarm rules not evaluated for %d readings: %s", len(batch), exc)

    async def _reload_if_due(self) -> None:
        now = time.monotonic()
        if self._loaded_at is not None and now - self._loaded_at < self._reload_seconds:
            return
        rules = await run_db(_load_rules)
        self._by_point = {}
        for rule in rules:
            self._by_point.setdefault(rule.point_id, []).append(rule)
            known = self._states.get(rule.rule_id)
            if known is None or self._loaded_at is None:
                self._states[rule.rule_id] = RuleState(rule.state)
        self._loaded_at = now

    def _evaluate(
        self, batch: Sequence[ReadingRow], stored: set[int], at: float
    ) -> list[RuleChange]:
        changes = []
        for row in batch:
            if row.point_id not in stored:
                continue
            for rule in self._by_point.get(row.point_id, ()):
                verdict = evaluate(rule.spec, self._states[rule.rule_id], row.value, at)
                self._states[rule.rule_id] = verdict.state
                if verdict.transition is not None:
                    changes.append(RuleChange(rule.rule_id, *verdict.transition, row.value))
        return changes


def _load_rules() -> list[LoadedRule]:
    states = dict(Alarm.objects.filter(rule__startswith="rule:").values_list("rule", "event_state"))
    loaded = []
    for rule in AlarmRule.objects.filter(enabled=True).exclude(kind="stale"):
        try:
            spec = rule.spec()
        except RuleError as exc:
            log.warning("alarm rule %s skipped: %s", rule.pk, exc)
            continue
        loaded.append(
            LoadedRule(rule.pk, rule.point_id, spec, states.get(rule.rule_name, "normal"))
        )
    return loaded


def _record(changes: list[RuleChange], at: datetime) -> None:
    rules = AlarmRule.objects.select_related("point__device").in_bulk([c.rule_id for c in changes])
    for change in changes:
        rule = rules.get(change.rule_id)
        if rule is not None:  # deleted meanwhile: nothing to record
            record_rule_transition(rule, change.from_state, change.to_state, change.value, at)
