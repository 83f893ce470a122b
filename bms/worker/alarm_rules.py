"""BMS alarm rules evaluated in the worker: on every stored value, and on a clock.

Theory of operation. Values reach the rules through two hooks, both called after their readings
are committed: `readings_stored` (the monitoring service's ReadingBatcher: COV notifications
and polls) and `values_stored` (a collect task's chunks, bms.worker.jobs). The enabled rules
are loaded from the database, each starting from its alarm's stored state (a restart does not
raise an active alarm again; nor does a rule enabled again after its alarm was closed keep its
old state). Before evaluating, at most every CHECK_SECONDS, the runner reads ONE row: the
rules' revision, which every rule created, edited or deleted bumps in its own transaction
(bms.alarms.configuration). Only when it moved, or every RELOAD_SECONDS as a safety net for
what no change announces (a point deleted with its rules, a row edited by hand), are the rules
loaded again. So a new or edited rule is used from the first value stored about a second after
it was saved. A transition of a rule disabled or deleted since the last load is not recorded
(configuration returned its alarm to normal). The evaluation is pure (bms.bacnet.alarm_rules);
only transitions go to the database (bms.alarms.rules).

Some rules need a clock, not values: `run_clock` (a supervised worker loop) calls
`check_clock` every CLOCK_SECONDS. Stale-value rules: one query reads the last value time of
every enabled stale rule's point; a point older than its rule's limit goes to "fault", and back
to normal once a value came (at once when the value goes through a hook above, else at the next
check). Delays: a limit crossed by a value that is not followed by another (COV sends only
changes) would otherwise wait forever for its delay to be seen out; the clock completes it.
The time comes from an injectable clock, so tests move it instead of sleeping.

A database error on the value hooks is logged: the readings are stored already, and the next
value evaluates again. The clock loop lets it rise, so the worker's supervisor waits for the
database and starts the loop again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError

from bms.alarms.configuration import rule_revision
from bms.alarms.models import Alarm, AlarmRule
from bms.alarms.rules import record_rule_transition
from bms.bacnet.alarm_rules import (
    RuleError,
    RuleSpec,
    RuleState,
    evaluate,
    evaluate_stale,
    step,
)
from bms.bacnet.clock import utc_now
from bms.worker.db import run_db
from bms.worker.store.monitoring import ReadingRow

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how often the rules' revision is read
RELOAD_SECONDS = 60.0  # the safety net: every rule loaded again, announced or not
MAX_QUEUED = 10_000  # stored batches waiting for evaluation (minutes of COV at 1,000/s)
CLOCK_SECONDS = 5.0


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
    def __init__(
        self,
        reload_seconds: float = RELOAD_SECONDS,
        clock: Callable[[], datetime] = utc_now,
        clock_seconds: float = CLOCK_SECONDS,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self._reload_seconds = reload_seconds
        self._check_seconds = check_seconds
        self._clock = clock
        self._clock_seconds = clock_seconds
        self._loaded_at: float | None = None
        self._checked_at = 0.0
        self._revision = 0  # the rules' revision when they were loaded
        self.reloads = 0  # loads of every rule since start (for tests)
        self._by_point: dict[int, list[LoadedRule]] = {}
        self._stale: list[LoadedRule] = []
        self._states: dict[int, RuleState] = {}
        # Point id -> epoch of the newest value evaluated here: a value stored while the stale
        # check's query ran is not taken for missing.
        self._last_seen: dict[int, float] = {}
        self._last_values: dict[int, Any] = {}  # point id -> its newest value evaluated here
        self.transitions = 0  # recorded since start (for tests)
        self._queued: asyncio.Queue[tuple[list[tuple[int, Any]], datetime]] = asyncio.Queue(
            MAX_QUEUED
        )
        self.dropped = 0  # stored batches not evaluated because the queue was full

    # ---- values ----------------------------------------------------------------------------

    async def readings_stored(
        self, batch: Sequence[ReadingRow], stored: set[int], at: datetime
    ) -> None:
        """A group commit of monitored values, evaluated before this returns."""
        await self.values_stored(_stored_values(batch, stored), at)

    async def queue_stored(
        self, batch: Sequence[ReadingRow], stored: set[int], at: datetime
    ) -> None:
        """The worker's ReadingBatcher hook (on_stored): the values wait for `run_values`, so
        the batcher's next group commit never waits on the rules' database work (a reload
        queued on the ORM thread behind a history upkeep step held COV values for seconds:
        bench/cov.py). Past MAX_QUEUED batches the newest are dropped, counted and logged."""
        try:
            self._queued.put_nowait((_stored_values(batch, stored), at))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("alarm rules behind: %d stored batches not evaluated", self.dropped)

    async def run_values(self) -> None:
        """The worker's loop: evaluate the queued batches in their order, until cancelled."""
        while True:
            values, at = await self._queued.get()
            await self.values_stored(values, at)

    async def values_stored(self, values: Iterable[tuple[int, Any]], at: datetime) -> None:
        """(point id, value) pairs stored at `at`, in the order they came."""
        values = list(values)
        try:
            await self._reload_if_due()
            await self._record(self._evaluate(values, at.timestamp()), at)
        except DatabaseError as exc:
            log.warning("alarm rules not evaluated for %d values: %s", len(values), exc)

    def _evaluate(self, values: Sequence[tuple[int, Any]], at: float) -> list[RuleChange]:
        changes = []
        for point_id, value in values:
            self._last_seen[point_id] = max(at, self._last_seen.get(point_id, at))
            self._last_values[point_id] = value
            for rule in self._by_point.get(point_id, ()):
                verdict = evaluate(rule.spec, self._states[rule.rule_id], value, at)
                self._states[rule.rule_id] = verdict.state
                if verdict.transition is not None:
                    changes.append(RuleChange(rule.rule_id, *verdict.transition, value))
        return changes

    # ---- the clock -------------------------------------------------------------------------

    async def run_clock(self) -> None:
        """The worker's loop: `check_clock` every CLOCK_SECONDS, until cancelled."""
        while True:
            await self.check_clock()
            await asyncio.sleep(self._clock_seconds)

    async def check_clock(self) -> int:
        """Evaluate the stale rules and the delays due at the clock's now; returns the
        transitions recorded."""
        await self._reload_if_due()
        now = self._clock()
        changes = self._delays_due(now.timestamp())
        if self._stale:
            changes += self._stale_changes(await run_db(_last_value_times), now.timestamp())
        await self._record(changes, now)
        return len(changes)

    def _delays_due(self, now: float) -> list[RuleChange]:
        """Value rules whose new state has waited out its delay with no value since."""
        changes = []
        for rules in self._by_point.values():
            for rule in rules:
                state = self._states[rule.rule_id]
                if rule.spec.kind == "stale" or state.pending is None:
                    continue
                verdict = step(rule.spec, state, state.pending, now)
                self._states[rule.rule_id] = verdict.state
                if verdict.transition is not None:
                    value = self._last_values.get(rule.point_id)
                    changes.append(RuleChange(rule.rule_id, *verdict.transition, value))
        return changes

    def _stale_changes(self, last_values: Mapping[int, float], now: float) -> list[RuleChange]:
        changes = []
        for rule in self._stale:
            stored = last_values.get(rule.rule_id)
            if stored is None:  # deleted or disabled since the last reload
                continue
            last = max(stored, self._last_seen.get(rule.point_id, stored))
            verdict = evaluate_stale(rule.spec, self._states[rule.rule_id], last, now)
            self._states[rule.rule_id] = verdict.state
            if verdict.transition is not None:
                changes.append(RuleChange(rule.rule_id, *verdict.transition, None))
        return changes

    # ---- the rules and their transitions ---------------------------------------------------

    async def _reload_if_due(self) -> None:
        """Load the rules at start, when their revision moved (read at most every
        CHECK_SECONDS), and every RELOAD_SECONDS."""
        now = time.monotonic()
        if self._loaded_at is None or now - self._loaded_at >= self._reload_seconds:
            await self._reload(now)
        elif now - self._checked_at >= self._check_seconds:
            self._checked_at = now
            if await run_db(rule_revision) != self._revision:
                await self._reload(now)

    async def _reload(self, now: float) -> None:
        self._revision, rules = await run_db(_load_rules)
        loaded_before = {rule.rule_id for kept in self._by_point.values() for rule in kept}
        self._by_point, self._stale = {}, []
        for rule in rules:
            self._by_point.setdefault(rule.point_id, []).append(rule)
            if rule.spec.kind == "stale":
                self._stale.append(rule)
            if rule.rule_id not in loaded_before:
                # New, re-enabled (its alarm was closed meanwhile), or the first load after a
                # start: as stored. A loaded rule keeps its state here, which may be ahead of
                # what this load read (a transition being recorded) and knows its delay.
                self._states[rule.rule_id] = RuleState(rule.state)
        loaded = {rule.rule_id for rule in rules}
        self._states = {rule_id: s for rule_id, s in self._states.items() if rule_id in loaded}
        self._loaded_at = self._checked_at = now
        self.reloads += 1

    async def _record(self, changes: list[RuleChange], at: datetime) -> None:
        if changes:
            await run_db(_record, changes, at)
            self.transitions += len(changes)


