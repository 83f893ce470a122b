"""Sign-in is throttled per account and per address (django-axes): after the configured number
of failures the right password is refused too, with 429, and every failure is recorded."""

from __future__ import annotations

import logging

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.urls import reverse

from tests.web.fixtures import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username, password, address="127.0.0.9"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_the_limit_is_small_and_configurable():
    assert 3 <= settings.AXES_FAILURE_LIMIT <= 10


def test_an_account_is_locked_after_repeated_failures_even_from_other_addresses(client, viewer):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "vera", "wrong", address=f"127.0.1.{attempt + 1}")
    locked = sign_in(client, "vera", PASSWORD, address="127.0.2.1")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_an_address_is_locked_after_failures_across_accounts(client, viewer, operator):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess{attempt}", "wrong")
    assert sign_in(client, "otto", PASSWORD).status_code == 429


def test_below_the_limit_the_right_password_still_works_and_resets_the_count(client, viewer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "vera", "wrong").status_code == 200  # the form, with its error
    assert sign_in(client, "vera", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username="vera").exists()


def test_every_failed_sign_in_is_recorded_and_logged_once(client, viewer, caplog):
    with caplog.at_level(logging.WARNING):
        sign_in(client, "vera", "wrong")
    failure = AccessFailureLog.objects.get()
    assert (failure.username, failure.ip_address) == ("vera", "127.0.0.9")
    lines = [r.getMessage() for r in caplog.records if "vera" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "127.0.0.9" in lines[0], lines
