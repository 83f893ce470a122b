"""COV subscriptions from the client to real bacpypes3 peers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bms.bacnet.cov import CANCEL_DEADLINE_SECONDS, RENEWALS_PER_PEER
from bms.bacnet.errors import BACnetTimeoutError, ErrorResponse, InvalidValueError
from bms.bacnet.stack import close_application
from bms.bacnet.types import CovNotification, ObjectRef
from tests.bacnet.client_peers import local_object, many_analog_values, refs_of, track_in_flight

AI = ObjectRef("analog-input", 1)
# Seconds to wait for a notification that should come within milliseconds: every wait on it
# returns as soon as the notification is there; the bound is for a loaded machine.
WAIT = 10.0


async def next_notification(queue: asyncio.Queue[CovNotification]) -> CovNotification:
    return await asyncio.wait_for(queue.get(), WAIT)


async def test_subscription_delivers_the_change_of_a_peer_value(rig):
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    queue: asyncio.Queue[CovNotification] = asyncio.Queue()
    await client.subscribe_cov(rig.address(2), AI, queue.put_nowait, lifetime=60)
    first = await next_notification(queue)  # the peer reports the current value at once
    assert first.values["present-value"] == 21.5

    local_object(peer, AI).presentValue = 30.0
    change = await next_notification(queue)
    assert change.values["present-value"] == 30.0
    assert change.values["status-flags"] == (False, False, False, False)
    assert change.ref == AI
    assert change.device_instance == 1001
    assert change.device_address == rig.address(2)
    assert 0 < change.time_remaining <= 60
    assert change.confirmed is False


async def test_confirmed_subscription_with_an_async_callback(rig):
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    queue: asyncio.Queue[CovNotification] = asyncio.Queue()

    async def on_change(notification: CovNotification) -> None:
        await queue.put(notification)

    await client.subscribe_cov(rig.address(2), AI, on_change, confirmed=True)
    await next_notification(queue)
    local_object(peer, AI).presentValue = 25.0
    change = await next_notification(queue)
    assert change.confirmed is True
    assert change.values["present-value"] == 25.0


async def test_cancel_stops_the_notifications(rig):
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    queue: asyncio.Queue[CovNotification] = asyncio.Queue()
    subscription = await client.subscribe_cov(rig.address(2), AI, queue.put_nowait)
    await next_notification(queue)
    await subscription.cancel()
    assert not subscription.active
    local_object(peer, AI).presentValue = 40.0
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), 0.3)


async def test_subscription_renews_itself_before_it_expires(rig):
    peer = await rig.peer(2, 1001)
    client = await rig.client(timeout=0.3, retries=0)
    queue: asyncio.Queue[CovNotification] = asyncio.Queue()
    started = time.monotonic()
    subscription = await client.subscribe_cov(rig.address(2), AI, queue.put_nowait, lifetime=2)
    assert subscription.renew_delay() < 2
    await next_notification(queue)
    async with asyncio.timeout(WAIT):
        while subscription.renewals == 0:
            await asyncio.sleep(0.05)
    await asyncio.sleep(max(0.0, 2.3 - (time.monotonic() - started)))
    while not queue.empty():  # the renewal re-sends the current value; skip it
        queue.get_nowait()
    local_object(peer, AI).presentValue = 33.0  # past the first lifetime: still subscribed?
    change = await next_notification(queue)
    assert change.values["present-value"] == 33.0
    assert subscription.last_error is None


async def test_a_failing_callback_does_not_end_the_subscription(rig):
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    seen: list[float] = []

    def fragile(notification: CovNotification) -> None:
        seen.append(notification.values["present-value"])
        if len(seen) == 1:
            raise RuntimeError("consumer bug")

    subscription = await client.subscribe_cov(rig.address(2), AI, fragile)
    async with asyncio.timeout(WAIT):
        while not seen:
            await asyncio.sleep(0.02)
    assert isinstance(subscription.last_error, RuntimeError)
    local_object(peer, AI).presentValue = 50.0
    async with asyncio.timeout(WAIT):
        while len(seen) < 2:
            await asyncio.sleep(0.02)
    assert seen[-1] == 50.0


async def test_subscribing_to_a_missing_object_is_an_error_response(rig):
    await rig.peer(2, 1001)
    client = await rig.client()
    with pytest.raises(ErrorResponse) as caught:
        await client.subscribe_cov(rig.address(2), ObjectRef("analog-input", 42), print)
    assert caught.value.error_code == "unknown-object"
    with pytest.raises(InvalidValueError):
        await client.subscribe_cov(rig.address(2), AI, print, lifetime=-1)


async def test_two_subscriptions_get_their_own_notifications(rig):
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    ao = ObjectRef("analog-output", 1)
    inputs: asyncio.Queue[CovNotification] = asyncio.Queue()
    outputs: asyncio.Queue[CovNotification] = asyncio.Queue()
    await client.subscribe_cov(rig.address(2), AI, inputs.put_nowait)
    await client.subscribe_cov(rig.address(2), ao, outputs.put_nowait)
    await next_notification(inputs)
    await next_notification(outputs)
    local_object(peer, ao).presentValue = 75.0
    change = await next_notification(outputs)
    assert (change.ref, change.values["present-value"]) == (ao, 75.0)
    assert inputs.empty()


async def test_close_cancels_the_subscriptions_and_their_renewal_tasks(rig):
    await rig.peer(2, 1001)
    client = await rig.client()
    subscription = await client.subscribe_cov(rig.address(2), AI, print, lifetime=30)
    renew_task = subscription._renew_task
    assert renew_task is not None
    assert renew_task.get_name().startswith("cov-renew")
    await client.close()
    assert not subscription.active
    assert renew_task.done()


# ---- cancelling at shutdown: concurrent, bounded, never past the deadline


def subscriptions_held(peer: Any) -> int:
    return sum(len(d.cov_subscriptions) for d in peer._cov_detections.values())


async def test_closing_cancels_200_subscriptions_concurrently_at_the_peer(rig):
    objects = many_analog_values(200)
    peer = await rig.peer(2, 1001, objects)
    client = await rig.client(timeout=2.0)
    for ref in refs_of(objects):
        await client.subscribe_cov(rig.address(2), ref, lambda _n: None, lifetime=300)
    assert subscriptions_held(peer) == 200
    in_flight = track_in_flight(rig.client_app)

    started = time.monotonic()
    await client.close()
    elapsed = time.monotonic() - started
    assert subscriptions_held(peer) == 0  # every one cancelled at the peer
    assert in_flight["max"] > 1  # several at once, not one after another
    assert elapsed < CANCEL_DEADLINE_SECONDS


async def test_closing_never_waits_past_the_deadline_for_a_silent_peer(rig, caplog):
    objects = many_analog_values(40)
    peer = await rig.peer(3, 1002, objects)
    client = await rig.client(timeout=5.0, retries=1)  # a cancel could take 10 s each
    for ref in refs_of(objects):
        await client.subscribe_cov(rig.address(3), ref, lambda _n: None, lifetime=300)
    close_application(peer)  # the device is gone: no cancellation will be answered
    rig.apps.remove(peer)
    await asyncio.sleep(0)

    started = time.monotonic()
    await client.close(cancel_deadline=1.0)
    # The bound tells the 1 s deadline from waiting for the cancels' own timeouts (10 s), with
    # room for a loaded machine.
    assert time.monotonic() - started < 5.0
    assert "40 of 40 COV subscriptions not cancelled within 1s" in caplog.text


# ---- renewals spread over a window, resubscribing without duplicates


async def test_renewals_of_200_subscriptions_made_at_once_are_spread_over_a_window(rig):
    objects = many_analog_values(200)
    await rig.peer(2, 1001, objects)
    client = await rig.client(timeout=1.0, retries=0)
    subscriptions = [
        await client.subscribe_cov(rig.address(2), ref, lambda _n: None, lifetime=100)
        for ref in refs_of(objects)
    ]
    await asyncio.sleep(0)  # the renewal tasks start and draw their due times
    made = time.monotonic()
    due = sorted(s.renew_due - made for s in subscriptions if s.renew_due is not None)
    assert len(due) == 200
    # the first renewal: 20-80 % of the lifetime, counted here from when the last one was made
    # (making 200 takes a few seconds on a loaded machine)
    assert due[0] >= 15
    assert due[-1] <= 80
    assert due[-1] - due[0] >= 45  # spread over most of that 60 s window, not one instant
    per_second = max(sum(1 for d in due if int(d) == second) for second in range(14, 81))
    assert per_second <= 15  # ~3 a second, not 200 at once
    await client.close()


async def test_renewals_of_one_peer_in_flight_are_bounded(rig):
    objects = many_analog_values(40)
    await rig.peer(2, 1001, objects)
    client = await rig.client(timeout=0.5, retries=0)
    # Made together: all 40 renewals fall due in the same instant (a 2 s lifetime has no room
    # to spread them), so only the bound keeps them from all being in flight at once.
    subscriptions = await asyncio.gather(
        *(
            client.subscribe_cov(rig.address(2), ref, lambda _n: None, lifetime=2)
            for ref in refs_of(objects)
        )
    )
    in_flight = track_in_flight(rig.client_app)
    async with asyncio.timeout(5):
        while min(s.renewals for s in subscriptions) == 0:
            await asyncio.sleep(0.05)
    assert 1 <= in_flight["max"] <= RENEWALS_PER_PEER


async def test_subscribing_again_with_the_same_process_id_replaces_it_at_the_peer(rig):
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    first = await client.subscribe_cov(rig.address(2), AI, lambda _n: None, lifetime=300)
    await first.drop()  # given up locally (the device seemed gone): the peer still holds it
    assert subscriptions_held(peer) == 1
    queue: asyncio.Queue[CovNotification] = asyncio.Queue()
    again = await client.subscribe_cov(
        rig.address(2), AI, queue.put_nowait, lifetime=300, process_id=first.process_id
    )
    assert again.process_id == first.process_id
    assert subscriptions_held(peer) == 1  # replaced, not a second one notifying too
    await next_notification(queue)  # and its notifications reach the new subscription
    other = await client.subscribe_cov(rig.address(2), AI, lambda _n: None, lifetime=300)
    assert subscriptions_held(peer) == 2  # a new process id is another subscription
    assert other.process_id != first.process_id
    with pytest.raises(InvalidValueError):
        await client.subscribe_cov(rig.address(2), AI, print, process_id=-1)


async def test_a_renewal_that_times_out_is_one_failed_request_and_keeps_retrying(rig):
    peer = await rig.peer(3, 1002)
    client = await rig.client(timeout=0.3, retries=0)
    outcomes: list[str | None] = []
    client.observe_outcomes(lambda _key, error: outcomes.append(error and type(error).__name__))
    subscription = await client.subscribe_cov(rig.address(3), AI, lambda _n: None, lifetime=2)
    close_application(peer)  # silent from now on: the renewal goes unanswered
    rig.apps.remove(peer)
    async with asyncio.timeout(5):
        while "BACnetTimeoutError" not in outcomes:
            await asyncio.sleep(0.05)
    # Counted like any request (the health book needs N in a row), not a verdict of its own.
    assert outcomes[0] is None  # the subscription's answer
    assert subscription.active
    assert isinstance(subscription.last_error, BACnetTimeoutError)


def record_confirmations(peer: Any) -> list[Any]:
    """What the peer's confirmed notifications came back with: None (acknowledged) or the
    error the subscriber answered."""
    outcomes: list[Any] = []

    def confirmation(cov: Any, future: Any) -> None:
        outcomes.append(future.exception() if future.exception() is not None else None)

    peer.cov_confirmation = confirmation
    return outcomes


async def test_a_confirmed_notification_is_acknowledged_once_its_callback_is_done(rig):
    """The worker returns the future of the value's storing: the device hears nothing until
    then (it would send the notification again), and the acknowledgement after."""
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    outcomes = record_confirmations(peer)
    stored = asyncio.Event()
    seen: asyncio.Queue[CovNotification] = asyncio.Queue()

    def on_change(notification: CovNotification) -> Any:
        seen.put_nowait(notification)
        return asyncio.ensure_future(stored.wait())

    await client.subscribe_cov(rig.address(2), AI, on_change, confirmed=True)
    await next_notification(seen)
    await asyncio.sleep(0.3)
    assert outcomes == []  # not acknowledged while the value is not stored
    stored.set()
    deadline = time.monotonic() + WAIT
    while not outcomes and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert outcomes == [None]


async def test_a_confirmed_notification_whose_callback_fails_is_refused(rig):
    peer = await rig.peer(2, 1001)
    client = await rig.client()
    outcomes = record_confirmations(peer)

    async def on_change(notification: CovNotification) -> None:
        raise RuntimeError("the readings queue is full")

    subscription = await client.subscribe_cov(rig.address(2), AI, on_change, confirmed=True)
    deadline = time.monotonic() + WAIT
    while not outcomes and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert len(outcomes) == 1
    assert "operational" in str(outcomes[0]).lower().replace("-", "")
    assert isinstance(subscription.last_error, RuntimeError)
