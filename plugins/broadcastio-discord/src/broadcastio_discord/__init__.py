"""broadcastio-discord: messages and files through a Discord webhook.

Install it and the ``discord`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_discord._errors import CREDENTIAL_CODES, error_from_answer
from broadcastio_discord._provider import CONTENT_LIMIT, MAX_FILES, DiscordProvider

__all__ = [
    "CONTENT_LIMIT",
    "CREDENTIAL_CODES",
    "MAX_FILES",
    "DiscordProvider",
    "broadcastio_provider_types",
    "error_from_answer",
]

broadcastio_provider_types = provider_types(DiscordProvider)
"""Registers DiscordProvider: name, channel and description come from the class."""
