"""broadcastio-vonage: SMS through the Vonage Messages API.

Install it and the ``vonage`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_vonage._provider import DEFAULT_ACCOUNT_URL, DEFAULT_BASE_URL, VonageSmsProvider

__all__ = ["DEFAULT_ACCOUNT_URL", "DEFAULT_BASE_URL", "VonageSmsProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(VonageSmsProvider)
"""Registers VonageSmsProvider: name, channel and description come from the class."""
