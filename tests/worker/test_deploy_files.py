"""The deployment files: the native worker entry point and its start scripts (run for real), and
the Dockerfile and compose files (no Docker engine here: validated against the Compose spec)."""

from __future__ import annotations

import ast
import fnmatch
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.worker.conftest import ROOT, manage

SCHEMA_PATH = Path(os.environ.get("BMS_COMPOSE_SCHEMA", "/work/shared/schemas/compose-spec.json"))
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_WINDOWS = ROOT / "docker-compose.windows.yml"
IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
NO_ADDRESS = "BACNET_ADDRESS is not set"


# ---- the native worker and its scripts -----------------------------------------------------


def native_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The user's shell: no Django settings module, no BACNET_* (the script must supply them)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BACNET_", "DJANGO_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(
        SECRET_KEY="tests-only",
        BMS_VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
        BACNET_TIMEOUT="1.0",
        **extra,
    )
    return env


def assert_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))  # raises if the worker left the port bound


def test_the_native_worker_without_an_address_exits_with_a_clear_message(tmp_path: Path) -> None:
    # Started from another directory, as a double-clicked script or a service would be.
    done = subprocess.run(
        [sys.executable, str(ROOT / "bacnet_native_worker.py")],
        cwd=tmp_path,
        env=native_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"CommandError: {NO_ADDRESS}" in done.stderr, done.stderr
    assert "BACNET_ADDRESS=192.168.1.10/24" in done.stderr  # says what to set
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated SQLite file for this module's workers (they only record heartbeats)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('deploy') / 'bms.sqlite3'}"
    migrated = manage(url, "migrate", "--no-input", timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    return url


@pytest.mark.slow
def test_the_native_worker_runs_the_native_backend_and_stops_on_sigterm(
    database_url: str, tmp_path: Path, bacnet_port: int, start_process: Any
) -> None:
    worker = start_process(
        "native",
        [sys.executable, str(ROOT / "bacnet_native_worker.py")],
        native_env(
            tmp_path, DATABASE_URL=database_url, BACNET_ADDRESS=f"127.0.0.1/8:{bacnet_port}"
        ),
    )
    worker.wait_for_output("ready:", timeout=30)
    output = worker.output()
    assert "BACNET_BACKEND=native (set by this script" in output
    assert "ready: native backend" in output
    assert worker.stop(signal.SIGTERM, timeout=15) == 0, worker.output()
    assert "stopped" in worker.output()
    assert_port_free(bacnet_port)


def test_an_explicit_backend_wins_over_the_native_worker_default(
    tmp_path: Path, bacnet_port: int
) -> None:
    # docker without a broker is the user's explicit choice: not quietly run as native, but
    # reported by the system check.
    done = subprocess.run(
        [sys.executable, str(ROOT / "bacnet_native_worker.py")],
        cwd=tmp_path,
        env=native_env(
            tmp_path, BACNET_BACKEND="docker", BACNET_ADDRESS=f"127.0.0.1/8:{bacnet_port}"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "set by this script" not in done.stderr
    assert "(bms.E009) BACNET_BACKEND is docker but no Celery broker" in done.stderr


def test_the_shell_script_refuses_to_start_without_an_address(tmp_path: Path) -> None:
    done = subprocess.run(
        ["sh", str(ROOT / "start_native_worker.sh")],
        cwd=tmp_path,
        env=native_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert f"Error: {NO_ADDRESS}" in done.stderr, done.stdout + done.stderr
    assert "Installing" not in done.stdout  # it stopped before touching the environment


@pytest.mark.slow
def test_the_shell_script_starts_the_native_worker(
    database_url: str, tmp_path: Path, bacnet_port: int, start_process: Any
) -> None:
    # BMS_SKIP_INSTALL: the test must not reinstall the shared virtualenv.
    worker = start_process(
        "script",
        ["sh", str(ROOT / "start_native_worker.sh")],
        native_env(
            tmp_path,
            DATABASE_URL=database_url,
            BACNET_ADDRESS=f"127.0.0.1/8:{bacnet_port}",
            BMS_SKIP_INSTALL="1",
        ),
    )
    worker.wait_for_output("ready: native backend", timeout=30)
    # exec: the script's process is the worker, so a service manager's SIGTERM reaches it.
    assert worker.stop(signal.SIGTERM, timeout=15) == 0, worker.output()
    assert "stopped" in worker.output()
    assert_port_free(bacnet_port)


def test_the_windows_script_checks_python_and_the_address_then_runs_the_worker() -> None:
    raw = (ROOT / "start_native_worker.bat").read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n"), "cmd.exe needs CRLF line endings"
    text = raw.decode("ascii")
    code = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().upper().startswith(("REM", "::"))
    ]
    order = [
        "python --version",
        "if exist .venv\\Scripts\\activate.bat",
        'if "%BACNET_ADDRESS%"==""',
        "python -m pip install --quiet -e .",
        "python bacnet_native_worker.py %*",
    ]
    positions = [
        next((i for i, line in enumerate(code) if line.startswith(step)), -1) for step in order
    ]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions[2:] == sorted(positions[2:])  # address checked before pip, pip before run
    labels = {line[1:].lower() for line in code if line.startswith(":") and " " not in line}
    gotos = {target.lower() for target in re.findall(r"goto :(\w+)", "\n".join(code))}
    assert gotos, (gotos, labels)
    assert gotos <= labels, (gotos, labels)
    assert text.count("(") == text.count(")")


# ---- Docker --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"].startswith("https://json-schema.org/draft-07/")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def merge(base: Any, override: Any) -> Any:
    """`docker compose -f base -f override` for mappings: keys merge, scalars are replaced.
    (Both files use mapping-form environment, where this is exactly Compose's rule.)"""
    if isinstance(base, dict) and isinstance(override, dict):
        return {
            key: merge(base[key], value) if key in base else value
            for key, value in {**base, **override}.items()
        }
    return override


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE)


@pytest.fixture(scope="module")
def windows() -> dict[str, Any]:
    return merge(load(COMPOSE), load(COMPOSE_WINDOWS))


def test_both_compose_files_and_their_merge_follow_the_compose_spec(
    validator: jsonschema.protocols.Validator, compose: dict[str, Any], windows: dict[str, Any]
) -> None:
    for name, document in [
        ("docker-compose.yml", compose),
        ("docker-compose.windows.yml", load(COMPOSE_WINDOWS)),
        ("merged", windows),
    ]:
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(document)
        ]
        assert errors == [], (name, errors)
    # The validator does bite: a misspelt key in a service is an error.
    broken = merge(compose, {"services": {"worker": {"network-mode": "host"}}})
    assert not validator.is_valid(broken)


def test_the_worker_shares_the_host_network(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["network_mode"] == "host"
    assert "networks" not in worker
    assert "ports" not in worker
    assert worker["command"] == ["python", "manage.py", "bacnet_worker"]
    # Host networking cannot resolve service names: it reaches the stores on the host loopback,
    # where they must be published (on loopback only).
    env = worker["environment"]
    assert "@127.0.0.1:" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://127.0.0.1:")
    for store in ("postgres", "redis"):
        published = compose["services"][store]["ports"]
        assert published, published
        assert all(port.startswith("127.0.0.1:") for port in published), published


def test_the_web_app_queues_through_celery_and_the_worker_consumes_it(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["BACNET_BACKEND"] == "docker"
        assert env["BACNET_SITE"] == services["web"]["environment"]["BACNET_SITE"]
        assert env["REDIS_URL"].endswith(":6379/0") or "BMS_REDIS_PORT" in env["REDIS_URL"]
    web = services["web"]
    assert web["command"][0] == "daphne"
    assert web["command"][-1] == "bms.asgi:application"
    assert "application" in (ROOT / "bms" / "asgi.py").read_text()
    for name in ("web", "worker"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )


def test_on_windows_no_worker_container_starts_and_the_web_app_uses_native(
    windows: dict[str, Any],
) -> None:
    services = windows["services"]
    assert services["worker"]["deploy"]["replicas"] == 0
    assert services["web"]["environment"]["BACNET_BACKEND"] == "native"
    # The native worker connects to the database and Redis the base file publishes on loopback.
    assert services["postgres"]["ports"]
    assert services["redis"]["ports"]


def test_the_worker_address_comes_only_from_the_users_env(compose: dict[str, Any]) -> None:
    setters = {
        name
        for name, service in compose["services"].items()
        if "BACNET_ADDRESS" in (service.get("environment") or {})
    }
    assert setters == {"worker"}
    # ${BACNET_ADDRESS} or ${BACNET_ADDRESS:-} / ${BACNET_ADDRESS:?...}: no default address.
    value = compose["services"]["worker"]["environment"]["BACNET_ADDRESS"]
    assert re.fullmatch(r"\$\{BACNET_ADDRESS(:-|:\?[^}]*)?\}", value), value


COMPOSE_VARIABLE = re.compile(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")
# What a user's .env holds (test values; the address is loopback).
DOTENV = {"SECRET_KEY": "tests-only", "POSTGRES_PASSWORD": "pw", "BACNET_ADDRESS": "127.0.0.1/8"}


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, as `docker compose` expands them."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        given = dotenv.get(name, "")
        if operator == ":?" and not given:
            raise AssertionError(f"{name} is required: {argument}")
        return given or (argument if operator == ":-" else "")

    return COMPOSE_VARIABLE.sub(one, value)


def image_env() -> dict[str, str]:
    """The ENV lines of the Dockerfile."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    pairs = [line.split()[1:] for line in text.splitlines() if line.startswith("ENV ")]
    return dict(pair.split("=", 1) for line in pairs for pair in line)


def test_the_image_and_the_compose_environment_pass_the_system_checks(
    compose: dict[str, Any], windows: dict[str, Any], tmp_path: Path
) -> None:
    """`manage.py check` with exactly what each container gets: a setting the compose file
    forgets (a broker for the docker backend, say) stops `migrate` and so the whole stack."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    environments: dict[str, dict[str, str]] = {}
    for label, document in (("linux", compose), ("windows", windows)):
        for name in ("migrate", "web", "worker"):
            service = document["services"][name]
            if service.get("deploy", {}).get("replicas") == 0:
                continue
            environments[f"{label}/{name}"] = {
                **base,
                **image_env(),
                "BMS_VAR_DIR": str(tmp_path / "var"),
                **{
                    key: interpolate(str(value), DOTENV)
                    for key, value in service["environment"].items()
                },
            }
    assert set(environments) == {
        "linux/migrate",
        "linux/web",
        "linux/worker",
        "windows/migrate",
        "windows/web",
    }
    # One check per distinct environment (migrate and web share theirs), all at once.
    distinct: dict[str, dict[str, str]] = {}
    for label, env in environments.items():
        if env not in distinct.values():
            distinct[label] = env
    # The checks, then the backend this environment resolves to (only the worker logs it).
    check_then_backend = (
        "from django.core.management import call_command; call_command('check'); "
        "from bms.tasks.backends.detection import configured_backend; "
        "print('BACnet backend', *configured_backend())"
    )
    runs = {
        label: subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", check_then_backend],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for label, env in distinct.items()
    }
    outputs = {label: run.communicate(timeout=90)[0] for label, run in runs.items()}
    failed = {label: out for label, out in outputs.items() if runs[label].returncode != 0}
    assert failed == {}
    assert environments["linux/migrate"] == environments["linux/web"]
    assert "BACnet backend native" in outputs["windows/web"]
    assert "BACnet backend docker" in outputs["linux/worker"]


def strings_in(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from strings_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from strings_in(item)
    elif data is not None:
        yield str(data)


def python_strings(path: Path) -> Iterator[str]:
    """String constants of a module, without docstrings (those hold examples, not settings)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.value


def script_code(path: Path) -> Iterator[str]:
    """Lines a shell or cmd.exe runs, without comments and messages (which hold examples)."""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.upper().startswith(("#", "REM", "::", "ECHO ")):
            continue
        yield stripped


def non_loopback_addresses(texts: Iterator[str]) -> list[str]:
    found = []
    for text in texts:
        for candidate in IPV4.findall(text):
            address = ipaddress.ip_address(candidate)
            if not (address.is_loopback or address.is_unspecified):
                found.append(f"{candidate} in {text!r}")
    return found


@pytest.mark.parametrize(
    "name",
    [
        "docker-compose.yml",
        "docker-compose.windows.yml",
        "Dockerfile",
        "bacnet_native_worker.py",
        "start_native_worker.sh",
        "start_native_worker.bat",
    ],
)
def test_no_deploy_file_hard_codes_a_non_loopback_address(name: str) -> None:
    path = ROOT / name
    if path.suffix == ".yml":
        texts = strings_in(load(path))
    elif path.suffix == ".py":
        texts = python_strings(path)
    else:
        texts = script_code(path)
    lines = list(texts)
    assert lines, f"nothing read from {name}"
    assert non_loopback_addresses(iter(lines)) == []
    assert non_loopback_addresses(iter(["BACNET_ADDRESS=192.168.1.10/24"]))  # the check bites


def test_the_image_gets_every_file_it_copies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
        if not source.startswith("--")
    ]
    assert {"pyproject.toml", "README.md", "manage.py", "bms"} <= set(copied), copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    assert dockerfile.startswith("#")
    assert "\nFROM python:3.11" in dockerfile
    assert "BACNET_ADDRESS" not in dockerfile  # never baked into the image
