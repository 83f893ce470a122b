"""The native backend: the pending row is the whole message; a worker polls the database."""

from __future__ import annotations

from bms.tasks.backends.base import BACnetBackend
from bms.tasks.models import BACnetTask


class NativeBackend(BACnetBackend):
    name = "native"

    def _dispatch(self, task: BACnetTask) -> None:
        # Nothing to send: the worker's claim_next finds the row once the transaction commits.
        return None
