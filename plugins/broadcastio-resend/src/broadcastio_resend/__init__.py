"""broadcastio-resend: email through Resend's Emails API, idempotent by its Idempotency-Key.

Install it and the ``resend`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_resend._provider import DEFAULT_BASE_URL, IDEMPOTENCY_HEADER, ResendProvider

__all__ = [
    "DEFAULT_BASE_URL",
    "IDEMPOTENCY_HEADER",
    "ResendProvider",
    "broadcastio_provider_types",
]

broadcastio_provider_types = provider_types(ResendProvider)
"""Registers ResendProvider: name, channel and description come from the class."""
