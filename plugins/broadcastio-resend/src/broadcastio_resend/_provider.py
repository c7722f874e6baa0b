"""``resend``: email through Resend's Emails API, idempotent by its ``Idempotency-Key``.

One JSON ``POST /emails`` per message with a Bearer API key and the
message's idempotency key in the ``Idempotency-Key`` header. Resend keeps
keys for 24 hours and answers a repeat with the first response instead of
sending again, so the provider declares idempotent sends: the orchestrator
may retry an ambiguous timeout without a double delivery.
"""

from __future__ import annotations

import base64
import importlib.metadata
import time
from typing import Any

import httpx
from broadcastio import (
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

from broadcastio_resend._errors import error_from_response

__all__ = ["DEFAULT_BASE_URL", "IDEMPOTENCY_HEADER", "ResendProvider"]

DEFAULT_BASE_URL = "https://api.resend.com"
EMAILS_PATH = "/emails"
DOMAINS_PATH = "/domains"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_USER_AGENT = f"broadcastio-resend/{importlib.metadata.version('broadcastio-resend')}"
_HEALTH_TIMEOUT = 5.0

log = get_logger("broadcastio.resend")


class ResendProvider(HttpProvider):
    """Sends each message as one email through Resend.

    :param api_key: a Resend API key (``re_...``; sending access is enough; never shown in repr or logs).
    :param from_address: a sender on a verified domain, ``user@domain`` or ``Name <user@domain>``.
    :param reply_to: optional Reply-To address.
    :param default_subject: the subject when a message has none (Resend requires one).
    :param base_url: API root; tests point it at 127.0.0.1.
    """

    channel = "email"
    secret_fields = ("api_key",)
    idempotent = True

    def __init__(
        self,
        *,
        name: str = "resend",
        api_key: str,
        from_address: str,
        reply_to: str | None = None,
        default_subject: str = "(no subject)",
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        single_line(name, "api_key", api_key)
        single_line(name, "default_subject", default_subject)
        super().__init__(
            name=name,
            channel="email",
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": _USER_AGENT, "Accept": "application/json"},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.api_key = api_key
        parse_sender(name, from_address)  # validates
        self.from_address = from_address
        self.reply_to = None if reply_to is None else parse_sender(name, reply_to, setting="reply_to")[1]
        self.default_subject = default_subject
        self._health_timeout = min(timeout, _HEALTH_TIMEOUT)

    def payload(self, message: Message, address: str) -> dict[str, Any]:
        """The ``POST /emails`` body for one recipient."""
        body: dict[str, Any] = {
            "from": self.from_address,
            "to": [address],
            "subject": message.subject or self.default_subject,
        }
        if message.text:
            body["text"] = message.text
        if message.html:
            body["html"] = message.html
        if not message.text and not message.html:  # attachments only: Resend needs a body
            body["text"] = " "
        if self.reply_to:
            body["reply_to"] = self.reply_to
        if message.attachments:
            body["attachments"] = [
                {
                    "filename": item.filename,
                    "content": base64.b64encode(item.content).decode("ascii"),
                    "content_type": item.mime_type,
                }
                for item in message.attachments
            ]
        return body

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One POST to Resend carrying the message's idempotency key."""
        to = address.strip()
        error = recipient_error(to)
        if error is not None:
            return self._failed(error)
        # broadcastio keys are 1-255 characters on one line: within Resend's 1-256.
        headers = {IDEMPOTENCY_HEADER: message.metadata.idempotency_key}
        response = await self.request("POST", EMAILS_PATH, json=self.payload(message, to), headers=headers)
        if isinstance(response, DeliveryError):
            return self._failed(response)
        if response.status_code != 200:
            return self._failed(error_from_response(response, provider=self.name))
        raw_id = json_object(response).get("id")
        message_id = raw_id if isinstance(raw_id, str) and raw_id else None
        log.debug("resend.accepted", provider=self.name, to=mask_address(to), message_id=message_id)
        return DeliveryResult.success(message_id)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("resend.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """``GET /domains``: reachability and the key; a sending-only key answers ``restricted_api_key``, which counts.

        Nothing is sent. A missing or invalid key is unhealthy.
        """
        started = time.monotonic()
        response = await self.request("GET", DOMAINS_PATH, timeout=self._health_timeout)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            detail = f"Resend unreachable: {response.message}"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        name = json_object(response).get("name")
        if response.status_code == 200:
            return ProviderHealth(healthy=True, detail="Resend key accepted", latency_ms=latency_ms)
        if response.status_code == 401 and name == "restricted_api_key":
            detail = "Resend key accepted (restricted to sending)"
            return ProviderHealth(healthy=True, detail=detail, latency_ms=latency_ms)
        detail = f"Resend refused the key (HTTP {response.status_code}, {name})"
        return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
