"""The second pass (tests/second_pass.py) reports each of its tests by name, as the PostgreSQL
pass relies on: a real pytest runs a test that reruns a small, partly failing suite in a second
pytest, as tests/django/test_postgresql_pass.py does with the Django tests."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

INNER_TESTS = """
import pytest

def test_this_passes():
    assert True

def test_this_fails():
    assert 6 * 7 == 43

@pytest.mark.parametrize("number", [1, 2])
def test_one_parameter_fails(number):
    assert number == 1

def test_this_is_skipped():
    pytest.skip("not here")
"""

OUTER_TEST = """
from pathlib import Path

from tests.second_pass import run_second_pass

def test_the_inner_tests_pass_again(request):
    second = run_second_pass(
        request.node, ["inner"], suffix="again", cwd=Path(__file__).parents[1], timeout=60
    )
    assert second.could_not_run() is None
    assert not second.failed, "failed again: " + ", ".join(second.failed)
"""

# The suite's own replay hook, so this checks the wiring tests/conftest.py gives the real pass.
CONFTEST = "from tests.conftest import pytest_runtest_protocol  # noqa: F401\n"
INI = "[pytest]\naddopts = -p no:cacheprovider -p no:asyncio -p no:django -ra\n"


@pytest.fixture(scope="module")
def outer_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One run of the outer pytest (it starts the inner one), shared by the tests below."""
    tmp_path = tmp_path_factory.mktemp("second-pass")
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "test_inner.py").write_text(INNER_TESTS)
    (tmp_path / "outer").mkdir()
    (tmp_path / "outer" / "test_outer.py").write_text(OUTER_TEST)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text(INI)
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(  # our own interpreter and arguments
        [sys.executable, "-m", "pytest", "outer", f"--junitxml={tmp_path / 'report.xml'}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.slow
def test_each_failure_of_the_second_pass_is_reported_by_its_own_name(
    outer_run: subprocess.CompletedProcess[str],
) -> None:
    output = outer_run.stdout
    assert outer_run.returncode == pytest.ExitCode.TESTS_FAILED, output + outer_run.stderr
    assert "FAILED inner/test_inner.py::test_this_fails[again] - assert (6 * 7) == 43" in output
    assert "FAILED inner/test_inner.py::test_one_parameter_fails[2-again]" in output
    assert "test_one_parameter_fails[1-again]" not in output.split("short test summary")[1]
    assert "SKIPPED [1] inner/test_inner.py" in output
    # The test that ran the pass fails too, naming the failed tests under their own names.
    assert (
        "failed again: inner/test_inner.py::test_this_fails, "
        "inner/test_inner.py::test_one_parameter_fails[2]"
    ) in output
    assert " 3 failed, 2 passed, 1 skipped in " in output.splitlines()[-1]
    # progress counts the replayed tests
    assert "[100%]" in output
    assert "[600%]" not in output


@pytest.mark.slow
def test_the_second_pass_tests_are_in_the_junit_report(
    outer_run: subprocess.CompletedProcess[str],
) -> None:
    report = Path(outer_run.args[-1].removeprefix("--junitxml="))
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = {case.get("name"): [child.tag for child in case] for case in cases}
    assert outcomes == {
        "test_the_inner_tests_pass_again": ["failure"],
        "test_this_passes[again]": [],
        "test_this_fails[again]": ["failure"],
        "test_one_parameter_fails[1-again]": [],
        "test_one_parameter_fails[2-again]": ["failure"],
        "test_this_is_skipped[again]": ["skipped"],
    }
