"""``broadcastio.toml``: providers and policies in a file instead of code.

Example::

    [orchestrator]
    fallback_on_ambiguous = false

    [retry]                       # default RetryPolicy of every provider
    max_attempts = 3
    backoff = "exponential"

    [breaker]                     # BreakerPolicy fields
    failure_threshold = 5

    [health]                      # HealthPolicy fields
    ttl = 30

    [outbox]                      # optional: where `outbox relay` finds the journal
    url = "${OUTBOX_URL}"         # a SQLite path or a postgresql:// DSN

    [coordination]                # optional: limits shared between processes
    type = "redis"                # a registered coordinator type (broadcastio-redis)
    settings = { url = "${REDIS_URL}", namespace = "campaign-42" }

    [[providers]]                 # in fallback order
    name = "wa"
    type = "whatsapp"             # a registered provider type
    retry = { max_attempts = 5 }  # overrides fields of [retry] for this provider
    rate_limit = { per_second = 10, burst = 5 }
    max_in_flight = 10            # at most 10 attempts on this provider at once

    [providers.settings]          # keyword arguments of the provider factory
    base_url = "http://127.0.0.1:3000"
    token = "${WA_TOKEN}"         # from the environment; "$${" is a literal "${"

Unknown keys and wrong types are refused with a
:class:`ConfigFileError` (a :class:`~broadcastio.ConfigurationError`) naming
the file, the line, the key path and what is wrong. Values taken from the
environment are masked in ``repr``. Relative paths in settings are taken
from the working directory, as the provider receives them unchanged.
"""

from __future__ import annotations

from broadcastio.config._load import (
    DEFAULT_CONFIG_FILE,
    Config,
    ConfigFileError,
    CoordinationConfig,
    OutboxSettings,
    ProviderConfig,
    build_orchestrator,
    build_providers,
    load_config,
    parse_config,
)

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "Config",
    "ConfigFileError",
    "CoordinationConfig",
    "OutboxSettings",
    "ProviderConfig",
    "build_orchestrator",
    "build_providers",
    "load_config",
    "parse_config",
]
