"""broadcastio-webhook: a generic JSON webhook provider.

Each message becomes one POST of a JSON body to a configured URL, with an
``Idempotency-Key`` header and, given a secret, an HMAC-SHA256 signature
receivers check with :func:`verify_signature`.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_webhook._payload import WebhookAttachment, WebhookPayload
from broadcastio_webhook._provider import IDEMPOTENCY_HEADER, WebhookProvider
from broadcastio_webhook._signing import SIGNATURE_HEADER, sign, verify_signature

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "WebhookAttachment",
    "WebhookPayload",
    "WebhookProvider",
    "sign",
    "verify_signature",
]

broadcastio_provider_types = provider_types(WebhookProvider)
"""Registers WebhookProvider: name, channel and description come from the class."""
