"""broadcastio-aws: Amazon SES v2 (email) and Amazon SNS (SMS), signed with botocore's SigV4 signer.

Install it and the ``ses`` and ``sns`` provider types are registered
through the ``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio import ProviderType, hookimpl

from broadcastio_aws._ses import SesProvider
from broadcastio_aws._sns import SMS_TYPES, SnsProvider

__all__ = ["SMS_TYPES", "SesProvider", "SnsProvider", "broadcastio_provider_types"]


@hookimpl
def broadcastio_provider_types() -> list[ProviderType]:
    """Register the ``ses`` and ``sns`` provider types."""
    return [
        ProviderType(
            name="ses",
            factory=SesProvider,
            channel="email",
            description="Email through Amazon SES v2 SendEmail",
        ),
        ProviderType(
            name="sns",
            factory=SnsProvider,
            channel="sms",
            description="SMS through Amazon SNS Publish to a phone number",
        ),
    ]
