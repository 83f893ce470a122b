"""A Content-Security-Policy on every response.

Our pages load their scripts and styles from /static/ and put none inline (forms are wired by
live.js through data- attributes), so everything comes from 'self'; the live socket is
same-origin too ('self' covers ws: on the page's own host in CSP 3). Swagger UI (/api/docs) is
served from ninja's static files with its settings in a JSON block, which CSP does not treat as
a script; its stylesheet draws icons as data: SVG images, hence img-src data:. Nothing of ours
is framed or embeds plugins.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """Adds POLICY to responses that do not set a policy of their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = POLICY
        return response
