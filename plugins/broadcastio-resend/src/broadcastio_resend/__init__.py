"""broadcastio-resend: email through Resend's Emails API, idempotent by its Idempotency-Key.

Install it and the ``resend`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_resend._provider import DEFAULT_BASE_URL, IDEMPOTENCY_HEADER, ResendProvider

__all__ = [
    "DEFAULT_BASE_URL",
    "IDEMPOTENCY_HEADER",
    "ResendProvider",
    "broadcastio_provider_types",
]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``resend`` provider type."""
    return [
        ProviderType(
            name="resend",
            factory=ResendProvider,
            channel="email",
            description="Email through the Resend Emails API",
        )
    ]