def _stored_values(batch: Sequence[ReadingRow], stored: set[int]) -> list[tuple[int, Any]]:
    return [(row.point_id, row.value) for row in batch if row.point_id in stored]


def _load_rules() -> tuple[int, list[LoadedRule]]:
    """The rules' revision and the enabled rules: the revision read first, so the rules are
    at least as new as it says."""
    revision = rule_revision()
    states = dict(Alarm.objects.filter(rule__startswith="rule:").values_list("rule", "event_state"))
    loaded = []
    for rule in AlarmRule.objects.filter(enabled=True):
        try:
            spec = rule.spec()
        except RuleError as exc:
            log.warning("alarm rule %s skipped: %s", rule.pk, exc)
            continue
        loaded.append(
            LoadedRule(rule.pk, rule.point_id, spec, states.get(rule.rule_name, "normal"))
        )
    return revision, loaded


def _last_value_times() -> Mapping[int, float]:
    """Epoch of the last value of each enabled stale rule's point, by rule id; a point never
    read counts from when the rule was last saved (no value since the rule was set is stale)."""
    rows = AlarmRule.objects.filter(kind="stale", enabled=True).values_list(
        "pk", "point__last_value_at", "updated_at"
    )
    return {pk: (last or since).timestamp() for pk, last, since in rows}


def _record(changes: list[RuleChange], at: datetime) -> None:
    enabled = AlarmRule.objects.filter(enabled=True).select_related("point__device")
    rules = enabled.in_bulk([c.rule_id for c in changes])
    for change in changes:
        rule = rules.get(change.rule_id)
        # Disabled or deleted meanwhile: its alarm was returned to normal. A disable still
        # being committed is caught by record_rule_transition, which re-reads the locked row.
        if rule is not None:
            record_rule_transition(rule, change.from_state, change.to_state, change.value, at)
