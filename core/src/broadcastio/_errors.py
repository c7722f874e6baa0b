"""Exceptions and error vocabulary.

Exceptions are for mistakes the caller must fix; they stop orchestration at
once. Delivery failures are never raised: they come back as a
:class:`~broadcastio.DeliveryResult` carrying a :class:`~broadcastio.DeliveryError`.

Exception tree::

    BroadcastioError
    ├── ConfigurationError      a provider, policy or plugin is set up wrongly
    │   ├── ConfigFileError     broadcastio.toml is wrong (file, line, key path; broadcastio.config)
    │   └── PluginError         a plugin could not be loaded or registered
    ├── InvalidMessageError     the message or one of its parts is malformed
    ├── OutboxError             the outbox file cannot be read or written (disk full, read-only, corrupt)
    ├── UsageError              the API was called in a way it does not support
    └── NoHealthyProviderError  strict health mode found no healthy provider
"""

from __future__ import annotations

import enum

__all__ = [
    "BroadcastioError",
    "ConfigurationError",
    "ErrorClass",
    "ErrorCode",
    "InvalidMessageError",
    "NoHealthyProviderError",
    "OutboxError",
    "PluginError",
    "UsageError",
]


class ErrorClass(enum.StrEnum):
    """How a delivery failure may be handled.

    The class, not the code, drives retry and fallback decisions.
    """

    TRANSIENT = "transient"
    """Nothing was delivered and trying again may work (timeouts before the
    request was sent, 429, retryable 5xx, SMTP 4xx)."""

    PERMANENT = "permanent"
    """Trying again with the same provider cannot work; fall back at once."""

    AMBIGUOUS = "ambiguous"
    """The request may have been delivered (for example a timeout after it was
    sent). Not retried or fallen back from unless that is known to be safe."""


class ErrorCode(enum.StrEnum):
    """Provider-neutral error codes.

    Providers may use their own codes too (``"twilio.21211"``); a
    :class:`~broadcastio.DeliveryError` code is any string, and these members
    compare equal to their string values.
    """

    # Outcomes of one provider attempt.
    CONNECTION_FAILED = "connection_failed"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INVALID_RECIPIENT = "invalid_recipient"
    REJECTED = "rejected"
    UNAUTHORIZED = "unauthorized"
    PROVIDER_EXCEPTION = "provider_exception"
    # Outcomes decided by the orchestrator without calling a provider.
    NO_ADDRESS = "no_address"
    UNHEALTHY = "unhealthy"
    CIRCUIT_OPEN = "circuit_open"
    NO_PROVIDER_AVAILABLE = "no_provider_available"
    COORDINATION_UNAVAILABLE = "coordination_unavailable"


class BroadcastioError(Exception):
    """Base class of every exception broadcastio raises on purpose."""


class ConfigurationError(BroadcastioError):
    """Raised when a provider, policy, plugin or setting is configured wrongly.

    Also raised by a provider's ``send`` when the failure can only be fixed by
    changing configuration (bad credentials, for example); it stops
    orchestration instead of being retried or fallen back from.
    """


class PluginError(ConfigurationError):
    """Raised when a plugin cannot be registered (duplicate provider type,
    unknown hook, a requested plugin that is not installed)."""


class InvalidMessageError(BroadcastioError):
    """Raised when a message, recipient or attachment is malformed."""


class OutboxError(BroadcastioError):
    """Raised when the outbox's SQLite file cannot be used: the disk is full,
    the file or its folder is read-only, or the file is not an outbox.

    Says which file and what failed; the original ``sqlite3`` error is its
    ``__cause__``. Messages already journalled stay in the file.
    """


class UsageError(BroadcastioError):
    """Raised when the API is called in a way it does not support (for example
    the sync facade from inside a running event loop)."""


class NoHealthyProviderError(BroadcastioError):
    """Raised in strict health mode when no provider for a message is healthy."""
