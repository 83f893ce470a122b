"""The life of a BACnet task as a pure state machine: no Django, no database, no clock.

    pending --claim--> running --complete--> completed
       |                  |----fail--------> failed
       |                  |----requeue-----> pending   (graceful shutdown, or lease expired
       |                                              while attempts remain)
       +--cancel--> failed                            (lease expired, attempts exhausted: failed)

completed and failed are final. The queue (bms.tasks.queue) performs each transition as one
conditional UPDATE on the old status, so two workers can never both make the same move; this
module only says which moves exist and what an expired lease turns into.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"

FINAL = frozenset({COMPLETED, FAILED})

_ALLOWED = {
    PENDING: frozenset({RUNNING, FAILED}),
    RUNNING: frozenset({COMPLETED, FAILED, PENDING}),
    COMPLETED: frozenset(),
    FAILED: frozenset(),
}


class IllegalTransition(ValueError):
    """A move the state machine does not have, e.g. completed -> running."""


def is_allowed(old: str, new: str) -> bool:
    if old not in _ALLOWED:
        raise IllegalTransition(f"unknown task status {old!r}")
    return new in _ALLOWED[old]


def check_transition(old: str, new: str) -> None:
    if not is_allowed(old, new):
        raise IllegalTransition(f"a task cannot go from {old} to {new}")


@dataclass(frozen=True)
class LeaseOutcome:
    """What becomes of a running task whose worker stopped heartbeating."""

    status: str
    reason: str


def on_lease_expired(attempts: int, max_attempts: int, worker_id: str) -> LeaseOutcome:
    """Back to pending while attempts remain; otherwise failed, saying why."""
    if attempts < max_attempts:
        return LeaseOutcome(
            PENDING, f"lease of worker {worker_id} expired (attempt {attempts} of {max_attempts})"
        )
    return LeaseOutcome(
        FAILED,
        f"lease of worker {worker_id} expired on the last attempt ({attempts} of {max_attempts});"
        " the worker stopped heartbeating, so it probably crashed or lost the database",
    )
