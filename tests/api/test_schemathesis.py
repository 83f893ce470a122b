"""The API answers as its OpenAPI schema says, for anything schemathesis can think of sending.

Schemathesis reads /api/openapi.json from the app itself (WSGI, in-process, no server) with an
operator's Bearer token, then sends generated requests to every operation, valid ones and
invalid ones, and runs every check it has: no 5xx, only documented status codes, content types
and bodies as documented, valid data accepted, invalid data refused, and the rest.

What "accepted" means here: 2xx, or 400, 401, 403, 404, 409, 429 (responses.py). A 400 is a
refusal by a rule the schema cannot state (an unknown site or template, a value outside a
point's limits, a window whose since is after its until); a 422 for schema-valid data would mean
the schema lies, and fails the test.

Bounded: MAX_EXAMPLES per operation and mode, so the whole file takes well under a minute on 2
cores. Stateful (links) testing is left out: ninja publishes no links, and inferring them
doubles the run for little (the CRUD paths are covered by the other tests here).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

MAX_EXAMPLES = 10
ACCEPTED = ["2xx", "400", "401", "403", "404", "409", "429"]


def config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            # No example database: nothing is written into the work tree (.hypothesis/).
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none"},
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        }
    )


@pytest.fixture
def in_test_transaction() -> Any:
    """As Django's test client does: requests must not close the test's connection, whose
    transaction holds the fixtures' rows."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth(operator_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator_token}"}


@pytest.fixture
def api_schema(building: dict, auth: dict[str, str], in_test_transaction: None) -> Any:
    return schemathesis.openapi.from_wsgi(
        "/api/openapi.json", WSGIHandler(), config=config(), headers=auth
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@pytest.mark.timeout(120)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure in CI reproduces here
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_the_schema_says(case: Any, auth: dict[str, str]) -> None:
    case.call_and_validate(headers=auth)
