"""The JSON body a webhook receives, encoded with msgspec (fast, no dict churn)."""

from __future__ import annotations

from typing import Any

import msgspec
from broadcastio import InvalidMessageError, Message

__all__ = ["WebhookAttachment", "WebhookPayload", "encode_payload"]


class WebhookAttachment(msgspec.Struct, frozen=True, kw_only=True):
    """One attachment; msgspec encodes ``content_base64`` bytes as base64 text."""

    filename: str
    mime_type: str
    content_base64: bytes


class WebhookPayload(msgspec.Struct, frozen=True, kw_only=True):
    """What a webhook receiver gets, field for field (also its decoding schema)."""

    to: str
    text: str
    subject: str | None
    html: str | None
    idempotency_key: str
    reference_id: str | None
    priority: str
    tags: tuple[str, ...]
    attachments: tuple[WebhookAttachment, ...]
    extra: dict[str, Any]


_encoder = msgspec.json.Encoder()


def encode_payload(message: Message, address: str) -> bytes:
    """JSON bytes for ``message`` addressed to ``address``.

    Raises :class:`InvalidMessageError` when ``metadata.extra`` holds a value
    JSON cannot carry.
    """
    metadata = message.metadata
    payload = WebhookPayload(
        to=address,
        text=message.text,
        subject=message.subject,
        html=message.html,
        idempotency_key=metadata.idempotency_key,
        reference_id=metadata.reference_id,
        priority=metadata.priority,
        tags=metadata.tags,
        attachments=tuple(
            WebhookAttachment(filename=item.filename, mime_type=item.mime_type, content_base64=item.content)
            for item in message.attachments
        ),
        extra=metadata.extra,
    )
    try:
        return _encoder.encode(payload)
    except (TypeError, msgspec.EncodeError) as exc:
        raise InvalidMessageError(f"webhook: Metadata.extra cannot be encoded as JSON: {exc}") from None
