"""What a plugin contributes to the receipts app: endpoints and their handlers.

A handler sees the request exactly as it arrived (method, public URL,
headers, raw body) and answers with a :class:`ReceiptReply`. It verifies the
provider's signature before it parses anything; the app records the
receipts of the reply and nothing else. Handlers are plain functions of
plain records, so plugins need no web framework and tests need no server.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from msgspec import Struct

from broadcastio._errors import ConfigurationError
from broadcastio.receipts._model import Receipt

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ReceiptEndpoint",
    "ReceiptHandler",
    "ReceiptReply",
    "ReceiptRequest",
    "signatures_match",
]


DEFAULT_MAX_BODY_BYTES = 64 * 1024
"""Receipt bodies are small (a Twilio form, a Meta status batch); 64 KiB is plenty."""


class ReceiptRequest(Struct, frozen=True, kw_only=True):
    """One callback as received, before anything was checked.

    :param url: the URL the provider called, as the provider saw it (the
        configured public base URL, the endpoint's path and the query string).
    :param headers: header names in lower case.
    :param query: the query parameters (last value wins).
    :param body: the raw body, at most the app's size cap.
    :param received_at_unix: when the app received it, for timestamp tolerances.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    received_at_unix: float


class ReceiptReply(Struct, frozen=True, kw_only=True):
    """What a handler answers: the HTTP reply and the receipts to record.

    A reply with a status other than 2xx records nothing, whatever it lists.
    """

    status: int = 200
    receipts: tuple[Receipt, ...] = ()
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"

    @classmethod
    def forbidden(cls, reason: str) -> ReceiptReply:
        """403: the signature (or verify token) is missing or wrong; nothing is recorded."""
        return cls(status=403, body=reason)

    @classmethod
    def bad_request(cls, reason: str) -> ReceiptReply:
        """400: signed, but not a body this endpoint understands."""
        return cls(status=400, body=reason)


ReceiptHandler = Callable[[ReceiptRequest], ReceiptReply]
"""Turns one request into a reply; verifies the signature first."""


class ReceiptEndpoint(Struct, frozen=True, kw_only=True):
    """A receipt endpoint a plugin registers for one provider type.

    The app serves it at ``/<provider name><path>`` for every configured
    provider of ``provider_type``, and builds its handler once with
    ``handler_factory(settings)``, the provider's settings from
    ``broadcastio.toml`` (where its secrets are). The factory raises
    :class:`~broadcastio.ConfigurationError` when a secret it needs is missing.
    """

    provider_type: str
    path: str
    methods: tuple[str, ...]
    handler_factory: Callable[[Mapping[str, Any]], ReceiptHandler]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.provider_type:
            raise ConfigurationError("ReceiptEndpoint.provider_type must be a non-empty string")
        if not self.path.startswith("/"):
            raise ConfigurationError(f"ReceiptEndpoint {self.provider_type!r}: path must start with '/'")
        if not self.methods:
            raise ConfigurationError(f"ReceiptEndpoint {self.provider_type!r}: give at least one HTTP method")
        if not callable(self.handler_factory):
            raise ConfigurationError(f"ReceiptEndpoint {self.provider_type!r}: handler_factory must be callable")


def signatures_match(expected: str | bytes, given: str | bytes | None) -> bool:
    """Constant-time comparison of two signatures; a missing one never matches."""
    if given is None:
        return False
    left = expected.encode() if isinstance(expected, str) else expected
    right = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(left, right)
