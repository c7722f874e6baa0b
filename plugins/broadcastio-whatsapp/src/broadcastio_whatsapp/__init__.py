"""WhatsApp providers for broadcastio.

- ``whatsapp`` (:class:`WhatsAppProvider`): the client of node-whatsapp, a
  local HTTP service around whatsapp-web.js; idempotent sends.
- ``whatsapp-cloud`` (:class:`WhatsAppCloudProvider`): Meta's WhatsApp
  Cloud API; text, template and media messages.

``broadcastio_whatsapp.testing.NodeWhatsAppProcess`` runs the real service
with its fake driver, for tests and demos.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl
from broadcastio.receipts import ReceiptEndpoint

from broadcastio_whatsapp._cloud import WhatsAppCloudProvider
from broadcastio_whatsapp._cloud_payload import MEDIA_LINK_KEY, TEMPLATE_KEY
from broadcastio_whatsapp._node import WhatsAppProvider
from broadcastio_whatsapp._receipts import ack_signature, cloud_endpoint, hub_signature, node_endpoint

__version__ = "0.1.0"

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


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register ``whatsapp`` and ``whatsapp-cloud``."""
    return [
        ProviderType(
            name="whatsapp",
            factory=WhatsAppProvider,
            channel="whatsapp",
            description="WhatsApp through a node-whatsapp service (whatsapp-web.js); idempotent sends",
        ),
        ProviderType(
            name="whatsapp-cloud",
            factory=WhatsAppCloudProvider,
            channel="whatsapp",
            description="WhatsApp Cloud API (Meta Graph API): text, template and media messages",
        ),
    ]


@hookimpl
def broadcastio_receipt_endpoints() -> list[ReceiptEndpoint]:
    """Register the Cloud API webhook and node-whatsapp's ack callback."""
    return [cloud_endpoint(), node_endpoint()]
