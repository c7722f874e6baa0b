"""broadcastio-email: deliver broadcastio messages as email over SMTP (aiosmtplib).

Provider type ``email`` on channel ``email``. STARTTLS is required by
default; see :class:`EmailProvider` for the settings.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_email._compose import IDEMPOTENCY_HEADER
from broadcastio_email._provider import EmailProvider

__all__ = ["IDEMPOTENCY_HEADER", "EmailProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(EmailProvider)
"""Registers EmailProvider: name, channel and description come from the class."""
