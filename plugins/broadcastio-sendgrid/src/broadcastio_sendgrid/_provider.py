"""``sendgrid``: email through SendGrid's v3 Mail Send API.

One JSON ``POST /v3/mail/send`` per message with a Bearer API key. SendGrid
answers 202 and an ``X-Message-Id`` header. Mail Send takes no idempotency
key, so the provider does not declare idempotent sends: a timeout after the
request was written stays ambiguous.
"""

from __future__ import annotations

import base64
import importlib.metadata
import time
from collections.abc import Callable
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

from broadcastio_sendgrid._errors import error_from_response

__all__ = ["DEFAULT_BASE_URL", "SendGridProvider"]

DEFAULT_BASE_URL = "https://api.sendgrid.com"
MAIL_SEND_PATH = "/v3/mail/send"
SCOPES_PATH = "/v3/scopes"
_USER_AGENT = f"broadcastio-sendgrid/{importlib.metadata.version('broadcastio-sendgrid')}"
_HEALTH_TIMEOUT = 5.0

log = get_logger("broadcastio.sendgrid")


class SendGridProvider(HttpProvider):
    """Sends each message as one email through SendGrid.

    :param api_key: a SendGrid API key with the ``mail.send`` scope (never shown in repr or logs).
    :param from_address: the sender, ``user@domain`` or ``Name <user@domain>`` (a verified sender).
    :param reply_to: optional Reply-To address.
    :param default_subject: the subject when a message has none (SendGrid requires one).
    :param base_url: API root (``https://api.eu.sendgrid.com`` for EU data residency); tests point it at 127.0.0.1.
    """

    channel = "email"
    secret_fields = ("api_key",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "sendgrid",
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
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": _USER_AGENT,
                "Accept": "application/json",
            },
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.api_key = api_key
        self.sender_name, self.sender = parse_sender(name, from_address)
        self.reply_to = None if reply_to is None else parse_sender(name, reply_to, setting="reply_to")[1]
        self.default_subject = default_subject
        self._health_timeout = min(timeout, _HEALTH_TIMEOUT)
        self._now: Callable[[], float] = time.time  # tests pin the clock for X-RateLimit-Reset

    def payload(self, message: Message, address: str) -> dict[str, Any]:
        """The Mail Send request body for one recipient."""
        sender: dict[str, str] = {"email": self.sender}
        if self.sender_name:
            sender["name"] = self.sender_name
        content = []
        if message.text:
            content.append({"type": "text/plain", "value": message.text})
        if message.html:
            content.append({"type": "text/html", "value": message.html})
        if not content:  # attachments only: SendGrid needs a body
            content.append({"type": "text/plain", "value": " "})
        body: dict[str, Any] = {
            "personalizations": [{"to": [{"email": address}]}],
            "from": sender,
            "subject": message.subject or self.default_subject,
            "content": content,
        }
        if self.reply_to:
            body["reply_to"] = {"email": self.reply_to}
        if message.attachments:
            body["attachments"] = [
                {
                    "content": base64.b64encode(item.content).decode("ascii"),
                    "filename": item.filename,
                    "type": item.mime_type,
                    "disposition": "attachment",
                }
                for item in message.attachments
            ]
        return body

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One POST to Mail Send; an address that cannot be an email fails here without a request."""
        to = address.strip()
        error = recipient_error(to)
        if error is not None:
            return self._failed(error)
        response = await self.request("POST", MAIL_SEND_PATH, json=self.payload(message, to))
        if isinstance(response, DeliveryError):
            return self._failed(response)
        if response.status_code not in (200, 202):
            return self._failed(error_from_response(response, provider=self.name, now=self._now))
        message_id = response.headers.get("X-Message-Id") or None
        log.debug("sendgrid.accepted", provider=self.name, to=mask_address(to), message_id=message_id)
        return DeliveryResult.success(message_id)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("sendgrid.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """``GET /v3/scopes``: proves reachability and the key, and that it may send mail; sends nothing."""
        started = time.monotonic()
        response = await self.request("GET", SCOPES_PATH, timeout=self._health_timeout)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            return ProviderHealth(
                healthy=False, detail=f"SendGrid unreachable: {response.message}", latency_ms=latency_ms
            )
        if response.status_code in (401, 403):
            detail = f"SendGrid refused the API key (HTTP {response.status_code})"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        if response.status_code != 200:
            return ProviderHealth(healthy=False, detail=f"HTTP {response.status_code}", latency_ms=latency_ms)
        scopes = json_object(response).get("scopes")
        if isinstance(scopes, list) and "mail.send" not in scopes:
            return ProviderHealth(healthy=False, detail="API key lacks the mail.send scope", latency_ms=latency_ms)
        return ProviderHealth(healthy=True, detail="SendGrid key accepted (mail.send)", latency_ms=latency_ms)
