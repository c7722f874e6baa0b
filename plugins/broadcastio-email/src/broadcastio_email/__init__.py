"""broadcastio-email: deliver broadcastio messages as email over SMTP (aiosmtplib).

Provider type ``email`` on channel ``email``. STARTTLS is required by
default; see :class:`EmailProvider` for the settings.
"""

from __future__ import annotations

from collections.abc import Iterable

from broadcastio import ProviderType, hookimpl

from broadcastio_email._compose import IDEMPOTENCY_HEADER
from broadcastio_email._provider import EmailProvider

__all__ = ["IDEMPOTENCY_HEADER", "EmailProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> Iterable[ProviderType]:
    """Register the ``email`` provider type."""
    return [
        ProviderType(
            name="email",
            factory=EmailProvider,
            channel="email",
            description="Email over SMTP (STARTTLS, SMTPS or plain), with attachments and HTML",
        )
    ]
