"""Every status an operation can answer, for its OpenAPI entry: the schema is the truth, and
schemathesis (tests/api/test_schemathesis.py) checks it stays so.

What each status means here:
- 400: well-formed, refused by a rule the schema cannot state (an unknown site or template, a
  value outside a point's limits, a backwards time window, a body that is not JSON)
- 401: no credentials, or a wrong token; 403: a viewer changing something, or a session
  without its CSRF token; 429: this address sent too many wrong tokens (bms.api.auth)
- 404: the id in the path, or a point or device named in the body, does not exist
- 409: a conflict with what is stored (a taken device id, object name or identifier)
- 413: a request body over BMS_MAX_REQUEST_BYTES, refused in plain text by the web process
  before it reaches the API (bms.bodylimit); added to the schema by `with_too_large`
- 422: the request does not match this schema; `detail` lists where and why
"""

from __future__ import annotations

from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    detail: str


class ValidationErrorOut(Schema):
    detail: list[dict[str, Any]]  # pydantic's errors: loc, msg, type
    message: str  # one readable sentence: "device_id: Input should be a valid integer"


AUTH: dict[int, Any] = {401: ErrorOut, 429: ErrorOut}


def reading(ok: Any, *, lookup: bool = True, query: bool = True) -> dict[int, Any]:
    """A GET: `lookup` for an id in the path (404), `query` for any parameter (422)."""
    found: dict[int, Any] = {404: ErrorOut} if lookup else {}
    checked: dict[int, Any] = {422: ValidationErrorOut} if lookup or query else {}
    return {200: ok, **AUTH, **found, **checked}


def writing(status: int, ok: Any) -> dict[int, Any]:
    """A POST, PATCH or DELETE: refused (400), forbidden (403), not found (404), a conflict
    (409) or invalid (422)."""
    return {
        status: ok,
        **AUTH,
        400: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ValidationErrorOut,
    }


TOO_LARGE = {
    "description": "The request body is over BMS_MAX_REQUEST_BYTES (bms.bodylimit).",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}
WRITE_METHODS = ("post", "put", "patch", "delete")


def with_too_large(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds the web process's 413 to every operation that may carry a body."""
    for path in schema.get("paths", {}).values():
        for method, operation in path.items():
            if method in WRITE_METHODS:
                operation.setdefault("responses", {})["413"] = TOO_LARGE
    return schema
