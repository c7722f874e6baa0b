"""broadcastio-apprise: any Apprise service as a broadcastio provider.

Install it and the ``apprise`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_apprise._provider import AppriseProvider

__all__ = ["AppriseProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(AppriseProvider)
"""Registers AppriseProvider: name, channel and description come from the class."""
