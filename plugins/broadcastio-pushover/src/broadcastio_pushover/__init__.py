"""broadcastio-pushover: push notifications through the Pushover Message API.

Install it and the ``pushover`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_pushover._provider import DEFAULT_BASE_URL, MESSAGE_LIMIT, TITLE_LIMIT, PushoverProvider

__all__ = ["DEFAULT_BASE_URL", "MESSAGE_LIMIT", "TITLE_LIMIT", "PushoverProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(PushoverProvider)
"""Registers PushoverProvider: name, channel and description come from the class."""
