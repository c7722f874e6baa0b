"""broadcastio-sendgrid: email through SendGrid's v3 Mail Send API.

Install it and the ``sendgrid`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_sendgrid._provider import DEFAULT_BASE_URL, SendGridProvider

__all__ = ["DEFAULT_BASE_URL", "SendGridProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``sendgrid`` provider type."""
    return [
        ProviderType(
            name="sendgrid",
            factory=SendGridProvider,
            channel="email",
            description="Email through the SendGrid v3 Mail Send API",
        )
    ]
