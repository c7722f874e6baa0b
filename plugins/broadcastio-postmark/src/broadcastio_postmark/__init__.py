"""broadcastio-postmark: email through Postmark's Email API.

Install it and the ``postmark`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_postmark._provider import DEFAULT_BASE_URL, PostmarkProvider

__all__ = ["DEFAULT_BASE_URL", "PostmarkProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(PostmarkProvider)
"""Registers PostmarkProvider: name, channel and description come from the class."""
