"""``ntfy``: one publish per message to a ntfy topic (ntfy.sh or a self-hosted server).

``POST {base_url}/{topic}`` with the text as the body and ``Title``,
``Priority``, ``Tags`` headers (RFC 2047 encoded when not ASCII, which ntfy
decodes). ntfy has no idempotency key: not idempotent.
"""

from __future__ import annotations

import email.header
import importlib.metadata
import re
import time

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
from broadcastio.http import HttpProvider, json_object, parse_retry_after

from broadcastio_ntfy._errors import error_from_answer

__all__ = ["DEFAULT_BASE_URL", "PRIORITIES", "NtfyProvider", "header_value"]

DEFAULT_BASE_URL = "https://ntfy.sh"
PRIORITIES = {"low": "2", "normal": "3", "high": "4"}
"""broadcastio priority to ntfy priority (1 min ... 5 max)."""

_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
_TAG = re.compile(r"^[^,\r\n]{1,64}$")
_HEALTH_TIMEOUT = 5.0
_USER_AGENT = f"broadcastio-ntfy/{importlib.metadata.version('broadcastio-ntfy')}"


def header_value(text: str) -> str:
    """``text`` as an HTTP header value: as is when ASCII, else an RFC 2047 encoded word ntfy decodes."""
    flat = " ".join(text.split())
    if flat.isascii():
        return flat
    return email.header.Header(flat, "utf-8").encode()


class NtfyProvider(HttpProvider):
    """Publishes to a ntfy topic (ntfy.sh or self-hosted); every subscriber gets a push notification.

    The address is the topic name (``Recipient.addresses["ntfy"]``), 1-64
    letters, digits, ``-`` or ``_``. On ntfy.sh without access control the
    topic name is the only secret: pick one that cannot be guessed.

    :param token: an access token (``tk_...``), sent as ``Authorization: Bearer``; secret.
    :param username, password: basic auth instead of a token; the password is secret.
    :param markdown: have ntfy render the text as Markdown.
    :param base_url: the server, ``https://ntfy.sh`` by default.
    """

    channel = "ntfy"
    secret_fields = ("token", "password")
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "ntfy",
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        markdown: bool = False,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if token is not None and (not isinstance(token, str) or not token or any(c.isspace() for c in token)):
            raise ConfigurationError(f"provider {name!r}: token must be a non-empty access token without spaces")
        if (username is None) != (password is None):
            raise ConfigurationError(f"provider {name!r}: username and password go together")
        if token is not None and username is not None:
            raise ConfigurationError(f"provider {name!r}: set token or username/password, not both")
        if username is not None and (not isinstance(username, str) or not username or ":" in username):
            raise ConfigurationError(f"provider {name!r}: username must be non-empty and without ':'")
        if password is not None and (not isinstance(password, str) or not password):
            raise ConfigurationError(f"provider {name!r}: password must be a non-empty string")
        headers = {"User-Agent": _USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(
            name=name,
            channel="ntfy",
            base_url=base_url.rstrip("/") if isinstance(base_url, str) else "",
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers=headers,
            auth=(username, password) if username is not None and password is not None else None,
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.token = token
        self.username = username
        self.password = password
        self.markdown = bool(markdown)

    def _headers(self, message: Message) -> dict[str, str] | DeliveryError:
        headers = {"Content-Type": "text/plain; charset=utf-8", "Priority": PRIORITIES[message.metadata.priority]}
        if message.subject:
            headers["Title"] = header_value(message.subject)
        tags = [tag.strip() for tag in message.metadata.tags if tag.strip()]
        if tags:
            if not all(_TAG.match(tag) for tag in tags):
                return DeliveryError.permanent(ErrorCode.REJECTED, "ntfy tags must be 1-64 characters without commas")
            headers["Tags"] = header_value(",".join(tags))
        if self.markdown:
            headers["Markdown"] = "yes"
        return headers

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One publish; the answer's ``id`` is the result's id."""
        topic = address.strip()
        if not _TOPIC.match(topic):
            return DeliveryResult.failure(
                DeliveryError.permanent(
                    ErrorCode.INVALID_RECIPIENT, "ntfy topic must be 1-64 letters, digits, '-' or '_'"
                )
            )
        if message.attachments:
            return DeliveryResult.failure(
                DeliveryError.permanent(
                    "ntfy.attachments_unsupported",
                    "the ntfy provider publishes text only; this message has attachments",
                )
            )
        if not message.text.strip():
            return DeliveryResult.failure(DeliveryError.permanent(ErrorCode.REJECTED, "ntfy needs text; it is empty"))
        headers = self._headers(message)
        if isinstance(headers, DeliveryError):
            return DeliveryResult.failure(headers)
        response = await self.request("POST", f"/{topic}", content=message.text.encode(), headers=headers)
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(response)
        answer = json_object(response)
        if response.status_code == 200:
            identifier = answer.get("id")
            return DeliveryResult.success(str(identifier) if identifier else None)
        return DeliveryResult.failure(
            error_from_answer(
                response.status_code,
                answer,
                provider=self.name,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        )

    async def health(self) -> ProviderHealth:
        """``GET /v1/health``: ntfy's own health endpoint (``{"healthy": true}``); publishes nothing.

        It does not check the credentials: ntfy has no cheap authenticated probe
        that publishes nothing; a refused token raises on the first send.
        """
        started = time.monotonic()
        response = await self.request("GET", "/v1/health", timeout=min(self.timeout, _HEALTH_TIMEOUT))
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"{response.code}: {response.message}", latency_ms=latency_ms)
        healthy = response.status_code == 200 and json_object(response).get("healthy") is True
        detail = "server healthy" if healthy else f"server unhealthy (HTTP {response.status_code})"
        return ProviderHealth(healthy=healthy, detail=detail, latency_ms=latency_ms)
