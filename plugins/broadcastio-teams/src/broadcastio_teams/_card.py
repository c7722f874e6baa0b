"""A broadcastio message as a Teams message carrying one Adaptive Card."""

from __future__ import annotations

import json
from typing import Any

from broadcastio import DeliveryError, ErrorCode, Message

__all__ = ["CARD_VERSION", "SIZE_LIMIT", "card_message"]

CARD_VERSION = "1.4"
"""Adaptive Card schema version; Teams renders 1.4 on every client."""
SIZE_LIMIT = 28 * 1024
"""Teams refuses messages over about 28 KB."""


def card_message(message: Message, *, full_width: bool) -> tuple[bytes, dict[str, Any]] | DeliveryError:
    """The JSON body (bytes, and the object for tests) or a permanent error.

    The subject is a bold heading, the text a wrapping TextBlock (Teams
    renders a Markdown subset in it). Attachments are refused rather than
    dropped: a webhook cannot upload files.
    """
    if message.attachments:
        return DeliveryError.permanent(
            "teams.attachments_unsupported", "a Teams webhook posts cards only; this message has attachments"
        )
    if not message.text.strip() and not message.subject:
        return DeliveryError.permanent(ErrorCode.REJECTED, "Teams needs text; the message has none")
    body: list[dict[str, Any]] = []
    if message.subject:
        body.append({"type": "TextBlock", "text": message.subject, "weight": "Bolder", "size": "Medium", "wrap": True})
    if message.text.strip():
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if full_width:
        card["msteams"] = {"width": "Full"}
    envelope: dict[str, Any] = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    encoded = json.dumps(envelope, ensure_ascii=False).encode()
    if len(encoded) > SIZE_LIMIT:
        return DeliveryError.permanent(
            "teams.payload_too_large", f"the card is {len(encoded)} bytes; Teams takes about {SIZE_LIMIT}"
        )
    return encoded, envelope
