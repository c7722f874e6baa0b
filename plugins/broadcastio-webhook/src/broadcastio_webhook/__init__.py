"""broadcastio-webhook: a generic JSON webhook provider.

Each message becomes one POST of a JSON body to a configured URL, with an
``Idempotency-Key`` header and, given a secret, an HMAC-SHA256 signature in
the Standard Webhooks scheme (receivers check it with :func:`verify_standard`)
or GitHub's (:func:`verify_github`).
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_webhook._payload import WebhookAttachment, WebhookPayload
from broadcastio_webhook._provider import IDEMPOTENCY_HEADER, WebhookProvider
from broadcastio_webhook._signing import (
    GITHUB_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_SCHEMES,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    SignatureScheme,
    generate_secret,
    github_signature,
    sign,
    standard_signature,
    verify_github,
    verify_signature,
    verify_standard,
)

__all__ = [
    "GITHUB_SIGNATURE_HEADER",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_SCHEMES",
    "STANDARD_ID_HEADER",
    "STANDARD_SIGNATURE_HEADER",
    "STANDARD_TIMESTAMP_HEADER",
    "SignatureScheme",
    "WebhookAttachment",
    "WebhookPayload",
    "WebhookProvider",
    "generate_secret",
    "github_signature",
    "sign",
    "standard_signature",
    "verify_github",
    "verify_signature",
    "verify_standard",
]

broadcastio_provider_types = provider_types(WebhookProvider)
"""Registers WebhookProvider: name, channel and description come from the class."""
