"""broadcastio-discord: messages and files through a Discord webhook.

Install it and the ``discord`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

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


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``discord`` provider type."""
    return [
        ProviderType(
            name="discord",
            factory=DiscordProvider,
            channel="discord",
            description="Discord webhook (Execute Webhook, files as multipart)",
        )
    ]
