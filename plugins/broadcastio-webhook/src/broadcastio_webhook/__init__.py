"""broadcastio-webhook: a generic JSON webhook provider.

Each message becomes one POST of a JSON body to a configured URL, with an
``Idempotency-Key`` header and, given a secret, an HMAC-SHA256 signature
receivers check with :func:`verify_signature`.
"""

from __future__ import annotations

from collections.abc import Iterable

from broadcastio import ProviderType, hookimpl

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


@hookimpl
def broadcastio_provider_types() -> Iterable[ProviderType]:
    return [
        ProviderType(
            name="webhook",
            factory=WebhookProvider,
            channel="webhook",
            description="POSTs each message as signed JSON to a fixed URL",
        )
    ]
