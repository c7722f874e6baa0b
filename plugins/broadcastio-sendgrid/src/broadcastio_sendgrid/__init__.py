"""broadcastio-sendgrid: email through SendGrid's v3 Mail Send API.

Install it and the ``sendgrid`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_sendgrid._provider import DEFAULT_BASE_URL, SendGridProvider

__all__ = ["DEFAULT_BASE_URL", "SendGridProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(SendGridProvider)
"""Registers SendGridProvider: name, channel and description come from the class."""
