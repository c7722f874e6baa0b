"""broadcastio-teams: Adaptive Cards to Microsoft Teams through a Workflows or incoming webhook.

Install it and the ``teams`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_teams._card import CARD_VERSION, SIZE_LIMIT, card_message
from broadcastio_teams._provider import TeamsProvider

__all__ = ["CARD_VERSION", "SIZE_LIMIT", "TeamsProvider", "broadcastio_provider_types", "card_message"]

broadcastio_provider_types = provider_types(TeamsProvider)
"""Registers TeamsProvider: name, channel and description come from the class."""
