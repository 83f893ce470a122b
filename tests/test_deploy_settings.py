"""`manage.py check --deploy` passes with DEBUG off and BMS_TLS=1 (Secure cookies, HSTS, SSL
redirect), as docs/deploy.md describes; without BMS_TLS it names what is missing."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "BMS_", "SECURE_", "BACNET_"))
        and k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "ALLOWED_HOSTS")
    }
    return subprocess.run(  # our interpreter, our code
        [sys.executable, "-m", "bms.manage", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **inherited,
            "BMS_VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "BACNET_ADDRESS": "192.168.1.10/24",
            "BACNET_BACKEND": "native",
            "ALLOWED_HOSTS": "bms.example.org",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_tls_on(tmp_path):
    result = check_deploy(tmp_path, BMS_TLS="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_without_tls_names_the_missing_protections(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr
