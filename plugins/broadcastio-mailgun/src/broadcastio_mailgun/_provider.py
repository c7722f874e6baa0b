"""``mailgun``: email through Mailgun's Messages API.

One ``multipart/form-data`` ``POST /v3/{domain}/messages`` per message,
with basic auth ``api:<key>``. Mailgun answers ``{"id": "<...>", "message":
"Queued. Thank you."}``. It takes no idempotency key, so the provider does
not declare idempotent sends: a timeout after the request was written stays
ambiguous.
"""

from __future__ import annotations

import importlib.metadata
import re
import time
from typing import Any

import httpx
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    Message,
    ProviderHealth,
    RetryPolicy,
)
from broadcastio.addresses import parse_sender, recipient_error
from broadcastio.http import HttpProvider, json_object
from broadcastio.logs import get_logger, mask_address
from broadcastio.plugins import single_line

from broadcastio_mailgun._errors import error_from_response

__all__ = ["IDEMPOTENCY_VARIABLE", "REGIONS", "MailgunProvider"]

REGIONS: dict[str, str] = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
"""Mailgun's API root per region: a domain lives in one and is unknown in the other."""

IDEMPOTENCY_VARIABLE = "v:broadcastio-idempotency-key"
"""The user variable carrying the idempotency key, repeated in Mailgun's webhooks (not deduplicated)."""

_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_USER_AGENT = f"broadcastio-mailgun/{importlib.metadata.version('broadcastio-mailgun')}"
_HEALTH_TIMEOUT = 5.0

log = get_logger("broadcastio.mailgun")


class MailgunProvider(HttpProvider):
    """Sends each message as one email through Mailgun (US or EU region).

    :param api_key: a Mailgun sending or account API key (never shown in repr or logs).
    :param domain: the sending domain configured in Mailgun (``mg.example.com``).
    :param from_address: the sender, ``user@domain`` or ``Name <user@domain>``.
    :param region: ``"us"`` (default) or ``"eu"``: picks the API root.
    :param base_url: overrides the region's API root (tests point it at 127.0.0.1).
    :param tags: Mailgun tags (``o:tag``) on every message.
    """

    channel = "email"
    secret_fields = ("api_key",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "mailgun",
        api_key: str,
        domain: str,
        from_address: str,
        reply_to: str | None = None,
        region: str = "us",
        base_url: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        single_line(name, "api_key", api_key)
        if not isinstance(domain, str) or not _DOMAIN.match(domain):
            raise ConfigurationError(f"provider {name!r}: domain must be a domain name such as mg.example.com")
        if region not in REGIONS:
            raise ConfigurationError(f"provider {name!r}: region must be one of {sorted(REGIONS)}, got {region!r}")
        checked_tags: object = tags  # settings from a file may be a bare string
        if (
            not isinstance(checked_tags, (tuple, list))
            or not all(isinstance(t, str) and t for t in checked_tags)
            or len(checked_tags) > 10
        ):
            raise ConfigurationError(f"provider {name!r}: tags must be up to 10 non-empty strings")
        super().__init__(
            name=name,
            channel="email",
            base_url=base_url or REGIONS[region],
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            auth=("api", api_key),
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.api_key = api_key
        self.domain = domain
        self.region = region
        parse_sender(name, from_address)  # validates
        self.from_address = from_address
        self.reply_to = None if reply_to is None else parse_sender(name, reply_to, setting="reply_to")[1]
        self.tags = tuple(tags)
        self._messages_path = f"/v3/{domain}/messages"
        self._domain_path = f"/v3/domains/{domain}"
        self._health_timeout = min(timeout, _HEALTH_TIMEOUT)

    def form(
        self, message: Message, address: str
    ) -> list[tuple[str, tuple[str | None, bytes, str] | tuple[None, str]]]:
        """The multipart parts: plain fields as ``(name, (None, value))``, attachments as files."""
        fields: list[tuple[str, str]] = [("from", self.from_address), ("to", address)]
        if message.subject:
            fields.append(("subject", message.subject))
        if message.text:
            fields.append(("text", message.text))
        if message.html:
            fields.append(("html", message.html))
        if not message.text and not message.html:  # attachments only: Mailgun needs a body
            fields.append(("text", " "))
        if self.reply_to:
            fields.append(("h:Reply-To", self.reply_to))
        fields.extend(("o:tag", tag) for tag in self.tags)
        fields.append((IDEMPOTENCY_VARIABLE, message.metadata.idempotency_key))
        parts: list[tuple[str, tuple[str | None, bytes, str] | tuple[None, str]]] = [
            (key, (None, value)) for key, value in fields
        ]
        parts.extend(("attachment", (item.filename, item.content, item.mime_type)) for item in message.attachments)
        return parts

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One multipart POST to Mailgun; an address that cannot be an email fails here without a request."""
        to = address.strip()
        error = recipient_error(to)
        if error is not None:
            return self._failed(error)
        response = await self.request("POST", self._messages_path, files=self.form(message, to))
        if isinstance(response, DeliveryError):
            return self._failed(response)
        if response.status_code != 200:
            return self._failed(error_from_response(response, provider=self.name))
        raw_id = json_object(response).get("id")
        message_id = raw_id if isinstance(raw_id, str) and raw_id else None
        log.debug("mailgun.accepted", provider=self.name, to=mask_address(to), message_id=message_id)
        return DeliveryResult.success(message_id)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("mailgun.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """``GET /v3/domains/{domain}``: reachability, the key, and that the domain exists and is active."""
        started = time.monotonic()
        response = await self.request("GET", self._domain_path, timeout=self._health_timeout)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            detail = f"Mailgun unreachable: {response.message}"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        if response.status_code in (401, 403):
            detail = f"Mailgun refused the API key (HTTP {response.status_code})"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        if response.status_code == 404:
            detail = f"Mailgun does not know domain {self.domain} in region {self.region}"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        if response.status_code != 200:
            return ProviderHealth(healthy=False, detail=f"HTTP {response.status_code}", latency_ms=latency_ms)
        domain: Any = json_object(response).get("domain")
        state = domain.get("state") if isinstance(domain, dict) else None
        if state not in (None, "active"):
            return ProviderHealth(healthy=False, detail=f"Mailgun domain is {state}", latency_ms=latency_ms)
        return ProviderHealth(healthy=True, detail="Mailgun domain active", latency_ms=latency_ms)
