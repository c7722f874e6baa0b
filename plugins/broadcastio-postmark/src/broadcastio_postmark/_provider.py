"""``postmark``: email through Postmark's Email API.

One JSON ``POST /email`` per message with the ``X-Postmark-Server-Token``
header. Postmark answers 200 with ``{"ErrorCode": 0, "MessageID": ...}``.
Its Email API takes no idempotency key, so the provider does not declare
idempotent sends: a timeout after the request was written stays ambiguous.
"""

from __future__ import annotations

import base64
import importlib.metadata
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

from broadcastio_postmark._errors import error_from_response

__all__ = ["DEFAULT_BASE_URL", "PostmarkProvider"]

DEFAULT_BASE_URL = "https://api.postmarkapp.com"
EMAIL_PATH = "/email"
SERVER_PATH = "/server"
_USER_AGENT = f"broadcastio-postmark/{importlib.metadata.version('broadcastio-postmark')}"
_HEALTH_TIMEOUT = 5.0

log = get_logger("broadcastio.postmark")


class PostmarkProvider(HttpProvider):
    """Sends each message as one email through Postmark.

    :param server_token: the Postmark server's API token (never shown in repr or logs).
    :param from_address: a confirmed sender signature, ``user@domain`` or ``Name <user@domain>``.
    :param reply_to: optional Reply-To address.
    :param message_stream: the transactional stream to send on (default ``outbound``).
    :param tag: optional Postmark tag for every message (Postmark's statistics group by it).
    :param base_url: API root; tests point it at 127.0.0.1.
    """

    channel = "email"
    secret_fields = ("server_token",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "postmark",
        server_token: str,
        from_address: str,
        reply_to: str | None = None,
        message_stream: str = "outbound",
        tag: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        single_line(name, "server_token", server_token)
        if not isinstance(message_stream, str) or not message_stream.strip():
            raise ConfigurationError(f"provider {name!r}: message_stream must be a non-empty string")
        if tag is not None and (not isinstance(tag, str) or not tag or len(tag) > 1000):
            raise ConfigurationError(f"provider {name!r}: tag must be a string of 1 to 1000 characters")
        super().__init__(
            name=name,
            channel="email",
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={
                "X-Postmark-Server-Token": server_token,
                "User-Agent": _USER_AGENT,
                "Accept": "application/json",
            },
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.server_token = server_token
        self.from_address = from_address
        parse_sender(name, from_address)  # validates
        self.reply_to = None if reply_to is None else parse_sender(name, reply_to, setting="reply_to")[1]
        self.message_stream = message_stream
        self.tag = tag
        self._health_timeout = min(timeout, _HEALTH_TIMEOUT)

    def payload(self, message: Message, address: str) -> dict[str, Any]:
        """The ``POST /email`` body for one recipient."""
        body: dict[str, Any] = {
            "From": self.from_address,
            "To": address,
            "MessageStream": self.message_stream,
        }
        if message.subject:
            body["Subject"] = message.subject
        if message.text:
            body["TextBody"] = message.text
        if message.html:
            body["HtmlBody"] = message.html
        if not message.text and not message.html:  # attachments only: Postmark needs a body
            body["TextBody"] = " "
        if self.reply_to:
            body["ReplyTo"] = self.reply_to
        if self.tag:
            body["Tag"] = self.tag
        body["Metadata"] = {"broadcastio_idempotency_key": message.metadata.idempotency_key}
        if message.attachments:
            body["Attachments"] = [
                {
                    "Name": item.filename,
                    "Content": base64.b64encode(item.content).decode("ascii"),
                    "ContentType": item.mime_type,
                }
                for item in message.attachments
            ]
        return body

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One POST to Postmark; an address that cannot be an email fails here without a request."""
        to = address.strip()
        error = recipient_error(to)
        if error is not None:
            return self._failed(error)
        response = await self.request("POST", EMAIL_PATH, json=self.payload(message, to))
        if isinstance(response, DeliveryError):
            return self._failed(response)
        body = json_object(response)
        if response.status_code != 200 or body.get("ErrorCode") not in (0, None):
            return self._failed(error_from_response(response, provider=self.name))
        raw_id = body.get("MessageID")
        message_id = raw_id if isinstance(raw_id, str) and raw_id else None
        log.debug("postmark.accepted", provider=self.name, to=mask_address(to), message_id=message_id)
        return DeliveryResult.success(message_id)

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("postmark.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """``GET /server``: proves reachability and the server token; sends nothing."""
        started = time.monotonic()
        response = await self.request("GET", SERVER_PATH, timeout=self._health_timeout)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            detail = f"Postmark unreachable: {response.message}"
            return ProviderHealth(healthy=False, detail=detail, latency_ms=latency_ms)
        if response.status_code == 401:
            return ProviderHealth(healthy=False, detail="Postmark refused the server token", latency_ms=latency_ms)
        if response.status_code != 200:
            return ProviderHealth(healthy=False, detail=f"HTTP {response.status_code}", latency_ms=latency_ms)
        return ProviderHealth(healthy=True, detail="Postmark server token accepted", latency_ms=latency_ms)
