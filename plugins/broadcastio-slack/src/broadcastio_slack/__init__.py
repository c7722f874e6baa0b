"""broadcastio-slack: Slack through the Web API (``slack``) or an incoming webhook (``slack-webhook``).

Install it and both provider types are registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_slack._errors import AMBIGUOUS_ERRORS, CREDENTIAL_ERRORS, TRANSIENT_ERRORS, error_from_slack
from broadcastio_slack._text import TEXT_LIMIT
from broadcastio_slack._web import DEFAULT_API_URL, SlackProvider
from broadcastio_slack._webhook import SlackWebhookProvider

__all__ = [
    "AMBIGUOUS_ERRORS",
    "CREDENTIAL_ERRORS",
    "DEFAULT_API_URL",
    "TEXT_LIMIT",
    "TRANSIENT_ERRORS",
    "SlackProvider",
    "SlackWebhookProvider",
    "broadcastio_provider_types",
    "error_from_slack",
]

broadcastio_provider_types = provider_types(SlackProvider, SlackWebhookProvider)
"""Registers SlackProvider and SlackWebhookProvider: name, channel and description come from the classes."""
