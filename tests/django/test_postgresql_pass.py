"""Run the database-bound tests a second time, on PostgreSQL, from the one `pytest` run CI makes.

Why a subprocess: Django binds the database at setup, once per process, and the queue's claim
takes a different path per database (SKIP LOCKED vs a conditional UPDATE). Rerunning the same
tests with DATABASE_URL pointing at PostgreSQL covers both paths with identical test code; a
second DATABASES alias would instead need `.using()` threaded through every function under test.
PostgreSQL-only tests (fixture `on_postgresql`) skip in the SQLite pass and run here.

Each test of this pass is reported on its own, as `tests/tasks/test_x.py::test_y[postgresql]`
(tests/second_pass.py), and this test fails naming the tests that failed.
"""

from pathlib import Path

import pytest
from django.db import connection

from tests.second_pass import run_second_pass

# What the PostgreSQL pass reruns: the tests of the database-bound code (queue, worker store,
# models, commands) and of the settings. The one list: a path that moves
# must move here too (a missing path stops the pass with pytest's "file or directory not found").
PASS_PATHS = [
    "tests/test_admin.py",
    "tests/test_deploy_settings.py",
    "tests/test_env.py",
    "tests/test_settings.py",
    # The alarm console's group commit updates alarms with a PostgreSQL-only statement.
    "tests/alarms/test_remote_events.py",
    "tests/devices/test_models.py",
    "tests/tasks/test_queue.py",
    "tests/tasks/test_queue_concurrency.py",
    "tests/tasks/test_states.py",
    "tests/tasks/test_bacnet_task_command.py",
    "tests/tasks/backends",
    "tests/virtual/test_bacnet_virtual_command.py",
    "tests/virtual/test_commands.py",
    "tests/virtual/test_templates.py",
    "tests/worker/test_heartbeat_bbmd.py",
    # The history's upkeep runs in a child process, which needs a database it can open.
    "tests/worker/test_history_upkeep.py",
    "tests/worker/test_pg_writes.py",
    "tests/worker/test_store.py",
    # The readings table is partitioned on PostgreSQL (devices 0008): history and its API.
    "tests/history",
    "tests/api/test_history_api.py",
    # Object instances allocated by simultaneous creations: they only overlap on PostgreSQL.
    "tests/api/test_concurrent_creation.py",
    "tests/virtual/test_allocation.py",
    # Built-in profiles seeded again after a flush, by simultaneous requests too (issue 17).
    "tests/profiles/test_services.py",
    "tests/profiles/test_ede_files.py",
    # Alarm rules and notifiers as stored, and the console's filters (JSON index lookups, a
    # subquery by device instance).
    "tests/alarms/test_configuration.py",
    "tests/alarms/test_queries.py",
    # A rule's transition racing its disable or delete: row locks between two connections.
    "tests/alarms/test_rules_concurrency.py",
    # Device 8888's batch of transitions: new alarms get their ids back from one INSERT.
    "tests/alarms/test_services.py",
    # The notification outbox's cursor: a conditional UPDATE shared by every worker.
    "tests/alarms/test_outbox.py",
    # Schedules and calendars made and deleted: a taken name or instance is a unique
    # violation PostgreSQL aborts the transaction on.
    "tests/schedules",
    "tests/api/test_schedule_config_api.py",
]
THIS_FILE = Path(__file__).relative_to(Path(__file__).resolve().parents[2])


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_django_suite_passes_on_postgresql(
    request: pytest.FixtureRequest, postgres_url: str
) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("this already is the PostgreSQL pass")
    second = run_second_pass(
        request.node,
        [*PASS_PATHS, "-q", "-p", "no:cacheprovider", f"--ignore={THIS_FILE}"],
        suffix="postgresql",
        env={"DATABASE_URL": postgres_url},
        timeout=220,
    )
    problem = second.could_not_run()
    assert problem is None, f"the PostgreSQL pass did not run to the end: {problem}"
    assert not second.failed, (
        f"{len(second.failed)} test(s) failed on PostgreSQL (each reported as "
        f"its own [postgresql] test): {', '.join(second.failed)}"
    )
    assert second.returncode == pytest.ExitCode.OK, second.output[-4000:]
    assert second.passed > 0
    print(f"PostgreSQL pass: {second.passed} passed")
