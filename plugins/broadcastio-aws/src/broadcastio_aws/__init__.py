"""broadcastio-aws: Amazon SES v2 (email) and Amazon SNS (SMS), signed with botocore's SigV4 signer.

Install it and the ``ses`` and ``sns`` provider types are registered
through the ``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_aws._ses import SesProvider
from broadcastio_aws._sns import SMS_TYPES, SnsProvider

__all__ = ["SMS_TYPES", "SesProvider", "SnsProvider", "broadcastio_provider_types"]

broadcastio_provider_types = provider_types(SesProvider, SnsProvider)
"""Registers SesProvider and SnsProvider: name, channel and description come from the classes."""
