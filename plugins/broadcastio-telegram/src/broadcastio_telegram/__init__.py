"""broadcastio-telegram: messages and documents through the Telegram Bot API.

Install it and the ``telegram`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_telegram._provider import CAPTION_LIMIT, DEFAULT_BASE_URL, TEXT_LIMIT, TelegramProvider, redact_tokens

__all__ = [
    "CAPTION_LIMIT",
    "DEFAULT_BASE_URL",
    "TEXT_LIMIT",
    "TelegramProvider",
    "broadcastio_provider_types",
    "redact_tokens",
]

broadcastio_provider_types = provider_types(TelegramProvider)
"""Registers TelegramProvider: name, channel and description come from the class."""
