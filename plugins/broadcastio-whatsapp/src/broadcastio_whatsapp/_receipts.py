"""Receipt endpoints of the two WhatsApp providers.

- ``whatsapp-cloud``: Meta's webhook. ``GET`` is the subscription handshake
  (``hub.mode=subscribe``, ``hub.verify_token``, echo ``hub.challenge``);
  ``POST`` carries ``entry[].changes[].value.statuses[]``, signed in
  ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with
  the app secret>``. ``biz_opaque_callback_data`` carries the message's
  idempotency key (the provider sends it).
- ``whatsapp``: node-whatsapp's ack callback, ``{"event": "message_ack",
  "id", "ack", "at"}`` signed in ``X-Broadcastio-Signature: t=<unix
  seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``; a ``t`` outside the
  tolerance is refused, so a captured callback cannot be replayed later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from broadcastio import ConfigurationError, DeliveryError
from broadcastio.receipts import (
    Receipt,
    ReceiptEndpoint,
    ReceiptHandler,
    ReceiptLevel,
    ReceiptReply,
    ReceiptRequest,
    signatures_match,
)

from broadcastio_whatsapp._cloud_errors import CODE_PREFIX as CLOUD_PREFIX
from broadcastio_whatsapp._cloud_errors import TRANSIENT_CODES as CLOUD_TRANSIENT_CODES
from broadcastio_whatsapp._node_errors import CODE_PREFIX as NODE_PREFIX

__all__ = [
    "ACK_LEVELS",
    "ACK_PATH",
    "ACK_TOLERANCE_SECONDS",
    "CLOUD_STATUS_LEVELS",
    "WEBHOOK_PATH",
    "ack_signature",
    "cloud_endpoint",
    "hub_signature",
    "node_endpoint",
]

WEBHOOK_PATH = "/webhook"
ACK_PATH = "/ack"
ACK_TOLERANCE_SECONDS = 300
HUB_HEADER = "x-hub-signature-256"
ACK_HEADER = "x-broadcastio-signature"

CLOUD_STATUS_LEVELS: dict[str, ReceiptLevel] = {
    "sent": ReceiptLevel.SENT,
    "delivered": ReceiptLevel.DELIVERED,
    "read": ReceiptLevel.READ,
    "failed": ReceiptLevel.FAILED,
}
ACK_LEVELS: dict[str, ReceiptLevel] = {
    "error": ReceiptLevel.FAILED,
    "pending": ReceiptLevel.ACCEPTED,
    "server": ReceiptLevel.SENT,
    "device": ReceiptLevel.DELIVERED,
    "read": ReceiptLevel.READ,
}


def _secret(settings: Mapping[str, Any], key: str, what: str) -> str:
    value = settings.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{what} need the provider setting {key!r}")
    return value


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _items(value: Any, key: str) -> list[dict[str, Any]]:
    found = value.get(key) if isinstance(value, dict) else None
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


# --- WhatsApp Cloud API -----------------------------------------------------------


def hub_signature(app_secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` of a webhook body: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _cloud_error(status: dict[str, Any]) -> DeliveryError:
    errors = _items(status, "errors")
    first = errors[0] if errors else {}
    raw_code = first.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    title = first.get("message") or first.get("title") or "the message failed"
    message = f"WhatsApp reported the message failed: {title}"
    if code is None:
        return DeliveryError.permanent(f"{CLOUD_PREFIX}failed", message)
    if code in CLOUD_TRANSIENT_CODES:
        return DeliveryError.transient(f"{CLOUD_PREFIX}{code}", message)
    return DeliveryError.permanent(f"{CLOUD_PREFIX}{code}", message)


def _occurred(raw: Any, fallback: float) -> dt.datetime:
    seconds = int(raw) if isinstance(raw, str) and raw.isdigit() else raw if isinstance(raw, int) else fallback
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _cloud_receipt(status: dict[str, Any], received: float) -> Receipt | None:
    message_id = status.get("id")
    word = status.get("status")
    level = CLOUD_STATUS_LEVELS.get(word) if isinstance(word, str) else None
    if not isinstance(message_id, str) or not message_id or level is None or not isinstance(word, str):
        return None
    key = status.get("biz_opaque_callback_data")
    return Receipt(
        provider_type="whatsapp-cloud",
        receipt_id=f"whatsapp-cloud:{message_id}:{word}",
        provider_message_id=message_id,
        idempotency_key=key if isinstance(key, str) and key else None,
        level=level,
        status=word,
        error=_cloud_error(status) if level is ReceiptLevel.FAILED else None,
        occurred_at=_occurred(status.get("timestamp"), received),
    )


def _cloud_handler(app_secret: str, verify_token: str) -> ReceiptHandler:
    def handle(request: ReceiptRequest) -> ReceiptReply:
        if request.method == "GET":
            token = request.query.get("hub.verify_token")
            if request.query.get("hub.mode") != "subscribe" or not signatures_match(verify_token, token):
                return ReceiptReply.forbidden("wrong hub.verify_token")
            return ReceiptReply(body=request.query.get("hub.challenge", ""))
        given = request.headers.get(HUB_HEADER)
        if not given:
            return ReceiptReply.forbidden("missing X-Hub-Signature-256")
        if not signatures_match(hub_signature(app_secret, request.body), given):
            return ReceiptReply.forbidden("invalid X-Hub-Signature-256")
        payload = _json_object(request.body)
        if payload is None:
            return ReceiptReply.bad_request("the webhook body is not a JSON object")
        receipts = []
        for entry in _items(payload, "entry"):
            for change in _items(entry, "changes"):
                for status in _items(change.get("value"), "statuses"):
                    receipt = _cloud_receipt(status, request.received_at_unix)
                    if receipt is not None:
                        receipts.append(receipt)
        return ReceiptReply(receipts=tuple(receipts))

    return handle


def _cloud_factory(settings: Mapping[str, Any]) -> ReceiptHandler:
    what = "WhatsApp Cloud API webhooks"
    return _cloud_handler(_secret(settings, "app_secret", what), _secret(settings, "webhook_verify_token", what))


def cloud_endpoint() -> ReceiptEndpoint:
    """The ``whatsapp-cloud`` webhook: GET handshake and POST statuses at ``/<name>/webhook``."""
    return ReceiptEndpoint(
        provider_type="whatsapp-cloud",
        path=WEBHOOK_PATH,
        methods=("GET", "POST"),
        handler_factory=_cloud_factory,
        description="WhatsApp Cloud API webhook (hub.challenge, X-Hub-Signature-256)",
    )


# --- node-whatsapp ---------------------------------------------------------------


def ack_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``X-Broadcastio-Signature`` as node-whatsapp sends it: ``t=<t>,v1=<hex>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _parse_ack_header(value: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isdigit():
            timestamp = int(item)
        elif key == "v1" and item:
            signatures.append(item)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def _node_handler(secret: str, tolerance: float) -> ReceiptHandler:
    def handle(request: ReceiptRequest) -> ReceiptReply:
        header = request.headers.get(ACK_HEADER)
        parsed = _parse_ack_header(header) if header else None
        if parsed is None:
            return ReceiptReply.forbidden("missing or malformed X-Broadcastio-Signature")
        timestamp, given = parsed
        expected = ack_signature(secret, timestamp, request.body).rpartition("v1=")[2]
        if not any(signatures_match(expected, candidate) for candidate in given):
            return ReceiptReply.forbidden("invalid X-Broadcastio-Signature")
        if abs(request.received_at_unix - timestamp) > tolerance:
            return ReceiptReply.forbidden("X-Broadcastio-Signature timestamp outside the tolerance")
        payload = _json_object(request.body)
        if payload is None or payload.get("event") != "message_ack":
            return ReceiptReply.bad_request("not a message_ack callback")
        message_id, ack = payload.get("id"), payload.get("ack")
        level = ACK_LEVELS.get(ack) if isinstance(ack, str) else None
        if not isinstance(message_id, str) or not message_id or level is None or not isinstance(ack, str):
            return ReceiptReply.bad_request("a message_ack needs an id and a known ack")
        receipt = Receipt(
            provider_type="whatsapp",
            receipt_id=f"whatsapp:{message_id}:{ack}",
            provider_message_id=message_id,
            level=level,
            status=ack,
            error=(
                DeliveryError.permanent(f"{NODE_PREFIX}ACK_ERROR", "WhatsApp reported the message failed (ack error)")
                if level is ReceiptLevel.FAILED
                else None
            ),
            occurred_at=_ack_time(payload.get("at"), request.received_at_unix),
        )
        return ReceiptReply(receipts=(receipt,))

    return handle


def _ack_time(raw: Any, fallback: float) -> dt.datetime:
    if isinstance(raw, str):
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(fallback, dt.UTC)


def _node_factory(settings: Mapping[str, Any]) -> ReceiptHandler:
    secret = _secret(settings, "ack_secret", "node-whatsapp ack callbacks")
    tolerance = settings.get("ack_tolerance_seconds", ACK_TOLERANCE_SECONDS)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance <= 0:
        raise ConfigurationError(f"ack_tolerance_seconds must be a positive number of seconds, got {tolerance!r}")
    return _node_handler(secret, float(tolerance))


def node_endpoint() -> ReceiptEndpoint:
    """node-whatsapp's ack callback at ``/<name>/ack`` (its ``WA_ACK_CALLBACK_URL``)."""
    return ReceiptEndpoint(
        provider_type="whatsapp",
        path=ACK_PATH,
        methods=("POST",),
        handler_factory=_node_factory,
        description="node-whatsapp ack callbacks (X-Broadcastio-Signature)",
    )
