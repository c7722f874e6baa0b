"""Event records passed to observation hooks, one frozen struct per event.

Hooks receive these and must not change the flow; the records are frozen so
they cannot be tampered with on the way to the next hook.
"""

from __future__ import annotations

import datetime as dt

from msgspec import Struct

from broadcastio._breaker import BreakerState
from broadcastio._models import DeliveryAttempt, DeliveryError, DeliveryResult, Message, ProviderHealth, SkipReason
from broadcastio.receipts._model import Receipt, RecordOutcome

__all__ = [
    "AttemptEvent",
    "BreakerChangeEvent",
    "FallbackEvent",
    "HealthChangeEvent",
    "ReceiptEvent",
    "ResultEvent",
    "SendAbortedEvent",
    "SendStartedEvent",
    "SkipEvent",
]


class SendStartedEvent(Struct, frozen=True, kw_only=True):
    """The orchestrator began delivering one message.

    ``send_id`` is unique in the process and ties the events of one
    delivery together (a message's idempotency key may be sent twice).
    """

    send_id: int
    message: Message
    providers: tuple[str, ...]
    started_at: dt.datetime


class AttemptEvent(Struct, frozen=True, kw_only=True):
    """One provider attempt finished, successfully or not."""

    send_id: int
    message: Message
    attempt: DeliveryAttempt


class SkipEvent(Struct, frozen=True, kw_only=True):
    """A provider was passed over without being called."""

    send_id: int
    message: Message
    provider: str
    reason: SkipReason
    detail: str = ""


class FallbackEvent(Struct, frozen=True, kw_only=True):
    """The orchestrator moved on from a failed provider to the next one."""

    send_id: int
    message: Message
    from_provider: str
    to_provider: str
    error: DeliveryError


class ResultEvent(Struct, frozen=True, kw_only=True):
    """The final result of one message."""

    send_id: int
    message: Message
    result: DeliveryResult
    started_at: dt.datetime
    duration_ms: float


class SendAbortedEvent(Struct, frozen=True, kw_only=True):
    """Delivering one message stopped with an exception instead of a result
    (a configuration error raised by a provider, strict health mode finding
    no healthy provider, or the task being cancelled)."""

    send_id: int
    message: Message
    error_type: str
    error: str
    started_at: dt.datetime
    duration_ms: float


class HealthChangeEvent(Struct, frozen=True, kw_only=True):
    """A provider's active health check changed its answer (or gave its first)."""

    provider: str
    health: ProviderHealth
    previously_healthy: bool | None


class BreakerChangeEvent(Struct, frozen=True, kw_only=True):
    """A provider's circuit breaker changed state."""

    provider: str
    state: BreakerState
    previous: BreakerState
    at: dt.datetime


class ReceiptEvent(Struct, frozen=True, kw_only=True):
    """A provider's delivery receipt was verified and handed to the sink."""

    receipt: Receipt
    outcome: RecordOutcome
