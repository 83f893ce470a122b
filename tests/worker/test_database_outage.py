"""The worker outlives its database (issue 11: it exited 0.1 s after PostgreSQL went away and
left its running task "running" until the lease expired).

On a PostgreSQL of the test's own (tests/worker/private_postgres.py), stopped for a few seconds
under a worker that a bacpypes3 client reads and writes: reads are answered throughout, writes
are refused with a BACnet error while the server is down (never acknowledged: every ack is
stored), the worker stays up, and after the restart writes are acknowledged and stored again,
the task that was running at the stop and one queued after it complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import require_services
from tests.worker import private_postgres
from tests.worker.conftest import manage, start_worker
from tests.worker.outage_scenario import queue_slow_task, run_outage
from tests.worker.test_external_writes import objects_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

OUTAGE_SECONDS = 4.0


@pytest.fixture
def private_pg() -> Iterator[private_postgres.PrivatePostgres]:
    why_not = private_postgres.available()
    if why_not is not None:
        if require_services():
            pytest.fail(f"no private PostgreSQL: {why_not}")
        pytest.skip(f"no private PostgreSQL: {why_not}")
    pg = private_postgres.PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


def test_the_worker_serves_reads_refuses_writes_and_resumes_across_a_database_outage(
    private_pg: private_postgres.PrivatePostgres, start_process: Any, bacnet_port: int
) -> None:
    url = private_pg.create_database("bms")
    for args in (
        ("migrate", "--no-input"),
        (
            "bacnet_virtual",
            "create",
            "--device-id",
            "1001",
            "--name",
            "AHU",
            "--template",
            "air_handling_unit",
        ),
    ):
        done = manage(url, *args, timeout=40)
        assert done.returncode == 0, done.stderr
    objects = objects_of(url, 1001)
    refs = tuple(
        f"{kind},{instance}"
        for kind, instance in (objects["Supply_Air_Temperature"], objects["Damper_Position"])
    )
    # Queued before the worker starts, which claims it at once; BACNET_TIMEOUT: it waits 4 s
    # for answers to its Who-Is, so it is running when the server stops.
    first = queue_slow_task(url)
    worker = start_worker(start_process, url, bacnet_port, BACNET_TIMEOUT="4")

    outage = asyncio.run(
        run_outage(private_pg, url, bacnet_port, worker, refs, OUTAGE_SECONDS, first)
    )

    figures = outage.figures()
    assert outage.worker_alive_during, outage.worker_log
    assert worker.popen.poll() is None, outage.worker_log
    assert outage.unanswered_reads == 0, figures
    assert outage.acked_not_stored == [], figures  # never an ack for what was not stored
    assert outage.acked_while_down == [], figures
    assert figures["refusals"] == ["device:operational-problem"], figures
    assert figures["writes_refused"] >= 8, figures  # ~4 s of writes every 0.2 s
    assert outage.time_to_detect < 1.0, figures
    # From the server being up again (pg_ctl start itself can take seconds on a loaded machine):
    # the probe's backoff (at most 2 s between probes) and a write every 0.2 s.
    assert outage.time_to_resume_once_up < 5.0, figures
    assert set(outage.task_status.values()) == {"completed"}, (figures, outage.worker_log)
    log = outage.worker_log
    # Once per change of state, not per attempt (the probes) nor per loop that met it.
    assert log.count("db_health: database unavailable") == 1, log
    assert log.count("db_health: database back after") == 1, log
    assert "interrupted by the database outage" in log, log
    assert "handed back to pending" in log, log
    assert "Traceback" not in log, log
