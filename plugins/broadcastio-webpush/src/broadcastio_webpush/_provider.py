"""``webpush``: browser notifications through the Web Push protocol (RFC 8030).

Each send encrypts one JSON payload for the subscription (RFC 8291,
aes128gcm), signs a VAPID token for the push service's origin (RFC 8292)
and POSTs both to the subscription's endpoint. Web Push has no
idempotency key, so sends are not idempotent.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from collections.abc import Sequence
from typing import Any

import httpx
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorCode,
    Message,
    ProviderHealth,
    RetryPolicy,
)
from broadcastio.http import HttpProvider, Response, error_from_status, parse_retry_after
from broadcastio.logs import get_logger

from broadcastio_webpush._crypto import VapidSigner, encrypt
from broadcastio_webpush._subscription import Subscription, SubscriptionError, parse_subscription

__all__ = ["PAYLOAD_LIMIT", "WebPushProvider"]

PAYLOAD_LIMIT = 3993
"""Plaintext bytes that fit the 4096-byte message push services must accept
(4096 - 86 bytes of aes128gcm header - 16 tag - 1 padding delimiter)."""
MAX_TTL = 28 * 24 * 3600
_URGENCY = {"low": "low", "normal": "normal", "high": "high"}
_PLACEHOLDER_BASE = "https://webpush.invalid"  # every request goes to the subscription's absolute endpoint
_USER_AGENT = f"broadcastio-webpush/{importlib.metadata.version('broadcastio-webpush')}"

log = get_logger("broadcastio.webpush")


class WebPushProvider(HttpProvider):
    """Sends an encrypted notification (Web Push: VAPID, aes128gcm) to one browser push subscription.

    The address is the subscription's JSON (``PushSubscription.toJSON()``).

    :param vapid_private_key: the application server's P-256 private key (PEM,
        or base64url raw/DER); secret.
    :param vapid_subject: a ``mailto:`` or ``https:`` contact for push services.
    :param ttl: seconds the push service keeps an undelivered message (``TTL`` header).
    :param allowed_hosts: when set, only endpoints on these hosts (or their
        subdomains) are contacted.
    :param allow_http: accept ``http://`` endpoints (local push services, tests).
    :param proxy: send every request through this HTTP proxy (egress control).
    :param health_url: a URL whose reachability health() checks (your users'
        main push service); without it health() reports the configuration only.
    """

    channel = "webpush"
    secret_fields = ("vapid_private_key",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "webpush",
        vapid_private_key: str,
        vapid_subject: str,
        ttl: int = 86400,
        allowed_hosts: Sequence[str] | None = None,
        allow_http: bool = False,
        proxy: str | None = None,
        health_url: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        signer = VapidSigner(vapid_private_key, vapid_subject, provider=name)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
            raise ConfigurationError(f"provider {name!r}: ttl must be whole seconds from 0 to {MAX_TTL}")
        if allowed_hosts is not None and (
            isinstance(allowed_hosts, str) or not all(isinstance(host, str) and host for host in allowed_hosts)
        ):
            raise ConfigurationError(f"provider {name!r}: allowed_hosts must be a list of host names")
        if proxy is not None:
            if not isinstance(proxy, str) or not proxy.startswith(("http://", "https://")):
                raise ConfigurationError(f"provider {name!r}: proxy must be an http:// or https:// URL")
            transport = transport or httpx.AsyncHTTPTransport(proxy=proxy)
        if health_url is not None and (not isinstance(health_url, str) or not health_url.startswith("http")):
            raise ConfigurationError(f"provider {name!r}: health_url must be an http:// or https:// URL")
        super().__init__(
            name=name,
            channel="webpush",
            base_url=health_url or _PLACEHOLDER_BASE,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.vapid_private_key = vapid_private_key
        self.signer = signer
        self.ttl = ttl
        self.allowed_hosts = tuple(host.lower().strip(".") for host in allowed_hosts) if allowed_hosts else None
        self.allow_http = allow_http
        self.health_url = health_url

    @property
    def application_server_key(self) -> str:
        """The VAPID public key (base64url) that browsers must subscribe with."""
        return self.signer.public_key

    def _checked(self, address: str) -> Subscription | DeliveryError:
        try:
            subscription = parse_subscription(address)
        except SubscriptionError as exc:
            return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, str(exc))
        if subscription.endpoint.startswith("http://") and not self.allow_http:
            return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, "the subscription's endpoint is not https")
        host = subscription.host.lower()
        if self.allowed_hosts is not None and not any(
            host == allowed or host.endswith("." + allowed) for allowed in self.allowed_hosts
        ):
            return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, f"push service {host} is not in allowed_hosts")
        return subscription

    @staticmethod
    def _payload(message: Message) -> bytes:
        document: dict[str, Any] = {"title": message.subject, "body": message.text or message.html or ""}
        if message.metadata.extra:
            document["data"] = message.metadata.extra
        if message.metadata.tags:
            document["tags"] = list(message.metadata.tags)
        document["idempotency_key"] = message.idempotency_key
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """Encrypt, sign and POST once to the subscription's endpoint."""
        subscription = self._checked(address)
        if isinstance(subscription, DeliveryError):
            return self._failed(subscription)
        try:
            payload = self._payload(message)
        except (TypeError, ValueError) as exc:
            return self._failed(DeliveryError.permanent(ErrorCode.REJECTED, f"metadata.extra is not JSON: {exc}"))
        if len(payload) > PAYLOAD_LIMIT:
            error = DeliveryError.permanent(
                "webpush.payload_too_large", f"the payload is {len(payload)} bytes; Web Push carries {PAYLOAD_LIMIT}"
            )
            return self._failed(error)
        headers = {
            "TTL": str(self.ttl),
            "Urgency": _URGENCY[message.metadata.priority],
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self.signer.authorization(subscription.origin),
        }
        response = await self.request(
            "POST", subscription.endpoint, content=encrypt(payload, subscription), headers=headers
        )
        if isinstance(response, DeliveryError):
            return self._failed(response)
        if 200 <= response.status_code < 300:
            location = response.headers.get("Location")
            log.debug("webpush.sent", provider=self.name, host=subscription.host, status=response.status_code)
            return DeliveryResult.success(location or None)
        return self._failed(self._error(response, subscription))

    def _error(self, response: Response, subscription: Subscription) -> DeliveryError:
        status = response.status_code
        said = " ".join(response.text.split())[:200]
        text = f"{subscription.host} answered HTTP {status}" + (f": {said}" if said else "")
        if status == 401:
            raise ConfigurationError(f"provider {self.name!r}: the push service refused the VAPID token ({text})")
        if status in (404, 410):
            return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, f"the subscription is gone ({text})")
        if status == 413:
            return DeliveryError.permanent("webpush.payload_too_large", text)
        if status == 403:
            return DeliveryError.permanent("webpush.forbidden", text)
        if 400 <= status < 500 and status not in (408, 429):
            return DeliveryError.permanent(f"webpush.{status}", text)
        return error_from_status(status, text, retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("webpush.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """Reachability of ``health_url`` when set; otherwise the loaded configuration.

        Every subscription names its own push service, so there is no single
        endpoint to check; a HEAD with any HTTP answer counts as reachable.
        """
        if self.health_url is None:
            return ProviderHealth(
                healthy=True, detail="configured (no health_url; push services vary per subscription)"
            )
        started = time.monotonic()
        response = await self.request("HEAD", self.health_url)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            return ProviderHealth(
                healthy=False, detail=f"push service unreachable: {response.message}", latency_ms=latency_ms
            )
        return ProviderHealth(
            healthy=True, detail=f"push service answered HTTP {response.status_code}", latency_ms=latency_ms
        )
