"""broadcastio-fcm: push notifications through Firebase Cloud Messaging HTTP v1.

Install it and the ``fcm`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_fcm._auth import FCM_SCOPE
from broadcastio_fcm._provider import DEFAULT_BASE_URL, FcmProvider

__all__ = ["DEFAULT_BASE_URL", "FCM_SCOPE", "FcmProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``fcm`` provider type."""
    return [
        ProviderType(
            name="fcm",
            factory=FcmProvider,
            channel="push",
            description="Push notifications to device tokens through Firebase Cloud Messaging HTTP v1",
        )
    ]
