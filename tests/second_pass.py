"""Run tests again in a second pytest process and report each of its results here, by name.

Why: Django binds its database once per process, so the PostgreSQL pass reruns the Django tests
in a subprocess. A subprocess on its own is one opaque pass/fail line; instead its results come
back as pytest's own reports (serialised with the hooks pytest-xdist uses), renamed with a suffix
(`test_claim[postgresql]`) and replayed into this session after the test that ran them. So each
test of the second pass is its own line, its own failure with its traceback, its own entry in
the short summary and in --junitxml, and it counts towards -x and the exit status.

The module has two sides:
- in the second process, it is a plugin (`-p tests.second_pass --second-pass-reports=FILE`)
  that writes every report to FILE, one JSON object a line;
- in this process, `run_second_pass` starts that process and reads the reports back, and
  `replay_second_pass` (called by the `pytest_runtest_protocol` wrapper in tests/conftest.py)
  hands them to this session's hooks once the test that ran them has finished reporting, so
  the two do not interleave on the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORTS_OPTION = "--second-pass-reports"
OUTPUT_TAIL = 4000  # characters of the second process's output shown when it could not run


# ---- the second process's side: write every report


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        REPORTS_OPTION,
        metavar="PATH",
        help="write every test and failed collection report to PATH as JSON lines",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("second_pass_reports")
    if path:
        config.pluginmanager.register(ReportWriter(config, Path(path)), "second-pass-writer")


class ReportWriter:
    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.file: IO[str] = path.open("w", encoding="utf-8")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.write(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # an import error: its tests would otherwise vanish silently
            self.write(report)

    def pytest_unconfigure(self) -> None:
        self.file.close()

    def write(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.file.write(json.dumps(data) + "\n")
        self.file.flush()  # a second process killed by a timeout still leaves what it finished


# ---- this process's side: run the second process, read and replay its reports


REPLAY = pytest.StashKey[list[pytest.TestReport | pytest.CollectReport]]()


@dataclass
class SecondPass:
    """What the second process reported, under the names it ran them."""

    reports: list[pytest.TestReport | pytest.CollectReport] = field(repr=False)
    returncode: int | None  # None: it was stopped by the timeout
    output: str = field(repr=False)
    failed: list[str] = field(default_factory=list)  # node ids, without the suffix
    passed: int = 0

    def could_not_run(self) -> str | None:
        """Why the second process ended without a verdict on its tests, or None."""
        if self.returncode is None:
            return f"timed out after {len(self.reports)} reports:\n{self.output[-OUTPUT_TAIL:]}"
        if self.returncode not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return f"pytest exited with {self.returncode}:\n{self.output[-OUTPUT_TAIL:]}"
        if not self.reports:
            return f"no test ran:\n{self.output[-OUTPUT_TAIL:]}"
        return None


def run_second_pass(
    item: pytest.Item,
    args: Sequence[str],
    *,
    suffix: str,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    timeout: float,
) -> SecondPass:
    """Run `pytest args` in a new process; its reports are replayed after `item`, renamed with
    `suffix`, and returned (failures under their own names) for `item` to assert on."""
    with tempfile.TemporaryDirectory(prefix="second-pass-") as folder:
        path = Path(folder) / "reports.jsonl"
        command = [sys.executable, "-m", "pytest", "-p", "tests.second_pass"]
        command += [f"{REPORTS_OPTION}={path}", *args]
        returncode, output = _run(command, cwd, {**os.environ, **(env or {})}, timeout)
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    config = item.config
    reports = [_from_json(config, json.loads(line)) for line in lines]
    result = SecondPass(reports, returncode, output)
    result.failed = list(dict.fromkeys(report.nodeid for report in reports if report.failed))
    result.passed = sum(1 for r in reports if r.passed and r.when == "call")
    for report in reports:
        _rename(report, suffix)
    item.stash[REPLAY] = reports
    return result


def _from_json(config: pytest.Config, data: dict[str, object]) -> pytest.TestReport:
    report = config.hook.pytest_report_from_serializable(config=config, data=data)
    # JSON has no tuples; a skip's (path, line, reason) and a location must be tuples again.
    if isinstance(report.longrepr, list):
        report.longrepr = tuple(report.longrepr)
    if isinstance(getattr(report, "location", None), list):
        report.location = tuple(report.location)
    return report


def _run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int | None, str]:
    try:
        done = subprocess.run(  # our own interpreter and arguments
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return None, _text(exc.stdout) + _text(exc.stderr)
    return done.returncode, done.stdout + done.stderr


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _rename(report: pytest.TestReport | pytest.CollectReport, suffix: str) -> None:
    """`test_x` -> `test_x[suffix]`, `test_x[a]` -> `test_x[a-suffix]`: named like a parameter,
    and distinct from this session's own `test_x` in every summary and in --junitxml."""
    report.nodeid = _with_suffix(report.nodeid, suffix)
    if isinstance(report, pytest.TestReport):
        path, line, domain = report.location
        report.location = (path, line, _with_suffix(domain, suffix))


def _with_suffix(name: str, suffix: str) -> str:
    if name.endswith("]"):
        return f"{name[:-1]}-{suffix}]"
    return f"{name}[{suffix}]"


def replay_second_pass(item: pytest.Item) -> None:
    """Hand the second pass's reports to this session as if its tests had run here."""
    hook = item.config.hook
    reports = item.stash.get(REPLAY, [])
    # They were collected in the other process; counting them here keeps the progress at 100%.
    item.session.testscollected += sum(1 for r in reports if r.when == "setup")
    for report in reports:
        if isinstance(report, pytest.CollectReport):
            hook.pytest_collectreport(report=report)
            continue
        if report.when == "setup":
            hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
        hook.pytest_runtest_logreport(report=report)
        if report.when == "teardown":
            hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)
