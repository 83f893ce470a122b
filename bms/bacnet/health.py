"""Device health: online, unreachable or offline, from what a device's requests do.

Theory of operation (pure: no I/O, times are seconds given by the caller):

    online --N failed requests in a row--------------> unreachable --unreachable for
      ^    --did not answer a discovery--------------->    |           offline_after s--> offline
      |                                                    |                                |
      +-------------------any answer-----------------------+--------------------------------+

One failed request is not enough (a lost datagram happens), N in a row is. A COV renewal is a
request like any other and counts the same: one renewal timed out among a device's 200 must
not drop all its subscriptions (measured in bench/cov.py: that made busy devices flap and
the subscriptions collapse). An unreachable or offline device is retried with
exponential backoff (`retry_delay`) so it costs the others nothing; any answer brings it back.
"""

from __future__ import annotations

from dataclasses import dataclass

ONLINE = "online"
UNREACHABLE = "unreachable"
OFFLINE = "offline"
STATES = (ONLINE, UNREACHABLE, OFFLINE)
MISSED_DISCOVERY = "did not answer discovery"


@dataclass(frozen=True)
class HealthPolicy:
    failures_to_unreachable: int = 3
    offline_after: float = 300.0  # seconds unreachable before a device is offline
    retry_first: float = 5.0  # the first retry of an unreachable device, doubled each time
    retry_max: float = 300.0

    def __post_init__(self) -> None:
        if self.failures_to_unreachable < 1:
            raise ValueError("failures_to_unreachable must be >= 1")
        if self.offline_after < 0 or self.retry_first <= 0 or self.retry_max < self.retry_first:
            raise ValueError("offline_after >= 0 and 0 < retry_first <= retry_max are required")


@dataclass(frozen=True)
class HealthChange:
    """A transition to record: from `old` to `new` at `at` (seconds since the epoch), why."""

    old: str
    new: str
    reason: str
    at: float


class DeviceHealth:
    """The health of one device; each event returns the change it caused, if any."""

    def __init__(self, policy: HealthPolicy, status: str = ONLINE, since: float = 0.0) -> None:
        if status not in STATES:
            raise ValueError(f"unknown health {status!r} (one of {', '.join(STATES)})")
        self.policy = policy
        self.status = status
        self.since = since  # when the status last changed
        self.failures = 0  # failed requests in a row
        self.retries = 0  # failed retries since it became unreachable (the backoff's exponent)

    @property
    def reachable(self) -> bool:
        return self.status == ONLINE

    def answered(self, now: float, reason: str = "answered") -> HealthChange | None:
        self.failures = 0
        self.retries = 0
        return self._move(ONLINE, reason, now)

    def request_failed(self, now: float, reason: str) -> HealthChange | None:
        self.failures += 1
        if not self.reachable:
            self.retries += 1
            return self.tick(now)
        if self.failures >= self.policy.failures_to_unreachable:
            return self._move(UNREACHABLE, f"{self.failures} requests failed: {reason}", now)
        return None

    def missed_discovery(self, now: float) -> HealthChange | None:
        if not self.reachable:
            return None
        return self._move(UNREACHABLE, MISSED_DISCOVERY, now)

    def tick(self, now: float) -> HealthChange | None:
        """Time passes: an unreachable device becomes offline after `offline_after`."""
        if self.status == UNREACHABLE and now - self.since >= self.policy.offline_after:
            minutes = self.policy.offline_after / 60
            return self._move(OFFLINE, f"unreachable for more than {minutes:g} min", now)
        return None

    def retry_delay(self) -> float:
        """How long to wait before trying an unreachable device again."""
        delay = self.policy.retry_first * 2 ** min(self.retries, 30)
        return float(min(self.policy.retry_max, delay))

    def _move(self, new: str, reason: str, now: float) -> HealthChange | None:
        if new == self.status:
            return None
        change = HealthChange(self.status, new, reason, now)
        self.status, self.since = new, now
        return change
