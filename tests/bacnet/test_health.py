"""The device health state machine, without a loop or a database."""

from __future__ import annotations

import pytest

from bms.bacnet.health import OFFLINE, ONLINE, UNREACHABLE, DeviceHealth, HealthPolicy

POLICY = HealthPolicy(failures_to_unreachable=3, offline_after=60, retry_first=2, retry_max=20)


def test_one_failed_request_is_not_enough_but_n_in_a_row_make_it_unreachable():
    health = DeviceHealth(POLICY)
    assert health.request_failed(1.0, "timeout") is None
    assert health.request_failed(2.0, "timeout") is None
    change = health.request_failed(3.0, "no answer")
    assert change is not None
    assert (change.old, change.new, change.at) == (ONLINE, UNREACHABLE, 3.0)
    assert "3 requests failed: no answer" in change.reason
    assert health.status == UNREACHABLE
    assert health.since == 3.0


def test_an_answer_between_failures_starts_the_count_again():
    health = DeviceHealth(POLICY)
    health.request_failed(1.0, "timeout")
    health.request_failed(2.0, "timeout")
    assert health.answered(3.0) is None  # already online: no change to record
    assert health.request_failed(4.0, "timeout") is None
    assert health.request_failed(5.0, "timeout") is None
    assert health.status == ONLINE


def test_one_timed_out_renewal_among_many_answers_does_not_change_health():
    # A COV renewal is a request like the others (the client reports its outcome): one lost
    # among a device's 200 renewals must not drop all its subscriptions.
    health = DeviceHealth(POLICY)
    for at in range(200):
        change = health.request_failed(at, "renew COV: timeout") if at == 100 else None
        assert change is None
        assert health.answered(at + 0.5) is None
    assert health.status == ONLINE
    assert not hasattr(health, "cov_silent")  # no separate verdict for renewals


def test_unreachable_longer_than_the_limit_becomes_offline_and_an_answer_brings_it_back():
    health = DeviceHealth(POLICY, UNREACHABLE, since=100.0)
    assert health.tick(159.0) is None
    offline = health.tick(160.0)
    assert offline is not None
    assert (offline.old, offline.new) == (UNREACHABLE, OFFLINE)
    assert health.tick(500.0) is None  # offline stays offline
    back = health.answered(501.0)
    assert back is not None
    assert (back.old, back.new, back.reason) == (OFFLINE, ONLINE, "answered")
    assert health.reachable


def test_retries_of_an_unreachable_device_back_off_up_to_the_limit():
    health = DeviceHealth(POLICY, UNREACHABLE, since=0.0)
    delays = [health.retry_delay()]
    for at in range(1, 6):
        health.request_failed(float(at), "timeout")
        delays.append(health.retry_delay())
    assert delays == [2, 4, 8, 16, 20, 20]
    health.answered(10.0)
    assert health.retry_delay() == 2


def test_a_device_that_missed_a_discovery_is_unreachable_with_that_reason():
    health = DeviceHealth(POLICY)
    change = health.missed_discovery(5.0)
    assert change is not None
    assert change.reason == "did not answer discovery"
    assert health.missed_discovery(6.0) is None


def test_bad_policies_and_states_are_refused():
    with pytest.raises(ValueError, match="failures_to_unreachable"):
        HealthPolicy(failures_to_unreachable=0)
    with pytest.raises(ValueError, match="retry_first"):
        HealthPolicy(retry_first=10, retry_max=5)
    with pytest.raises(ValueError, match="unknown health"):
        DeviceHealth(POLICY, "sleepy")
