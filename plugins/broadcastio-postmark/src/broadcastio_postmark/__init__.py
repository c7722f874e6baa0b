"""broadcastio-postmark: email through Postmark's Email API.

Install it and the ``postmark`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_postmark._provider import DEFAULT_BASE_URL, PostmarkProvider

__all__ = ["DEFAULT_BASE_URL", "PostmarkProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``postmark`` provider type."""
    return [
        ProviderType(
            name="postmark",
            factory=PostmarkProvider,
            channel="email",
            description="Email through the Postmark Email API",
        )
    ]
