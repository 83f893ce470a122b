"""Bearer-token authentication: repeated wrong tokens from one address are answered 429 for a
while (even a right one), logged once, and do not touch other addresses or session users."""

from __future__ import annotations

import logging
import re

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def get_devices(client, token, address="127.0.0.7"):
    return client.get("/api/devices", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address)


def guess(client, times, address="127.0.0.7"):
    return [get_devices(client, f"bms_guess{n}", address).status_code for n in range(times)]


def test_wrong_tokens_are_401_until_the_limit_then_429_even_for_a_right_one(client, operator_token):
    limit = settings.API_TOKEN_FAILURE_LIMIT
    assert guess(client, limit) == [401] * limit
    refused = get_devices(client, operator_token)
    assert refused.status_code == 429
    assert re.fullmatch(
        r"too many wrong API tokens from this address; try again in \d+ s",
        refused.json()["detail"],
    )


def test_other_addresses_are_not_held_back(client, operator_token):
    guess(client, settings.API_TOKEN_FAILURE_LIMIT)
    assert get_devices(client, operator_token, address="127.0.0.8").status_code == 200


def test_a_right_token_below_the_limit_works(client, operator_token):
    guess(client, settings.API_TOKEN_FAILURE_LIMIT - 1)
    assert get_devices(client, operator_token).status_code == 200


def test_the_lockout_is_logged_once(client, caplog):
    with caplog.at_level(logging.WARNING, logger="bms"):
        guess(client, settings.API_TOKEN_FAILURE_LIMIT + 5)
    lines = [r.getMessage() for r in caplog.records if "API token" in r.getMessage()]
    assert len(lines) == 1 and "127.0.0.7" in lines[0], lines
