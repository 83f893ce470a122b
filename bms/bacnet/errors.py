"""One exception tree for everything BACnet.

bacpypes3 raises `ErrorRejectAbortNack` (a BaseException, so `except Exception` misses it) and
some client calls *return* those errors instead. The adapter turns both into these classes, so
callers catch `BACnetError` and nothing else.

Errors are split like h11's local/remote: `RemoteError` means a peer answered with an Error,
Reject or Abort PDU; `LocalError` means we could not even get an answer (timeout, bad input,
port in use).
"""

from __future__ import annotations


class BACnetError(Exception):
    """Base of every error raised by the BACnet core."""


class LocalError(BACnetError):
    """Something on our side went wrong before a peer could answer."""


class ConfigurationError(LocalError):
    """The engine was given an address, port or identity it cannot use."""


class PortInUseError(ConfigurationError):
    """Another socket already holds our address and port (SO_REUSEPORT would silently share it)."""


class BACnetTimeoutError(LocalError):
    """A peer did not answer within the configured timeout and retries."""


class InvalidValueError(LocalError):
    """A value given to the engine cannot be encoded for the target property."""


class RemoteError(BACnetError):
    """A peer answered with an Error, Reject or Abort PDU."""

    def __init__(self, message: str, *, error_class: str = "", error_code: str = "") -> None:
        super().__init__(message)
        self.error_class = error_class
        self.error_code = error_code


class ErrorResponse(RemoteError):
    """The peer sent a BACnet Error PDU (error_class / error_code say why)."""


class RejectResponse(RemoteError):
    """The peer rejected the request (reason in error_code)."""


class AbortResponse(RemoteError):
    """The peer or our stack aborted the transaction (reason in error_code), e.g. segmentation."""


class WriteRefused(BACnetError):
    """Raised by a local write hook to refuse an external write; the writer gets an Error PDU."""

    def __init__(
        self, message: str, *, error_class: str = "property", error_code: str = "other"
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.error_code = error_code
