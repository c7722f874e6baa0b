"""broadcastio-mailgun: email through Mailgun's Messages API.

Install it and the ``mailgun`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_mailgun._provider import REGIONS, MailgunProvider

__all__ = ["REGIONS", "MailgunProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(MailgunProvider)
"""Registers MailgunProvider: name, channel and description come from the class."""
