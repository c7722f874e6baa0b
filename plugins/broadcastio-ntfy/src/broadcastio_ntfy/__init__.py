"""broadcastio-ntfy: push notifications through a ntfy server.

Install it and the ``ntfy`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_ntfy._errors import error_from_answer
from broadcastio_ntfy._provider import DEFAULT_BASE_URL, PRIORITIES, NtfyProvider, header_value

__all__ = [
    "DEFAULT_BASE_URL",
    "PRIORITIES",
    "NtfyProvider",
    "broadcastio_provider_types",
    "error_from_answer",
    "header_value",
]

broadcastio_provider_types = provider_types(NtfyProvider)
"""Registers NtfyProvider: name, channel and description come from the class."""
