"""broadcastio provider for the Example messaging API."""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_example._provider import ExampleProvider

__all__ = ["ExampleProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``example`` provider type."""
    return [
        ProviderType(
            name="example",
            factory=ExampleProvider,
            channel="example",
            description="the Example messaging API",
        )
    ]
