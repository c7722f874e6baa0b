"""Names of the spans, metrics and attributes this plugin emits.

Kept in one place so the README, the tests and dashboards agree. No
attribute ever holds an address, a name or message text: only provider
names, channels, codes, classes, counts and the idempotency key.
"""

from __future__ import annotations

__all__ = [
    "ATTEMPT_COUNT",
    "ATTEMPT_DELAY_BEFORE_MS",
    "ATTEMPT_DURATION",
    "ATTEMPT_NUMBER",
    "ATTEMPT_OK",
    "ATTEMPTS",
    "BREAKER_STATE",
    "BREAKER_TRANSITIONS",
    "CHANNEL",
    "DELIVERIES",
    "ERROR_CLASS",
    "ERROR_CODE",
    "ERROR_TYPE",
    "FAILURES",
    "FALLBACK_EVENT",
    "FROM_PROVIDER",
    "HEALTH_CHANGES",
    "HEALTHY",
    "IDEMPOTENCY_KEY",
    "PRIORITY",
    "PROVIDER",
    "PROVIDERS",
    "PROVIDER_TYPE",
    "RECEIPTS",
    "RECEIPT_LEVEL",
    "RECEIPT_OUTCOME",
    "RESULT_STATUS",
    "SKIP_EVENT",
    "SKIP_REASON",
    "SPAN_ATTEMPT",
    "SPAN_SEND",
    "TO_PROVIDER",
    "UNFINISHED",
]

# Spans and span events.
SPAN_SEND = "broadcastio.send"
SPAN_ATTEMPT = "broadcastio.attempt"
FALLBACK_EVENT = "broadcastio.fallback"
SKIP_EVENT = "broadcastio.provider_skipped"

# Metric instruments.
ATTEMPTS = "broadcastio.attempts"
DELIVERIES = "broadcastio.deliveries"
FAILURES = "broadcastio.failures"
ATTEMPT_DURATION = "broadcastio.attempt.duration"
BREAKER_TRANSITIONS = "broadcastio.breaker.transitions"
HEALTH_CHANGES = "broadcastio.health.changes"
RECEIPTS = "broadcastio.receipts"

# Attributes.
PROVIDER = "broadcastio.provider"
PROVIDERS = "broadcastio.providers"
PROVIDER_TYPE = "broadcastio.provider.type"
RECEIPT_LEVEL = "broadcastio.receipt.level"
RECEIPT_OUTCOME = "broadcastio.receipt.outcome"
CHANNEL = "broadcastio.channel"
PRIORITY = "broadcastio.priority"
RESULT_STATUS = "broadcastio.result.status"
ERROR_CODE = "broadcastio.error.code"
ERROR_CLASS = "broadcastio.error.class"
ERROR_TYPE = "error.type"  # OpenTelemetry semantic convention, set on failed spans
IDEMPOTENCY_KEY = "broadcastio.idempotency_key"
ATTEMPT_COUNT = "broadcastio.attempt.count"
ATTEMPT_NUMBER = "broadcastio.attempt.number"
ATTEMPT_OK = "broadcastio.attempt.ok"
ATTEMPT_DELAY_BEFORE_MS = "broadcastio.attempt.delay_before_ms"
FROM_PROVIDER = "broadcastio.fallback.from_provider"
TO_PROVIDER = "broadcastio.fallback.to_provider"
SKIP_REASON = "broadcastio.skip.reason"
UNFINISHED = "broadcastio.unfinished"
BREAKER_STATE = "broadcastio.breaker.state"
HEALTHY = "broadcastio.healthy"
