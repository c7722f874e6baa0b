"""broadcastio-apprise: any Apprise service as a broadcastio provider.

Install it and the ``apprise`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_apprise._provider import AppriseProvider

__all__ = ["AppriseProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``apprise`` provider type."""
    return [
        ProviderType(
            name="apprise",
            factory=AppriseProvider,
            channel="apprise",
            description="Any Apprise service (slack://, mailto://, ntfy://, json://, ...) through Apprise",
        )
    ]
