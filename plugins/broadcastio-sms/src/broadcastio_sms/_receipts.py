"""Twilio status callbacks: the ``sms`` receipt endpoint.

Twilio POSTs a form (``MessageSid``, ``MessageStatus``, ``ErrorCode``, ...)
to the message's ``StatusCallback`` URL each time the status changes, signed
in ``X-Twilio-Signature``: base64 of the HMAC-SHA1, keyed with the auth
token, of the full URL Twilio called followed by every POST parameter name
and value, sorted by name (Twilio's "Validating requests" page). The URL
must be the one Twilio called, so behind a proxy the receipts app needs its
public base URL. The provider adds ``idempotency_key`` to the callback URL's
query, so a receipt also names the message by key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterable, Mapping
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

from broadcastio_sms._errors import PERMANENT_CODES, TRANSIENT_CODES

__all__ = [
    "CALLBACK_KEY_PARAM",
    "DELIVERY_TRANSIENT_CODES",
    "RECEIPT_PATH",
    "STATUS_LEVELS",
    "receipt_endpoint",
    "twilio_signature",
]

RECEIPT_PATH = "/status"
CALLBACK_KEY_PARAM = "idempotency_key"
SIGNATURE_HEADER = "x-twilio-signature"

STATUS_LEVELS: dict[str, ReceiptLevel] = {
    "accepted": ReceiptLevel.ACCEPTED,
    "scheduled": ReceiptLevel.ACCEPTED,
    "queued": ReceiptLevel.ACCEPTED,
    "sending": ReceiptLevel.ACCEPTED,
    "sent": ReceiptLevel.SENT,
    "delivered": ReceiptLevel.DELIVERED,
    "read": ReceiptLevel.READ,
    "undelivered": ReceiptLevel.FAILED,
    "failed": ReceiptLevel.FAILED,
    "canceled": ReceiptLevel.FAILED,
}
"""Twilio's message statuses; ``undelivered``/``failed`` mean this channel will not deliver it."""

DELIVERY_TRANSIENT_CODES: dict[int, str] = {
    30001: "queue overflow",
    30003: "unreachable handset (switched off or out of coverage)",
    30017: "carrier network congestion",
}
"""Delivery codes that a later try on Twilio may get past."""


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature`` for a POST of ``params`` to ``url``.

    The full URL (with its query), then each parameter name followed by its
    value, names sorted (repeated names: their values sorted too), HMAC-SHA1
    with the auth token, base64.
    """
    pairs = sorted(params)
    data = url + "".join(f"{name}{value}" for name, value in pairs)
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _error(status: str, raw_code: str | None) -> DeliveryError:
    code = int(raw_code) if raw_code and raw_code.isdigit() else None
    if code is None:
        return DeliveryError.permanent(f"twilio.{status}", f"Twilio reported the message {status}")
    message = f"Twilio reported the message {status} (error {code})"
    reason = TRANSIENT_CODES.get(code) or DELIVERY_TRANSIENT_CODES.get(code) or PERMANENT_CODES.get(code)
    if reason:
        message = f"{message}: {reason}"
    if code in TRANSIENT_CODES or code in DELIVERY_TRANSIENT_CODES:
        return DeliveryError.transient(f"twilio.{code}", message)
    return DeliveryError.permanent(f"twilio.{code}", message)


def _handler(auth_token: str) -> ReceiptHandler:
    def handle(request: ReceiptRequest) -> ReceiptReply:
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            return ReceiptReply.forbidden("missing X-Twilio-Signature")
        try:
            params = urllib.parse.parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return ReceiptReply.forbidden("invalid X-Twilio-Signature")
        if not signatures_match(twilio_signature(auth_token, request.url, params), given):
            return ReceiptReply.forbidden("invalid X-Twilio-Signature")
        form = dict(params)
        sid = form.get("MessageSid") or form.get("SmsSid")
        status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        if not sid or not status:
            return ReceiptReply.bad_request("not a message status callback (no MessageSid/MessageStatus)")
        level = STATUS_LEVELS.get(status)
        if level is None:
            return ReceiptReply()  # a status this version does not know: acknowledged, not recorded
        receipt = Receipt(
            provider_type="sms",
            receipt_id=f"twilio:{sid}:{status}",
            provider_message_id=sid,
            idempotency_key=request.query.get(CALLBACK_KEY_PARAM) or None,
            level=level,
            status=status,
            error=_error(status, form.get("ErrorCode")) if level is ReceiptLevel.FAILED else None,
            occurred_at=dt.datetime.fromtimestamp(request.received_at_unix, dt.UTC),
        )
        return ReceiptReply(receipts=(receipt,))

    return handle


def _factory(settings: Mapping[str, Any]) -> ReceiptHandler:
    token = settings.get("auth_token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigurationError("Twilio status callbacks need the provider's auth_token")
    return _handler(token)


def receipt_endpoint() -> ReceiptEndpoint:
    """The ``sms`` provider's status callback endpoint (``/<provider name>/status``)."""
    return ReceiptEndpoint(
        provider_type="sms",
        path=RECEIPT_PATH,
        methods=("POST",),
        handler_factory=_factory,
        description="Twilio status callbacks (X-Twilio-Signature)",
    )
