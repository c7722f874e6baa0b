"""broadcastio-fcm: push notifications through Firebase Cloud Messaging HTTP v1.

Install it and the ``fcm`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_fcm._auth import FCM_SCOPE
from broadcastio_fcm._provider import DEFAULT_BASE_URL, FcmProvider

__all__ = ["DEFAULT_BASE_URL", "FCM_SCOPE", "FcmProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(FcmProvider)
"""Registers FcmProvider: name, channel and description come from the class."""
