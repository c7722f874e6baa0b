"""broadcastio-sms: SMS through Twilio's Messages API.

Install it and the ``sms`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_sms._phone import mask_phone, normalize_e164
from broadcastio_sms._provider import DEFAULT_BASE_URL, TwilioSmsProvider

__all__ = ["DEFAULT_BASE_URL", "TwilioSmsProvider", "broadcastio_provider_types", "mask_phone", "normalize_e164"]

broadcastio_provider_types = provider_types(TwilioSmsProvider)
"""Registers TwilioSmsProvider: name, channel and description come from the class."""
