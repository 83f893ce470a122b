"""The task state machine, without a database."""

import pytest

from bms.tasks import states
from bms.tasks.states import IllegalTransition, check_transition, is_allowed, on_lease_expired


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("pending", "running"),
        ("pending", "failed"),
        ("running", "completed"),
        ("running", "failed"),
        ("running", "pending"),
    ],
)
def test_these_moves_are_allowed(old, new):
    check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("pending", "completed"),
        ("completed", "running"),
        ("completed", "pending"),
        ("failed", "pending"),
        ("failed", "running"),
        ("running", "running"),
    ],
)
def test_these_moves_are_refused(old, new):
    assert not is_allowed(old, new)
    with pytest.raises(IllegalTransition, match=f"from {old} to {new}"):
        check_transition(old, new)


def test_an_unknown_status_is_an_error_not_a_refusal():
    with pytest.raises(IllegalTransition, match="unknown task status 'paused'"):
        is_allowed("paused", "running")


def test_an_expired_lease_requeues_while_attempts_remain():
    outcome = on_lease_expired(attempts=2, max_attempts=3, worker_id="w1")
    assert outcome.status == states.PENDING
    assert "w1" in outcome.reason
    assert "attempt 2 of 3" in outcome.reason


def test_an_expired_lease_on_the_last_attempt_fails_with_the_reason():
    outcome = on_lease_expired(attempts=3, max_attempts=3, worker_id="w1")
    assert outcome.status == states.FAILED
    assert "last attempt (3 of 3)" in outcome.reason
