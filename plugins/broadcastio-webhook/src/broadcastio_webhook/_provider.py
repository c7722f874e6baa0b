"""``webhook``: one signed JSON POST per message to a fixed URL.

The URL comes from configuration only. The recipient's address travels in
the body (``"to"``) and is never used as the URL, so message data cannot
point the provider at another host (no SSRF through recipient lists).
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import msgspec
from broadcastio import ConfigurationError, DeliveryError, DeliveryResult, Message, ProviderHealth, RetryPolicy
from broadcastio.http import HttpProvider, Response, error_from_status, parse_retry_after

from broadcastio_webhook._payload import encode_payload
from broadcastio_webhook._signing import (
    GITHUB_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_SCHEMES,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    SignatureScheme,
    check_secret,
    signature_headers,
)

__all__ = ["IDEMPOTENCY_HEADER", "WebhookProvider"]

IDEMPOTENCY_HEADER = "Idempotency-Key"
"""The request header carrying the message's idempotency key."""

_RESERVED = frozenset(
    header.lower()
    for header in (
        IDEMPOTENCY_HEADER,
        SIGNATURE_HEADER,
        GITHUB_SIGNATURE_HEADER,
        STANDARD_ID_HEADER,
        STANDARD_TIMESTAMP_HEADER,
        STANDARD_SIGNATURE_HEADER,
    )
)
_SNIPPET = 200
_USER_AGENT = f"broadcastio-webhook/{importlib.metadata.version('broadcastio-webhook')}"
_HEALTH_TIMEOUT = 5.0


class _Ack(msgspec.Struct):
    """The only part of a receiver's JSON answer we read."""

    id: str | int | None = None


_ack_decoder = msgspec.json.Decoder(_Ack)


def _check_headers(name: str, headers: Mapping[str, str] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in (headers or {}).items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise ConfigurationError(f"webhook {name!r}: headers must map non-empty strings to strings")
        if any(char in key or char in value for char in "\r\n") or ":" in key:
            raise ConfigurationError(f"webhook {name!r}: header {key!r} contains CR, LF or ':' (header injection)")
        if key.lower() in _RESERVED:
            raise ConfigurationError(
                f"webhook {name!r}: header {key!r} is set by the provider and cannot be overridden"
            )
        checked[key] = value
    return checked


def _message_id(response: Response) -> str | None:
    body = response.content
    if not body or body.lstrip()[:1] != b"{":
        return None
    try:
        ack = _ack_decoder.decode(body)
    except msgspec.DecodeError:
        return None
    return None if ack.id is None else str(ack.id)


class WebhookProvider(HttpProvider):
    """POSTs each message as JSON to ``url``.

    :param url: where to POST (http:// or https://); never taken from message data.
    :param secret: when set, each request is signed with HMAC-SHA256; hidden
        from repr. For ``"standard"`` use a ``whsec_<base64>`` secret
        (:func:`generate_secret`) to match Standard Webhooks libraries.
    :param signature: the signature scheme: ``"standard"`` (Standard Webhooks:
        ``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64>``),
        ``"github"`` (``X-Hub-Signature-256: sha256=<hex>``) or ``"broadcastio"``
        (the earlier ``X-Broadcastio-Signature``).
    :param headers: extra request headers (an ``Authorization`` token, say).
    :param timeout: seconds for connect, write and read each.
    :param idempotent: declare that the receiver deduplicates by the
        ``Idempotency-Key`` header; the orchestrator may then retry ambiguous
        failures (a timeout after sending) without risking a double delivery.
    """

    channel = "webhook"
    secret_fields = ("secret",)

    def __init__(
        self,
        name: str = "webhook",
        *,
        url: str,
        secret: str | None = None,
        signature: SignatureScheme = "standard",
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        idempotent: bool = False,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(url, str) or any(char in url for char in "\r\n\t "):
            raise ConfigurationError(f"webhook {name!r}: url must be a URL without whitespace")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ConfigurationError(f"webhook {name!r}: secret must be a non-empty string or None")
        if signature not in SIGNATURE_SCHEMES:
            raise ConfigurationError(
                f"webhook {name!r}: signature must be one of {', '.join(map(repr, SIGNATURE_SCHEMES))}, "
                f"got {signature!r}"
            )
        if secret is not None and signature == "standard":
            try:
                check_secret(secret)
            except ValueError as exc:
                raise ConfigurationError(f"webhook {name!r}: secret: {exc}") from None
        extra_headers = _check_headers(name, headers)
        super().__init__(
            name=name,
            channel="webhook",
            base_url=url,
            timeout=timeout,
            headers={"Content-Type": "application/json", "User-Agent": _USER_AGENT, **extra_headers},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.url = url
        self.secret = secret
        self.signature: SignatureScheme = signature
        self.idempotent = bool(idempotent)
        self._health_timeout = min(timeout, _HEALTH_TIMEOUT)
        self._now: Callable[[], float] = time.time  # tests pin the signature's timestamp

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """POST one message; the answer's status decides the result."""
        body = encode_payload(message, address)
        key = message.metadata.idempotency_key
        headers = {IDEMPOTENCY_HEADER: key}
        if self.secret is not None:
            headers.update(
                signature_headers(self.signature, self.secret, message_id=key, body=body, timestamp=int(self._now()))
            )
        response = await self.request("POST", self.url, content=body, headers=headers)
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(response)
        status = response.status_code
        if 200 <= status < 300:
            return DeliveryResult.success(_message_id(response))
        if status in (401, 403):
            # Like the other HTTP plugins: wrong credentials fail every message, so stop instead of failing each.
            raise ConfigurationError(
                f"webhook {self.name!r}: the receiver refused the request (HTTP {status}); "
                "check the secret, the signature scheme and the Authorization header"
            )
        snippet = response.content[:_SNIPPET].decode("utf-8", "replace").strip()
        text = f"webhook answered HTTP {status}" + (f": {snippet}" if snippet else "")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return DeliveryResult.failure(error_from_status(status, text, retry_after=retry_after))

    async def health(self) -> ProviderHealth:
        """Reachability only: a ``HEAD`` on the URL and any HTTP answer counts.

        A generic receiver has no health endpoint and may answer HEAD with
        405; what matters is that something speaks HTTP there. A refused
        connection or a timeout is unhealthy.
        """
        response: Any = await self.request("HEAD", self.url, timeout=self._health_timeout)
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"webhook unreachable: {response.message}")
        return ProviderHealth(healthy=True, detail=f"webhook reachable (HEAD answered HTTP {response.status_code})")
