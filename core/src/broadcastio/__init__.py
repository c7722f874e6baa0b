"""broadcastio: outbound messages that get through.

Explicit retries, ordered fallback across providers and channels,
health-aware routing, tracing and observability hooks. Everything a user or
plugin author needs is importable from here; modules whose names start with
an underscore are private.
"""

from __future__ import annotations

from broadcastio._breaker import BreakerPolicy, BreakerState
from broadcastio._classify import error_from_exception
from broadcastio._clock import Clock, SystemClock
from broadcastio._errors import (
    BroadcastioError,
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    InvalidMessageError,
    NoHealthyProviderError,
    PluginError,
    UsageError,
)
from broadcastio._events import (
    AttemptEvent,
    BreakerChangeEvent,
    FallbackEvent,
    HealthChangeEvent,
    ReceiptEvent,
    ResultEvent,
    SendAbortedEvent,
    SendStartedEvent,
    SkipEvent,
)
from broadcastio._health import HealthPolicy
from broadcastio._models import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    Attachment,
    DeliveryAttempt,
    DeliveryError,
    DeliveryResult,
    DeliveryStatus,
    DeliveryTrace,
    Message,
    Metadata,
    Priority,
    ProviderHealth,
    Recipient,
    SkippedProvider,
    SkipReason,
    decode_result,
    encode_result,
)
from broadcastio._orchestrator import Orchestrator
from broadcastio._plugins import PluginFailure, PluginInfo, PluginManager, make_plugin_manager
from broadcastio._provider import Provider, ProviderLike, ProviderType, check_provider
from broadcastio._ratelimit import RateLimit
from broadcastio._retry import Backoff, RetryPolicy
from broadcastio.config import Config, ConfigFileError, ProviderConfig, build_orchestrator, load_config
from broadcastio.hookspecs import hookimpl
from broadcastio.logging import LoggingHooks, configure_logging, mask_address
from broadcastio.outbox import Outbox, OutboxRow, OutboxState, OutboxStatus
from broadcastio.providers import FileProvider, MemoryProvider

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "Attachment",
    "AttemptEvent",
    "Backoff",
    "BreakerChangeEvent",
    "BreakerPolicy",
    "BreakerState",
    "BroadcastioError",
    "Clock",
    "Config",
    "ConfigFileError",
    "ConfigurationError",
    "DeliveryAttempt",
    "DeliveryError",
    "DeliveryResult",
    "DeliveryStatus",
    "DeliveryTrace",
    "ErrorClass",
    "ErrorCode",
    "FallbackEvent",
    "FileProvider",
    "HealthChangeEvent",
    "HealthPolicy",
    "InvalidMessageError",
    "LoggingHooks",
    "MemoryProvider",
    "Message",
    "Metadata",
    "NoHealthyProviderError",
    "Orchestrator",
    "Outbox",
    "OutboxRow",
    "OutboxState",
    "OutboxStatus",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
    "Priority",
    "Provider",
    "ProviderConfig",
    "ProviderHealth",
    "ProviderLike",
    "ProviderType",
    "RateLimit",
    "ReceiptEvent",
    "Recipient",
    "ResultEvent",
    "RetryPolicy",
    "SendAbortedEvent",
    "SendStartedEvent",
    "SkipEvent",
    "SkipReason",
    "SkippedProvider",
    "SystemClock",
    "UsageError",
    "__version__",
    "build_orchestrator",
    "check_provider",
    "configure_logging",
    "decode_result",
    "encode_result",
    "error_from_exception",
    "hookimpl",
    "load_config",
    "make_plugin_manager",
    "mask_address",
]
