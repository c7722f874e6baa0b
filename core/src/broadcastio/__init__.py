"""broadcastio: outbound messages that get through.

Explicit retries, ordered fallback across providers and channels,
health-aware routing, tracing and observability hooks. The top level is what
an application writes: models, errors, policies, :class:`Orchestrator`,
:class:`Provider`, :data:`hookimpl`, :class:`Outbox` and configuration
loading. The rest has one public home each: hook specs and event records in
:mod:`broadcastio.hookspecs` / :mod:`broadcastio.events`, the plugin manager
in :mod:`broadcastio.plugins`, logging in :mod:`broadcastio.logs`, the
configuration file in :mod:`broadcastio.config`, HTTP plumbing in
:mod:`broadcastio.http` and test helpers in :mod:`broadcastio.testing`.
Modules whose names start with an underscore are private.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import TYPE_CHECKING

from broadcastio._breaker import BreakerPolicy, BreakerState
from broadcastio._classify import error_from_exception
from broadcastio._clock import Clock, SystemClock
from broadcastio._coordination import CoordinationError, Coordinator, Permit, ProbeOutcome
from broadcastio._errors import (
    BroadcastioError,
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    InvalidMessageError,
    NoHealthyProviderError,
    OutboxError,
    PluginError,
    UsageError,
)
from broadcastio._escalation import Escalation
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
from broadcastio._provider import Provider, ProviderLike, ProviderType, check_provider
from broadcastio._ratelimit import RateLimit
from broadcastio._retry import Backoff, RetryPolicy
from broadcastio._workers import CampaignWorkers
from broadcastio.config import Config, ConfigFileError, ProviderConfig, build_orchestrator, load_config
from broadcastio.hookspecs import hookimpl
from broadcastio.outbox import Outbox, OutboxRow, OutboxState, OutboxStatus
from broadcastio.providers import FileProvider, MemoryProvider

__version__ = importlib.metadata.version("broadcastio")
"""The installed distribution's version: core/pyproject.toml is its one source."""

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "Attachment",
    "Backoff",
    "BreakerPolicy",
    "BreakerState",
    "BroadcastioError",
    "CampaignWorkers",
    "Clock",
    "Config",
    "ConfigFileError",
    "ConfigurationError",
    "CoordinationError",
    "Coordinator",
    "DeliveryAttempt",
    "DeliveryError",
    "DeliveryResult",
    "DeliveryStatus",
    "DeliveryTrace",
    "ErrorClass",
    "ErrorCode",
    "Escalation",
    "FileProvider",
    "HealthPolicy",
    "InvalidMessageError",
    "MemoryProvider",
    "Message",
    "Metadata",
    "NoHealthyProviderError",
    "Orchestrator",
    "Outbox",
    "OutboxError",
    "OutboxRow",
    "OutboxState",
    "OutboxStatus",
    "Permit",
    "PluginError",
    "Priority",
    "ProbeOutcome",
    "Provider",
    "ProviderConfig",
    "ProviderHealth",
    "ProviderLike",
    "ProviderType",
    "RateLimit",
    "Recipient",
    "RetryPolicy",
    "SkipReason",
    "SkippedProvider",
    "SystemClock",
    "UsageError",
    "__version__",
    "build_orchestrator",
    "check_provider",
    "decode_result",
    "encode_result",
    "error_from_exception",
    "hookimpl",
    "load_config",
]

_MOVED = {
    **dict.fromkeys(
        (
            "AttemptEvent",
            "BreakerChangeEvent",
            "FallbackEvent",
            "HealthChangeEvent",
            "ReceiptEvent",
            "ResultEvent",
            "SendAbortedEvent",
            "SendStartedEvent",
            "SkipEvent",
        ),
        "broadcastio.events",
    ),
    **dict.fromkeys(("PluginFailure", "PluginInfo", "PluginManager", "make_plugin_manager"), "broadcastio.plugins"),
    **dict.fromkeys(("LoggingHooks", "configure_logging", "mask_address", "redact_key"), "broadcastio.logs"),
}
"""Names that left the top level for their own module (0.4.0): still found, not listed."""


if not TYPE_CHECKING:  # type checkers see only the listed names, so a typo stays an error

    def __getattr__(name: str) -> object:
        module = _MOVED.get(name)
        if module is None:
            raise AttributeError(f"module 'broadcastio' has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)
