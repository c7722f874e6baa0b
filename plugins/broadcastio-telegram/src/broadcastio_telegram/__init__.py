"""broadcastio-telegram: messages and documents through the Telegram Bot API.

Install it and the ``telegram`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_telegram._provider import CAPTION_LIMIT, DEFAULT_BASE_URL, TEXT_LIMIT, TelegramProvider
from broadcastio_telegram._token import redact_tokens

__all__ = [
    "CAPTION_LIMIT",
    "DEFAULT_BASE_URL",
    "TEXT_LIMIT",
    "TelegramProvider",
    "broadcastio_provider_types",
    "redact_tokens",
]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``telegram`` provider type."""
    return [
        ProviderType(
            name="telegram",
            factory=TelegramProvider,
            channel="telegram",
            description="Telegram Bot API: sendMessage, sendDocument for attachments",
        )
    ]
