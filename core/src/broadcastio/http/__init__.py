"""Shared plumbing for HTTP providers (install ``broadcastio[http]``).

One place, not one copy per plugin: a keep-alive client whose responses
are parsed by llhttp (through httptools), strict about framing and bounded
in every dimension (see docs/http-transport.md), classification of
transport failures, HTTP status mapping, Retry-After parsing and the
error-body readers every plugin needs. Providers subclass
:class:`HttpProvider` and call :meth:`HttpProvider.request`, which returns a
:class:`Response` or a classified :class:`~broadcastio.DeliveryError` and
never raises for network trouble.
"""

from __future__ import annotations

from broadcastio.http._failures import error_from_http_exception
from broadcastio.http._library import make_client
from broadcastio.http._provider import DEFAULT_MAX_RESPONSE_BYTES, HttpProvider
from broadcastio.http._response import Headers, Response
from broadcastio.http._status import error_from_status, integer_code, json_object, parse_retry_after

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "Headers",
    "HttpProvider",
    "Response",
    "error_from_http_exception",
    "error_from_status",
    "integer_code",
    "json_object",
    "make_client",
    "parse_retry_after",
]
