"""WhatsApp providers for broadcastio.

- ``whatsapp`` (:class:`WhatsAppProvider`): the client of node-whatsapp, a
  local HTTP service around whatsapp-web.js; idempotent sends.
- ``whatsapp-cloud`` (:class:`WhatsAppCloudProvider`): Meta's WhatsApp
  Cloud API; text, template and media messages.

``broadcastio_whatsapp.testing.NodeWhatsAppProcess`` runs the real service
with its fake driver, for tests and demos.
"""

from __future__ import annotations

import importlib.metadata

from broadcastio import hookimpl
from broadcastio.plugins import provider_types
from broadcastio.receipts import ReceiptEndpoint

from broadcastio_whatsapp._cloud import WhatsAppCloudProvider
from broadcastio_whatsapp._cloud_payload import MEDIA_LINK_KEY, TEMPLATE_KEY
from broadcastio_whatsapp._node import WhatsAppProvider
from broadcastio_whatsapp._receipts import ack_signature, cloud_endpoint, hub_signature, node_endpoint

__version__ = importlib.metadata.version("broadcastio-whatsapp")

__all__ = [
    "MEDIA_LINK_KEY",
    "TEMPLATE_KEY",
    "WhatsAppCloudProvider",
    "WhatsAppProvider",
    "__version__",
    "ack_signature",
    "broadcastio_provider_types",
    "broadcastio_receipt_endpoints",
    "hub_signature",
]

broadcastio_provider_types = provider_types(WhatsAppProvider, WhatsAppCloudProvider)
"""Registers ``whatsapp`` and ``whatsapp-cloud``: name, channel and description come from each class."""


@hookimpl
def broadcastio_receipt_endpoints() -> list[ReceiptEndpoint]:
    """Register the Cloud API webhook and node-whatsapp's ack callback."""
    return [cloud_endpoint(), node_endpoint()]
