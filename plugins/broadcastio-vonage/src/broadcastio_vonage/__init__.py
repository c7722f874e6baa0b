"""broadcastio-vonage: SMS through the Vonage Messages API.

Install it and the ``vonage`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_vonage._provider import DEFAULT_ACCOUNT_URL, DEFAULT_BASE_URL, VonageSmsProvider

__all__ = ["DEFAULT_ACCOUNT_URL", "DEFAULT_BASE_URL", "VonageSmsProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``vonage`` provider type."""
    return [
        ProviderType(
            name="vonage",
            factory=VonageSmsProvider,
            channel="sms",
            description="SMS through the Vonage Messages API",
        )
    ]
