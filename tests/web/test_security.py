"""Every response carries a Content-Security-Policy that allows nothing from elsewhere and no
inline script; the pages need none (tests/browser checks Chromium reports no violation)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from bms.web.security import POLICY

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "bms" / "web" / "templates"


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_the_policy_allows_only_our_own_origin_and_no_inline_script():
    policy = directives(POLICY)
    assert policy["default-src"] == "'self'"
    # default-src 'self' covers scripts and styles
    assert "script-src" not in policy
    assert "style-src" not in policy
    assert "'unsafe-inline'" not in POLICY
    assert "'unsafe-eval'" not in POLICY
    assert (policy["object-src"], policy["frame-ancestors"]) == ("'none'", "'none'")


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",  # signed out
        "/devices/",  # a redirect to sign in
        "/api/devices",  # API JSON (401 without credentials)
        "/static/web/live.js",  # static files, served by WhiteNoise
        "/no/such/page/",
    ],
)
def test_every_response_carries_the_policy(client, path):
    response = client.get(path)
    response.close()  # a static file's response holds the file open until it is closed
    assert response["Content-Security-Policy"] == POLICY


def test_signed_in_pages_and_the_api_docs_carry_it_too(operator_client, building):
    for url in (reverse("web:virtual", args=[2001]), reverse("web:devices"), "/api/docs"):
        response = operator_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == POLICY


def test_no_template_of_ours_has_inline_script_or_style():
    """What the policy forbids would silently stop working: an inline <script> body, on*=
    handlers, javascript: links, style attributes or <style> blocks."""
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",
            r"\son[a-z]+\s*=",
            r"javascript:",
            r"\sstyle\s*=",
            r"<style",
        ):
            if re.search(pattern, text, re.I):
                offenders.append(f"{template.relative_to(TEMPLATES)}: {pattern}")
    assert offenders == []
