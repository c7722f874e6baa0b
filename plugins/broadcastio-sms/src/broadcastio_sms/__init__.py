"""broadcastio-sms: SMS through Twilio's Messages API.

Install it and the ``sms`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import hookimpl
from broadcastio.plugins import provider_types
from broadcastio.receipts import ReceiptEndpoint

from broadcastio_sms._phone import mask_phone, normalize_e164
from broadcastio_sms._provider import DEFAULT_BASE_URL, TwilioSmsProvider
from broadcastio_sms._receipts import receipt_endpoint, twilio_signature

__all__ = [
    "DEFAULT_BASE_URL",
    "TwilioSmsProvider",
    "broadcastio_provider_types",
    "broadcastio_receipt_endpoints",
    "mask_phone",
    "normalize_e164",
    "twilio_signature",
]

broadcastio_provider_types = provider_types(TwilioSmsProvider)
"""Registers TwilioSmsProvider: name, channel and description come from the class."""


@hookimpl
def broadcastio_receipt_endpoints() -> list[ReceiptEndpoint]:
    """Register the Twilio status callback endpoint of ``sms`` providers."""
    return [receipt_endpoint()]
