"""Logging filters: what an operator reads in the console should be one line per event.

Django logs every 4xx answer on `django.request` with the exception that caused it, so a viewer
refused an operator action (PermissionDenied) printed ~35 lines of traceback for an expected,
handled refusal. A client's mistake is one WARNING line; a server error (5xx) keeps its traceback.
"""

from __future__ import annotations

import logging


class ClientErrorsOnOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
