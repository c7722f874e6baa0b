"""broadcastio-webpush: notifications to browsers through the Web Push protocol.

Install it and the ``webpush`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_webpush._provider import PAYLOAD_LIMIT, WebPushProvider
from broadcastio_webpush._subscription import Subscription, parse_subscription

__all__ = ["PAYLOAD_LIMIT", "Subscription", "WebPushProvider", "broadcastio_provider_types", "parse_subscription"]

broadcastio_provider_types = provider_types(WebPushProvider)
"""Registers WebPushProvider: name, channel and description come from the class."""
