"""broadcastio-pushover: push notifications through the Pushover Message API.

Install it and the ``pushover`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_pushover._provider import DEFAULT_BASE_URL, MESSAGE_LIMIT, TITLE_LIMIT, PushoverProvider

__all__ = ["DEFAULT_BASE_URL", "MESSAGE_LIMIT", "TITLE_LIMIT", "PushoverProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``pushover`` provider type."""
    return [
        ProviderType(
            name="pushover",
            factory=PushoverProvider,
            channel="pushover",
            description="Push notifications through the Pushover Message API",
        )
    ]
