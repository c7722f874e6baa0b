"""broadcastio-mailgun: email through Mailgun's Messages API.

Install it and the ``mailgun`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_mailgun._provider import REGIONS, MailgunProvider

__all__ = ["REGIONS", "MailgunProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``mailgun`` provider type."""
    return [
        ProviderType(
            name="mailgun",
            factory=MailgunProvider,
            channel="email",
            description="Email through the Mailgun Messages API (US or EU region)",
        )
    ]
