"""broadcastio-webpush: notifications to browsers through the Web Push protocol.

Install it and the ``webpush`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_webpush._provider import PAYLOAD_LIMIT, WebPushProvider
from broadcastio_webpush._subscription import Subscription, parse_subscription

__all__ = ["PAYLOAD_LIMIT", "Subscription", "WebPushProvider", "broadcastio_provider_types", "parse_subscription"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``webpush`` provider type."""
    return [
        ProviderType(
            name="webpush",
            factory=WebPushProvider,
            channel="webpush",
            description="Browser notifications through Web Push (VAPID, aes128gcm)",
        )
    ]
