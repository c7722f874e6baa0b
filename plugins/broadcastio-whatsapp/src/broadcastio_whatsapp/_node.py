"""``whatsapp``: the client of node-whatsapp (a local service around whatsapp-web.js).

One ``POST /messages`` per attempt, carrying the message's idempotency key
in an ``Idempotency-Key`` header: the service replays the first result for a
repeated key, so a retry after an ambiguous timeout never sends twice.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import Any, ClassVar

import httpx
from broadcastio import DeliveryError, DeliveryResult, Message, ProviderHealth, RetryPolicy
from broadcastio.http import HttpProvider, Response
from broadcastio.logs import get_logger

from broadcastio_whatsapp._node_errors import CODE_PREFIX, error_from_response

__all__ = ["WhatsAppProvider"]

_log = get_logger("broadcastio.whatsapp.node")

DEFAULT_BASE_URL = "http://127.0.0.1:3000"

# What the service accepts as an Idempotency-Key; anything else is hashed.
_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
# Separators people write inside phone numbers.
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")

_STATE_HINTS = {
    "starting": "WhatsApp Web is starting",
    "qr": "scan the QR code at {base_url}/qr",
    "authenticated": "logged in, WhatsApp Web is loading",
    "disconnected": "WhatsApp Web is disconnected",
    "failed": "WhatsApp Web failed; see the service's log",
}


def idempotency_header(key: str) -> str:
    """The message's key if the service accepts it as is, else a stable hash of it."""
    if _KEY_PATTERN.fullmatch(key):
        return key
    return "sha256-" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def normalise_address(address: str) -> str:
    """``+1 (555) 010-0000`` becomes ``+15550100000``; chat ids pass unchanged."""
    address = address.strip()
    if "@" in address:
        return address
    return _PHONE_SEPARATORS.sub("", address)


class WhatsAppProvider(HttpProvider):
    """Sends through a node-whatsapp service.

    :param base_url: where the service listens (default ``http://127.0.0.1:3000``).
    :param token: the service's ``WA_TOKEN``, sent as a bearer token.
    :param timeout: seconds for connect, write and read each; keep it above
        the service's ``WA_SEND_TIMEOUT_MS`` so the service, which knows
        better, is the one that reports a timeout.
    :param connect_timeout: seconds to connect (default: ``timeout``).
    :param ack_secret: the service's ``WA_ACK_CALLBACK_SECRET``; the receipts
        app checks ack callbacks with it (sends do not use it).
    :param ack_tolerance_seconds: how far an ack callback's signed timestamp
        may be from now (default 300 s); older callbacks are refused as replays.

    Addresses are ``+<digits>`` phone numbers (spaces, dashes, dots and
    brackets are removed) or chat ids (``<digits>@c.us``, ``<id>@g.us``).
    A message with one attachment is sent as media with the text as its
    caption; more than one attachment is refused as a permanent
    ``whatsapp.TOO_MANY_ATTACHMENTS`` failure, so the orchestrator falls back
    to a provider that can carry them all instead of dropping files.

    Sends are idempotent: a retry with the same key is replayed or answered
    ``IN_FLIGHT`` by the service. The service releases a key after
    ``TIMEOUT_AFTER_SEND`` or ``INTERNAL`` (the send may have happened), so
    this provider does not send such a key again; the retry returns the same
    ambiguous error and the message stays "possibly delivered".
    """

    channel = "whatsapp"
    idempotent = True
    secret_fields: ClassVar[tuple[str, ...]] = ("token", "ack_secret")
    throttling_codes: ClassVar[frozenset[str]] = frozenset({"whatsapp.RATE_LIMITED"})

    def __init__(
        self,
        *,
        name: str = "whatsapp",
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float | None = 5.0,
        ack_secret: str | None = None,
        ack_tolerance_seconds: float = 300,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(
            name=name,
            channel="whatsapp",
            base_url=base_url,
            timeout=timeout,
            connect_timeout=min(connect_timeout, timeout) if connect_timeout is not None else None,
            headers=headers,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.token = token
        self.ack_secret = ack_secret
        self.ack_tolerance_seconds = ack_tolerance_seconds

    def _payload(self, message: Message, address: str) -> dict[str, Any] | DeliveryError:
        payload: dict[str, Any] = {"to": normalise_address(address)}
        if len(message.attachments) > 1:
            return DeliveryError.permanent(
                f"{CODE_PREFIX}TOO_MANY_ATTACHMENTS",
                f"WhatsApp sends one file per message; this message has {len(message.attachments)} attachments",
            )
        if message.attachments:
            attachment = message.attachments[0]
            payload["media"] = {
                "data": base64.b64encode(attachment.content).decode("ascii"),
                "filename": attachment.filename,
                "mimeType": attachment.mime_type,
                "caption": message.text or None,
            }
            return payload
        if not message.text:
            return DeliveryError.permanent(
                f"{CODE_PREFIX}NO_TEXT", "WhatsApp needs plain text or an attachment; this message has only HTML"
            )
        payload["text"] = message.text
        return payload

    async def send(self, message: Message, address: str) -> DeliveryResult:
        payload = self._payload(message, address)
        if isinstance(payload, DeliveryError):
            return DeliveryResult.failure(payload)
        # The service deduplicates by this key, also after its own ambiguous
        # answers (a retry then gets OUTCOME_UNKNOWN), so the provider is idempotent.
        key = idempotency_header(message.metadata.idempotency_key)
        response = await self.request("POST", "/messages", json=payload, headers={"Idempotency-Key": key})
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(response)
        if response.status_code == 200:
            return DeliveryResult.success(self._message_id(response))
        return DeliveryResult.failure(error_from_response(response, provider=self.name))

    def _message_id(self, response: Response) -> str | None:
        try:
            body = response.json()
        except ValueError:
            body = None
        message_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(message_id, str) or not message_id:
            # Sent (200) but unreadable: reporting a failure would invite a resend.
            _log.warning("whatsapp.unexpected_success_body", provider=self.name)
            return None
        if isinstance(body, dict) and body.get("replayed"):
            _log.debug("whatsapp.replayed", provider=self.name)
        return message_id

    async def health(self) -> ProviderHealth:
        """Healthy only when the service reports state ``ready``."""
        started = time.perf_counter()
        response = await self.request("GET", "/status")
        latency_ms = (time.perf_counter() - started) * 1000
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"node-whatsapp unreachable: {response.message}")
        if response.status_code == 401:
            return ProviderHealth(healthy=False, detail="node-whatsapp refused the bearer token (401)")
        if response.status_code != 200:
            return ProviderHealth(healthy=False, detail=f"node-whatsapp /status answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("state"), str):
            return ProviderHealth(healthy=False, detail="node-whatsapp /status answered without a state")
        state: str = body["state"]
        if state == "ready":
            return ProviderHealth(healthy=True, detail="ready", latency_ms=latency_ms)
        reason = body.get("reason")
        parts = [_STATE_HINTS.get(state, "not ready").format(base_url=self.base_url)]
        if isinstance(reason, str) and reason:
            parts = [reason, parts[0]] if state == "qr" else [reason]
        return ProviderHealth(healthy=False, detail=f"{state}: {'; '.join(parts)}", latency_ms=latency_ms)
