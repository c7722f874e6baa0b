"""Why an exchange ended without a response, and what that means for delivery.

The one distinction delivery needs: was the request written? Before that
(no connection, no pool slot, a header we refuse to send) nothing can have
arrived; after it, a timeout or a refused answer may hide a delivery.
"""

from __future__ import annotations

import enum

import httpx

from broadcastio._errors import ErrorClass, ErrorCode
from broadcastio._models import DeliveryError

__all__ = ["Failure", "HttpFailure", "error_from_http_exception"]


class Failure(enum.Enum):
    """The kinds of failure the client reports, each with its classification."""

    CONNECT = "connect"  # could not connect (or TLS failed): nothing sent
    CONNECT_TIMEOUT = "connect_timeout"  # nothing sent
    POOL_TIMEOUT = "pool_timeout"  # no free connection in time: nothing sent
    INVALID_REQUEST = "invalid_request"  # we refuse to send it: permanent
    TIMEOUT = "timeout"  # after writing: inactivity or the exchange deadline
    PROTOCOL = "protocol"  # after writing: a refused, cut or oversized answer


class HttpFailure(Exception):
    """An exchange that ended without a usable response (private to the client)."""

    def __init__(self, kind: Failure, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    def to_error(self) -> DeliveryError:
        text = str(self)
        kind = self.kind
        if kind in (Failure.CONNECT, Failure.CONNECT_TIMEOUT, Failure.POOL_TIMEOUT):
            return DeliveryError.transient(ErrorCode.CONNECTION_FAILED, text)
        if kind is Failure.INVALID_REQUEST:
            return DeliveryError.permanent(ErrorCode.REJECTED, text)
        if kind is Failure.TIMEOUT:
            return DeliveryError.ambiguous(ErrorCode.TIMEOUT, text)
        return DeliveryError(code=ErrorCode.CONNECTION_FAILED, message=text, error_class=ErrorClass.AMBIGUOUS)


def error_from_http_exception(exc: httpx.HTTPError) -> DeliveryError:
    """Classify an httpx failure (the library path) by whether the request may have arrived.

    Failing to connect, or waiting for a pooled connection, sent nothing:
    transient. A timeout or a broken connection after the request was
    written may have delivered it: ambiguous.
    """
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return DeliveryError.transient(ErrorCode.CONNECTION_FAILED, text)
    if isinstance(exc, httpx.TimeoutException):
        return DeliveryError.ambiguous(ErrorCode.TIMEOUT, text)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        return DeliveryError.permanent(ErrorCode.REJECTED, text)
    return DeliveryError(code=ErrorCode.CONNECTION_FAILED, message=text, error_class=ErrorClass.AMBIGUOUS)
